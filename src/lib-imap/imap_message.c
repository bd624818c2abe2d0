/*
 * imap_message.c - MIME parse of a stored message and the FETCH items
 * derived from it (BODYSTRUCTURE, ENVELOPE, BODY[section]).
 *
 * Untrusted bytes: the whole message (CRLF line ends).  Every offset is
 * checked against the buffer; depth and part count are bounded; header
 * values are copied into bounded buffers.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "imap_message.h"
#include "mem.h"
#include "str.h"

#define HDR_VALUE_MAX (64 * 1024)

struct pctx {
	const char *data;
	unsigned parts;
};

/* ---- strings out ---- */

void
imap_write_nstring(struct buf *out, const char *s, size_t len)
{
	int literal = 0;

	if (s == NULL) {
		buf_appends(out, "NIL");
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80 ||
		    len > 1024) {
			literal = 1;
			break;
		}
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, s, len);
		return;
	}
	buf_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_appendc(out, '\\');
		buf_appendc(out, s[i]);
	}
	buf_appendc(out, '"');
}

void
imap_write_cstring(struct buf *out, const char *s)
{
	imap_write_nstring(out, s, s ? strlen(s) : 0);
}

/* ---- headers ---- */

static size_t
header_length(const char *d, size_t off, size_t len)
{
	const char *p;

	if (len >= 2 && d[off] == '\r' && d[off + 1] == '\n')
		return 2;
	p = memmem(d + off, len, "\r\n\r\n", 4);
	if (p == NULL)
		return len;
	return (size_t)(p - (d + off)) + 4;
}

/* End of the field starting at p (after its last continuation line's CRLF). */
static const char *
field_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end;
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			return p;
	}
}

/* Name of the field at p: length up to ':' (trailing WSP removed), or 0. */
static size_t
field_name_len(const char *p, const char *fend, const char **colon_r)
{
	const char *c = memchr(p, ':', (size_t)(fend - p));
	size_t n;

	if (c == NULL)
		return 0;
	n = (size_t)(c - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*colon_r = c;
	return n;
}

static void
unfold_into(struct buf *v, const char *s, const char *e)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' ||
	    e[-1] == '\t'))
		e--;
	for (; s < e; s++) {
		if (*s == '\r' || *s == '\n')
			continue;
		if (buf_appendc(v, *s) < 0)
			break;
	}
}

int
imap_header_get(const char *hdr, size_t len, const char *name,
    struct buf *value)
{
	const char *p = hdr, *end = hdr + len;
	size_t nlen = strlen(name);

	buf_reset(value);
	while (p < end) {
		const char *fe = field_end(p, end), *colon;
		size_t n = field_name_len(p, fe, &colon);
		if (n == nlen && strncasecmp(p, name, n) == 0) {
			unfold_into(value, colon + 1, fe);
			return 0;
		}
		p = fe;
	}
	return -1;
}

static char *
header_dup(const char *hdr, size_t len, const char *name)
{
	struct buf v;
	char *r = NULL;

	buf_init(&v, HDR_VALUE_MAX);
	if (imap_header_get(hdr, len, name, &v) == 0)
		r = xstrdup(buf_cstr(&v));
	buf_free(&v);
	return r;
}

/* ---- Content-Type and friends ---- */

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
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			break;
		depth = 0;
		for (; *p; p++) {
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
	while (*p && (unsigned char)*p > ' ' && *p != 0x7f && !is_tspecial(*p))
		p++;
	*pp = p;
	if (p == s)
		return NULL;
	return xstrndup(s, (size_t)(p - s));
}

static char *
parse_value(const char **pp)
{
	const char *p = *pp;

	skip_cfws(&p);
	if (*p == '"') {
		struct buf b;
		buf_init(&b, HDR_VALUE_MAX);
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf_appendc(&b, *p);
		}
		if (*p == '"')
			p++;
		*pp = p;
		if (b.data == NULL)
			return xstrdup("");
		return buf_steal(&b);
	}
	*pp = p;
	return parse_token(pp);
}

