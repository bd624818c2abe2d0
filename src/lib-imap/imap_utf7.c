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
