/*
 * login_settings.c - the parameters imapd and pop3d share, by prefix,
 * and the login processes' TLS context (see login_settings.h).
 *
 * Untrusted bytes: none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "login_settings.h"
#include "mem.h"
#include "netaddr.h"
#include "tls.h"

/* PREFIX_name, e.g. "pop3d_auth_service" (static storage). */
static const char *
param(const char *prefix, const char *name)
{
	static char s[64];

	snprintf(s, sizeof(s), "%s_%s", prefix, name);
	return s;
}

void
login_settings_load(struct login_settings *set, const char *prefix)
{
	char *err = NULL;

	set->tls_wrappermode = config_bool(param(prefix, "tls_wrappermode"));
	set->plaintext_disabled =
	    config_bool(param(prefix, "disable_plaintext_auth"));
	set->use_auth_service = config_bool(param(prefix, "auth_service"));
	set->session_limit = config_int(param(prefix, "process_session_limit"));
	set->ip_limit = config_int(param(prefix, "client_connection_limit"));
	set->user_limit = config_int(param(prefix, "user_connection_limit"));
	set->auth_delay = config_time(param(prefix, "auth_failure_delay"));
	set->trusted_nets = netlist_parse(config_str(param(prefix,
	    "trusted_networks")), &err);
	if (set->trusted_nets == NULL)
		fatal("%s_trusted_networks: %s", prefix, err);
	set->post_login_service = config_str(param(prefix,
	    "post_login_service"));
}

void
login_tls_files(const char **cert_r, const char **key_r)
{
	*cert_r = config_str("imapd_tls_cert_file");
	*key_r = config_str("imapd_tls_key_file");
	if (**cert_r == '\0' || **key_r == '\0')
		*cert_r = *key_r = "";          /* both self-signed */
}

SSL_CTX *
login_tls_server_ctx(const char *service)
{
	struct tls_server_settings set;
	char *crt, *key, *tickets, *err = NULL;
	SSL_CTX *ctx;

	memset(&set, 0, sizeof(set));
	login_tls_files(&set.cert_file, &set.key_file);
	set.ciphers = "high";
	set.session_timeout =
	    (long)config_time("imapd_tls_session_cache_timeout");
	set.session_id = service;
	/* one ticket key file for every IMAP and POP3 login process (not
	 * smtpd's: a leaked key of one protocol opens no other), opened
	 * here, before privileges are dropped, and rotated (tls_ticket.c) */
	tls_default_cert_paths(&crt, &key);     /* makes $data_directory/tls */
	tickets = xasprintf("%s/tls/login-ticket.key",
	    config_str("data_directory"));
	set.ticket_key_file = tickets;
	ctx = tls_server_ctx_settings(&set, &err);
	if (ctx == NULL)
		fatal("TLS: %s", err);
	free(crt);
	free(key);
	free(tickets);
	return ctx;
}
