/*
 * queue_file.c - queue file writer and reader.  Files are written by
 * Tempest itself, but the reader still treats them as untrusted (a crash
 * can leave any prefix, a disk can return garbage): every length is
 * checked against the file size and every record against its type.
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY        /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"

#define QW_BUFSIZE (64 * 1024)
#define QF_ENVELOPE_MAX (8 * 1024 * 1024)

static const char *queue_subdirs[] = {
	QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD,
	QUEUE_CORRUPT, QUEUE_MAILDROP, QUEUE_SPARE, "defer", "private",
	"public", "pid",
};

int
queue_mkdirs(const char *qdir, char **error_r)
{
	size_t i;

	if (mkdir(qdir, 0755) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", qdir, strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(queue_subdirs) / sizeof(queue_subdirs[0]); i++) {
		char *p = xasprintf("%s/%s", qdir, queue_subdirs[i]);
		mode_t mode = strcmp(queue_subdirs[i], QUEUE_MAILDROP) == 0 ?
		    01733 : strcmp(queue_subdirs[i], "public") == 0 ? 0710 : 0700;
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			*error_r = xasprintf("mkdir %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		free(p);
	}
	return 0;
}

void
queue_new_id(char id[QUEUE_ID_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	static unsigned long long state;
	struct timeval tv;
	unsigned long v;
	int i;

	gettimeofday(&tv, NULL);
	if (state == 0) {
		unsigned char r[8];
		/* seeded once per process; uniqueness comes from O_EXCL */
		if (getrandom(r, sizeof(r), 0) == (ssize_t)sizeof(r))
			memcpy(&state, r, sizeof(state));
		state ^= ((unsigned long long)getpid() << 32) ^
		    (unsigned long long)tv.tv_usec;
		state |= 1;
	}
	state ^= state << 13;   /* xorshift64 */
	state ^= state >> 7;
	state ^= state << 17;
	/* 6 digits of seconds, 5 of microseconds, 1 random: sortable-ish */
	v = (unsigned long)tv.tv_sec & 0xffffff;
	for (i = 5; i >= 0; i--, v >>= 4)
		id[i] = hex[v & 0xf];
	v = (unsigned long)tv.tv_usec & 0xfffff;
	for (i = 10; i >= 6; i--, v >>= 4)
		id[i] = hex[v & 0xf];
	id[11] = hex[(state >> 29) & 0xf];
	id[QUEUE_ID_LEN] = '\0';
}

int
queue_valid_id(const char *id)
{
	size_t i;

	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F')))
			return 0;
	return id[QUEUE_ID_LEN] == '\0';
}

int
queue_fsync_dir(const char *qdir, const char *queue)
{
	char *p = xasprintf("%s/%s", qdir, queue);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = -1;

	free(p);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* ---- writer ---- */

struct qwriter {
	char id[QUEUE_ID_LEN + 1];
	char *path;
	int fd;
	struct buf out;         /* pending bytes (flushed at QW_BUFSIZE) */
	off_t written;          /* bytes already in the file */
	off_t len_off;          /* offset of the M record's length digits */
	off_t old_size;         /* size of a reused spare file, else 0 */
	int entry_durable;      /* from the pool: its name is durable */
	size_t content_len;
	int error;              /* errno of the first write failure */
	XXH64_state_t hash;     /* XXH64 of every byte before the X record */
};

/* A large message: start the writeback of what is written so far while
 * the rest arrives, so the fsync at the end has little left to write
 * (a hint only; durability still comes from that fsync). */
static void
qw_writeback(struct qwriter *w, off_t from, off_t len)
{
	if (len >= QW_BUFSIZE / 2 && !w->error)
		(void)sync_file_range(w->fd, from, len, SYNC_FILE_RANGE_WRITE);
}

static void
qw_flush(struct qwriter *w)
{
	size_t done = 0;
	off_t from = w->written;

	while (done < w->out.len && !w->error) {
		ssize_t n = write(w->fd, w->out.data + done, w->out.len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->error = errno;
			break;
		}
		done += (size_t)n;
	}
	w->written += (off_t)done;
	buf_reset(&w->out);
	qw_writeback(w, from, (off_t)done);
}

static void
qw_put_raw(struct qwriter *w, const void *p, size_t n)
{
	if (w->out.len + n > QW_BUFSIZE)
		qw_flush(w);
	if (n > QW_BUFSIZE) {
		/* large block: write through */
		size_t done = 0;
		while (done < n && !w->error) {
			ssize_t r = write(w->fd, (const char *)p + done, n - done);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				w->error = errno;
				break;
			}
			done += (size_t)r;
		}
		w->written += (off_t)done;
		qw_writeback(w, w->written - (off_t)done, (off_t)done);
		return;
	}
	if (buf_append(&w->out, p, n) < 0)
		panic("queue writer buffer");
}

/* Bytes before the X record: they go into its checksum too. */
static void
qw_put(struct qwriter *w, const void *p, size_t n)
{
	(void)XXH64_update(&w->hash, p, n);
	qw_put_raw(w, p, n);
}

/* Names in spare/ this process may try to take, read in batches. */
#define SPARE_BATCH 64
static char *spare_names[SPARE_BATCH];
static size_t spare_n, spare_i;
static struct timespec spare_empty_mtime;     /* of spare/ found empty */
static int spare_known_empty;
static int spare_disabled;

