/*
 * fuzz-login-plain.c - libFuzzer target for the SASL PLAIN responses of
 * IMAP and POP3 clients (lib-login/login_plain.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "login_plain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf line, msg;
	const char *u, *p;

	/* a client line holds no NUL: the daemons pass it as a C string */
	buf_init(&line, 8192);
	buf_init(&msg, 2048);
	if (buf_append(&line, data, strnlen((const char *)data, size)) == 0 &&
	    login_plain_decode(buf_cstr(&line), &msg, &u, &p) == LOGIN_PLAIN_OK &&
	    (u < msg.data || p > msg.data + msg.len ||
	    strlen(p) != (size_t)(msg.data + msg.len - p)))
		__builtin_trap();
	buf_free(&line);
	buf_free(&msg);
	return 0;
}
