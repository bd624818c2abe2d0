/* test-str.c - list splitting and main.cf value syntaxes. */
#include "str.h"
#include "test.h"

static void
test_split(void)
{
	size_t n;
	char **v = str_split(" a, b\t,,c\n", STR_LIST_SEPS, &n);

	T_INTEQ(n, 3);
	T_STREQ(v[0], "a");
	T_STREQ(v[2], "c");
	T_OK(v[3] == NULL);
	str_split_free(&v);
	T_OK(v == NULL);
	v = str_split("", STR_LIST_SEPS, &n);
	T_INTEQ(n, 0);
	str_split_free(&v);
}

static void
test_values(void)
{
	long long r;
	int b;

	T_INTEQ(str_parse_time("300s", 's', &r), 0); T_INTEQ(r, 300);
	T_INTEQ(str_parse_time("5d", 's', &r), 0); T_INTEQ(r, 432000);
	T_INTEQ(str_parse_time("10", 'm', &r), 0); T_INTEQ(r, 600);
	T_INTEQ(str_parse_time("10x", 's', &r), -1);
	T_INTEQ(str_parse_time("1hh", 's', &r), -1);
	T_INTEQ(str_parse_time("", 's', &r), -1);
	T_INTEQ(str_parse_ll("10240000", &r), 0); T_INTEQ(r, 10240000);
	T_INTEQ(str_parse_ll("-1", &r), -1);
	T_INTEQ(str_parse_ll("99999999999999999999999", &r), -1);
	T_INTEQ(str_parse_bool("yes", &b), 0); T_INTEQ(b, 1);
	T_INTEQ(str_parse_bool("No", &b), 0); T_INTEQ(b, 0);
	T_INTEQ(str_parse_bool("maybe", &b), -1);
	for (int c = 0; c < 256; c++) {
		const char *d = strchr("0123456789abcdef", c), *u = strchr("ABCDEF", c);
		int want = c == 0 ? -1 : d != NULL ? (int)(d - "0123456789abcdef") :
		    u != NULL ? 10 + (int)(u - "ABCDEF") : -1;
		T_INTEQ(str_hexval(c), want);
	}
	T_INTEQ(str_hexval(-1), -1);
}

static void
test_mask_controls(void)
{
	char s[] = "a\rb\nc\td\x7f" "e\xc3\xa9 f";

	str_mask_controls(s);
	T_STREQ(s, "a?b?c?d?e\xc3\xa9 f");  /* UTF-8 and blanks stay */
}

int
main(void)
{
	T_RUN(test_split);
	T_RUN(test_mask_controls);
	T_RUN(test_values);
	return t_done();
}
