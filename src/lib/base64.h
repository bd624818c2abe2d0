/*
 * base64.h - the base64 digit alphabet, shared by every decoder (SASL,
 * MIME transfer encoding, IMAP's modified UTF-7).  Pure.
 */
#ifndef TEMPEST_BASE64_H
#define TEMPEST_BASE64_H

/* Value 0..63 of base64 digit c, or -1.  The 64th digit is '/' in
 * RFC 4648 base64 and ',' in modified UTF-7 (RFC 3501): pass it as c63. */
static inline int
base64_digit(unsigned char c, unsigned char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == c63)
		return 63;
	return -1;
}

#endif
