/*
 * imap_utf7.c - modified UTF-7 decoding and validation.
 *
 * Untrusted bytes: client mailbox names (bounded by the command length).
 */
#include <string.h>

#include "base64.h"
#include "imap_utf7.h"

static int
put_utf8(struct buf *out, unsigned long cp)
{
	char t[4];
	size_t n;

	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		t[0] = (char)(0xf0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, t, n);
}

int
imap_utf7_to_utf8(const char *in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;

	while (*p != '\0') {
		unsigned long bits = 0, hi = 0;
		int nbits = 0, units = 0;

		if (*p < 0x20 || *p > 0x7e)
			return -1;
		if (*p != '&') {
			if (buf_appendc(out, (char)*p++) < 0)
				return -1;
			continue;
		}
		p++;
		if (*p == '-') {
			if (buf_appendc(out, '&') < 0)
				return -1;
			p++;
			continue;
		}
		for (; *p != '-'; p++) {
			int v = base64_digit(*p, ',');
			if (v < 0)
				return -1;
			bits = (bits << 6) | (unsigned long)v;
			nbits += 6;
			if (nbits >= 16) {
				unsigned long u = (bits >> (nbits - 16)) & 0xffff;
				nbits -= 16;
				bits &= (1UL << nbits) - 1;
				units++;
				if (hi != 0) {
					if (u < 0xdc00 || u > 0xdfff)
						return -1;
					u = 0x10000 + ((hi - 0xd800) << 10) +
					    (u - 0xdc00);
					hi = 0;
				} else if (u >= 0xd800 && u <= 0xdbff) {
					hi = u;
					continue;
				} else if (u >= 0xdc00 && u <= 0xdfff)
					return -1;
				else if (u >= 0x20 && u <= 0x7e)
					return -1;  /* must be written directly */
				if (put_utf8(out, u) < 0)
					return -1;
			}
		}
		/* leftover bits must be zero padding shorter than 6 bits */
		if (units == 0 || hi != 0 || nbits >= 6 || bits != 0)
			return -1;
		p++;    /* '-' */
	}
	return 0;
}

int
imap_utf7_is_valid(const char *in)
{
	struct buf b;
	int ok;

	buf_init(&b, strlen(in) * 4 + 16);
	ok = imap_utf7_to_utf8(in, &b) == 0;
	buf_free(&b);
	return ok;
}

/* Next code point of strict UTF-8 (no overlongs, surrogates or values
 * above U+10FFFF): bytes used, or -1. */
static int
utf8_next(const unsigned char *p, unsigned long *cp_r)
{
	unsigned long cp;
	int n;

	if (p[0] < 0x80) {
		*cp_r = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		cp = p[0] & 0x1f;
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		cp = p[0] & 0x0f;
		n = 3;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		cp = p[0] & 0x07;
		n = 4;
	} else
		return -1;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;      /* also stops at the NUL */
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*cp_r = cp;
	return n;
}

static const char b64_mutf7[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int
imap_utf8_to_utf7(const char *in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;

	while (*p != '\0') {
		unsigned long cp, bits = 0;
		int n, nbits = 0;

		n = utf8_next(p, &cp);
		if (n < 0 || cp < 0x20 || cp == 0x7f)
			return -1;
		if (cp < 0x7f) {
			if (buf_appendc(out, (char)cp) < 0 ||
			    (cp == '&' && buf_appendc(out, '-') < 0))
				return -1;
			p++;
			continue;
		}
		/* a run of non-ASCII characters: UTF-16 in modified base64 */
		if (buf_appendc(out, '&') < 0)
			return -1;
		while (*p != '\0' && (n = utf8_next(p, &cp)) > 0 && cp >= 0x80) {
			unsigned long u[2];
			int nu = 1;
			if (cp >= 0x10000) {
				u[0] = 0xd800 + ((cp - 0x10000) >> 10);
				u[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
				nu = 2;
			} else
				u[0] = cp;
			for (int k = 0; k < nu; k++) {
				bits = (bits << 16) | u[k];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					if (buf_appendc(out, b64_mutf7[(bits >> nbits) & 0x3f]) < 0)
						return -1;
				}
				bits &= (1UL << nbits) - 1;
			}
			p += n;
		}
		if (n < 0)
			return -1;
		if (nbits > 0 && buf_appendc(out,
		    b64_mutf7[(bits << (6 - nbits)) & 0x3f]) < 0)
			return -1;
		if (buf_appendc(out, '-') < 0)
			return -1;
	}
	return 0;
}