static void
spare_refill(const char *qdir)
{
	char *dir;
	DIR *d;
	struct dirent *e;
	struct stat st;
	int reverse = getpid() & 1;     /* two writers: different ends */

	while (spare_i < spare_n)
		free(spare_names[spare_i++]);
	spare_n = spare_i = 0;
	dir = xasprintf("%s/%s", qdir, QUEUE_SPARE);
	/* an empty spare/ is read again only once it changed */
	if (stat(dir, &st) < 0 || (spare_known_empty &&
	    st.st_mtim.tv_sec == spare_empty_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == spare_empty_mtime.tv_nsec)) {
		free(dir);
		return;
	}
	d = opendir(dir);
	free(dir);
	if (d != NULL) {
		while (spare_n < SPARE_BATCH && (e = readdir(d)) != NULL)
			if (queue_valid_id(e->d_name))
				spare_names[spare_n++] = xstrdup(e->d_name);
		closedir(d);
	}
	if (reverse && spare_n > 1) {
		size_t i;
		for (i = 0; i < spare_n / 2; i++) {
			char *t = spare_names[i];
			spare_names[i] = spare_names[spare_n - 1 - i];
			spare_names[spare_n - 1 - i] = t;
		}
	}
	spare_known_empty = spare_n == 0;
	spare_empty_mtime = st.st_mtim;
}

/*
 * A claimed queue file: its name incoming/<id>, mode 0600, and an open
 * descriptor holding flock(LOCK_EX) on it.  The lock tells a sweeper
 * (queue_sweep_incoming) that a live writer owns the file; it is taken
 * right after the name appears, and the name is checked again under the
 * lock, because a sweeper removes a file only while holding that lock.
 */
struct qslot {
	char id[QUEUE_ID_LEN + 1];
	int fd;
	off_t old_size;         /* a reused spare file's size, else 0 */
	int from_spare;
};

/* Lock fd (named path) as its writer: 0, or -1 (the file is not ours to
 * use: a sweeper holds it or removed it, or it has a second name). */
static int
slot_lock(const char *path, int fd, struct stat *st)
{
	struct stat pst;

	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    stat(path, &pst) < 0 || pst.st_ino != st->st_ino ||
	    pst.st_dev != st->st_dev)
		return -1;
	/* another name of the same inode (a stale spare/ or queue name
	 * back after a power failure): never overwrite it */
	return st->st_nlink == 1 ? 0 : -2;
}

/*
 * Take a spare file as incoming/<new id>: the rename claims it (another
 * writer taking the same name gets ENOENT), RENAME_NOREPLACE keeps the
 * id unique as O_EXCL does for a new file.  Spare files are mode 0600
 * (qmgr sets it before moving them), so the old content is never taken
 * for a finished message, neither by qmgr's scans nor at start-up.
 * 0, or -1 when there is none (the caller creates a file).
 */
static int
spare_take(const char *qdir, struct qslot *s)
{
	while (!spare_disabled) {
		char *src, *name, *path = NULL;
		struct stat st;
		int tries, r = -1, lk = -1;

		if (spare_i >= spare_n) {
			spare_refill(qdir);
			if (spare_n == 0)
				return -1;
		}
		name = spare_names[spare_i++];
		src = xasprintf("%s/%s/%s", qdir, QUEUE_SPARE, name);
		free(name);
		for (tries = 0; tries < 20; tries++) {
			queue_new_id(s->id);
			free(path);
			path = xasprintf("%s/%s/%s", qdir, QUEUE_INCOMING,
			    s->id);
			r = renameat2(AT_FDCWD, src, AT_FDCWD, path,
			    RENAME_NOREPLACE);
			if (r == 0 || errno != EEXIST)
				break;
		}
		free(src);
		if (r < 0) {
			if (errno == EINVAL || errno == ENOSYS)
				spare_disabled = 1;     /* no RENAME_NOREPLACE */
			free(path);
			continue;       /* ENOENT: taken by another writer */
		}
		s->fd = open(path, O_WRONLY | O_CLOEXEC);
		if (s->fd >= 0 && (lk = slot_lock(path, s->fd, &st)) == 0 &&
		    ((st.st_mode & 0777) == QUEUE_MODE_WRITING ||
		    fchmod(s->fd, QUEUE_MODE_WRITING) == 0)) {
			s->old_size = st.st_size;
			s->from_spare = 1;
			free(path);
			return 0;
		}
		/* not usable: drop our name (a second name of a queue file
		 * keeps that file; a sweeper's file is the sweeper's) */
		if (s->fd >= 0 && lk != -1)
			(void)unlink(path);
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		free(path);
	}
	return -1;
}

/* Claim a file in incoming/: a spare one, else a new one.  0, or -1 with
 * errno and *path_r (the last name tried) for the message. */
static int
slot_claim(const char *qdir, struct qslot *s, char **path_r)
{
	int tries;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	*path_r = NULL;
	if (spare_take(qdir, s) == 0)
		return 0;
	for (tries = 0; tries < 20; tries++) {
		struct stat st;
		queue_new_id(s->id);
		free(*path_r);
		*path_r = xasprintf("%s/%s/%s", qdir, QUEUE_INCOMING, s->id);
		s->fd = open(*path_r, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    QUEUE_MODE_WRITING);
		if (s->fd < 0) {
			if (errno != EEXIST)
				return -1;
			continue;
		}
		if (slot_lock(*path_r, s->fd, &st) == 0)
			return 0;
		/* a sweeper was faster (we cannot tell it from a file
		 * made by another): leave the name, try another */
		close(s->fd);
		s->fd = -1;
		errno = EEXIST;
	}
	return -1;
}

