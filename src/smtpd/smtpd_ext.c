/*
 * smtpd_ext.c - extension points of the SMTP server: STARTTLS and AUTH
 * (not yet offered: see the TLS/AUTH work), and the content filter call
 * before the final reply to DATA/BDAT (none configured yet).
 */
#include <stddef.h>

#include "smtpd.h"

void
smtpd_tls_init(void)
{
}

int
smtpd_connect_hook(struct session *s)
{
	(void)s;
	return 0;
}

void
smtpd_ehlo_extensions(struct session *s)
{
	(void)s;
}

int
smtpd_command_hook(struct session *s, int verb, const char *args)
{
	(void)args;
	if (verb == SMTP_STARTTLS || verb == SMTP_AUTH) {
		s->junk++;
		smtpd_reply(s, "502 5.5.1 Error: command not implemented");
		return 1;
	}
	return 0;
}

int
smtpd_check_mail_hook(struct session *s)
{
	(void)s;
	return 0;
}

void
smtpd_tls_ready(struct session *s)
{
	(void)s;
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
	(void)s;
	return "";
}

int
smtpd_content_hook(struct session *s)
{
	(void)s;
	return 0;
}
