/*
 * tls.h - TLS contexts for the daemons (SMTP, IMAP, POP3 servers; the
 * SMTP client) on OpenSSL 3.
 *
 * Server contexts allow TLS 1.2 and newer only (whatever the settings
 * say), no compression, no renegotiation, server cipher preference and a
 * cipher list without anonymous, export, RC4, 3DES or MD5 suites.  With
 * a session timeout they also resume sessions: a server-side session
 * cache (TLS 1.2 session ids) and session tickets (TLS 1.2 and 1.3).
 * For the embedded default instance a self-signed certificate is
 * generated when none exists, so STARTTLS and implicit TLS work out of
 * the box.  Untrusted bytes never reach this module (the handshake runs
 * inside OpenSSL through lib/ioev).
 */
#ifndef TEMPEST_TLS_H
#define TEMPEST_TLS_H

#include <time.h>

#include <openssl/ssl.h>

/* A server context for cert (PEM chain) and key (PEM) with the default
 * protocols (TLS 1.2+) and "high" ciphers.  NULL with a malloc'ed
 * *error_r. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char **error_r);
/* Whether cert and key (empty: in cert's file) load as a server's and
 * belong together (tempest check): 0, or -1 with a malloc'ed *error_r. */
int tls_server_pair_check(const char *cert, const char *key, char **error_r);

/* Write a self-signed certificate and its key (mode 0600) for common
 * name cn, unless both files already exist.  Safe against concurrent
 * callers (a lock file next to cert).  0, or -1 with *error_r. */
int tls_selfsigned_ensure(const char *cert, const char *key, const char *cn,
    char **error_r);

struct tls_server_settings {
	const char *cert_file;  /* "" = self-signed in $data_directory/tls/ */
	const char *key_file;   /* "" = the one next to the self-signed cert */
	const char *protocols;  /* Postfix syntax: ">=TLSv1.2", "!TLSv1.1, ..." */
	const char *ciphers;    /* grade "high" or "medium" */
	long session_timeout;   /* seconds; 0 = no session resumption */
	const char *session_id; /* session id context (the service name) */
	const char *ticket_key_file; /* NULL/"": ticket keys random per process;
	                         * else shared and rotated (tls_ticket_keys_use) */
};

/* A server context from settings (see struct tls_server_settings).  NULL
 * with a malloc'ed *error_r. */
SSL_CTX *tls_server_ctx_settings(const struct tls_server_settings *set,
    char **error_r);

/* The self-signed certificate and key paths of this instance
 * ($data_directory/tls/server.crt and .key), malloc'ed; the directory is
 * created (mode 0700) when missing. */
void tls_default_cert_paths(char **cert_r, char **key_r);

/* Apply a Postfix protocol list to ctx (never below TLS 1.2).  0, or -1
 * with *error_r naming the bad token. */
int tls_set_protocols(SSL_CTX *ctx, const char *protocols, char **error_r);

/* A client context (the SMTP client): TLS 1.2+, same cipher grades, no
 * certificate verification unless ca_file is non-empty.  NULL with
 * *error_r. */
SSL_CTX *tls_client_ctx(const char *ca_file, const char *ciphers,
    char **error_r);

/* Encrypt session tickets with the keys in path, shared with every
 * process that uses the same file (several services, a reload) and
 * rotated when the current key is lifetime seconds old; the previous key
 * still decrypts (tls_ticket.c has the file format).  The file is opened
 * (created mode 0600) now and kept open, so call this before dropping
 * privileges or chroot.  0, or -1 with *error_r. */
int tls_ticket_keys_use(SSL_CTX *ctx, const char *path, long lifetime,
    char **error_r);

/* Unit tests: the clock ticket keys go by (NULL: time()). */
void tls_ticket_keys_set_clock(time_t (*clock)(void));

/* "TLSv1.3" etc. and whether the session was resumed, for logging. */
int tls_session_reused(SSL *ssl);
/* The usual daemon setup: cert/key as configured, or when either is
 * empty a self-signed pair dir/server.crt + dir/server.key (created on
 * first use, common name cn).  NULL with *error_r. */
SSL_CTX *tls_server_ctx_auto(const char *cert, const char *key,
    const char *dir, const char *cn, char **error_r);

#endif
