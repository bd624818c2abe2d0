/*
 * maildir.c - Maildir delivery: write the copy, fsync it, give it its
 * name in new/, fsync new/ (or leave that to the caller, who does it once
 * for a batch of deliveries before reporting any of them).  NAME is
 * derived from the queue id and the recipient's queue record, so a
 * delivery repeated after a crash (before qmgr marked the recipient done)
 * finds its earlier copy and does not add a second.
 *
 * The copy is written as an unnamed file in tmp/ (O_TMPFILE) and linked
 * into new/ once complete and on disk: no tmp/ entry is created, synced
 * (a fresh entry makes the file's fsync write tmp/ too on ext4) and
 * renamed away per message, and a crash leaves no tmp/ debris.  Where
 * O_TMPFILE or /proc/self/fd is missing: the classic tmp/NAME + rename.
 * Either way a file appears in new/ only complete and fsync'ed.
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

int
maildir_stage_commit(struct maildir_stage *st, char **error_r)
{
	char proc[64];

	if (fsync(st->fd) < 0) {
		*error_r = xasprintf("%s %s: fsync: %s", errno == ENOSPC ||
		    errno == EDQUOT ? "4.2.2" : "4.3.0", st->path,
		    strerror(errno));
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", st->fd);
	/* EEXIST: an identical copy of this very delivery is there */
	if (linkat(AT_FDCWD, proc, st->dirfd, st->name, AT_SYMLINK_FOLLOW) < 0 &&
	    errno != EEXIST) {
		*error_r = xasprintf("4.3.0 link to %s: %s", st->path,
		    strerror(errno));
		return -1;
	}
	return 0;
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
	struct stat st;
	int fd = -1, r = DELIVER_DEFER, unnamed = 0, attempt;
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
	if (stat(new, &st) == 0 || stat(cur, &st) == 0) {
		buf_set(text, "2.0.0 delivered to maildir (duplicate suppressed)");
		r = DELIVER_SENT;
		if (sync_dir_r != NULL) {
			/* an earlier attempt may have died before its fsync */
			*sync_dir_r = newdir;
			newdir = NULL;
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