/* Give a claimed, unused file back: to spare/ (still locked, so no
 * sweeper races the rename), else removed. */
static void
slot_return(const char *qdir, struct qslot *s)
{
	char *src = xasprintf("%s/%s/%s", qdir, QUEUE_INCOMING, s->id);
	char *dst = xasprintf("%s/%s/%s", qdir, QUEUE_SPARE, s->id);

	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) < 0)
		(void)unlink(src);
	free(src);
	free(dst);
	close(s->fd);
	s->fd = -1;
}

/*
 * The reservation pool (queue_file.h): files claimed in incoming/ ahead
 * of time whose directory entries one fsync of incoming/ has made
 * durable, so a message written into one needs only its own fsync.
 *
 * Threads: the ring (pool, pool_head, pool_n) is guarded by pool_mutex;
 * claiming (slot_claim, the spare/ name cache, the directory fsyncs) by
 * claim_mutex, never held together with pool_mutex.  A background refill
 * (qwriter_pool_refill_due/_bg, run by queue_commit's worker thread)
 * claims outside pool_mutex and adds its files to the ring only once
 * their names are durable.
 */
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t claim_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct qslot *pool;
static size_t pool_head, pool_n, pool_k;
static size_t pool_cap;         /* ring size: k and the low-water mark */
static char *pool_qdir;
static int pool_foreign;        /* a forked child: the files are its parent's */
static unsigned long pool_refills;
static int pool_bg_busy;        /* a background refill is running */
static pthread_t pool_bg_thread;   /* ... on this thread */
static size_t pool_bg_want;     /* files it claims */

static void
pool_release_atexit(void)
{
	qwriter_pool_release();
}

static void
pool_atfork_prepare(void)
{
	pthread_mutex_lock(&claim_mutex);
	pthread_mutex_lock(&pool_mutex);
}

static void
pool_atfork_parent(void)
{
	pthread_mutex_unlock(&pool_mutex);
	pthread_mutex_unlock(&claim_mutex);
}

static void
pool_atfork_child(void)
{
	/* no worker thread here: a refill the parent runs is not ours */
	if (pool_n > 0 || pool_bg_busy)
		pool_foreign = 1;
	pool_bg_busy = 0;
	pthread_mutex_unlock(&pool_mutex);
	pthread_mutex_unlock(&claim_mutex);
}

void
qwriter_pool_init(const char *qdir, size_t k)
{
	if (pool_qdir == NULL) {
		atexit(pool_release_atexit);
		(void)pthread_atfork(pool_atfork_prepare, pool_atfork_parent,
		    pool_atfork_child);
	}
	qwriter_pool_release();
	pthread_mutex_lock(&pool_mutex);
	free(pool_qdir);
	pool_qdir = xstrdup(qdir);
	pool_k = k;
	/* a background refill claims k more while up to k/4 are left */
	pool_cap = k + k / 4 + 1;
	pool = xreallocarray(pool, pool_cap, sizeof(*pool));
	pool_head = pool_n = 0;
	pool_refills = 0;
	pthread_mutex_unlock(&pool_mutex);
}

void
qwriter_pool_release(void)
{
	/* a forked child's exit leaves its parent's files alone */
	if (pool_qdir == NULL || pool_foreign)
		return;
	pthread_mutex_lock(&pool_mutex);
	/* (not when the refill itself ends the process: a fatal() there) */
	while (pool_bg_busy && !pthread_equal(pool_bg_thread, pthread_self()))
		pthread_cond_wait(&pool_cond, &pool_mutex);
	while (pool_n > 0) {
		slot_return(pool_qdir, &pool[pool_head]);
		pool_head = (pool_head + 1) % pool_cap;
		pool_n--;
	}
	pool_head = 0;
	pthread_mutex_unlock(&pool_mutex);
}

size_t
qwriter_pool_size(unsigned long *refills_r)
{
	size_t n;

	pthread_mutex_lock(&pool_mutex);
	if (refills_r != NULL)
		*refills_r = pool_refills;
	n = pool_n;
	pthread_mutex_unlock(&pool_mutex);
	return n;
}

/* fsync a queue subdirectory of the pool's queue: 0 or -1.  Under
 * claim_mutex. */
static int
pool_sync_dir(const char *queue)
{
	static int fds[2] = { -1, -1 };
	int i = strcmp(queue, QUEUE_SPARE) == 0;

	if (fds[i] < 0) {
		char *p = xasprintf("%s/%s", pool_qdir, queue);
		fds[i] = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(p);
		if (fds[i] < 0)
			return -1;
	}
	return fsync(fds[i]);
}

/*
 * Claim up to want files into v, then ONE fsync of incoming/ makes all
 * their names durable, and one of spare/ the removal of the spare names
 * they had (so no old spare/ name can come back after a power failure
 * as a second name of a file that by then holds an acknowledged
 * message).  The number claimed (0: none, or the fsyncs failed and the
 * files went back).
 */
