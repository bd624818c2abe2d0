/*
 * sasl.c - base64 and SASL PLAIN parsing (see sasl.h).  Input: bytes
 * from unauthenticated SMTP/IMAP/POP3 clients.
 */
#include <string.h>

#include "base64.h"
#include "sasl.h"

int
sasl_b64_decode(const char *in, size_t len, struct buf *out)
{
	unsigned long acc = 0;
	size_t i, n = 0, pad = 0;
	unsigned char o[3];

	/* strip the padding: at most two '=' and only at the end */
	while (len > 0 && in[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (pad > 0 && (len + pad) % 4 != 0)
		return -1;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = base64_digit((unsigned char)in[i], '/');
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		if (++n == 4) {
			o[0] = (unsigned char)(acc >> 16);
			o[1] = (unsigned char)(acc >> 8);
			o[2] = (unsigned char)acc;
			if (buf_append(out, o, 3) < 0)
				return -1;
			n = 0;
			acc = 0;
		}
	}
	if (n == 2) {
		o[0] = (unsigned char)(acc >> 4);
		if (buf_append(out, o, 1) < 0)
			return -1;
	} else if (n == 3) {
		o[0] = (unsigned char)(acc >> 10);
		o[1] = (unsigned char)(acc >> 2);
		if (buf_append(out, o, 2) < 0)
			return -1;
	}
	return 0;
}

int
sasl_b64_encode(const void *in, size_t n, struct buf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i;
	char o[4];

	for (i = 0; i + 2 < n; i += 3) {
		o[0] = tab[p[i] >> 2];
		o[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		o[2] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		o[3] = tab[p[i + 2] & 63];
		if (buf_append(out, o, 4) < 0)
			return -1;
	}
	if (n - i == 1) {
		o[0] = tab[p[i] >> 2];
		o[1] = tab[(p[i] & 3) << 4];
		o[2] = o[3] = '=';
		if (buf_append(out, o, 4) < 0)
			return -1;
	} else if (n - i == 2) {
		o[0] = tab[p[i] >> 2];
		o[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		o[2] = tab[(p[i + 1] & 15) << 2];
		o[3] = '=';
		if (buf_append(out, o, 4) < 0)
			return -1;
	}
	return 0;
}

int
sasl_name_ok(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > SASL_FIELD_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= ' ' || c == 0x7f || c == ':')
			return 0;
	}
	return 1;
}

int
sasl_plain_parse(const char *msg, size_t len, const char **authcid_r,
    const char **passwd_r, const char **error_r)
{
	const char *nul1, *nul2, *authcid, *passwd;
	size_t zlen, clen, plen;

	nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL)
		goto bad;
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
	if (nul2 == NULL)
		goto bad;
	authcid = nul1 + 1;
	passwd = nul2 + 1;
	zlen = (size_t)(nul1 - msg);
	clen = (size_t)(nul2 - authcid);
	plen = len - (size_t)(passwd - msg);
	if (memchr(passwd, '\0', plen) != NULL)
		goto bad;
	if (!sasl_name_ok(authcid, clen) || plen > SASL_FIELD_MAX ||
	    zlen > SASL_FIELD_MAX) {
		*error_r = "invalid user name or password";
		return -2;
	}
	if (zlen != 0 && (zlen != clen || memcmp(msg, authcid, clen) != 0)) {
		*error_r = "authorization identity differs from the "
		    "authentication identity";
		return -2;
	}
	*authcid_r = authcid;
	*passwd_r = passwd;
	return 0;
bad:
	*error_r = "malformed PLAIN message";
	return -1;
}
