/*
 * alias_parse.c - forwarding list syntax (see alias_parse.h).  Input:
 * alias table values (administrator) and .forward / :include: files
 * (local users): treated as untrusted, bounded, fuzzed
 * (fuzz/fuzz-alias.c).
 */
#include <stdlib.h>
#include <string.h>

#include "alias_parse.h"
#include "buf.h"
#include "mem.h"
#include "str.h"

static int
emit(char *t, int quoted, alias_target_fn fn, void *arg, int *n)
{
	t = str_trim(t);
	if (*t == '\0')
		return 0;
	if (quoted || *t == '|' || *t == '/' || *t == ':' || *t == '\\' ||
	    strpbrk(t, " \t") == NULL) {
		(*n)++;
		return fn(arg, t);
	}
	{
		/* "a b c": several addresses */
		char **v = str_split(t, " \t", NULL);
		size_t i;
		int r = 0;
		for (i = 0; v[i] != NULL && r == 0; i++) {
			(*n)++;
			r = fn(arg, v[i]);
		}
		str_split_free(&v);
		return r;
	}
}

int
alias_split(const char *list, alias_target_fn fn, void *arg)
{
	struct buf tok;
	const char *p;
	int q = 0, quoted = 0, n = 0, stop = 0;

	buf_init(&tok, ALIAS_TOKEN_MAX);
	for (p = list; !stop; p++) {
		if (*p == '"') {
			q = !q;
			quoted = 1;
			continue;
		}
		if (*p == '\0' || (*p == ',' && !q)) {
			char *t = xstrdup(buf_cstr(&tok));
			stop = emit(t, quoted, fn, arg, &n) != 0;
			free(t);
			buf_reset(&tok);
			quoted = 0;
			if (*p == '\0')
				break;
			continue;
		}
		if (buf_appendc(&tok, *p) < 0) {
			buf_free(&tok);
			return -1;
		}
	}
	buf_free(&tok);
	return n;
}

char *
alias_file_list(const char *body, size_t len)
{
	struct buf out;
	size_t i = 0;

	buf_init(&out, BUF_UNLIMITED);
	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (body + i)) : len - i;
		char *line = xstrndup(body + i, n), *t = str_trim(line);
		if (*t != '#' && *t != '\0')
			buf_printf(&out, "%s%s", out.len ? ", " : "", t);
		free(line);
		i += n + 1;
	}
	return buf_steal(&out);
}
