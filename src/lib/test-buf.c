/* test-buf.c - bounded buffer. */
#include <stdlib.h>
#include "buf.h"
#include "mem.h"
#include "test.h"

static void
test_limits(void)
{
	struct buf b;

	buf_init(&b, 8);
	T_STREQ(buf_cstr(&b), "");
	T_INTEQ(buf_appends(&b, "abcd"), 0);
	T_INTEQ(buf_appends(&b, "efgh"), 0);
	T_INTEQ(buf_appendc(&b, 'x'), -1);        /* would exceed 8 */
	T_INTEQ(b.len, 8);
	T_STREQ(buf_cstr(&b), "abcdefgh");
	buf_consume(&b, 3);
	T_STREQ(buf_cstr(&b), "defgh");
	T_INTEQ(buf_printf(&b, "%d", 123), 0);
	T_INTEQ(buf_printf(&b, "%d", 1), -1);
	T_STREQ(buf_cstr(&b), "defgh123");
	buf_truncate(&b, 2);
	T_STREQ(buf_cstr(&b), "de");
	buf_free(&b);
}

static void
test_binary(void)
{
	struct buf b;
	char *s;

	buf_init(&b, BUF_UNLIMITED);
	T_INTEQ(buf_append(&b, "a\0b", 3), 0);
	T_INTEQ(b.len, 3);
	T_OK(b.data[1] == '\0' && b.data[3] == '\0');
	for (int i = 0; i < 10000; i++)
		buf_appendc(&b, 'z');
	T_INTEQ(b.len, 10003);
	s = buf_steal(&b);
	T_OK(b.data == NULL && b.len == 0);
	free(s);
}

/* xgrowarray: appends one at a time reallocate O(log n) times and keep
 * what was stored. */
static void
test_growarray(void)
{
	int *v = NULL;
	size_t cap = 0, grows = 0;

	for (size_t n = 0; n < 100000; n++) {
		size_t was = cap;
		v = xgrowarray(v, &cap, n + 1, sizeof(*v));
		grows += cap != was;
		T_OK(cap >= n + 1);
		v[n] = (int)n;
	}
	T_OK(grows <= 15);
	for (size_t n = 0; n < 100000; n += 997)
		T_INTEQ(v[n], (int)n);
	/* a need past double the capacity is met at once */
	v = xgrowarray(v, &cap, 1000000, sizeof(*v));
	T_OK(cap >= 1000000);
	free(v);
}

/* hex both ways: every byte value round-trips; bad input and a full
 * buffer append nothing */
static void
test_hex(void)
{
	unsigned char all[256];
	struct buf h, b;

	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_init(&h, 512);
	T_INTEQ(buf_append_hex(&h, all, 256), 0);
	T_INTEQ(h.len, 512);
	T_OK(strncmp(h.data, "000102", 6) == 0 &&
	    strcmp(h.data + 500, "fafbfcfdfeff") == 0);
	T_INTEQ(buf_append_hex(&h, "x", 1), -1);
	T_INTEQ(h.len, 512);
	buf_init(&b, 256);
	T_INTEQ(buf_append_unhex(&b, h.data, h.len), 0);
	T_OK(b.len == 256 && memcmp(b.data, all, 256) == 0);
	buf_free(&b);
	buf_init(&b, BUF_UNLIMITED);
	T_INTEQ(buf_append_unhex(&b, "4A6b", 4), 0);
	T_STREQ(buf_cstr(&b), "Jk");
	T_INTEQ(buf_append_unhex(&b, "4a6", 3), -1);
	T_INTEQ(buf_append_unhex(&b, "4g", 2), -1);
	T_INTEQ(buf_append_unhex(&b, "41 2", 4), -1);
	T_INTEQ(buf_append_unhex(&b, "", 0), 0);
	T_STREQ(buf_cstr(&b), "Jk");
	buf_free(&b);
	buf_init(&b, 1);
	T_INTEQ(buf_append_unhex(&b, "4142", 4), -1);
	T_INTEQ(b.len, 0);
	buf_free(&b);
	buf_free(&h);
}

int
main(void)
{
	T_RUN(test_limits);
	T_RUN(test_binary);
	T_RUN(test_growarray);
	T_RUN(test_hex);
	return t_done();
}