static void
parse_params(const char *p, struct imap_param **v_r, unsigned *n_r)
{
	struct imap_param *v = NULL;
	unsigned n = 0;

	for (;;) {
		char *name, *value;

		skip_cfws(&p);
		if (*p != ';')
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
		value = parse_value(&p);
		if (value == NULL) {
			free(name);
			continue;
		}
		if (n >= 64) {
			free(name);
			free(value);
			continue;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n].name = name;
		v[n].value = value;
		n++;
	}
	*v_r = v;
	*n_r = n;
}

static const char *
param_get(const struct imap_param *v, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

static struct imap_part *parse_part(struct pctx *c, size_t off, size_t len,
    unsigned depth, int digest_child);

static size_t
count_lines(const char *d, size_t len)
{
	size_t n = 0;
	const char *p = d, *end = d + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	if (len > 0 && d[len - 1] != '\n')
		n++;
	return n;
}

static int
boundary_at(const char *d, size_t pos, size_t end, const char *b,
    size_t blen, int *close_r)
{
	const char *p = d + pos;

	if (end - pos < blen + 2 || p[0] != '-' || p[1] != '-' ||
	    memcmp(p + 2, b, blen) != 0)
		return 0;
	p += blen + 2;
	*close_r = (size_t)(p - d) + 2 <= end && p[0] == '-' && p[1] == '-';
	if (*close_r)
		p += 2;
	/* the rest of the line may only be white space */
	while ((size_t)(p - d) < end && (*p == ' ' || *p == '\t'))
		p++;
	return (size_t)(p - d) == end || *p == '\r' || *p == '\n';
}

static void
parse_multipart(struct pctx *c, struct imap_part *part, const char *b,
    unsigned depth)
{
	const char *d = c->data;
	size_t blen = strlen(b), pos = part->body_off;
	size_t end = part->body_off + part->body_len, start;
	int close = 0, digest = strcasecmp(part->subtype, "digest") == 0;

	/* find the first delimiter */
	for (;;) {
		if (boundary_at(d, pos, end, b, blen, &close))
			break;
		const char *nl = memmem(d + pos, end - pos, "\r\n--", 4);
		if (nl == NULL)
			return;
		pos = (size_t)(nl - d) + 2;
	}
	while (!close) {
		const char *nl = memchr(d + pos, '\n', end - pos);
		size_t next;

		if (nl == NULL)
			return;
		start = (size_t)(nl - d) + 1;
		next = start;
		for (;;) {
			const char *q = next < end ?
			    memmem(d + next, end - next, "\r\n--", 4) : NULL;
			if (q == NULL) {
				next = end;
				break;
			}
			next = (size_t)(q - d);
			if (boundary_at(d, next + 2, end, b, blen, &close))
				break;
			next += 2;
		}
		if (part->nchildren >= 1000 || c->parts >= IMAP_MIME_MAX_PARTS)
			return;
		part->children = xreallocarray(part->children,
		    part->nchildren + 1, sizeof(*part->children));
		struct imap_part *ch = parse_part(c, start, next - start,
		    depth + 1, digest);
		part->children[part->nchildren++] = *ch;
		free(ch);
		if (next >= end)
			return;
		pos = next + 2;
	}
}

static struct imap_part *
parse_part(struct pctx *c, size_t off, size_t len, unsigned depth,
    int digest_child)
{
	struct imap_part *p = xcalloc(1, sizeof(*p));
	const char *hdr = c->data + off, *s;
	char *ct, *v;

	c->parts++;
	p->hdr_off = off;
	p->hdr_len = header_length(c->data, off, len);
	p->body_off = off + p->hdr_len;
	p->body_len = len - p->hdr_len;
	p->body_lines = count_lines(c->data + p->body_off, p->body_len);

	ct = header_dup(hdr, p->hdr_len, "Content-Type");
	if (ct != NULL) {
		s = ct;
		p->type = parse_token(&s);
		skip_cfws(&s);
		if (p->type != NULL && *s == '/') {
			s++;
			p->subtype = parse_token(&s);
		}
		if (p->type == NULL || p->subtype == NULL) {
			FREE(p->type);
			FREE(p->subtype);
		} else
			parse_params(s, &p->params, &p->nparams);
		free(ct);
	}
	if (p->type == NULL) {
		if (digest_child) {
			p->type = xstrdup("message");
			p->subtype = xstrdup("rfc822");
		} else {
			p->type = xstrdup("text");
			p->subtype = xstrdup("plain");
			p->params = xcalloc(1, sizeof(*p->params));
			p->params[0].name = xstrdup("charset");
			p->params[0].value = xstrdup("us-ascii");
			p->nparams = 1;
		}
	}
	p->id = header_dup(hdr, p->hdr_len, "Content-ID");
	p->description = header_dup(hdr, p->hdr_len, "Content-Description");
	v = header_dup(hdr, p->hdr_len, "Content-Transfer-Encoding");
	if (v != NULL) {
		s = v;
		p->encoding = parse_token(&s);
		free(v);
	}
	p->md5 = header_dup(hdr, p->hdr_len, "Content-MD5");
	p->language = header_dup(hdr, p->hdr_len, "Content-Language");
	p->location = header_dup(hdr, p->hdr_len, "Content-Location");
	v = header_dup(hdr, p->hdr_len, "Content-Disposition");
	if (v != NULL) {
		s = v;
		p->disposition = parse_token(&s);
		if (p->disposition != NULL)
			parse_params(s, &p->dparams, &p->ndparams);
		free(v);
	}

	if (strcasecmp(p->type, "multipart") == 0 && depth < IMAP_MIME_MAX_DEPTH) {
		const char *b = param_get(p->params, p->nparams, "boundary");
		p->multipart = 1;
		if (b != NULL && *b != '\0' && strlen(b) <= 200)
			parse_multipart(c, p, b, depth);
		if (p->nchildren == 0) {
			/* keep the structure valid: one empty text part */
			p->children = xcalloc(1, sizeof(*p->children));
			p->children[0].hdr_off = p->body_off + p->body_len;
			p->children[0].body_off = p->body_off + p->body_len;
			p->children[0].type = xstrdup("text");
			p->children[0].subtype = xstrdup("plain");
			p->nchildren = 1;
		}
	} else if (strcasecmp(p->type, "message") == 0 &&
	    strcasecmp(p->subtype, "rfc822") == 0 &&
	    depth < IMAP_MIME_MAX_DEPTH && c->parts < IMAP_MIME_MAX_PARTS) {
		p->rfc822 = 1;
		p->msg = parse_part(c, p->body_off, p->body_len, depth + 1, 0);
	}
	return p;
}

struct imap_part *
imap_message_parse(const char *data, size_t len)
{
	struct pctx c = { data, 0 };

	return parse_part(&c, 0, len, 0, 0);
}

static void
params_free(struct imap_param *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

static void
part_clear(struct imap_part *p)
{
	free(p->type);
	free(p->subtype);
	params_free(p->params, p->nparams);
	params_free(p->dparams, p->ndparams);
	free(p->id);
	free(p->description);
	free(p->encoding);
	free(p->md5);
	free(p->language);
	free(p->location);
	free(p->disposition);
	for (unsigned i = 0; i < p->nchildren; i++)
		part_clear(&p->children[i]);
	free(p->children);
	if (p->msg != NULL)
		imap_part_free(&p->msg);
}

void
imap_part_free(struct imap_part **pp)
{
	if (*pp == NULL)
		return;
	part_clear(*pp);
	FREE(*pp);
}

/* ---- BODYSTRUCTURE ---- */

static void
write_params(struct buf *out, const struct imap_param *v, unsigned n)
{
	if (n == 0) {
		buf_appends(out, "NIL");
		return;
	}
	buf_appendc(out, '(');
	for (unsigned i = 0; i < n; i++) {
		if (i > 0)
			buf_appendc(out, ' ');
		imap_write_cstring(out, v[i].name);
		buf_appendc(out, ' ');
		imap_write_cstring(out, v[i].value);
	}
	buf_appendc(out, ')');
}

static void
write_ext_common(struct buf *out, const struct imap_part *p)
{
	buf_appendc(out, ' ');
	if (p->disposition != NULL) {
		buf_appendc(out, '(');
		imap_write_cstring(out, p->disposition);
		buf_appendc(out, ' ');
		write_params(out, p->dparams, p->ndparams);
		buf_appendc(out, ')');
	} else
		buf_appends(out, "NIL");
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->language);
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->location);
}

