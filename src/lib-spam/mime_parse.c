/*
 * mime_parse.c - one message (untrusted bytes from the Internet) into a
 * struct mime_msg: headers, the flattened MIME tree, body/rawbody text,
 * URIs and anomaly counters.  Recursion is bounded by lim.max_depth,
 * work by lim.max_size and lim.max_parts, memory by the buf maxima.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"
#include "mem.h"
#include "mime.h"
#include "uri.h"

const struct mime_limits mime_default_limits = {
	.max_size = 512 * 1024,
	.max_depth = 20,
	.max_parts = 200,
	.max_headers = 500,
	.max_text = 1024 * 1024,
	.max_uris = 500,
};

struct parser {
	struct mime_msg *m;
	struct uri_list uris;
	struct buf rendered;
	int seen_plain, seen_html;
};

struct hdrlist {
	struct mime_header *v;
	size_t n;
};

static void
hdrlist_free(struct hdrlist *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].raw);
		free(h->v[i].value);
	}
	FREE(h->v);
	h->n = 0;
}

static const struct mime_header *
hdr_find(const struct hdrlist *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->v[i].name, name) == 0)
			return &h->v[i];
	return NULL;
}

static size_t
line_end(const char *s, size_t n, size_t i)
{
	const char *nl = memchr(s + i, '\n', n - i);
	return nl ? (size_t)(nl - s) + 1 : n;
}

static int
blank_line(const char *s, size_t a, size_t b)
{
	for (size_t i = a; i < b; i++)
		if (s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Parse the header block at s[0..n); returns the offset of the body. */
static size_t
parse_headers(struct parser *p, const char *s, size_t n, struct hdrlist *h)
{
	struct mime_stats *st = &p->m->st;
	size_t i = 0;

	while (i < n) {
		size_t e = line_end(s, n, i), start = i, colon;
		struct buf raw, val, unf;

		if (blank_line(s, i, e))
			return e;
		if (e - i > 999)
			st->hdr_long_lines++;
		if (s[i] == ' ' || s[i] == '\t') {      /* stray continuation */
			st->hdr_bad_lines++;
			i = e;
			continue;
		}
		for (colon = i; colon < e && s[colon] != ':' && s[colon] != ' ' &&
		    s[colon] != '\t' && s[colon] != '\n'; colon++)
			;
		while (colon < e && (s[colon] == ' ' || s[colon] == '\t'))
			colon++;        /* "Subject : x" is tolerated */
		if (colon >= e || s[colon] != ':' || colon == i) {
			st->hdr_bad_lines++;
			i = e;
			continue;
		}
		/* continuation lines */
		while (e < n && (s[e] == ' ' || s[e] == '\t')) {
			size_t e2 = line_end(s, n, e);
			if (e2 - e > 999)
				st->hdr_long_lines++;
			e = e2;
		}
		i = e;
		if (h->n >= p->m->lim.max_headers) {
			st->truncated++;
			continue;
		}
		size_t ne = colon;
		while (ne > start && (s[ne - 1] == ' ' || s[ne - 1] == '\t'))
			ne--;
		size_t vs = colon + 1;
		while (vs < e && (s[vs] == ' ' || s[vs] == '\t'))
			vs++;
		size_t ve = e;
		while (ve > vs && (s[ve - 1] == '\n' || s[ve - 1] == '\r'))
			ve--;
		buf_init(&raw, 64 * 1024);
		(void)buf_append(&raw, s + vs, ve - vs);
		buf_init(&unf, 64 * 1024);
		for (size_t k = vs; k < ve; k++) {
			if (s[k] == '\r' || s[k] == '\n')
				continue;
			(void)buf_appendc(&unf, s[k]);
		}
		for (size_t k = vs; k < ve; k++)
			if ((unsigned char)s[k] >= 0x80) {
				st->hdr_8bit++;
				break;
			}
		buf_init(&val, 64 * 1024);
		mime_decode_2047(unf.data ? unf.data : "", unf.len, &val,
		    &st->hdr_2047, &st->hdr_bad_2047);
		buf_free(&unf);
		h->v = xreallocarray(h->v, h->n + 1, sizeof(*h->v));
		h->v[h->n].name = xstrndup(s + start, ne - start);
		h->v[h->n].raw = buf_steal(&raw);
		h->v[h->n].value = buf_steal(&val);
		h->n++;
	}
	return n;
}

