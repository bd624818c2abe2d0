/*
 * deliver_agent.c - the qmgr-facing skeleton of the delivery agents
 * (see deliver_agent.h): connections from qmgr, requests and their
 * replies, batches, drain.
 *
 * Input: DELIVER_REQUEST frames from qmgr (lib/ipc, every field checked
 * for type and bounds before use).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "deliver_agent.h"
#include "deliver_proto.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "service.h"

/* Most recipients in one request (qmgr sends at most 50). */
#define DELIVER_MAX_RCPT 1000

/* One connection from qmgr.  Requests are kept in arrival order: a
 * reply goes out only when every earlier one has (qmgr matches replies
 * to requests by order). */
struct deliver_conn {
	struct io *io;          /* NULL once qmgr went away */
	struct ipc_msg msg;
	struct deliver_req *head, *tail;
	int nactive;            /* handed to the agent, not done */
	int ndone;              /* done, reply not sent */
	int running;            /* conn_run is on the stack */
	struct event *batch;    /* conn_flush when it fires */
	struct deliver_conn *next;
};

static struct deliver_agent *agent;
static struct deliver_conn *conns;

static void conn_run(struct deliver_conn *c);

void
deliver_rcpt_set(struct deliver_rcpt *r, int status, const char *text)
{
	if (r->status >= 0)
		return;
	r->status = status;
	free(r->text);
	r->text = xstrdup(text);
}

void
deliver_req_fail(struct deliver_req *req, int status, const char *text)
{
	size_t i;

	for (i = 0; i < req->nrcpt; i++)
		deliver_rcpt_set(&req->rcpts[i], status, text);
}