static size_t
pool_claim_batch(struct qslot *v, size_t want)
{
	size_t n = 0, i;
	int spare = 0;

	pthread_mutex_lock(&claim_mutex);
	while (n < want) {
		char *path;
		int r = slot_claim(pool_qdir, &v[n], &path);
		free(path);
		if (r < 0)
			break;
		spare |= v[n].from_spare;
		n++;
	}
	if (n > 0 && (pool_sync_dir(QUEUE_INCOMING) < 0 ||
	    (spare && pool_sync_dir(QUEUE_SPARE) < 0))) {
		log_warn("queue reservation: fsync: %s", strerror(errno));
		for (i = 0; i < n; i++)
			slot_return(pool_qdir, &v[i]);
		n = 0;
	}
	pthread_mutex_unlock(&claim_mutex);
	return n;
}

/* Add n durable files to the ring (room for them is known).  Under
 * pool_mutex. */
static void
pool_add(const struct qslot *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pool[(pool_head + pool_n++) % pool_cap] = v[i];
	if (n > 0)
		pool_refills++;
}

/* The next reserved file (its entry durable): 0, or -1.  An empty pool
 * is refilled here (after a background refill in progress, if any). */
static int
pool_take(const char *qdir, struct qslot *s)
{
	int r = -1;

	if (pool_qdir == NULL || pool_k == 0 || strcmp(qdir, pool_qdir) != 0)
		return -1;
	pthread_mutex_lock(&pool_mutex);
	if (pool_n > 0 && pool_foreign)
		goto out;       /* a forked child: the files are its parent's */
	while (pool_n == 0 && pool_bg_busy)
		pthread_cond_wait(&pool_cond, &pool_mutex);
	if (pool_n == 0) {
		struct qslot *v = xcalloc(pool_k, sizeof(*v));
		size_t n;
		/* nobody else fills the pool meanwhile: no background
		 * refill runs, and only this thread starts one */
		pthread_mutex_unlock(&pool_mutex);
		n = pool_claim_batch(v, pool_k);
		pthread_mutex_lock(&pool_mutex);
		pool_foreign = 0;
		pool_head = 0;
		pool_add(v, n);
		free(v);
		if (pool_n == 0)
			goto out;
	}
	*s = pool[pool_head];
	pool_head = (pool_head + 1) % pool_cap;
	pool_n--;
	r = 0;
out:
	pthread_mutex_unlock(&pool_mutex);
	return r;
}

int
qwriter_pool_refill_due(void)
{
	int due;

	if (pool_qdir == NULL || pool_k == 0)
		return 0;
	pthread_mutex_lock(&pool_mutex);
	due = !pool_foreign && !pool_bg_busy && pool_refills > 0 &&
	    pool_n <= pool_k / 4;
	if (due) {
		pool_bg_busy = 1;
		pool_bg_want = pool_k;  /* as many as an empty pool gets */
	}
	pthread_mutex_unlock(&pool_mutex);
	return due;
}

void
qwriter_pool_refill_bg(void)
{
	struct qslot *v;
	size_t n, want;

	pthread_mutex_lock(&pool_mutex);
	want = pool_bg_want;
	pool_bg_thread = pthread_self();
	pthread_mutex_unlock(&pool_mutex);
	v = xcalloc(want > 0 ? want : 1, sizeof(*v));
	n = pool_claim_batch(v, want);
	pthread_mutex_lock(&pool_mutex);
	/* pool_n <= k/4 when want was set and only fell since: the ring
	 * (k + k/4 + 1) has room */
	pool_add(v, n);
	pool_bg_busy = 0;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_mutex);
	free(v);
}

struct qwriter *
qwriter_create(const char *qdir, char **error_r)
{
	struct qwriter *w = xcalloc(1, sizeof(*w));
	struct qslot s;

	if (pool_take(qdir, &s) == 0) {
		w->entry_durable = 1;
	} else {
		char *path = NULL;
		int r;
		pthread_mutex_lock(&claim_mutex);
		r = slot_claim(qdir, &s, &path);
		pthread_mutex_unlock(&claim_mutex);
		if (r < 0) {
			*error_r = xasprintf("create %s: %s", path ? path :
			    qdir, strerror(errno));
			free(path);
			free(w);
			return NULL;
		}
		free(path);
	}
	memcpy(w->id, s.id, sizeof(w->id));
	w->fd = s.fd;
	w->old_size = s.old_size;
	w->path = xasprintf("%s/%s/%s", qdir, QUEUE_INCOMING, w->id);
	buf_init(&w->out, QW_BUFSIZE * 2);
	(void)XXH64_reset(&w->hash, 0);
	qw_put(w, QUEUE_FILE_MAGIC, strlen(QUEUE_FILE_MAGIC));
	{
		/* now, not when the file was reserved: the arrival time */
		struct timeval tv;
		char t[32];
		gettimeofday(&tv, NULL);
		snprintf(t, sizeof(t), "%lld",
		    (long long)tv.tv_sec * 1000000 + tv.tv_usec);
		qwriter_record(w, 'T', t, strlen(t));
	}
	/* the file's own id: a stale name left by a crash for a reused
	 * file no longer matches (qfile_open refuses it) */
	qwriter_record(w, 'I', w->id, strlen(w->id));
	return w;
}

