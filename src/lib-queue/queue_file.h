/*
 * queue_file.h - the on-disk queue: directories, ids and the queue file
 * format (doc/queue-format.md).
 *
 * A queue file is a sequence of records "<type><length>:<data>\n".  The
 * envelope comes first, then one 'M' record holding the message content
 * (LF line ends; its 20-digit length is filled in when the content is
 * complete), then the end record 'X' with a checksum of everything before
 * it (bytes after X are padding or a reused file's old content, never
 * read).  At run time a file is complete when its mode is 0700 and its
 * records end with 'X'; after a power failure (the commit is an
 * fdatasync, which does not keep the mode) start-up goes by the checksum
 * (queue_incoming_check); anything else was never acknowledged.  Recipients are 'R' records;
 * delivery marks one done by overwriting its type byte with 'D' in place,
 * so a crash never repeats a finished delivery from the queue's side.
 */
#ifndef TEMPEST_QUEUE_FILE_H
#define TEMPEST_QUEUE_FILE_H

#include <sys/types.h>
#include <stddef.h>
#include <time.h>

#define QUEUE_ID_LEN 12
#define QUEUE_FILE_MAGIC "TEMPEST-QUEUE 1\n"
#define QUEUE_MODE_WRITING 0600
#define QUEUE_MODE_COMPLETE 0700

#define QUEUE_INCOMING "incoming"
#define QUEUE_ACTIVE "active"
#define QUEUE_DEFERRED "deferred"
#define QUEUE_HOLD "hold"
#define QUEUE_CORRUPT "corrupt"
#define QUEUE_MAILDROP "maildrop"
/* Finished queue files kept for reuse (mode 0600, never read as mail):
 * qmgr moves a delivered file here instead of unlinking it, and a writer
 * takes one (renamed into incoming/ under its new id, overwritten in
 * place) instead of creating a new inode: no inode allocation and
 * release per message. */
#define QUEUE_SPARE "spare"
/* qmgr keeps at most this many spare files, each at most this large */
#define QUEUE_SPARE_MAX 128
#define QUEUE_SPARE_MAX_SIZE (256 * 1024)

/* Files grow in whole blocks of this size (zeros written after X), so
 * a recycled file takes a message of up to its size without a new block
 * or a size change. */
#define QUEUE_FILE_BLOCK 4096

/* Create every queue subdirectory under qdir (and private/, public/). */
int queue_mkdirs(const char *qdir, char **error_r);
/* A fresh queue id (12 upper-case hex digits). */
void queue_new_id(char id[QUEUE_ID_LEN + 1]);
int queue_valid_id(const char *id);
/* fsync a queue subdirectory: -1 with errno on failure. */
int queue_fsync_dir(const char *qdir, const char *queue);

struct qrcpt {
	char *addr;
	char *orcpt;            /* "rfc822;addr" or "" */
	int notify;             /* DSN_NOTIFY_* bits, 0 = default */
	off_t offset;           /* of the record's type byte */
	int done;
};

struct qfile {
	char id[QUEUE_ID_LEN + 1];
	char *path;
	int fd;
	long long arrival_us;   /* microseconds since the epoch */
	char *sender;
	char *envid;
	int ret;                /* 0, 1 FULL, 2 HDRS */
	char **attrs;           /* "name=value", NULL-terminated */
	struct qrcpt *rcpts;
	size_t nrcpt;
	off_t content_off;
	size_t content_len;
};

/* Open and parse a complete queue file (flags: QF_RW read-write,
 * QF_ANY_NAME for a copy outside the queue: its name and mode are not
 * the queue's, the id is its I record's).  0, or -1 with *error_r: the
 * file is incomplete or corrupt. */
#define QF_RW 1
#define QF_ANY_NAME 2
int qfile_open(const char *path, int flags, struct qfile *qf, char **error_r);
void qfile_close(struct qfile *qf);
const char *qfile_attr(const struct qfile *qf, const char *name);
/* Mark recipient i delivered (or bounced): pwrite of its type byte. */
int qfile_mark_done(struct qfile *qf, size_t i);
/* Number of recipients not yet done. */
size_t qfile_pending(const struct qfile *qf);

/*
 * The X record's checksum (XXH64 of every byte before it, with the M
 * length digits as zeros and D marks as R): for the file open as fd,
 * named id (R records, pending recipients, counted in *pending_r if not
 * NULL), QF_CHECK_OK (complete), _STALE (complete, but its I record
 * names another id: an old name of a reused file), _BAD (torn, cut or
 * garbled) or _NONE (no checksum to check: an end record without one,
 * written by an older version, or not a queue file).
 */
#define QF_CHECK_NONE 0
#define QF_CHECK_OK 1
#define QF_CHECK_STALE 2
#define QF_CHECK_BAD 3
int queue_file_checksum(int fd, const char *id, size_t *pending_r);

