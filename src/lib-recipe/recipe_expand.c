/*
 * recipe_expand.c - procmail's variable expansion and quoting (readparse):
 * $NAME ${NAME} ${NAME:-x} ${NAME-x} ${NAME:+x} ${NAME+x} $\NAME $$ $? $_
 * $- $= $# $n, '...', "...", backslashes and `command` substitution.
 *
 * Untrusted bytes: rcfile text and variable values (which may hold parts
 * of the message, e.g. MATCH).  Output size is bounded (RC_EXPAND_MAX);
 * command substitution goes through a callback so this file does no I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "recipe-private.h"

#define RC_EXPAND_MAX (256 * 1024)

struct xstate {
	struct rc_expand_ops *ops;
	enum rc_xmode mode;
	struct buf cur;
	int have;               /* current word started */
	char **words;
	size_t nwords;
	int overflow;
};

static void
word_end(struct xstate *x)
{
	if (!x->have)
		return;
	x->words = xreallocarray(x->words, x->nwords + 2, sizeof(char *));
	x->words[x->nwords++] = xstrdup(buf_cstr(&x->cur));
	x->words[x->nwords] = NULL;
	buf_reset(&x->cur);
	x->have = 0;
}

static void
add(struct xstate *x, const char *s, size_t n)
{
	if (buf_append(&x->cur, s, n) < 0)
		x->overflow = 1;
	x->have = 1;
}

/* Append an expansion result; unquoted in word mode it is split. */
static void
add_value(struct xstate *x, const char *v, int quoted)
{
	if (x->mode != RC_X_WORDS || quoted) {
		add(x, v, strlen(v));
		return;
	}
	while (*v != '\0') {
		size_t n = strcspn(v, " \t\n");
		if (n > 0)
			add(x, v, n);
		v += n;
		if (*v != '\0') {
			word_end(x);
			v += strspn(v, " \t\n");
		}
	}
}

static char *
regex_quote(const char *v)
{
	struct buf b;

	buf_init(&b, RC_EXPAND_MAX);
	buf_appends(&b, "");
	for (; *v != '\0'; v++) {
		if (strchr("^$.*+?[]()|\\/<>", *v) != NULL)
			buf_appendc(&b, '\\');
		buf_appendc(&b, *v);
	}
	return buf_steal(&b);
}

/* Expand a $-reference starting after the '$'; returns chars consumed. */
static size_t
dollar(struct xstate *x, const char *p, int quoted)
{
	const char *v;
	char name[256];
	size_t n = 0;

	if (*p == '{') {
		const char *q = p + 1, *end;
		int depth = 1;
		char op[3] = "";
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		n = (size_t)(q - (p + 1));
		if (n == 0 || n >= sizeof(name))
			goto literal;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		for (end = q; *end != '\0'; end++) {
			if (*end == '{')
				depth++;
			else if (*end == '}' && --depth == 0)
				break;
		}
		v = x->ops->getvar(x->ops->ctx, name);
		if (*q == '}') {
			if (v != NULL)
				add_value(x, v, quoted);
			return (size_t)(q - p) + 1;
		}
		if (*q == ':' && (q[1] == '-' || q[1] == '+')) {
			op[0] = ':', op[1] = q[1];
			q += 2;
		} else if (*q == '-' || *q == '+') {
			op[0] = *q;
			q++;
		} else
			goto literal;
		{
			int set = op[0] == ':' ? v != NULL && *v != '\0' : v != NULL;
			char plus = op[0] == ':' ? op[1] : op[0];
			char *alt = xstrndup(q, (size_t)(end - q));
			if (plus == '-' ? !set : set) {
				/* the alternative text is expanded in place */
				struct rc_expand_ops *o = x->ops;
				char **w = NULL;
				size_t nw = 0, i;
				rc_expand(o, alt, quoted ? RC_X_DQUOTE : x->mode, &w, &nw);
				for (i = 0; i < nw; i++) {
					if (i > 0)
						word_end(x);
					add(x, w[i], strlen(w[i]));
				}
				rc_words_free(&w, nw);
			} else if (plus == '-' && v != NULL)
				add_value(x, v, quoted);
			free(alt);
		}
		return (size_t)(end - p) + (*end == '}' ? 1 : 0);
	}
	if (*p == '\\') {
		const char *q = p + 1;
		char *qv;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		n = (size_t)(q - (p + 1));
		if (n == 0 || n >= sizeof(name))
			goto literal;
		memcpy(name, p + 1, n);
		name[n] = '\0';
		v = x->ops->getvar(x->ops->ctx, name);
		qv = regex_quote(v != NULL ? v : "");
		add(x, qv, strlen(qv));
		free(qv);
		return n + 1;
	}
	if (*p != '\0' && strchr("$?_-=#", *p) != NULL) {
		char *s = x->ops->special(x->ops->ctx, *p);
		add_value(x, s, quoted);
		free(s);
		return 1;
	}
	if (isdigit((unsigned char)*p)) {
		char *s = x->ops->special(x->ops->ctx, *p);
		add_value(x, s, quoted);
		free(s);
		return 1;
	}
	if (isalpha((unsigned char)*p) || *p == '_') {
		const char *q = p;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		n = (size_t)(q - p);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, p, n);
		name[n] = '\0';
		v = x->ops->getvar(x->ops->ctx, name);
		if (v != NULL)
			add_value(x, v, quoted);
		else if (!quoted)
			x->have = x->have;      /* nothing */
		return (size_t)(q - p);
	}
