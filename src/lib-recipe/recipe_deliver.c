/*
 * recipe_deliver.c - writing a message into mbox files (kernel lock via
 * fcntl, appended with a rollback on error, fsync), Maildir folders
 * (tmp/ -> new/ with fsync), MH folders (next number) and procmail's
 * directory folders (msg.XXXX), plus procmail-style lockfiles.
 *
 * Untrusted bytes: folder names come from the rcfile (already expanded),
 * the data from the message; both are only written, never interpreted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "mem.h"
#include "recipe-deliver.h"

static unsigned long uniq_counter;

int
rc_lock_create(const char *path, int timeout_s, char **error_r)
{
	time_t until = time(NULL) + 120;
	useconds_t pause = 5000;

	for (;;) {
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0);
		struct stat st;
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST) {
			*error_r = xasprintf("Lock failure on \"%s\"", path);
			return -1;
		}
		/* stale lock: older than LOCKTIMEOUT seconds */
		if (stat(path, &st) == 0 && timeout_s > 0 &&
		    time(NULL) - st.st_mtime > timeout_s) {
			unlink(path);
			continue;
		}
		if (time(NULL) > until) {
			*error_r = xasprintf("Lock failure on \"%s\" (timeout)", path);
			return -1;
		}
		usleep(pause);
		if (pause < 100000)
			pause *= 2;
	}
}

void
rc_lock_remove(const char *path)
{
	if (path != NULL && *path != '\0')
		unlink(path);
}

/* procmail creates the folder directory itself, not missing parents */
static int
mkdir_p(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0777) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return -1;
}

enum ftype rc_folder_type(const char *name, char **dir_r)
{
	size_t n = strlen(name);
	struct stat st;

	*dir_r = NULL;
	if (n >= 2 && strcmp(name + n - 2, "/.") == 0) {
		*dir_r = xstrndup(name, n - 2);
		return FT_MH;
	}
	if (n >= 1 && name[n - 1] == '/') {
		while (n > 1 && name[n - 1] == '/')
			n--;
		*dir_r = xstrndup(name, n);
		return FT_MAILDIR;
	}
	if (stat(name, &st) == 0 && S_ISDIR(st.st_mode)) {
		*dir_r = xstrdup(name);
		return FT_DIR;
	}
	return FT_FILE;
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* mbox: lines after the first that start with "From " get a '>' */
static int
write_mbox_data(int fd, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	const char *nl = memchr(p, '\n', len);

	if (nl == NULL)
		return fd_write_all(fd, data, len);
	nl++;
	if (fd_write_all(fd, p, (size_t)(nl - p)) < 0)
		return -1;
	p = nl;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		size_t n = e != NULL ? (size_t)(e - p) + 1 : (size_t)(end - p);
		if (n >= 5 && memcmp(p, "From ", 5) == 0 && fd_write_all(fd, ">", 1) < 0)
			return -1;
		if (fd_write_all(fd, p, n) < 0)
			return -1;
		p += n;
	}
	return 0;
}

static int
deliver_mbox(const char *name, const char *data, size_t len, int raw,
    char **error_r)
{
	struct flock fl;
	struct stat st;
	off_t start;
	int fd;

	fd = open(name, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0666);
	if (fd < 0) {
		*error_r = xasprintf("Couldn't create \"%s\": %s", name,
		    strerror(errno));
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLKW, &fl) < 0) {
		/* no kernel lock (e.g. some network file systems): go on */
	}
	if (fstat(fd, &st) < 0) {
		*error_r = xasprintf("Couldn't stat \"%s\"", name);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		/* /dev/null and other devices: just write */
		int bad = (raw ? fd_write_all(fd, data, len) :
		    write_mbox_data(fd, data, len)) < 0;
		close(fd);
		if (bad) {
			*error_r = xasprintf("Error while writing to \"%s\"", name);
			return -1;
		}
		return 0;
	}
	start = st.st_size;
	if ((raw ? fd_write_all(fd, data, len) : write_mbox_data(fd, data, len)) < 0 ||
	    fsync(fd) < 0) {
		int e = errno;
		if (ftruncate(fd, start) < 0) {
			/* the partial append stays; nothing more we can do */
		}
		fl.l_type = F_UNLCK;
		fcntl(fd, F_SETLK, &fl);
		close(fd);
		*error_r = xasprintf("Error while writing to \"%s\": %s", name,
		    strerror(e));
		return -1;
	}
	/* as procmail: a mailbox others may read gets o+x ("new mail") */
	if (fstat(fd, &st) == 0 && (st.st_mode & 0007) != 0 &&
	    !(st.st_mode & S_IXOTH))
		fchmod(fd, (st.st_mode & 07777) | S_IXOTH);
	fl.l_type = F_UNLCK;
	fcntl(fd, F_SETLK, &fl);
	if (close(fd) < 0) {
		*error_r = xasprintf("Error while writing to \"%s\"", name);
		return -1;
	}
	return 0;
}

