/* test-maps.c - lookup tables: contents, re-read on change, the error
 * state of an unreadable table, and change detection through the open
 * files as a chrooted process does it (without the chroot itself). */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"
#include "mem.h"
#include "test.h"

static char dir[] = "/tmp/test-maps-XXXXXX";

static char *
tpath(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void
write_file(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *fp = fopen(tmp, "w");

	T_OK(fp != NULL);
	if (fp == NULL)
		return;
	fputs(text, fp);
	fclose(fp);
	/* replaced by rename, as editors and postmap-like tools do */
	T_INTEQ(rename(tmp, path), 0);
	free(tmp);
}

static void
test_text_table(void)
{
	char *p = tpath("virtual"), *spec = xasprintf("texthash:%s", p), *err = NULL;
	struct maplist *ml;
	const char *v;

	write_file(p, "# comment\nA@example.test  b@example.test\n"
	    "  c@example.test\npostmaster: root\n");
	ml = maplist_open(spec, &err);
	T_OK(ml != NULL);
	T_INTEQ(maplist_lookup(ml, "a@EXAMPLE.test", &v), 1);
	T_STREQ(v, "b@example.test c@example.test");
	T_INTEQ(maplist_lookup(ml, "postmaster", &v), 1);
	T_STREQ(v, "root");
	T_INTEQ(maplist_lookup(ml, "nobody", &v), 0);
	maplist_free(&ml);
	free(spec);
	free(p);
}

/* A key added to the file is found by the next lookup that comes more
 * than a millisecond after the table's last check, even within the same
 * second (a miss re-checks the file; lookups less than 1 ms apart share
 * one check). */
static void
test_miss_sees_new_key(void)
{
	char *p = tpath("users"), *spec = xasprintf("texthash:%s", p), *err = NULL;
	struct timespec ms2 = { 0, 2000000 };
	struct maplist *ml;
	const char *v;
	int i;

	write_file(p, "old@example.test x\n");
	ml = maplist_open(spec, &err);
	T_OK(ml != NULL);
	for (i = 0; i < 3; i++) {
		char *key = xasprintf("new%d@example.test", i);
		char *text = xasprintf("old@example.test x\n%s y%d\n", key, i);
		T_INTEQ(maplist_lookup(ml, key, &v), 0);
		T_INTEQ(maplist_lookup(ml, "@example.test", &v), 0);
		write_file(p, text);
		nanosleep(&ms2, NULL);
		T_INTEQ(maplist_lookup(ml, key, &v), 1);
		free(text);
		free(key);
	}
	T_INTEQ(maplist_lookup(ml, "old@example.test", &v), 1);
	T_STREQ(v, "x");
	maplist_free(&ml);
	free(spec);
	free(p);
}

/* A missing table is a temporary error, not an empty table; it becomes
 * usable again once the file exists (a process that sees the path). */
static void
test_missing_is_error(void)
{
	char *p = tpath("missing"), *spec = xasprintf("hash:%s", p), *err = NULL;
	struct maplist *ml = maplist_open(spec, &err);
	const char *v;

	T_OK(ml != NULL);
	T_INTEQ(maplist_lookup(ml, "x", &v), -1);
	/* a list stops at the failing table: a later one must not answer
	 * "not found" for it */
	maplist_free(&ml);
	{
		char *two = xasprintf("%s inline:{x=y}", spec);
		ml = maplist_open(two, &err);
		T_INTEQ(maplist_lookup(ml, "x", &v), -1);
		maplist_free(&ml);
		free(two);
	}
	ml = maplist_open(spec, &err);
	write_file(p, "x y\n");
	sleep(1);               /* tables are stat()ed at most once a second */
	T_INTEQ(maplist_lookup(ml, "x", &v), 1);
	T_STREQ(v, "y");
	maplist_free(&ml);
	unlink(p);
	free(spec);
	free(p);
}

/* Replaced by a directory, then removed: errors; restored: found. */
static void
test_broken_then_fixed(void)
{
	char *p = tpath("users"), *spec = xasprintf("passwd-file:%s", p), *err = NULL;
	struct maplist *ml;
	const char *v;

	write_file(p, "demo@example.test:x:1:1::example.test/demo/::\n");
	ml = maplist_open(spec, &err);
	T_INTEQ(maplist_lookup(ml, "demo@example.test", &v), 1);
	T_STREQ(v, "example.test/demo/");
	T_INTEQ(unlink(p), 0);
	T_INTEQ(mkdir(p, 0700), 0);
	sleep(1);
	T_INTEQ(maplist_lookup(ml, "demo@example.test", &v), -1);
	T_INTEQ(maplist_lookup(ml, "other@example.test", &v), -1);
	T_INTEQ(rmdir(p), 0);
	sleep(1);
	T_INTEQ(maplist_lookup(ml, "demo@example.test", &v), -1);
	write_file(p, "demo@example.test:x:1:1::example.test/demo/::\n"
	    "new@example.test:x:1:1::example.test/new/::\n");
	sleep(1);
	T_INTEQ(maplist_lookup(ml, "new@example.test", &v), 1);
	T_STREQ(v, "example.test/new/");
	/* a process that re-reads in place never asks for a restart */
	{
		int unavail = -1;
		T_OK(maps_changed(&unavail) == NULL);
	}
	maplist_free(&ml);
	unlink(p);
	free(spec);
	free(p);
}

static void
test_syntax_errors(void)
{
	char *err = NULL;

	T_OK(maplist_open("bogus:thing", &err) == NULL);
	T_OK(err != NULL && strstr(err, "unsupported") != NULL);
	FREE(err);
	T_OK(maplist_open("nocolon", &err) == NULL);
	FREE(err);
	T_OK(maplist_open("inline:{a}", &err) == NULL);
	FREE(err);
}

/* After maps_prepare_chroot() nothing is read by name: the contents stay
 * as loaded, and a change of the file (seen through the descriptor kept
 * open) is reported by maps_changed() for a restart.  Runs last: the
 * process stays in this mode. */
static void
test_chroot_mode(void)
{
	char *p = tpath("vmbox"), *spec = xasprintf("texthash:%s", p), *err = NULL;
	char *q = tpath("gone"), *spec2 = xasprintf("texthash:%s", q);
	struct maplist *ml, *ml2;
	const char *v, *name;
	int unavail = -1;

	write_file(p, "demo@example.test example.test/demo/\n");
	ml = maplist_open(spec, &err);
	ml2 = maplist_open(spec2, &err);
	T_OK(ml != NULL && ml2 != NULL);
	maps_prepare_chroot();
	T_INTEQ(maplist_lookup(ml, "demo@example.test", &v), 1);
	T_OK(maps_changed(&unavail) == NULL);
	write_file(p, "demo@example.test example.test/demo/\n"
	    "new@example.test example.test/new/\n");
	sleep(1);
	/* still the old contents: the process has to restart */
	T_INTEQ(maplist_lookup(ml, "new@example.test", &v), 0);
	name = maps_changed(&unavail);
	T_STREQ(name, spec);
	T_INTEQ(unavail, 0);
	maplist_free(&ml);

	/* an unavailable table that failed a lookup also asks for one */
	T_INTEQ(maplist_lookup(ml2, "x", &v), -1);
	maplist_free(&ml2);
	unlink(p);
	free(spec);
	free(spec2);
	free(p);
	free(q);
}

static void
test_chroot_unavailable(void)
{
	char *q = tpath("gone2"), *spec = xasprintf("texthash:%s", q), *err = NULL;
	struct maplist *ml;
	const char *v, *name;
	int unavail = -1;

	/* opened after the chroot was prepared: unavailable, and a failed
	 * lookup asks for a restart (maps_changed() remembers the first
	 * table it reported, so this runs in its own process below) */
	ml = maplist_open(spec, &err);
	maps_prepare_chroot();
	T_INTEQ(maplist_lookup(ml, "x", &v), -1);
	name = maps_changed(&unavail);
	T_STREQ(name, spec);
	T_INTEQ(unavail, 1);
	maplist_free(&ml);
	free(spec);
	free(q);
}

int
main(void)
{
	pid_t pid;
	int status;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_text_table);
	T_RUN(test_miss_sees_new_key);
	T_RUN(test_missing_is_error);
	T_RUN(test_broken_then_fixed);
	T_RUN(test_syntax_errors);
	/* the chroot mode is one-way: each case in a child process */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		T_RUN(test_chroot_unavailable);
		_exit(t_done());
	}
	T_OK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_RUN(test_chroot_mode);
	t_rmtree(dir);
	return t_done();
}
