/*
 * smtp_mime.h - 8BITMIME -> 7bit downgrade for servers that do not offer
 * 8BITMIME (RFC 6152 section 3, as Postfix's smtp(8) does it): every
 * MIME leaf part whose body has 8-bit bytes is re-encoded as
 * quoted-printable and its Content-Transfer-Encoding header replaced;
 * multipart and message/rfc822 containers are walked (nested, bounded
 * depth) and labelled 7bit.  Headers themselves are left alone.  The
 * structure is lib-mail's (mail_mime.h; rules in doc/mime.md).
 *
 * Untrusted input: the whole message content (from the queue file, i.e.
 * from the original sender); every buffer is bounded.
 */
#ifndef TEMPEST_SMTP_MIME_H
#define TEMPEST_SMTP_MIME_H

#include <stddef.h>

#include "buf.h"

#define SMTP_MIME_MAX_DEPTH 16
/* More parts than this: the message is not converted (-1). */
#define SMTP_MIME_MAX_PARTS 100000

/* Convert msg (LF line ends) into out (appended; out->max bounds it).
 * 0, or -1 when out would exceed its max or the message has
 * SMTP_MIME_MAX_PARTS parts or more (out is then incomplete). */
int smtp_mime_downgrade(const char *msg, size_t len, struct buf *out);

#endif
