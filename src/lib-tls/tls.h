/*
 * tls.h - server-side TLS contexts for the daemons (IMAP, POP3, SMTP).
 *
 * A context loads the certificate chain and key named in main.cf and
 * allows TLS 1.2 and newer only.  For the embedded default instance a
 * self-signed certificate is generated when none exists, so STARTTLS and
 * implicit TLS work out of the box.  Untrusted bytes never reach this
 * module (the handshake runs inside OpenSSL through lib/ioev).
 */
#ifndef TEMPEST_TLS_H
#define TEMPEST_TLS_H

#include <openssl/ssl.h>

/* A server context for cert (PEM chain) and key (PEM).  NULL with a
 * malloc'ed *error_r. */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char **error_r);
/* Write a self-signed certificate and its key (mode 0600) for common
 * name cn, unless both files already exist.  0, or -1 with *error_r. */
int tls_selfsigned_ensure(const char *cert, const char *key, const char *cn,
    char **error_r);

#endif
