/*
 * mime_parse.c - one message (untrusted bytes from the Internet) into a
 * struct mime_msg: headers, the flattened MIME tree, body/rawbody text,
 * URIs and anomaly counters.  The structure (header blocks, parts,
 * boundaries, depth and part limits) comes from lib-mail's mail_mime;
 * this file decodes what it found.  Work is bounded by lim.max_size,
 * memory by the buf maxima.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bayes.h"
#include "html.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "mail_mime.h"
#include "mem.h"
#include "mime.h"
#include "str.h"
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
	struct buf rendered;
	struct buf own;         /* with lim.sa_text: Tempest's own rendering */
	unsigned depth_base;    /* depth of the message being walked */
};

struct hdrlist {
	struct mime_header *v;
	size_t n, cap;
};

static void
hdrlist_free(struct hdrlist *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].raw);
		free(h->v[i].value);
		free(h->v[i].own_value);
		free(h->v[i].raw_whole);
	}
	FREE(h->v);
	h->n = h->cap = 0;
}

void
mime_unfold(const char *s, size_t n, struct buf *out)
{
	size_t a = 0, e = n;

	while (a < e && isspace((unsigned char)s[a]))
		a++;
	while (e > a && isspace((unsigned char)s[e - 1]))
		e--;
	for (size_t i = a; i < e; i++) {
		if (s[i] == '\r' && i + 1 < e && s[i + 1] == '\n')
			continue;
		if (s[i] == '\n') {
			while (i + 1 < e && (s[i + 1] == ' ' || s[i + 1] == '\t'))
				i++;
			(void)buf_appendc(out, ' ');
			continue;
		}
		(void)buf_appendc(out, s[i]);
	}
}

/* SpamAssassin's Message.pm keeps the first SA_HEADER_VALUE_MAX bytes of
 * the value of a message's header field. */
#define SA_HEADER_VALUE_MAX 8192

/* Where SpamAssassin's Message.pm cuts the value of field f of the
 * header block s (the value from after the ':', its line ends included,
 * a CRLF counted as one byte when crlf): the offset in s past what it
 * keeps, or 0 when it keeps the whole value. */
static size_t
sa_value_cut(const char *s, const struct mail_field *f, int crlf)
{
	size_t k = f->start + f->name_len, kept = 0;

	while (s[k] != ':')
		k++;
	for (k++; k < f->end && kept < SA_HEADER_VALUE_MAX; kept++)
		k += crlf && s[k] == '\r' && k + 1 < f->end && s[k + 1] == '\n' ? 2 : 1;
	return k < f->end ? k : 0;
}

/* Message::Node's _decode_header() of the unfolded value v[0..n): the
 * whole value through _normalize() first, then the encoded words. */
static void
sa_decode_header(const char *v, size_t n, struct buf *out)
{
	struct buf n8;

	buf_init(&n8, MAIL_HEADER_VALUE_MAX);
	(void)mime_to_utf8_sa("utf-8", v, n, &n8);
	mime_decode_2047(n8.data ? n8.data : "", n8.len, out, NULL, NULL);
	buf_free(&n8);
}

/* Parse the header block s[0..n) (lib-mail splits it) into h, counting
 * anomalies.  sa_root: with lim.sa_text, the header block of a message
 * (the message itself or one inside it), whose values SpamAssassin's
 * reading cuts as Message.pm does (crlf: the message's lines end in
 * CRLF, to Message.pm); Tempest's own reading keeps them whole. */
static void
parse_headers(struct parser *p, const char *s, size_t n, struct hdrlist *h,
    int sa_root, int crlf)
{
	struct mime_stats *st = &p->m->st;
	struct mail_field f;
	size_t pos = 0;

	while (mail_header_next(s, n, &pos, &f)) {
		struct buf raw, val, unf, sav;
		int eight_bit, have_sav = 0;
		size_t cut;

		st->hdr_long_lines += f.long_lines;
		if (f.name_len == 0) {
			st->hdr_bad_lines++;
			continue;
		}
		if (h->n >= p->m->lim.max_headers) {
			st->truncated++;
			continue;
		}
		buf_init(&raw, MAIL_HEADER_VALUE_MAX);
		(void)buf_append(&raw, s + f.value, f.value_end - f.value);
		buf_init(&unf, MAIL_HEADER_VALUE_MAX);
		mime_unfold(s + f.value, f.value_end - f.value, &unf);
		eight_bit = 0;
		for (size_t k = f.value; k < f.value_end; k++)
			if ((unsigned char)s[k] >= 0x80) {
				st->hdr_8bit++;
				eight_bit = 1;
				break;
			}
		buf_init(&val, MAIL_HEADER_VALUE_MAX);
		mime_decode_2047(unf.data ? unf.data : "", unf.len, &val,
		    &st->hdr_2047, &st->hdr_bad_2047);
		h->v = xgrowarray(h->v, &h->cap, h->n + 1, sizeof(*h->v));
		h->v[h->n].own_value = NULL;
		h->v[h->n].raw_whole = NULL;
		cut = sa_root ? sa_value_cut(s, &f, crlf) : 0;
		if (cut != 0) {
			/* what SpamAssassin keeps of a long value (the
			 * rules' regexes would read up to 64 KiB of it) */
			size_t e = cut > f.value ? cut : f.value;
			while (e > f.value && (s[e - 1] == '\n' || s[e - 1] == '\r'))
				e--;
			h->v[h->n].raw_whole = buf_steal(&raw);
			buf_init(&raw, MAIL_HEADER_VALUE_MAX);
			(void)buf_append(&raw, s + f.value, e - f.value);
			buf_reset(&unf);
			mime_unfold(s + f.value, e - f.value, &unf);
			buf_init(&sav, MAIL_HEADER_VALUE_MAX);
			sa_decode_header(unf.data ? unf.data : "", unf.len, &sav);
			have_sav = 1;
		} else if (p->m->lim.sa_text && eight_bit) {
			buf_init(&sav, MAIL_HEADER_VALUE_MAX);
			sa_decode_header(unf.data ? unf.data : "", unf.len, &sav);
			have_sav = 1;
		}
		if (have_sav && strcmp(sav.data ? sav.data : "", val.data ? val.data : "") != 0) {
			h->v[h->n].own_value = val.data ? buf_steal(&val) : xstrdup("");
			buf_free(&val);
			val = sav;
		} else if (have_sav)
			buf_free(&sav);
		buf_free(&unf);
		h->v[h->n].name = xstrndup(s + f.start, f.name_len);
		h->v[h->n].raw = buf_steal(&raw);
		h->v[h->n].value = buf_steal(&val);
		h->n++;
	}
}

