/*
 * maildir.c - Maildir delivery: write the copy, fsync it, give it its
 * name in new/, fsync new/ (or leave that to the caller, who does it once
 * for a batch of deliveries before reporting any of them).  NAME is
 * derived from the queue id and the recipient's queue record, so a
 * delivery repeated after a crash (before qmgr marked the recipient done)
 * finds its earlier copy and does not add a second.
 *
 * The copy is written as an unnamed file in tmp/ (O_TMPFILE) and linked
 * into new/ once complete: no tmp/ entry is created, synced (a fresh
 * entry makes the file's fsync write tmp/ too on ext4) and renamed away
 * per message, and a crash leaves no tmp/ debris.  Where O_TMPFILE or
 * /proc/self/fd is missing: the classic tmp/NAME + rename.
 *
 * A copy delivered alone is fsync'ed before its link.  A staged copy (a
 * batch of the virtual agent, local.c) is linked once its data is
 * written (sync_file_range), then new/ and the copy are fsync'ed: on
 * ext4 one journal commit per batch instead of two (the file's, then
 * new/'s).  The delivery is reported only after both fsyncs either way.
 * A crash before them can leave a name in new/ for a copy whose data or
 * size did not reach the disk; so the duplicate check (earlier_copy)
 * takes a file under this delivery's name for the earlier copy only if
 * it holds exactly the bytes this delivery writes, and otherwise
 * replaces it.
 *
 * Input: the queue file content (copied); names and files in the
 * recipient's Maildir (the duplicate check reads a file under this
 * delivery's own name, bounded by the copy's size).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "deliver_proto.h"
#include "local.h"
#include "log.h"
#include "mem.h"

static int
mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

int
maildir_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Writing or syncing the copy failed (errno): a full disk or quota is
 * 4.2.2, anything else 4.3.0; a named tmp/ file is removed. */
static void
write_failed(struct buf *text, const char *tmp, int unnamed)
{
	int e = errno;

	buf_printf(text, "%s create maildir file %s: %s",
	    e == ENOSPC || e == EDQUOT ? "4.2.2" : "4.3.0", tmp, strerror(e));
	if (!unnamed)
		unlink(tmp);
}

/* Unnamed files in tmp/ + linkat through /proc: -1 not tried yet, 1 they
 * work here, 0 they do not (the classic tmp/NAME + rename from then on). */
static int use_tmpfile = -1;

/* 1 once a link through /proc/self/fd worked in this process: only then
 * are copies staged for a later link (maildir_deliver_stage). */
static int tmpfile_linked;

/* Open an unnamed file in tmpdir: fd, or -1 with errno (EOPNOTSUPP when
 * this process does not use them; ENOENT when tmpdir is missing). */
static int
open_unnamed(const char *tmpdir)
{
	int fd;

	if (use_tmpfile < 0)
		use_tmpfile = access("/proc/self/fd", X_OK) == 0;
	if (!use_tmpfile) {
		errno = EOPNOTSUPP;
		return -1;
	}
	fd = open(tmpdir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
	    errno == EINVAL)) {
		use_tmpfile = 0;
		errno = EOPNOTSUPP;
	}
	return fd;
}

/* Give the unnamed file fd the name path: 0, or -1 with errno. */
static int
link_unnamed(int fd, const char *path)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

