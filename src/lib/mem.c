/*
 * mem.c - allocation wrappers that exit on exhaustion.  No untrusted input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

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
