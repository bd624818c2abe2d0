/*
 * smtp.h - internals of the outbound SMTP delivery agent: the delivery
 * request from qmgr, the SMTP client session, and the client TLS context.
 */
#ifndef TEMPEST_SMTP_H
#define TEMPEST_SMTP_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "deliver_agent.h"
#include "dns.h"

/* One delivery request from qmgr (a message and some recipients that
 * share a next hop) and what the SMTP client needs beyond it. */
struct smtp_req {
	struct deliver_req *d;  /* recipients get their status there */
	char *envid;            /* DSN ENVID, "" if none */
	int ret;                /* DSN RET: 0, 1 FULL, 2 HDRS */
	char *nexthop;          /* "domain", "domain:port", "[host]:port" */
	int eightbit;           /* content has 8-bit bytes */
	int body_8bit;          /* MAIL FROM had BODY=8BITMIME (attribute body) */
	int smtputf8;           /* MAIL FROM had SMTPUTF8 (attribute smtputf8) */
};

/* Where to connect. */
struct smtp_target {
	char host[DNS_NAME_MAX + 1];
	struct dns_addr addr;
};

struct smtp_sess;

/* Called when a session attempt ends.  ok = 1: the transaction ran and
 * every recipient of req has a status; ok = 0: the host failed before
 * any recipient got one (connection, greeting, EHLO, TLS), with a
 * "x.y.z text" in why; try the next host. */
typedef void (*smtp_done_fn)(struct smtp_sess *s, int ok, const char *why);

/* Connect to t and run req over a new session (TLS per
 * smtp_tls_security_level unless notls); ctx is for the caller
 * (smtp_sess_ctx()). */
struct smtp_sess *smtp_sess_connect(const struct smtp_target *t,
    const char *nexthop, struct smtp_req *req, int notls, smtp_done_fn fn,
    void *ctx);
/* Run req over an idle (cached) session. */
void smtp_sess_reuse(struct smtp_sess *s, struct smtp_req *req,
    smtp_done_fn fn, void *ctx);
void *smtp_sess_ctx(const struct smtp_sess *s);
/* Idle and usable for another transaction to the same next hop. */
int smtp_sess_idle(const struct smtp_sess *s);
const char *smtp_sess_nexthop(const struct smtp_sess *s);
/* Whether the last failure was a TLS handshake problem (for may-level
 * fallback to plaintext). */
int smtp_sess_tls_failed(const struct smtp_sess *s);
/* Whether the session was reused from the cache. */
int smtp_sess_reused(const struct smtp_sess *s);
/* Park an idle session (QUIT after smtp_connection_cache_time_limit). */
void smtp_sess_park(struct smtp_sess *s, void (*closed)(struct smtp_sess *));
/* Send QUIT (if possible) and free. */
void smtp_sess_close(struct smtp_sess **s);

/* Whether the session logged in with SMTP AUTH. */
int smtp_sess_authed(const struct smtp_sess *s);

/* SMTP AUTH (smtp.c): whether smtp_sasl_auth_enable is on; the security
 * option bits for a session with or without TLS; the "user:password" of
 * a server (host name, port, next hop as written, envelope sender) from
 * smtp_sasl_password_maps into *secret_r (malloc'ed): 1 found, 0 none,
 * -1 table error. */
int smtp_sasl_enabled(void);
unsigned smtp_sasl_secflags(int tls);
int smtp_sasl_secret(const char *host, int port, const char *nexthop,
    const char *sender, char **secret_r);

/* The client SSL_CTX (created on first use); NULL with a logged reason
 * if TLS cannot be set up. */
SSL_CTX *smtp_tls_ctx(void);

#endif
