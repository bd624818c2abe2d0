/*
 * qmgr.c - the queue manager: moves new mail from incoming/ to active/,
 * hands recipients to the delivery agents (local, smtp) through their
 * master.cf services, marks finished recipients, retries temporary
 * failures from deferred/ with back-off, and returns undeliverable mail
 * to the sender (bounce.c).
 *
 * Input: queue files (parsed by lib-queue, which checks every length),
 * replies from delivery agents (ipc frames, checked field by field), and
 * trigger datagrams ('I' new mail, 'F' flush, 'D' deferred scan, 'Q'
 * and an id: that deferred message now, and
 * "H<id>" from postsuper -h: hold that active message once its current
 * delivery attempt ends).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "config.h"
#include "deliver_proto.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "qmgr.h"
#include "queue_file.h"
#include "resolve.h"
#include "roles.h"
#include "service.h"
#include "smtp_parse.h"
#include "str.h"

#define MAX_BATCH_RCPT 50
/* Requests in flight on one connection to a local/virtual agent: it
 * delivers what it has received, fsyncs each Maildir's new/ once and
 * then replies (local.c).  Another request joins a busy connection only
 * while its oldest one is younger than AGENT_PIPELINE_FRESH_MS, so one
 * slow delivery (a recipe running a program) never holds others up.
 * 32 rather than 8: at 50 sessions the agents' batches fill up, and
 * bigger ones share more fsyncs (less CPU per message, deliveries keep
 * up with acceptance better in bench/mta/profile.py --conc 50). */
#define AGENT_PIPELINE 32
#define AGENT_PIPELINE_FRESH_MS 20
/* A new job joins an agent's batch in the making (it waits
 * local_delivery_batch_delay before its fsyncs, lib-queue/deliver_agent.c)
 * while that batch holds fewer than local_delivery_batch_limit requests
 * (the agent commits at once then, so the two must be one parameter);
 * beyond, other agents take jobs in parallel (idle ones first). */

struct transport;

/* One message being worked on (in active/). */
struct msg {
	struct qfile qf;
	int outstanding;        /* requests in flight */
	int deferred;           /* some recipient deferred in this pass */
	int fresh;              /* first attempt: no defer/ logs can exist */
	struct buf bounces;     /* "rcpt\torcpt\tstatus text\n" lines */
	struct buf success;     /* "action\trcpt\torcpt\tstatus text\n" */
	struct buf defer_reasons;
	struct msg *next;
};

/* A delivery request waiting for or using a connection. */
struct job {
	struct msg *m;
	struct transport *t;
	char *nexthop;          /* destination: domain or [host]:port */
	size_t *idx;            /* recipient indexes in m->qf */
	size_t n;
	struct timeval start;
	struct job *next;
};

struct conn {
	struct io *io;
	struct transport *t;
	struct job *jobs, *jobs_tail;   /* in flight, oldest first */
	int njobs;
	struct ipc_msg reply;
	char *last_nexthop;     /* the agent may hold a connection there */
	struct conn *next;
};

/* Jobs in flight per destination (per-destination concurrency). */
struct dest {
	char *name;
	int inflight;
	struct dest *next;
};

struct transport {
	char *name;             /* master.cf service: "local", "smtp" */
	int limit;              /* connections */
	int dest_limit;         /* jobs in flight per destination */
	int depth;              /* jobs in flight per connection */
	int nconn;
	struct conn *conns;
	struct job *queue, *queue_tail;
	struct dest *dests;
	struct transport *next;
};

static struct transport *transports;
static const char *qdir;
static char **hold_ids;         /* postsuper -h of active messages */
static size_t nhold;
static int active_msgs;
static int scan_pending;

static void dispatch(struct transport *t);
static void msg_done(struct msg *m);
static const char *last_reason(struct msg *m, const char *addr);
static void delay_warning(struct msg *m);

