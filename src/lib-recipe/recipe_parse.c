/*
 * recipe_parse.c - procmailrc text -> AST.
 *
 * Untrusted bytes: the rcfile, written by the recipient.  The parser is a
 * pure function over (text, len): it reads the text the way procmail's
 * interpreter does (a character stream, not strictly lines: a value ends
 * at unquoted white space and the rest of the line is read as further
 * items), keeps expansions for evaluation time, and bounds the size, the
 * nesting depth and the number of items.  Every item remembers its line.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "recipe.h"

struct pstate {
	const char *p, *end;
	int line;
	const char *path;
	const struct rc_limits *lim;
	size_t items;
	char *error;
	struct rc_file *f;
};

static int
peekc(struct pstate *s)
{
	return s->p < s->end ? (unsigned char)*s->p : -1;
}

static int
getc_(struct pstate *s)
{
	int c;

	if (s->p >= s->end)
		return -1;
	c = (unsigned char)*s->p++;
	if (c == '\n')
		s->line++;
	return c;
}

/* Skip blanks and backslash-newline pairs; newline is not skipped. */
static void
skip_blanks(struct pstate *s)
{
	for (;;) {
		int c = peekc(s);
		if (c == ' ' || c == '\t' || c == '\r')
			getc_(s);
		else if (c == '\\' && s->p + 1 < s->end && s->p[1] == '\n') {
			getc_(s);
			getc_(s);
		} else
			break;
	}
}

static void
skip_line(struct pstate *s)
{
	int c;

	while ((c = getc_(s)) != -1 && c != '\n')
		;
}

static void
warn(struct pstate *s, int line, const char *what, const char *text)
{
	struct rc_file *f = s->f;

	if (f->nwarnings >= 100)
		return;
	f->warnings = xreallocarray(f->warnings, f->nwarnings + 1,
	    sizeof(*f->warnings));
	f->warnings[f->nwarnings++] = xasprintf("%s:%d: %s \"%.60s\"",
	    s->path, line, what, text);
}

static int
set_error(struct pstate *s, int line, const char *msg)
{
	if (s->error == NULL)
		s->error = xasprintf("%s:%d: %s", s->path, line, msg);
	return -1;
}

/*
 * Read the rest of a logical line (backslash-newline joins the next line,
 * whose leading blanks are dropped, as procmail's squeeze()).  Stops
 * before the newline, which is consumed.
 */
static char *
read_logical_line(struct pstate *s)
{
	struct buf b;
	int c;

	buf_init(&b, BUF_UNLIMITED);
	buf_appends(&b, "");
	while ((c = peekc(s)) != -1) {
		if (c == '\\' && s->p + 1 < s->end && s->p[1] == '\n') {
			getc_(s);
			getc_(s);
			while ((c = peekc(s)) == ' ' || c == '\t')
				getc_(s);
			continue;
		}
		getc_(s);
		if (c == '\n')
			break;
		if (c == '\0')
			c = ' ';
		buf_appendc(&b, (char)c);
	}
	return buf_steal(&b);
}

/*
 * Read one shell-like word (procmail's readparse for an assignment): ends
 * at unquoted white space.  Quotes may span lines.  An unquoted '#' at the
 * start of the word makes it empty and skips the comment.
 */