static char *
hostname_safe(void)
{
	char h[256], *p;

	if (gethostname(h, sizeof(h) - 1) < 0)
		strcpy(h, "localhost");
	h[sizeof(h) - 1] = '\0';
	for (p = h; *p != '\0'; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	return xstrdup(h);
}

/* Create a fresh file in dir: MH numbers, msg.XXXX names or a Maildir
 * tmp name.  Returns fd and the path. */
static int
create_in(enum ftype t, const char *dir, const char *prefix, char **path_r,
    char **short_r)
{
	int i;

	for (i = 0; i < 1000; i++) {
		char *p = NULL, *s = NULL;
		int fd;
		if (t == FT_MH) {
			DIR *d = opendir(dir);
			struct dirent *de;
			unsigned long max = 0;
			if (d == NULL)
				return -1;
			while ((de = readdir(d)) != NULL) {
				char *e;
				unsigned long v = strtoul(de->d_name, &e, 10);
				if (*e == '\0' && de->d_name[0] != '\0' &&
				    de->d_name[0] != '0' && v > max)
					max = v;
			}
			closedir(d);
			s = xasprintf("%lu", max + 1);
		} else if (t == FT_DIR) {
			static const char al[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
			unsigned long v = (unsigned long)getpid() * 7919u +
			    (unsigned long)time(NULL) + ++uniq_counter * 104729u +
			    (unsigned long)i * 31u;
			char nm[8];
			int k;
			for (k = 0; k < 4; k++) {
				nm[k] = al[v % 62];
				v /= 62;
			}
			nm[4] = '\0';
			s = xasprintf("%s%s", prefix, nm);
		} else {
			struct timeval tv;
			char *h = hostname_safe();
			gettimeofday(&tv, NULL);
			s = xasprintf("%ld.M%ldP%ldQ%lu.%s", (long)tv.tv_sec,
			    (long)tv.tv_usec, (long)getpid(), ++uniq_counter, h);
			free(h);
		}
		p = xasprintf("%s/%s", dir, s);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, 0666);
		if (fd >= 0) {
			*path_r = p;
			*short_r = s;
			return fd;
		}
		free(p);
		free(s);
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Put an already written file (src) into folder name as a hard link. */
static int
link_into(const char *src, const char *name, const char *prefix,
    char **shown_r)
{
	char *dir, *path, *s;
	enum ftype t = rc_folder_type(name, &dir);
	int fd, rc = -1, i;

	*shown_r = NULL;
	if (t == FT_FILE) {
		free(dir);
		return -1;
	}
	if (mkdir_p(dir) < 0) {
		free(dir);
		return -1;
	}
	if (t == FT_MAILDIR) {
		char *sub[] = { "tmp", "new", "cur" };
		char *base = strrchr(src, '/');
		for (i = 0; i < 3; i++) {
			char *d = xasprintf("%s/%s", dir, sub[i]);
			mkdir(d, 0777);
			free(d);
		}
		path = xasprintf("%s/new/%s", dir, base != NULL ? base + 1 : src);
		if (link(src, path) == 0) {
			*shown_r = xasprintf("%s/new/%s", dir, base != NULL ? base + 1 : src);
			rc = 0;
		}
		free(path);
		free(dir);
		return rc;
	}
	for (i = 0; i < 100; i++) {
		fd = create_in(t, dir, prefix, &path, &s);
		if (fd < 0)
			break;
		close(fd);
		unlink(path);
		if (link(src, path) == 0) {
			*shown_r = xasprintf("%s/%s", dir, s);
			rc = 0;
		}
		free(path);
		free(s);
		if (rc == 0 || errno != EEXIST)
			break;
	}
	free(dir);
	return rc;
}

int
rc_deliver(const char *const *names, size_t n, const char *data, size_t len,
    int tail_nl, int raw, const char *msgprefix, char **shown_r,
    char **error_r)
{
	char *dir = NULL, *path = NULL, *s = NULL;
	enum ftype t;
	struct buf shown;
	size_t i;
	int fd;

	*shown_r = NULL;
	*error_r = NULL;
	if (n == 0) {
		*error_r = xstrdup("no folder name");
		return -1;
	}
	t = rc_folder_type(names[0], &dir);
	buf_init(&shown, BUF_UNLIMITED);
	if (t == FT_FILE) {
		free(dir);
		if (deliver_mbox(names[0], data, len, raw, error_r) < 0)
			return -1;
		*shown_r = xstrdup(names[0]);
		return 0;
	}
	if (mkdir_p(dir) < 0) {
		*error_r = xasprintf("Couldn't create \"%s\": %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	if (t == FT_MAILDIR) {
		const char *sub[] = { "tmp", "new", "cur" };
		char *tmpd;
		/* Maildir: no From_ line, no trailing separator newline */
		if (len >= 5 && memcmp(data, "From ", 5) == 0) {
			const char *nl = memchr(data, '\n', len);
			size_t skip = nl != NULL ? (size_t)(nl - data) + 1 : len;
			data += skip;
			len -= skip;
		}
		if (tail_nl && len > 0 && data[len - 1] == '\n')
			len--;
		for (i = 0; i < 3; i++) {
			char *d = xasprintf("%s/%s", dir, sub[i]);
			if (mkdir(d, 0777) < 0 && errno != EEXIST) {
				*error_r = xasprintf("Couldn't create \"%s\"", d);
				free(d);
				free(dir);
				return -1;
			}
			free(d);
		}
		tmpd = xasprintf("%s/tmp", dir);
		fd = create_in(FT_MAILDIR, tmpd, msgprefix, &path, &s);
		free(tmpd);
	} else
		fd = create_in(t, dir, msgprefix, &path, &s);
	if (fd < 0) {
		*error_r = xasprintf("Couldn't create a file in \"%s\"", dir);
		free(dir);
		return -1;
	}
	if (fd_write_all(fd, data, len) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		*error_r = xasprintf("Error while writing to \"%s\"", path);
		unlink(path);
		free(path);
		free(s);
		free(dir);
		return -1;
	}
	if (t == FT_MAILDIR) {
		char *np = xasprintf("%s/new/%s", dir, s);
		char *nd = xasprintf("%s/new", dir);
		if (rename(path, np) < 0) {
			*error_r = xasprintf("Couldn't rename into \"%s\"", np);
			unlink(path);
			free(np), free(nd), free(path), free(s), free(dir);
			return -1;
		}
		fsync_dir(nd);
		free(nd);
		free(path);
		path = np;
		buf_printf(&shown, "%s/new/%s", dir, s);
	} else {
		fsync_dir(dir);
		buf_printf(&shown, "%s/%s", dir, s);
	}
	for (i = 1; i < n; i++) {
		char *sh;
		if (link_into(path, names[i], msgprefix, &sh) == 0) {
			buf_printf(&shown, " %s", sh);
			free(sh);
		}
	}
	free(path);
	free(s);
	free(dir);
	*shown_r = buf_steal(&shown);
	return 0;
}