int
qwriter_entry_durable(const struct qwriter *w)
{
	return w->entry_durable;
}

const char *
qwriter_id(const struct qwriter *w)
{
	return w->id;
}

const char *
qwriter_path(const struct qwriter *w)
{
	return w->path;
}

void
qwriter_record(struct qwriter *w, char type, const char *data, size_t len)
{
	char h[32];
	int n = snprintf(h, sizeof(h), "%c%zu:", type, len);

	qw_put(w, h, (size_t)n);
	qw_put(w, data, len);
	qw_put(w, "\n", 1);
}

void
qwriter_begin_content(struct qwriter *w)
{
	char h[32];

	w->len_off = w->written + (off_t)w->out.len + 1;
	snprintf(h, sizeof(h), "M%020d:", 0);
	qw_put(w, h, strlen(h));
}

void
qwriter_content(struct qwriter *w, const void *p, size_t n)
{
	qw_put(w, p, n);
	w->content_len += n;
}

size_t
qwriter_content_len(const struct qwriter *w)
{
	return w->content_len;
}

int
qwriter_flush_content(struct qwriter *w, off_t *off_r)
{
	qw_flush(w);
	*off_r = w->len_off + 21;       /* 20 length digits and ':' */
	return w->error ? -1 : 0;
}

int
qwriter_take_fd(struct qwriter *w)
{
	int fd = w->fd;

	w->fd = -1;
	return fd;
}

int
qwriter_finish(struct qwriter *w, int sync, char **error_r)
{
	char digits[32], x[32];
	off_t end;

	qw_put(w, "\n", 1);
	/* the checksum covers everything before X, the M length digits
	 * counted as the zeros written first (doc/queue-format.md) */
	snprintf(x, sizeof(x), "X16:%016llx\n",
	    (unsigned long long)XXH64_digest(&w->hash));
	qw_put_raw(w, x, strlen(x));
	end = w->written + (off_t)w->out.len;
	if (end > w->old_size) {
		/* the file grows: pad it to whole blocks with written zeros,
		 * so that once recycled, a message of up to that size
		 * overwrites blocks already allocated and on disk */
		static const char zeros[QUEUE_FILE_BLOCK];
		size_t pad = (size_t)(-end & (QUEUE_FILE_BLOCK - 1));
		if (pad > 0)
			qw_put_raw(w, zeros, pad);
	}
	/* else it ends within a reused file's old size: no size change and
	 * no new block, so fdatasync needs no inode write (no journal
	 * commit); the rest of the old content stays behind X, never read */
	snprintf(digits, sizeof(digits), "%020zu", w->content_len);
	if (w->len_off >= w->written &&
	    (size_t)(w->len_off - w->written) + 20 <= w->out.len) {
		/* still buffered (a small message): no pwrite afterwards */
		memcpy(w->out.data + (w->len_off - w->written), digits, 20);
		qw_flush(w);
	} else {
		qw_flush(w);
		if (!w->error && pwrite(w->fd, digits, 20, w->len_off) != 20)
			w->error = errno ? errno : EIO;
	}
	if (!w->error && fchmod(w->fd, QUEUE_MODE_COMPLETE) < 0)
		w->error = errno;
	/* fdatasync: the data and what reading it back needs (size, block
	 * map); the mode is not needed, the X record's checksum is the
	 * completion mark after a power failure (queue_incoming_check) */
	if (sync && !w->error && fdatasync(w->fd) < 0)
		w->error = errno;
	if (w->error) {
		*error_r = xasprintf("queue file write error: %s",
		    strerror(w->error));
		return -1;
	}
	if (sync) {
		close(w->fd);
		w->fd = -1;
	}
	return 0;
}

void
qwriter_free(struct qwriter **wp)
{
	struct qwriter *w = *wp;

	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	buf_free(&w->out);
	free(w->path);
	FREE(*wp);
}

void
qwriter_abort(struct qwriter **wp)
{
	if (*wp == NULL)
		return;
	if ((*wp)->fd >= 0)
		unlink((*wp)->path);
	qwriter_free(wp);
}

/* ---- sweeping unfinished files ---- */

/* Unchanged for min_age seconds; min_age 0: any age (a file's ctime can
 * be a second ahead of time(): fine-grained inode times, coarse clock). */
static int
old_enough(const struct stat *st, time_t min_age)
{
	return min_age <= 0 || st->st_ctime + min_age <= time(NULL);
}

int
queue_sweep_file(const char *path, time_t min_age)
{
	struct stat st, pst;
	int fd, removed = 0;

	/* a cheap first look: finished, young (a writer's hot reserved
	 * file) and foreign files are not even opened */
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 0777) != QUEUE_MODE_WRITING || !old_enough(&st, min_age))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0777) == QUEUE_MODE_WRITING && old_enough(&st, min_age) &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    /* under the lock: still unfinished, still this name */
	    fstat(fd, &st) == 0 && (st.st_mode & 0777) == QUEUE_MODE_WRITING &&
	    stat(path, &pst) == 0 && pst.st_ino == st.st_ino &&
	    pst.st_dev == st.st_dev && unlink(path) == 0)
		removed = 1;
	close(fd);
	return removed;
}

