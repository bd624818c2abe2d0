/*
 * smtpd_filter.h - smtpd's call to the content filter service before the
 * final reply to DATA/BDAT (see smtpd_filter.c, doc/filter-protocol.md).
 */
#ifndef TEMPEST_SMTPD_FILTER_H
#define TEMPEST_SMTPD_FILTER_H

#include "smtp_parse.h"

#include <stddef.h>

struct session;

/* Start scanning the finished (not yet committed) queue file of s.
 *  0  no filter (or a failed one with spam_filter_failure_action=accept):
 *     commit s->cl now;
 *  1  the request is out: smtpd_filter_done() follows on the event loop
 *     (s->cl may then have been replaced by a tagged copy);
 * -1  the reply has been sent; the message must not be queued. */
int smtpd_filter_start(struct session *s);
/* Bytes a recipient takes in a filter request: its address and LF, and
 * its line in the envelope when it has DSN parameters. */
size_t smtpd_filter_rcpt_size(size_t addr_len, const struct smtp_rcpt_params *rp);
/* May one more recipient of size bytes (smtpd_filter_rcpt_size) join s's
 * transaction?  While a filter is configured the recipients together
 * stay within FILTER_RCPTS_MAX bytes (filter_proto.h). */
int smtpd_filter_rcpt_fits(const struct session *s, size_t size);
/* Forget an outstanding request (the session is going away). */
void smtpd_filter_cancel(struct session *s);
/* Defined by smtpd.c: continue after the verdict (queue_it: commit s->cl;
 * otherwise the reply has been sent and the message is dropped). */
void smtpd_filter_done(struct session *s, int queue_it);

#endif