static char *
lower_dup(const char *s)
{
	char *r = xstrdup(s != NULL ? s : "");
	str_lower(r);
	return r;
}

static void add_text(struct parser *p, const char *raw, size_t rn, const char *s,
    size_t n, const char *charset, int html);
static void walk(struct parser *p, const char *data, size_t len, int top);
static void image_dims(const char *type, const unsigned char *d, size_t n,
    unsigned long *w, unsigned long *h);

/* A message/rfc822 or message/global part with a base64 or
 * quoted-printable body (RFC 6532 allows it for message/global; mail
 * software sends it for rfc822 too): lib-mail's children of it are the
 * encoded text read as a message, so it is decoded as a leaf and the
 * decoded bytes walked as the embedded message instead. */
static int
encoded_message(const struct mail_part *mp)
{
	return (mp->flags & MAIL_PART_MESSAGE) && mp->encoding != NULL &&
	    (strcasecmp(mp->encoding, "base64") == 0 ||
	    strcasecmp(mp->encoding, "quoted-printable") == 0);
}

/* The encoded lines of a quoted-printable part, as SpamAssassin's
 * MIMEEval measures them: bytes (each line with its line end), lines
 * over 78 characters, and characters encoded that need not be
 * ("=(09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])", less the =20 and =09
 * that end a line).  Lines starting "SPAM: " are left out. */
static int
qp_excess_code(char c1, char c2)
{
	int hex = (c2 >= '0' && c2 <= '9') || (c2 >= 'A' && c2 <= 'F');

	return (c1 == '0' && c2 == '9') || (c1 == '3' && hex && c2 != 'D') ||
	    ((c1 == '2' || c1 == '4' || c1 == '5' || c1 == '6') && hex) ||
	    (c1 == '7' && hex && c2 != 'F');
}

static void
qp_measure(const char *s, size_t n, struct mime_stats *st)
{
	for (size_t a = 0; a < n;) {
		size_t e = a, len, excess = 0, t;

		while (e < n && s[e] != '\n')
			e++;
		len = e - a + (e < n);
		if (!(e - a >= 6 && memcmp(s + a, "SPAM: ", 6) == 0)) {
			if (len > 79)
				st->qp_long_lines++;
			st->qp_bytes += len;
			for (size_t i = a; i + 2 < e;)
				if (s[i] == '=' && qp_excess_code(s[i + 1], s[i + 2])) {
					excess++;
					i += 3;
				} else {
					i++;
				}
			/* =20/=09 runs ending the line (blanks after them
			 * allowed) are fine */
			t = e;
			while (t > a && isspace((unsigned char)s[t - 1]))
				t--;
			while (excess > 0 && t >= a + 3 && s[t - 3] == '=' &&
			    ((s[t - 2] == '0' && s[t - 1] == '9') || (s[t - 2] == '2' && s[t - 1] == '0'))) {
				excess--;
				t -= 3;
			}
			st->qp_excess += (unsigned)excess;
		}
		a = e + 1;
	}
}

/* name ends in .htm, .html or .shtml (any case) */
static int
html_named(const char *name)
{
	size_t n = strlen(name), e;

	for (e = 0; e < 5 && e < n && name[n - 1 - e] != '.'; e++)
		;
	if (e == n || name[n - 1 - e] != '.')
		return 0;
	return strcasecmp(name + n - e, "htm") == 0 || strcasecmp(name + n - e, "html") == 0 ||
	    strcasecmp(name + n - e, "shtm") == 0 || strcasecmp(name + n - e, "shtml") == 0;
}

/* A newline between the texts of two leaves. */
static void
leaf_break(struct parser *p)
{
	if (p->rendered.len > 0)
		(void)buf_appendc(&p->rendered, '\n');
	if (p->own.len > 0)
		(void)buf_appendc(&p->own, '\n');
}

/* A leaf: transfer decoding, then text to UTF-8 for body/rawbody; an
 * embedded message (an encoded_message() part) walked decoded. */
