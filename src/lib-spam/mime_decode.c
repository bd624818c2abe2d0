/*
 * mime_decode.c - charset conversion to UTF-8 through iconv, RFC 2047
 * encoded words, and the small structured-header helpers (addresses;
 * parameters and transfer decodings are lib-mail's).  Every input
 * here is untrusted message bytes; every output goes to a bounded buf
 * (an append past its max is dropped, the caller counts truncation).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "mem.h"
#include "mime.h"

/* Map common aliases iconv does not know, and charsets that are
 * supersets in practice (as mail clients do). */
static const char *
charset_alias(const char *cs)
{
	static const struct { const char *from, *to; } map[] = {
		{ "ascii", "UTF-8" }, { "us-ascii", "UTF-8" },
		{ "iso-8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" },
		{ "ks_c_5601-1987", "CP949" }, { "gb2312", "GB18030" },
		{ "gbk", "GB18030" }, { "x-sjis", "SHIFT_JIS" },
		{ "unicode-1-1-utf-7", "UTF-7" }, { "x-unknown", "WINDOWS-1252" },
		{ "unknown-8bit", "WINDOWS-1252" }, { "default", "WINDOWS-1252" },
	};

	for (size_t i = 0; i < NELEM(map); i++)
		if (strcasecmp(cs, map[i].from) == 0)
			return map[i].to;
	return cs;
}

/* A small cache of open conversion descriptors (iconv_open is costly). */
#define ICONV_CACHE 8
static struct { char name[40]; iconv_t cd; } iconv_cache[ICONV_CACHE];
static unsigned iconv_next;

static iconv_t
iconv_get(const char *cs)
{
	iconv_t cd;
	unsigned slot;

	if (strlen(cs) >= sizeof(iconv_cache[0].name))
		return (iconv_t)-1;
	for (unsigned i = 0; i < ICONV_CACHE; i++)
		if (iconv_cache[i].name[0] != '\0' &&
		    strcasecmp(iconv_cache[i].name, cs) == 0) {
			iconv(iconv_cache[i].cd, NULL, NULL, NULL, NULL);
			return iconv_cache[i].cd;
		}
	cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return cd;
	slot = iconv_next++ % ICONV_CACHE;
	if (iconv_cache[slot].name[0] != '\0')
		iconv_close(iconv_cache[slot].cd);
	strcpy(iconv_cache[slot].name, cs);
	iconv_cache[slot].cd = cd;
	return cd;
}

/* Windows-1252's 0x80-0x9f (0: undefined) */
static const unsigned short cp1252_c1[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* What stands for a byte no character was read from: U+FFFD, the
 * replacement character (not '?', which is text rules read: a
 * "?...!" Subject), as Perl's Encode, and so SpamAssassin, puts. */
#define REPLACEMENT "\xef\xbf\xbd"

/* One byte read as Windows-1252, in UTF-8 (U+FFFD where it has none). */
static void
cp1252_byte(unsigned char c, struct buf *out)
{
	unsigned u = c < 0xa0 ? cp1252_c1[c - 0x80] : c;

	if (u == 0)
		(void)buf_appends(out, REPLACEMENT);
	else if (u < 0x800) {
		(void)buf_appendc(out, (char)(0xc0 | (u >> 6)));
		(void)buf_appendc(out, (char)(0x80 | (u & 0x3f)));
	} else {
		(void)buf_appendc(out, (char)(0xe0 | (u >> 12)));
		(void)buf_appendc(out, (char)(0x80 | ((u >> 6) & 0x3f)));
		(void)buf_appendc(out, (char)(0x80 | (u & 0x3f)));
	}
}

/* Copy UTF-8, an invalid byte replaced by U+FFFD or with cp1252 read
 * as Windows-1252: 0 clean, 1 some replaced. */
static int
utf8_copy_as(const unsigned char *s, size_t n, struct buf *out, int cp1252)
{
	int badseen = 0;
	size_t i = 0, start = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len = 0;

		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) len = 2;
		else if (c >= 0xe0 && c <= 0xef) len = 3;
		else if (c >= 0xf0 && c <= 0xf4) len = 4;
		if (len != 0 && i + len <= n) {
			size_t k;
			for (k = 1; k < len; k++)
				if ((s[i + k] & 0xc0) != 0x80)
					break;
			if (k == len) { i += len; continue; }
		}
		(void)buf_append(out, s + start, i - start);
		if (cp1252)
			cp1252_byte(c, out);
		else
			(void)buf_appends(out, REPLACEMENT);
		badseen = 1;
		i++;
		start = i;
	}
	(void)buf_append(out, s + start, i - start);
	return badseen;
}