static void
write_part(struct buf *out, const char *data, const struct imap_part *p,
    int ext)
{
	buf_appendc(out, '(');
	if (p->multipart) {
		for (unsigned i = 0; i < p->nchildren; i++)
			write_part(out, data, &p->children[i], ext);
		buf_appendc(out, ' ');
		imap_write_cstring(out, p->subtype);
		if (ext) {
			buf_appendc(out, ' ');
			write_params(out, p->params, p->nparams);
			write_ext_common(out, p);
		}
		buf_appendc(out, ')');
		return;
	}
	imap_write_cstring(out, p->type);
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->subtype);
	buf_appendc(out, ' ');
	write_params(out, p->params, p->nparams);
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->id);
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->description);
	buf_appendc(out, ' ');
	imap_write_cstring(out, p->encoding ? p->encoding : "7bit");
	buf_printf(out, " %zu", p->body_len);
	if (p->rfc822 && p->msg != NULL) {
		buf_appendc(out, ' ');
		imap_write_envelope(out, data + p->msg->hdr_off, p->msg->hdr_len);
		buf_appendc(out, ' ');
		write_part(out, data, p->msg, ext);
		buf_printf(out, " %zu", p->body_lines);
	} else if (strcasecmp(p->type, "text") == 0)
		buf_printf(out, " %zu", p->body_lines);
	if (ext) {
		buf_appendc(out, ' ');
		imap_write_cstring(out, p->md5);
		write_ext_common(out, p);
	}
	buf_appendc(out, ')');
}