int
queue_sweep_incoming(const char *qdir, time_t min_age)
{
	char *dir = xasprintf("%s/%s", qdir, QUEUE_INCOMING);
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			char *p;
			if (!queue_valid_id(e->d_name))
				continue;
			p = xasprintf("%s/%s", dir, e->d_name);
			if (queue_sweep_file(p, min_age)) {
				log_info("%s: removed unfinished queue file of "
				    "a writer that is gone (never acknowledged)",
				    e->d_name);
				n++;
			}
			free(p);
		}
		closedir(d);
	}
	free(dir);
	return n;
}

/* ---- reader ---- */

static void
qf_add_rcpt(struct qfile *qf, char *data, off_t off, int done)
{
	char *f[3] = { data, NULL, NULL };
	char *t;
	struct qrcpt *r;

	if ((t = strchr(data, '\t')) != NULL) {
		*t++ = '\0';
		f[1] = t;
		if ((t = strchr(t, '\t')) != NULL) {
			*t++ = '\0';
			f[2] = t;
		}
	}
	qf->rcpts = xreallocarray(qf->rcpts, qf->nrcpt + 1, sizeof(*qf->rcpts));
	r = &qf->rcpts[qf->nrcpt++];
	r->addr = xstrdup(f[0]);
	r->orcpt = xstrdup(f[1] ? f[1] : "");
	r->notify = f[2] ? atoi(f[2]) : 0;
	r->offset = off;
	r->done = done;
}

/* A small buffered reader over pread: no stdio (no dup, fcntl, lseek),
 * and skipping the content is only arithmetic. */
struct qreader {
	int fd;
	off_t pos;              /* file offset of the next byte (buf[off]) */
	size_t off, len;
	char buf[8192];
};

int
qfile_read_range(int fd, off_t off, size_t len,
    int (*fn)(const char *data, size_t n, void *arg), void *arg)
{
	char chunk[65536];
	size_t done = 0;

	while (done < len) {
		size_t want = len - done < sizeof(chunk) ? len - done :
		    sizeof(chunk);
		ssize_t k;
		int r;

		do
			k = pread(fd, chunk, want, off + (off_t)done);
		while (k < 0 && errno == EINTR);
		if (k == 0)
			errno = EIO;    /* shorter than the range */
		if (k <= 0)
			return -1;
		if ((r = fn(chunk, (size_t)k, arg)) != 0)
			return r;
		done += (size_t)k;
	}
	return 0;
}

/* pread at the reader's position (not moving it): bytes read, <= 0 at
 * the end or on error. */
static ssize_t
qr_pread(const struct qreader *r, char *dst, size_t n)
{
	ssize_t k;

	do
		k = pread(r->fd, dst, n, r->pos);
	while (k < 0 && errno == EINTR);
	return k;
}

/* Refill the empty buffer: 0, or -1 at the end or on error. */
static int
qr_fill(struct qreader *r)
{
	ssize_t k = qr_pread(r, r->buf, sizeof(r->buf));

	r->off = 0;
	r->len = k > 0 ? (size_t)k : 0;
	return k > 0 ? 0 : -1;
}

static int
qr_getc(struct qreader *r)
{
	if (r->off == r->len && qr_fill(r) < 0)
		return EOF;
	r->pos++;
	return (unsigned char)r->buf[r->off++];
}

static size_t
qr_read(struct qreader *r, char *dst, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t avail = r->len - r->off;
		if (avail == 0) {
			if (n - done >= sizeof(r->buf)) {
				/* large: straight into dst */
				ssize_t k = qr_pread(r, dst + done, n - done);
				if (k <= 0)
					break;
				done += (size_t)k;
				r->pos += k;
				continue;
			}
			if (qr_fill(r) < 0)
				break;
			avail = r->len;
		}
		if (avail > n - done)
			avail = n - done;
		memcpy(dst + done, r->buf + r->off, avail);
		r->off += avail;
		r->pos += (off_t)avail;
		done += avail;
	}
	return done;
}

static void
qr_skip(struct qreader *r, off_t n)
{
	size_t avail = r->len - r->off;

	if ((off_t)avail >= n) {
		r->off += (size_t)n;
	} else {
		r->off = r->len = 0;
	}
	r->pos += n;
}

