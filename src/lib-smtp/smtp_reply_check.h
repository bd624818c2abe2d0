/*
 * smtp_reply_check.h - is a reply line from a helper process fit to be
 * sent to an SMTP client as the reply to one command?  Used by smtpd for
 * the content filter's reply (src/smtpd/smtpd_filter.c): the filter
 * reads hostile mail, so its text is checked like input.  Pure.
 */
#ifndef TEMPEST_SMTP_REPLY_CHECK_H
#define TEMPEST_SMTP_REPLY_CHECK_H

#include <stddef.h>

/* The longest reply line passed on (RFC 5321 4.5.3.1.5: 512 octets with
 * its CRLF). */
#define SMTP_REPLY_CHECK_MAX 510

/*
 * Check that reply is one line "CCC" or "CCC text" with the reply class
 * want ('2', '4' or '5'), any enhanced status code (a digit and '.'
 * after the code) of the same class, no CR or LF, at most
 * SMTP_REPLY_CHECK_MAX bytes, and copy it to out (outsize must be more
 * than SMTP_REPLY_CHECK_MAX) with other control characters and bytes
 * >= 0x7f replaced by '?'.  0, or -1 with a static reason in *why_r
 * (out is then the empty string).
 */
int smtp_reply_check(char want, const char *reply, char *out, size_t outsize,
    const char **why_r);

#endif