void
imap_write_bodystructure(struct buf *out, const char *data,
    const struct imap_part *root, int extended)
{
	write_part(out, data, root, extended);
}

/* ---- ENVELOPE ---- */

/* Append the phrase s[0..n) decoded: quoted strings unquoted, comments
 * dropped, runs of white space collapsed. */
static void
phrase_into(struct buf *b, const char *s, size_t n)
{
	size_t i = 0;
	int space = 0;

	while (i < n) {
		char c = s[i];
		if (c == '"') {
			if (space && b->len > 0)
				buf_appendc(b, ' ');
			space = 0;
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf_appendc(b, s[i]);
			}
			i++;
		} else if (c == '(') {
			int depth = 0;
			for (; i < n; i++) {
				if (s[i] == '\\')
					i++;
				else if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			space = 1;
		} else if (c == ' ' || c == '\t') {
			space = 1;
			i++;
		} else {
			if (space && b->len > 0)
				buf_appendc(b, ' ');
			space = 0;
			buf_appendc(b, c);
			i++;
		}
	}
}

static void
write_addr(struct buf *out, const char *name, const char *mbox,
    const char *host)
{
	buf_appendc(out, '(');
	imap_write_cstring(out, name);
	buf_appends(out, " NIL ");
	imap_write_cstring(out, mbox);
	buf_appendc(out, ' ');
	imap_write_cstring(out, host);
	buf_appendc(out, ')');
}

