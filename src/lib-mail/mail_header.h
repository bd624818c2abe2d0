/*
 * mail_header.h - RFC 5322 header blocks: splitting into fields,
 * unfolding, finding a field by name.  Pure functions over untrusted
 * message bytes (anyone can send anything); offsets never leave the
 * block they were given.
 *
 * Line ends are LF or CRLF; a CR alone is an ordinary byte (RFC 5322
 * has no other line end).  A header block ends after its first empty
 * line ("\n" or "\r\n") or at the end of the data.
 */
#ifndef TEMPEST_MAIL_HEADER_H
#define TEMPEST_MAIL_HEADER_H

#include <stddef.h>

#include "buf.h"

/* Bytes of one unfolded header value kept by mail_header_get()'s
 * callers and by the MIME parser (Content-Type & co). */
#define MAIL_HEADER_VALUE_MAX (64 * 1024)

struct mail_field {
	size_t start, end;      /* the item: its lines, line ends included */
	size_t name_len;        /* 0: a line that is not a field */
	size_t value, value_end; /* the value: after ':' and the blanks
	                          * that follow it, before the final line
	                          * end (folding kept) */
	unsigned long_lines;    /* physical lines over 999 bytes (with
	                         * their line end) */
};

/*
 * The next item of the header block s[0..n) at *pos.  Returns 1 with *f
 * set and *pos after the item, or 0 at the end of the block with *pos at
 * the body (after the empty line, or n).  A field is a line
 * "name *WSP ':' value" (the name has no ':', blank or LF) and its
 * continuation lines (lines that start with a blank).  Any other line (no
 * colon, an empty name, a continuation line with no field before it) is
 * an item of its own with name_len 0.
 */
int mail_header_next(const char *s, size_t n, size_t *pos,
    struct mail_field *f);

/* 1 if item f of the block s is a line that is neither a field nor a
 * continuation line: the body begins there, with no empty line before
 * it (as cleanup reads a message). */
int mail_field_is_body_line(const char *s, const struct mail_field *f);

/* Length of a leading mbox "From " line of s[0..n), its line end
 * included (all of s when it has none); 0 when s does not start with
 * one.  The header block begins after it. */
size_t mail_mbox_from_len(const char *s, size_t n);

/* Offset of the body of the entity s[0..n): after the empty line that
 * ends its header block, or n when there is none. */
size_t mail_header_end(const char *s, size_t n);

/* Append s[0..n) without its CR and LF bytes (unfolding).  Appends what
 * fits; -1 when out is full. */
int mail_unfold(const char *s, size_t n, struct buf *out);

/* The value of field f of the block hdr, unfolded, trailing blanks
 * removed, into value (reset first; cut at its max). */
void mail_field_value(const char *hdr, const struct mail_field *f,
    struct buf *value);

/* Unfolded value of the first field named `name` (case-insensitive) in
 * the header block hdr[0..len), trailing blanks removed, into value
 * (reset first).  0 found, -1 not found. */
int mail_header_get(const char *hdr, size_t len, const char *name,
    struct buf *value);

/* Append s[0..n) to out, or as much of it as fits; -1 if cut. */
int mail_append_some(struct buf *out, const char *s, size_t n);

#endif