/* s[0..n) from charset cs through iconv, appended to out: 0 clean, 1
 * some bytes not in the charset (each replaced by U+FFFD), -1 no such
 * charset; strict: -1 at the first such byte, out as it was. */
static int
iconv_into(const char *cs, const char *s, size_t n, struct buf *out, int strict)
{
	iconv_t cd = iconv_get(cs);
	char obuf[4096];
	char *in = (char *)s;
	size_t inleft = n, mark = out->len;
	int ret = 0;

	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char *op = obuf;
		size_t oleft = sizeof(obuf);
		size_t r = iconv(cd, &in, &inleft, &op, &oleft);

		if (buf_append(out, obuf, sizeof(obuf) - oleft) < 0)
			return ret;
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			if (strict) {
				buf_truncate(out, mark);
				return -1;
			}
			/* EILSEQ or EINVAL: skip one byte */
			ret = 1;
			(void)buf_appends(out, REPLACEMENT);
			in++;
			inleft--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	{
		char *op = obuf;
		size_t oleft = sizeof(obuf);
		iconv(cd, NULL, NULL, &op, &oleft);
		(void)buf_append(out, obuf, sizeof(obuf) - oleft);
	}
	return ret;
}

int
mime_to_utf8(const char *charset, const char *s, size_t n, struct buf *out)
{
	const char *cs = charset_alias(charset != NULL && *charset ? charset : "us-ascii");
	int ret;

	/* undeclared or ASCII: UTF-8 where it is, else each other byte as
	 * Windows-1252 (what mail readers show; SpamAssassin's text has the
	 * same characters) */
	if (charset == NULL || *charset == '\0' || strcasecmp(charset, "us-ascii") == 0 ||
	    strcasecmp(charset, "ascii") == 0)
		return utf8_copy_as((const unsigned char *)s, n, out, 1);
	if (strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0)
		return utf8_copy_as((const unsigned char *)s, n, out, 0);
	if ((ret = iconv_into(cs, s, n, out, 0)) < 0)
		(void)utf8_copy_as((const unsigned char *)s, n, out, 0);
	return ret;
}

/* s[0..n) is UTF-8 as Perl's strict decoder takes it (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF). */
int
mime_utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/* The converter SpamAssassin's Encode::find_encoding() gives a declared
 * charset, as an iconv name; NULL for none to try (US-ASCII and UTF-8,
 * tried before; names Perl does not know). */
static const char *
sa_charset(const char *cs)
{
	static const struct { const char *from, *to; } map[] = {
		{ "iso-8859-1", "WINDOWS-1252" }, { "iso8859-1", "WINDOWS-1252" },
		{ "windows-1252", "WINDOWS-1252" }, { "cp1252", "WINDOWS-1252" },
		{ "latin1", "ISO-8859-1" }, { "gb2312", "EUC-CN" },
		{ "gbk", "CP936" }, { "gb18030", "CP936" }, { "x-sjis", "SHIFT_JIS" },
		{ "ks_c_5601-1987", "CP949" }, { "unicode-1-1-utf-7", "UTF-7" },
	};
	static const char *const none[] = {
		"us-ascii", "ascii", "utf-8", "utf8", "x-unknown", "default",
		"unknown-8bit",
	};

	for (size_t i = 0; i < NELEM(none); i++)
		if (strcasecmp(cs, none[i]) == 0)
			return NULL;
	for (size_t i = 0; i < NELEM(map); i++)
		if (strcasecmp(cs, map[i].from) == 0)
			return map[i].to;
	return cs;
}

/* Charsets whose ASCII bytes are ASCII, as SpamAssassin lists them
 * (US-ASCII, ISO-8859-n, Windows-nnnn, UTF-8, KOI8-x, EUC-x, Big5, GBK,
 * GB18030): 7-bit text in one is not decoded. */
static int
sa_ascii_based(const char *cs)
{
	static const char *const pre[] = {
		"iso-8859", "iso8859", "iso 8859", "windows-", "koi8-", "euc-",
	};
	static const char *const eq[] = {
		"us-ascii", "ascii", "ansi_x3.4-1968", "ansi_x3.4-1986",
		"ansi x3.4-1968", "ansi x3.4-1986", "ansix3.4-1968", "ansix3.4-1986",
		"iso646-us", "utf-8", "utf8", "big5", "gbk", "gb18030",
		"gb 18030", "gb-18030",
	};

	for (size_t i = 0; i < NELEM(eq); i++)
		if (strcasecmp(cs, eq[i]) == 0)
			return 1;
	for (size_t i = 0; i < NELEM(pre); i++)
		if (strncasecmp(cs, pre[i], strlen(pre[i])) == 0)
			return 1;
	return 0;
}

