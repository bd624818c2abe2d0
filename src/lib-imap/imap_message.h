/*
 * imap_message.h - MIME structure of a message for FETCH: BODYSTRUCTURE,
 * BODY, ENVELOPE and section extraction (BODY[1.2.HEADER.FIELDS (..)]).
 *
 * Untrusted bytes: the stored message (anyone can mail anything).  The
 * input is one buffer with CRLF line ends (the session converts the
 * Maildir file's LF first); lib-mail's mail_mime parses it, bounded in
 * nesting depth and part count, offsets never leave the buffer, and
 * everything written out is quoted or sent as a literal by
 * imap_write_nstring().
 */
#ifndef TEMPEST_IMAP_MESSAGE_H
#define TEMPEST_IMAP_MESSAGE_H

#include <stddef.h>

#include "buf.h"
#include "mail_mime.h"

/* lib-mail limits of the parse (an entity at the depth limit is a leaf). */
#define IMAP_MIME_MAX_DEPTH 32
#define IMAP_MIME_MAX_PARTS 2000
#define IMAP_MIME_MAX_CHILDREN 1000

struct imap_part {
	size_t hdr_off, hdr_len;    /* header incl. the blank line */
	size_t body_off, body_len;
	size_t body_lines;
	char *type, *subtype;       /* as written (defaults text/plain) */
	struct mail_param *params;
	unsigned nparams;
	char *id, *description, *encoding, *md5, *language, *location;
	char *disposition;
	struct mail_param *dparams;
	unsigned ndparams;
	int multipart, rfc822;
	struct imap_part *children; /* multipart */
	unsigned nchildren;
	struct imap_part *msg;      /* message/rfc822: the encapsulated message */
};

/* Parse the message data[0..len).  Never fails: broken MIME becomes
 * text/plain leaves.  Free with imap_part_free(). */
struct imap_part *imap_message_parse(const char *data, size_t len);
void imap_part_free(struct imap_part **p);

/* BODYSTRUCTURE (extended) or BODY (not extended) of the message. */
void imap_write_bodystructure(struct buf *out, const char *data,
    const struct imap_part *root, int extended);
/* ENVELOPE of a header block. */
void imap_write_envelope(struct buf *out, const char *hdr, size_t len);

/*
 * The bytes a section spec (what is inside BODY[...]) names, e.g. "",
 * "HEADER", "1.2", "2.HEADER.FIELDS (From To)", "1.MIME", "TEXT".
 * Results that are not a plain slice of data are built in tmp.
 * binary: decode the part's Content-Transfer-Encoding (BINARY[]).
 * 0 on success, -1 for an invalid or nonexistent section (error_r set),
 * -2 for BINARY on an unknown encoding.
 */
int imap_section_get(const char *data, size_t len,
    const struct imap_part *root, const char *section, int binary,
    struct buf *tmp, const char **res_r, size_t *reslen_r,
    const char **error_r);

/* Write s as an IMAP string: quoted when safe, otherwise a literal.
 * NULL writes NIL. */
void imap_write_nstring(struct buf *out, const char *s, size_t len);
void imap_write_cstring(struct buf *out, const char *s);   /* NIL if NULL */

#endif