/* The transport named by a master.cf service, created on first use. */
static struct transport *
transport_get(const char *name)
{
	struct transport *t;
	long long limit = config_int("default_destination_concurrency_limit");

	for (t = transports; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	t->limit = limit > 0 ? (int)limit : 20;
	if (strcmp(name, "smtp") == 0)
		limit = config_int("smtp_destination_concurrency_limit");
	else if (strcmp(name, "local") == 0)
		limit = config_int("local_destination_concurrency_limit");
	t->dest_limit = limit > 0 ? (int)limit : t->limit;
	t->depth = 1;
	if (strcmp(name, "local") == 0 || strcmp(name, "virtual") == 0) {
		t->dest_limit = t->limit;   /* one destination: this host */
		t->depth = AGENT_PIPELINE;
	}
	t->next = transports;
	transports = t;
	return t;
}

static struct dest *
dest_get(struct transport *t, const char *name)
{
	struct dest *d;

	for (d = t->dests; d != NULL; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	d->next = t->dests;
	t->dests = d;
	return d;
}

static int
dest_inflight(struct transport *t, const char *name)
{
	struct dest *d;

	for (d = t->dests; d != NULL; d = d->next)
		if (strcasecmp(d->name, name) == 0)
			return d->inflight;
	return 0;
}

/* One job to name finished; forget destinations with nothing in flight
 * so the list stays as short as the set of busy destinations. */
static void
dest_release(struct transport *t, const char *name)
{
	struct dest **pp, *d;

	for (pp = &t->dests; (d = *pp) != NULL; pp = &d->next) {
		if (strcasecmp(d->name, name) != 0)
			continue;
		if (--d->inflight <= 0) {
			*pp = d->next;
			free(d->name);
			free(d);
		}
		return;
	}
}

static char *
qpath(const char *queue, const char *id)
{
	return xasprintf("%s/%s/%s", qdir, queue, id);
}

/* ---- spare queue files (queue_file.h) ---- */

static long spare_count = -1;   /* files in spare/, recounted now and then */
static unsigned spare_moves;

static long
count_spare(void)
{
	char *dir = xasprintf("%s/%s", qdir, QUEUE_SPARE);
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	free(dir);
	if (d == NULL)
		return QUEUE_SPARE_MAX;         /* no spare/: never recycle */
	while ((e = readdir(d)) != NULL)
		if (queue_valid_id(e->d_name))
			n++;
	closedir(d);
	return n;
}

/*
 * A finished message's file goes to spare/ for a writer to reuse instead
 * of being unlinked: 1, or 0 (the caller unlinks it).  Mode 0600 first,
 * so a spare file never looks finished; a crash between the two leaves
 * a 0600 file in active/, which schedule() removes.
 */
static int
recycle(struct msg *m)
{
	char *dst;
	int r;

	if (m->qf.fd < 0 || (size_t)m->qf.content_off + m->qf.content_len >
	    QUEUE_SPARE_MAX_SIZE)
		return 0;
	if (spare_count < 0 || ++spare_moves % 32 == 0)
		spare_count = count_spare();
	if (spare_count >= QUEUE_SPARE_MAX)
		return 0;
	if (fchmod(m->qf.fd, QUEUE_MODE_WRITING) < 0)
		return 0;
	dst = qpath(QUEUE_SPARE, m->qf.id);
	r = rename(m->qf.path, dst);
	free(dst);
	if (r < 0)
		return 0;
	spare_count++;
	return 1;
}

/* ---- connections to delivery agents ---- */

static void conn_io(struct io *io, enum io_evt evt, void *arg);

static struct conn *
conn_open(struct transport *t)
{
	struct sockaddr_un sun;
	int fd;
	struct conn *c;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/private/%s", qdir,
	    t->name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->t = t;
	ipc_msg_init(&c->reply, 0);
	c->io = io_new(fd, conn_io, c);
	c->next = t->conns;
	t->conns = c;
	t->nconn++;
	return c;
}

static void
conn_close(struct conn *c)
{
	struct conn **pp;

	for (pp = &c->t->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->t->nconn--;
	free(c->last_nexthop);
	io_free(&c->io);
	ipc_msg_free(&c->reply);
	free(c);
}

static void
job_free(struct job *j)
{
	free(j->nexthop);
	free(j->idx);
	free(j);
}

static double
elapsed(const struct timeval *a)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (double)(now.tv_sec - a->tv_sec) +
	    (double)(now.tv_usec - a->tv_usec) / 1e6;
}

/* Record the outcome of one recipient. */
static void
rcpt_result(struct msg *m, size_t i, int status, const char *text,
    const char *relay, double delay)
{
	struct qrcpt *r = &m->qf.rcpts[i];
	const char *dsn = text, *human = strchr(text, ' ');
	char dsnbuf[16];
	double total = (double)time(NULL) - (double)m->qf.arrival_us / 1e6;

	if (human != NULL && (size_t)(human - text) < sizeof(dsnbuf)) {
		snprintf(dsnbuf, sizeof(dsnbuf), "%.*s", (int)(human - text), text);
		dsn = dsnbuf;
		human++;
	} else {
		human = text;
		dsn = status == DELIVER_SENT ? "2.0.0" :
		    status == DELIVER_DEFER ? "4.0.0" : "5.0.0";
	}
	int action = DELIVER_ACTION_OF(status);

	status = DELIVER_STATUS_OF(status);
	if (status == DELIVER_BOUNCE && config_bool("soft_bounce"))
		status = DELIVER_DEFER;
	log_info("%s: to=<%s>%s%s%s, relay=%s, delay=%.2g, delays=%.2g, "
	    "dsn=%s, status=%s (%s)", m->qf.id, r->addr,
	    *r->orcpt ? ", orig_to=<" : "", *r->orcpt ?
	    (strchr(r->orcpt, ';') ? strchr(r->orcpt, ';') + 1 : r->orcpt) : "",
	    *r->orcpt ? ">" : "", relay, total < 0 ? 0 : total, delay, dsn,
	    status == DELIVER_SENT ? "sent" : status == DELIVER_DEFER ?
	    "deferred" : "bounced", human);
	switch (status) {
	case DELIVER_SENT:
		qfile_mark_done(&m->qf, i);
		/* NOTIFY=SUCCESS: one notice per message and pass (msg_done) */
		if ((r->notify & DSN_NOTIFY_SUCCESS) && action != DELIVER_DSN_QUIET)
			buf_printf(&m->success, "%s\t%s\t%s\t%s %s\n",
			    action == DELIVER_DSN_RELAYED ? "relayed" :
			    action == DELIVER_DSN_EXPANDED ? "expanded" :
			    "delivered", r->addr, r->orcpt, dsn, human);
		break;
	case DELIVER_BOUNCE:
		buf_printf(&m->bounces, "%s\t%s\t%s %s\n", r->addr, r->orcpt,
		    dsn, human);
		qfile_mark_done(&m->qf, i);
		break;
	default:
		m->deferred = 1;
		buf_printf(&m->defer_reasons, "%s\t%s\t%s %s\n", r->addr,
		    r->orcpt, dsn, human);
		break;
	}
}

static void
job_finish(struct job *j, struct ipc_msg *reply)
{
	struct msg *m = j->m;
	int64_t n = -1, st;
	const char *text;
	size_t k;
	double d = elapsed(&j->start);

	dest_release(j->t, j->nexthop);
	if (reply != NULL && (ipc_get_int(reply, &n) < 0 || n != (int64_t)j->n))
		reply = NULL;
	for (k = 0; k < j->n; k++) {
		if (reply == NULL || ipc_get_int(reply, &st) < 0 ||
		    ipc_get_str(reply, &text) < 0 || st < 0 ||
		    DELIVER_STATUS_OF(st) > DELIVER_BOUNCE ||
		    (DELIVER_ACTION_OF(st) != 0 &&
		    DELIVER_STATUS_OF(st) != DELIVER_SENT) ||
		    DELIVER_ACTION_OF(st) > DELIVER_DSN_QUIET) {
			rcpt_result(m, j->idx[k], DELIVER_DEFER,
			    "4.3.0 delivery agent failed or returned garbage",
			    j->t->name, d);
			reply = NULL;
			continue;
		}
		rcpt_result(m, j->idx[k], (int)st, text, j->t->name, d);
	}
	m->outstanding--;
	job_free(j);
	if (m->outstanding == 0)
		msg_done(m);
}

/* The oldest request in flight on c, taken off. */
static struct job *
conn_pop(struct conn *c)
{
	struct job *j = c->jobs;

	if (j != NULL) {
		c->jobs = j->next;
		if (c->jobs == NULL)
			c->jobs_tail = NULL;
		j->next = NULL;
		c->njobs--;
	}
	return j;
}

/* Every request still in flight on c is deferred (agent gone). */
static void
conn_fail_all(struct conn *c)
{
	struct job *j;

	while ((j = conn_pop(c)) != NULL)
		job_finish(j, NULL);
}

static void
conn_io(struct io *io, enum io_evt evt, void *arg)
{
	struct conn *c = arg;
	struct transport *t = c->t;
	int r;

	(void)io;
	switch (evt) {
	case IO_IN:
		/* replies come in request order */
		while ((r = ipc_io_take(c->io, &c->reply)) == 1) {
			if (c->jobs == NULL || c->reply.type != DELIVER_REPLY)
				break;
			job_finish(conn_pop(c), &c->reply);
		}
		if (r != 0) {
			log_warn("bad reply from %s service", t->name);
			conn_fail_all(c);
			conn_close(c);
		}
		dispatch(t);
		break;
	case IO_LOWAT:
		break;
	default:
		/* agent died or closed: the jobs, if any, are deferred */
		conn_fail_all(c);
		conn_close(c);
		dispatch(t);
		break;
	}
}

static void
send_job(struct conn *c, struct job *j)
{
	struct ipc_msg m;
	struct qfile *qf = &j->m->qf;
	struct buf attrs;
	char *agent_path;
	size_t k;

	agent_path = xasprintf("%s/%s/%s", config_str("queue_directory"),
	    QUEUE_ACTIVE, qf->id);
	ipc_msg_init(&m, DELIVER_REQUEST);
	ipc_put_str(&m, qf->id);
	/* the agent's path: qmgr itself may be chrooted to the queue */
	ipc_put_str(&m, agent_path);
	ipc_put_int(&m, (int64_t)qf->content_off);
	ipc_put_int(&m, (int64_t)qf->content_len);
	ipc_put_int(&m, qf->arrival_us);
	ipc_put_str(&m, qf->sender);
	ipc_put_int(&m, (int64_t)j->n);
	for (k = 0; k < j->n; k++) {
		struct qrcpt *r = &qf->rcpts[j->idx[k]];
		ipc_put_str(&m, r->addr);
		ipc_put_str(&m, r->orcpt);
		ipc_put_int(&m, r->notify);
		ipc_put_int(&m, (int64_t)r->offset);
	}
	buf_init(&attrs, IPC_MAX / 2);
	for (k = 0; qf->attrs[k] != NULL; k++)
		buf_printf(&attrs, "%s\n", qf->attrs[k]);
	ipc_put_str(&m, buf_cstr(&attrs));
	ipc_put_str(&m, j->nexthop);
	buf_free(&attrs);
	ipc_io_send(c->io, &m);
	ipc_msg_free(&m);
	free(agent_path);
	j->next = NULL;
	if (c->jobs_tail != NULL)
		c->jobs_tail->next = j;
	else
		c->jobs = j;
	c->jobs_tail = j;
	c->njobs++;
	free(c->last_nexthop);
	c->last_nexthop = xstrdup(j->nexthop);
	dest_get(j->t, j->nexthop)->inflight++;
	gettimeofday(&j->start, NULL);
}

/* Take job j out of t's queue (prev is its predecessor or NULL). */
static void
unlink_job(struct transport *t, struct job *prev, struct job *j)
{
	if (prev != NULL)
		prev->next = j->next;
	else
		t->queue = j->next;
	if (t->queue_tail == j)
		t->queue_tail = prev;
	j->next = NULL;
}

static void
defer_unavailable(struct transport *t, struct job *j)
{
	char reason[160];
	struct msg *m = j->m;
	size_t k;

	snprintf(reason, sizeof(reason), "4.3.0 delivery temporarily "
	    "suspended: %s service is unavailable", t->name);
	for (k = 0; k < j->n; k++)
		rcpt_result(m, j->idx[k], DELIVER_DEFER, reason, t->name, 0);
	m->outstanding--;
	job_free(j);
	if (m->outstanding == 0)
		msg_done(m);
}

/* Start queued jobs: the oldest whose destination is below its
 * concurrency limit, preferably on a connection whose agent last
 * talked to that destination (it may still have the SMTP connection
 * open: connection reuse). */
static void
dispatch(struct transport *t)
{
	long long join = config_int("local_delivery_batch_limit");

	for (;;) {
		struct conn *c = NULL, *idle = NULL, *same = NULL;
		struct job *j, *prev = NULL;

		for (j = t->queue; j != NULL; prev = j, j = j->next)
			if (dest_inflight(t, j->nexthop) < t->dest_limit)
				break;
		if (j == NULL)
			return;
		/* local/virtual: join a small batch an agent is collecting
		 * (it commits local_delivery_batch_delay after its first
		 * request): deliveries share its fsyncs instead of each idle
		 * agent fsyncing one */
		if (t->depth > 1)
			for (c = t->conns; c != NULL; c = c->next)
				if (c->njobs > 0 && c->njobs < join &&
				    elapsed(&c->jobs->start) * 1000 <
				    AGENT_PIPELINE_FRESH_MS)
					break;
		if (t->depth > 1 && c != NULL)
			same = c;
		for (c = t->conns; same == NULL && c != NULL; c = c->next) {
			if (c->njobs > 0)
				continue;
			if (c->last_nexthop != NULL &&
			    strcasecmp(c->last_nexthop, j->nexthop) == 0) {
				same = c;
				break;
			}
			if (idle == NULL || c->last_nexthop == NULL)
				idle = c;
		}
		c = same != NULL ? same : idle;
		if (c == NULL && t->depth > 1) {
			/* pipeline onto the least busy connection whose agent
			 * is making progress (group commit in the agent) */
			struct conn *best = NULL;
			for (c = t->conns; c != NULL; c = c->next)
				if (c->njobs < t->depth &&
				    elapsed(&c->jobs->start) * 1000 <
				    AGENT_PIPELINE_FRESH_MS &&
				    (best == NULL || c->njobs < best->njobs))
					best = c;
			c = best;
		}
		if (c == NULL) {
			if (t->nconn >= t->limit)
				return;
			c = conn_open(t);
			if (c == NULL) {
				/* service not running / not configured */
				unlink_job(t, prev, j);
				defer_unavailable(t, j);
				continue;
			}
		}
		unlink_job(t, prev, j);
		send_job(c, j);
	}
}

static void
enqueue(struct transport *t, const char *nexthop, struct msg *m, size_t *idx,
    size_t n)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->m = m;
	j->t = t;
	j->nexthop = xstrdup(nexthop);
	j->idx = (size_t *)(void *)xmemdup(idx, n * sizeof(*idx));
	j->n = n;
	m->outstanding++;
	if (t->queue_tail != NULL)
		t->queue_tail->next = j;
	else
		t->queue = j;
	t->queue_tail = j;
}

/* ---- messages ---- */

static void
msg_free(struct msg *m)
{
	qfile_close(&m->qf);
	buf_free(&m->bounces);
	buf_free(&m->success);
	buf_free(&m->defer_reasons);
	free(m);
	active_msgs--;
}

static long long
backoff_for(const struct qfile *qf)
{
	long long age = (long long)time(NULL) - qf->arrival_us / 1000000;
	long long min = config_time("minimal_backoff_time");
	long long max = config_time("maximal_backoff_time");

	if (age < min)
		return min;
	if (age > max)
		return max;
	return age;
}

/* Whether postsuper asked to hold id (the request is used up). */
static int
hold_take(const char *id)
{
	size_t i;

	for (i = 0; i < nhold; i++)
		if (strcmp(hold_ids[i], id) == 0) {
			free(hold_ids[i]);
			hold_ids[i] = hold_ids[--nhold];
			return 1;
		}
	return 0;
}

static void
msg_done(struct msg *m)
{
	char *deferred_path;
	long long age = (long long)time(NULL) - m->qf.arrival_us / 1000000;
	int hold = hold_take(m->qf.id);

	/* Expired: everything still pending bounces. */
	if (m->deferred && age >= config_time(*m->qf.sender ?
	    "maximal_queue_lifetime" : "bounce_queue_lifetime")) {
		size_t i;
		for (i = 0; i < m->qf.nrcpt; i++)
			if (!m->qf.rcpts[i].done) {
				const char *last = last_reason(m,
				    m->qf.rcpts[i].addr);
				buf_printf(&m->bounces, "%s\t%s\t4.4.7 message "
				    "expired after %llds in the queue%s%.*s\n",
				    m->qf.rcpts[i].addr, m->qf.rcpts[i].orcpt,
				    age, last != NULL ? "; last error: " : "",
				    last != NULL ? (int)strcspn(last, "\n") : 0,
				    last != NULL ? last : "");
				qfile_mark_done(&m->qf, i);
			}
		m->deferred = 0;
	}
	if (m->bounces.len > 0)
		qmgr_bounce(&m->qf, buf_cstr(&m->bounces));
	if (m->success.len > 0)
		qmgr_success(&m->qf, buf_cstr(&m->success));
	if (qfile_pending(&m->qf) == 0) {
		char *p;
		if (!recycle(m) && unlink(m->qf.path) < 0)
			log_warn("%s: unlink: %s", m->qf.id, strerror(errno));
		if (!m->fresh) {
			/* only a message seen before can have defer logs */
			p = xasprintf("%s/defer/%s", qdir, m->qf.id);
			(void)unlink(p);
			free(p);
			p = xasprintf("%s/defer/%s.warned", qdir, m->qf.id);
			(void)unlink(p);
			free(p);
			/* alias targets reached before a deferral
			 * (local/alias.c writes it only then) */
			p = xasprintf("%s/defer/%s.done", qdir, m->qf.id);
			(void)unlink(p);
			free(p);
		}
		log_info("%s: removed", m->qf.id);
	} else {
		long long warn = config_time("delay_warning_time");
		if (warn > 0 && age >= warn)
			delay_warning(m);
		struct timeval tv[2];
		long long delay = backoff_for(&m->qf);
		gettimeofday(&tv[0], NULL);
		tv[1] = tv[0];
		tv[1].tv_sec += delay;
		/* next attempt time = mtime, as Postfix does */
		if (utimes(m->qf.path, tv) < 0)
			log_warn("%s: utimes: %s", m->qf.id, strerror(errno));
		qmgr_defer_log(&m->qf, buf_cstr(&m->defer_reasons));
		deferred_path = qpath(hold ? QUEUE_HOLD : QUEUE_DEFERRED,
		    m->qf.id);
		if (rename(m->qf.path, deferred_path) < 0)
			log_warn("%s: rename to %s: %s", m->qf.id, hold ?
			    "hold" : "deferred", strerror(errno));
		else if (hold)
			log_info("%s: placed on hold", m->qf.id);
		free(deferred_path);
	}
	msg_free(m);
}

/* The text of the last deferral of addr in this pass ("x.y.z text"). */
static const char *
last_reason(struct msg *m, const char *addr)
{
	const char *p = buf_cstr(&m->defer_reasons);
	size_t n = strlen(addr);

	while (*p != '\0') {
		if (strncmp(p, addr, n) == 0 && p[n] == '\t') {
			const char *t = strchr(p + n + 1, '\t');
			return t != NULL ? t + 1 : NULL;
		}
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return NULL;
}

/* Once per message: tell the sender it is still being retried. */
static void
delay_warning(struct msg *m)
{
	char *flag = xasprintf("%s/defer/%s.warned", qdir, m->qf.id);
	int fd;

	fd = open(flag, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		qmgr_delay_warn(&m->qf, buf_cstr(&m->defer_reasons));
	} else if (errno != EEXIST)
		log_warn("%s: %s: %s", m->qf.id, flag, strerror(errno));
	free(flag);
}

/* Virtual aliases that cleanup expanded into several recipients for a
 * recipient with NOTIFY=SUCCESS ("dsn_expanded=rcpt\torcpt"
 * attributes): their "expanded" notice goes with the first pass's. */
static void
expanded_notices(struct msg *m)
{
	size_t i;

	for (i = 0; m->qf.attrs != NULL && m->qf.attrs[i] != NULL; i++) {
		const char *v = m->qf.attrs[i];
		if (strncmp(v, "dsn_expanded=", 13) == 0 &&
		    strchr(v + 13, '\t') != NULL)
			buf_printf(&m->success, "expanded\t%s\t2.0.0 alias "
			    "expanded\n", v + 13);
	}
}

/* Schedule every pending recipient of an active message (fresh: it came
 * straight from incoming/, so it was never deferred). */
static void
schedule(const char *id, int fresh)
{
	struct msg *m = xcalloc(1, sizeof(*m));
	char *path = qpath(QUEUE_ACTIVE, id), *err = NULL;
	struct transport **rt;
	char **rn;
	size_t i, k;

	buf_init(&m->bounces, BUF_UNLIMITED);
	buf_init(&m->success, BUF_UNLIMITED);
	buf_init(&m->defer_reasons, BUF_UNLIMITED);
	active_msgs++;
	if (qfile_open(path, QF_RW, &m->qf, &err) < 0) {
		char *cpath = qpath(QUEUE_CORRUPT, id);
		struct stat st;
		if (stat(path, &st) == 0 &&
		    (st.st_mode & 0777) == QUEUE_MODE_WRITING) {
			/* only recycle() leaves 0600 files in active/: a
			 * finished message, interrupted on its way to spare/ */
			log_info("%s: removed", id);
			(void)unlink(path);
		} else {
			log_warn("%s: %s: moved to corrupt queue", id, err);
			if (rename(path, cpath) < 0)
				log_warn("%s: rename: %s", id, strerror(errno));
		}
		free(err);
		free(cpath);
		free(path);
		buf_free(&m->bounces);
		buf_free(&m->success);
		buf_free(&m->defer_reasons);
		free(m);
		active_msgs--;
		return;
	}
	free(path);
	m->fresh = fresh;
	if (fresh)
		expanded_notices(m);
	log_info("%s: from=<%s>, size=%zu, nrcpt=%zu (queue active)",
	    m->qf.id, m->qf.sender, m->qf.content_len, m->qf.nrcpt);
	m->outstanding = 1;     /* hold while scheduling */
	rt = xcalloc(m->qf.nrcpt + 1, sizeof(*rt));
	rn = xcalloc(m->qf.nrcpt + 1, sizeof(*rn));
	for (i = 0; i < m->qf.nrcpt; i++) {
		char *tname = NULL, *rerr = NULL;
		int r;
		if (m->qf.rcpts[i].done)
			continue;
		r = qmgr_route(m->qf.rcpts[i].addr, &tname, &rn[i], &rerr);
		if (r != 0) {
			rcpt_result(m, i, r > 0 ? DELIVER_BOUNCE : DELIVER_DEFER,
			    rerr, r > 0 ? "error" : "none", 0);
			free(rerr);
			continue;
		}
		rt[i] = transport_get(tname);
		free(tname);
	}
	/* one job per transport and next hop, at most limit recipients */
	for (i = 0; i < m->qf.nrcpt; i++) {
		size_t idx[MAX_BATCH_RCPT], n = 0;
		struct transport *t = rt[i];
		char *nh = rn[i];
		size_t limit = MAX_BATCH_RCPT;
		if (t == NULL)
			continue;
		if (strcmp(t->name, "local") == 0)
			limit = 1;
		else if (strcmp(t->name, "smtp") == 0 &&
		    config_int("smtp_destination_recipient_limit") > 0 &&
		    config_int("smtp_destination_recipient_limit") < MAX_BATCH_RCPT)
			limit = (size_t)config_int("smtp_destination_recipient_limit");
		for (k = i; k < m->qf.nrcpt; k++) {
			if (rt[k] != t || strcasecmp(rn[k], nh) != 0)
				continue;
			idx[n++] = k;
			rt[k] = NULL;
			if (n == limit) {
				enqueue(t, nh, m, idx, n);
				n = 0;
			}
		}
		if (n > 0)
			enqueue(t, nh, m, idx, n);
	}
	for (i = 0; i < m->qf.nrcpt; i++)
		free(rn[i]);
	free(rn);
	free(rt);
	{
		struct transport *t;
		for (t = transports; t != NULL; t = t->next)
			dispatch(t);
	}
	if (--m->outstanding == 0)
		msg_done(m);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the ids in a queue directory (sorted; oldest ids first). */
static char **
list_queue(const char *queue, size_t *n_r)
{
	char *dir = xasprintf("%s/%s", qdir, queue);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	free(dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (!queue_valid_id(e->d_name))
				continue;
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n++] = xstrdup(e->d_name);
		}
		closedir(d);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), id_cmp);
	*n_r = n;
	return v;
}

