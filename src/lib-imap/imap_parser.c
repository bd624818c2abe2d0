/*
 * imap_parser.c - IMAP command tokenizer: tag, command name, and a tree of
 * atoms, quoted strings, literals, NIL and parenthesised lists.
 *
 * Untrusted bytes: the whole command from the client (literals included in
 * wire form).  Every read is checked against the end of the input; nesting
 * and argument counts are bounded by struct imap_limits.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parser.h"
#include "mem.h"

struct pstate {
	const char *p, *end;
	const struct imap_limits *lim;
	unsigned nargs;
	const char *error;
};

static int
is_atom_char(unsigned char c)
{
	if (c < 0x20 || c == 0x7f)
		return 0;
	return strchr(" (){\"", c) == NULL;
}

void
imap_command_free(struct imap_command *cmd);

static void
args_free(struct imap_arg *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(v[i].str);
		if (v[i].type == IMAP_ARG_LIST)
			args_free(v[i].list, v[i].count);
	}
	free(v);
}

void
imap_command_free(struct imap_command *cmd)
{
	free(cmd->tag);
	free(cmd->name);
	args_free(cmd->args, cmd->count);
	memset(cmd, 0, sizeof(*cmd));
}

/* Append a fresh arg to a growing vector. */
static struct imap_arg *
push_arg(struct pstate *ps, struct imap_arg **v, unsigned *n, unsigned *cap)
{
	if (++ps->nargs > ps->lim->max_args) {
		ps->error = "Too many arguments";
		return NULL;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	return &(*v)[(*n)++];
}

static int
parse_atom(struct pstate *ps, struct imap_arg *a)
{
	const char *s = ps->p;

	if (ps->p < ps->end && *ps->p == '\\')
		ps->p++;        /* flag */
	while (ps->p < ps->end) {
		unsigned char c = (unsigned char)*ps->p;
		if (c == '[') {
			/* section spec: up to the matching ']' (no nesting) */
			ps->p++;
			while (ps->p < ps->end && *ps->p != ']') {
				c = (unsigned char)*ps->p;
				if (c < 0x20 || c == 0x7f || c == '[') {
					ps->error = "Invalid characters in section";
					return -1;
				}
				ps->p++;
			}
			if (ps->p == ps->end) {
				ps->error = "Missing ']'";
				return -1;
			}
			ps->p++;
			continue;
		}
		if (!is_atom_char(c) || c == ')')
			break;
		if (c == '\\' && ps->p != s) {
			ps->error = "Invalid atom";
			return -1;
		}
		ps->p++;
	}
	if (ps->p == s) {
		ps->error = "Unexpected character";
		return -1;
	}
	a->len = (size_t)(ps->p - s);
	a->str = xmemdup(s, a->len + 1);
	a->str[a->len] = '\0';
	if (a->len == 3 && strncasecmp(s, "NIL", 3) == 0)
		a->type = IMAP_ARG_NIL;
	else
		a->type = IMAP_ARG_ATOM;
	return 0;
}

static int
parse_quoted(struct pstate *ps, struct imap_arg *a)
{
	const char *q;
	char *out;
	size_t n = 0;

	ps->p++;        /* opening quote */
	/* first pass: find the end and validate */
	for (q = ps->p; q < ps->end && *q != '"'; q++) {
		if (*q == '\\') {
			if (q + 1 >= ps->end || (q[1] != '\\' && q[1] != '"')) {
				ps->error = "Invalid escape in quoted string";
				return -1;
			}
			q++;
		} else if (*q == '\r' || *q == '\n' || *q == '\0') {
			ps->error = "Invalid character in quoted string";
			return -1;
		}
	}
	if (q >= ps->end) {
		ps->error = "Unterminated quoted string";
		return -1;
	}
	out = xmalloc((size_t)(q - ps->p) + 1);
	for (const char *r = ps->p; r < q; r++) {
		if (*r == '\\')
			r++;
		out[n++] = *r;
	}
	out[n] = '\0';
	a->type = IMAP_ARG_QUOTED;
	a->str = out;
	a->len = n;
	ps->p = q + 1;
	return 0;
}

static int
parse_literal(struct pstate *ps, struct imap_arg *a)
{
	uint64_t size = 0;
	int digits = 0;

	if (*ps->p == '~') {
		a->literal8 = 1;
		ps->p++;
		if (ps->p >= ps->end || *ps->p != '{') {
			ps->error = "Invalid literal8";
			return -1;
		}
	}
	ps->p++;        /* { */
	while (ps->p < ps->end && isdigit((unsigned char)*ps->p)) {
		if (++digits > 19) {
			ps->error = "Literal size too large";
			return -1;
		}
		size = size * 10 + (uint64_t)(*ps->p - '0');
		ps->p++;
	}
	if (digits == 0) {
		ps->error = "Invalid literal size";
		return -1;
	}
	if (ps->p < ps->end && *ps->p == '+')
		ps->p++;
	if (ps->end - ps->p < 3 || ps->p[0] != '}' || ps->p[1] != '\r' ||
	    ps->p[2] != '\n') {
		ps->error = "Invalid literal";
		return -1;
	}
	ps->p += 3;
	if ((uint64_t)(ps->end - ps->p) < size) {
		ps->error = "Literal data missing";
		return -1;
	}
	if (!a->literal8 && memchr(ps->p, '\0', size) != NULL) {
		ps->error = "NUL in literal";
		return -1;
	}
	a->type = IMAP_ARG_LITERAL;
	a->len = size;
	a->str = xmalloc(size + 1);
	memcpy(a->str, ps->p, size);
	a->str[size] = '\0';
	ps->p += size;
	return 0;
}

/* Parse arguments until end of input (depth 0) or ')' (depth > 0). */
static int
parse_args(struct pstate *ps, unsigned depth, struct imap_arg **v_r,
    unsigned *n_r)
{
	struct imap_arg *v = NULL, *a;
	unsigned n = 0, cap = 0;

	int need_sep = depth == 0;

	for (;;) {
		if (ps->p >= ps->end) {
			if (depth > 0) {
				ps->error = "Missing ')'";
				goto fail;
			}
			break;
		}
		if (*ps->p == ')') {
			if (depth == 0) {
				ps->error = "Unexpected ')'";
				goto fail;
			}
			ps->p++;
			break;
		}
		if (need_sep) {
			if (*ps->p != ' ') {
				ps->error = "Missing space between arguments";
				goto fail;
			}
			while (ps->p < ps->end && *ps->p == ' ')
				ps->p++;
			need_sep = 0;
			continue;
		}
		need_sep = 1;
		if ((a = push_arg(ps, &v, &n, &cap)) == NULL)
			goto fail;
		switch (*ps->p) {
		case '(':
			if (depth + 1 > ps->lim->max_depth) {
				ps->error = "Too deep nesting";
				goto fail;
			}
			ps->p++;
			a->type = IMAP_ARG_LIST;
			if (parse_args(ps, depth + 1, &a->list, &a->count) < 0)
				goto fail;
			break;
		case '"':
			if (parse_quoted(ps, a) < 0)
				goto fail;
			break;
		case '{':
		case '~':
			if (parse_literal(ps, a) < 0)
				goto fail;
			break;
		default:
			if (parse_atom(ps, a) < 0)
				goto fail;
		}
	}
	*v_r = v;
	*n_r = n;
	return 0;
fail:
	args_free(v, n);
	return -1;
}

static char *
take_word(struct pstate *ps, int is_tag)
{
	const char *s = ps->p;

	while (ps->p < ps->end && *ps->p != ' ') {
		unsigned char c = (unsigned char)*ps->p;
		if (!is_atom_char(c) || c == ')' || c == '%' || c == '*' ||
		    (is_tag && (c == '+' || c == '\\' || c == '[')) ||
		    c >= 0x80)
			return NULL;
		ps->p++;
	}
	if (ps->p == s || ps->p - s > 64)
		return NULL;
	return xstrndup(s, (size_t)(ps->p - s));
}

int
imap_parse_command(const char *data, size_t len,
    const struct imap_limits *lim, struct imap_command *cmd_r,
    char **tag_r, const char **error_r)
{
	struct pstate ps = { data, data + len, lim, 0, NULL };

	memset(cmd_r, 0, sizeof(*cmd_r));
	*tag_r = NULL;
	cmd_r->tag = take_word(&ps, 1);
	if (cmd_r->tag == NULL) {
		*error_r = "Invalid tag";
		return -1;
	}
	*tag_r = xstrdup(cmd_r->tag);
	if (ps.p >= ps.end || *ps.p != ' ') {
		*error_r = "Missing command";
		goto fail;
	}
	ps.p++;
	cmd_r->name = take_word(&ps, 0);
	if (cmd_r->name == NULL) {
		*error_r = "Invalid command";
		goto fail;
	}
	for (char *c = cmd_r->name; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	if (ps.p < ps.end) {
		if (parse_args(&ps, 0, &cmd_r->args, &cmd_r->count) < 0) {
			*error_r = ps.error;
			goto fail;
		}
	}
	return 0;
fail:
	imap_command_free(cmd_r);
	return -1;
}

int
imap_line_literal(const char *line, size_t len, uint64_t *size_r,
    int *nonsync_r)
{
	size_t i, digits = 0;
	uint64_t size = 0;

	*nonsync_r = 0;
	if (len < 3 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	if (line[i - 1] == '+') {
		*nonsync_r = 1;
		i--;
	}
	while (i > 0 && isdigit((unsigned char)line[i - 1])) {
		i--;
		digits++;
	}
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (digits == 0 || digits > 19)
		return -1;
	for (size_t k = i; k < i + digits; k++)
		size = size * 10 + (uint64_t)(line[k] - '0');
	*size_r = size;
	return 1;
}

int
imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
	    a->type == IMAP_ARG_LITERAL;
}

int
imap_arg_is_astring(const struct imap_arg *a)
{
	return imap_arg_is_string(a) || a->type == IMAP_ARG_NIL;
}

int
imap_arg_atom_eq(const struct imap_arg *a, const char *s)
{
	return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) &&
	    strcasecmp(a->str, s) == 0;
}