static void
leaf(struct parser *p, struct mime_part *part, const char *s, size_t n,
    int embedded, int nl_after)
{
	struct mime_msg *m = p->m;
	struct buf dec, utf;
	const char *enc = part->encoding;
	int text_type = strncmp(part->ctype, "text/", 5) == 0;
	/* a part named *.htm, *.html or *.shtml is read as HTML whatever
	 * its type, as SpamAssassin's effective_type() (ratware sends the
	 * page as application/octet-stream "page.html"); the MIME counts
	 * go by the declared type, as its MIMEEval's */
	int is_html = strcmp(part->ctype, "text/html") == 0 || html_named(part->filename);
	int is_text = text_type || is_html;

	if (!embedded)
		leaf_break(p);          /* each leaf, as SpamAssassin */
	buf_init(&dec, m->lim.max_text);
	if (strcmp(enc, "base64") == 0 && strcmp(part->ctype, "application/ics") != 0)
		for (size_t a = 0; a < n;) {    /* its longest line */
			const char *nl = memchr(s + a, '\n', n - a);
			size_t e = nl != NULL ? (size_t)(nl - s) + 1 : n;
			if (e - a > m->st.base64_max_line)
				m->st.base64_max_line = e - a;
			a = e;
		}
	if (strcmp(enc, "base64") == 0) {
		(void)mail_base64_decode(s, n, &dec, &m->st.bad_base64);
		if (text_type)
			m->st.base64_text++;
	} else if (strcmp(enc, "quoted-printable") == 0) {
		(void)mail_qp_decode(s, n, &dec, 0, &m->st.bad_qp);
		qp_measure(s, n, &m->st);
	} else {
		(void)buf_append(&dec, s, n);
	}
	if (dec.len == dec.max)
		m->st.truncated++;
	part->decoded_len = dec.len;
	part->raw_len = n;
	if (strcmp(enc, "base64") == 0 && strncmp(part->ctype, "image/", 6) == 0) {
		const char *t = part->ctype + 6;
		image_dims(strcmp(t, "jpg") == 0 ? "jpeg" : t,
		    (const unsigned char *)(dec.data ? dec.data : ""), dec.len,
		    &part->img_w, &part->img_h);
	}
	/* (MIMEEval looks at text/plain in US-ASCII or with no charset) */
	if (strcmp(part->ctype, "text/plain") == 0 &&
	    (part->charset[0] == '\0' || strcmp(part->charset, "us-ascii") == 0))
		for (size_t i = 0; i < n && !part->ascii_illegal; i++)
			part->ascii_illegal = s[i] == '\0' || s[i] == '\r' || (s[i] & 0x80);
	/* a part ended by a boundary: SpamAssassin keeps the newline before
	 * the boundary in its text (a quoted-printable soft break takes it) */
	if (nl_after && strcmp(enc, "base64") != 0 &&
	    !(strcmp(enc, "quoted-printable") == 0 && n > 0 && s[n - 1] == '='))
		(void)buf_appendc(&dec, '\n');
	if (is_text && !(part->is_attachment &&
	    strcmp(part->ctype, "text/plain") != 0 && !is_html)) {
		int r;
		buf_init(&utf, m->lim.max_text);
		r = mime_to_utf8(part->charset, dec.data ? dec.data : "",
		    dec.len, &utf);
		if (r < 0)
			m->st.charset_unknown++;
		else if (r > 0)
			m->st.charset_bad_bytes++;
		part->is_text = 1;
		part->is_html = is_html;
		m->st.html_rendered += is_html;
		if (text_type) {
			m->st.text_parts++;
			if (strcmp(part->ctype, "text/html") == 0)
				m->st.html_parts++;
			else
				m->st.plain_parts++;
		}
		{
			unsigned imgs = m->st.html_images;
			struct buf sab;         /* base64 as SpamAssassin decodes it */
			const struct buf *raw = &dec;

			buf_init(&sab, m->lim.max_text);
			if (m->lim.sa_text && strcmp(enc, "base64") == 0) {
				mime_base64_sa(s, n, &sab);
				raw = &sab;
			}
			part->text_off = p->rendered.len;
			add_text(p, raw->data ? raw->data : "", raw->len, utf.data ? utf.data : "",
			    utf.len, part->charset, is_html);
			buf_free(&sab);
			part->text_len = p->rendered.len - part->text_off;
			part->html_img = m->st.html_images > imgs;
		}
		buf_free(&utf);
	} else if (embedded) {
		/* its parts one level down, within what is left of the
		 * limits (part is not used after this: m->parts may move) */
		unsigned base = p->depth_base;
		if (part->depth + 1 > m->lim.max_depth || m->nparts >= m->lim.max_parts) {
			m->st.truncated++;
			m->st.parts_limit |= m->nparts >= m->lim.max_parts;
		} else {
			p->depth_base = part->depth + 1;
			walk(p, dec.data ? dec.data : "", dec.len, 0);
			p->depth_base = base;
		}
	} else {
		m->st.attachments++;
	}
	buf_free(&dec);
}

/* ---- SpamAssassin's parser's notes (check_msg_parse_flags) ---- */

/* The line at *pos of s[0..n) (its line end included); *pos moves past. */
static size_t
next_line(const char *s, size_t n, size_t *pos, const char **line)
{
	const char *nl = memchr(s + *pos, '\n', n - *pos);
	size_t e = nl != NULL ? (size_t)(nl - s) + 1 : n, l = e - *pos;

	*line = s + *pos;
	*pos = e;
	return l;
}

/* A header field's first line as SpamAssassin's parser knows one:
 * /^[\041-\071\073-\176]+[ \t]*:/, without the blanks when !ws. */
