/*
 * qmgr.h - queue manager internals shared between qmgr.c and bounce.c.
 */
#ifndef TEMPEST_QMGR_H
#define TEMPEST_QMGR_H

struct qfile;

/* Return undeliverable recipients to the sender as an RFC 3464 report.
 * lines: "rcpt\torcpt\tstatus text\n" per failed recipient. */
void qmgr_bounce(struct qfile *qf, const char *lines);
/* Remember why recipients were deferred (for mailq): defer/ID. */
void qmgr_defer_log(struct qfile *qf, const char *lines);

/* Send a delay warning (RFC 3464 Action: delayed) for the deferred
 * recipients in lines (same format as qmgr_bounce). */
void qmgr_delay_warn(struct qfile *qf, const char *lines);

/* Tell the sender of successful deliveries (RFC 3461 NOTIFY=SUCCESS;
 * RFC 3464 Action: delivered, relayed or expanded), one notice for all
 * the lines: "action\trcpt\torcpt\tstatus text\n" per recipient.
 * Nothing for the null sender. */
void qmgr_success(struct qfile *qf, const char *lines);

/* (Re)open transport_maps. */
void qmgr_route_init(void);
/* Route a recipient: 0 with the master.cf service name of its transport
 * and its next hop (malloc'ed), 1 with a "5.x.x text" from an error:
 * transport, -1 with a "4.x.x text" on a temporary lookup failure. */
int qmgr_route(const char *addr, char **transport_r, char **nexthop_r,
    char **error_r);

#endif
