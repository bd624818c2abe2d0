/*
 * smtpd_ext.c - extension points of the SMTP server: STARTTLS and SMTPS
 * (smtpd_tls.c), SMTP AUTH and sender-login checks (smtpd_auth.c), and
 * the content filter call before the final reply to DATA/BDAT (none
 * configured yet).  Command arguments reaching here are bounded lines
 * from the client, already split by smtpd.c.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ioev.h"
#include "mem.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_ext.h"

struct smtpd_ext *
smtpd_ext_get(struct session *s)
{
	if (s->ext == NULL)
		s->ext = xcalloc(1, sizeof(struct smtpd_ext));
	return s->ext;
}

void
smtpd_tls_init(void)
{
	smtpd_tls_setup();
	smtpd_auth_setup();
}

int
smtpd_connect_hook(struct session *s)
{
	int one = 1;

	/* replies (EHLO) and the TLS handshake leave as several small
	 * writes: with Nagle each later one waits for the client's delayed
	 * ACK (40 ms), capping a client at ~22 sessions per second */
	(void)setsockopt(io_fd(s->io), IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	/* SMTPS: the greeting is queued and goes out after the handshake */
	if (smtpd_tls_wrappermode()) {
		smtpd_tls_wrap(s);
		/* with a new TLS session rate, the greeting waits until anvil
		 * has counted the handshake: a client over the rate reads only
		 * the 421 (as from Postfix) */
		if (smtpd_anvil_limits.newtls > 0) {
			smtpd_ext_get(s)->greet_after_tls = 1;
			return 1;
		}
	}
	return 0;
}

void
smtpd_ehlo_extensions(struct session *s)
{
	if (smtpd_tls_available() && !s->tls && !smtpd_tls_wrappermode())
		io_puts(s->io, "250-STARTTLS\r\n");
	if (smtpd_auth_offered(s)) {
		io_printf(s->io, "250-AUTH %s\r\n", smtpd_auth_mechanisms());
		if (smtpd_auth_broken_clients())
			io_printf(s->io, "250-AUTH=%s\r\n",
			    smtpd_auth_mechanisms());
	}
}

int
smtpd_command_hook(struct session *s, int verb, const char *args)
{
	struct smtpd_ext *x = smtpd_ext_get(s);

	/* a SASL exchange in progress takes the whole line */
	if (x->auth_step != AUTH_STEP_NONE && x->auth_step != AUTH_STEP_WAIT) {
		smtpd_auth_response(s, buf_cstr(&s->line));
		return 1;
	}
	if (verb == SMTP_STARTTLS) {
		smtpd_cmd_starttls(s, args);
		return 1;
	}
	if (verb == SMTP_AUTH) {
		smtpd_cmd_auth(s, args);
		return 1;
	}
	return 0;
}

int
smtpd_check_mail_hook(struct session *s)
{
	if (smtpd_tls_enforced() && !s->tls) {
		smtpd_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		return -1;
	}
	return 0;
}

int
smtpd_tls_ready(struct session *s)
{
	struct smtpd_ext *x;

	smtpd_tls_established(s);
	if (smtpd_anvil_limits.newtls > 0 && smtpd_anvil_newtls(s) < 0)
		return -1;
	x = s->ext;
	if (x != NULL && x->greet_after_tls) {
		x->greet_after_tls = 0;
		smtpd_reply(s, "220 %s", config_str("smtpd_banner"));
	}
	return 0;
}

const char *
smtpd_proto_suffix(struct session *s)
{
	if (s->tls && s->auth_user != NULL)
		return "SA";
	if (s->tls)
		return "S";
	if (s->auth_user != NULL)
		return "A";
	return "";
}

const char *
smtpd_client_log_suffix(struct session *s)
{
	static char suffix[700];
	struct smtpd_ext *x = s->ext;

	if (s->auth_user == NULL || x == NULL || x->sasl_method == NULL)
		return "";
	snprintf(suffix, sizeof(suffix), ", sasl_method=%s, sasl_username=%s",
	    x->sasl_method, s->auth_user);
	return suffix;
}

const char *
smtpd_received_clauses(struct session *s)
{
	static char clauses[1024];

	snprintf(clauses, sizeof(clauses), "%s%s",
	    smtpd_tls_received_clause(s), smtpd_auth_received_clause(s));
	return clauses;
}

int
smtpd_restriction_hook(struct session *s, const char *name, char *reply,
    size_t rlen)
{
	return smtpd_auth_restriction(s, name, reply, rlen);
}

void
smtpd_session_end_hook(struct session *s)
{
	smtpd_auth_session_end(s);
	free(s->auth_user);
	s->auth_user = NULL;
	FREE(s->ext);
}

int
smtpd_content_hook(struct session *s)
{
	(void)s;
	return 0;
}
