/*
 * mbox.c - mbox delivery with fcntl() and dotlock locking, From_ line and
 * >From quoting; a failed write is truncated away so the mailbox never
 * keeps half a message.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deliver_proto.h"
#include "local.h"
#include "log.h"
#include "mem.h"

#define LOCK_TRIES 20

static int
dotlock(const char *lock)
{
	int i;

	for (i = 0; i < LOCK_TRIES; i++) {
		int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		struct stat st;
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return errno == EACCES ? 0 : -1;   /* no write access to dir */
		/* break stale locks older than 5 minutes, as procmail does */
		if (stat(lock, &st) == 0 && time(NULL) - st.st_mtime > 300)
			unlink(lock);
		sleep(1);
	}
	errno = EAGAIN;
	return -1;
}

static int mbox_append(const struct delivery *d, const char *path,
    struct buf *text, int own);

int
mbox_deliver(const struct delivery *d, const char *path, struct buf *text)
{
	return mbox_append(d, path, text, 0);
}

int
mbox_deliver_mailbox(const struct delivery *d, const char *path,
    struct buf *text)
{
	return mbox_append(d, path, text, 1);
}

/* Append to the mbox at path; with own, only to a file whose owner is
 * the user we run as (a mailbox planted in a world-writable spool by
 * someone else would let them read the recipient's mail). */
static int
mbox_append(const struct delivery *d, const char *path, struct buf *text,
    int own)
{
	char *lock = xasprintf("%s.lock", path);
	int fd = -1, locked = 0, r = DELIVER_DEFER;
	struct flock fl;
	struct stat st;
	long long limit = config_int("mailbox_size_limit");

	if (dotlock(lock) < 0) {
		buf_printf(text, "4.2.0 cannot lock %s: %s", path, strerror(errno));
		goto out;
	}
	locked = 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0) {
		buf_printf(text, "4.2.0 open mailbox %s: %s", path, strerror(errno));
		goto out;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLKW, &fl) < 0 || fstat(fd, &st) < 0) {
		buf_printf(text, "4.2.0 lock mailbox %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(text, "5.2.0 mailbox %s is not a regular file", path);
		r = DELIVER_BOUNCE;
		goto out;
	}
	if (own && geteuid() != 0 && st.st_uid != geteuid()) {
		buf_printf(text, "5.2.0 mailbox %s is not owned by the "
		    "recipient", path);
		r = DELIVER_BOUNCE;
		goto out;
	}
	if (limit > 0 && st.st_size + (off_t)d->content_len > limit) {
		buf_printf(text, "5.2.2 mailbox %s is full", path);
		r = DELIVER_BOUNCE;
		goto out;
	}
	if (local_copy_message(d, fd, 1) < 0 || fsync(fd) < 0) {
		int e = errno;
		if (ftruncate(fd, st.st_size) < 0)
			log_warn("cannot truncate %s after error", path);
		buf_printf(text, "4.2.0 write mailbox %s: %s", path, strerror(e));
		goto out;
	}
	buf_set(text, "2.0.0 delivered to mailbox");
	r = DELIVER_SENT;
out:
	if (fd >= 0)
		close(fd);
	if (locked)
		unlink(lock);
	free(lock);
	return r;
}
