/*
 * smtpd_filter.h - smtpd's call to the content filter service before the
 * final reply to DATA/BDAT (see smtpd_filter.c, doc/filter-protocol.md).
 */
#ifndef TEMPEST_SMTPD_FILTER_H
#define TEMPEST_SMTPD_FILTER_H

struct session;

/* Scan the finished (not yet committed) queue file of s.  0: go on and
 * commit s->cl (possibly replaced by a tagged copy); 1: the reply has
 * been sent and the message must not be queued (rejected, quarantined
 * or tempfailed). */
int smtpd_filter_message(struct session *s);

#endif