void
maildir_stage_start(struct maildir_stage *st)
{
	(void)sync_file_range(st->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* A failed write-out or fsync of st (errno) as a deferral text. */
static char *
stage_error(const struct maildir_stage *st, const char *what)
{
	return xasprintf("%s %s: %s: %s", errno == ENOSPC || errno == EDQUOT ?
	    "4.2.2" : "4.3.0", st->path, what, strerror(errno));
}

int
maildir_stage_write(struct maildir_stage *st, char **error_r)
{
	/* the data on disk and (delayed allocation) its blocks allocated
	 * before the name exists: on ext4 the fsync of new/ then commits
	 * blocks, size and name together */
	if (sync_file_range(st->fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
	    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0) {
		*error_r = stage_error(st, "write");
		return -1;
	}
	return 0;
}

int
maildir_stage_link(struct maildir_stage *st, char **error_r)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", st->fd);
	if (linkat(AT_FDCWD, proc, st->dirfd, st->name, AT_SYMLINK_FOLLOW) == 0) {
		st->linked = 1;
		return 0;
	}
	/* EEXIST: a copy of this very delivery got there since the
	 * duplicate check (which compared what was there then) */
	if (errno == EEXIST)
		return 0;
	*error_r = xasprintf("4.3.0 link to %s: %s", st->path,
	    strerror(errno));
	return -1;
}

int
maildir_stage_sync(struct maildir_stage *st, char **error_r)
{
	if (fsync(st->fd) == 0)
		return 0;
	*error_r = stage_error(st, "fsync");
	/* deferred: no name for a copy that may not be on disk */
	if (st->linked)
		(void)unlinkat(st->dirfd, st->name, 0);
	return -1;
}

void
maildir_stage_free(struct maildir_stage **stp)
{
	struct maildir_stage *st = *stp;

	if (st == NULL)
		return;
	/* an unnamed copy never committed disappears with its descriptor */
	close(st->fd);
	close(st->dirfd);
	free(st->name);
	free(st->path);
	FREE(*stp);
}

/*
 * The copy an earlier attempt of this delivery left under path (new/NAME
 * or cur/NAME:2,), checked as the recipient: 1 when the file holds
 * exactly the bytes this delivery writes (then fsync'ed, as that attempt
 * may have died before its own fsync), 0 when there is none, or when it
 * differs and was removed (a name whose copy a crash cut short: the
 * delivery writes a new one), -1 with errno when that cannot be told.
 */
static int
earlier_copy(const struct delivery *d, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int r, e;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno != ELOOP)
		return -1;
	r = fd < 0 ? 0 : local_copy_compare(d, fd);     /* ELOOP: a symlink */
	if (r == 1 && fsync(fd) < 0)
		r = -1;
	e = errno;
	if (fd >= 0)
		close(fd);
	if (r == 0) {
		log_warn("%s: %s: not the copy this delivery writes (cut "
		    "short by a crash?): replaced", d->queue_id, path);
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
		return 0;
	}
	errno = e;
	return r;
}

int
maildir_deliver(const struct delivery *d, const char *dir, struct buf *text)
{
	return maildir_deliver_nosync(d, dir, text, NULL);
}

int
maildir_deliver_nosync(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r)
{
	return maildir_deliver_stage(d, dir, text, sync_dir_r, NULL);
}

int
maildir_deliver_stage(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r, struct maildir_stage **stage_r)
{
	char name[256], *tmp = NULL, *new = NULL, *cur = NULL, *newdir = NULL;
	char *tmpdir = NULL, *cur_dir = NULL;
	const char *host = config_str("myhostname");
	int fd = -1, r = DELIVER_DEFER, unnamed = 0, attempt, k, e;
	size_t i;

	/* Maildir++ wants no '/' or ':' in the host part */
	snprintf(name, sizeof(name), "%lld.T%sR%lld.%s",
	    d->arrival_us / 1000000, d->queue_id, d->rcpt_offset, host);
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] == '/' || name[i] == ':')
			name[i] = '_';
	newdir = xasprintf("%snew", dir);
	tmp = xasprintf("%stmp/%s", dir, name);
	new = xasprintf("%snew/%s", dir, name);
	cur = xasprintf("%scur/%s:2,", dir, name);
	cur_dir = xasprintf("%scur", dir);
	for (k = 0; k < 2; k++) {
		const char *old = k == 0 ? new : cur;
		if ((e = earlier_copy(d, old)) < 0) {
			buf_printf(text, "4.3.0 check %s: %s", old,
			    strerror(errno));
			goto out;
		}
		if (e == 0)
			continue;
		buf_set(text, "2.0.0 delivered to maildir (duplicate suppressed)");
		r = DELIVER_SENT;
		if (sync_dir_r != NULL) {
			/* an earlier attempt may have died before its fsync */
			*sync_dir_r = newdir;
			newdir = NULL;
		} else if (maildir_fsync_dir(newdir) < 0) {
			buf_printf(text, "4.3.0 fsync %s: %s", newdir,
			    strerror(errno));
			r = DELIVER_DEFER;
		}
		goto out;
	}
	tmpdir = xasprintf("%stmp", dir);