/*
 * What start-up does with incoming/ID (nobody writes the queue then):
 * QUEUE_CHECK_KEEP (complete; a file whose checksum is right but whose
 * mode 0700 was lost in a power failure gets its mode back),
 * QUEUE_CHECK_REMOVE (never acknowledged), QUEUE_CHECK_CORRUPT (marked
 * complete but its checksum is wrong: to corrupt/).  *why_r says why,
 * for the log (NULL: nothing to say).  doc/queue-format.md.
 */
#define QUEUE_CHECK_KEEP 0
#define QUEUE_CHECK_REMOVE 1
#define QUEUE_CHECK_CORRUPT 2
int queue_incoming_check(const char *path, const char *id, const char **why_r);
/* At start, after a power failure: a file in active/, deferred/ or hold/
 * that is not 0700 but whose checksum is right gets 0700 back (its
 * fchmod did not reach the disk before its move there), except one in
 * active/ with no recipient pending (a finished file caught on its way
 * to spare/, which qmgr removes).  Only files not 0700 are read. */
void queue_recover_modes(const char *qdir);

/* Streaming writer used by cleanup.  The writer owns its file from
 * qwriter_create on by holding flock(LOCK_EX) on it (until the file is
 * complete and closed, or removed): see queue_sweep_incoming. */
struct qwriter;

/*
 * Reservation pool (doc/queue-format.md, "Reserved files"): from now on
 * this process keeps up to k files claimed ahead of time in
 * qdir/incoming/ (mode 0600, locked, empty or an old spare file's
 * content), whose names one fsync of incoming/ per refill has made
 * durable.  qwriter_create takes the next one (refilling an empty pool
 * first), so committing that message needs only the file's own fsync
 * (qwriter_entry_durable).  At exit (atexit) the files not used go back
 * to spare/.
 */
void qwriter_pool_init(const char *qdir, size_t k);
/* Give the reserved files back now (spare/ or removed). */
void qwriter_pool_release(void);
/* Files reserved now; refills since qwriter_pool_init in *refills_r
 * (may be NULL). */
size_t qwriter_pool_size(unsigned long *refills_r);
/* Background refill, so that a writer seldom waits for one: _due() (on
 * the writer's thread) says whether the pool is down to a quarter and,
 * if so, marks a refill as started; the caller then runs _bg() on
 * another thread (queue_commit's worker), which claims the missing files
 * and adds them once their names are durable.  A writer finding the
 * pool empty waits for that refill, or refills it itself. */
int qwriter_pool_refill_due(void);
void qwriter_pool_refill_bg(void);

struct qwriter *qwriter_create(const char *qdir, char **error_r);
/* 1 when the file's directory entry is already durable (a reserved
 * file): committing it needs no fsync of incoming/. */
int qwriter_entry_durable(const struct qwriter *w);
const char *qwriter_id(const struct qwriter *w);
const char *qwriter_path(const struct qwriter *w);
void qwriter_record(struct qwriter *w, char type, const char *data, size_t len);
void qwriter_begin_content(struct qwriter *w);
void qwriter_content(struct qwriter *w, const void *p, size_t n);
size_t qwriter_content_len(const struct qwriter *w);
/* Write out buffered bytes so the content so far can be read from the
 * file (by a content filter, before qwriter_finish): its offset in the
 * file in *off_r.  0, or -1 after a write error. */
int qwriter_flush_content(struct qwriter *w, off_t *off_r);
/* Complete the file: content length, end record with the checksum, zeros
 * to a block boundary if the file grows, mode 0700.  With sync, also
 * fdatasync and close it; without, the caller takes the descriptor with
 * qwriter_take_fd() and makes it durable (queue_commit).  Either way the
 * directory fsync is the caller's.  0, or -1 with *error_r. */
int qwriter_finish(struct qwriter *w, int sync, char **error_r);
/* The open descriptor of a finished, unsynced file (ownership passes). */
int qwriter_take_fd(struct qwriter *w);
/* Forget a finished writer (the file stays). */
void qwriter_free(struct qwriter **w);
/* Remove an unfinished file. */
void qwriter_abort(struct qwriter **w);

/*
 * Remove unfinished (mode 0600) files of writers that are gone: a file
 * is removed only while this process holds its flock(LOCK_EX) (a live
 * writer holds it from the moment it claims the file) and after checking
 * under that lock that it is still 0600 and still has this name.  Files
 * changed less than min_age seconds ago (min_age > 0) are not even
 * opened (work saved on files being written).  Number removed.  queue_sweep_file: one path,
 * 1 if removed.
 */
int queue_sweep_incoming(const char *qdir, time_t min_age);
int queue_sweep_file(const char *path, time_t min_age);

/*
 * Read bytes [off, off + len) of fd (a queue file's content, usually) in
 * chunks of up to 64 KiB and hand each to fn, which returns 0 to go on or
 * a positive value to stop.  Returns that value, 0 when every byte was
 * handed over, or -1 with errno on a read error or a file shorter than
 * the range (EIO).
 */
int qfile_read_range(int fd, off_t off, size_t len,
    int (*fn)(const char *data, size_t n, void *arg), void *arg);

#endif
