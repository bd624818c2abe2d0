/*
 * imap_message.h - MIME structure of a message for FETCH: BODYSTRUCTURE,
 * BODY, ENVELOPE and section extraction (BODY[1.2.HEADER.FIELDS (..)]).
 *
 * Untrusted bytes: the stored message (anyone can mail anything).  The
 * input is one buffer with CRLF line ends (the session converts the
 * Maildir file's LF first); parsing is bounded in nesting depth and part
 * count, offsets never leave the buffer, and everything written out is
 * quoted or sent as a literal by imap_write_string().
 */
#ifndef TEMPEST_IMAP_MESSAGE_H
#define TEMPEST_IMAP_MESSAGE_H

#include <stddef.h>

#include "buf.h"

#define IMAP_MIME_MAX_DEPTH 32
#define IMAP_MIME_MAX_PARTS 2000

struct imap_param {
	char *name, *value;
};

struct imap_part {
	size_t hdr_off, hdr_len;    /* header incl. the blank line */
	size_t body_off, body_len;
	size_t body_lines;
	char *type, *subtype;       /* as written (defaults text/plain) */
	struct imap_param *params;
	unsigned nparams;
	char *id, *description, *encoding, *md5, *language, *location;
	char *disposition;
	struct imap_param *dparams;
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

/* Unfolded value of the first header field `name` in hdr (0 found, -1). */
int imap_header_get(const char *hdr, size_t len, const char *name,
    struct buf *value);

/* Write s as an IMAP string: quoted when safe, otherwise a literal.
 * NULL writes NIL. */
void imap_write_nstring(struct buf *out, const char *s, size_t len);
void imap_write_cstring(struct buf *out, const char *s);   /* NIL if NULL */

/* Decoders for BINARY and SEARCH (append to out; -1 when out is full). */
int imap_decode_base64(const char *in, size_t len, struct buf *out);
int imap_decode_qp(const char *in, size_t len, struct buf *out);

#endif
