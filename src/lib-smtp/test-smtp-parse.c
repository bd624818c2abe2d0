/* test-smtp-parse.c - SMTP command, path and parameter parsing. */
#include <string.h>
#include "smtp_parse.h"
#include "test.h"

static const char *
path(const char *args, const char *kw, int flags, int *ok)
{
	static struct smtp_path p;
	static int init;
	const char *params, *err;

	if (!init) {
		smtp_path_init(&p);
		init = 1;
	}
	*ok = smtp_parse_path_arg(args, kw, flags, &p, &params, &err) == 0;
	return *ok ? buf_cstr(&p.addr) : err;
}

static void
test_verbs(void)
{
	const char *a;

	T_INTEQ(smtp_parse_verb("ehlo x.y", 8, &a), SMTP_EHLO);
	T_STREQ(a, "x.y");
	T_INTEQ(smtp_parse_verb("MAIL FROM:<a@b>", 15, &a), SMTP_MAIL);
	T_STREQ(a, "FROM:<a@b>");
	T_INTEQ(smtp_parse_verb("quit", 4, &a), SMTP_QUIT);
	T_INTEQ(smtp_parse_verb("QUITX", 5, &a), SMTP_UNKNOWN);
	T_INTEQ(smtp_parse_verb("", 0, &a), SMTP_UNKNOWN);
	T_INTEQ(smtp_parse_verb("GET / HTTP/1.0", 14, &a), SMTP_XNONSMTP);
}

static void
test_paths(void)
{
	int ok;

	T_STREQ(path("FROM:<a@b.c>", "FROM", 0, &ok), "a@b.c"); T_OK(ok);
	T_STREQ(path("from: <a@b.c> SIZE=10", "FROM", 0, &ok), "a@b.c"); T_OK(ok);
	T_STREQ(path("FROM:<>", "FROM", SMTP_PATH_ALLOW_NULL, &ok), ""); T_OK(ok);
	path("TO:<>", "TO", 0, &ok); T_OK(!ok);
	T_STREQ(path("TO:<@r1,@r2:u@x.y>", "TO", 0, &ok), "u@x.y"); T_OK(ok);
	T_STREQ(path("TO:<\"user@x\"@example.test>", "TO", 0, &ok),
	    "\"user@x\"@example.test"); T_OK(ok);
	T_STREQ(path("TO:<user@x@example.test>", "TO", 0, &ok),
	    "5.1.3 Bad recipient address syntax"); T_OK(!ok);
	T_STREQ(path("TO:<user%other@example.test>", "TO", 0, &ok),
	    "user%other@example.test"); T_OK(ok);
	T_STREQ(path("TO:<Postmaster>", "TO", SMTP_PATH_ALLOW_BARE, &ok),
	    "Postmaster"); T_OK(ok);
	path("TO:<Postmaster>", "TO", 0, &ok); T_OK(!ok);
	T_STREQ(path("TO:u@x.y", "TO", 0, &ok), "u@x.y"); T_OK(ok);
	path("TO:u@x.y", "TO", SMTP_PATH_STRICT, &ok); T_OK(!ok);
	path("TO:<a..b@x>", "TO", 0, &ok); T_OK(!ok);
	path("TO:<.a@x>", "TO", 0, &ok); T_OK(!ok);
	path("TO:<a@x..y>", "TO", 0, &ok); T_OK(!ok);
	path("TO:<a@>", "TO", 0, &ok); T_OK(!ok);
	path("TO:<a@b", "TO", 0, &ok); T_OK(!ok);
	path("TO:<a@b>x", "TO", 0, &ok); T_OK(!ok);
	T_STREQ(path("TO:<a@[127.0.0.1]>", "TO", 0, &ok), "a@[127.0.0.1]"); T_OK(ok);
	T_STREQ(path("TO:<a@[IPv6:::1]>", "TO", 0, &ok), "a@[IPv6:::1]"); T_OK(ok);
	path("TO:<a@[999.0.0.1]>", "TO", 0, &ok); T_OK(!ok);
	T_STREQ(path("TO:<j\xc3\xb6rg@b\xc3\xbc.test>", "TO", 0, &ok),
	    "j\xc3\xb6rg@b\xc3\xbc.test"); T_OK(ok);
	path("TO <a@b>", "TO", 0, &ok); T_OK(!ok);
	path("TO:<a\x01@b>", "TO", 0, &ok); T_OK(!ok);
}