static void
move_and_schedule(const char *from, const char *id)
{
	char *src = qpath(from, id), *dst = qpath(QUEUE_ACTIVE, id);

	if (rename(src, dst) == 0)
		schedule(id, strcmp(from, QUEUE_INCOMING) == 0);
	else if (errno != ENOENT)
		log_warn("%s: rename %s -> active: %s", id, from, strerror(errno));
	free(src);
	free(dst);
}

/*
 * Take the complete files of incoming/.  With sweep_age >= 0 the same
 * pass also sweeps unfinished files unchanged for sweep_age seconds
 * (queue_sweep_file: only under the dead writer's lock), instead of a
 * second read of the directory.
 */
static void
scan_incoming_sweep(time_t sweep_age)
{
	size_t n, i;
	char **ids = list_queue(QUEUE_INCOMING, &n);

	for (i = 0; i < n; i++) {
		char *p = qpath(QUEUE_INCOMING, ids[i]);
		struct stat st;
		/* only complete files; a writer may still own the others */
		if (stat(p, &st) == 0) {
			if ((st.st_mode & 0777) == QUEUE_MODE_COMPLETE)
				move_and_schedule(QUEUE_INCOMING, ids[i]);
			else if (sweep_age >= 0 && queue_sweep_file(p, sweep_age))
				log_info("%s: removed unfinished queue file of "
				    "a writer that is gone (never "
				    "acknowledged)", ids[i]);
		}
		free(p);
		free(ids[i]);
	}
	free(ids);
}

