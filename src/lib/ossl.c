/* ossl.c - OpenSSL loaded when first used (ossl.h). */
#define OSSL_NO_REDIRECT
#include <stdlib.h>

#include "dl.h"
#include "log.h"
#include "mem.h"
#include "ossl.h"

static void *fns[OSSL_FN_COUNT];

int
ossl_load(char **error_r)
{
#define OSSL_SYM(n) { #n, &fns[OSSL_FN_##n] },
	static const struct dl_sym ssl_syms[] = { OSSL_SSL_FUNCS(OSSL_SYM) };
	static const struct dl_sym ev_syms[] = { OSSL_EVENT_FUNCS(OSSL_SYM) };
#undef OSSL_SYM
	char *err = NULL;

	if (fns[OSSL_FN_COUNT - 1] != NULL)
		return 0;
	if (dl_load(SSL_SONAME, ssl_syms, NELEM(ssl_syms), NULL, &err) < 0 ||
	    dl_load(EVENT_OPENSSL_SONAME, ev_syms, NELEM(ev_syms), NULL, &err) < 0) {
		*error_r = xasprintf("OpenSSL: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

void
ossl_require(void)
{
	char *err = NULL;

	if (ossl_load(&err) < 0)
		fatal("%s", err);
}

void *
ossl_fn(enum ossl_fn fn)
{
	if (fns[fn] == NULL)
		ossl_require();
	return fns[fn];
}
