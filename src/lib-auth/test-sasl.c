/* test-sasl.c - base64, SASL PLAIN parsing, user-name checks, the
 * saslauthd request encoding and the sqlite/passwd-file backends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "passdb.h"
#include "sasl.h"
#include "userdb.h"
#include "test.h"

static int
dec(const char *in, struct buf *out)
{
	buf_reset(out);
	return sasl_b64_decode(in, strlen(in), out);
}

static void
test_b64(void)
{
	struct buf b, e;
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	size_t i;

	buf_init(&b, 64);
	buf_init(&e, 64);
	for (i = 0; i < NELEM(vec); i++) {
		T_INTEQ(dec(vec[i][1], &b), 0);
		T_STREQ(buf_cstr(&b), vec[i][0]);
		buf_reset(&e);
		T_INTEQ(sasl_b64_encode(vec[i][0], strlen(vec[i][0]), &e), 0);
		T_STREQ(buf_cstr(&e), vec[i][1]);
	}
	/* padding is optional at the end */
	T_INTEQ(dec("Zg", &b), 0);
	T_STREQ(buf_cstr(&b), "f");
	T_INTEQ(dec("Zm8", &b), 0);
	T_STREQ(buf_cstr(&b), "fo");
	/* bad input */
	T_INTEQ(dec("Z", &b), -1);
	T_INTEQ(dec("Zm9v!", &b), -1);
	T_INTEQ(dec("Zm=v", &b), -1);
	T_INTEQ(dec("Zg===", &b), -1);
	T_INTEQ(dec("Zm9vY=", &b), -1);
	T_INTEQ(dec("Zm9 v", &b), -1);
	/* the output bound holds */
	buf_free(&b);
	buf_init(&b, 4);
	T_INTEQ(dec("Zm9vYmFy", &b), -1);
	T_OK(b.len <= 4);
	buf_free(&b);
	buf_free(&e);
}

static void
test_plain(void)
{
	const char *u = NULL, *p = NULL, *err = NULL;
	static const char m1[] = "\0alice@example.test\0s3cret";
	static const char m2[] = "alice\0alice\0pw";
	static const char m3[] = "bob\0alice\0pw";
	static const char m4[] = "\0\0pw";
	static const char m5[] = "\0alice";
	static const char m6[] = "\0al ice\0pw";
	static const char m7[] = "\0alice\0p\0w";

	T_INTEQ(sasl_plain_parse(m1, sizeof(m1) - 1, &u, &p, &err), 0);
	T_STREQ(u, "alice@example.test");
	T_STREQ(p, "s3cret");
	T_INTEQ(sasl_plain_parse(m2, sizeof(m2) - 1, &u, &p, &err), 0);
	T_STREQ(u, "alice");
	T_INTEQ(sasl_plain_parse(m3, sizeof(m3) - 1, &u, &p, &err), -2);
	T_INTEQ(sasl_plain_parse(m4, sizeof(m4) - 1, &u, &p, &err), -2);
	T_INTEQ(sasl_plain_parse(m5, sizeof(m5) - 1, &u, &p, &err), -1);
	T_INTEQ(sasl_plain_parse(m6, sizeof(m6) - 1, &u, &p, &err), -2);
	T_INTEQ(sasl_plain_parse(m7, sizeof(m7) - 1, &u, &p, &err), -1);
	T_INTEQ(sasl_plain_parse("", 0, &u, &p, &err), -1);
	T_INTEQ(sasl_name_ok("a:b", 3), 0);
	T_INTEQ(sasl_name_ok("ab\x01", 3), 0);
	T_INTEQ(sasl_name_ok("j\xc3\xb6rg", 5), 1);
}

static void
test_saslauthd_request(void)
{
	char out[64];
	long n = passdb_saslauthd_request(out, sizeof(out), "bob", "pw",
	    "smtp", "example.test");

	T_INTEQ(n, 2 + 3 + 2 + 2 + 2 + 4 + 2 + 12);
	T_OK(memcmp(out, "\0\3bob\0\2pw\0\4smtp\0\14example.test", (size_t)n) == 0);
	T_INTEQ(passdb_saslauthd_request(out, 10, "bob", "pw", "smtp", "x"), -1);
}

static void
test_passwd_file_set(void)
{
	char dir[] = "/tmp/test-sasl-XXXXXX", path[300], spec[320], line[512];
	struct passdb *p;
	char *err = NULL, *h;
	const char *e = NULL;
	FILE *fp;

	T_OK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/users", dir);
	fp = fopen(path, "w");
	fprintf(fp, "# users\nann@example.test:{PLAIN}old:10:20::example.test/ann/::\n");
	fclose(fp);
	snprintf(spec, sizeof(spec), "passwd-file:%s", path);
	p = passdb_open(spec, &err);
	T_OK(p != NULL);
	T_INTEQ(passdb_verify(p, "ann@example.test", "old", "smtp", &e), 1);
	h = userdb_hash_password("new pw");
	T_INTEQ(passdb_set_password(p, "ann@example.test", h, &err), 0);
	T_INTEQ(passdb_set_password(p, "ben@example.test", h, &err), 0);
	free(h);
	T_INTEQ(passdb_verify(p, "ann@example.test", "old", "smtp", &e), 0);
	T_INTEQ(passdb_verify(p, "ann@example.test", "new pw", "smtp", &e), 1);
	T_INTEQ(passdb_verify(p, "ben@example.test", "new pw", "smtp", &e), 1);
	T_INTEQ(passdb_verify(p, "nobody@example.test", "new pw", "smtp", &e), 0);
	/* other fields are kept; the comment too */
	fp = fopen(path, "r");
	T_OK(fgets(line, sizeof(line), fp) != NULL);
	T_STREQ(line, "# users\n");
	T_OK(fgets(line, sizeof(line), fp) != NULL);
	T_OK(strstr(line, ":10:20::example.test/ann/::\n") != NULL);
	T_OK(fgets(line, sizeof(line), fp) != NULL);
	T_OK(strstr(line, "::::example.test/ben/::\n") != NULL);
	fclose(fp);
	passdb_free(&p);

	/* sqlite: created by the first set */
	snprintf(spec, sizeof(spec), "sqlite:%s/users.db", dir);
	p = passdb_open(spec, &err);
	T_OK(p != NULL);
	h = userdb_hash_password("sq pw");
	T_INTEQ(passdb_set_password(p, "cy@example.test", h, &err), 0);
	free(h);
	T_INTEQ(passdb_verify(p, "CY@example.test", "sq pw", "smtp", &e), 1);
	T_INTEQ(passdb_verify(p, "cy@example.test", "sq  pw", "smtp", &e), 0);
	T_INTEQ(passdb_verify(p, "dee@example.test", "sq pw", "smtp", &e), 0);
	passdb_free(&p);
	T_OK(passdb_open("nosuch:/x", &err) == NULL);
	free(err);
	err = NULL;
	T_OK(passdb_open("sqlite:relative.db", &err) == NULL);
	free(err);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	T_INTEQ(system(line), 0);
}

int
main(void)
{
	T_RUN(test_b64);
	T_RUN(test_plain);
	T_RUN(test_saslauthd_request);
	T_RUN(test_passwd_file_set);
	return t_done();
}