static void
scan_incoming(void)
{
	scan_incoming_sweep(-1);
}

static void
scan_deferred(int all)
{
	size_t n, i;
	char **ids = list_queue(QUEUE_DEFERRED, &n);
	time_t now = time(NULL);

	for (i = 0; i < n; i++) {
		char *p = qpath(QUEUE_DEFERRED, ids[i]);
		struct stat st;
		if (stat(p, &st) == 0 && (all || st.st_mtime <= now))
			move_and_schedule(QUEUE_DEFERRED, ids[i]);
		free(p);
		free(ids[i]);
	}
	free(ids);
}

/* postsuper -h of a message in active/: jobs not yet handed to an agent
 * are withdrawn; the message goes to hold/ instead of deferred/ when its
 * last job is over (msg_done), or at once if it is not in memory. */
static void
hold_request(const char *data, size_t len)
{
	char id[QUEUE_ID_LEN + 1];
	struct transport *t;
	int known = 0;

	if (len != QUEUE_ID_LEN)
		return;
	memcpy(id, data, len);
	id[len] = '\0';
	if (!queue_valid_id(id))
		return;
	hold_ids = xreallocarray(hold_ids, nhold + 1, sizeof(*hold_ids));
	hold_ids[nhold++] = xstrdup(id);
	for (t = transports; t != NULL; t = t->next) {
		struct conn *c;
		struct job *j, *prev = NULL, *next;
		for (c = t->conns; c != NULL; c = c->next)
			for (j = c->jobs; j != NULL; j = j->next)
				if (strcmp(j->m->qf.id, id) == 0)
					known = 1;
		for (j = t->queue; j != NULL; j = next) {
			struct msg *m = j->m;
			next = j->next;
			if (strcmp(m->qf.id, id) != 0) {
				prev = j;
				continue;
			}
			known = 1;
			unlink_job(t, prev, j);
			job_free(j);
			if (--m->outstanding == 0)
				msg_done(m);    /* -> hold/ */
		}
	}
	if (!known && hold_take(id)) {
		/* its attempt ended before this trigger came: it is in
		 * deferred/ now (or gone) */
		char *dst = qpath(QUEUE_HOLD, id), *src = qpath(QUEUE_ACTIVE, id);
		int ok = rename(src, dst) == 0;
		free(src);
		src = qpath(QUEUE_DEFERRED, id);
		if (ok || rename(src, dst) == 0)
			log_info("%s: placed on hold", id);
		free(src);
		free(dst);
	}
}

