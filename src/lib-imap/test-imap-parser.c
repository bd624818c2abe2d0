/* test-imap-parser.c - unit tests of the command parser, sequence sets,
 * modified UTF-7, dates and search parsing. */
#include <stdlib.h>
#include <string.h>

#include "imap_date.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "imap_utf7.h"
#include "mem.h"
#include "test.h"

static const struct imap_limits lim = { 8, 1000 };

static int
parse(const char *s, struct imap_command *c, const char **err)
{
	char *tag = NULL;
	int r = imap_parse_command(s, strlen(s), &lim, c, &tag, err);
	free(tag);
	return r;
}

static void
test_basic(void)
{
	struct imap_command c;
	const char *err;

	T_INTEQ(parse("a1 noop", &c, &err), 0);
	T_STREQ(c.tag, "a1");
	T_STREQ(c.name, "NOOP");
	T_INTEQ(c.count, 0);
	imap_command_free(&c);

	T_INTEQ(parse("a2 LOGIN \"us\\\"er\" {3}\r\npw!", &c, &err), 0);
	T_INTEQ(c.count, 2);
	T_INTEQ(c.args[0].type, IMAP_ARG_QUOTED);
	T_STREQ(c.args[0].str, "us\"er");
	T_INTEQ(c.args[1].type, IMAP_ARG_LITERAL);
	T_STREQ(c.args[1].str, "pw!");
	imap_command_free(&c);

	T_INTEQ(parse("a3 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100> UID)", &c, &err), 0);
	T_INTEQ(c.count, 2);
	T_STREQ(c.args[0].str, "1:*");
	T_INTEQ(c.args[1].type, IMAP_ARG_LIST);
	T_INTEQ(c.args[1].count, 3);
	T_STREQ(c.args[1].list[1].str, "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>");
	imap_command_free(&c);

	T_INTEQ(parse("a4 STORE 1 +FLAGS (\\Seen \\Deleted)", &c, &err), 0);
	T_STREQ(c.args[2].list[0].str, "\\Seen");
	imap_command_free(&c);

	T_INTEQ(parse("a5 SELECT NIL", &c, &err), 0);
	T_INTEQ(c.args[0].type, IMAP_ARG_NIL);
	T_OK(imap_arg_is_astring(&c.args[0]));
	imap_command_free(&c);

	T_INTEQ(parse("a6 APPEND INBOX {3+}\r\nabc", &c, &err), 0);
	T_STREQ(c.args[1].str, "abc");
	imap_command_free(&c);

	T_INTEQ(parse("a7 LIST \"\" %", &c, &err), 0);
	T_STREQ(c.args[1].str, "%");
	imap_command_free(&c);
}

static void
test_bad(void)
{
	struct imap_command c;
	const char *err;

	T_INTEQ(parse("", &c, &err), -1);
	T_INTEQ(parse("a1", &c, &err), -1);
	T_INTEQ(parse("a1 X \"unterminated", &c, &err), -1);
	T_INTEQ(parse("a1 X {10}\r\nshort", &c, &err), -1);
	T_STREQ(err, "Literal data missing");
	T_INTEQ(parse("a1 X (((((((((((a)))))))))))", &c, &err), -1);
	T_STREQ(err, "Too deep nesting");
	T_INTEQ(parse("a1 X (a b", &c, &err), -1);
	T_INTEQ(parse("a1 X a)", &c, &err), -1);
	T_INTEQ(parse("a1 X {99999999999999999999}\r\n", &c, &err), -1);
	T_INTEQ(parse("a1 X \"a\\b\"", &c, &err), -1);
	T_INTEQ(parse("a+b NOOP", &c, &err), -1);
	T_INTEQ(parse("a1 X BODY[1", &c, &err), -1);
}

static void
test_literal_marker(void)
{
	uint64_t n;
	int ns;

	T_INTEQ(imap_line_literal("a APPEND x {12}", 15, &n, &ns), 1);
	T_INTEQ(n, 12);
	T_INTEQ(ns, 0);
	T_INTEQ(imap_line_literal("a APPEND x {12+}", 16, &n, &ns), 1);
	T_INTEQ(ns, 1);
	T_INTEQ(imap_line_literal("a NOOP", 6, &n, &ns), 0);
	T_INTEQ(imap_line_literal("a X {}", 6, &n, &ns), -1);
	T_INTEQ(imap_line_literal("a X {123456789012345678901}", 27, &n, &ns), -1);
}

static void
test_seqset(void)
{
	struct seqset s;
	const char *err;

	T_INTEQ(imap_seqset_parse("1:3,7,9:*", 10, &s, &err), 0);
	imap_seqset_resolve(&s, 20);
	T_OK(imap_seqset_contains(&s, 2));
	T_OK(!imap_seqset_contains(&s, 5));
	T_OK(imap_seqset_contains(&s, 20));
	T_OK(!imap_seqset_contains(&s, 21));
	imap_seqset_free(&s);

	T_INTEQ(imap_seqset_parse("*:4,2", 10, &s, &err), 0);
	imap_seqset_resolve(&s, 3);     /* 3:4 and 2 merge into 2:4 */
	T_INTEQ(s.n, 1);
	T_INTEQ(s.v[0].lo, 2);
	T_INTEQ(s.v[0].hi, 4);
	imap_seqset_free(&s);

	T_INTEQ(imap_seqset_parse("0", 10, &s, &err), -1);
	T_INTEQ(imap_seqset_parse("1,,2", 10, &s, &err), -1);
	T_INTEQ(imap_seqset_parse("4294967296", 10, &s, &err), -1);
	T_INTEQ(imap_seqset_parse("1,2,3", 2, &s, &err), -1);
	T_INTEQ(imap_seqset_parse("1:4294967294", 2, &s, &err), 0);
	imap_seqset_free(&s);
}

