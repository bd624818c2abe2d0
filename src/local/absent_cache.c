/*
 * absent_cache.c - access(2) for files that are usually missing (the
 * recipe and vacation files local_hook looks for at every delivery)
 * without a system call per file and delivery.
 *
 * A path found missing is remembered together with an inotify watch on
 * its directory, placed before a second check so that an entry made
 * after it always queues an event.  absent_cache_sync (once per
 * delivery) reads the non-blocking inotify descriptor: a watched
 * directory that gained an entry (created, linked or renamed into it),
 * or was itself moved or removed, forgets its remembered paths, which
 * are then checked again.  Only paths with no directory entry at all (not a
 * dangling symlink) in directories on local file systems (inotify does
 * not see other hosts' changes on NFS) are remembered; every other
 * answer is access(2)'s own.  Not covered: a change of the path's
 * meaning above its directory (a parent renamed over, a symlinked
 * directory pointed elsewhere).
 *
 * No untrusted input: paths come from main.cf and the user tables,
 * events from the kernel.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "mem.h"

#define ABSENT_MAX 256

struct absent {
	char *path;
	int wd;                 /* watch on its directory */
};

static struct absent cache[ABSENT_MAX];
static size_t ncache;
static int ifd = -1;            /* -2: inotify unavailable */

/* Forget the paths of watch wd (all when wd < 0) and drop the watch. */
static void
forget(int wd)
{
	size_t i = 0;
	int rm = 0;

	while (i < ncache) {
		if (wd >= 0 && cache[i].wd != wd) {
			i++;
			continue;
		}
		if (wd < 0)
			(void)inotify_rm_watch(ifd, cache[i].wd);
		rm = 1;
		free(cache[i].path);
		cache[i] = cache[--ncache];
	}
	if (wd >= 0 && rm)
		(void)inotify_rm_watch(ifd, wd);
}

void
absent_cache_sync(void)
{
	alignas(struct inotify_event) char ev[4096];
	const struct inotify_event *e;
	ssize_t n, off;

	if (ifd < 0 || ncache == 0)
		return;
	for (;;) {
		n = read(ifd, ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				forget(-1);
			return;
		}
		for (off = 0; off < n; off += (ssize_t)(sizeof(*e) + e->len)) {
			e = (const struct inotify_event *)(ev + off);
			forget(e->mask & IN_Q_OVERFLOW ? -1 : e->wd);
		}
	}
}

/* Whether changes to dir are all visible to inotify here. */
static int
local_fs(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return 0;
	switch ((unsigned long)sf.f_type) {
	case 0xEF53:            /* ext2/3/4 */
	case 0x58465342:        /* xfs */
	case 0x9123683E:        /* btrfs */
	case 0x01021994:        /* tmpfs */
	case 0x794C7630:        /* overlayfs */
	case 0x2FC12FC1:        /* zfs */
	case 0xF2F52010:        /* f2fs */
		return 1;
	default:
		return 0;
	}
}

/* path is missing (access gave ENOENT): remember it if that can be
 * kept exact. */
static void
remember(const char *path)
{
	const char *sl = strrchr(path, '/');
	char *dir = sl == NULL ? xstrdup(".") :
	    xstrndup(path, sl == path ? 1 : (size_t)(sl - path));
	struct stat st;
	int wd, saved = errno;

	if (ncache == ABSENT_MAX)
		forget(-1);
	wd = local_fs(dir) ? inotify_add_watch(ifd, dir, IN_CREATE |
	    IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) : -1;
	free(dir);
	/* checked again with the watch in place: a later entry queues an
	 * event; a dangling symlink is an entry (its target may appear
	 * anywhere) */
	if (wd >= 0 && access(path, F_OK) < 0 && errno == ENOENT &&
	    lstat(path, &st) < 0 && errno == ENOENT) {
		cache[ncache].path = xstrdup(path);
		cache[ncache++].wd = wd;
	} else if (wd >= 0) {
		size_t i;
		for (i = 0; i < ncache && cache[i].wd != wd; i++)
			;
		if (i == ncache)
			(void)inotify_rm_watch(ifd, wd);
	}
	errno = saved;
}

int
absent_cache_access(const char *path, int mode)
{
	size_t i;
	int r;

	if (ifd == -1) {
		ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ifd < 0)
			ifd = -2;
	}
	if (ifd < 0)
		return access(path, mode);
	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i].path, path) == 0) {
			errno = ENOENT;
			return -1;
		}
	r = access(path, mode);
	if (r < 0 && errno == ENOENT)
		remember(path);
	return r;
}
