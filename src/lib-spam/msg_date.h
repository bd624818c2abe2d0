/* msg_date.h - dates of a message as SpamAssassin reads them: the Date:
 * header against the times in its Received: lines, for its
 * check_for_shifted_date (DATE_IN_PAST_*, DATE_IN_FUTURE_*).
 *
 * msg_date_parse() is a function of its text alone (untrusted: a header
 * value, the first MSG_DATE_MAX bytes read).  Its patterns are compiled
 * once per process (not for use from several threads). */
#ifndef TEMPEST_MSG_DATE_H
#define TEMPEST_MSG_DATE_H

#include <stddef.h>
#include <stdint.h>

struct mime_msg;

#define MSG_DATE_MAX 1024

/* A date in any of the forms SpamAssassin's parse_rfc822_date() takes
 * ("Tue, 1 Jul 2003 10:52:37 +0200", "1 Jul 03 10:52 PDT", ctime's "Jul
 * 1 10:52:37 2003"), its fudging included (out-of-range fields moved
 * into range, years clamped to 1970..2037, an unknown zone as -0000):
 * 0 with the time in seconds since the epoch, -1 when it has no date. */
int msg_date_parse(const char *s, size_t n, int64_t *t);

/* Date: (Resent-Date: first) minus the closest of the Received: times,
 * in seconds, as SpamAssassin's _check_date_diff computes it (the oldest
 * Received: time is passed over when it equals the Date:); 0 when
 * either is missing. */
int64_t msg_date_diff(const struct mime_msg *m);

/* mime_unfold() of a raw header value, malloc'ed, at most 4 KB (its
 * Received: date pattern wants single blanks between the fields). */
char *sa_unfold(const char *raw);

#endif