static void
test_utf7(void)
{
	struct buf b;

	buf_init(&b, 1024);
	T_INTEQ(imap_utf7_to_utf8("Entw&APw-rfe", &b), 0);
	T_STREQ(buf_cstr(&b), "Entw\xc3\xbc" "rfe");
	buf_reset(&b);
	T_INTEQ(imap_utf7_to_utf8("&-x", &b), 0);
	T_STREQ(buf_cstr(&b), "&x");
	buf_reset(&b);
	T_INTEQ(imap_utf7_to_utf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-", &b), 0);
	T_STREQ(buf_cstr(&b), "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	buf_free(&b);
	/* UTF-8 -> modified UTF-7 (UTF8=ACCEPT), round trips */
	buf_init(&b, 1024);
	static const char *const rt[][2] = {
		{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
		{ "a&b", "a&-b" },
		{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
		{ "\xf0\x9f\x98\x80x", "&2D3eAA-x" },     /* U+1F600: a surrogate pair */
	};
	for (unsigned k = 0; k < sizeof(rt) / sizeof(rt[0]); k++) {
		buf_reset(&b);
		T_INTEQ(imap_utf8_to_utf7(rt[k][0], &b), 0);
		T_STREQ(buf_cstr(&b), rt[k][1]);
		T_OK(imap_utf7_is_valid(buf_cstr(&b)));
		buf_reset(&b);
		T_INTEQ(imap_utf7_to_utf8(rt[k][1], &b), 0);
		T_STREQ(buf_cstr(&b), rt[k][0]);
	}
	buf_reset(&b);
	T_INTEQ(imap_utf8_to_utf7("\xc3", &b), -1);           /* truncated */
	buf_reset(&b);
	T_INTEQ(imap_utf8_to_utf7("\xc0\xaf", &b), -1);       /* overlong */
	buf_reset(&b);
	T_INTEQ(imap_utf8_to_utf7("\xed\xa0\x80", &b), -1);   /* surrogate */
	buf_reset(&b);
	T_INTEQ(imap_utf8_to_utf7("a\tb", &b), -1);            /* control */
	buf_free(&b);
	T_OK(!imap_utf7_is_valid("&"));
	T_OK(!imap_utf7_is_valid("&AGE-"));     /* encodes 'a' */
	T_OK(!imap_utf7_is_valid("&2D0-"));     /* lone surrogate */
	T_OK(!imap_utf7_is_valid("a\xc3\xa4"));
	T_OK(!imap_utf7_is_valid("&Jjo!"));
	T_OK(imap_utf7_is_valid("Sent"));
}

static void
test_dates(void)
{
	time_t t;
	char buf[64];

	T_INTEQ(imap_date_parse("1-Feb-1994", &t), 0);
	T_INTEQ(t, 760060800);
	T_INTEQ(imap_date_parse("31-Feb-1994", &t), -1);
	T_INTEQ(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", &t), 0);
	imap_datetime_format(t, buf, sizeof(buf));
	T_STREQ(buf, "17-Jul-1996 09:44:25 +0000");
	T_INTEQ(imap_datetime_parse(" 7-Jul-1996 02:44:25 +0000", &t), 0);
	T_INTEQ(imap_datetime_parse("7-Jul-1996 02:44", &t), -1);
	T_INTEQ(imap_rfc822_date_parse("Tue, 1 Jul 2003 10:52:37 +0200", &t), 0);
	T_INTEQ(t, 1057049557);
}

static void
test_search_parse(void)
{
	struct imap_command c;
	struct imap_search *s;
	const char *err;
	int bc;

	T_INTEQ(parse("a SEARCH CHARSET UTF-8 OR (FROM x SEEN) NOT 1:3 UID 5:*", &c, &err), 0);
	s = imap_search_parse(c.args, c.count, 10, 50, &err, &bc);
	T_OK(s != NULL);
	imap_search_free(&s);
	imap_command_free(&c);
	T_INTEQ(parse("a SEARCH CHARSET KOI8-R ALL", &c, &err), 0);
	s = imap_search_parse(c.args, c.count, 10, 50, &err, &bc);
	T_OK(s == NULL && bc == 1);
	imap_command_free(&c);
	T_INTEQ(parse("a SEARCH FROBNICATE", &c, &err), 0);
	s = imap_search_parse(c.args, c.count, 10, 50, &err, &bc);
	T_OK(s == NULL && bc == 0);
	imap_command_free(&c);
	T_INTEQ(parse("a SEARCH OR SEEN", &c, &err), 0);
	T_OK(imap_search_parse(c.args, c.count, 10, 50, &err, &bc) == NULL);
	imap_command_free(&c);
}

int
main(void)
{
	T_RUN(test_basic);
	T_RUN(test_bad);
	T_RUN(test_literal_marker);
	T_RUN(test_seqset);
	T_RUN(test_utf7);
	T_RUN(test_dates);
	T_RUN(test_search_parse);
	return t_done();
}
