/*
 * imap_message.c - the FETCH items derived from a stored message's MIME
 * structure (BODYSTRUCTURE, ENVELOPE, BODY[section], BINARY[section]).
 * The structure, header splitting and transfer decoding are lib-mail's;
 * this file turns them into IMAP's part tree and output.
 *
 * Untrusted bytes: the whole message (CRLF line ends).  Every offset
 * comes from lib-mail and stays inside the buffer; depth and part count
 * are bounded there; header values are copied into bounded buffers.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_message.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "mem.h"
#include "str.h"

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

/* ---- the part tree ---- */

static char *
header_dup(const char *hdr, size_t len, const char *name)
{
	struct buf v;
	char *r = NULL;

	buf_init(&v, MAIL_HEADER_VALUE_MAX);
	if (mail_header_get(hdr, len, name, &v) == 0)
		r = xstrdup(buf_cstr(&v));
	buf_free(&v);
	return r;
}

/* Fill p from lib-mail's part idx (its strings are taken over). */
static void
build(struct imap_part *p, const char *data, struct mail_mime *m, int idx)
{
	struct mail_part *mp = &m->parts[idx];
	const char *hdr = data + mp->hdr_off;

	p->hdr_off = mp->hdr_off;
	p->hdr_len = mp->hdr_len;
	p->body_off = mp->body_off;
	p->body_len = mp->body_len;
	p->body_lines = mp->body_lines;
	p->type = mp->type;
	p->subtype = mp->subtype;
	mp->type = mp->subtype = NULL;
	if (mp->flags & MAIL_PART_DEFAULT_TYPE) {
		if (strcmp(p->type, "text") == 0) {
			p->params = xcalloc(1, sizeof(*p->params));
			p->params[0].name = xstrdup("charset");
			p->params[0].value = xstrdup("us-ascii");
			p->nparams = 1;
		}
	} else {
		p->params = mp->params;
		p->nparams = mp->nparams;
		mp->params = NULL;
		mp->nparams = 0;
	}
	p->encoding = mp->encoding;
	mp->encoding = NULL;
	if (mp->disposition != NULL) {
		p->disposition = mp->disposition;
		p->dparams = mp->dparams;
		p->ndparams = mp->ndparams;
		mp->disposition = NULL;
		mp->dparams = NULL;
		mp->ndparams = 0;
	}
	p->id = header_dup(hdr, mp->hdr_len, "Content-ID");
	p->description = header_dup(hdr, mp->hdr_len, "Content-Description");
	p->md5 = header_dup(hdr, mp->hdr_len, "Content-MD5");
	p->language = header_dup(hdr, mp->hdr_len, "Content-Language");
	p->location = header_dup(hdr, mp->hdr_len, "Content-Location");

	if ((mp->flags & MAIL_PART_MULTIPART) && mp->depth < IMAP_MIME_MAX_DEPTH) {
		p->multipart = 1;
		p->children = xcalloc(mp->nchildren > 0 ? mp->nchildren : 1,
		    sizeof(*p->children));
		for (int c = mp->child; c >= 0; c = m->parts[c].next)
			build(&p->children[p->nchildren++], data, m, c);
		if (p->nchildren == 0) {
			/* keep the structure valid: one empty text part */
			size_t end = p->body_off + p->body_len;
			p->children[0].hdr_off = p->children[0].body_off = end;
			p->children[0].type = xstrdup("text");
			p->children[0].subtype = xstrdup("plain");
			p->nchildren = 1;
		}
	} else if ((mp->flags & MAIL_PART_MESSAGE) && mp->child >= 0 &&
	    strcasecmp(p->subtype, "rfc822") == 0) {
		/* message/global stays a leaf for IMAP4rev1 clients */
		p->rfc822 = 1;
		p->msg = xcalloc(1, sizeof(*p->msg));
		build(p->msg, data, m, mp->child);
	}
}

struct imap_part *
imap_message_parse(const char *data, size_t len)
{
	static const struct mail_mime_limits lim = { IMAP_MIME_MAX_DEPTH,
	    IMAP_MIME_MAX_PARTS, IMAP_MIME_MAX_CHILDREN };
	struct imap_part *p = xcalloc(1, sizeof(*p));
	struct mail_mime m;

	mail_mime_parse(&m, data, len, &lim);
	build(p, data, &m, 0);
	mail_mime_free(&m);
	return p;
}

static void
part_clear(struct imap_part *p)
{
	free(p->type);
	free(p->subtype);
	mail_params_free(p->params, p->nparams);
	mail_params_free(p->dparams, p->ndparams);
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
write_params(struct buf *out, const struct mail_param *v, unsigned n)
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

	buf_init(&name, MAIL_HEADER_VALUE_MAX);
	buf_init(&addr, MAIL_HEADER_VALUE_MAX);
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
			buf_init(&g, MAIL_HEADER_VALUE_MAX);
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
	size_t pos = 0;
	struct mail_field f;
	while (mail_header_next(hdr, len, &pos, &f))
		if (f.name_len > 0 &&
		    field_in_list(hdr + f.start, f.name_len, names, n) != not)
			buf_append(tmp, hdr + f.start, f.end - f.start);
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
				(void)mail_base64_decode(*res_r, *reslen_r, tmp, NULL);
			else if (strcasecmp(t->encoding, "quoted-printable") == 0)
				(void)mail_qp_decode(*res_r, *reslen_r, tmp, 0, NULL);
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
