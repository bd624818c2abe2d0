/*
 * smtp_reply.h - pure parsers for what an SMTP server says to our client:
 * reply lines ("250-text", "250 text"), enhanced status codes (RFC 3463)
 * and EHLO keywords.  Every input is a bounded line from a remote server.
 */
#ifndef TEMPEST_SMTP_REPLY_H
#define TEMPEST_SMTP_REPLY_H

#include <stddef.h>

/* EHLO features */
#define SMTP_FEAT_PIPELINING    0x01
#define SMTP_FEAT_SIZE          0x02
#define SMTP_FEAT_8BITMIME      0x04
#define SMTP_FEAT_STARTTLS      0x08
#define SMTP_FEAT_DSN           0x10
#define SMTP_FEAT_SMTPUTF8      0x20
#define SMTP_FEAT_ENHANCED      0x40

/* Parse one reply line of len bytes (no CR LF).  0 with *code_r
 * (200..599), *more_r (1 for "NNN-") and *text_r (the text after the
 * separator, possibly ""), or -1 for a malformed line. */
int smtp_reply_line(const char *line, size_t len, int *code_r, int *more_r,
    const char **text_r);
/* Length of a leading enhanced status code "c.s.d" in text (c = 2, 4 or 5,
 * s and d at most 3 digits) followed by a space or the end, else 0. */
size_t smtp_reply_dsn_len(const char *text);
/* Apply one EHLO reply text line (after the code) to *features and
 * *size_r (SIZE value, 0 if none/unlimited). */
void smtp_ehlo_keyword(const char *text, unsigned *features,
    unsigned long long *size_r);

#endif
