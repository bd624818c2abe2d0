/*
 * login_plain.h - the SASL PLAIN response (RFC 4616) as imap-login
 * (AUTHENTICATE PLAIN) and pop3-login (AUTH PLAIN) receive it: base64 of
 * "authzid NUL authcid NUL passwd".  Decoding and checks are lib-auth's
 * (sasl_b64_decode, sasl_plain_parse), the ones smtpd's AUTH PLAIN uses;
 * this adds the "*" abort and one result per reply the two protocols
 * give.
 *
 * Every byte handled here comes from an unauthenticated network client.
 * The function is pure and bounded by the output buffer's max; unit tests
 * in test-login-plain.c, fuzzed by fuzz/fuzz-login-plain.c.
 */
#ifndef TEMPEST_LOGIN_PLAIN_H
#define TEMPEST_LOGIN_PLAIN_H

#include "buf.h"

enum login_plain_result {
	LOGIN_PLAIN_OK,
	LOGIN_PLAIN_ABORTED,    /* the client answered "*" */
	LOGIN_PLAIN_BAD_BASE64, /* not base64 (sasl_b64_decode), or empty */
	LOGIN_PLAIN_MALFORMED,  /* not two NULs (sasl_plain_parse -1) */
	LOGIN_PLAIN_REFUSED,    /* a user name or password sasl_plain_parse
	                           refuses (empty, too long, ':', space), or
	                           an authzid other than the authcid */
};

/* Decode resp (one line, NUL-terminated) into msg, which the caller has
 * initialised (its max bounds the decoded size) and frees.  On
 * LOGIN_PLAIN_OK, *authcid_r and *passwd_r point into msg. */
enum login_plain_result login_plain_decode(const char *resp, struct buf *msg,
    const char **authcid_r, const char **passwd_r);

#endif