static int
item_to_addr(struct buf *out, const char *s, size_t n)
{
	struct buf name, addr;
	const char *lt = NULL;
	size_t i;
	int inq = 0, depth = 0, wrote = 0;

	buf_init(&name, HDR_VALUE_MAX);
	buf_init(&addr, HDR_VALUE_MAX);
	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"' && depth == 0)
			inq = !inq;
		else if (!inq && s[i] == '(')
			depth++;
		else if (!inq && s[i] == ')' && depth > 0)
			depth--;
		else if (!inq && depth == 0 && s[i] == '<') {
			lt = s + i;
			break;
		}
	}
	if (lt != NULL) {
		const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
		const char *a = lt + 1, *ae = gt ? gt : s + n, *colon;
		phrase_into(&name, s, (size_t)(lt - s));
		/* drop a source route "@a,@b:" */
		colon = memchr(a, ':', (size_t)(ae - a));
		if (*a == '@' && colon != NULL)
			a = colon + 1;
		phrase_into(&addr, a, (size_t)(ae - a));
	} else {
		/* addr-spec, maybe with a trailing "(Name)" comment */
		const char *c = memchr(s, '(', n);
		phrase_into(&addr, s, n);
		if (c != NULL) {
			const char *ce = memchr(c, ')', n - (size_t)(c - s));
			if (ce != NULL)
				buf_append(&name, c + 1, (size_t)(ce - c - 1));
		}
	}
	/* phrase_into collapses white space: addresses have none left */
	if (addr.len > 0 || name.len > 0) {
		char *a = addr.data ? addr.data : (char *)"";
		char *at = strrchr(a, '@');
		if (at != NULL)
			*at = '\0';
		write_addr(out, name.len ? name.data : NULL, a,
		    at ? at + 1 : NULL);
		wrote = 1;
	}
	buf_free(&name);
	buf_free(&addr);
	return wrote;
}

static void
write_addr_list(struct buf *out, const char *v)
{
	size_t start = 0, i, n;
	int inq = 0, depth = 0, angle = 0, any = 0, group = 0;

	if (v == NULL) {
		buf_appends(out, "NIL");
		return;
	}
	n = strlen(v);
	size_t mark = out->len;
	buf_appendc(out, '(');
	for (i = 0; i <= n; i++) {
		char c = i < n ? v[i] : ',';
		if (i < n && c == '\\') {
			i++;
			continue;
		}
		if (c == '"' && depth == 0) {
			inq = !inq;
			continue;
		}
		if (inq)
			continue;
		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		if (depth > 0)
			continue;
		if (c == '<')
			angle = 1;
		else if (c == '>')
			angle = 0;
		if (angle && i < n)
			continue;
		if (c == ':' && !group) {
			struct buf g;
			buf_init(&g, HDR_VALUE_MAX);
			phrase_into(&g, v + start, i - start);
			/* group start: (NIL NIL "name" NIL) */
			buf_appends(out, "(NIL NIL ");
			imap_write_cstring(out, g.data ? g.data : "");
			buf_appends(out, " NIL)");
			buf_free(&g);
			group = 1;
			any = 1;
			start = i + 1;
		} else if (c == ',' || c == ';') {
			any |= item_to_addr(out, v + start, i - start);
			if (c == ';' && group) {
				write_addr(out, NULL, NULL, NULL);
				group = 0;
			}
			start = i + 1;
			if (c == ',' && i == n && group) {
				write_addr(out, NULL, NULL, NULL);
				group = 0;
			}
		}
	}
	if (!any) {
		buf_truncate(out, mark);
		buf_appends(out, "NIL");
		return;
	}
	buf_appendc(out, ')');
}

