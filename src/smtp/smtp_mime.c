/*
 * smtp_mime.c - 8-bit to quoted-printable downgrade of a whole message
 * (see smtp_mime.h).  A pure function over a memory buffer: a line
 * scanner, a header-block reader that finds Content-Type (type and
 * boundary) and Content-Transfer-Encoding, and a recursive walk over
 * MIME entities whose depth (multipart and message/rfc822 levels
 * together) is capped at SMTP_MIME_MAX_DEPTH: deeper parts are treated
 * as leaves, so the recursion is bounded whatever the input.
 *
 * Untrusted input: the message content; header values are copied into
 * fixed-size buffers (truncated), boundaries are at most BOUNDARY_MAX
 * bytes, and every output goes through the bounded struct buf.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_mime.h"

#define BOUNDARY_MAX 200
#define HVALUE_MAX 1024
#define QP_LINE 76

struct mime {
	const char *p;
	size_t len, pos;
	struct buf *out;
	int err;
	char bounds[SMTP_MIME_MAX_DEPTH][BOUNDARY_MAX + 1];
	size_t blen[SMTP_MIME_MAX_DEPTH];
	int nb;
};

/* The line at pos: its start, length without "\n", and the position of
 * the next line. */
static int
line_at(const struct mime *m, size_t pos, size_t *n_r, size_t *next_r)
{
	const char *nl;

	if (pos >= m->len)
		return 0;
	nl = memchr(m->p + pos, '\n', m->len - pos);
	*n_r = nl != NULL ? (size_t)(nl - (m->p + pos)) : m->len - pos;
	*next_r = nl != NULL ? pos + *n_r + 1 : m->len;
	return 1;
}

static void
emit(struct mime *m, const void *p, size_t n)
{
	if (!m->err && buf_append(m->out, p, n) < 0)
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

/* Copy [from, to) with the Content-Transfer-Encoding field [cte_from,
 * cte_to) (if any) replaced by a 7bit label. */
static void
copy_7bit(struct mime *m, size_t from, size_t cte_from, size_t cte_to,
    size_t to)
{
	if (cte_to > cte_from) {
		copy(m, from, cte_from);
		emits(m, "Content-Transfer-Encoding: 7bit\n");
		copy(m, cte_to, to);
	} else
		copy(m, from, to);
}

/* Is the line a boundary of an open multipart?  Returns its depth index
 * (innermost first) or -1; *close_r for "--boundary--". */
static int
boundary(const struct mime *m, const char *l, size_t n, int *close_r)
{
	int i;

	if (n < 3 || l[0] != '-' || l[1] != '-')
		return -1;
	for (i = m->nb - 1; i >= 0; i--) {
		size_t bl = m->blen[i], k;
		if (n < 2 + bl || memcmp(l + 2, m->bounds[i], bl) != 0)
			continue;
		k = 2 + bl;
		*close_r = n >= k + 2 && l[k] == '-' && l[k + 1] == '-';
		if (*close_r)
			k += 2;
		for (; k < n; k++)
			if (l[k] != ' ' && l[k] != '\t' && l[k] != '\r')
				break;
		if (k == n)
			return i;
	}
	return -1;
}

static int
at_boundary(const struct mime *m, size_t pos)
{
	size_t n, next;
	int c;

	return line_at(m, pos, &n, &next) &&
	    boundary(m, m->p + pos, n, &c) >= 0;
}

/* Does header line l (n bytes) start the field `name`? */
static int
field_is(const char *l, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && strncasecmp(l, name, k) == 0 && l[k] == ':';
}

/* Unfolded value of the field [from, to) (after the colon), truncated. */
static void
field_value(const struct mime *m, size_t from, size_t to, char *v, size_t vmax)
{
	const char *p = memchr(m->p + from, ':', to - from);
	size_t o = 0;

	v[0] = '\0';
	if (p == NULL)
		return;
	for (p++; p < m->p + to && o + 1 < vmax; p++) {
		char c = *p;
		if (c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && (o == 0 || v[o - 1] == ' '))
			continue;
		v[o++] = c;
	}
	while (o > 0 && v[o - 1] == ' ')
		o--;
	v[o] = '\0';
}

/* "type/subtype" in lower case, and the boundary parameter. */
static void
parse_ctype(const char *v, char *type, size_t tmax, char *bound, size_t bmax)
{
	size_t o = 0;
	const char *p;

	for (p = v; *p != '\0' && *p != ';' && *p != ' ' && o + 1 < tmax; p++)
		type[o++] = (char)tolower((unsigned char)*p);
	type[o] = '\0';
	bound[0] = '\0';
	for (p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, "boundary", 8) != 0)
			continue;
		q += 8;
		while (*q == ' ')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		o = 0;
		if (*q == '"') {
			for (q++; *q != '\0' && *q != '"' && o + 1 < bmax; q++)
				bound[o++] = *q;
		} else {
			for (; *q != '\0' && *q != ';' && *q != ' ' && o + 1 < bmax;
			    q++)
				bound[o++] = *q;
		}
		bound[o] = '\0';
		return;
	}
}

