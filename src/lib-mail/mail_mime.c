/*
 * mail_mime.c - the MIME structure parser (see mail_mime.h).  Untrusted
 * input: a whole message from anyone.  Recursion is bounded by
 * max_depth, the part array by max_parts, header values by
 * MAIL_HEADER_VALUE_MAX, parameters by MAIL_PARAMS_MAX; every offset is
 * checked against the range of the entity that holds it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_header.h"
#include "mail_mime.h"
#include "mem.h"

struct pctx {
	struct mail_mime *m;
	const char *d;
	const struct mail_mime_limits *lim;
	struct buf ct, cte, cd;
};

/* ---- structured values ---- */

static int
is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static void
skip_cfws(const char **pp)
{
	const char *p = *pp;
	int depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			break;
		depth = 0;
		for (; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
	*pp = p;
}

static char *
parse_token(const char **pp)
{
	const char *p = *pp, *s;

	skip_cfws(&p);
	s = p;
	while ((unsigned char)*p > ' ' && *p != 0x7f && !is_tspecial(*p))
		p++;
	*pp = p;
	return p == s ? NULL : xstrndup(s, (size_t)(p - s));
}

static char *
parse_value(const char **pp)
{
	const char *p = *pp, *s;

	skip_cfws(&p);
	if (*p == '"') {
		struct buf b;
		buf_init(&b, MAIL_HEADER_VALUE_MAX);
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			(void)buf_appendc(&b, *p);
		}
		if (*p == '"')
			p++;
		*pp = p;
		return buf_steal(&b);
	}
	s = p;
	while ((unsigned char)*p > ' ' && *p != 0x7f && *p != ';' &&
	    *p != '"' && *p != '(')
		p++;
	*pp = p;
	return p == s ? NULL : xstrndup(s, (size_t)(p - s));
}