again:
	for (attempt = 0; attempt < 2; attempt++) {
		unnamed = 1;
		fd = open_unnamed(tmpdir);
		if (fd < 0 && errno != ENOENT) {
			unnamed = 0;
			fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0600);
		}
		if (fd >= 0 || errno != ENOENT || attempt > 0)
			break;
		/* first delivery: create the Maildir */
		if (mkdirs(tmpdir, 0700) < 0 || mkdirs(newdir, 0700) < 0 ||
		    mkdirs(cur_dir, 0700) < 0) {
			buf_printf(text, "4.2.0 create maildir %s: %s", dir,
			    strerror(errno));
			goto out;
		}
	}
	if (fd < 0) {
		buf_printf(text, "4.2.0 create maildir file %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (local_copy_message(d, fd, 0) < 0) {
		write_failed(text, tmp, unnamed);
		goto out;
	}
	if (unnamed && stage_r != NULL && tmpfile_linked && sync_dir_r != NULL) {
		/* staged: the caller syncs and names it with the rest of
		 * its batch (maildir_stage_commit); new/ is opened now, as
		 * the recipient, and the link goes into that directory */
		int dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			struct maildir_stage *st_new = xcalloc(1, sizeof(*st_new));
			st_new->fd = fd;
			st_new->dirfd = dfd;
			st_new->name = xstrdup(name);
			st_new->path = new;
			new = NULL;
			fd = -1;
			*stage_r = st_new;
			*sync_dir_r = newdir;
			newdir = NULL;
			buf_set(text, "2.0.0 delivered to maildir");
			r = DELIVER_SENT;
			goto out;
		}
	}
	if (fsync(fd) < 0) {
		write_failed(text, tmp, unnamed);
		goto out;
	}
	if (unnamed) {
		/* the name in new/ is this delivery's own: EEXIST means an
		 * identical copy got there since the check above */
		if (link_unnamed(fd, new) < 0 && errno != EEXIST) {
			if (use_tmpfile == 1 && (errno == EACCES ||
			    errno == EPERM || (errno == ENOENT &&
			    access(newdir, F_OK) == 0))) {
				/* no usable /proc/self/fd: the classic way */
				log_warn("linkat through /proc/self/fd: %s; "
				    "Maildir copies go through tmp/ names",
				    strerror(errno));
				use_tmpfile = 0;
				close(fd);
				fd = -1;
				goto again;
			}
			buf_printf(text, "4.3.0 link to %s: %s", new,
			    strerror(errno));
			goto out;
		}
		tmpfile_linked = 1;
	} else if (rename(tmp, new) < 0) {
		/* rename, not link + unlink: the name is this delivery's own
		 * (queue id + recipient record), so a file already in new/
		 * could only be an identical earlier copy */
		buf_printf(text, "4.3.0 rename to %s: %s", new, strerror(errno));
		unlink(tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (sync_dir_r != NULL) {
		/* the caller fsyncs new/ once for a batch before it reports */
		*sync_dir_r = newdir;
		newdir = NULL;
	} else if (maildir_fsync_dir(newdir) < 0) {
		buf_printf(text, "4.3.0 fsync %s: %s", newdir, strerror(errno));
		goto out;
	}
	buf_set(text, "2.0.0 delivered to maildir");
	r = DELIVER_SENT;
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(new);
	free(cur);
	free(newdir);
	free(tmpdir);
	free(cur_dir);
	return r;
}
