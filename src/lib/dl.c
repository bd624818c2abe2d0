/* dl.c - optional shared libraries loaded when first used (dl.h). */
#include <dlfcn.h>

#include "dl.h"
#include "mem.h"

int
dl_load(const char *soname, const struct dl_sym *syms, size_t n,
    void **handle_r, char **error_r)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (h == NULL) {
		const char *why = dlerror();
		*error_r = xasprintf("%s does not load: %s", soname,
		    why != NULL ? why : "unknown error");
		for (i = 0; i < n; i++)
			*syms[i].slot = NULL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if ((*syms[i].slot = dlsym(h, syms[i].name)) == NULL)
			break;
	if (i < n) {
		*error_r = xasprintf("%s lacks %s", soname, syms[i].name);
		for (i = 0; i < n; i++)
			*syms[i].slot = NULL;
		dlclose(h);
		return -1;
	}
	if (handle_r != NULL)
		*handle_r = h;
	return 0;
}