static char *
read_word(struct pstate *s)
{
	struct buf b;
	int c, q = 0;

	buf_init(&b, BUF_UNLIMITED);
	buf_appends(&b, "");
	skip_blanks(s);
	if (peekc(s) == '#') {
		while ((c = peekc(s)) != -1 && c != '\n')
			getc_(s);
		return buf_steal(&b);
	}
	while ((c = peekc(s)) != -1) {
		if (q == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			break;
		getc_(s);
		if (c == '\0')
			continue;
		if (c == '\\' && q != '\'') {
			int n = peekc(s);
			if (n == '\n') {        /* continuation */
				getc_(s);
				continue;
			}
			buf_appendc(&b, '\\');
			if (n != -1)
				buf_appendc(&b, (char)getc_(s));
			continue;
		}
		if (q == 0 && (c == '\'' || c == '"' || c == '`'))
			q = c;
		else if (q == c)
			q = 0;
		else if (q == '"' && c == '`') {
			/* backquote inside double quotes: copy to its end */
			buf_appendc(&b, (char)c);
			while ((c = peekc(s)) != -1 && c != '`')
				buf_appendc(&b, (char)getc_(s));
			if (c == -1)
				break;
			getc_(s);
		}
		buf_appendc(&b, (char)c);
	}
	return buf_steal(&b);
}

static int is_alnum_(int c) { return isalnum(c) || c == '_'; }

static int parse_items(struct pstate *s, struct rc_item **items_r,
    size_t *n_r, int depth);

static void
item_push(struct rc_item **items, size_t *n, struct rc_item *it)
{
	*items = xreallocarray(*items, *n + 1, sizeof(**items));
	(*items)[(*n)++] = *it;
}

static int
count_item(struct pstate *s, int line)
{
	if (++s->items > s->lim->max_items)
		return set_error(s, line, "too many recipes and assignments");
	return 0;
}

/* The flag line after ':' */
static void
parse_flags(struct pstate *s, struct rc_recipe *r, int line)
{
	char *l = read_logical_line(s), *p = l, *hash;
	struct buf junk;

	r->nrcond = -1;
	if (isdigit((unsigned char)*p)) {
		r->nrcond = (int)strtol(p, &p, 10);
		if (r->nrcond > 1000)
			r->nrcond = 1000;
	}
	buf_init(&junk, 256);
	for (; *p != '\0'; p++) {
		const char *f;
		if (*p == ' ' || *p == '\t')
			continue;
		if (*p == ':') {
			char *lk = p + 1;
			r->has_lock = 1;
			hash = strstr(lk, " #");
			if (hash != NULL)
				*hash = '\0';
			while (*lk == ' ' || *lk == '\t')
				lk++;
			if (*lk != '\0') {
				char *e = lk + strlen(lk);
				while (e > lk && (e[-1] == ' ' || e[-1] == '\t'))
					*--e = '\0';
				r->lockfile = xstrdup(lk);
			}
			break;
		}
		if (*p == '#' && (p == l || p[-1] == ' ' || p[-1] == '\t'))
			break;
		f = strchr(RC_FLAG_LETTERS, *p);
		if (f != NULL)
			r->flags[f - RC_FLAG_LETTERS] = 1;
		else
			buf_appendc(&junk, *p);
	}
	if (junk.len > 0)
		warn(s, line, "Skipped", buf_cstr(&junk));
	buf_free(&junk);
	free(l);
}

static int
parse_recipe(struct pstate *s, struct rc_recipe *r, int depth)
{
	int line = s->line, c, left;

	parse_flags(s, r, line);
	/* conditions */
	left = r->nrcond;
	for (;;) {
		skip_blanks(s);
		c = peekc(s);
		if (c == '*') {
			struct rc_cond cd;
			getc_(s);
			skip_blanks(s);
			cd.line = s->line;
			cd.text = read_logical_line(s);
			r->conds = xreallocarray(r->conds, r->nconds + 1,
			    sizeof(*r->conds));
			r->conds[r->nconds++] = cd;
			if (r->nconds > 10000)
				return set_error(s, cd.line, "too many conditions");
			left--;
			continue;
		}
		if (r->nrcond >= 0 && left > 0 && c != -1) {
			/* old-style counted conditions: plain lines */
			struct rc_cond cd;
			cd.line = s->line;
			cd.text = read_logical_line(s);
			r->conds = xreallocarray(r->conds, r->nconds + 1,
			    sizeof(*r->conds));
			r->conds[r->nconds++] = cd;
			left--;
			continue;
		}
		if (c == '#') {
			skip_line(s);
			continue;
		}
		if (c == '\n') {
			getc_(s);
			continue;
		}
		break;
	}
	/* the action */
	skip_blanks(s);
	r->action_line = s->line;
	c = peekc(s);
	if (c == -1) {
		warn(s, s->line, "Incomplete recipe", "");
		r->action = RCA_NONE;
		return 0;
	}
	if (c == '!' || c == '|') {
		getc_(s);
		r->action = c == '!' ? RCA_FORWARD : RCA_PIPE;
		skip_blanks(s);
		r->action_text = read_logical_line(s);
		return 0;
	}
	if (c == '{' && s->p + 1 <= s->end &&
	    (s->p + 1 == s->end || s->p[1] == ' ' || s->p[1] == '\t' ||
	    s->p[1] == '\n')) {
		getc_(s);
		r->action = RCA_BLOCK;
		if (depth + 1 > s->lim->max_depth)
			return set_error(s, r->action_line,
			    "nesting too deep (limit on { } blocks)");
		if (parse_items(s, &r->block, &r->nblock, depth + 1) < 0)
			return -1;
		return 0;
	}
	/* VAR=| cmd  (capture) or a folder */
	if (is_alnum_(c) && !isdigit(c)) {
		const char *save = s->p;
		int sline = s->line;
		struct buf name;
		buf_init(&name, 256);
		while (is_alnum_(peekc(s)) && buf_appendc(&name, (char)peekc(s)) == 0)
			getc_(s);
		skip_blanks(s);
		if (peekc(s) == '=') {
			getc_(s);
			skip_blanks(s);
			c = peekc(s);
			if (c == '|' || c == '!') {
				getc_(s);
				r->action = c == '|' ? RCA_PIPE : RCA_FORWARD;
				r->capture_var = buf_steal(&name);
				skip_blanks(s);
				r->action_text = read_logical_line(s);
				return 0;
			}
		}
		buf_free(&name);
		s->p = save;
		s->line = sline;
	}
	r->action = RCA_FOLDER;
	r->action_text = read_logical_line(s);
	return 0;
}

static int
parse_items(struct pstate *s, struct rc_item **items_r, size_t *n_r,
    int depth)
{
	for (;;) {
		struct rc_item it;
		int c;

		skip_blanks(s);
		c = peekc(s);
		if (c == -1) {
			if (depth > 0)
				warn(s, s->line, "Missing closing brace", "}");
			return 0;
		}
		if (c == '\n') {
			getc_(s);
			continue;
		}
		if (c == '#') {
			skip_line(s);
			continue;
		}
		memset(&it, 0, sizeof(it));
		it.line = s->line;
		if (c == ':') {
			getc_(s);
			if (count_item(s, it.line) < 0)
				return -1;
			it.kind = RCI_RECIPE;
			it.recipe = xcalloc(1, sizeof(*it.recipe));
			item_push(items_r, n_r, &it);
			if (parse_recipe(s, (*items_r)[*n_r - 1].recipe, depth) < 0)
				return -1;
			continue;
		}
		if (c == '}') {
			getc_(s);
			if (depth > 0)
				return 0;
			warn(s, it.line, "Closing brace unexpected", "}");
			continue;
		}
		if (is_alnum_(c) && !isdigit(c)) {
			struct buf name;
			buf_init(&name, 4096);
			while (is_alnum_(peekc(s))) {
				buf_appendc(&name, (char)peekc(s));
				getc_(s);
			}
			c = peekc(s);
			if (c == ' ' || c == '\t' || c == '\n' || c == '=' ||
			    c == '\r' || c == -1 || c == '\\') {
				skip_blanks(s);
				if (count_item(s, it.line) < 0) {
					buf_free(&name);
					return -1;
				}
				it.kind = RCI_ASSIGN;
				it.name = buf_steal(&name);
				if (peekc(s) == '=') {
					getc_(s);
					it.value = read_word(s);
				}
				item_push(items_r, n_r, &it);
				continue;
			}
			warn(s, it.line, "Skipped", buf_cstr(&name));
			buf_free(&name);
			continue;
		}
		/* garbage: skip a word */
		{
			struct buf w;
			buf_init(&w, 256);
			while ((c = peekc(s)) != -1 && c != ' ' && c != '\t' &&
			    c != '\n') {
				buf_appendc(&w, (char)c);
				getc_(s);
			}
			warn(s, it.line, "Skipped", buf_cstr(&w));
			buf_free(&w);
		}
	}
}

struct rc_file *
rc_parse(const char *path, const char *text, size_t len,
    const struct rc_limits *limits, char **error_r)
{
	struct rc_limits dl = { RC_DEFAULT_MAX_SIZE, RC_DEFAULT_MAX_DEPTH,
	    RC_DEFAULT_MAX_ITEMS };
	struct pstate s;

	memset(&s, 0, sizeof(s));
	s.lim = limits != NULL ? limits : &dl;
	s.path = path;
	s.line = 1;
	if (len > s.lim->max_size) {
		*error_r = xasprintf("%s:1: rcfile larger than %zu bytes", path,
		    s.lim->max_size);
		return NULL;
	}
	s.p = text;
	s.end = text + len;
	s.f = xcalloc(1, sizeof(*s.f));
	s.f->path = xstrdup(path);
	if (parse_items(&s, &s.f->items, &s.f->nitems, 0) < 0) {
		rc_file_free(&s.f);
		*error_r = s.error;
		return NULL;
	}
	return s.f;
}

static void
items_free(struct rc_item *items, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		struct rc_recipe *r = items[i].recipe;
		free(items[i].name);
		free(items[i].value);
		if (r == NULL)
			continue;
		for (j = 0; j < r->nconds; j++)
			free(r->conds[j].text);
		free(r->conds);
		free(r->lockfile);
		free(r->action_text);
		free(r->capture_var);
		items_free(r->block, r->nblock);
		free(r);
	}
	free(items);
}

void
rc_file_free(struct rc_file **fp)
{
	struct rc_file *f = *fp;
	size_t i;

	if (f == NULL)
		return;
	items_free(f->items, f->nitems);
	for (i = 0; i < f->nwarnings; i++)
		free(f->warnings[i]);
	free(f->warnings);
	free(f->path);
	free(f);
	*fp = NULL;
}