static int
sa_field_line(const char *s, size_t n, int ws)
{
	size_t i = 0;

	while (i < n && s[i] >= 041 && s[i] <= 0176 && s[i] != ':')
		i++;
	if (i == 0)
		return 0;
	while (ws && i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i < n && s[i] == ':';
}

/* The header field s[0..n) (folded lines included): a name over 256
 * bytes or a value over 8,192 (CRLFs counted as LF when crlf) is cut
 * by SpamAssassin's parser. */
static unsigned
sa_field_truncated(const char *s, size_t n, int crlf)
{
	const char *c = memchr(s, ':', n);
	size_t k, v;

	if (c == NULL)
		return 0;               /* no value: not kept */
	k = (size_t)(c - s);
	while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
		k--;
	v = n - (size_t)(c - s) - 1;
	for (const char *q = c + 1; crlf && q + 1 < s + n; q++)
		if (q[0] == '\r' && q[1] == '\n')
			v--;
	return k > 256 || v > SA_HEADER_VALUE_MAX ? MIME_SA_TRUNC_HEADER : 0;
}

/* Message.pm's CRLF mode for the message s[0..n): its first or last
 * line ends in CRLF. */
static int
sa_crlf(const char *s, size_t n)
{
	const char *first_nl = memchr(s, '\n', n);

	return (first_nl != NULL && first_nl > s && first_nl[-1] == '\r') ||
	    (n >= 2 && s[n - 1] == '\n' && s[n - 2] == '\r');
}

/* The message's header block as SpamAssassin 4.0's Message.pm reads it
 * (s: the message, past an mbox "From " line): its end is missing when
 * the data ends first, a line starts with "--", or more than three lines
 * are not header fields; a field longer than it keeps is cut. */
static unsigned
sa_head_flags(const char *s, size_t n)
{
	const char *line;
	size_t pos = 0, hs = 0, he = 0, l;
	unsigned f = 0, errors = 0;
	int have = 0, crlf;

	crlf = sa_crlf(s, n);
	for (;;) {
		int eof = pos >= n;
		l = eof ? 0 : next_line(s, n, &pos, &line);
		if (!eof && (line[0] == ' ' || line[0] == '\t')) {
			if (!have)
				hs = (size_t)(line - s);
			have = 1;
			he = pos;
			continue;
		}
		if (have)
			f |= sa_field_truncated(s + hs, he - hs, crlf);
		have = 0;
		if (eof) {
			f |= MIME_SA_HB_SEP;
			break;
		}
		if ((l == 1 && line[0] == '\n') ||
		    (crlf && l == 2 && line[0] == '\r' && line[1] == '\n'))
			break;
		if (l >= 2 && line[0] == '-' && line[1] == '-') {
			f |= MIME_SA_HB_SEP;
			break;
		}
		if (!sa_field_line(line, l, 1) && ++errors > 3) {
			f |= MIME_SA_HB_SEP;
			break;
		}
		hs = (size_t)(line - s);
		he = pos;
		have = 1;
	}
	return f;
}

/* Is the line "--boundary" with "--" after it (*last) or not, then only
 * white space? */
static int
sa_boundary_line(const char *line, size_t l, const char *b, size_t bl, int *last)
{
	size_t i = 2 + bl;

	if (l < i || line[0] != '-' || line[1] != '-' || memcmp(line + 2, b, bl) != 0)
		return 0;
	*last = l >= i + 2 && line[i] == '-' && line[i + 1] == '-';
	if (*last)
		i += 2;
	for (; i < l; i++)
		if (!isspace((unsigned char)line[i]))
			return 0;
	return 1;
}

/* A multipart body s[0..n) with boundary b as SpamAssassin 4.0's
 * _parse_multipart reads it: after a boundary (not the last) a line that
 * is not a header field (MIME_SA_MIME_HEADERS); a part's headers ended
 * by a line that is not blank (MIME_SA_MIME_HB_SEP); after the last
 * boundary a line with more than white space and dots
 * (MIME_SA_EPILOGUE).  top: the message's own body, which it starts
 * with a blank line when its first line (of more than one) has more
 * than white space and is not a boundary. */
static unsigned
sa_multipart_flags(const char *s, size_t n, const char *b, int top)
{
	size_t bl = strlen(b), pos = 0, l;
	const char *line;
	unsigned f = 0;
	int last, in_body = 0, have = 0;

	/* the preamble, up to an opening boundary (if there is one) */
	for (size_t p = 0; p < n;) {
		l = next_line(s, n, &p, &line);
		if (sa_boundary_line(line, l, b, bl, &last) && !last) {
			if (p < n) {
				const char *nx;
				size_t nl = next_line(s, n, &(size_t){ p }, &nx);
				if (!sa_field_line(nx, nl, 0))
					f |= MIME_SA_MIME_HEADERS;
			}
			pos = p;
			break;
		}
	}
	/* (more than one line: the first does not end the data) */
	if (top && pos == 0 && (l = next_line(s, n, &(size_t){ 0 }, &line)) < n) {
		for (size_t i = 0; i < l && !in_body; i++)
			in_body = !isspace((unsigned char)line[i]);
		if (l >= 2 + bl && line[0] == '-' && line[1] == '-' &&
		    memcmp(line + 2, b, bl) == 0)
			in_body = 0;
	}
	while (pos < n) {
		int bnd;
		l = next_line(s, n, &pos, &line);
		bnd = sa_boundary_line(line, l, b, bl, &last);
		if (pos >= n || bnd) {  /* (its last line, or a boundary) */
			if (bnd && last) {
				while (pos < n) {
					l = next_line(s, n, &pos, &line);
					for (size_t i = 0; i < l; i++)
						if (!isspace((unsigned char)line[i]) && line[i] != '.')
							return f | MIME_SA_EPILOGUE;
				}
				return f;
			}
			if (bnd && pos < n) {
				const char *nx;
				size_t nl = next_line(s, n, &(size_t){ pos }, &nx);
				if (!sa_field_line(nx, nl, 0))
					f |= MIME_SA_MIME_HEADERS;
			}
			in_body = have = 0;
			continue;
		}
		if (in_body)
			continue;
		if (sa_field_line(line, l, 1)) {
			have = 1;
			continue;
		}
		if ((line[0] == ' ' || line[0] == '\t') && have)
			continue;
		in_body = 1;
		if (!(l == 0 || (l == 1 && (line[0] == '\n' || line[0] == '\r')) ||
		    (l == 2 && line[0] == '\r' && line[1] == '\n')))
			f |= MIME_SA_MIME_HB_SEP;
	}
	return f;
}

/* ---- BodyEval's multipart_alternative_difference ---- */

struct word_count {
	const char *w;          /* NULL: free slot */
	size_t n;
	unsigned html, text;
};

/* Is the character at s[0..n) a word character to Perl's \w (ASCII
 * letters, digits, "_"; beyond ASCII letters, taken as any character
 * from U+00C0 on that is not general punctuation, symbols or
 * spaces)? */
static int
sa_word_char(const unsigned char *s, size_t n)
{
	unsigned long c;

	if (s[0] < 0x80)
		return isalnum(s[0]) || s[0] == '_';
	if (n < 2)
		return 0;
	c = s[0] < 0xe0 ? ((s[0] & 0x1fUL) << 6) | (s[1] & 0x3f) :
	    n >= 3 ? ((s[0] & 0x0fUL) << 12) | ((s[1] & 0x3fUL) << 6) | (s[2] & 0x3f) : 0;
	if (s[0] >= 0xf0)
		return 1;
	return c >= 0xc0 && c != 0xd7 && c != 0xf7 && !(c >= 0x2000 && c < 0x2c00) &&
	    !(c >= 0x3000 && c < 0x3040);
}

/* Count the words of s[0..n) into the table (size cap, a power of
 * two) as html or text. */
static void
count_words(struct word_count *t, size_t cap, size_t *used, const char *s, size_t n,
    int html, size_t *html_words)
{
	for (size_t i = 0; i < n;) {
		size_t k, j;
		int word = 0;
		if ((k = mime_sa_space_at(s, i, n)) > 0) {
			i += k;
			continue;
		}
		for (j = i; j < n && mime_sa_space_at(s, j, n) == 0; j++)
			if (!word && ((unsigned char)s[j] & 0xc0) != 0x80)
				word = sa_word_char((const unsigned char *)s + j, n - j);
		if (word && *used < cap / 2) {
			size_t x = (size_t)bayes_hash(s + i, j - i, BAYES_HASH_INIT) & (cap - 1);
			while (t[x].w != NULL && !(t[x].n == j - i && memcmp(t[x].w, s + i, j - i) == 0))
				x = (x + 1) & (cap - 1);
			if (t[x].w == NULL) {
				t[x].w = s + i;
				t[x].n = j - i;
				(*used)++;
			}
			if (html)
				*html_words += t[x].html++ == 0;
			else
				t[x].text++;
		}
		i = j;
	}
}

/* SpamAssassin's measure over each multipart/alternative of the message
 * (m->parts in order, a part's descendants after it at greater depth),
 * from the text parts' rendered text (text[]); an Exchange meeting
 * request (multipart/alternative of text/html and text/calendar) is
 * not measured. */
static void
mpart_alt_difference(struct mime_msg *m, const char *text)
{
	if (m->nparts == 3 && strcmp(m->parts[0].ctype, "multipart/alternative") == 0 &&
	    strcmp(m->parts[1].ctype, "text/html") == 0 &&
	    strcmp(m->parts[2].ctype, "text/calendar") == 0)
		return;
	for (size_t i = 0; i < m->nparts; i++) {
		size_t cap = 64, used = 0, words = 0, orig = 0, left = 0, texts = 0, e;
		size_t html_words = 0;
		struct word_count *t;
		int mark = 0;

		if (strcmp(m->parts[i].ctype, "multipart/alternative") != 0)
			continue;
		for (e = i + 1; e < m->nparts && m->parts[e].depth > m->parts[i].depth; e++)
			words += m->parts[e].is_text ? m->parts[e].text_len / 2 + 1 : 0;
		while (cap < 2 * words + 2)
			cap *= 2;
		t = xcalloc(cap, sizeof(*t));
		for (size_t k = i + 1; k < e; k++) {
			const struct mime_part *q = &m->parts[k];
			if (!q->is_text || text == NULL)
				continue;
			count_words(t, cap, &used, text + q->text_off, q->text_len, q->is_html,
			    &html_words);
			/* HTML with no words yet but an image: a mark no text has */
			mark |= q->is_html && q->html_img && html_words == 0;
		}
		for (size_t x = 0; x < cap; x++) {
			if (t[x].w == NULL)
				continue;
			orig += t[x].html > 0;
			texts += t[x].text > 0;
			left += t[x].html > 0 && (t[x].text == 0 || t[x].html > t[x].text);
		}
		orig += mark;
		left += mark;
		free(t);
		if (orig == 0)
			continue;
		m->st.madiff_html = (unsigned)orig;
		m->st.madiff_text = (unsigned)texts;
		if (100.0 * (double)left / (double)orig > m->st.madiff)
			m->st.madiff = 100.0 * (double)left / (double)orig;
	}
}

/* ---- BodyEval's stock labels ---- */

/* Perl's \s on bytes */
static int
perl_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The labels of s[0..n) as /^\s*([^:\s][^:\n]{2,29})\s*:\s*\S/mg
 * captures them, letters only and lower case, into m->labels.  The
 * greedy {2,29} can only give back what \s* would take again before the
 * colon, so the capture is the longest run (up to 29 bytes after its
 * first) and the match holds or fails with it. */
static void
chunk_labels(struct mime_msg *m, const char *s, size_t n)
{
	for (size_t p = 0; p < n;) {
		size_t q = p, e, z;
		int ok = 0;

		while (q < n && perl_space(s[q]))
			q++;
		if (q < n && s[q] != ':') {
			for (e = q + 1; e < n && e - q - 1 < 29 && s[e] != ':' && s[e] != '\n'; e++)
				;
			for (z = e; z < n && perl_space(s[z]); z++)
				;
			if (e - q - 1 >= 2 && z < n && s[z] == ':') {
				for (z++; z < n && perl_space(s[z]); z++)
					;
				ok = z < n;
			}
		}
		if (ok) {
			if (buf_appendc(&m->labels, '\0') < 0)
				return;
			for (size_t k = q; k < e; k++)
				if (isalpha((unsigned char)s[k]) &&
				    buf_appendc(&m->labels, (char)tolower((unsigned char)s[k])) < 0)
					return;
			p = z + 1;      /* after the \S: not a line start */
		}
		/* the next line start (the \s* run's own ones fail the same) */
		{
			const char *nl = memchr(s + p, '\n', n - p);
			if (nl == NULL)
				break;
			p = (size_t)(nl - s) + 1;
		}
	}
}

/* SpamAssassin's check_stock_info: the part's rendered text in the
 * pieces of its split_into_array_of_short_paragraphs (text over 2,048
 * bytes cut after a newline, else a '>', else a space, past 2,048 bytes
 * into pieces of at most 4,096), each read on its own. */
static void
text_labels(struct mime_msg *m, const char *s, size_t n)
{
	const size_t max = 2048;
	size_t ofs = 0;

	if (s == NULL)
		return;
	while (n > max && n - ofs > 2 * max) {
		static const char seps[] = "\n> ";
		size_t j = ofs + max;
		for (int k = 0; k < 3; k++) {
			const char *x = memchr(s + ofs + max, seps[k], n - ofs - max);
			if (x != NULL && (size_t)(x - s) - ofs + 1 <= 2 * max) {
				j = (size_t)(x - s);
				break;
			}
		}
		chunk_labels(m, s + ofs, j - ofs + 1);
		ofs = j + 1;
	}
	if (ofs < n)
		chunk_labels(m, s + ofs, n - ofs);
}

/* ---- the ImageInfo plugin's image sizes ---- */

/* The width and height of image data d[0..n) of type "gif", "png" or
 * "jpeg" as SpamAssassin's ImageInfo reads them (0 when it cannot): a
 * GIF's logical screen; a PNG's IHDR, looked for at every 8 bytes from
 * the signature on until an IEND; a JPEG's first SOF segment, walking
 * the segments from SOI while they are well formed. */
static void
image_dims(const char *type, const unsigned char *d, size_t n, unsigned long *w,
    unsigned long *h)
{
	*w = *h = 0;
	if (strcmp(type, "gif") == 0) {
		if (n >= 10 && memcmp(d, "GIF8", 4) == 0 && (d[4] == '7' || d[4] == '9') &&
		    d[5] == 'a') {
			*w = d[6] | (unsigned long)d[7] << 8;
			*h = d[8] | (unsigned long)d[9] << 8;
		}
	} else if (strcmp(type, "png") == 0) {
		if (n < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0)
			return;
		for (size_t pos = 8; pos < n; pos += 8) {
			unsigned long len;
			if (n - pos < 8)
				return;         /* (a chunk header cut short) */
			len = (unsigned long)d[pos] << 24 | (unsigned long)d[pos + 1] << 16 |
			    (unsigned long)d[pos + 2] << 8 | d[pos + 3];
			if (memcmp(d + pos + 4, "IEND", 4) == 0)
				return;
			if (memcmp(d + pos + 4, "IHDR", 4) != 0 || len != 13)
				continue;
			if (n - pos - 8 >= 8) {
				const unsigned char *b = d + pos + 8;
				*w = (unsigned long)b[0] << 24 | (unsigned long)b[1] << 16 |
				    (unsigned long)b[2] << 8 | b[3];
				*h = (unsigned long)b[4] << 24 | (unsigned long)b[5] << 16 |
				    (unsigned long)b[6] << 8 | b[7];
			}
			return;
		}
	} else if (strcmp(type, "jpeg") == 0) {
		size_t pos = 2;
		if (n < 2 || d[0] != 0xff || d[1] != 0xd8)
			return;
		while (n - pos >= 4 && d[pos] == 0xff && d[pos + 1] != 0xda && d[pos + 1] != 0xd9) {
			unsigned mark = d[pos + 1];
			size_t len = (size_t)d[pos + 2] << 8 | d[pos + 3], blen;
			if (len < 2)
				return;
			pos += 4;
			blen = len - 2 < n - pos ? len - 2 : n - pos;
			if ((mark >= 0xc0 && mark <= 0xc3) || (mark >= 0xc5 && mark <= 0xc7) ||
			    (mark >= 0xc9 && mark <= 0xcb) || (mark >= 0xcd && mark <= 0xcf)) {
				if (blen >= 5) {
					*h = (unsigned long)d[pos + 1] << 8 | d[pos + 2];
					*w = (unsigned long)d[pos + 3] << 8 | d[pos + 4];
				}
				return;
			}
			pos += blen;
		}
	}
}

/* The entity lib-mail found at mp: its headers, its mime_part, its text.
 * root: the entity is a message (this one or one inside it); crlf: see
 * parse_headers(). */
static void
entity(struct parser *p, const char *data, size_t len, const struct mail_part *mp,
    int top, int childless, int root, int crlf)
{
	struct mime_msg *m = p->m;
	struct hdrlist own = { 0 };
	struct mime_part *part;
	const char *fn;
	int embedded = encoded_message(mp);

	parse_headers(p, data + mp->hdr_off, mp->hdr_len, &own,
	    m->lim.sa_text && root, crlf);
	if (top) {
		m->hdrs = own.v;
		m->nhdrs = own.n;
		m->body_offset = mp->body_off;
	}
	if (p->depth_base + mp->depth > m->st.max_depth_seen)
		m->st.max_depth_seen = p->depth_base + mp->depth;
	if (!embedded)                  /* its own walk counts what it skips */
		m->st.truncated += mp->skipped;
	m->parts = xreallocarray(m->parts, m->nparts + 1, sizeof(*m->parts));
	part = &m->parts[m->nparts++];
	memset(part, 0, sizeof(*part));
	part->hdrs = own.v;     /* (kept: mimeheader rules read them) */
	part->nhdrs = own.n;
	part->depth = p->depth_base + mp->depth;
	part->ctype = xasprintf("%s/%s", mp->type, mp->subtype);
	str_lower(part->ctype);
	m->st.parts++;
	part->charset = lower_dup(mail_param_get(mp->params, mp->nparams,
	    "charset"));
	part->encoding = lower_dup(mp->encoding);
	part->disposition = lower_dup(mp->disposition);
	fn = mail_param_get(mp->dparams, mp->ndparams, "filename");
	if (fn == NULL)
		fn = mail_param_get(mp->params, mp->nparams, "name");
	if (fn != NULL && strstr(fn, "=?") != NULL) {
		struct buf b;
		unsigned dec = 0, bad = 0;
		buf_init(&b, MAIL_HEADER_VALUE_MAX);
		mime_decode_2047(fn, strlen(fn), &b, &dec, &bad);
		part->filename = buf_steal(&b);
	} else
		part->filename = xstrdup(fn != NULL ? fn : "");
	part->is_attachment = (mp->disposition != NULL &&
	    strcasecmp(mp->disposition, "attachment") == 0) ||
	    part->filename[0] != '\0';

	if (mp->flags & MAIL_PART_MULTIPART) {
		if (mp->flags & (MAIL_PART_NO_BOUNDARY | MAIL_PART_UNCLOSED))
			m->st.missing_boundary++;
		/* without a boundary, or with one never found, its body is
		 * one text part, as SpamAssassin's parser makes it */
		if ((mp->flags & MAIL_PART_NO_BOUNDARY) || childless) {
			leaf_break(p);
			add_text(p, data + mp->body_off, mp->body_len,
			    data + mp->body_off, mp->body_len, NULL, 0);
		}
	} else if (!(mp->flags & MAIL_PART_MESSAGE) || embedded) {
		size_t end = mp->body_off + mp->body_len;
		leaf(p, part, data + mp->body_off, mp->body_len, embedded,
		    end < len && (data[end] == '\n' || data[end] == '\r'));
	}
}

/* SpamAssassin's cut of a part's text longer than its scan size: after
 * the first of seps (tried in order) at or past size and at most 1 KiB
 * past it, else at size. */
static size_t
scan_cut(const char *s, size_t n, size_t size, const char *seps)
{
	if (n <= size)
		return n;
	for (; *seps != '\0'; seps++) {
		const char *q = memchr(s + size, *seps, n - size);
		if (q != NULL && (size_t)(q - s) - size <= 1024)
			return (size_t)(q - s) + 1;
	}
	return size;
}

/* s[0..*n) without the CR of each CRLF (SpamAssassin reads a message's
 * lines with LF alone), in tmp when it has one. */
static const char *
lf_only(const char *s, size_t *n, struct buf *tmp)
{
	if (memchr(s, '\r', *n) == NULL)
		return s;
	for (size_t i = 0; i < *n; i++)
		if (s[i] != '\r' || i + 1 >= *n || s[i + 1] != '\n')
			(void)buf_appendc(tmp, s[i]);
	*n = tmp->len;
	return tmp->data != NULL ? tmp->data : "";
}

/* What body rules see of a part's text, t from start on
 * (body_part_scan_size). */
static void
scan_cut_text(struct buf *t, size_t start)
{
	if (t->len - start > BODY_PART_SCAN)
		buf_truncate(t, start + scan_cut(t->data + start, t->len - start,
		    BODY_PART_SCAN, "\n "));
}

/* A text part: raw[0..rn) its decoded bytes in charset (rawbody),
 * s[0..n) them in UTF-8 (rendered for the body); with lim.sa_text the
 * body renders raw as SpamAssassin decodes it (mime_to_utf8_sa()), and
 * s goes to Tempest's own reading for Bayes (p->own). */
static void
add_text(struct parser *p, const char *raw, size_t rn, const char *s, size_t n,
    const char *charset, int html)
{
	struct mime_msg *m = p->m;
	size_t start = p->rendered.len, ostart = p->own.len, rstart;
	struct buf rtmp, stmp, sa;
	const char *t = NULL;   /* the text rules read, t[0..tn) */
	size_t tn = 0;

	buf_init(&rtmp, BUF_UNLIMITED);
	buf_init(&stmp, BUF_UNLIMITED);
	buf_init(&sa, m->lim.max_text);
	raw = lf_only(raw, &rn, &rtmp);
	s = lf_only(s, &n, &stmp);
	if (m->lim.sa_text) {
		(void)mime_to_utf8_sa(charset, raw, rn, &sa);
		t = sa.data != NULL ? sa.data : "";
		tn = sa.len;
	} else {
		t = s;
		tn = n;
	}

	/* rawbody: each part after a newline, its start kept; what rawbody
	 * rules see of it (SpamAssassin's rawbody_part_scan_size) */
	if (m->rawbody.len > 0)
		(void)buf_appendc(&m->rawbody, '\n');
	rstart = m->rawbody.len;
	(void)buf_append(&m->rawbody, raw, scan_cut(raw, rn, RAWBODY_PART_SCAN, "\n> "));
	if (m->nrawbody_parts < m->lim.max_parts) {
		struct mime_span *sp;
		m->rawbody_parts = xreallocarray(m->rawbody_parts, m->nrawbody_parts + 1,
		    sizeof(*m->rawbody_parts));
		sp = &m->rawbody_parts[m->nrawbody_parts++];
		sp->off = rstart;
		sp->len = m->rawbody.len - rstart;
	}
	if (html) {
		html_render(t, tn, &p->rendered, &m->st, &m->uris, m->html_texts,
		    m->lim.sa_text);
		if (m->lim.sa_text) {
			struct mime_stats none;
			memset(&none, 0, sizeof(none));
			html_render(s, n, &p->own, &none, NULL, NULL, 0);
		}
		/* and the URIs written in its text, as in a plain part */
		m->uris.text = 1;
		if (p->rendered.len > start)
			uri_extract_text(&m->uris, p->rendered.data + start,
			    p->rendered.len - start, &m->st);
	} else {
		(void)buf_append(&p->rendered, t, tn);
		if (m->lim.sa_text)
			(void)buf_append(&p->own, s, n);
		m->uris.text = 1;
		uri_extract_text(&m->uris, t, tn, &m->st);
	}
	m->uris.text = 0;
	/* and what body rules see of its text (body_part_scan_size) */
	scan_cut_text(&p->rendered, start);
	if (m->lim.sa_text)
		scan_cut_text(&p->own, ostart);
	buf_free(&rtmp);
	buf_free(&stmp);
	buf_free(&sa);
}

/* Perl's \s on bytes */
static int
sa_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

size_t
mime_sa_space_at(const char *s, size_t i, size_t n)
{
	const unsigned char *u = (const unsigned char *)s + i;

	if (sa_space(u[0]))
		return 1;
	if (u[0] == 0xc2 && i + 1 < n && (u[1] == 0xa0 || u[1] == 0x85))
		return 2;
	if (i + 2 < n && ((u[0] == 0xe2 && u[1] == 0x80 && (u[2] <= 0x8a ||
	    u[2] == 0xa8 || u[2] == 0xa9 || u[2] == 0xaf)) ||
	    (u[0] == 0xe2 && u[1] == 0x81 && u[2] == 0x9f) ||
	    (u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80) ||
	    (u[0] == 0xe1 && u[1] == 0x9a && u[2] == 0x80)))
		return 3;
	return 0;
}

/* The body text as SpamAssassin makes it (Message.pm,
 * get_body_text_array_common): a run of blanks that holds two newlines
 * or more is a paragraph break, the blanks before its first newline and
 * after its last one each one space; any other run is one space. */
static void
paragraphs(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		size_t j = i, first = 0, last = 0, nls = 0, k;

		if (mime_sa_space_at(s, i, n) == 0) {
			(void)buf_appendc(out, s[i++]);
			continue;
		}
		for (; j < n && (k = mime_sa_space_at(s, j, n)) > 0; j += k)
			if (s[j] == '\n') {
				if (nls++ == 0)
					first = j;
				last = j;
			}
		if (nls >= 2) {
			if (first > i)
				(void)buf_appendc(out, ' ');
			(void)buf_appendc(out, '\n');
			if (j > last + 1)
				(void)buf_appendc(out, ' ');
		} else
			(void)buf_appendc(out, ' ');
		i = j;
	}
}