/* Move p to the next ';' outside quoted strings (or the end). */
static const char *
next_semicolon(const char *p)
{
	int inq = 0;

	for (; *p != '\0'; p++) {
		if (inq && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			inq = !inq;
		else if (*p == ';' && !inq)
			break;
	}
	return p;
}

void
mail_params_free(struct mail_param *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

void
mail_params_parse(const char *value, int with_subtype, char **first_r,
    char **second_r, struct mail_param **v_r, unsigned *n_r)
{
	const char *p = value;
	char *first, *second = NULL;
	struct mail_param *v = NULL;
	unsigned n = 0;

	first = parse_token(&p);
	if (first != NULL && with_subtype) {
		skip_cfws(&p);
		if (*p == '/') {
			p++;
			second = parse_token(&p);
		}
		if (second == NULL)
			FREE(first);
	}
	if (first_r != NULL)
		*first_r = first;
	else
		free(first);
	if (with_subtype)
		*second_r = second;
	for (;;) {
		char *name, *val;

		skip_cfws(&p);
		if (*p != ';')
			p = next_semicolon(p);
		if (*p == '\0')
			break;
		p++;
		name = parse_token(&p);
		if (name == NULL)
			continue;
		skip_cfws(&p);
		if (*p != '=') {
			free(name);
			continue;
		}
		p++;
		val = parse_value(&p);
		if (val == NULL || n >= MAIL_PARAMS_MAX) {
			free(name);
			free(val);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].name = name;
		v[n].value = val;
		n++;
	}
	*v_r = v;
	*n_r = n;
}

const char *
mail_param_get(const struct mail_param *v, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

/* ---- the tree ---- */

static size_t
count_lines(const char *d, size_t len)
{
	const char *p = d, *end = d + len;
	size_t n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	if (len > 0 && d[len - 1] != '\n')
		n++;
	return n;
}

/* The first Content-Type, -Transfer-Encoding and -Disposition of the
 * header block, unfolded into c->ct, c->cte, c->cd (NULL if absent). */
static void
content_fields(struct pctx *c, const char *h, size_t len, const char **ct,
    const char **cte, const char **cd)
{
	static const char *const names[] = { "Content-Type",
	    "Content-Transfer-Encoding", "Content-Disposition" };
	struct buf *bufs[] = { &c->ct, &c->cte, &c->cd };
	const char **res[] = { ct, cte, cd };
	struct mail_field f;
	size_t pos = 0;

	*ct = *cte = *cd = NULL;
	while (mail_header_next(h, len, &pos, &f)) {
		if (f.name_len < 12 || strncasecmp(h + f.start, "Content-", 8) != 0)
			continue;
		for (unsigned i = 0; i < 3; i++) {
			if (*res[i] != NULL || strlen(names[i]) != f.name_len ||
			    strncasecmp(h + f.start, names[i], f.name_len) != 0)
				continue;
			buf_reset(bufs[i]);
			(void)mail_unfold(h + f.value, f.value_end - f.value, bufs[i]);
			*res[i] = buf_cstr(bufs[i]);
		}
	}
}

static int parse_entity(struct pctx *c, size_t off, size_t len,
    unsigned depth, int parent, int digest);

/* Parse a child of parts[parent] at [off, off+len), or count it as
 * skipped when a limit refuses it. */
static void
add_child(struct pctx *c, int parent, int *last, size_t off, size_t len,
    int digest)
{
	struct mail_part *p = &c->m->parts[parent];
	int idx;

	if (p->depth + 1 > c->lim->max_depth ||
	    (c->lim->max_children != 0 && p->nchildren >= c->lim->max_children) ||
	    c->m->nparts >= c->lim->max_parts) {
		p->skipped++;
		return;
	}
	idx = parse_entity(c, off, len, p->depth + 1, parent, digest);
	p = &c->m->parts[parent];       /* parts[] may have moved */
	if (*last < 0)
		p->child = idx;
	else
		c->m->parts[*last].next = idx;
	*last = idx;
	p->nchildren++;
}

/* Is the line s[i..le) a delimiter of boundary b (1), a closing one (2)? */
static int
delimiter(const char *s, size_t i, size_t le, const char *b, size_t bl)
{
	size_t k = i + 2 + bl;
	int close = 0;

	if (le - i < bl + 2 || s[i] != '-' || s[i + 1] != '-' ||
	    memcmp(s + i + 2, b, bl) != 0)
		return 0;
	if (k + 1 < le && s[k] == '-' && s[k + 1] == '-') {
		close = 1;
		k += 2;
	}
	while (k < le && (s[k] == ' ' || s[k] == '\t'))
		k++;
	if (k < le && s[k] == '\r')
		k++;
	if (k < le && s[k] == '\n')
		k++;
	return k == le ? 1 + close : 0;
}

static void
split_multipart(struct pctx *c, int idx, const char *b)
{
	const char *s = c->d;
	struct mail_part *p = &c->m->parts[idx];
	size_t bl = strlen(b), i = p->body_off, e = p->body_off + p->body_len;
	size_t part_start = 0;
	int in_part = 0, closed = 0, last = -1;
	int digest = strcasecmp(p->subtype, "digest") == 0;

	while (i < e) {
		const char *nl = memchr(s + i, '\n', e - i);
		size_t le = nl != NULL ? (size_t)(nl - s) + 1 : e;
		int d = s[i] == '-' ? delimiter(s, i, le, b, bl) : 0;

		if (d > 0) {
			if (in_part) {
				size_t pe = i;
				if (pe > part_start && s[pe - 1] == '\n')
					pe--;
				if (pe > part_start && s[pe - 1] == '\r')
					pe--;
				add_child(c, idx, &last, part_start,
				    pe - part_start, digest);
			}
			if (d == 2) {
				closed = 1;
				break;
			}
			in_part = 1;
			part_start = le;
		}
		i = le;
	}
	if (!closed) {
		c->m->parts[idx].flags |= MAIL_PART_UNCLOSED;
		if (in_part)
			add_child(c, idx, &last, part_start, e - part_start,
			    digest);
	}
}

/* Parse the entity at [off, off+len); returns its index. */
static int
parse_entity(struct pctx *c, size_t off, size_t len, unsigned depth,
    int parent, int digest)
{
	struct mail_mime *m = c->m;
	const char *ct, *cte, *cd, *s;
	struct mail_part *p;
	int idx = (int)m->nparts;
	size_t body;

	/* the array doubles when nparts is a power of two (linear time
	 * also for the downgrade's 100,000 parts) */
	if ((m->nparts & (m->nparts - 1)) == 0)
		m->parts = xreallocarray(m->parts, m->nparts == 0 ? 1 :
		    2 * (size_t)m->nparts, sizeof(*m->parts));
	p = &m->parts[m->nparts++];
	memset(p, 0, sizeof(*p));
	p->depth = depth;
	p->parent = parent;
	p->next = p->child = -1;
	body = mail_header_end(c->d + off, len);
	p->hdr_off = off;
	p->hdr_len = body;
	p->body_off = off + body;
	p->body_len = len - body;

	content_fields(c, c->d + off, body, &ct, &cte, &cd);
	if (ct != NULL)
		mail_params_parse(ct, 1, &p->type, &p->subtype, &p->params,
		    &p->nparams);
	if (p->type == NULL) {
		p->flags |= MAIL_PART_DEFAULT_TYPE;
		p->type = xstrdup(digest && ct == NULL ? "message" : "text");
		p->subtype = xstrdup(digest && ct == NULL ? "rfc822" : "plain");
	}
	if (cte != NULL) {
		s = cte;
		p->encoding = parse_token(&s);
	}
	if (cd != NULL)
		mail_params_parse(cd, 0, &p->disposition, NULL, &p->dparams,
		    &p->ndparams);

	if (strcasecmp(p->type, "multipart") == 0) {
		const char *b = mail_param_get(p->params, p->nparams, "boundary");
		p->flags |= MAIL_PART_MULTIPART;
		if (b == NULL || *b == '\0' || strlen(b) > MAIL_BOUNDARY_MAX)
			p->flags |= MAIL_PART_NO_BOUNDARY;
		else {
			char *bd = xstrdup(b);  /* parts[] may move */
			split_multipart(c, idx, bd);
			free(bd);
		}
		return idx;
	}
	p->body_lines = count_lines(c->d + p->body_off, p->body_len);
	if (strcasecmp(p->type, "message") == 0 &&
	    (strcasecmp(p->subtype, "rfc822") == 0 ||
	    strcasecmp(p->subtype, "global") == 0)) {
		int last = -1;
		p->flags |= MAIL_PART_MESSAGE;
		add_child(c, idx, &last, p->body_off, p->body_len, 0);
	}
	return idx;
}

void
mail_mime_parse(struct mail_mime *m, const char *data, size_t len,
    const struct mail_mime_limits *lim)
{
	struct pctx c = { m, data != NULL ? data : "", lim, { 0 }, { 0 }, { 0 } };

	memset(m, 0, sizeof(*m));
	buf_init(&c.ct, MAIL_HEADER_VALUE_MAX);
	buf_init(&c.cte, MAIL_HEADER_VALUE_MAX);
	buf_init(&c.cd, MAIL_HEADER_VALUE_MAX);
	(void)parse_entity(&c, 0, len, 0, -1, 0);
	buf_free(&c.ct);
	buf_free(&c.cte);
	buf_free(&c.cd);
}

unsigned
mail_mime_subtree_end(const struct mail_mime *m, unsigned i)
{
	unsigned e = i + 1;

	while (e < m->nparts && m->parts[e].depth > m->parts[i].depth)
		e++;
	return e;
}

void
mail_mime_free(struct mail_mime *m)
{
	for (unsigned i = 0; i < m->nparts; i++) {
		struct mail_part *p = &m->parts[i];
		free(p->type);
		free(p->subtype);
		mail_params_free(p->params, p->nparams);
		free(p->encoding);
		free(p->disposition);
		mail_params_free(p->dparams, p->ndparams);
	}
	FREE(m->parts);
	m->nparts = 0;
}
