/*
 * test-absent-cache.c - absent_cache_access answers as access(2) does
 * while files appear (created, linked, renamed in, directory replaced)
 * after being found missing.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "test.h"

static char dir[64];

static char *
path(const char *name)
{
	static char p[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static void
touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0)
		close(fd);
}

/* Both answers (cached or not) match access(2). */
static void
check(const char *p, int want)
{
	int r;

	absent_cache_sync();
	r = absent_cache_access(p, F_OK);

	T_INTEQ(r, want);
	if (want < 0)
		T_INTEQ(errno, ENOENT);
}

static void
test_created_later(void)
{
	char *rc = path(".procmailrc");

	check(rc, -1);
	check(rc, -1);          /* remembered */
	touch(rc);
	check(rc, 0);
	check(rc, 0);
	unlink(rc);
	check(rc, -1);
	check(rc, -1);
}

static void
test_linked_and_renamed(void)
{
	char *a = path("a"), *b = path("b"), *c = path("c");

	check(a, -1);
	check(b, -1);
	touch(c);
	T_OK(link(c, a) == 0);
	check(a, 0);
	check(b, -1);
	T_OK(rename(c, b) == 0);
	check(b, 0);
	unlink(a);
	unlink(b);
}

static void
test_dangling_symlink(void)
{
	char *l = path("link"), *t = path("target");

	T_OK(symlink(t, l) == 0);
	check(l, -1);
	check(l, -1);
	touch(t);
	check(l, 0);
	unlink(l);
	unlink(t);
}

static void
test_directory_replaced(void)
{
	char *sub = path("sub"), *old = path("sub.old");
	char f[300];

	snprintf(f, sizeof(f), "%s/.vacation.msg", sub);
	T_OK(mkdir(sub, 0700) == 0);
	check(f, -1);
	check(f, -1);
	T_OK(rename(sub, old) == 0);
	T_OK(mkdir(sub, 0700) == 0);
	touch(f);
	check(f, 0);
	unlink(f);
	rmdir(sub);
	rmdir(old);
}

static void
test_many_paths(void)
{
	char name[32];
	int i;

	for (i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		check(path(name), -1);
	}
	touch(path("m5"));
	touch(path("m599"));
	check(path("m5"), 0);
	check(path("m599"), 0);
	check(path("m6"), -1);
	unlink(path("m5"));
	unlink(path("m599"));
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-absent-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	T_RUN(test_created_later);
	T_RUN(test_linked_and_renamed);
	T_RUN(test_dangling_symlink);
	T_RUN(test_directory_replaced);
	T_RUN(test_many_paths);
	rmdir(dir);
	return t_done();
}