static void
req_free(struct deliver_req *r)
{
	size_t i;

	if (agent->req_free != NULL)
		agent->req_free(r);
	for (i = 0; i < r->nrcpt; i++) {
		free(r->rcpts[i].addr);
		free(r->rcpts[i].orcpt);
		free(r->rcpts[i].text);
	}
	free(r->rcpts);
	free(r->id);
	free(r->path);
	free(r->sender);
	free(r->attrs);
	free(r->nexthop);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

/* A DELIVER_REQUEST (deliver_proto.h) as a request, NULL if malformed. */
static struct deliver_req *
req_parse(struct ipc_msg *m)
{
	struct deliver_req *r;
	const char *id, *path, *sender, *attrs, *nexthop;
	int64_t off, len, arrival, n, i;

	if (m->type != DELIVER_REQUEST || ipc_get_str(m, &id) < 0 ||
	    ipc_get_str(m, &path) < 0 || ipc_get_int(m, &off) < 0 ||
	    ipc_get_int(m, &len) < 0 || ipc_get_int(m, &arrival) < 0 ||
	    ipc_get_str(m, &sender) < 0 || ipc_get_int(m, &n) < 0 ||
	    n < 0 || n > DELIVER_MAX_RCPT || off < 0 || len < 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->fd = -1;
	r->id = xstrdup(id);
	/* qmgr names the file outside any chroot */
	r->path = service_queue_path(path);
	r->content_off = (off_t)off;
	r->content_len = (size_t)len;
	r->arrival_us = arrival;
	r->sender = xstrdup(sender);
	r->rcpts = xcalloc((size_t)n + 1, sizeof(*r->rcpts));
	for (i = 0; i < n; i++) {
		struct deliver_rcpt *rc = &r->rcpts[i];
		const char *a, *o;
		int64_t notify, roff;

		if (ipc_get_str(m, &a) < 0 || ipc_get_str(m, &o) < 0 ||
		    ipc_get_int(m, &notify) < 0 || ipc_get_int(m, &roff) < 0) {
			req_free(r);
			return NULL;
		}
		rc->addr = xstrdup(a);
		rc->orcpt = xstrdup(o);
		rc->notify = (int)notify;
		rc->offset = (long long)roff;
		rc->status = -1;
		r->nrcpt++;
	}
	if (ipc_get_str(m, &attrs) < 0)
		attrs = "";
	else if (ipc_get_str(m, &nexthop) == 0)
		r->nexthop = xstrdup(nexthop);
	r->attrs = xstrdup(attrs);
	return r;
}

/* Take the finished requests at the head of c's list (in order). */
static size_t
conn_take_done(struct deliver_conn *c, struct deliver_req ***reqs_r)
{
	struct deliver_req *r, **reqs = NULL;
	size_t n = 0;

	while ((r = c->head) != NULL && r->done) {
		c->head = r->next;
		if (c->head == NULL)
			c->tail = NULL;
		reqs = xreallocarray(reqs, n + 1, sizeof(*reqs));
		reqs[n++] = r;
		c->ndone--;
	}
	*reqs_r = reqs;
	return n;
}

/* Commit the finished requests (the batch), then send their replies. */
static void
conn_flush(struct deliver_conn *c)
{
	struct deliver_req **reqs;
	size_t n = conn_take_done(c, &reqs), k, i;

	if (n > 0 && agent->commit != NULL)
		agent->commit(reqs, n);
	for (k = 0; k < n; k++) {
		struct deliver_req *r = reqs[k];
		struct ipc_msg reply;

		ipc_msg_init(&reply, DELIVER_REPLY);
		ipc_put_int(&reply, (int64_t)r->nrcpt);
		for (i = 0; i < r->nrcpt; i++) {
			deliver_rcpt_set(&r->rcpts[i], DELIVER_DEFER,
			    "4.3.0 internal error");
			ipc_put_int(&reply, r->rcpts[i].status);
			ipc_put_str(&reply, r->rcpts[i].text);
		}
		ipc_io_send(c->io, &reply);
		ipc_msg_free(&reply);
		req_free(r);
	}
	free(reqs);
}

static void
conn_free(struct deliver_conn *c)
{
	struct deliver_conn **pp;

	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	io_free(&c->io);
	ipc_msg_free(&c->msg);
	event_free(c->batch);
	free(c);
	service_session_end();
}

/* qmgr went away (or must go): the replies have nowhere to go.  Finished
 * requests are dropped unanswered (qmgr defers them; a local retry finds
 * each copy already made); those the agent still works on keep c until
 * they finish. */
static void
conn_close(struct deliver_conn *c)
{
	struct deliver_req **reqs;
	size_t n, k;

	io_free(&c->io);
	event_del(c->batch);
	n = conn_take_done(c, &reqs);
	for (k = 0; k < n; k++)
		req_free(reqs[k]);
	free(reqs);
	if (c->nactive == 0)
		conn_free(c);
}

/* After requests arrived or finished: send the replies that are due,
 * arm the batching window, or end the connection. */
static void
conn_settle(struct deliver_conn *c)
{
	if (c->io == NULL) {
		conn_close(c);
		return;
	}
	if (c->ndone > 0) {
		if (agent->commit == NULL || agent->batch_delay_us <= 0 ||
		    c->ndone >= agent->batch_limit || service_draining()) {
			event_del(c->batch);
			conn_flush(c);
		} else if (!evtimer_pending(c->batch, NULL)) {
			struct timeval tv = { agent->batch_delay_us / 1000000,
			    agent->batch_delay_us % 1000000 };
			evtimer_add(c->batch, &tv);
		}
	}
	if (service_draining() && c->head == NULL &&
	    io_outlen(c->io) == 0 && io_inlen(c->io) == 0)
		conn_close(c);
}

/* Hand req to the agent (or answer it at once). */
static void
conn_start(struct deliver_conn *c, struct deliver_req *req)
{
	req->conn = c;
	if (c->tail != NULL)
		c->tail->next = req;
	else
		c->head = req;
	c->tail = req;
	c->nactive++;
	req->fd = open(req->path, O_RDONLY | O_CLOEXEC);
	if (req->fd < 0) {
		char *why = xasprintf("4.3.0 cannot open queue file: %s",
		    strerror(errno));
		deliver_req_fail(req, DELIVER_DEFER, why);
		free(why);
		deliver_req_done(req);
		return;
	}
	if (req->nrcpt == 0) {
		deliver_req_done(req);
		return;
	}
	agent->deliver(req);
}

void
deliver_req_done(struct deliver_req *req)
{
	struct deliver_conn *c = req->conn;

	if (req->done)
		panic("delivery request %s finished twice", req->id);
	req->done = 1;
	c->nactive--;
	c->ndone++;
	conn_run(c);
}

/* Take the requests qmgr sent (as many as the agent works on at once),
 * then settle. */
static void
conn_run(struct deliver_conn *c)
{
	int r = 0;

	if (c->running)
		return;
	c->running = 1;
	while (c->io != NULL && (agent->max_active <= 0 ||
	    c->nactive < agent->max_active) &&
	    (r = ipc_io_take(c->io, &c->msg)) == 1) {
		struct deliver_req *req = req_parse(&c->msg);
		if (req == NULL) {
			r = -1;
			break;
		}
		conn_start(c, req);
	}
	c->running = 0;
	if (r < 0) {
		log_warn("malformed delivery request from qmgr");
		conn_close(c);
		return;
	}
	conn_settle(c);
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct deliver_conn *c = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		conn_run(c);
		break;
	case IO_LOWAT:
		if (service_draining() && c->head == NULL)
			conn_close(c);
		break;
	default:
		conn_close(c);
		break;
	}
}

static void
on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct deliver_conn *c = arg;

	(void)fd;
	(void)what;
	conn_flush(c);
	conn_settle(c);
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct deliver_conn *c = xcalloc(1, sizeof(*c));

	(void)sa;
	(void)salen;
	(void)arg;
	ipc_msg_init(&c->msg, 0);
	c->io = io_new(fd, on_io, c);
	c->batch = evtimer_new(io_base(), on_batch, c);
	c->next = conns;
	conns = c;
}

static void
on_drain(void *arg)
{
	struct deliver_conn *c, *next;

	(void)arg;
	/* idle connections: close them so qmgr reconnects to the new
	 * generation; busy ones end once their replies are written */
	for (c = conns; c != NULL; c = next) {
		next = c->next;
		if (c->io != NULL && c->head == NULL &&
		    io_outlen(c->io) == 0)
			conn_close(c);
	}
	if (agent->drain != NULL)
		agent->drain();
}

int
deliver_agent_main(int argc, char **argv, struct deliver_agent *a)
{
	agent = a;
	service_init(argc, argv, a->role != NULL ? a->role : argv[0]);
	if (a->setup != NULL)
		a->setup(a);
	service_drop_privileges();
	service_on_drain(on_drain, NULL);
	service_listen(on_accept, NULL, a->sessions > 0 &&
	    a->sessions < 10000 ? a->sessions : 1);
	return service_run();
}
