/*
 * test-bounce-report.c - unit tests of the DSN text builder and of the
 * report line parser (bounce_report.c).
 */
#include <stdlib.h>
#include <string.h>

#include "bounce_report.h"
#include "buf.h"
#include "test.h"

/* The value of "Name: " in the block of text starting at from, up to the
 * line end (static buffer), or NULL. */
static const char *
field(const char *from, const char *name)
{
	static char val[512];
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\n%s: ", name);
	p = strstr(from, key);
	if (p == NULL)
		return NULL;
	p += strlen(key);
	e = strchr(p, '\n');
	snprintf(val, sizeof(val), "%.*s", (int)(e != NULL ? e - p :
	    (long)strlen(p)), p);
	return val;
}

static struct dsn_report
base(enum dsn_kind kind)
{
	struct dsn_report r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.host = "mx.example.test";
	r.to = "alice@example.test";
	r.queue_id = "0123456789AB";
	r.envid = "";
	r.sender = "alice@example.test";
	r.arrival = "Sun, 29 Nov 2026 10:00:00 +0000";
	r.boundary = "B0";
	return r;
}

static void
test_success(void)
{
	struct dsn_rcpt rc[3] = {
		{ "bob@example.test", "rfc822;bob@example.test", "delivered",
		  "2.0.0 delivered to maildir" },
		{ "carol@remote.test", "", "relayed",
		  "2.0.0 delivered via mx.remote.test[127.0.0.1]:25: 250 "
		  "2.0.0 Ok: queued as X1" },
		{ "list@example.test", "rfc822;list@example.test",
		  "expanded", "2.0.0 alias expanded" },
	};
	struct dsn_report r = base(DSN_KIND_SUCCESS);
	struct buf b;
	const char *s, *ds, *p;

	r.envid = "env-42";
	r.rcpts = rc;
	r.nrcpt = 3;
	buf_init(&b, BUF_UNLIMITED);
	dsn_report_build(&r, &b);
	s = buf_cstr(&b);
	T_STREQ(field(s, "Subject"), "Successful Mail Delivery Report");
	T_OK(strncmp(s, "From: MAILER-DAEMON@mx.example.test (Mail Delivery "
	    "System)\n", 59) == 0);
	T_OK(strstr(s, "report-type=delivery-status;\n\tboundary=\"B0\"") != NULL);
	T_OK(strstr(s, "<bob@example.test>: delivered to maildir\n") != NULL);
	ds = strstr(s, "Content-Type: message/delivery-status\n");
	T_OK(ds != NULL);
	if (ds == NULL)
		goto out;
	T_STREQ(field(ds, "Reporting-MTA"), "dns; mx.example.test");
	T_STREQ(field(ds, "Original-Envelope-Id"), "env-42");
	T_STREQ(field(ds, "Arrival-Date"), "Sun, 29 Nov 2026 10:00:00 +0000");
	/* first recipient: delivered, X-Tempest diagnostic */
	p = strstr(ds, "\nFinal-Recipient: rfc822; bob@example.test\n");
	T_OK(p != NULL);
	if (p == NULL)
		goto out;
	T_STREQ(field(p, "Original-Recipient"), "rfc822;bob@example.test");
	T_STREQ(field(p, "Action"), "delivered");
	T_STREQ(field(p, "Status"), "2.0.0");
	T_STREQ(field(p, "Diagnostic-Code"), "X-Tempest; delivered to maildir");
	/* second: relayed, with the remote MTA and its reply */
	p = strstr(ds, "\nFinal-Recipient: rfc822; carol@remote.test\n");
	T_OK(p != NULL);
	if (p == NULL)
		goto out;
	T_STREQ(field(p, "Action"), "relayed");
	T_STREQ(field(p, "Remote-MTA"), "dns; mx.remote.test");
	T_STREQ(field(p, "Diagnostic-Code"), "smtp; 250 2.0.0 Ok: queued as X1");
	{
		const char *want = "\nFinal-Recipient: rfc822; "
		    "carol@remote.test\nAction:";
		T_OK(strncmp(p, want, strlen(want)) == 0);
	}       /* no Original-Recipient without one */
	p = strstr(ds, "\nFinal-Recipient: rfc822; list@example.test\n");
	T_OK(p != NULL);
	if (p != NULL)
		T_STREQ(field(p, "Action"), "expanded");
	/* headers only unless RET=FULL */
	T_STREQ(field(s, "Content-Description"), "Notification");
	T_OK(strstr(s, "Content-Description: Delivered Message Headers\n"
	    "Content-Type: text/rfc822-headers\n\n") != NULL);
	T_OK(b.len > 2 && strcmp(s + b.len - 2, "\n\n") == 0);
	buf_reset(&b);
	r.full = 1;
	dsn_report_build(&r, &b);
	T_OK(strstr(buf_cstr(&b), "Content-Type: message/rfc822\n\n") != NULL);
out:
	buf_free(&b);
}

