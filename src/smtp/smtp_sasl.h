/*
 * smtp_sasl.h - pure helpers of the SMTP client's SASL authentication
 * (Postfix smtp_sasl_*): the AUTH mechanism list of a server's EHLO
 * reply (untrusted), the mechanism filter and security options (from
 * main.cf), the choice of a mechanism and the "user:password" value of
 * smtp_sasl_password_maps (the responses are encoded with lib-auth's
 * sasl_b64_encode).
 */
#ifndef TEMPEST_SMTP_SASL_H
#define TEMPEST_SMTP_SASL_H

#include <stddef.h>

/* mechanisms (bits) */
#define SMTP_SASL_PLAIN 0x01
#define SMTP_SASL_LOGIN 0x02
#define SMTP_SASL_SCRAM 0x04    /* SCRAM-SHA-256 (lib-auth scram.c) */
#define SMTP_SASL_OTHER 0x80    /* a mechanism this client cannot do */

/* security options (Postfix smtp_sasl_security_options) */
#define SMTP_SASL_NOPLAINTEXT   0x01
#define SMTP_SASL_NOANONYMOUS   0x02
#define SMTP_SASL_NOACTIVE      0x04
#define SMTP_SASL_NODICTIONARY  0x08
#define SMTP_SASL_MUTUAL_AUTH   0x10

#define SMTP_SASL_USER_MAX 256
#define SMTP_SASL_PASS_MAX 256

/* One EHLO reply line (text after "250-"): for "AUTH m1 m2 ..." or the
 * old "AUTH=m1 m2" form, OR the mechanisms into *mechs_r and return 1;
 * any other line: 0.  An AUTH line without a mechanism name returns 1
 * and adds nothing. */
int smtp_sasl_ehlo_auth(const char *text, unsigned *mechs_r);
/* Mechanism names separated by spaces or commas (smtp_sasl_mechanism_filter)
 * as bits; names this client does not know give SMTP_SASL_OTHER. */
unsigned smtp_sasl_mech_list(const char *list);
/* Parse security options (names separated by spaces or commas); 0, or -1
 * with a static *error_r naming the problem. */
int smtp_sasl_sec_options(const char *s, unsigned *flags_r,
    const char **error_r);
/* The mechanism to use among offered (already filtered), allowed by the
 * security flags: SCRAM-SHA-256 (no password on the wire, the server
 * proves it knows the key: passes noplaintext and mutual_auth, not
 * nodictionary), then PLAIN before LOGIN; 0 if none.  Inside TLS
 * (tls = 1) noplaintext is void, as in Cyrus SASL with an external
 * layer: the default options allow PLAIN/LOGIN only inside TLS, SCRAM
 * everywhere. */
unsigned smtp_sasl_choose(unsigned offered, unsigned secflags, int tls);
const char *smtp_sasl_mech_name(unsigned mech);
/* Split a password-map value "user:password" at its first ':' into
 * user and pass (NUL-terminated; no ':' = empty password, as Postfix).
 * 0, or -1 with an empty user or a part longer than its buffer. */
int smtp_sasl_split_secret(const char *value, char *user, size_t ulen,
    char *pass, size_t plen);

#endif