/* Its first line: the last Subject: (its value: unfolded, trimmed,
 * decoded, as SpamAssassin has it; own: Tempest's own reading of it) and
 * a newline, a newline alone without one. */
static void
subject_line(const struct mime_msg *m, struct buf *out, int own)
{
	const char *v = NULL;

	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, "Subject") == 0)
			v = own ? mime_header_own(&m->hdrs[i]) : m->hdrs[i].value;
	if (v != NULL)
		(void)buf_appends(out, v);
	(void)buf_appendc(out, '\n');
}

/* The entities of one message (top: the message itself, else one
 * embedded in an encoded message part at p->depth_base), in order; an
 * encoded message part's subtree from lib-mail is skipped (leaf()
 * walks its decoded body instead).  Within the limits left: depth
 * below p->depth_base, parts not yet used. */
static void
walk(struct parser *p, const char *data, size_t len, int top)
{
	struct mime_msg *m = p->m;
	struct mail_mime_limits ml = { m->lim.max_depth - p->depth_base,
	    m->lim.max_parts - (unsigned)m->nparts, 0 };
	struct mail_mime mm;
	int crlf = sa_crlf(data, len);

	mail_mime_parse(&mm, data, len, &ml);
	/* SpamAssassin notes its header block's flaws for the message alone,
	 * those of multiparts for attached messages' too */
	if (top)
		m->st.sa_flags |= sa_head_flags(data, len);
	for (unsigned i = 0; i < mm.nparts; i++) {
		const struct mail_part *mp = &mm.parts[i];
		const char *b = mail_param_get(mp->params, mp->nparams, "boundary");
		int root = mp->parent < 0 || (mm.parts[mp->parent].flags & MAIL_PART_MESSAGE);
		if ((mp->flags & MAIL_PART_MULTIPART) && b != NULL && *b != '\0')
			m->st.sa_flags |= sa_multipart_flags(data + mp->body_off,
			    mp->body_len, b, root);
	}
	for (unsigned i = 0; i < mm.nparts; i++)
		if (mm.parts[i].skipped > 0 && mm.nparts >= ml.max_parts)
			m->st.parts_limit = 1;
	for (unsigned i = 0; i < mm.nparts; ) {
		int childless = (mm.parts[i].flags & MAIL_PART_MULTIPART) &&
		    mm.parts[i].child < 0 && mm.parts[i].skipped == 0;
		int root = mm.parts[i].parent < 0 ||
		    (mm.parts[mm.parts[i].parent].flags & MAIL_PART_MESSAGE);
		/* an encoded message's walk may have used the parts left to
		 * lib-mail's count for this one */
		if (m->nparts >= m->lim.max_parts) {
			m->st.truncated++;
			m->st.parts_limit = 1;
			break;
		}
		entity(p, data, len, &mm.parts[i], top && i == 0, childless,
		    root, crlf);
		i = encoded_message(&mm.parts[i]) ? mail_mime_subtree_end(&mm, i) : i + 1;
	}
	mail_mime_free(&mm);
}