static void
test_failure(void)
{
	struct dsn_rcpt rc[2] = {
		{ "bob@remote.test", "", "failed", "5.1.1 host mx.remote.test"
		  "[127.0.0.2] said: 550 5.1.1 no such user (in reply to "
		  "RCPT TO command)" },
		{ "x@slow.test", "", "failed", "4.4.1 connection timed out" },
	};
	struct dsn_report r = base(DSN_KIND_FAILURE);
	struct buf b;
	const char *s, *p;

	r.rcpts = rc;
	r.nrcpt = 2;
	r.full = 1;
	buf_init(&b, BUF_UNLIMITED);
	dsn_report_build(&r, &b);
	s = buf_cstr(&b);
	T_STREQ(field(s, "Subject"), "Undelivered Mail Returned to Sender");
	T_OK(field(s, "Original-Envelope-Id") == NULL);
	p = strstr(s, "\nFinal-Recipient: rfc822; bob@remote.test\n");
	T_OK(p != NULL);
	if (p != NULL) {
		T_STREQ(field(p, "Action"), "failed");
		T_STREQ(field(p, "Status"), "5.1.1");
		T_STREQ(field(p, "Remote-MTA"), "dns; mx.remote.test");
		T_STREQ(field(p, "Diagnostic-Code"), "smtp; 550 5.1.1 no such user");
	}
	/* a temporary error that ends the message's life */
	p = strstr(s, "\nFinal-Recipient: rfc822; x@slow.test\n");
	T_OK(p != NULL);
	if (p != NULL)
		T_STREQ(field(p, "Status"), "5.4.7");
	T_OK(strstr(s, "Content-Description: Undelivered Message\n"
	    "Content-Type: message/rfc822\n") != NULL);
	buf_reset(&b);
	r.postmaster = 1;
	r.sender = "";
	dsn_report_build(&r, &b);
	T_STREQ(field(buf_cstr(&b), "Subject"),
	    "Postmaster Copy: Undelivered Mail");
	T_OK(field(buf_cstr(&b), "X-Tempest-Sender") == NULL);
	buf_free(&b);
}

static void
test_delay(void)
{
	struct dsn_rcpt rc = { "bob@remote.test", "", "delayed",
	    "4.4.1 connection refused" };
	struct dsn_report r = base(DSN_KIND_DELAY);
	struct buf b;

	r.rcpts = &rc;
	r.nrcpt = 1;
	r.delay_hours = 4;
	r.lifetime_days = 5;
	buf_init(&b, BUF_UNLIMITED);
	dsn_report_build(&r, &b);
	T_STREQ(field(buf_cstr(&b), "Status"), "4.4.1");
	T_STREQ(field(buf_cstr(&b), "Action"), "delayed");
	T_OK(strstr(buf_cstr(&b), "delivered for 4 hour(s)") != NULL);
	T_OK(strstr(buf_cstr(&b), "Delayed Message Headers") != NULL);
	buf_free(&b);
}

static void
test_lines(void)
{
	char l1[] = "bob@x\trfc822;b@y\t5.1.1 no such user\nnotab\n\n"
	    "c@x\t\t4.0.0 later\twith a tab\n";
	char l2[] = "relayed\tbob@x\t\t2.0.0 delivered via h[1.2.3.4]:25: 250 "
	    "ok\nexpanded\tl@x\trfc822;l@x\t2.0.0 alias expanded";
	struct dsn_rcpt *v;
	size_t n;

	v = dsn_lines_parse(l1, 0, "failed", &n);
	T_INTEQ(n, 2);
	if (n == 2) {
		T_STREQ(v[0].addr, "bob@x");
		T_STREQ(v[0].orcpt, "rfc822;b@y");
		T_STREQ(v[0].text, "5.1.1 no such user");
		T_STREQ(v[0].action, "failed");
		T_STREQ(v[1].orcpt, "");
		T_STREQ(v[1].text, "4.0.0 later\twith a tab");
	}
	free(v);
	v = dsn_lines_parse(l2, 1, NULL, &n);
	T_INTEQ(n, 2);
	if (n == 2) {
		T_STREQ(v[0].action, "relayed");
		T_STREQ(v[0].addr, "bob@x");
		T_STREQ(v[0].orcpt, "");
		T_STREQ(v[1].action, "expanded");
		T_STREQ(v[1].text, "2.0.0 alias expanded");
	}
	free(v);
}

int
main(void)
{
	T_RUN(test_success);
	T_RUN(test_failure);
	T_RUN(test_delay);
	T_RUN(test_lines);
	return t_done();
}
