/*
 * smtp_parse.h - pure parsers for the SMTP server's untrusted input:
 * command lines, RFC 5321 paths (<local@domain>) and the ESMTP parameters
 * of MAIL FROM and RCPT TO.  No I/O, no allocation beyond the struct bufs
 * passed in (each with its own hard maximum).  Covered by test-smtp-parse
 * and fuzz/fuzz-smtp.c.
 */
#ifndef TEMPEST_SMTP_PARSE_H
#define TEMPEST_SMTP_PARSE_H

#include <stddef.h>
#include "buf.h"

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_BDAT, SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN,
	SMTP_HELP, SMTP_STARTTLS, SMTP_AUTH, SMTP_ETRN,
	SMTP_XNONSMTP,          /* GET/POST/CONNECT...: an HTTP client */
};

#define SMTP_PATH_MAX 512       /* > RFC 5321 path limit of 256 */
#define SMTP_LOCAL_MAX 256
#define SMTP_DOMAIN_MAX 255

/* Split a command line (terminator removed) into verb and argument
 * string.  *args_r points into line (after one space, may be ""). */
enum smtp_verb smtp_parse_verb(const char *line, size_t len, const char **args_r);
const char *smtp_verb_name(enum smtp_verb v);

struct smtp_path {
	struct buf addr;        /* "local@domain" as written, "" for <> */
	size_t at;              /* index of the separating '@' (0 if none) */
	int utf8;               /* contains non-ASCII bytes */
	int quoted;             /* local part is a quoted string */
};

void smtp_path_init(struct smtp_path *p);
void smtp_path_free(struct smtp_path *p);

enum {
	SMTP_PATH_ALLOW_NULL = 1,       /* MAIL FROM:<> */
	SMTP_PATH_ALLOW_UTF8 = 2,       /* SMTPUTF8 given */
	SMTP_PATH_STRICT = 4,           /* require <> (strict_rfc821_envelopes) */
	SMTP_PATH_ALLOW_BARE = 8,       /* local part alone (postmaster) */
};

/*
 * Parse "FROM:<path> params" or "TO:<path> params": `keyword` is "FROM"
 * or "TO".  On success returns 0, fills *p (source route stripped) and
 * sets *params_r to the ESMTP parameters (may be "").  On failure returns
 * -1 with a static reason in *error_r ("5.5.4 ..." / "5.1.7 ...").
 */
int smtp_parse_path_arg(const char *args, const char *keyword, int flags,
    struct smtp_path *p, const char **params_r, const char **error_r);

/* Parse "local@domain" (no brackets) alone, e.g. from sendmail args. */
int smtp_parse_address(const char *s, int flags, struct smtp_path *p,
    const char **error_r);

/* ESMTP parameters of MAIL FROM. */
struct smtp_mail_params {
	long long size;         /* -1 if absent */
	int body_8bit;          /* BODY=8BITMIME */
	int body_binary;        /* BODY=BINARYMIME */
	int smtputf8;
	int ret;                /* 0 none, 1 FULL, 2 HDRS */
	char envid[101];        /* xtext-decoded; "" if absent */
	char auth[SMTP_PATH_MAX + 1];
};

/* DSN NOTIFY bits. */
enum { DSN_NOTIFY_NEVER = 1, DSN_NOTIFY_SUCCESS = 2, DSN_NOTIFY_FAILURE = 4,
       DSN_NOTIFY_DELAY = 8 };

struct smtp_rcpt_params {
	int notify;             /* 0 = not given */
	char orcpt[SMTP_PATH_MAX + 1];  /* "rfc822;addr" decoded; "" if absent */
};

int smtp_parse_mail_params(const char *params, struct smtp_mail_params *mp,
    const char **error_r);
int smtp_parse_rcpt_params(const char *params, struct smtp_rcpt_params *rp,
    const char **error_r);

/*
 * The writers of what the parsers above read: append to b the DSN,
 * BODY and SMTPUTF8 parameters of mp (not SIZE or AUTH), or the NOTIFY
 * and ORCPT of rp, each as " KEY=value" (xtext where RFC 3461 wants
 * it); nothing for parameters not given.  For re-sending an envelope as
 * it was received (the quarantine's envelope column).
 */
void smtp_mail_params_format(struct buf *b, const struct smtp_mail_params *mp);
void smtp_rcpt_params_format(struct buf *b, const struct smtp_rcpt_params *rp);
/* Append RFC 3461 xtext of s to b. */
void smtp_xtext_encode(struct buf *b, const char *s);

/* Decode RFC 3461 xtext into dst (NUL-terminated); -1 if invalid, too long,
 * or if it decodes to a control character (CR, LF, TAB, NUL, DEL). */
int smtp_xtext_decode(const char *s, size_t len, char *dst, size_t dstlen);

#endif
