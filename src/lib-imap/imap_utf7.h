/*
 * imap_utf7.h - modified UTF-7 mailbox names (RFC 3501 5.1.3).
 *
 * Untrusted bytes: mailbox names from the client.  Names are stored on
 * disk in their modified UTF-7 form (as Dovecot's Maildir++ does); this
 * module validates them strictly (printable ASCII, correct base64, valid
 * UTF-16 with paired surrogates, no needlessly encoded ASCII) and decodes
 * them to UTF-8 for display and searching.
 */
#ifndef TEMPEST_IMAP_UTF7_H
#define TEMPEST_IMAP_UTF7_H

#include "buf.h"

/* Decode to UTF-8 appended to out.  0, or -1 if the name is not valid
 * modified UTF-7 (out then holds garbage). */
int imap_utf7_to_utf8(const char *in, struct buf *out);
/* Encode a UTF-8 name (UTF8=ACCEPT clients) as modified UTF-7 appended
 * to out.  0, or -1 on invalid UTF-8 or a control character. */
int imap_utf8_to_utf7(const char *in, struct buf *out);
/* 1 if valid modified UTF-7, else 0. */
int imap_utf7_is_valid(const char *in);

#endif
