/*
 * imap_date.h - IMAP date and date-time values and RFC 5322 Date headers.
 *
 * Untrusted bytes: dates in APPEND/SEARCH arguments and Date: headers of
 * stored messages.  Parsers are strict about ranges; times are UTC-based.
 */
#ifndef TEMPEST_IMAP_DATE_H
#define TEMPEST_IMAP_DATE_H

#include <time.h>

/* "1-Feb-1994" -> midnight UTC of that day.  0 or -1. */
int imap_date_parse(const char *s, time_t *r);
/* "17-Jul-1996 02:44:25 -0700" (day may be " 7").  0 or -1. */
int imap_datetime_parse(const char *s, time_t *r);
/* Format t as an IMAP date-time in UTC ("+0000"); buf >= 32 bytes. */
void imap_datetime_format(time_t t, char *buf, size_t len);
/* RFC 5322 date ("Tue, 1 Jul 2003 10:52:37 +0200", lenient). 0 or -1. */
int imap_rfc822_date_parse(const char *s, time_t *r);

#endif
