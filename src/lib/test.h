/*
 * test.h - the in-house unit-test helper (header only).
 *
 *   static void test_thing(void) { T_OK(x == 1); T_STREQ(s, "a"); }
 *   int main(void) { T_RUN(test_thing); return t_done(); }
 *
 * Each T_* check counts once; t_done() prints "N passed, N failed" and
 * returns the exit status for meson.  t_rmtree(dir) removes a test's
 * scratch directory and everything under it (symbolic links not followed).
 */
#ifndef TEMPEST_TEST_H
#define TEMPEST_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int t_passed, t_failed;
static const char *t_current = "";

#define T_CHECK(cond, fmt, ...) do {					\
	if (cond) t_passed++;						\
	else {								\
		t_failed++;						\
		fprintf(stderr, "FAIL %s:%d (%s): " fmt "\n",		\
		    __FILE__, __LINE__, t_current, __VA_ARGS__);	\
	}								\
} while (0)

#define T_OK(cond) T_CHECK((cond), "%s", #cond)
#define T_INTEQ(a, b) do { long long t_a = (long long)(a), t_b = (long long)(b); \
	T_CHECK(t_a == t_b, "%s == %lld, expected %lld", #a, t_a, t_b); } while (0)
#define T_STREQ(a, b) do { const char *t_a = (a), *t_b = (b);		\
	T_CHECK(t_a != NULL && t_b != NULL && strcmp(t_a, t_b) == 0,	\
	    "%s == \"%s\", expected \"%s\"", #a, t_a ? t_a : "(null)",	\
	    t_b ? t_b : "(null)"); } while (0)

#define T_RUN(fn) do { t_current = #fn; fn(); } while (0)

static inline int
t_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static inline void
t_rmtree(const char *dir)
{
	T_OK(nftw(dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static inline int
t_done(void)
{
	printf("%d passed, %d failed\n", t_passed, t_failed);
	return t_failed ? 1 : 0;
}

#endif
