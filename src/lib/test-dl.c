/* test-dl.c - loading an optional library when first used. */
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "test.h"

static void
test_load(void)
{
	double (*cosine)(double) = NULL, (*sine)(double) = NULL;
	void *nothing = (void *)1, *h = NULL;
	const struct dl_sym ok[] = {
		{ "cos", (void **)&cosine },
		{ "sin", (void **)&sine },
	};
	const struct dl_sym bad[] = {
		{ "cos", (void **)&cosine },
		{ "tempest_no_such_function", &nothing },
	};
	char *err = NULL;

	T_INTEQ(dl_load("libm.so.6", ok, 2, &h, &err), 0);
	T_OK(h != NULL && err == NULL);
	T_OK(cosine != NULL && sine != NULL && cosine(0.0) == 1.0);
	/* a missing function: every slot cleared, the error names it */
	T_INTEQ(dl_load("libm.so.6", bad, 2, NULL, &err), -1);
	T_STREQ(err, "libm.so.6 lacks tempest_no_such_function");
	T_OK(cosine == NULL && nothing == NULL);
	free(err);
	/* a library that is not there */
	err = NULL;
	T_INTEQ(dl_load("libtempest-none.so.0", ok, 2, NULL, &err), -1);
	T_OK(err != NULL && strncmp(err, "libtempest-none.so.0 does not load: ", 36) == 0);
	T_OK(cosine == NULL && sine == NULL);
	free(err);
}

int
main(void)
{
	T_RUN(test_load);
	return t_done();
}
