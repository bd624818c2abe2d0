/*
 * maildir.c - Maildir delivery: write tmp/NAME, fsync, rename into new/,
 * fsync new/ (or leave that to the caller, who does it once for a batch
 * of deliveries before reporting any of them).  NAME is derived from the queue id and the recipient's
 * queue record, so a delivery repeated after a crash (before qmgr marked
 * the recipient done) finds its earlier copy and does not add a second.
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

int
maildir_deliver(const struct delivery *d, const char *dir, struct buf *text)
{
	return maildir_deliver_nosync(d, dir, text, NULL);
}

int
maildir_deliver_nosync(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r)
{
	char name[256], *tmp = NULL, *new = NULL, *cur = NULL, *newdir = NULL;
	const char *host = config_str("myhostname");
	struct stat st;
	int fd = -1, r = DELIVER_DEFER;
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
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* first delivery: create the Maildir */
		char *t = xasprintf("%stmp", dir), *c = xasprintf("%scur", dir);
		if (mkdirs(t, 0700) < 0 || mkdirs(newdir, 0700) < 0 ||
		    mkdirs(c, 0700) < 0) {
			buf_printf(text, "4.2.0 create maildir %s: %s", dir,
			    strerror(errno));
			free(t);
			free(c);
			goto out;
		}
		free(t);
		free(c);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		buf_printf(text, "4.2.0 create maildir file %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (local_copy_message(d, fd, 0) < 0 || fsync(fd) < 0) {
		int e = errno;
		buf_printf(text, "%s create maildir file %s: %s",
		    e == ENOSPC || e == EDQUOT ? "4.2.2" : "4.3.0", tmp,
		    strerror(e));
		unlink(tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	/* rename, not link + unlink: the name is this delivery's own (queue
	 * id + recipient record), so a file already in new/ could only be
	 * an identical earlier copy (and the stat above found none) */
	if (rename(tmp, new) < 0) {
		buf_printf(text, "4.3.0 rename to %s: %s", new, strerror(errno));
		unlink(tmp);
		goto out;
	}
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
	return r;
}
