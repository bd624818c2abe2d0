/*
 * test-alias-parse.c - forwarding list syntax.
 */
#include <stdlib.h>
#include <string.h>

#include "alias_parse.h"
#include "buf.h"
#include "test.h"

static int
collect(void *arg, char *t)
{
	struct buf *b = arg;

	buf_printf(b, "[%s]", t);
	return 0;
}

static const char *
split(const char *list, int *n_r)
{
	static struct buf b;

	buf_free(&b);
	buf_init(&b, 1 << 20);
	*n_r = alias_split(list, collect, &b);
	return buf_cstr(&b);
}

static void
test_split(void)
{
	int n;

	T_STREQ(split("a, b@x.test,c", &n), "[a][b@x.test][c]");
	T_INTEQ(n, 3);
	T_STREQ(split("\"|cmd a, b\", /var/log/x", &n), "[|cmd a, b][/var/log/x]");
	T_INTEQ(n, 2);
	T_STREQ(split("|/usr/bin/prog -x y", &n), "[|/usr/bin/prog -x y]");
	T_STREQ(split(":include:/etc/list, \\joe", &n),
	    "[:include:/etc/list][\\joe]");
	T_STREQ(split("a b\tc", &n), "[a][b][c]");
	T_INTEQ(n, 3);
	T_STREQ(split(" , ,", &n), "");
	T_INTEQ(n, 0);
	T_STREQ(split("", &n), "");
	T_STREQ(split("\"unterminated, x", &n), "[unterminated, x]");
}

static int
stop_at_two(void *arg, char *t)
{
	int *count = arg;

	(void)t;
	return ++*count == 2;
}

static void
test_limits(void)
{
	char *big = malloc(ALIAS_TOKEN_MAX + 10);
	int count = 0;

	memset(big, 'a', ALIAS_TOKEN_MAX + 9);
	big[ALIAS_TOKEN_MAX + 9] = '\0';
	T_INTEQ(alias_split(big, stop_at_two, &count), -1);
	free(big);
	T_INTEQ(alias_split("a, b, c, d", stop_at_two, &count), 2);
}

static void
test_file(void)
{
	const char body[] = "# members\nbob@x.test\n\n  carol, dave \n#x\n\"|cmd\"";
	char *l = alias_file_list(body, sizeof(body) - 1);

	T_STREQ(l, "bob@x.test, carol, dave, \"|cmd\"");
	free(l);
	l = alias_file_list("", 0);
	T_STREQ(l, "");
	free(l);
}

int
main(void)
{
	T_RUN(test_split);
	T_RUN(test_limits);
	T_RUN(test_file);
	return t_done();
}
