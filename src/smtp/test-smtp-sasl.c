/*
 * test-smtp-sasl.c - the SMTP client's SASL helpers: AUTH mechanism
 * lists from EHLO, filter, security options, mechanism choice, the
 * "user:password" split and base64.
 */
#include <string.h>

#include "smtp_sasl.h"
#include "test.h"

static void
test_ehlo_auth(void)
{
	unsigned m = 0;

	T_INTEQ(smtp_sasl_ehlo_auth("AUTH PLAIN LOGIN", &m), 1);
	T_INTEQ(m, SMTP_SASL_PLAIN | SMTP_SASL_LOGIN);
	m = 0;
	T_INTEQ(smtp_sasl_ehlo_auth("auth=login", &m), 1);
	T_INTEQ(m, SMTP_SASL_LOGIN);
	m = 0;
	T_INTEQ(smtp_sasl_ehlo_auth("AUTH CRAM-MD5 SCRAM-SHA-256", &m), 1);
	T_INTEQ(m, SMTP_SASL_OTHER | SMTP_SASL_SCRAM);
	m = 0;
	T_INTEQ(smtp_sasl_ehlo_auth("AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-1", &m), 1);
	T_INTEQ(m, SMTP_SASL_OTHER);
	m = 0;
	T_INTEQ(smtp_sasl_ehlo_auth("AUTH", &m), 1);
	T_INTEQ(m, 0);
	T_INTEQ(smtp_sasl_ehlo_auth("AUTHX PLAIN", &m), 0);
	T_INTEQ(smtp_sasl_ehlo_auth("PIPELINING", &m), 0);
	T_INTEQ(smtp_sasl_ehlo_auth("", &m), 0);
	T_INTEQ(m, 0);
	/* "PLAINX" is not PLAIN */
	T_INTEQ(smtp_sasl_ehlo_auth("AUTH  PLAINX,\tLOGI", &m), 1);
	T_INTEQ(m, SMTP_SASL_OTHER);
}

static void
test_filter_and_options(void)
{
	unsigned f = 99;
	const char *err = NULL;

	T_INTEQ(smtp_sasl_mech_list("plain, login"), SMTP_SASL_PLAIN | SMTP_SASL_LOGIN);
	T_INTEQ(smtp_sasl_mech_list(""), 0);
	T_INTEQ(smtp_sasl_mech_list("cram-md5"), SMTP_SASL_OTHER);
	T_INTEQ(smtp_sasl_sec_options("noplaintext, noanonymous", &f, &err), 0);
	T_INTEQ(f, SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	T_INTEQ(smtp_sasl_sec_options("", &f, &err), 0);
	T_INTEQ(f, 0);
	T_INTEQ(smtp_sasl_sec_options("noanonymous bogus", &f, &err), -1);
	T_OK(err != NULL);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN | SMTP_SASL_LOGIN,
	    SMTP_SASL_NOANONYMOUS, 0), SMTP_SASL_PLAIN);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_LOGIN | SMTP_SASL_OTHER, 0, 0),
	    SMTP_SASL_LOGIN);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN | SMTP_SASL_LOGIN,
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS, 0), 0);
	/* the defaults inside TLS */
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN | SMTP_SASL_LOGIN,
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS, 1), SMTP_SASL_PLAIN);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN, SMTP_SASL_NODICTIONARY, 1), 0);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_OTHER, 0, 1), 0);
	T_STREQ(smtp_sasl_mech_name(SMTP_SASL_LOGIN), "LOGIN");
	/* SCRAM first, and also outside TLS under the default options and
	 * mutual_auth; not under nodictionary */
	T_INTEQ(smtp_sasl_mech_list("scram-sha-256 plain"),
	    SMTP_SASL_SCRAM | SMTP_SASL_PLAIN);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN | SMTP_SASL_SCRAM,
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS, 1), SMTP_SASL_SCRAM);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_PLAIN | SMTP_SASL_SCRAM,
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS, 0), SMTP_SASL_SCRAM);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_SCRAM, SMTP_SASL_MUTUAL_AUTH, 0),
	    SMTP_SASL_SCRAM);
	T_INTEQ(smtp_sasl_choose(SMTP_SASL_SCRAM | SMTP_SASL_PLAIN,
	    SMTP_SASL_NODICTIONARY, 1), 0);
	T_STREQ(smtp_sasl_mech_name(SMTP_SASL_SCRAM), "SCRAM-SHA-256");
}

static void
test_split(void)
{
	char u[8], p[8];

	T_INTEQ(smtp_sasl_split_secret("bob:pa:ss", u, sizeof(u), p, sizeof(p)), 0);
	T_STREQ(u, "bob");
	T_STREQ(p, "pa:ss");
	T_INTEQ(smtp_sasl_split_secret("bob:", u, sizeof(u), p, sizeof(p)), 0);
	T_STREQ(p, "");
	T_INTEQ(smtp_sasl_split_secret("bob", u, sizeof(u), p, sizeof(p)), 0);
	T_STREQ(u, "bob");
	T_STREQ(p, "");
	T_INTEQ(smtp_sasl_split_secret("", u, sizeof(u), p, sizeof(p)), -1);
	T_INTEQ(smtp_sasl_split_secret(":pw", u, sizeof(u), p, sizeof(p)), -1);
	T_INTEQ(smtp_sasl_split_secret("12345678:x", u, sizeof(u), p, sizeof(p)), -1);
	T_INTEQ(smtp_sasl_split_secret("u:12345678", u, sizeof(u), p, sizeof(p)), -1);
	T_INTEQ(smtp_sasl_split_secret("1234567:1234567", u, sizeof(u), p, sizeof(p)), 0);
}

int
main(void)
{
	T_RUN(test_ehlo_auth);
	T_RUN(test_filter_and_options);
	T_RUN(test_split);
	return t_done();
}
