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

#endif