/* A line of white space only (Perl's /^\s*$/). */
static int
blank_line(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return 0;
	return 1;
}

/* SpamAssassin's parser keeps at most 20 lines of a run of blank lines
 * in the body (its Message.pm, going from the last line up: of a run of
 * more than 20 it keeps the first line and the last 19, of one that
 * starts the body the first two and the last 19), and parses what is
 * left; its pristine message, which full rules read, stays whole.  The
 * message so shortened (malloc'ed, *nlen bytes) when a run is that
 * long, else NULL.  The body starts after the first empty line. */
static char *
blank_runs_cut(const char *data, size_t len, size_t *nlen)
{
	struct mime_span *ln = NULL;
	size_t nl = 0, cap = 0, body = 0, run = 0, longest = 0, out = 0, start = 0;
	unsigned char *drop;
	char *c;
	int have_start = 0;

	for (size_t i = 0; i < len;) {         /* the header's end */
		const char *e = memchr(data + i, '\n', len - i);
		size_t n = e != NULL ? (size_t)(e - data) + 1 - i : len - i;
		if (n == 1 || (n == 2 && data[i] == '\r')) {
			body = i + n;
			break;
		}
		i += n;
	}
	if (body == 0)
		return NULL;
	for (size_t pass = 0; pass < 2; pass++) {
		/* (first only the longest run: most mail has none that long) */
		for (size_t i = body; i < len;) {
			const char *e = memchr(data + i, '\n', len - i);
			size_t n = e != NULL ? (size_t)(e - data) + 1 - i : len - i;
			if (pass == 0) {
				run = blank_line(data + i, n) ? run + 1 : 0;
				if (run > longest)
					longest = run;
			} else {
				if (nl == cap) {
					cap = cap ? 2 * cap : 256;
					ln = xreallocarray(ln, cap, sizeof(*ln));
				}
				ln[nl].off = i;
				ln[nl++].len = n;
			}
			i += n;
		}
		if (longest <= 20)
			return NULL;
	}
	drop = xcalloc(nl, 1);
	for (size_t k = nl; k-- > 0;) {
		if (blank_line(data + ln[k].off, ln[k].len)) {
			if (!have_start) {
				start = k;
				have_start = 1;
			}
			if (k != 0)
				continue;
		}
		if (have_start && start - k > 20)
			for (size_t j = k + 2; j < k + 2 + (start - k - 20) && j < nl; j++)
				drop[j] = 1;
		have_start = 0;
	}
	c = xmalloc(len + 1);
	memcpy(c, data, body);
	out = body;
	for (size_t k = 0; k < nl; k++)
		if (!drop[k]) {
			memcpy(c + out, data + ln[k].off, ln[k].len);
			out += ln[k].len;
		}
	*nlen = out;
	free(drop);
	free(ln);
	return c;
}

