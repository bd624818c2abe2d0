/*
 * test-login-plain.c - unit tests of the SASL PLAIN decoding shared by
 * imap-login and pop3-login (login_plain.c).
 */
#include "login_plain.h"
#include "test.h"

/* The result of decoding resp; user and password are copied out. */
static enum login_plain_result
decode(const char *resp, char *user, char *pass)
{
	struct buf msg;
	const char *u = "", *p = "";
	enum login_plain_result r;

	buf_init(&msg, 2048);
	r = login_plain_decode(resp, &msg, &u, &p);
	snprintf(user, 64, "%s", r == LOGIN_PLAIN_OK ? u : "");
	snprintf(pass, 64, "%s", r == LOGIN_PLAIN_OK ? p : "");
	buf_free(&msg);
	return r;
}

static void
test_accepted(void)
{
	char u[64], p[64];

	/* empty authzid */
	T_INTEQ(decode("AGRlbW8AcHc=", u, p), LOGIN_PLAIN_OK);
	T_STREQ(u, "demo");
	T_STREQ(p, "pw");
	/* authzid equal to the authcid */
	T_INTEQ(decode("ZGVtbwBkZW1vAHB3", u, p), LOGIN_PLAIN_OK);
	T_STREQ(u, "demo");
	/* an empty password is the password check's business */
	T_INTEQ(decode("AGRlbW8A", u, p), LOGIN_PLAIN_OK);
	T_STREQ(p, "");
	/* padding may be left out (as for smtpd's AUTH PLAIN) */
	T_INTEQ(decode("AGRlbW8AcHc", u, p), LOGIN_PLAIN_OK);
	T_STREQ(p, "pw");
}

static void
test_refused(void)
{
	char u[64], p[64];

	T_INTEQ(decode("*", u, p), LOGIN_PLAIN_ABORTED);
	/* base64: alphabet only, padding only at the end, something decoded */
	T_INTEQ(decode("AGR!bW8AcHc=", u, p), LOGIN_PLAIN_BAD_BASE64);
	T_INTEQ(decode("AG=lbW8AcHc=", u, p), LOGIN_PLAIN_BAD_BASE64);
	T_INTEQ(decode("", u, p), LOGIN_PLAIN_BAD_BASE64);
	T_INTEQ(decode("=", u, p), LOGIN_PLAIN_BAD_BASE64);
	/* fewer than two NULs */
	T_INTEQ(decode("bm9udWw=", u, p), LOGIN_PLAIN_MALFORMED);
	T_INTEQ(decode("AGRlbW8=", u, p), LOGIN_PLAIN_MALFORMED);
	/* a NUL inside the password: not two NULs */
	T_INTEQ(decode("AGRlbW8AcAB3", u, p), LOGIN_PLAIN_MALFORMED);
	/* proxy authorization, empty user, user with white space */
	T_INTEQ(decode("b3RoZXIAZGVtbwBwdw==", u, p), LOGIN_PLAIN_REFUSED);
	T_INTEQ(decode("AABwdw==", u, p), LOGIN_PLAIN_REFUSED);
	T_INTEQ(decode("AGRlIG1vAHB3", u, p), LOGIN_PLAIN_REFUSED);
}

static void
test_bounded(void)
{
	struct buf msg;
	const char *u, *p;

	/* the caller's buffer bounds the decoded size */
	buf_init(&msg, 4);
	T_INTEQ(login_plain_decode("AGRlbW8AcHc=", &msg, &u, &p),
	    LOGIN_PLAIN_BAD_BASE64);
	buf_free(&msg);
}

int
main(void)
{
	T_RUN(test_accepted);
	T_RUN(test_refused);
	T_RUN(test_bounded);
	return t_done();
}