static void
on_trigger(void *arg, const char *data, size_t len)
{
	size_t i;

	(void)arg;
	if (len > 1 && data[0] == 'H') {
		hold_request(data + 1, len - 1);
		return;
	}
	/* "N<queue id>": this new message in incoming/ is complete and
	 * committed (smtpd after its fsyncs): no directory scan needed;
	 * "Q<queue id>": this deferred message now (postqueue -i) */
	if (len == 1 + QUEUE_ID_LEN && (data[0] == 'N' || data[0] == 'Q')) {
		char id[QUEUE_ID_LEN + 1];
		memcpy(id, data + 1, QUEUE_ID_LEN);
		id[QUEUE_ID_LEN] = '\0';
		if (queue_valid_id(id))
			move_and_schedule(data[0] == 'N' ? QUEUE_INCOMING :
			    QUEUE_DEFERRED, id);
		return;
	}
	for (i = 0; i < len; i++) {
		switch (data[i]) {
		case 'F':
			scan_deferred(1);
			/* FALLTHROUGH */
		case 'I':
			scan_pending = 1;
			break;
		case 'D':
			scan_deferred(0);
			break;
		}
	}
	if (scan_pending) {
		scan_pending = 0;
		scan_incoming();
	}
}

static void
on_wakeup(void *arg)
{
	(void)arg;
	/* reserved or half-written files of writers that died (kill -9,
	 * a crash): their flock is gone; older than a minute, so files
	 * being written now are not even opened */
	scan_incoming_sweep(60);
}

