/*
 * fuzz-sasl.c - libFuzzer target for the SASL input parsers: base64
 * decoding and the PLAIN message split (bytes from SMTP/IMAP clients).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	const char *u, *p, *err;

	buf_init(&out, 2048);
	if (sasl_b64_decode((const char *)data, size, &out) == 0) {
		if (out.len > 0 && sasl_plain_parse(out.data, out.len, &u, &p,
		    &err) == 0 && (strlen(u) > SASL_FIELD_MAX ||
		    strlen(p) > SASL_FIELD_MAX))
			__builtin_trap();
	}
	buf_reset(&out);
	(void)sasl_plain_parse(buf_cstr(&out), 0, &u, &p, &err);
	{
		/* raw bytes as a PLAIN message (NUL-terminated copy) */
		struct buf raw;
		buf_init(&raw, 4096);
		if (buf_append(&raw, data, size) == 0)
			(void)sasl_plain_parse(raw.data != NULL ? raw.data : "",
			    raw.len, &u, &p, &err);
		buf_free(&raw);
	}
	buf_free(&out);
	return 0;
}
