/* fuzz-smtp-mime.c - libFuzzer target: the 8BITMIME -> 7bit downgrade
 * of a whole message (MIME structure from the original sender).  Checks
 * that the converted message has the structure of the original (same
 * parts, types and nesting, as lib-mail parses them; only an
 * absent Content-Type may have become an explicit text/plain) and that every
 * leaf the downgrade encoded has a 7-bit body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_mime.h"
#include "smtp_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mail_mime_limits lim = { SMTP_MIME_MAX_DEPTH,
	    SMTP_MIME_MAX_PARTS, 0 };
	struct mail_mime a, b;
	struct buf out;

	buf_init(&out, size * 3 + 4096);
	if (smtp_mime_downgrade((const char *)data, size, &out) < 0) {
		buf_free(&out);
		return 0;
	}
	mail_mime_parse(&a, (const char *)data, size, &lim);
	mail_mime_parse(&b, out.data, out.len, &lim);
	if (a.nparts != b.nparts)
		abort();
	for (unsigned i = 0; i < a.nparts; i++) {
		const struct mail_part *p = &a.parts[i], *q = &b.parts[i];
		unsigned same = ~MAIL_PART_DEFAULT_TYPE;
		if (p->depth >= SMTP_MIME_MAX_DEPTH)
			same &= ~MAIL_PART_UNCLOSED;    /* encoded as a leaf */
		if (p->depth != q->depth || p->parent != q->parent ||
		    ((p->flags ^ q->flags) & same) != 0 ||
		    strcmp(p->type, q->type) != 0 ||
		    strcmp(p->subtype, q->subtype) != 0)
			abort();
		if (q->encoding != NULL &&
		    strcasecmp(q->encoding, "quoted-printable") == 0 &&
		    (p->encoding == NULL ||
		    strcasecmp(p->encoding, "quoted-printable") != 0))
			for (size_t k = 0; k < q->body_len; k++)
				if ((unsigned char)out.data[q->body_off + k] & 0x80)
					abort();
	}
	mail_mime_free(&a);
	mail_mime_free(&b);
	buf_free(&out);
	return 0;
}
