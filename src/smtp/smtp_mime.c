/*
 * smtp_mime.c - 8-bit to quoted-printable downgrade of a whole message
 * (see smtp_mime.h).  A pure function over a memory buffer: the MIME
 * structure comes from lib-mail's parser (mail_mime.h, the rules of
 * doc/mime.md), the header fields of each entity from its header
 * splitter (mail_header.h); this file only rewrites: it walks the part
 * tree in document order, copies every byte it does not change, relabels
 * Content-Transfer-Encoding and quoted-printable-encodes 8-bit leaves.
 * Nesting (multipart and message/rfc822 levels together) is capped at
 * SMTP_MIME_MAX_DEPTH: an entity at that depth is a leaf, so the
 * recursion is bounded whatever the input; the part count is capped at
 * SMTP_MIME_MAX_PARTS (beyond it the message is not converted).
 *
 * Untrusted input: the message content; every offset comes from the
 * parser (inside the message), every output goes through the bounded
 * struct buf.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail_header.h"
#include "mail_mime.h"
#include "smtp_mime.h"

#define QP_LINE 76

struct mime {
	const char *p;
	struct mail_mime mm;
	struct buf *out;
	int err;
};

static void
emit(struct mime *m, const void *p, size_t n)
{
	if (!m->err && n > 0 && buf_append(m->out, p, n) < 0)
		m->err = 1;
}

static void
emits(struct mime *m, const char *s)
{
	emit(m, s, strlen(s));
}

/* Copy input bytes [from, to). */
static void
copy(struct mime *m, size_t from, size_t to)
{
	if (to > from)
		emit(m, m->p + from, to - from);
}

static int
field_is(const char *h, const struct mail_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(h + f->start, name, f->name_len) == 0;
}

#define HDR_COPY        0       /* as it is */
#define HDR_7BIT        1       /* Content-Transfer-Encoding: 7bit */
#define HDR_QP          2       /* ... quoted-printable (+ MIME fields) */

/*
 * The header block of part p.  HDR_7BIT replaces the first
 * Content-Transfer-Encoding field (the one that counts, doc/mime.md) by
 * a 7bit label; HDR_QP puts a quoted-printable one before the empty
 * line, and for a message (top) MIME-Version and a Content-Type when
 * they are missing.  Both drop any further Content-Transfer-Encoding
 * field so that the part has one label only.
 */
static void
header(struct mime *m, const struct mail_part *p, int mode, int top)
{
	const char *h = m->p + p->hdr_off;
	struct mail_field f;
	size_t pos = 0, fend = 0;
	int have_ct = 0, have_mv = 0, have_cte = 0;

	if (mode == HDR_COPY) {
		copy(m, p->hdr_off, p->body_off);
		return;
	}
	while (mail_header_next(h, p->hdr_len, &pos, &f)) {
		fend = pos;
		if (f.name_len > 0 && field_is(h, &f, "Content-Transfer-Encoding")) {
			if (!have_cte && mode == HDR_7BIT)
				emits(m, "Content-Transfer-Encoding: 7bit\n");
			have_cte = 1;
			continue;
		}
		have_ct |= f.name_len > 0 && field_is(h, &f, "Content-Type");
		have_mv |= f.name_len > 0 && field_is(h, &f, "MIME-Version");
		copy(m, p->hdr_off + f.start, p->hdr_off + f.end);
	}
	if (mode == HDR_QP) {
		if (top && !have_mv)
			emits(m, "MIME-Version: 1.0\n");
		if (top && !have_ct)
			emits(m, "Content-Type: text/plain; charset=unknown-8bit\n");
		emits(m, "Content-Transfer-Encoding: quoted-printable\n");
	}
	/* the empty line (its absence means an empty body) */
	copy(m, p->hdr_off + fend, p->body_off);
	if (mode == HDR_QP && fend == p->hdr_len)
		emits(m, "\n");
}

/* Quoted-printable of one line (without its "\n").  guard (inside a
 * multipart): no encoded line starts with "--", so that neither a soft
 * line break nor an "=XX" can make a delimiter line (RFC 2046 5.1.1). */