void
imap_write_envelope(struct buf *out, const char *hdr, size_t len)
{
	static const char *const plain[] = { "Date", "Subject" };
	static const char *const addrs[] = { "From", "Sender", "Reply-To",
	    "To", "Cc", "Bcc" };
	char *from;

	buf_appendc(out, '(');
	for (unsigned i = 0; i < NELEM(plain); i++) {
		char *v = header_dup(hdr, len, plain[i]);
		imap_write_cstring(out, v);
		buf_appendc(out, ' ');
		free(v);
	}
	from = header_dup(hdr, len, "From");
	for (unsigned i = 0; i < NELEM(addrs); i++) {
		char *v = header_dup(hdr, len, addrs[i]);
		if (v != NULL && *v == '\0')
			FREE(v);
		if (v == NULL && (i == 1 || i == 2) && from != NULL)
			v = xstrdup(from);
		write_addr_list(out, v);
		buf_appendc(out, ' ');
		free(v);
	}
	free(from);
	char *irt = header_dup(hdr, len, "In-Reply-To");
	char *mid = header_dup(hdr, len, "Message-ID");
	imap_write_cstring(out, irt);
	buf_appendc(out, ' ');
	imap_write_cstring(out, mid);
	buf_appendc(out, ')');
	free(irt);
	free(mid);
}

/* ---- sections ---- */

static int
field_in_list(const char *name, size_t nlen, char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == nlen && strncasecmp(list[i], name, nlen) == 0)
			return 1;
	return 0;
}

static int
header_fields(const char *hdr, size_t len, const char *spec, int not,
    struct buf *tmp)
{
	char **names, *inner;
	const char *open = strchr(spec, '('), *close = strrchr(spec, ')');
	size_t n;

	if (open == NULL || close == NULL || close < open)
		return -1;
	for (const char *q = close + 1; *q; q++)
		if (*q != ' ')
			return -1;
	inner = xstrndup(open + 1, (size_t)(close - open - 1));
	for (char *q = inner; *q; q++)
		if (*q == '"')
			*q = ' ';
	names = str_split(inner, " \t", &n);
	free(inner);
	if (n == 0) {
		str_split_free(&names);
		return -1;
	}
	buf_reset(tmp);
	const char *p = hdr, *end = hdr + len;
	while (p < end) {
		const char *fe = field_end(p, end), *colon;
		size_t nl = field_name_len(p, fe, &colon);
		if (nl > 0 && field_in_list(p, nl, names, n) != not)
			buf_append(tmp, p, (size_t)(fe - p));
		p = fe;
	}
	buf_append(tmp, "\r\n", 2);
	str_split_free(&names);
	return 0;
}

