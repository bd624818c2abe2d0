/*
 * login_plain.c - SASL PLAIN responses of IMAP and POP3 clients (see
 * login_plain.h).  Input: a line from an unauthenticated client.
 */
#include <string.h>

#include "login_plain.h"
#include "sasl.h"

enum login_plain_result
login_plain_decode(const char *resp, struct buf *msg, const char **authcid_r,
    const char **passwd_r)
{
	const char *err;

	if (strcmp(resp, "*") == 0)
		return LOGIN_PLAIN_ABORTED;
	if (sasl_b64_decode(resp, strlen(resp), msg) < 0 || msg->len == 0)
		return LOGIN_PLAIN_BAD_BASE64;
	switch (sasl_plain_parse(buf_cstr(msg), msg->len, authcid_r, passwd_r,
	    &err)) {
	case 0:
		return LOGIN_PLAIN_OK;
	case -1:
		return LOGIN_PLAIN_MALFORMED;
	default:
		return LOGIN_PLAIN_REFUSED;
	}
}
