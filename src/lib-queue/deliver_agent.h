/*
 * deliver_agent.h - the skeleton every delivery agent (local, virtual,
 * smtp) runs on: the qmgr-facing side of the delivery protocol
 * (deliver_proto.h).
 *
 * The skeleton accepts qmgr's connections on the service's listener,
 * reads and checks each DELIVER_REQUEST, opens its queue file, hands it
 * to the agent, and sends one DELIVER_REPLY per request, in request
 * order, once the agent has given every recipient a status.  It owns the
 * process lifetime around that (connections per process, reload/drain,
 * qmgr going away) and the batching window: an agent with a commit step
 * (local: the fsync of each Maildir's new/) gets its finished requests
 * in batches, committed batch_delay_us after the first one or at once
 * when batch_limit have finished, and their replies go out only after
 * the commit.
 *
 * Input: ipc frames from qmgr, checked field by field (a malformed one
 * closes the connection: qmgr defers what it had sent on it).
 */
#ifndef TEMPEST_DELIVER_AGENT_H
#define TEMPEST_DELIVER_AGENT_H

#include <sys/types.h>
#include <stddef.h>

struct deliver_rcpt {
	char *addr;
	char *orcpt;            /* "rfc822;addr" or "" */
	int notify;             /* DSN_NOTIFY_* bits */
	long long offset;       /* queue record offset: unique per recipient */
	int status;             /* DELIVER_* once known, -1 pending */
	char *text;             /* "x.y.z text" once known */
};

struct deliver_conn;

/* One request from qmgr: a message and some of its recipients. */
struct deliver_req {
	char *id;               /* queue id, for log lines */
	char *path;             /* queue file as this process sees it */
	int fd;                 /* that file, read-only (always open) */
	off_t content_off;
	size_t content_len;
	long long arrival_us;
	char *sender;
	char *attrs;            /* "name=value\n"... */
	char *nexthop;          /* the string after attrs, or NULL */
	struct deliver_rcpt *rcpts;
	size_t nrcpt;
	void *ctx;              /* the agent's */
	/* the skeleton's */
	struct deliver_conn *conn;
	int done;
	struct deliver_req *next;
};

struct deliver_agent {
	/* master.cf role name for service_init(), NULL: argv[0] */
	const char *role;
	/* After the configuration is loaded, before privileges are dropped
	 * (optional): open tables, check settings, fill in the fields
	 * below. */
	void (*setup)(struct deliver_agent *a);
	/* Work on req: give each recipient a status (deliver_rcpt_set),
	 * then call deliver_req_done(req), before returning or later from
	 * the event loop. */
	void (*deliver)(struct deliver_req *req);
	/* Commit a batch (optional): the finished requests of one
	 * connection, in request order, before their replies are sent; it
	 * may still change statuses. */
	void (*commit)(struct deliver_req **reqs, size_t n);
	/* Free req->ctx (optional); also for requests that are dropped
	 * unanswered because qmgr went away. */
	void (*req_free)(struct deliver_req *req);
	/* The process started draining (reload, changed table; optional). */
	void (*drain)(void);
	/* Requests worked on at once per qmgr connection (0: any); more
	 * wait in the connection's input until one finishes. */
	int max_active;
	/* qmgr connections one process serves at once (0 counts as 1). */
	int sessions;
	/* With commit: the batching window (0: commit at once) and the
	 * number of finished requests that closes a batch at once. */
	long batch_delay_us;
	int batch_limit;
};

/* The agent's main: service_init, setup, drop privileges, serve qmgr
 * until the process drains or stops; returns the exit status. */
int deliver_agent_main(int argc, char **argv, struct deliver_agent *a);

/* Set a recipient's outcome unless it has one already. */
void deliver_rcpt_set(struct deliver_rcpt *r, int status, const char *text);
/* Every recipient of req still without an outcome gets this one. */
void deliver_req_fail(struct deliver_req *req, int status, const char *text);
/* req is finished: its reply goes out (after the batch commit, if any).
 * The agent must not touch req afterwards. */
void deliver_req_done(struct deliver_req *req);

#endif