/* Quoted-printable of one line (without its "\n"). */
static void
qp_line(struct mime *m, const unsigned char *l, size_t n, int nl)
{
	char tok[4];
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = l[i];
		size_t tl;
		if (c > 126 || c == '=' || (c < 32 && c != '\t') ||
		    ((c == ' ' || c == '\t') && i + 1 == n)) {
			snprintf(tok, sizeof(tok), "=%02X", c);
			tl = 3;
		} else {
			tok[0] = (char)c;
			tl = 1;
		}
		if (col + tl > QP_LINE - 1) {
			emits(m, "=\n");
			col = 0;
		}
		emit(m, tok, tl);
		col += tl;
	}
	if (nl)
		emits(m, "\n");
}

/*
 * One entity (headers, blank line, body) from m->pos up to a boundary
 * line of an enclosing multipart or the end.  def_type: the type when
 * no Content-Type is given; top: the message itself.
 */
static void
entity(struct mime *m, const char *def_type, int top, int depth)
{
	size_t hstart = m->pos, hend, bstart, pos, n, next;
	size_t cte_from = 0, cte_to = 0, field = m->pos;
	int have_ct = 0, have_mv = 0, has8 = 0, infield = 0, c;
	char v[HVALUE_MAX], type[128], bound[BOUNDARY_MAX + 1], cte[64] = "";

	snprintf(type, sizeof(type), "%s", def_type);
	bound[0] = '\0';
	/* the header block: fields are [field, pos) */
	pos = m->pos;
	for (;;) {
		int end = !line_at(m, pos, &n, &next);
		const char *l = m->p + pos;
		int cont = !end && n > 0 && (l[0] == ' ' || l[0] == '\t');
		if (!cont && infield) {
			/* the field that began at `field` ends here */
			const char *f = m->p + field;
			size_t fl = pos - field;
			if (field_is(f, fl, "content-type")) {
				field_value(m, field, pos, v, sizeof(v));
				parse_ctype(v, type, sizeof(type), bound,
				    sizeof(bound));
				have_ct = 1;
			} else if (field_is(f, fl, "content-transfer-encoding")) {
				size_t o;
				field_value(m, field, pos, v, sizeof(v));
				for (o = 0; v[o] != '\0' && v[o] != ' ' &&
				    o + 1 < sizeof(cte); o++)
					cte[o] = (char)tolower((unsigned char)v[o]);
				cte[o] = '\0';
				cte_from = field;
				cte_to = pos;
			} else if (field_is(f, fl, "mime-version"))
				have_mv = 1;
		}
		if (end || (n == 0) || (n == 1 && l[0] == '\r') ||
		    boundary(m, l, n, &c) >= 0)
			break;
		if (!cont) {
			field = pos;
			infield = 1;
		}
		pos = next;
	}
	hend = pos;             /* the blank line (or boundary/end) */
	bstart = hend;
	if (line_at(m, hend, &n, &next) && !at_boundary(m, hend))
		bstart = next;  /* past the blank line */

	if (strncmp(type, "multipart/", 10) == 0 && *bound != '\0' &&
	    m->nb < SMTP_MIME_MAX_DEPTH && depth < SMTP_MIME_MAX_DEPTH) {
		const char *child = strcmp(type, "multipart/digest") == 0 ?
		    "message/rfc822" : "text/plain";
		int me = m->nb;
		/* headers, a 7bit label, the blank line */
		copy_7bit(m, hstart, cte_from, cte_to, bstart);
		snprintf(m->bounds[me], sizeof(m->bounds[0]), "%s", bound);
		m->blen[me] = strlen(m->bounds[me]);
		m->nb++;
		pos = bstart;
		while (!m->err && line_at(m, pos, &n, &next)) {
			int k = boundary(m, m->p + pos, n, &c);
			if (k < 0) {            /* preamble, epilogue */
				copy(m, pos, next);
				pos = next;
				continue;
			}
			if (k != me)            /* an outer boundary: done */
				break;
			copy(m, pos, next);
			pos = next;
			if (c) {
				/* the epilogue belongs to us until an outer
				 * boundary; close ours first */
				m->nb = me;
				while (line_at(m, pos, &n, &next) &&
				    !at_boundary(m, pos)) {
					copy(m, pos, next);
					pos = next;
				}
				m->pos = pos;
				return;
			}
			m->pos = pos;
			entity(m, child, 0, depth + 1);
			pos = m->pos;
		}
		m->nb = me;
		m->pos = pos;
		return;
	}
	if (strcmp(type, "message/rfc822") == 0 &&
	    depth < SMTP_MIME_MAX_DEPTH) {
		copy_7bit(m, hstart, cte_from, cte_to, bstart);
		m->pos = bstart;
		if (bstart > hend)
			entity(m, "text/plain", 1, depth + 1);
		return;
	}
	/* a leaf: does its body have 8-bit bytes? */
	for (pos = bstart; line_at(m, pos, &n, &next) && !at_boundary(m, pos);
	    pos = next) {
		size_t i;
		for (i = 0; i < n && !has8; i++)
			has8 = (unsigned char)m->p[pos + i] & 0x80;
	}
	if (!has8 || strcmp(cte, "base64") == 0 ||
	    strcmp(cte, "quoted-printable") == 0) {
		/* nothing to do, or already encoded (then 8-bit is garbage
		 * we do not make worse) */
		if (!has8 && (strcmp(cte, "8bit") == 0 ||
		    strcmp(cte, "binary") == 0)) {
			copy_7bit(m, hstart, cte_from, cte_to, pos);
		} else
			copy(m, hstart, pos);
		m->pos = pos;
		return;
	}
	/* headers without the old encoding, then the new one */
	if (cte_to > cte_from) {
		copy(m, hstart, cte_from);
		copy(m, cte_to, hend);
	} else
		copy(m, hstart, hend);
	if (top && !have_mv)
		emits(m, "MIME-Version: 1.0\n");
	if (top && !have_ct)
		emits(m, "Content-Type: text/plain; charset=unknown-8bit\n");
	emits(m, "Content-Transfer-Encoding: quoted-printable\n");
	copy(m, hend, bstart);
	if (bstart == hend)
		emits(m, "\n");
	for (pos = bstart; !m->err && line_at(m, pos, &n, &next) &&
	    !at_boundary(m, pos); pos = next)
		qp_line(m, (const unsigned char *)m->p + pos, n, next > pos + n);
	m->pos = pos;
}

int
smtp_mime_downgrade(const char *msg, size_t len, struct buf *out)
{
	struct mime m;

	memset(&m, 0, sizeof(m));
	m.p = msg;
	m.len = len;
	m.out = out;
	entity(&m, "text/plain", 1, 0);
	/* anything left (cannot happen with nb == 0, kept for safety) */
	if (m.pos < len)
		copy(&m, m.pos, len);
	return m.err ? -1 : 0;
}
