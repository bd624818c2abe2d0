/* test-pop3-parser.c - unit tests of the POP3 command tokenizer. */
#include <string.h>

#include "pop3_parser.h"
#include "test.h"

static int
p(const char *s, struct pop3_cmd *c)
{
	const char *err;

	return pop3_parse(s, strlen(s), c, &err);
}

static void
test_parse(void)
{
	struct pop3_cmd c;
	unsigned n;

	T_INTEQ(p("stat", &c), 0);
	T_STREQ(c.name, "STAT");
	T_INTEQ(c.nargs, 0);
	T_INTEQ(p("TOP 1 10", &c), 0);
	T_INTEQ(c.nargs, 2);
	T_STREQ(c.args[1], "10");
	pop3_cmd_free(&c);
	T_INTEQ(p("PASS with spaces in it", &c), 0);
	T_INTEQ(c.nargs, 1);
	T_STREQ(c.args[0], "with spaces in it");
	pop3_cmd_free(&c);
	T_INTEQ(p("LIST 1 2 3", &c), -1);
	T_INTEQ(p("RETR  1", &c), -1);
	T_INTEQ(p("VERYLONGCMD", &c), -1);
	T_INTEQ(p("RE\001TR", &c), -1);
	T_INTEQ(p("", &c), -1);
	T_INTEQ(p("1 2", &c), -1);
	T_INTEQ(pop3_msgnum("3", 5, &n), 0);
	T_INTEQ(n, 3);
	T_INTEQ(pop3_msgnum("6", 5, &n), -1);
	T_INTEQ(pop3_msgnum("0", 5, &n), -1);
	T_INTEQ(pop3_msgnum("1x", 5, &n), -1);
	T_INTEQ(pop3_msgnum("99999999999999999999", 5, &n), -1);
}

int
main(void)
{
	T_RUN(test_parse);
	return t_done();
}