static void
test_params(void)
{
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	const char *err;

	T_INTEQ(smtp_parse_mail_params("SIZE=1000 BODY=8BITMIME SMTPUTF8 "
	    "RET=HDRS ENVID=QQ+2Bx", &mp, &err), 0);
	T_INTEQ(mp.size, 1000);
	T_INTEQ(mp.body_8bit, 1);
	T_INTEQ(mp.smtputf8, 1);
	T_INTEQ(mp.ret, 2);
	T_STREQ(mp.envid, "QQ+x");
	T_INTEQ(smtp_parse_mail_params("SIZE=abc", &mp, &err), -1);
	T_INTEQ(smtp_parse_mail_params("SIZE=1 SIZE=2", &mp, &err), -1);
	T_INTEQ(smtp_parse_mail_params("FOO=bar", &mp, &err), -1);
	T_STREQ(err, "5.5.4 Unsupported option");
	T_INTEQ(smtp_parse_mail_params("ENVID=a+4", &mp, &err), -1);
	T_INTEQ(smtp_parse_mail_params("", &mp, &err), 0);
	T_INTEQ(mp.size, -1);
	T_INTEQ(smtp_parse_rcpt_params("NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;a+40b", &rp, &err), 0);
	T_INTEQ(rp.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
	T_STREQ(rp.orcpt, "rfc822;a@b");
	T_INTEQ(smtp_parse_rcpt_params("NOTIFY=NEVER,DELAY", &rp, &err), -1);
	T_INTEQ(smtp_parse_rcpt_params("NOTIFY=", &rp, &err), -1);
	T_INTEQ(smtp_parse_rcpt_params("ORCPT=nosemi", &rp, &err), -1);
}

/* ENVID and ORCPT go into queue records, logs and DSN headers: an xtext
 * escape must not smuggle a control character (CR, LF, TAB) into them. */
static void
test_xtext_controls(void)
{
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	const char *err;

	T_INTEQ(smtp_parse_mail_params("ENVID=a+0D+0AX-Injected:+20yes", &mp,
	    &err), -1);
	T_INTEQ(smtp_parse_mail_params("ENVID=a+0Ab", &mp, &err), -1);
	T_INTEQ(smtp_parse_mail_params("ENVID=a+09b", &mp, &err), -1);
	T_INTEQ(smtp_parse_mail_params("ENVID=a+7Fb", &mp, &err), -1);
	T_INTEQ(smtp_parse_rcpt_params("ORCPT=rfc822;a@b+09+31", &rp, &err),
	    -1);
	T_INTEQ(smtp_parse_rcpt_params("ORCPT=rfc822;a@b+0A", &rp, &err), -1);
	/* printable escapes stay accepted */
	T_INTEQ(smtp_parse_mail_params("ENVID=a+20b+3D", &mp, &err), 0);
	T_STREQ(mp.envid, "a b=");
}

/* the writers give back what the parsers read */
static void
test_params_format(void)
{
	struct smtp_mail_params mp, mp2;
	struct smtp_rcpt_params rp, rp2;
	struct buf b;
	const char *err;

	T_INTEQ(smtp_parse_mail_params("SIZE=10 RET=HDRS ENVID=a+2Bb+3Dc "
	    "BODY=8BITMIME SMTPUTF8", &mp, &err), 0);
	buf_init(&b, 4096);
	smtp_mail_params_format(&b, &mp);
	T_STREQ(buf_cstr(&b), " RET=HDRS ENVID=a+2Bb+3Dc BODY=8BITMIME SMTPUTF8");
	T_INTEQ(smtp_parse_mail_params(buf_cstr(&b), &mp2, &err), 0);
	T_INTEQ(mp2.ret, 2);
	T_STREQ(mp2.envid, "a+b=c");
	T_INTEQ(mp2.body_8bit, 1);
	T_INTEQ(mp2.smtputf8, 1);
	buf_reset(&b);
	T_INTEQ(smtp_parse_mail_params("SIZE=10", &mp, &err), 0);
	smtp_mail_params_format(&b, &mp);
	T_STREQ(buf_cstr(&b), "");
	T_INTEQ(smtp_parse_rcpt_params("ORCPT=rfc822;x+2By@b NOTIFY=DELAY,SUCCESS",
	    &rp, &err), 0);
	smtp_rcpt_params_format(&b, &rp);
	T_STREQ(buf_cstr(&b), " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;x+2By@b");
	T_INTEQ(smtp_parse_rcpt_params(buf_cstr(&b), &rp2, &err), 0);
	T_INTEQ(rp2.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	T_STREQ(rp2.orcpt, "rfc822;x+y@b");
	buf_reset(&b);
	T_INTEQ(smtp_parse_rcpt_params("NOTIFY=NEVER", &rp, &err), 0);
	smtp_rcpt_params_format(&b, &rp);
	T_STREQ(buf_cstr(&b), " NOTIFY=NEVER");
	buf_free(&b);
}

int
main(void)
{
	T_RUN(test_verbs);
	T_RUN(test_paths);
	T_RUN(test_params);
	T_RUN(test_xtext_controls);
	T_RUN(test_params_format);
	return t_done();
}
