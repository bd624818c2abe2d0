/*
 * queue_commit.h - group commit of new queue files.
 *
 * A finished queue file is handed over with its open descriptor; a worker
 * thread fdatasyncs every file of the current batch (enough: the file's
 * checksummed X record, not its mode, marks it complete on disk,
 * doc/queue-format.md), then (only if a file of
 * the batch needs it: one whose name was not made durable in advance by
 * the reservation pool, qwriter_pool_init) the incoming/ directory once,
 * and only then reports each one back on the event loop, so that many
 * sessions share the flushes while the loop keeps serving clients.
 */
#ifndef TEMPEST_QUEUE_COMMIT_H
#define TEMPEST_QUEUE_COMMIT_H

typedef void (*queue_commit_fn)(void *arg, int error);

/* Start the worker for queue directory qdir (once per process). */
void queue_commit_init(const char *qdir);
/* Make fd's file durable (and incoming/ when need_dir: the file's name
 * there is not durable yet); fd is closed by the committer.  fn runs on
 * the event loop with error = 0 (durable) or an errno value. */
void queue_commit_submit(int fd, int need_dir, queue_commit_fn fn,
    void *arg);
/* With nothing else in flight (and nothing to share an fsync with, as
 * when one session is all a process serves): make fd's file durable
 * right here, without the round trip through the worker thread; fd
 * stays open (the caller closes it after its reply, which need not wait
 * for the close).  0 (durable) or an errno value. */
int queue_commit_now(int fd, int need_dir);
/* 1 when no submitted file waits for its report. */
int queue_commit_idle(void);
/* Batches committed so far and files in them (for logs/benchmarks). */
void queue_commit_stats(unsigned long *batches_r, unsigned long *files_r);

#endif