int
qfile_open(const char *path, int flags, struct qfile *qf, char **error_r)
{
	int rw = flags & QF_RW, any_name = flags & QF_ANY_NAME;
	struct stat st;
	char *data = NULL;
	off_t size, pos;
	int nattr = 0, ok = 0, stale = 0;
	struct qreader *rd;
	char magic[sizeof(QUEUE_FILE_MAGIC)];

	memset(qf, 0, sizeof(*qf));
	qf->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (qf->fd < 0) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	qf->path = xstrdup(path);
	{
		const char *slash = strrchr(path, '/');
		snprintf(qf->id, sizeof(qf->id), "%s", slash ? slash + 1 : path);
	}
	qf->sender = xstrdup("");
	qf->envid = xstrdup("");
	qf->attrs = xcalloc(1, sizeof(char *));
	if (fstat(qf->fd, &st) < 0 ||
	    (!any_name && (st.st_mode & 0777) != QUEUE_MODE_COMPLETE)) {
		*error_r = xasprintf("%s: incomplete queue file", qf->id);
		goto fail;
	}
	size = st.st_size;
	rd = xmalloc(sizeof(*rd));
	rd->fd = qf->fd;
	rd->pos = 0;
	rd->off = rd->len = 0;
	if (qr_read(rd, magic, strlen(QUEUE_FILE_MAGIC)) !=
	    strlen(QUEUE_FILE_MAGIC) ||
	    memcmp(magic, QUEUE_FILE_MAGIC, strlen(QUEUE_FILE_MAGIC)) != 0) {
		*error_r = xasprintf("%s: bad queue file header", qf->id);
		free(rd);
		goto fail;
	}
	pos = (off_t)strlen(QUEUE_FILE_MAGIC);
	for (;;) {
		int type = qr_getc(rd), c;
		unsigned long long len = 0;
		int digits = 0;
		off_t rec = pos;

		if (type == EOF)
			break;
		while ((c = qr_getc(rd)) != EOF && c >= '0' && c <= '9' &&
		    digits < 20) {
			len = len * 10 + (unsigned)(c - '0');
			digits++;
		}
		/* unsigned: a length of 2^63 or more is no negative offset */
		if (c != ':' || digits == 0 ||
		    len > (unsigned long long)(size - pos))
			break;
		pos += 1 + digits + 1;
		if (type == 'M') {
			qf->content_off = pos;
			qf->content_len = (size_t)len;
			qr_skip(rd, (off_t)len);
			pos += (off_t)len;
		} else {
			if (len > QF_ENVELOPE_MAX)
				break;
			data = xrealloc(data, (size_t)len + 1);
			if (len > 0 && qr_read(rd, data, (size_t)len) != len)
				break;
			data[len] = '\0';
			pos += (off_t)len;
			if (memchr(data, '\0', (size_t)len) != NULL)
				break;
			switch (type) {
			case 'T':
				qf->arrival_us = atoll(data);
				break;
			case 'S':
				free(qf->sender);
				qf->sender = xstrdup(data);
				break;
			case 'V':
				free(qf->envid);
				qf->envid = xstrdup(data);
				break;
			case 'Z':
				qf->ret = atoi(data);
				break;
			case 'A':
				qf->attrs = xreallocarray(qf->attrs, nattr + 2,
				    sizeof(char *));
				qf->attrs[nattr++] = xstrdup(data);
				qf->attrs[nattr] = NULL;
				break;
			case 'R':
			case 'D':
				qf_add_rcpt(qf, data, rec, type == 'D');
				break;
			case 'I':
				if (!any_name)
					stale |= strcmp(data, qf->id) != 0;
				else if (queue_valid_id(data))
					snprintf(qf->id, sizeof(qf->id), "%s", data);
				break;
			case 'X':
				ok = 1;
				break;
			default:
				break;  /* unknown records are skipped */
			}
		}
		if (qr_getc(rd) != '\n')
			break;
		pos++;
		if (ok)
			break;
	}
	free(rd);
	free(data);
	if (stale) {
		*error_r = xasprintf("%s: queue file name does not match the "
		    "id inside (a stale name of a reused file)", qf->id);
		goto fail;
	}
	if (!ok || qf->content_off == 0) {
		*error_r = xasprintf("%s: truncated or corrupt queue file", qf->id);
		goto fail;
	}
	return 0;
fail:
	qfile_close(qf);
	return -1;
}

void
qfile_close(struct qfile *qf)
{
	size_t i;

	if (qf->fd >= 0)
		close(qf->fd);
	qf->fd = -1;
	for (i = 0; i < qf->nrcpt; i++) {
		free(qf->rcpts[i].addr);
		free(qf->rcpts[i].orcpt);
	}
	FREE(qf->rcpts);
	qf->nrcpt = 0;
	if (qf->attrs != NULL) {
		for (i = 0; qf->attrs[i] != NULL; i++)
			free(qf->attrs[i]);
		FREE(qf->attrs);
	}
	FREE(qf->sender);
	FREE(qf->envid);
	FREE(qf->path);
}

const char *
qfile_attr(const struct qfile *qf, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; qf->attrs != NULL && qf->attrs[i] != NULL; i++)
		if (strncmp(qf->attrs[i], name, n) == 0 && qf->attrs[i][n] == '=')
			return qf->attrs[i] + n + 1;
	return NULL;
}

int
qfile_mark_done(struct qfile *qf, size_t i)
{
	if (i >= qf->nrcpt)
		return -1;
	if (pwrite(qf->fd, "D", 1, qf->rcpts[i].offset) != 1)
		return -1;
	qf->rcpts[i].done = 1;
	return 0;
}

size_t
qfile_pending(const struct qfile *qf)
{
	size_t i, n = 0;

	for (i = 0; i < qf->nrcpt; i++)
		if (!qf->rcpts[i].done)
			n++;
	return n;
}

/* ---- crash recovery of incoming/ ---- */

/* Largest file queue_file_checksum reads (bigger ones: not checked). */
#define QF_CHECK_MAX ((off_t)1 << 31)

