/*
 * login_plain.h - the SASL PLAIN response (RFC 4616) as imap-login
 * (AUTHENTICATE PLAIN) and pop3-login (AUTH PLAIN) receive it: strict
 * base64 of "authzid NUL authcid NUL passwd".
 *
 * Every byte handled here comes from an unauthenticated network client.
 * The function is pure and bounded by the output buffer's max; unit tests
 * in test-login-plain.c, fuzzed by fuzz/fuzz-login-plain.c.
 *
 * smtpd decodes AUTH PLAIN with lib-auth/sasl, which is more lenient
 * about base64 padding and stricter about names (SASL_FIELD_MAX, no ':'
 * or white space); IMAP and POP3 keep the rules they have always had and
 * leave length limits to the daemons.
 */
#ifndef TEMPEST_LOGIN_PLAIN_H
#define TEMPEST_LOGIN_PLAIN_H

#include "buf.h"

enum login_plain_result {
	LOGIN_PLAIN_OK,
	LOGIN_PLAIN_ABORTED,    /* the client answered "*" */
	LOGIN_PLAIN_BAD_BASE64, /* not strict base64 (padded), or empty */
	LOGIN_PLAIN_MALFORMED,  /* fewer than two NULs */
	LOGIN_PLAIN_REFUSED,    /* a NUL in the password, or an authzid
	                           other than the authcid (no proxy login) */
};

/* Decode resp (one line, NUL-terminated) into msg, which the caller has
 * initialised (its max bounds the decoded size) and frees.  On
 * LOGIN_PLAIN_OK, *authcid_r and *passwd_r point into msg. */
enum login_plain_result login_plain_decode(const char *resp, struct buf *msg,
    const char **authcid_r, const char **passwd_r);

#endif
