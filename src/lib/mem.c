/*
 * mem.c - allocation wrappers that exit on exhaustion.  No untrusted input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

#include "mem.h"
#include "log.h"

static void
oom(size_t n)
{
	fatal("out of memory allocating %zu bytes", n);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		fatal("allocation overflow: %zu x %zu", nmemb, size);
	return xrealloc(p, nmemb * size);
}

void *
xgrowarray(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap;

	if (need <= c)
		return p;
	c = c < 4 ? 8 : c > SIZE_MAX / 2 ? SIZE_MAX : c * 2;
	if (c < need)
		c = need;
	p = xreallocarray(p, c, size);
	*cap = c;
	return p;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

char *
xmemdup(const void *p, size_t n)
{
	char *q = xmalloc(n + 1);
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		oom(0);
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* The length xmap() maps for n bytes: from 1 MiB up, whole huge pages
 * (a 2 MiB page costs one fault where 512 small ones cost 512; the
 * rounding wastes at most half of what is mapped). */
static size_t
map_len(size_t n)
{
	size_t huge = (size_t)2 << 20, len = n ? n : 1;

	if (len < huge / 2)
		return len;
	if (len > SIZE_MAX - 2 * huge)
		oom(len);
	return (len + huge - 1) & ~(huge - 1);
}

void *
xmap(size_t n)
{
	size_t huge = (size_t)2 << 20, len = map_len(n);
	unsigned char *p, *a;

	if (len < huge) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			oom(len);
#ifdef MADV_POPULATE_WRITE
		(void)madvise(p, len, MADV_POPULATE_WRITE);
#endif
		return p;
	}
	p = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		oom(len);
	a = (unsigned char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	if (a > p)
		(void)munmap(p, (size_t)(a - p));
	(void)munmap(a + len, (size_t)(p + huge - a));
#ifdef MADV_HUGEPAGE
	(void)madvise(a, len, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	(void)madvise(a, len, MADV_POPULATE_WRITE);
#endif
	return a;
}

void
xunmap(void *p, size_t n)
{
	if (p != NULL)
		(void)munmap(p, map_len(n));
}

void
mem_populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	uintptr_t page = 4096, a = (uintptr_t)p & ~(page - 1),
	    e = ((uintptr_t)p + n + page - 1) & ~(page - 1);

	if (p != NULL && n > 0)
		(void)madvise((void *)a, (size_t)(e - a), MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)n;
#endif
}