int
mime_to_utf8_sa(const char *charset, const char *s, size_t n, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	const char *cs;
	size_t i = 0;

	while (i < n && u[i] < 0x80)
		i++;
	if (charset == NULL || *charset == '\0')
		charset = "us-ascii";
	/* all ASCII in an ASCII-based charset, or valid UTF-8 */
	if ((i == n && sa_ascii_based(charset)) || (i < n && mime_utf8_valid(u, n))) {
		(void)buf_append(out, s, n);
		return 0;
	}
	cs = sa_charset(charset);
	if (cs != NULL && iconv_into(cs, s, n, out, 1) == 0)
		return 0;
	if (i == n) {           /* (ISO-2022-JP and the like, not valid) */
		(void)buf_append(out, s, n);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (u[i] < 0x80)
			(void)buf_appendc(out, (char)u[i]);
		else
			cp1252_byte(u[i], out);
	return 1;
}

/* Where the search for an encoded word's "?=" last failed: a text
 * starting anywhere from `from` to `to` runs into the same blank, or the
 * same end of the value, before any "?=" (to: NULL before the first
 * failure).  Without it a value of "=?a?q?x" repeated was searched to
 * its end from each "=?": quadratic. */
struct word_scan {
	const char *from, *to;
};

/* Try to decode one encoded word at s[0..n): =?cs?E?text?=.  Returns its
 * length, or 0 if s does not start one.  *ws: see struct word_scan. */
static size_t
decode_word(const char *s, size_t n, struct buf *out, unsigned *bad_r,
    struct word_scan *ws)
{
	size_t i = 2, cs_end, enc, text, end;
	char cs[64];
	struct buf raw;
	char *star;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	while (i < n && s[i] != '?' && i - 2 < sizeof(cs) - 1 && !isspace((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '?' || i == 2)
		return 0;
	cs_end = i;
	if (i + 2 >= n || s[i + 2] != '?')
		return 0;
	enc = (size_t)tolower((unsigned char)s[i + 1]);
	if (enc != 'b' && enc != 'q')
		return 0;
	text = i + 3;
	if (ws->to != NULL && s + text >= ws->from && s + text <= ws->to)
		return 0;
	for (end = text; end + 1 < n; end++) {
		if (s[end] == '?' && s[end + 1] == '=')
			break;
		if (s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\r')
			break;
	}
	if (end + 1 >= n || s[end] != '?') {
		ws->from = s + text;
		ws->to = s + end;
		return 0;
	}
	memcpy(cs, s + 2, cs_end - 2);
	cs[cs_end - 2] = '\0';
	if ((star = strchr(cs, '*')) != NULL)    /* RFC 2231 language */
		*star = '\0';
	buf_init(&raw, 4096);
	if (enc == 'b')
		(void)mail_base64_decode(s + text, end - text, &raw, bad_r);
	else
		(void)mail_qp_decode(s + text, end - text, &raw, 1, bad_r);
	if (mime_to_utf8(cs, raw.data != NULL ? raw.data : "", raw.len, out) != 0)
		(*bad_r)++;
	buf_free(&raw);
	return end + 2;
}

void
mime_decode_2047(const char *s, size_t n, struct buf *out,
    unsigned *decoded_r, unsigned *bad_r)
{
	size_t i = 0, pending_ws = 0, ws_start = 0;
	int last_was_word = 0;
	unsigned decoded = 0, bad = 0;
	struct word_scan scan = { NULL, NULL };

	while (i < n) {
		size_t w;

		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?') {
			struct buf tmp;
			unsigned wbad = 0;

			buf_init(&tmp, out->max);
			w = decode_word(s + i, n - i, &tmp, &wbad, &scan);
			if (w > 0) {
				if (!last_was_word && pending_ws > 0)
					(void)buf_append(out, s + ws_start, pending_ws);
				pending_ws = 0;
				(void)buf_append(out, tmp.data, tmp.len);
				buf_free(&tmp);
				bad += wbad;
				decoded++;
				i += w;
				last_was_word = 1;
				continue;
			}
			buf_free(&tmp);
		}
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			if (pending_ws == 0)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?')
			bad++;
		if (pending_ws > 0)
			(void)buf_append(out, s + ws_start, pending_ws);
		pending_ws = 0;
		last_was_word = 0;
		/* copy a run of ordinary bytes */
		{
			size_t j = i + 1;
			while (j < n && s[j] != '=' && s[j] != ' ' && s[j] != '\t' &&
			    s[j] != '\r' && s[j] != '\n')
				j++;
			/* (raw 8-bit text: UTF-8, else Windows-1252) */
			(void)utf8_copy_as((const unsigned char *)s + i, j - i, out, 1);
			i = j;
		}
	}
	if (pending_ws > 0 && !last_was_word)
		(void)buf_append(out, s + ws_start, pending_ws);
	if (decoded_r != NULL)
		*decoded_r += decoded;
	if (bad_r != NULL)
		*bad_r += bad;
}

char *
mime_addr(const char *value)
{
	const char *lt = NULL, *p;
	int inq = 0, depth = 0;
	struct buf b;

	buf_init(&b, 1024);
	/* an address in <...> outside quotes and comments wins */
	for (p = value; *p; p++) {
		if (*p == '\\' && p[1]) { p++; continue; }
		if (*p == '"' && depth == 0) inq = !inq;
		else if (!inq && *p == '(') depth++;
		else if (!inq && *p == ')' && depth > 0) depth--;
		else if (!inq && depth == 0 && *p == '<') { lt = p + 1; break; }
		else if (!inq && depth == 0 && *p == ',') break;
	}
	if (lt != NULL) {
		for (p = lt; *p && *p != '>'; p++)
			if (!isspace((unsigned char)*p))
				(void)buf_appendc(&b, *p);
		return buf_steal(&b);
	}
	/* bare address: drop comments and quotes, stop at ',' */
	inq = depth = 0;
	for (p = value; *p; p++) {
		if (*p == '"') { inq = !inq; continue; }
		if (!inq && *p == '(') { depth++; continue; }
		if (!inq && *p == ')' && depth > 0) { depth--; continue; }
		if (depth > 0) continue;
		if (!inq && *p == ',') break;
		if (isspace((unsigned char)*p)) continue;
		(void)buf_appendc(&b, *p);
	}
	return buf_steal(&b);
}

char *
mime_addr_name(const char *value)
{
	const char *p = value, *lt;
	struct buf b;

	buf_init(&b, 1024);
	while (isspace((unsigned char)*p))
		p++;
	lt = strchr(p, '<');
	if (lt != NULL) {
		const char *e = lt;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		if (e - p >= 2 && *p == '"' && e[-1] == '"') {
			p++;
			e--;
		}
		(void)buf_append(&b, p, (size_t)(e - p));
	} else {
		/* addr (Name) */
		const char *o = strchr(p, '('), *c = o ? strrchr(o, ')') : NULL;
		if (o != NULL && c != NULL)
			(void)buf_append(&b, o + 1, (size_t)(c - o - 1));
	}
	return buf_steal(&b);
}

void
mime_base64_sa(const char *s, size_t n, struct buf *out)
{
	enum { EQ = 64 };
	unsigned char *d = xmalloc(n > 0 ? n : 1);      /* digits, then bytes */
	size_t len = 0, k, i, o = 0;
	int pure = 1;   /* nothing but the alphabet and '=' (white space aside) */

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || (c >= '\t' && c <= '\r'))   /* Perl's \s */
			continue;
		v = c == '=' ? EQ : base64_digit(c, '/');
		if (v < 0) {
			pure = 0;
			continue;
		}
		d[len++] = (unsigned char)v;
	}
	for (k = len; k > 0 && d[k - 1] == EQ; k--)
		;       /* d[k..len) the final '=' run, dropped */
	/* an inner '=' is 'A' for MIME::Base64 (pure text of whole groups),
	 * the digit 63 on the uudecoding path; both decode up to the final
	 * run, a lone last digit dropped */
	pure = pure && len >= 2 && len % 4 == 0;
	for (i = 0; i < k; i++)
		if (d[i] == EQ)
			d[i] = pure ? 0 : 63;
	for (i = 0; i + 1 < k; i += 4) {        /* (bytes overwrite digits read) */
		unsigned a = d[i], b = d[i + 1];
		unsigned c = i + 2 < k ? d[i + 2] : 0, e = i + 3 < k ? d[i + 3] : 0;

		d[o++] = (unsigned char)((a << 2) | (b >> 4));
		if (i + 2 < k)
			d[o++] = (unsigned char)(((b & 0x0f) << 4) | (c >> 2));
		if (i + 3 < k)
			d[o++] = (unsigned char)(((c & 0x03) << 6) | e);
	}
	(void)mail_append_some(out, (const char *)d, o);
	free(d);
}
