/*
 * test-smtp-reply.c - reply lines, enhanced status codes, EHLO keywords.
 */
#include <string.h>

#include "smtp_reply.h"
#include "test.h"

static void
test_lines(void)
{
	int code = 0, more = 0;
	const char *text = NULL;

	T_INTEQ(smtp_reply_line("250-PIPELINING", 14, &code, &more, &text), 0);
	T_INTEQ(code, 250);
	T_INTEQ(more, 1);
	T_STREQ(text, "PIPELINING");
	T_INTEQ(smtp_reply_line("550 5.1.1 no", 12, &code, &more, &text), 0);
	T_INTEQ(code, 550);
	T_INTEQ(more, 0);
	T_STREQ(text, "5.1.1 no");
	T_INTEQ(smtp_reply_line("354", 3, &code, &more, &text), 0);
	T_STREQ(text, "");
	T_INTEQ(smtp_reply_line("25", 2, &code, &more, &text), -1);
	T_INTEQ(smtp_reply_line("abc ok", 6, &code, &more, &text), -1);
	T_INTEQ(smtp_reply_line("150 x", 5, &code, &more, &text), -1);
	T_INTEQ(smtp_reply_line("250x", 4, &code, &more, &text), -1);
}

static void
test_dsn(void)
{
	T_INTEQ(smtp_reply_dsn_len("5.1.1 unknown"), 5);
	T_INTEQ(smtp_reply_dsn_len("4.7.0"), 5);
	T_INTEQ(smtp_reply_dsn_len("2.0.0"), 5);
	T_INTEQ(smtp_reply_dsn_len("5.123.456 x"), 9);
	T_INTEQ(smtp_reply_dsn_len("5.1234.1 x"), 0);
	T_INTEQ(smtp_reply_dsn_len("3.1.1 x"), 0);
	T_INTEQ(smtp_reply_dsn_len("5.1.1x"), 0);
	T_INTEQ(smtp_reply_dsn_len("Ok"), 0);
	T_INTEQ(smtp_reply_dsn_len(""), 0);
}

static void
test_ehlo(void)
{
	unsigned f = 0;
	unsigned long long size = 0;

	smtp_ehlo_keyword("PIPELINING", &f, &size);
	smtp_ehlo_keyword("size 10240000", &f, &size);
	smtp_ehlo_keyword("8BITMIME", &f, &size);
	smtp_ehlo_keyword("STARTTLS", &f, &size);
	smtp_ehlo_keyword("AUTH PLAIN LOGIN", &f, &size);
	smtp_ehlo_keyword("", &f, &size);
	T_INTEQ(f, SMTP_FEAT_PIPELINING | SMTP_FEAT_SIZE | SMTP_FEAT_8BITMIME |
	    SMTP_FEAT_STARTTLS);
	T_INTEQ(size, 10240000);
	f = 0;
	size = 0;
	smtp_ehlo_keyword("SIZE", &f, &size);
	T_INTEQ(f, SMTP_FEAT_SIZE);
	T_INTEQ(size, 0);
	smtp_ehlo_keyword("SIZE=99999999999999999999999999", &f, &size);
	T_OK(size > 0);
}

int
main(void)
{
	T_RUN(test_lines);
	T_RUN(test_dsn);
	T_RUN(test_ehlo);
	return t_done();
}