int
imap_section_get(const char *data, size_t len,
    const struct imap_part *root, const char *section, int binary,
    struct buf *tmp, const char **res_r, size_t *reslen_r,
    const char **error_r)
{
	/* a virtual message/rfc822 wrapper around the whole message */
	const struct imap_part *p = NULL, *msg = root;
	const char *s = section;
	int numbers = 0;

	(void)len;
	while (isdigit((unsigned char)*s)) {
		unsigned long k = 0;
		if (*s == '0')
			goto bad;
		while (isdigit((unsigned char)*s)) {
			k = k * 10 + (unsigned long)(*s - '0');
			if (k > 100000)
				goto bad;
			s++;
		}
		/* step from the current message/rfc822 (msg) or multipart (p) */
		if (msg != NULL) {
			if (msg->multipart) {
				if (k > msg->nchildren)
					goto missing;
				p = &msg->children[k - 1];
			} else if (k == 1)
				p = msg;
			else
				goto missing;
		} else if (p->multipart) {
			if (k > p->nchildren)
				goto missing;
			p = &p->children[k - 1];
		} else
			goto missing;
		msg = p->rfc822 ? p->msg : NULL;
		numbers++;
		if (*s == '.') {
			s++;
			if (*s == '\0')
				goto bad;
		} else if (*s != '\0')
			goto bad;
	}
	if (*s == '\0') {
		const struct imap_part *t = numbers ? p : root;
		if (numbers == 0) {
			*res_r = data;
			*reslen_r = len;
			return 0;
		}
		if (t->multipart && binary)
			goto bad;
		*res_r = data + t->body_off;
		*reslen_r = t->body_len;
		if (binary && t->encoding != NULL &&
		    strcasecmp(t->encoding, "7bit") != 0 &&
		    strcasecmp(t->encoding, "8bit") != 0 &&
		    strcasecmp(t->encoding, "binary") != 0) {
			buf_reset(tmp);
			if (strcasecmp(t->encoding, "base64") == 0)
				imap_decode_base64(*res_r, *reslen_r, tmp);
			else if (strcasecmp(t->encoding, "quoted-printable") == 0)
				imap_decode_qp(*res_r, *reslen_r, tmp);
			else {
				*error_r = "Unknown Content-Transfer-Encoding";
				return -2;
			}
			*res_r = tmp->data ? tmp->data : "";
			*reslen_r = tmp->len;
		}
		return 0;
	}
	if (binary)
		goto bad;
	if (strcasecmp(s, "MIME") == 0) {
		if (numbers == 0)
			goto bad;
		*res_r = data + p->hdr_off;
		*reslen_r = p->hdr_len;
		return 0;
	}
	if (strcasecmp(s, "HEADER") != 0 && strcasecmp(s, "TEXT") != 0 &&
	    strncasecmp(s, "HEADER.FIELDS ", 14) != 0 &&
	    strncasecmp(s, "HEADER.FIELDS.NOT ", 18) != 0)
		goto bad;
	if (msg == NULL) {
		/* HEADER/TEXT need a message: part N must be message/rfc822 */
		goto missing;
	}
	if (strcasecmp(s, "HEADER") == 0) {
		*res_r = data + msg->hdr_off;
		*reslen_r = msg->hdr_len;
		return 0;
	}
	if (strcasecmp(s, "TEXT") == 0) {
		*res_r = data + msg->body_off;
		*reslen_r = msg->body_len;
		return 0;
	}
	if (strncasecmp(s, "HEADER.FIELDS.NOT ", 18) == 0 ||
	    strncasecmp(s, "HEADER.FIELDS ", 14) == 0) {
		int not = strncasecmp(s, "HEADER.FIELDS.NOT", 17) == 0;
		if (header_fields(data + msg->hdr_off, msg->hdr_len,
		    s + (not ? 18 : 14), not, tmp) < 0)
			goto bad;
		*res_r = tmp->data;
		*reslen_r = tmp->len;
		return 0;
	}
bad:
	*error_r = "Invalid section";
	return -1;
missing:
	/* a nonexistent part is empty, as other servers answer */
	*res_r = "";
	*reslen_r = 0;
	return 0;
}

/* ---- decoders ---- */

int
imap_decode_base64(const char *in, size_t len, struct buf *out)
{
	unsigned long bits = 0;
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v = base64_digit(c, '/');
		if (c == '=')
			break;
		if (v < 0)
			continue;       /* line ends, white space, junk */
		bits = (bits << 6) | (unsigned long)v;
		n += 6;
		if (n >= 8) {
			n -= 8;
			if (buf_appendc(out, (char)((bits >> n) & 0xff)) < 0)
				return -1;
		}
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

int
imap_decode_qp(const char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '=') {
			if (i + 2 < len + 0 && in[i + 1] == '\r' && in[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (i + 1 < len && in[i + 1] == '\n') {
				i += 1;
				continue;
			}
			if (i + 2 < len && hexval(in[i + 1]) >= 0 &&
			    hexval(in[i + 2]) >= 0) {
				if (buf_appendc(out, (char)(hexval(in[i + 1]) * 16 +
				    hexval(in[i + 2]))) < 0)
					return -1;
				i += 2;
				continue;
			}
		}
		if (buf_appendc(out, in[i]) < 0)
			return -1;
	}
	return 0;
}
