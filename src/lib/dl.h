/*
 * dl.h - an optional shared library loaded when first used (dlopen()),
 * so that no process maps it, and the libraries it needs, unless it
 * uses it: Vectorscan, MariaDB Connector/C, Linux-PAM, libidn2, c-ares.  Built
 * against their headers; the soname comes from the build.
 */
#ifndef TEMPEST_DL_H
#define TEMPEST_DL_H

#include <stddef.h>

/* A function to find: its name and where its address goes (the address
 * of a function pointer, as dlsym() gives it). */
struct dl_sym {
	const char *name;
	void **slot;
};

/* Load soname and fill every slot: 0, with the handle in *handle_r (may
 * be NULL; the library stays loaded for the process's life), or -1 with
 * *error_r ("SONAME does not load: why" or "SONAME lacks NAME",
 * malloc'ed), every slot NULL and the library closed. */
int dl_load(const char *soname, const struct dl_sym *syms, size_t n,
    void **handle_r, char **error_r);

#endif