static char *
lower_dup(const char *s, size_t n)
{
	char *r = xstrndup(s, n);
	for (char *q = r; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return r;
}

static char *
main_type(const char *v)
{
	size_t a = 0, b;

	while (v[a] == ' ' || v[a] == '\t')
		a++;
	b = a;
	while (v[b] && v[b] != ';' && !isspace((unsigned char)v[b]))
		b++;
	return lower_dup(v + a, b - a);
}

static int
str_prefix_ci_local(const char *s, const char *prefix)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void add_text(struct parser *p, const char *s, size_t n, int html);
static void parse_entity(struct parser *p, const char *s, size_t n,
    unsigned depth, const char *defctype, int top);

static void
parse_multipart(struct parser *p, const char *s, size_t n, unsigned depth,
    const char *boundary, const char *subtype)
{
	size_t bl = strlen(boundary), i = 0, part_start = 0;
	int in_part = 0, closed = 0;
	const char *child_def = strcmp(subtype, "multipart/digest") == 0 ?
	    "message/rfc822" : "text/plain";

	while (i < n) {
		size_t e = line_end(s, n, i);
		if (e - i >= bl + 2 && s[i] == '-' && s[i + 1] == '-' &&
		    memcmp(s + i + 2, boundary, bl) == 0) {
			size_t k = i + 2 + bl;
			int close = (k + 1 < e && s[k] == '-' && s[k + 1] == '-');
			if (close)
				k += 2;
			while (k < e && isspace((unsigned char)s[k]))
				k++;
			if (k == e) {
				if (in_part) {
					size_t pe = i;
					if (pe > part_start && s[pe - 1] == '\n') pe--;
					if (pe > part_start && s[pe - 1] == '\r') pe--;
					if (depth + 1 > p->m->lim.max_depth)
						p->m->st.truncated++;
					else
						parse_entity(p, s + part_start, pe - part_start,
						    depth + 1, child_def, 0);
				}
				if (close) {
					closed = 1;
					break;
				}
				in_part = 1;
				part_start = e;
			}
		}
		i = e;
	}
	if (!closed) {
		p->m->st.missing_boundary++;
		if (in_part && part_start < n) {
			if (depth + 1 > p->m->lim.max_depth)
				p->m->st.truncated++;
			else
				parse_entity(p, s + part_start, n - part_start,
				    depth + 1, child_def, 0);
		}
	}
}

static void
parse_entity(struct parser *p, const char *s, size_t n, unsigned depth,
    const char *defctype, int top)
{
	struct mime_msg *m = p->m;
	struct hdrlist own = { 0 }, *h = &own;
	const struct mime_header *ct, *cte, *cd;
	struct mime_part *part;
	size_t body;
	char *ctype, *boundary;

	if (m->nparts >= m->lim.max_parts) {
		m->st.truncated++;
		return;
	}
	body = parse_headers(p, s, n, h);
	if (top) {
		m->hdrs = own.v;
		m->nhdrs = own.n;
		m->body_offset = body;
	}
	ct = hdr_find(h, "Content-Type");
	cte = hdr_find(h, "Content-Transfer-Encoding");
	cd = hdr_find(h, "Content-Disposition");
	ctype = ct != NULL ? main_type(ct->value) : xstrdup(defctype);
	if (strchr(ctype, '/') == NULL) {
		free(ctype);
		ctype = xstrdup("text/plain");
	}
	if (depth > m->st.max_depth_seen)
		m->st.max_depth_seen = depth;
	m->parts = xreallocarray(m->parts, m->nparts + 1, sizeof(*m->parts));
	part = &m->parts[m->nparts++];
	memset(part, 0, sizeof(*part));
	part->depth = depth;
	part->ctype = ctype;
	m->st.parts++;
	{
		char *cs = ct ? mime_param(ct->value, "charset") : NULL;
		part->charset = cs ? cs : xstrdup("");
		for (char *q = part->charset; *q; q++)
			*q = (char)tolower((unsigned char)*q);
	}
	part->encoding = cte ? main_type(cte->value) : xstrdup("");
	{
		char *fn = cd ? mime_param(cd->value, "filename") : NULL;
		if (fn == NULL && ct != NULL)
			fn = mime_param(ct->value, "name");
		part->filename = fn ? fn : xstrdup("");
	}
	part->is_attachment = (cd != NULL && str_prefix_ci_local(cd->value, "attachment")) ||
	    part->filename[0] != '\0';

	if (strncmp(ctype, "multipart/", 10) == 0) {
		boundary = ct ? mime_param(ct->value, "boundary") : NULL;
		if (boundary == NULL || boundary[0] == '\0' || strlen(boundary) > 200) {
			m->st.missing_boundary++;
			free(boundary);
			/* treat as text */
			add_text(p, s + body, n - body, 0);
		} else {
			parse_multipart(p, s + body, n - body, depth, boundary, ctype);
			free(boundary);
		}
		goto out;
	}
	if (strcmp(ctype, "message/rfc822") == 0 ||
	    strcmp(ctype, "message/global") == 0) {
		if (depth + 1 > m->lim.max_depth)
			m->st.truncated++;
		else
			parse_entity(p, s + body, n - body, depth + 1, "text/plain", 0);
		goto out;
	}
	/* a leaf: transfer decoding */
	{
		struct buf dec, utf;
		const char *enc = m->parts[m->nparts - 1].encoding;
		int is_text = strncmp(ctype, "text/", 5) == 0;
		int is_html = strcmp(ctype, "text/html") == 0;
		size_t idx = m->nparts - 1;

		buf_init(&dec, m->lim.max_text);
		if (strcmp(enc, "base64") == 0) {
			mime_base64_decode(s + body, n - body, &dec, &m->st.bad_base64);
			if (is_text)
				m->st.base64_text++;
		} else if (strcmp(enc, "quoted-printable") == 0) {
			mime_qp_decode(s + body, n - body, &dec, 0, &m->st.bad_qp);
		} else {
			(void)buf_append(&dec, s + body, n - body);
		}
		if (dec.len == dec.max)
			m->st.truncated++;
		m->parts[idx].decoded_len = dec.len;
		if (is_text && !(m->parts[idx].is_attachment &&
		    strcmp(ctype, "text/plain") != 0 && !is_html)) {
			int r;
			buf_init(&utf, m->lim.max_text);
			r = mime_to_utf8(m->parts[idx].charset, dec.data ? dec.data : "",
			    dec.len, &utf);
			if (r < 0)
				m->st.charset_unknown++;
			else if (r > 0)
				m->st.charset_bad_bytes++;
			m->parts[idx].is_text = 1;
			m->parts[idx].is_html = is_html;
			m->st.text_parts++;
			if (is_html) {
				m->st.html_parts++;
				p->seen_html = 1;
			} else {
				m->st.plain_parts++;
				p->seen_plain = 1;
			}
			add_text(p, utf.data ? utf.data : "", utf.len, is_html);
			buf_free(&utf);
		} else {
			m->st.attachments++;
		}
		buf_free(&dec);
	}
out:
	if (!top)
		hdrlist_free(&own);
}

static void
add_text(struct parser *p, const char *s, size_t n, int html)
{
	struct mime_msg *m = p->m;

	if (m->rawbody.len > 0)
		(void)buf_appendc(&m->rawbody, '\n');
	(void)buf_append(&m->rawbody, s, n);
	if (p->rendered.len > 0)
		(void)buf_appends(&p->rendered, "\n\n");
	if (html) {
		html_render(s, n, &p->rendered, &m->st, &p->uris);
	} else {
		(void)buf_append(&p->rendered, s, n);
		uri_extract_text(&p->uris, s, n, &m->st);
	}
}

/* body: paragraphs (split at blank lines) on one line each, white space
 * runs collapsed to one space. */
static void
paragraphs(const char *s, size_t n, struct buf *out)
{
	int ws = 0, nl = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') { nl++; ws = 1; continue; }
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			ws = 1;
			continue;
		}
		if (out->len > 0) {
			if (nl >= 2)
				(void)buf_appendc(out, '\n');
			else if (ws)
				(void)buf_appendc(out, ' ');
		}
		nl = ws = 0;
		(void)buf_appendc(out, (char)c);
	}
}


