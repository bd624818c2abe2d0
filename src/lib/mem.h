/*
 * mem.h - allocation that never returns NULL.
 *
 * Out of memory is not a recoverable condition for a mail daemon: every
 * allocator here logs and exits.  FREE(p) frees and sets p to NULL.
 */
#ifndef TEMPEST_MEM_H
#define TEMPEST_MEM_H

#include <stddef.h>
#include <stdarg.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array: like reallocarray but aborts on overflow/OOM. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
/* Make room for need elements of size bytes in p, whose capacity is
 * *cap elements: when need > *cap the capacity at least doubles (at
 * least 8), so n appends cost O(n) copying.  Returns the array. */
void *xgrowarray(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);
/* n bytes (n > 0) of zeroed memory for a block that is about to be
 * written whole: mapped on its own and populated in one call, since on a
 * virtual machine a page fault per page costs more than the writing (a
 * block of 1 MiB or more is mapped as whole 2 MiB pages, aligned, and
 * asks for huge pages: here 0.6 ms for 4 MiB against 12 ms in small
 * pages).
 * Each of those is only advice: without it the pages come as they are
 * touched.  Free with xunmap(p, n). */
void *xmap(size_t n);
void xunmap(void *p, size_t n);
/* Fault in the pages under [p, p + n), memory this process allocated
 * (the heap's pages are its own), in one call, the data unchanged:
 * for a malloc'ed block about to be written whole.  Advice as above. */
void mem_populate(void *p, size_t n);

#define FREE(p) do { free(p); (p) = NULL; } while (0)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