static void
qp_line(struct mime *m, const unsigned char *l, size_t n, int nl, int guard)
{
	char tok[4];
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = l[i];
		size_t tl = 1;
		if (c > 126 || c == '=' || (c < 32 && c != '\t') ||
		    ((c == ' ' || c == '\t') && i + 1 == n))
			tl = 3;
		if (col + tl > QP_LINE - 1) {
			emits(m, "=\n");
			col = 0;
		}
		if (col == 0 && guard && c == '-' && i + 1 < n && l[i + 1] == '-')
			tl = 3;
		if (tl == 3)
			snprintf(tok, sizeof(tok), "=%02X", c);
		else
			tok[0] = (char)c;
		emit(m, tok, tl);
		col += tl;
	}
	if (nl)
		emits(m, "\n");
}

static int
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] & 0x80)
			return 1;
	return 0;
}

static int
cte_is(const struct mail_part *p, const char *name)
{
	return p->encoding != NULL && strcasecmp(p->encoding, name) == 0;
}

/* A leaf (or a container at the depth limit): its body as it is, or
 * encoded when it has 8-bit bytes and is not encoded yet (8-bit in a
 * base64 or quoted-printable body is garbage we do not make worse). */
static void
leaf(struct mime *m, const struct mail_part *p, int top)
{
	size_t pos = p->body_off, end = p->body_off + p->body_len;
	int guard = 0;

	for (int a = p->parent; a >= 0; a = m->mm.parts[a].parent)
		guard |= (m->mm.parts[a].flags & MAIL_PART_MULTIPART) != 0;

	if (!has_8bit(m->p + pos, p->body_len) || cte_is(p, "base64") ||
	    cte_is(p, "quoted-printable")) {
		header(m, p, !has_8bit(m->p + pos, p->body_len) &&
		    (cte_is(p, "8bit") || cte_is(p, "binary")) ?
		    HDR_7BIT : HDR_COPY, top);
		copy(m, pos, end);
		return;
	}
	header(m, p, HDR_QP, top);
	while (!m->err && pos < end) {
		const char *nl = memchr(m->p + pos, '\n', end - pos);
		size_t n = nl != NULL ? (size_t)(nl - (m->p + pos)) : end - pos;
		qp_line(m, (const unsigned char *)m->p + pos, n, nl != NULL,
		    guard);
		pos += n + (nl != NULL);
	}
}

/* Part idx: its header, then its children with the bytes between them
 * (preamble, delimiters, epilogue) copied, or its body as a leaf. */
static void
entity(struct mime *m, int idx, int top)
{
	const struct mail_part *p = &m->mm.parts[idx];
	size_t pos = p->body_off;
	int c;

	if (p->depth >= SMTP_MIME_MAX_DEPTH ||
	    (p->flags & MAIL_PART_NO_BOUNDARY) ||
	    (!(p->flags & MAIL_PART_MULTIPART) &&
	    !((p->flags & MAIL_PART_MESSAGE) &&
	    strcasecmp(p->subtype, "rfc822") == 0))) {
		/* message/global may have any encoding (RFC 6532 3.5) */
		leaf(m, p, top);
		return;
	}
	header(m, p, HDR_7BIT, top);
	for (c = p->child; c >= 0 && !m->err; c = m->mm.parts[c].next) {
		const struct mail_part *k = &m->mm.parts[c];
		copy(m, pos, k->hdr_off);
		entity(m, c, (p->flags & MAIL_PART_MESSAGE) != 0);
		pos = k->body_off + k->body_len;
	}
	copy(m, pos, p->body_off + p->body_len);
}

int
smtp_mime_downgrade(const char *msg, size_t len, struct buf *out)
{
	static const struct mail_mime_limits lim = { SMTP_MIME_MAX_DEPTH,
	    SMTP_MIME_MAX_PARTS, 0 };
	struct mime m;

	memset(&m, 0, sizeof(m));
	m.p = msg;
	m.out = out;
	mail_mime_parse(&m.mm, msg, len, &lim);
	for (unsigned i = 0; i < m.mm.nparts; i++)
		if (m.mm.parts[i].skipped > 0 &&
		    m.mm.parts[i].depth < SMTP_MIME_MAX_DEPTH)
			m.err = 1;      /* the part limit: do not convert half */
	if (!m.err)
		entity(&m, 0, 1);
	mail_mime_free(&m.mm);
	return m.err ? -1 : 0;
}
