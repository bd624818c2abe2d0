/*
 * mail_mime.h - the MIME structure of a message (RFC 2045/2046): one
 * pure, bounded parser of untrusted bytes shared by the spam analysis
 * (lib-spam/mime) and IMAP FETCH (lib-imap/imap_message).
 *
 * It finds each entity's header block, Content-Type (type, subtype,
 * parameters), Content-Transfer-Encoding and Content-Disposition
 * (token, parameters), splits multiparts at their boundaries and enters
 * message/rfc822 (and message/global) bodies, and records offsets: header
 * start, body start and end, body lines.  It decodes nothing (see
 * mail_decode.h) and allocates only the part array and the parsed
 * strings.
 *
 * Rules where real mail is broken (doc/mime.md):
 *  - lines end with LF or CRLF; a CR alone is not a line end;
 *  - a part's header block ends at its first empty line, or at the end
 *    of the part (then the body is empty);
 *  - a delimiter is a line "--boundary" or "--boundary--" followed only
 *    by blanks; the line end before it belongs to it; any such line is a
 *    delimiter, even right after the previous one (an empty part);
 *  - a multipart without its closing delimiter ends at the end of its
 *    enclosing entity (MAIL_PART_UNCLOSED), its last part too;
 *  - an absent Content-Type is text/plain (message/rfc822 in a
 *    multipart/digest); an invalid one is text/plain
 *    (MAIL_PART_DEFAULT_TYPE in both cases);
 *  - parameter values are quoted strings or runs of bytes up to ';',
 *    blanks, controls, '"' or '(' (unquoted values with tspecials such as
 *    '=' are common); junk between parameters is skipped up to the next
 *    ';'.  No RFC 2231 continuations or charsets (names keep their '*').
 *
 * Limits (struct mail_mime_limits): an entity deeper than max_depth, past
 * max_parts in document order, or past max_children in its multipart is
 * not parsed; its parent counts it in `skipped`.
 */
#ifndef TEMPEST_MAIL_MIME_H
#define TEMPEST_MAIL_MIME_H

#include <stddef.h>

/* Longest boundary accepted (RFC 2046 says 70). */
#define MAIL_BOUNDARY_MAX 200
/* Parameters kept per header field. */
#define MAIL_PARAMS_MAX 64

struct mail_param {
	char *name, *value;
};

#define MAIL_PART_MULTIPART     0x01    /* type multipart */
#define MAIL_PART_MESSAGE       0x02    /* message/rfc822 or message/global */
#define MAIL_PART_DEFAULT_TYPE  0x04    /* Content-Type absent or invalid */
#define MAIL_PART_NO_BOUNDARY   0x08    /* multipart without a usable boundary */
#define MAIL_PART_UNCLOSED      0x10    /* multipart without closing delimiter */

struct mail_part {
	size_t hdr_off, hdr_len;        /* header block, empty line included */
	size_t body_off, body_len;      /* body; body_off + body_len = end */
	size_t body_lines;              /* lines of the body (a last line
	                                 * without line end counts); 0 for
	                                 * multiparts */
	unsigned depth;                 /* 0 = the message */
	int parent, next, child;        /* indexes in parts[], -1 = none;
	                                 * child: first part of a multipart,
	                                 * or the encapsulated message */
	unsigned nchildren;
	unsigned skipped;               /* children not parsed (limits) */
	unsigned flags;                 /* MAIL_PART_* */
	char *type, *subtype;           /* as written, or the default */
	struct mail_param *params;      /* Content-Type parameters (also
	                                 * when the type is invalid) */
	unsigned nparams;
	char *encoding;                 /* Content-Transfer-Encoding token
	                                 * as written, or NULL */
	char *disposition;              /* Content-Disposition token or NULL */
	struct mail_param *dparams;     /* its parameters */
	unsigned ndparams;
};

struct mail_mime_limits {
	unsigned max_depth;             /* deepest entity (0 = the message) */
	unsigned max_parts;             /* entities in all */
	unsigned max_children;          /* parts per multipart, 0 = no limit */
};

struct mail_mime {
	struct mail_part *parts;        /* in document order; [0] = message */
	unsigned nparts;
};

/* Parse data[0..len).  Never fails: any bytes are a (maybe odd)
 * message, and parts[0] always exists.  data may be NULL when len is 0
 * (an empty struct buf).  Free with mail_mime_free(). */
void mail_mime_parse(struct mail_mime *m, const char *data, size_t len,
    const struct mail_mime_limits *lim);
void mail_mime_free(struct mail_mime *m);

/* The index just past part i's subtree (parts are in document order, so
 * its descendants are the run of deeper parts after it). */
unsigned mail_mime_subtree_end(const struct mail_mime *m, unsigned i);

/* Value of parameter `name` (case-insensitive, the first one) or NULL. */
const char *mail_param_get(const struct mail_param *v, unsigned n,
    const char *name);

/*
 * Parse a structured field value "token[/token] *(; name=value)" (the
 * rules above; comments skipped).  *first_r and, with with_subtype,
 * *second_r get the leading token(s), malloc'ed, both NULL when they are
 * missing or invalid (the parameters are parsed anyway, from the first
 * ';'); the parameters go to *v_r / *n_r.  first_r may be NULL.  Free
 * the parameters with mail_params_free().
 */
void mail_params_parse(const char *value, int with_subtype, char **first_r,
    char **second_r, struct mail_param **v_r, unsigned *n_r);
void mail_params_free(struct mail_param *v, unsigned n);

#endif