int
queue_file_checksum(int fd, const char *id, size_t *pending_r)
{
	struct stat st;
	char *b;
	size_t size, pos, mlen = strlen(QUEUE_FILE_MAGIC);
	int r = QF_CHECK_NONE, stale = 0;

	if (pending_r != NULL)
		*pending_r = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > QF_CHECK_MAX)
		return QF_CHECK_NONE;
	size = (size_t)st.st_size;
	/* not xmalloc: a huge file must not stop the start-up (the mode
	 * decides for it, as before checksums) */
	if ((b = malloc(size + 1)) == NULL)
		return QF_CHECK_NONE;
	{
		size_t got = 0;
		while (got < size) {
			ssize_t n = pread(fd, b + got, size - got, (off_t)got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		size = got;
	}
	if (size < mlen || memcmp(b, QUEUE_FILE_MAGIC, mlen) != 0)
		goto out;
	pos = mlen;
	while (pos < size) {
		size_t rec = pos, len = 0, digits = 0, dpos;
		char type = b[pos++];

		dpos = pos;
		while (pos < size && b[pos] >= '0' && b[pos] <= '9' &&
		    digits < 20) {
			if (len > (SIZE_MAX - 9) / 10)
				goto bad;
			len = len * 10 + (size_t)(b[pos] - '0');
			pos++;
			digits++;
		}
		if (pos >= size || b[pos] != ':' || digits == 0 ||
		    len > size - pos - 1)
			goto bad;
		pos++;
		if (type == 'X') {
			char hex[17];
			if (len == 0)
				goto out;       /* written before checksums */
			if (len != 16 || pos + 16 >= size || b[pos + 16] != '\n')
				goto bad;
			memcpy(hex, b + pos, 16);
			hex[16] = '\0';
			r = strtoull(hex, NULL, 16) == XXH64(b, rec, 0) &&
			    strspn(hex, "0123456789abcdef") == 16 ? QF_CHECK_OK :
			    QF_CHECK_BAD;
			if (r == QF_CHECK_OK && stale)
				r = QF_CHECK_STALE;
			goto out;
		}
		if (type == 'D')
			b[rec] = 'R';   /* hashed as written: the R before its mark */
		else if (type == 'R' && pending_r != NULL)
			(*pending_r)++;
		if (type == 'M')
			memset(b + dpos, '0', digits);
		if (type == 'I' && (len != strlen(id) ||
		    memcmp(b + pos, id, len) != 0))
			stale = 1;
		pos += len;
		if (pos >= size || b[pos] != '\n')
			goto bad;
		pos++;
	}
bad:
	/* records up to a point, then garbage or the end: torn or cut */
	r = QF_CHECK_BAD;
out:
	free(b);
	return r;
}

int
queue_incoming_check(const char *path, const char *id, const char **why_r)
{
	struct stat st;
	int fd, c, complete;

	*why_r = NULL;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return QUEUE_CHECK_KEEP;        /* not a queue file of ours */
	complete = (st.st_mode & 0777) == QUEUE_MODE_COMPLETE;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return complete ? QUEUE_CHECK_KEEP : QUEUE_CHECK_REMOVE;
	c = queue_file_checksum(fd, id, NULL);
	close(fd);
	switch (c) {
	case QF_CHECK_OK:
		if (!complete) {
			/* written and fdatasync'ed (perhaps acknowledged);
			 * its fchmod(0700) did not reach the disk */
			if (chmod(path, QUEUE_MODE_COMPLETE) < 0)
				return QUEUE_CHECK_KEEP;
			*why_r = "complete (checksum), its mode was lost: kept";
		}
		return QUEUE_CHECK_KEEP;
	case QF_CHECK_BAD:
		/* never acknowledged: an acknowledged file's data was
		 * fdatasync'ed whole; kept for a look if marked complete */
		*why_r = "checksum mismatch (a write cut by a crash, never "
		    "acknowledged)";
		return complete ? QUEUE_CHECK_CORRUPT : QUEUE_CHECK_REMOVE;
	default:
		/* STALE (an old name of a reused file: qmgr refuses it) or
		 * NONE (no checksum): the mode decides, as it always did */
		if (!complete)
			*why_r = "unfinished queue file (never acknowledged)";
		return complete ? QUEUE_CHECK_KEEP : QUEUE_CHECK_REMOVE;
	}
}

void
queue_recover_modes(const char *qdir)
{
	static const char *const queues[] = { QUEUE_ACTIVE, QUEUE_DEFERRED,
	    QUEUE_HOLD };
	size_t q;

	for (q = 0; q < sizeof(queues) / sizeof(queues[0]); q++) {
		char *dir = xasprintf("%s/%s", qdir, queues[q]);
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			struct stat st;
			size_t pending;
			char *p;
			int fd;
			if (!queue_valid_id(e->d_name))
				continue;
			p = xasprintf("%s/%s", dir, e->d_name);
			/* only files not marked complete are read */
			if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) ||
			    (st.st_mode & 0777) == QUEUE_MODE_COMPLETE ||
			    (fd = open(p, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC)) < 0) {
				free(p);
				continue;
			}
			/* in active/ a 0600 file with nothing pending is a
			 * finished one caught on its way to spare/ (qmgr
			 * removes it) */
			if (queue_file_checksum(fd, e->d_name, &pending) ==
			    QF_CHECK_OK && (pending > 0 ||
			    strcmp(queues[q], QUEUE_ACTIVE) != 0) &&
			    chmod(p, QUEUE_MODE_COMPLETE) == 0)
				log_info("%s: complete (checksum) in %s/, its "
				    "mode was lost: 0700 again", e->d_name,
				    queues[q]);
			close(fd);
			free(p);
		}
		if (d != NULL)
			closedir(d);
		free(dir);
	}
}
