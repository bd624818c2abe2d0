/*
 * spam_cmd.c - configuration and message input for the spam commands.
 * Message files are untrusted; each is read with a hard size bound.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "spam_cmd.h"
#include "store.h"

void
spam_cmd_config(void)
{
	const char *dir = getenv("TEMPEST_CONFIG_DIR");
	char *err = NULL;

	if (dir == NULL)
		dir = ctl_config_dir();
	if (config_load(dir, &err) < 0)
		fatal("%s", err);
}

void
spam_cmd_store_owner(const char *db)
{
	const char *spec = config_str("spam_database"), *owner, *path;
	struct passwd *pw;
	int fd;

	if (db != NULL || geteuid() != 0 || (path = store_sqlite_path(spec)) == NULL)
		return;
	owner = config_str("mail_owner");
	if ((pw = getpwnam(owner)) == NULL)
		fatal("mail_owner %s: no such user", owner);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return;         /* there already (or store_open will say why not) */
	if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
		log_warn("%s: chown to %s: %s", path, owner, strerror(errno));
	close(fd);
}

int
spam_cmd_read_fd(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (buf_append(b, chunk, (size_t)n) < 0) {
			errno = EFBIG;  /* over b->max */
			return -1;
		}
	}
	return 0;
}

static int
read_file(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = spam_cmd_read_fd(fd, b);
	close(fd);
	return r;
}

/* Split an mbox at "From " lines (after a blank line or at the start);
 * ">From " quoting is undone. */
static void
emit_mbox_msg(const char *data, size_t start, size_t e, struct buf *msg,
    const char *name, void (*fn)(const char *, size_t, const char *, void *),
    void *arg)
{
	buf_reset(msg);
	for (size_t k = start; k < e; ) {
		const char *nl = memchr(data + k, '\n', e - k);
		size_t le = nl ? (size_t)(nl - data) + 1 : e, s = k, q = k;
		while (q < le && data[q] == '>')
			q++;
		if (q > s && le - q >= 5 && memcmp(data + q, "From ", 5) == 0)
			s++;
		(void)buf_append(msg, data + s, le - s);
		k = le;
	}
	fn(msg->data ? msg->data : "", msg->len, name, arg);
}

/* Split an mbox at "From " lines (at the start or after a blank line);
 * ">From " quoting is undone. */
static void
each_mbox(const char *data, size_t len, const char *name,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	size_t i = 0, start = (size_t)-1;
	struct buf msg;

	buf_init(&msg, SPAM_CMD_MAX_MESSAGE);
	for (;;) {
		int at_end = i >= len;
		int sep = !at_end && len - i >= 5 && memcmp(data + i, "From ", 5) == 0 &&
		    (i == 0 || (i >= 2 && data[i - 1] == '\n' && (data[i - 2] == '\n' ||
		    (i >= 3 && data[i - 2] == '\r' && data[i - 3] == '\n'))));
		const char *nl;
		size_t next;

		if ((at_end || sep) && start != (size_t)-1)
			emit_mbox_msg(data, start, i, &msg, name, fn, arg);
		if (at_end)
			break;
		nl = memchr(data + i, '\n', len - i);
		next = nl ? (size_t)(nl - data) + 1 : len;
		if (sep)
			start = next;
		i = next;
	}
	buf_free(&msg);
}

static int
one_file(const char *path, int mbox,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	struct buf b;

	buf_init(&b, mbox ? (size_t)1 << 31 : SPAM_CMD_MAX_MESSAGE);
	if (read_file(path, &b) < 0) {
		if (errno == EFBIG)
			fprintf(stderr, "%s: cannot read: more than %zu bytes\n", path, b.max);
		else
			fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		buf_free(&b);
		return 1;
	}
	if (mbox)
		each_mbox(b.data ? b.data : "", b.len, path, fn, arg);
	else
		fn(b.data ? b.data : "", b.len, path, arg);
	buf_free(&b);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
each_in_dir(const char *dir, int mbox,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int bad = 0;

	if (d == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		char *p;
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
			names = xreallocarray(names, n + 1, sizeof(char *));
			names[n++] = p;
		} else
			free(p);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		bad += one_file(names[i], mbox, fn, arg);
		free(names[i]);
	}
	free(names);
	return bad;
}

int
spam_cmd_each_message(const char *path, int mbox,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	struct stat sb;
	char *cur, *new_;
	int bad = 0;

	if (stat(path, &sb) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(sb.st_mode))
		return one_file(path, mbox, fn, arg);
	cur = xasprintf("%s/cur", path);
	new_ = xasprintf("%s/new", path);
	if ((stat(cur, &sb) == 0 && S_ISDIR(sb.st_mode)) ||
	    (stat(new_, &sb) == 0 && S_ISDIR(sb.st_mode))) {
		if (stat(cur, &sb) == 0)
			bad += each_in_dir(cur, 0, fn, arg);
		if (stat(new_, &sb) == 0)
			bad += each_in_dir(new_, 0, fn, arg);
	} else {
		bad = each_in_dir(path, mbox, fn, arg);
	}
	free(cur);
	free(new_);
	return bad;
}
