/* fuzz-smtp-mime.c - libFuzzer target: the 8BITMIME -> 7bit downgrade
 * of a whole message (MIME structure from the original sender).  Checks
 * that the converted message has the structure of the original (same
 * parts, types and nesting, as lib-mail parses them; only an
 * absent Content-Type may have become an explicit text/plain; below a
 * message/global the downgrade encoded, nothing is compared) and that
 * every leaf the downgrade encoded has a 7-bit body. */
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
	unsigned i, j, *map;

	buf_init(&out, size * 3 + 4096);
	if (smtp_mime_downgrade((const char *)data, size, &out) < 0) {
		buf_free(&out);
		return 0;
	}
	mail_mime_parse(&a, (const char *)data, size, &lim);
	mail_mime_parse(&b, out.data, out.len, &lim);
	map = calloc(a.nparts + 1, sizeof(*map));
	/* parts in document order; map[] takes a's indexes to b's */
	for (i = 0, j = 0; i < a.nparts; i++, j++) {
		const struct mail_part *p = &a.parts[i], *q;
		unsigned same = ~MAIL_PART_DEFAULT_TYPE;
		int encoded;
		if (j >= b.nparts)
			abort();
		q = &b.parts[j];
		map[i] = j;
		if (p->depth >= SMTP_MIME_MAX_DEPTH)
			same &= ~MAIL_PART_UNCLOSED;    /* encoded as a leaf */
		if (p->depth != q->depth ||
		    (p->parent < 0 ? q->parent != -1 :
		    (int)map[p->parent] != q->parent) ||
		    ((p->flags ^ q->flags) & same) != 0 ||
		    strcmp(p->type, q->type) != 0 ||
		    strcmp(p->subtype, q->subtype) != 0)
			abort();
		encoded = q->encoding != NULL &&
		    strcasecmp(q->encoding, "quoted-printable") == 0 &&
		    (p->encoding == NULL ||
		    strcasecmp(p->encoding, "quoted-printable") != 0);
		if (encoded)
			for (size_t k = 0; k < q->body_len; k++)
				if ((unsigned char)out.data[q->body_off + k] & 0x80)
					abort();
		/* an encoded message/global (RFC 6532 3.5: a leaf for the
		 * downgrade) is still entered by lib-mail, now over its
		 * quoted-printable text, whose fields need not parse as the
		 * original's ("e/\x8b" became "e/=8B"): compare no deeper */
		if (encoded && (p->flags & MAIL_PART_MESSAGE)) {
			i = mail_mime_subtree_end(&a, i) - 1;
			j = mail_mime_subtree_end(&b, j) - 1;
		}
	}
	if (j != b.nparts)
		abort();
	free(map);
	mail_mime_free(&a);
	mail_mime_free(&b);
	buf_free(&out);
	return 0;
}
