/*
 * str.c - string helpers.  Used on configuration text and on protocol
 * arguments; every function is bounded by the NUL of its input.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "str.h"

char **
str_split(const char *s, const char *seps, size_t *n_r)
{
	char **v = NULL;
	size_t n = 0;

	while (*s != '\0') {
		size_t skip = strspn(s, seps), len;
		s += skip;
		if (*s == '\0')
			break;
		len = strcspn(s, seps);
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = xstrndup(s, len);
		s += len;
	}
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));
	v[n] = NULL;
	if (n_r != NULL)
		*n_r = n;
	return v;
}

void
str_split_free(char ***list)
{
	char **v = *list;
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	FREE(*list);
}

char *
str_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

void
str_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

void
str_mask_controls(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int
str_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
str_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int
str_suffix_ci(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int
str_parse_bool(const char *s, int *r)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcmp(s, "1") == 0) {
		*r = 1;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0) {
		*r = 0;
		return 0;
	}
	return -1;
}

int
str_parse_ll(const char *s, long long *r)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*r = v;
	return 0;
}

int
str_parse_time(const char *s, char default_unit, long long *r)
{
	char *end;
	long long v, mul;
	char unit;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	unit = *end != '\0' ? *end : default_unit;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	switch (tolower((unsigned char)unit)) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 604800; break;
	default: return -1;
	}
	if (v > LLONG_MAX / mul)
		return -1;
	*r = v * mul;
	return 0;
}
