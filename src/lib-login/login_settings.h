/*
 * login_settings.h - the main.cf parameters imapd and pop3d both have,
 * each under its own prefix (imapd_tls_wrappermode,
 * pop3d_tls_wrappermode, ...), loaded into one struct for the shared
 * code (login_conn, login_client, login_master); and the login
 * processes' TLS context.  The parameter tables and their docs stay
 * with the daemons (imapd.c, pop3d.c).
 *
 * Untrusted bytes: none (main.cf is trusted configuration).
 */
#ifndef TEMPEST_LOGIN_SETTINGS_H
#define TEMPEST_LOGIN_SETTINGS_H

#include <openssl/ssl.h>

struct netlist;

struct login_settings {
	int tls_wrappermode;            /* PREFIX_tls_wrappermode */
	int plaintext_disabled;         /* PREFIX_disable_plaintext_auth */
	int use_auth_service;           /* PREFIX_auth_service */
	long long session_limit;        /* PREFIX_process_session_limit */
	long long ip_limit;             /* PREFIX_client_connection_limit */
	long long user_limit;           /* PREFIX_user_connection_limit */
	long long auth_delay;           /* PREFIX_auth_failure_delay */
	struct netlist *trusted_nets;   /* PREFIX_trusted_networks */
	const char *post_login_service; /* PREFIX_post_login_service */
};

/* Load PREFIX_* into set (fatal on a bad PREFIX_trusted_networks). */
void login_settings_load(struct login_settings *set, const char *prefix);
/* The login processes' TLS server context: imapd_tls_cert_file and
 * imapd_tls_key_file (both protocols), or a self-signed certificate in
 * $data_directory/tls/; sessions resumable for
 * imapd_tls_session_cache_timeout, by tickets whose keys every login
 * process shares and rotates ($data_directory/tls/login-ticket.key).
 * service ("imap-login") is the session id context.  Call before
 * privileges are dropped.  Fatal on failure. */
SSL_CTX *login_tls_server_ctx(const char *service);
/* The certificate and key files the login servers use: main.cf's
 * imapd_tls_cert_file and imapd_tls_key_file, or both "" (the
 * self-signed pair) when either is empty. */
void login_tls_files(const char **cert_r, const char **key_r);

#endif