static void
on_deferred_timer(void *arg)
{
	(void)arg;
	scan_deferred(0);
}

int
qmgr_main(int argc, char **argv)
{
	size_t n, i;
	char **ids;

	service_init(argc, argv, "qmgr");
	resolve_init_routing(); /* tables open before a chroot */
	qmgr_route_init();
	service_drop_privileges();
	/* queue paths relative to the queue directory: each rename and open
	 * of a queue file walks "./active/ID", not the whole path (perf: the
	 * path walks were a fifth of the time of qmgr's two renames per
	 * message).  The agents get absolute paths (send_job). */
	qdir = service_queue_dir();
	if (chdir(qdir) < 0)
		fatal("chdir %s: %s", qdir, strerror(errno));
	qdir = ".";

	/* Messages left in active/ by a previous qmgr are scheduled again. */
	ids = list_queue(QUEUE_ACTIVE, &n);
	for (i = 0; i < n; i++) {
		schedule(ids[i], 0);
		free(ids[i]);
	}
	free(ids);
	/* files of writers that died while qmgr was away (live writers
	 * hold a lock on theirs: those stay) */
	scan_incoming_sweep(0);
	scan_deferred(0);
	service_triggers(on_trigger, NULL);
	service_wakeup(on_wakeup, NULL, 0);
	service_wakeup(on_deferred_timer, NULL,
	    (int)config_time("queue_run_delay") > 0 ?
	    (int)config_time("queue_run_delay") : 300);
	return service_run();
}
