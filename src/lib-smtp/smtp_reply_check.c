/*
 * smtp_reply_check.c - the check of a reply line that another process
 * (the content filter) asks smtpd to send to its client.  The bytes come
 * from that process, which parses hostile mail: a compromised filter must
 * not inject reply lines, a reply of another class or control characters.
 */
#include <string.h>

#include "smtp_reply_check.h"

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
smtp_reply_check(char want, const char *reply, char *out, size_t outsize,
    const char **why_r)
{
	size_t i, n = strlen(reply);

	if (outsize > 0)
		out[0] = '\0';
	if (outsize <= SMTP_REPLY_CHECK_MAX) {
		*why_r = "output buffer too small";
		return -1;
	}
	if (n > SMTP_REPLY_CHECK_MAX) {
		*why_r = "reply too long";
		return -1;
	}
	if (strcspn(reply, "\r\n") != n) {
		*why_r = "CR or LF in the reply";
		return -1;
	}
	if (n < 3 || reply[0] != want || !is_digit(reply[1]) ||
	    !is_digit(reply[2]) || (n > 3 && reply[3] != ' ')) {
		*why_r = "reply code does not suit the action";
		return -1;
	}
	if (n > 5 && is_digit(reply[4]) && reply[5] == '.' && reply[4] != want) {
		*why_r = "enhanced status code does not suit the action";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)reply[i];
		out[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	out[n] = '\0';
	return 0;
}
