/*
 * login_plain.c - SASL PLAIN responses of IMAP and POP3 clients (see
 * login_plain.h).  Input: a line from an unauthenticated client.
 */
#include <string.h>

#include "imap_message.h"
#include "login_plain.h"

enum login_plain_result
login_plain_decode(const char *resp, struct buf *msg, const char **authcid_r,
    const char **passwd_r)
{
	const char *authz, *authc, *pass;
	size_t n1, n2;

	if (strcmp(resp, "*") == 0)
		return LOGIN_PLAIN_ABORTED;
	if (imap_decode_base64_strict(resp, msg) < 0 || msg->len == 0)
		return LOGIN_PLAIN_BAD_BASE64;
	authz = msg->data;
	n1 = strnlen(authz, msg->len);
	if (n1 >= msg->len)
		return LOGIN_PLAIN_MALFORMED;
	authc = authz + n1 + 1;
	n2 = strnlen(authc, msg->len - n1 - 1);
	if (n1 + 1 + n2 >= msg->len)
		return LOGIN_PLAIN_MALFORMED;
	pass = authc + n2 + 1;
	if (strnlen(pass, msg->len - n1 - n2 - 2) != msg->len - n1 - n2 - 2 ||
	    (*authz != '\0' && strcmp(authz, authc) != 0))
		return LOGIN_PLAIN_REFUSED;
	*authcid_r = authc;
	*passwd_r = pass;
	return LOGIN_PLAIN_OK;
}