void
mime_parse(struct mime_msg *m, const char *data, size_t len,
    const struct mime_limits *lim)
{
	struct parser p;

	memset(m, 0, sizeof(*m));
	m->lim = lim ? *lim : mime_default_limits;
	{
		size_t e = mail_mbox_from_len(data, len);

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
	buf_init(&m->bayes_body, m->lim.max_text);
	buf_init(&m->rawbody, m->lim.max_text);
	for (int k = 0; k < HTML_TEXT_N; k++)
		buf_init(&m->html_texts[k], 64 * 1024);
	buf_init(&m->labels, 4096);
	memset(&p, 0, sizeof(p));
	p.m = m;
	m->uris.max = m->uris_also.max = m->uris_sl.max = m->lim.max_uris;
	m->uris.also = &m->uris_also;   /* (while parsing: no pointer into */
	m->uris.sl = &m->uris_sl;       /* the message stays after it) */
	m->uris.sa = m->lim.sa_text;
	buf_init(&p.rendered, m->lim.max_text);
	buf_init(&p.own, m->lim.max_text);
	{
		size_t cl = 0;
		char *cut = blank_runs_cut(data, len, &cl);
		walk(&p, cut != NULL ? cut : data, cut != NULL ? cl : len, 1);
		free(cut);      /* (nothing keeps a pointer into it) */
	}

	mpart_alt_difference(m, p.rendered.data);
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].is_text && strcmp(m->parts[i].ctype, "text/plain") == 0) {
			/* no text rendered at all: no data (and no offset) */
			text_labels(m, p.rendered.data != NULL ?
			    p.rendered.data + m->parts[i].text_off : NULL,
			    m->parts[i].text_len);
			break;
		}
	subject_line(m, &m->body, 0);
	paragraphs(p.rendered.data ? p.rendered.data : "", p.rendered.len, &m->body);
	buf_free(&p.rendered);
	if (m->lim.sa_text) {
		subject_line(m, &m->bayes_body, 1);
		paragraphs(p.own.data ? p.own.data : "", p.own.len, &m->bayes_body);
	}
	buf_free(&p.own);
	m->uris.also = m->uris.sl = NULL;

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

	m->nhdrs = 0;
	for (size_t i = 0; i < m->nparts; i++) {
		if (m->parts[i].hdrs != m->hdrs) {
			struct hdrlist ph = { m->parts[i].hdrs, m->parts[i].nhdrs };
			hdrlist_free(&ph);
		}
		free(m->parts[i].ctype);
		free(m->parts[i].charset);
		free(m->parts[i].encoding);
		free(m->parts[i].filename);
		free(m->parts[i].disposition);
	}
	FREE(m->parts);
	m->nparts = 0;
	hdrlist_free(&h);
	m->hdrs = NULL;
	buf_free(&m->body);
	buf_free(&m->bayes_body);
	buf_free(&m->rawbody);
	FREE(m->rawbody_parts);
	m->nrawbody_parts = 0;
	for (int k = 0; k < HTML_TEXT_N; k++)
		buf_free(&m->html_texts[k]);
	buf_free(&m->labels);
	uri_list_free(&m->uris);
	uri_list_free(&m->uris_also);
	uri_list_free(&m->uris_sl);
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
