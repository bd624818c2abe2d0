/*
 * filter_proto.h - the content filter protocol between smtpd (client)
 * and the `filter` service (doc/filter-protocol.md), on lib/ipc frames
 * over the service's UNIX socket (queue_directory/private/NAME).
 *
 * Request FILTER_REQ, with the queue file's descriptor attached
 * (SCM_RIGHTS, opened read-only by the client):
 *   S queue id   S sender   S recipients (LF separated)   S client address
 *   I content offset in the file   I content length
 *   I deadline (filter_clock_ms() by which smtpd stops waiting; 0 = none)
 *   S envelope parameters, kept with a quarantine entry for its release:
 *     LF-terminated lines "FROM:<sender> PARAMS" (if MAIL FROM had RET,
 *     ENVID, BODY=8BITMIME or SMTPUTF8) and "TO:<rcpt> PARAMS" (each
 *     recipient with NOTIFY or ORCPT), as MAIL/RCPT arguments; a request
 *     of an earlier version ends before it (read as "")
 * Reply FILTER_REPLY:
 *   I action (enum filter_action)   S header lines to prepend ("" or
 *   lines each ending in LF)   S subject tag ("" = none)   S SMTP reply
 *   (for reject/quarantine)   S score   S quarantine id ("" = none)
 *   I number of groups (0 unless the action is FILTER_SPLIT), each:
 *   I action (FILTER_TAG or FILTER_QUARANTINE)   S header lines
 *   S subject tag   S quarantine id   S recipients (LF separated)
 * FILTER_SPLIT: recipients whose thresholds call for different
 * treatment (spam_split_recipients) are split into groups; every
 * recipient of the request is in exactly one group (smtpd checks that:
 * a filter must not be able to add a recipient).
 * The reply is untrusted input to smtpd only in the sense that it is
 * bounds-checked by ipc; the filter itself reads hostile mail.
 */
#ifndef TEMPEST_FILTER_PROTO_H
#define TEMPEST_FILTER_PROTO_H

#include <stddef.h>

#define FILTER_REQ   0x46494c31u        /* "FIL1" */
#define FILTER_REPLY 0x46494c52u        /* "FILR" */

enum filter_action {
	FILTER_ACCEPT = 0,      /* deliver unchanged */
	FILTER_TAG = 1,         /* deliver with the headers (and subject tag) */
	FILTER_QUARANTINE = 2,  /* stored in the quarantine; do not deliver */
	FILTER_REJECT = 3,      /* refuse with the reply (5xx) */
	FILTER_TEMPFAIL = 4,    /* refuse with the reply (4xx) */
	FILTER_SPLIT = 5,       /* per group of recipients (groups[]) */
};

/* At most this many groups in a reply. */
#define FILTER_MAX_GROUPS 64
/* The recipients of one request (each with its LF) stay within this many
 * bytes: smtpd answers 452 4.5.3 to a RCPT past it while a filter is
 * configured (RFC 5321 4.5.3.1.10: the client sends the rest in another
 * transaction), so the request and a split reply (every recipient once
 * more, beside the groups' headers) fit in one ipc frame (IPC_MAX). */
#define FILTER_RCPTS_MAX (128 * 1024)

struct filter_group {
	int action;             /* FILTER_TAG (deliver a copy) or FILTER_QUARANTINE */
	char *headers, *subject_tag, *quarantine_id;
	char *recipients;       /* LF separated */
};

struct filter_request {
	const char *queue_id, *sender, *recipients, *client;
	const char *envelope;   /* NULL = "" */
	int fd;
	long long offset, length;
};

struct filter_reply {
	int action;
	char *headers, *subject_tag, *reply, *score, *quarantine_id;
	struct filter_group *groups;
	size_t ngroups;
};

struct ipc_msg;

/* The clock of the request's deadline, in milliseconds: CLOCK_MONOTONIC,
 * which smtpd and the filter (local processes of one master, on one
 * kernel) share and which a step of the wall clock does not move, as
 * smtpd's own timers do not. */
long long filter_clock_ms(void);
/* Connect to the filter and send the request (with the deadline now +
 * timeout_ms, after which the filter must not store the message); *fd_r is the connection to
 * read the reply from (event loops watch it).  0, or -1 with *error_r. */
int filter_send(const char *socket_path, const struct filter_request *req,
    int timeout_ms, int *fd_r, const char **error_r);
/* Decode a FILTER_REPLY frame into *rep.  0, or -1 with *error_r. */
int filter_parse_reply(struct ipc_msg *m, struct filter_reply *rep,
    const char **error_r);
/* Blocking: ask the filter listening at socket_path; waits at most timeout_ms.
 * 0 with *rep filled (free with filter_reply_free), or -1 with a static
 * reason in *error_r (filter down, timeout, bad reply). */
int filter_call(const char *socket_path, const struct filter_request *req,
    int timeout_ms, struct filter_reply *rep, const char **error_r);
void filter_reply_free(struct filter_reply *rep);
/* A FILTER_SPLIT reply against the request's recipients rcpts[0..n):
 * every recipient must be named by exactly one group, no group may name
 * another address or none (a filter must not be able to add a
 * recipient, nor deliver one twice).  group_r[i] = the index of the
 * group of rcpts[i].  0, or -1 with a static reason in *error_r.  Pure. */
int filter_split_check(const char *const *rcpts, size_t n,
    const struct filter_reply *rep, size_t *group_r, const char **error_r);

#endif
