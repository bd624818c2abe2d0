/*
 * mail_decode.c - lenient base64 and quoted-printable decoding (see
 * mail_decode.h).  Untrusted input: encoded bodies and encoded words of
 * any message; output only through mail_append_some() on a bounded buf.
 */
#include <string.h>

#include "base64.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "str.h"

int
mail_base64_decode(const char *s, size_t n, struct buf *out, unsigned *bad_r)
{
	unsigned acc = 0, bits = 0, bad = 0;
	int pad = 0, r = 0;
	char tmp[256];
	size_t t = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == '=') {
			pad = 1;
			continue;
		}
		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		v = base64_digit(c, '/');
		if (v < 0 || pad) {
			bad++;
			continue;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			tmp[t++] = (char)((acc >> bits) & 0xff);
			if (t == sizeof(tmp)) {
				if (mail_append_some(out, tmp, t) < 0)
					r = -1;
				t = 0;
			}
		}
	}
	if (bits >= 6)
		bad++;
	if (mail_append_some(out, tmp, t) < 0)
		r = -1;
	if (bad_r != NULL)
		*bad_r += bad;
	return r;
}

int
mail_qp_decode(const char *s, size_t n, struct buf *out, int header,
    unsigned *bad_r)
{
	unsigned bad = 0;
	size_t i = 0;
	int r = 0;

	while (i < n) {
		size_t j = i, k;
		int h, l;
		char c;

		/* copy a run of plain bytes; in a body, blanks ending a line
		 * are not (RFC 2045 6.7 (3): transport added them) */
		while (j < n && s[j] != '=' && !(header && s[j] == '_'))
			j++;
		for (size_t a = i; a < j; ) {
			size_t b = a;
			if (!header && (s[a] == ' ' || s[a] == '\t')) {
				while (b < n && (s[b] == ' ' || s[b] == '\t'))
					b++;
				if (b < n && (s[b] == '\n' || (s[b] == '\r' && b + 1 < n &&
				    s[b + 1] == '\n'))) {
					a = b;          /* dropped */
					continue;
				}
				if (b > j)      /* (blanks then '=': kept) */
					b = j;
			} else {
				while (b < j && (header || (s[b] != ' ' && s[b] != '\t')))
					b++;
			}
			if (mail_append_some(out, s + a, b - a) < 0)
				r = -1;
			a = b;
		}
		if (j >= n)
			break;
		i = j + 1;
		if (s[j] == '_') {
			c = ' ';
			goto put;
		}
		/* soft line break: '=' then blanks then (CR)LF, or the end */
		k = i;
		while (!header && k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (!header && k < n && (s[k] == '\n' || s[k] == '\r')) {
			if (s[k] == '\r' && k + 1 < n && s[k + 1] == '\n')
				k++;
			i = k + 1;
			continue;
		}
		if (!header && k >= n) {
			i = k;
			continue;
		}
		if (i + 1 < n && (h = str_hexval((unsigned char)s[i])) >= 0 &&
		    (l = str_hexval((unsigned char)s[i + 1])) >= 0) {
			c = (char)(h * 16 + l);
			i += 2;
		} else {
			bad++;
			c = '=';
		}
put:
		if (buf_appendc(out, c) < 0)
			r = -1;
	}
	if (bad_r != NULL)
		*bad_r += bad;
	return r;
}
