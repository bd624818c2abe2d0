/*
 * mail_decode.h - the Content-Transfer-Encoding decoders (RFC 2045
 * base64 and quoted-printable), lenient as mail readers must be, shared
 * by every consumer (spam analysis, RFC 2047 words, IMAP BINARY).  Pure;
 * the input is untrusted message bytes, the output a bounded buf.
 */
#ifndef TEMPEST_MAIL_DECODE_H
#define TEMPEST_MAIL_DECODE_H

#include <stddef.h>

#include "buf.h"

/*
 * base64: blanks and line ends are skipped; other bytes outside the
 * alphabet are skipped and counted in *bad_r; decoding stops at the first
 * '=' (any digit after it counts as bad), and a dangling digit at the end
 * counts as bad.  Appends what fits; 0, or -1 when out is full.
 * bad_r may be NULL.
 */
int mail_base64_decode(const char *s, size_t n, struct buf *out,
    unsigned *bad_r);

/*
 * quoted-printable: "=XX" (either case) is a byte; '=' followed by blanks
 * and a line end, or by the end of the input, is a soft line break; any
 * other '=' is kept and counted in *bad_r; in a body, blanks before a
 * line end are dropped (RFC 2045 6.7 (3)).  header: RFC 2047 "Q" words
 * ('_' is a space, no soft line breaks).  Appends what fits; 0, or -1
 * when out is full.  bad_r may be NULL.
 */
int mail_qp_decode(const char *s, size_t n, struct buf *out, int header,
    unsigned *bad_r);

#endif
