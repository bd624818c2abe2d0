/*
 * smtpd_tls.c - STARTTLS (RFC 3207) and wrapper-mode SMTPS for the SMTP
 * server.  The handshake bytes are handled by OpenSSL inside lib/ioev;
 * here only the STARTTLS command line (already bounded and parsed by
 * smtpd.c) arrives from the client.  io_start_tls() discards anything
 * the client pipelined after STARTTLS (CVE-2011-0411).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "ossl.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_ext.h"
#include "tls.h"

static const struct cfg_param smtpd_tls_params[] = {
	{ "smtpd_tls_security_level", CFG_STR, "", 0, "SMTP server TLS: none, may (offer STARTTLS) or encrypt (require it before MAIL and AUTH); empty: may if smtpd_use_tls, encrypt if smtpd_enforce_tls, else none" },
	{ "smtpd_use_tls", CFG_BOOL, "no", 0, "Older name: offer STARTTLS (smtpd_tls_security_level = may)" },
	{ "smtpd_enforce_tls", CFG_BOOL, "no", 0, "Older name: require STARTTLS (smtpd_tls_security_level = encrypt)" },
	{ "smtpd_tls_wrappermode", CFG_BOOL, "no", 0, "SMTPS: start TLS at connect, before the greeting (set with -o in master.cf)" },
	{ "smtpd_tls_cert_file", CFG_STR, "", 0, "PEM certificate chain of the SMTP server (empty: a self-signed one, generated in $data_directory/tls/)" },
	{ "smtpd_tls_key_file", CFG_STR, "$smtpd_tls_cert_file", 0, "PEM private key of smtpd_tls_cert_file (may be the same file)" },
	{ "smtpd_tls_loglevel", CFG_INT, "0", 0, "TLS logging: 0 none, 1 one line per session with protocol and cipher, 2 also handshake start and session reuse" },
	{ "smtpd_tls_received_header", CFG_BOOL, "no", 0, "Put the TLS protocol and cipher into the Received: header" },
	{ "smtpd_tls_session_cache_timeout", CFG_TIME, "3600s", 's', "Lifetime of resumable TLS sessions (session cache and tickets); 0 disables resumption" },
	{ "smtpd_tls_protocols", CFG_STR, ">=TLSv1.2", 0, "TLS protocols of the SMTP server in Postfix syntax (never below TLSv1.2)" },
	{ "smtpd_tls_ciphers", CFG_STR, "high", 0, "Cipher grade of the SMTP server: high (forward secrecy + AEAD) or medium (tls_medium_cipherlist)" },
	{ "smtpd_tls_auth_only", CFG_BOOL, "no", 0, "Offer and accept AUTH only inside TLS" },
};

CONFIG_PARAMS(smtpd_tls_params);

enum level { LEVEL_NONE, LEVEL_MAY, LEVEL_ENCRYPT };

static SSL_CTX *ctx;
static char *ticket_keys;

/* The directory part of path (in place: path is ours). */
static const char *
dirname_of(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash != NULL)
		*slash = '\0';
	return path;
}
static enum level level;
static int wrappermode, loglevel, received_header;

void
smtpd_tls_setup(void)
{
	const char *l = config_str("smtpd_tls_security_level");
	struct tls_server_settings set;
	char *err = NULL;

	if (*l == '\0')
		level = config_bool("smtpd_enforce_tls") ? LEVEL_ENCRYPT :
		    config_bool("smtpd_use_tls") ? LEVEL_MAY : LEVEL_NONE;
	else if (strcmp(l, "none") == 0)
		level = LEVEL_NONE;
	else if (strcmp(l, "may") == 0)
		level = LEVEL_MAY;
	else if (strcmp(l, "encrypt") == 0)
		level = LEVEL_ENCRYPT;
	else
		fatal("smtpd_tls_security_level: bad value \"%s\" (none, may "
		    "or encrypt)", l);
	wrappermode = config_bool("smtpd_tls_wrappermode");
	loglevel = (int)config_int("smtpd_tls_loglevel");
	received_header = config_bool("smtpd_tls_received_header");
	if (level == LEVEL_NONE && !wrappermode)
		return;
	memset(&set, 0, sizeof(set));
	set.cert_file = config_str("smtpd_tls_cert_file");
	set.key_file = config_str("smtpd_tls_key_file");
	set.protocols = config_str("smtpd_tls_protocols");
	set.ciphers = config_str("smtpd_tls_ciphers");
	set.session_timeout = (long)config_time("smtpd_tls_session_cache_timeout");
	set.session_id = service_name() != NULL ? service_name() : "smtpd";
	{
		/* one ticket key file for every smtpd: sessions resume across
		 * services' processes and reloads */
		char *crt, *key;
		tls_default_cert_paths(&crt, &key);
		ticket_keys = xasprintf("%s/ticket.key", dirname_of(crt));
		free(crt);
		free(key);
	}
	set.ticket_key_file = ticket_keys;
	ctx = tls_server_ctx_settings(&set, &err);
	if (ctx == NULL)
		fatal("SMTP server TLS: %s", err);
}

int
smtpd_tls_available(void)
{
	return ctx != NULL;
}

int
smtpd_tls_wrappermode(void)
{
	return wrappermode;
}

int
smtpd_tls_enforced(void)
{
	return level == LEVEL_ENCRYPT && !wrappermode;
}

static void
start(struct session *s)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		fatal("SSL_new failed");
	if (loglevel >= 2)
		log_info("setting up TLS connection from %s", s->client);
	io_start_tls(s->io, ssl, 1);
}

void
smtpd_tls_wrap(struct session *s)
{
	start(s);
}

void
smtpd_cmd_starttls(struct session *s, const char *args)
{
	if (ctx == NULL || wrappermode) {
		s->junk++;
		smtpd_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (*args != '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		smtpd_reply(s, "554 5.5.1 Error: TLS already active");
		return;
	}
	if (s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (smtpd_anvil_limits.newtls > 0 && smtpd_anvil_starttls(s) < 0)
		return;
	smtpd_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207: forget what the client said before (EHLO) */
	FREE(s->helo);
	s->esmtp = 0;
	start(s);
}

void
smtpd_tls_established(struct session *s)
{
	SSL *ssl = io_ssl(s->io);

	s->tls = 1;
	if (loglevel >= 1)
		log_info("Anonymous TLS connection established from %s: %s",
		    s->client, io_tls_summary(s->io));
	if (loglevel >= 2)
		log_info("%s: TLS session %s", s->client,
		    tls_session_reused(ssl) ? "reused" : "new");
}

const char *
smtpd_tls_received_clause(struct session *s)
{
	static char clause[256];

	if (!received_header || !s->tls)
		return "";
	snprintf(clause, sizeof(clause), "\n\t(using %s)\n\t(No client "
	    "certificate requested)", io_tls_summary(s->io));
	return clause;
}