void
mime_parse(struct mime_msg *m, const char *data, size_t len,
    const struct mime_limits *lim)
{
	struct parser p;
	const struct mime_header *subj;
	struct buf tmp;

	memset(m, 0, sizeof(*m));
	m->lim = lim ? *lim : mime_default_limits;
	if (len >= 5 && memcmp(data, "From ", 5) == 0) {
		size_t e = line_end(data, len, 0);
		data += e;
		len -= e;
	}
	if (len > m->lim.max_size) {
		len = m->lim.max_size;
		m->st.truncated++;
	}
	m->full = data;
	m->full_len = len;
	buf_init(&m->body, m->lim.max_text);
	buf_init(&m->rawbody, m->lim.max_text);
	memset(&p, 0, sizeof(p));
	p.m = m;
	p.uris.max = m->lim.max_uris;
	buf_init(&p.rendered, m->lim.max_text);
	parse_entity(&p, data, len, 0, "text/plain", 1);

	buf_init(&tmp, m->lim.max_text);
	subj = mime_header_get(m, "Subject");
	if (subj != NULL) {
		(void)buf_appends(&tmp, subj->value);
		(void)buf_appends(&tmp, "\n\n");
	}
	(void)buf_append(&tmp, p.rendered.data ? p.rendered.data : "", p.rendered.len);
	paragraphs(tmp.data ? tmp.data : "", tmp.len, &m->body);
	buf_free(&tmp);
	buf_free(&p.rendered);
	m->uris = p.uris.v;
	m->nuris = p.uris.n;

	if (mime_header_get(m, "Content-Type") != NULL &&
	    mime_header_get(m, "MIME-Version") == NULL)
		m->st.mime_missing_version++;
	{
		static const char *const single[] = {
			"From", "To", "Subject", "Date", "Message-ID", "Sender",
			"Reply-To", "Cc", "In-Reply-To", "MIME-Version",
		};
		for (size_t i = 0; i < NELEM(single); i++)
			if (mime_header_count(m, single[i]) > 1)
				m->st.hdr_dup_single++;
	}
}

void
mime_free(struct mime_msg *m)
{
	struct hdrlist h = { m->hdrs, m->nhdrs };
	struct uri_list u = { m->uris, m->nuris, 0 };

	hdrlist_free(&h);
	m->hdrs = NULL;
	m->nhdrs = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		free(m->parts[i].ctype);
		free(m->parts[i].charset);
		free(m->parts[i].encoding);
		free(m->parts[i].filename);
	}
	FREE(m->parts);
	m->nparts = 0;
	buf_free(&m->body);
	buf_free(&m->rawbody);
	uri_list_free(&u);
	m->uris = NULL;
	m->nuris = 0;
}

const struct mime_header *
mime_header_get(const struct mime_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0)
			return &m->hdrs[i];
	return NULL;
}

unsigned
mime_header_count(const struct mime_msg *m, const char *name)
{
	unsigned c = 0;
	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0)
			c++;
	return c;
}
