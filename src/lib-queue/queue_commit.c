/*
 * queue_commit.c - fsync worker thread (see queue_commit.h).  No
 * untrusted input: descriptors and callbacks come from this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "queue_commit.h"
#include "queue_file.h"

struct job {
	int fd;
	int need_dir;           /* its name in incoming/ is not durable yet */
	int error;
	queue_commit_fn fn;
	void *arg;
	struct job *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job *pending, *done;
static int notify_pipe[2] = { -1, -1 };
static char *commit_dir;
static int dir_fd = -1;         /* incoming/, open for the process's life */
static int in_flight;           /* jobs submitted, not reported yet */
static int refill_req;          /* refill the reservation pool (under lock) */
static unsigned long n_batches, n_files;

/* fsync incoming/: 0, or -1 with errno. */
static int
sync_dir(void)
{
	if (dir_fd < 0)
		return queue_fsync_dir(commit_dir, QUEUE_INCOMING);
	return fsync(dir_fd);
}

static void *
worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct job *batch, *j, *last = NULL;
		int dir_error = 0, need_dir = 0, refill;

		pthread_mutex_lock(&lock);
		while (pending == NULL && !refill_req)
			pthread_cond_wait(&cond, &lock);
		batch = pending;
		pending = NULL;
		refill = refill_req;
		refill_req = 0;
		pthread_mutex_unlock(&lock);
		if (batch == NULL) {
			/* the reservation pool runs low: claim files while
			 * the sessions talk (qwriter_pool_refill_due) */
			if (refill)
				qwriter_pool_refill_bg();
			continue;
		}

		/* start the data writeback of every file first, so their
		 * writes overlap instead of one waiting behind the other's
		 * fsync (a hint: durability comes from the fsyncs below) */
		if (batch->next != NULL)
			for (j = batch; j != NULL; j = j->next)
				(void)sync_file_range(j->fd, 0, 0,
				    SYNC_FILE_RANGE_WRITE);
		for (j = batch; j != NULL; j = j->next) {
			if (fdatasync(j->fd) < 0)
				j->error = errno;
			close(j->fd);
			need_dir |= j->need_dir;
			last = j;
		}
		/* reserved files' names were made durable in advance
		 * (qwriter_pool_init): the directory only for the others */
		if (need_dir && sync_dir() < 0)
			dir_error = errno;
		for (j = batch; j != NULL; j = j->next)
			if (j->error == 0)
				j->error = dir_error;

		pthread_mutex_lock(&lock);
		last->next = done;
		done = batch;
		pthread_mutex_unlock(&lock);
		(void)!write(notify_pipe[1], "c", 1);
		if (refill)
			qwriter_pool_refill_bg();
	}
	return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];
	struct job *list, *j, *next;
	unsigned long nf = 0;

	(void)what;
	(void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&lock);
	list = done;
	done = NULL;
	pthread_mutex_unlock(&lock);
	if (list == NULL)
		return;
	n_batches++;
	for (j = list; j != NULL; j = next) {
		next = j->next;
		nf++;
		in_flight--;
		j->fn(j->arg, j->error);
		free(j);
	}
	n_files += nf;
}

void
queue_commit_init(const char *qdir)
{
	pthread_t t;
	struct event *ev;

	if (commit_dir != NULL)
		return;
	commit_dir = xstrdup(qdir);
	{
		char *p = xasprintf("%s/%s", qdir, QUEUE_INCOMING);
		/* if this fails, each batch opens the directory itself */
		dir_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(p);
	}
	if (pipe2(notify_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe: %s", strerror(errno));
	ev = event_new(io_base(), notify_pipe[0], EV_READ | EV_PERSIST,
	    on_done, NULL);
	event_add(ev, NULL);
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		fatal("pthread_create failed");
	pthread_detach(t);
}

/* Ask the worker for a background refill of the reservation pool when
 * it runs low (after a message took a file from it). */
static void
maybe_refill(void)
{
	if (commit_dir == NULL || !qwriter_pool_refill_due())
		return;
	pthread_mutex_lock(&lock);
	refill_req = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void
queue_commit_submit(int fd, int need_dir, queue_commit_fn fn, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->fd = fd;
	j->need_dir = need_dir;
	j->fn = fn;
	j->arg = arg;
	in_flight++;
	pthread_mutex_lock(&lock);
	j->next = pending;
	pending = j;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	maybe_refill();
}

int
queue_commit_now(int fd, int need_dir)
{
	int error = 0;

	if (fdatasync(fd) < 0)
		error = errno;
	if (error == 0 && need_dir && sync_dir() < 0)
		error = errno;
	n_batches++;
	n_files++;
	maybe_refill();
	return error;
}

int
queue_commit_idle(void)
{
	return in_flight == 0;
}

void
queue_commit_stats(unsigned long *batches_r, unsigned long *files_r)
{
	*batches_r = n_batches;
	*files_r = n_files;
}