literal:
	add(x, "$", 1);
	return 0;
}

int
rc_expand(struct rc_expand_ops *ops, const char *s, enum rc_xmode mode,
    char ***words_r, size_t *n_r)
{
	struct xstate x;
	const char *p;
	int q = mode == RC_X_DQUOTE ? '"' : 0;

	memset(&x, 0, sizeof(x));
	x.ops = ops;
	x.mode = mode;
	buf_init(&x.cur, RC_EXPAND_MAX);
	if (mode != RC_X_WORDS)
		x.have = 1;
	for (p = s; *p != '\0' && !x.overflow; p++) {
		char c = *p;
		if (q == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
			if (mode == RC_X_WORDS) {
				word_end(&x);
				continue;
			}
			if (mode == RC_X_ASSIGN)
				break;
			add(&x, p, 1);
			continue;
		}
		if (q == 0 && c == '#' && !x.have && mode == RC_X_WORDS)
			break;
		if (q == 0 && c == '#' && mode == RC_X_ASSIGN && p == s)
			break;
		if (c == '\\') {
			if (q == '\'') {
				add(&x, p, 1);
				continue;
			}
			if (p[1] == '\0') {
				add(&x, p, 1);
				continue;
			}
			if (p[1] == '\n') {
				p++;
				continue;
			}
			if (q == '"' && strchr("$\\`\"", p[1]) == NULL)
				add(&x, p, 1);
			add(&x, p + 1, 1);
			p++;
			continue;
		}
		if (c == '\'' && q != '"') {
			q = q == '\'' ? 0 : '\'';
			x.have = 1;
			continue;
		}
		if (c == '"' && q != '\'') {
			if (mode == RC_X_DQUOTE) {
				add(&x, p, 1);
				continue;
			}
			q = q == '"' ? 0 : '"';
			x.have = 1;
			continue;
		}
		if (q == '\'') {
			add(&x, p, 1);
			continue;
		}
		if (c == '`') {
			const char *e = strchr(p + 1, '`');
			char *cmd, *out;
			if (e == NULL)
				e = p + strlen(p);
			cmd = xstrndup(p + 1, (size_t)(e - p - 1));
			out = ops->command(ops->ctx, cmd);
			free(cmd);
			add_value(&x, out, q == '"' || mode == RC_X_ASSIGN);
			x.have = 1;
			free(out);
			p = *e == '\0' ? e - 1 : e;
			continue;
		}
		if (c == '$') {
			p += dollar(&x, p + 1, q == '"' || mode != RC_X_WORDS);
			continue;
		}
		add(&x, p, 1);
	}
	if (mode != RC_X_WORDS)
		x.have = 1;
	word_end(&x);
	buf_free(&x.cur);
	if (x.words == NULL) {
		x.words = xcalloc(1, sizeof(char *));
	}
	*words_r = x.words;
	*n_r = x.nwords;
	return x.overflow ? -1 : 0;
}

char *
rc_expand1(struct rc_expand_ops *ops, const char *s, enum rc_xmode mode)
{
	char **w;
	size_t n, i;
	struct buf b;

	rc_expand(ops, s, mode, &w, &n);
	buf_init(&b, BUF_UNLIMITED);
	buf_appends(&b, "");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_appendc(&b, ' ');
		buf_appends(&b, w[i]);
	}
	rc_words_free(&w, n);
	return buf_steal(&b);
}

void
rc_words_free(char ***wp, size_t n)
{
	size_t i;

	if (*wp == NULL)
		return;
	for (i = 0; i < n; i++)
		free((*wp)[i]);
	free(*wp);
	*wp = NULL;
}
