/*
 * spam_cmd.c - configuration and message input for the spam commands.
 * Message files are untrusted; each is read with a hard size bound.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fdio.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "spam_cmd.h"
#include "store.h"

void
spam_cmd_config(void)
{
	char *err = NULL;

	if (config_load(ctl_config_dir(), &err) < 0)
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

/* Open a message file, a regular file only: checked on the opened
 * descriptor, so a FIFO put in its place after a stat() cannot block
 * (without O_NONBLOCK the open of a FIFO waits for a writer, and a
 * read for ever).  The fd, -1 (errno), or -2: not a regular file. */
static int
open_regular(const char *path)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), fl, r = -1, e;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) == 0) {
		if (!S_ISREG(sb.st_mode))
			r = -2;
		else if ((fl = fcntl(fd, F_GETFL)) >= 0 &&
		    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
			return fd;
	}
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static int
read_file(int fd, struct buf *b)
{
	int r = fd_read_all(fd, b);

	close(fd);
	return r;
}

/* Reading an mbox: the current message and the line being read. */
struct mbox_rd {
	struct buf msg;         /* the message so far (bounded) */
	int in_msg;             /* past a "From " line */
	int too_big;            /* the message is over msg.max: skipped */
	long nmsg;              /* messages begun ("From " lines) */
	long nbig;              /* of them skipped as too big */
	int line_start;         /* the next bytes start a line */
	int prev_blank;         /* the line before was empty, not the first */
	int first;              /* no line read yet */
	const char *name;
	void (*fn)(const char *, size_t, const char *, void *);
	void *arg;
};

/* The message read so far to fn, unless it was too big (said why). */
static void
mbox_emit(struct mbox_rd *r)
{
	if (r->in_msg && r->too_big) {
		fprintf(stderr, "%s: message %ld: more than %zu bytes, skipped\n",
		    r->name, r->nmsg, r->msg.max);
		r->nbig++;
	} else if (r->in_msg)
		r->fn(r->msg.data ? r->msg.data : "", r->msg.len, r->name, r->arg);
	buf_reset(&r->msg);
	r->too_big = 0;
}

/* Bytes of the file, s[0..n): a whole line (ending in '\n', or the
 * file's last bytes) or the piece of one at most too long to keep. */
static void
mbox_piece(struct mbox_rd *r, const char *s, size_t n, int line_end)
{
	if (r->line_start && n >= 5 && memcmp(s, "From ", 5) == 0 &&
	    (r->first || r->prev_blank)) {
		mbox_emit(r);
		r->in_msg = 1;
		r->nmsg++;
	} else if (r->in_msg && !r->too_big) {
		size_t q = 0;
		if (r->line_start) {
			while (q < n && s[q] == '>')
				q++;
			/* ">From " quoting undone */
			q = q > 0 && n - q >= 5 && memcmp(s + q, "From ", 5) == 0;
		}
		if (buf_append(&r->msg, s + q, n - q) < 0) {
			r->too_big = 1;         /* not cut: skipped whole */
			buf_reset(&r->msg);
		}
	}
	if (line_end)
		r->prev_blank = r->line_start && !r->first &&
		    ((n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n'));
	if (r->line_start)
		r->first = 0;
	r->line_start = line_end;
}

/* Split an mbox at "From " lines (at the start or after a blank line);
 * ">From " quoting is undone.  Read as a stream: the memory is one
 * message (SPAM_CMD_MAX_MESSAGE; a longer one is skipped, said on
 * stderr, and reading goes on at the next "From " line) and a window.
 * The number of messages skipped so, or -1 (errno) when reading failed. */
#define MBOX_WINDOW (1024 * 1024)

static int
each_mbox_fd(int fd, const char *name,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	struct mbox_rd r = { .line_start = 1, .first = 1, .name = name, .fn = fn, .arg = arg };
	char *w = xmalloc(MBOX_WINDOW);
	size_t len = 0;
	ssize_t got;
	int ret = 0;

	buf_init(&r.msg, SPAM_CMD_MAX_MESSAGE);
	for (;;) {
		size_t p = 0;
		const char *nl;

		got = read(fd, w + len, MBOX_WINDOW - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -1;
			break;
		}
		len += (size_t)got;
		while ((nl = memchr(w + p, '\n', len - p)) != NULL) {
			size_t e = (size_t)(nl - w) + 1;
			mbox_piece(&r, w + p, e - p, 1);
			p = e;
		}
		if (got == 0) {         /* the last line, without its '\n' */
			if (p < len)
				mbox_piece(&r, w + p, len - p, 1);
			break;
		}
		if (p == 0 && len == MBOX_WINDOW) {
			/* a line longer than the window: its start only
			 * decides, keep a few bytes for the "From " check */
			mbox_piece(&r, w, len - 8, 0);
			p = len - 8;
		}
		memmove(w, w + p, len - p);
		len -= p;
	}
	if (ret == 0) {
		mbox_emit(&r);
		ret = r.nbig > INT_MAX ? INT_MAX : (int)r.nbig;
	}
	buf_free(&r.msg);
	free(w);
	return ret;
}

static int
one_file(const char *path, int mbox,
    void (*fn)(const char *, size_t, const char *, void *), void *arg)
{
	struct buf b;
	int fd, r;

	if ((fd = open_regular(path)) < 0) {
		fprintf(stderr, "%s: cannot read: %s\n", path,
		    fd == -2 ? "not a regular file" : strerror(errno));
		return 1;
	}
	if (mbox) {
		if ((r = each_mbox_fd(fd, path, fn, arg)) < 0) {
			fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
			close(fd);
			return 1;
		}
		close(fd);
		return r;               /* its messages too big */
	}
	buf_init(&b, SPAM_CMD_MAX_MESSAGE);
	if (read_file(fd, &b) < 0) {
		if (errno == EFBIG)
			fprintf(stderr, "%s: cannot read: more than %zu bytes\n", path, b.max);
		else
			fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		buf_free(&b);
		return 1;
	}
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
		int found;
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		found = stat(p, &sb) == 0;
		if (found && S_ISREG(sb.st_mode)) {
			/* (one_file() checks again what it opens) */
			names = xreallocarray(names, n + 1, sizeof(char *));
			names[n++] = p;
			continue;
		}
		if (found && !S_ISDIR(sb.st_mode))
			fprintf(stderr, "%s: not a regular file, skipped\n", p);
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
