/*
 * scram.h - SCRAM-SHA-256 (RFC 5802, RFC 7677), server side (the auth
 * service) and client side (the SMTP client's smtp_sasl_*), without
 * channel binding.
 *
 * The peer's messages are untrusted bytes from the network (the client's
 * relayed by smtpd to the auth service, the server's read by the smtp
 * client): the parsers here are pure, bounded
 * (SCRAM_MSG_MAX), unit-tested (test-scram.c) and fuzzed
 * (fuzz/fuzz-scram.c).  Stored secrets use Dovecot's format, as
 * `doveadm pw -s SCRAM-SHA-256` writes it:
 *     {SCRAM-SHA-256}ITERATIONS,SALT_B64,STOREDKEY_B64,SERVERKEY_B64
 */
#ifndef TEMPEST_SCRAM_H
#define TEMPEST_SCRAM_H

#include <stddef.h>

#define SCRAM_MSG_MAX 2048
#define SCRAM_KEY_LEN 32
#define SCRAM_ITER_MAX 1000000

struct scram_secret {
	int iter;
	unsigned char salt[128];
	size_t salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Server state of one exchange. */
struct scram_server {
	char *user;                     /* decoded saslname */
	char *gs2_header;               /* "n,," / "y,," */
	char *client_first_bare;
	char *nonce;                    /* client nonce, then client+server */
	char *server_first;
	struct scram_secret secret;
	int have_secret;                /* 0: fail at the end (unknown user) */
};

/* Parse "SCHEME-less" secret text (after "{SCRAM-SHA-256}").  0 or -1. */
int scram_secret_parse(const char *text, struct scram_secret *s);
/* "{SCRAM-SHA-256}..." for password with iter iterations and a random
 * salt (malloc'ed). */
char *scram_secret_make(const char *password, int iter);
/* Whether password matches the secret (PLAIN/LOGIN against a SCRAM
 * secret): 1 or 0.  Constant-time compare. */
int scram_secret_match(const struct scram_secret *s, const char *password);

/* Client-first message: fills st (user, gs2 header, bare message, client
 * nonce).  -1 with *error_r on malformed input, channel binding ("p="),
 * mandatory extensions, or an authzid different from the user. */
int scram_client_first(struct scram_server *st, const char *msg, size_t len,
    const char **error_r);
/* Build the server-first message with server nonce snonce (printable, no
 * ','); the secret must be set (a fake one for unknown users). */
const char *scram_server_first(struct scram_server *st, const char *snonce);
/* Client-final message: 1 proof valid (*server_final_r = "v=..."
 * malloc'ed), 0 proof wrong (or no secret), -1 malformed with *error_r. */
int scram_client_final(struct scram_server *st, const char *msg, size_t len,
    char **server_final_r, const char **error_r);
void scram_server_free(struct scram_server *st);

/* The least iteration count the client accepts from a server (RFC 7677:
 * at least 4096): a man in the middle offering fewer would get a proof
 * cheap to attack offline. */
#define SCRAM_CLIENT_ITER_MIN 4096

/* Client state of one exchange. */
struct scram_client {
	char *client_first_bare;        /* "n=USER,r=CNONCE" */
	char *password;                 /* wiped after the proof */
	unsigned char server_sig[SCRAM_KEY_LEN]; /* expected in "v=" */
	int step;                       /* 0 start, 1 sent final, 2 verified */
};

/* The client-first message "n,,n=USER,r=CNONCE" (malloc'ed) for user
 * (',' and '=' escaped) and a printable nonce without ','; keeps a copy
 * of password for the next step. */
char *scram_client_start(struct scram_client *c, const char *user,
    const char *password, const char *cnonce);
/* The server-first message (base64-decoded, untrusted): 0 with the
 * client-final message in *client_final_r (malloc'ed; the proof is
 * computed here and the password wiped), or -1 with *error_r: malformed,
 * a nonce that does not extend ours, an iteration count outside
 * SCRAM_CLIENT_ITER_MIN..SCRAM_ITER_MAX, a mandatory extension. */
int scram_client_server_first(struct scram_client *c, const char *msg,
    size_t len, char **client_final_r, const char **error_r);
/* The server-final message (decoded, untrusted): 1 the server proved it
 * knows the key, 0 it did not (wrong signature, or "e=..." with the
 * error in *error_r), -1 malformed. */
int scram_client_server_final(struct scram_client *c, const char *msg,
    size_t len, const char **error_r);
void scram_client_free(struct scram_client *c);

#endif
