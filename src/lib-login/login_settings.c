/*
 * login_settings.c - the parameters imapd and pop3d share, by prefix,
 * and the login processes' TLS context (see login_settings.h).
 *
 * Untrusted bytes: none.
 */
#include <stdio.h>
#include <stdlib.h>

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

SSL_CTX *
login_tls_server_ctx(void)
{
	char *dir = xasprintf("%s/tls", config_str("data_directory"));
	char *err = NULL;
	SSL_CTX *ctx;

	ctx = tls_server_ctx_auto(config_str("imapd_tls_cert_file"),
	    config_str("imapd_tls_key_file"), dir, config_str("myhostname"), &err);
	if (ctx == NULL)
		fatal("TLS: %s", err);
	free(dir);
	return ctx;
}
