/*
 * sasl.h - the client-supplied pieces of SASL (RFC 4422) exchanges:
 * base64 (RFC 4648) and the PLAIN message (RFC 4616).
 *
 * Every byte handled here comes from an unauthenticated network client.
 * All functions are pure, bounded by the output buffer's max, and have
 * unit tests (test-sasl.c) and a fuzz target (fuzz/fuzz-sasl.c).
 */
#ifndef TEMPEST_SASL_H
#define TEMPEST_SASL_H

#include <stddef.h>

#include "buf.h"

/* Longest user name or password accepted from a client. */
#define SASL_FIELD_MAX 512

/* Decode base64 text (len bytes; no white space, '=' padding optional at
 * the end) and append the bytes to out.  0, or -1 on a character outside
 * the alphabet, misplaced padding, impossible length, or out->max. */
int sasl_b64_decode(const char *in, size_t len, struct buf *out);
/* Append the base64 encoding of n bytes to out: 0, or -1 at out->max. */
int sasl_b64_encode(const void *in, size_t n, struct buf *out);

/*
 * Split a decoded PLAIN message "authzid NUL authcid NUL passwd".  The
 * pointers point into msg (which must stay alive and be NUL-terminated at
 * len, as struct buf data is); the caller owns the
 * decoded buffer.  0; -1 with *error_r for a malformed message (other
 * than two NULs: a NUL in the password, or none); -2 with *error_r for
 * one that is refused: an authcid that sasl_name_ok() does not accept
 * (empty, too long, ':', white space), a password or authzid longer than
 * SASL_FIELD_MAX, or an authzid that differs from the authcid (no proxy
 * authorization).
 */
int sasl_plain_parse(const char *msg, size_t len, const char **authcid_r,
    const char **passwd_r, const char **error_r);

/* A user name is acceptable (1) if it is 1..SASL_FIELD_MAX bytes of
 * printable non-space ASCII or UTF-8 without ':' (the passwd-file field
 * separator) and without control characters. */
int sasl_name_ok(const char *name, size_t len);

#endif
