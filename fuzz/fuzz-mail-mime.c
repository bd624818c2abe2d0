/*
 * fuzz-mail-mime.c - libFuzzer target for lib-mail, the MIME structure
 * parser shared by the spam analysis and IMAP: arbitrary bytes as a
 * message; every part's offsets must stay inside the input and inside
 * its parent, and each leaf body goes through the transfer decoders.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "mail_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mail_mime_limits lim = { 8, 50, 20 };
	const char *d = (const char *)data;
	struct mail_mime m;
	struct buf out;

	mail_mime_parse(&m, d, size, &lim);
	buf_init(&out, 1 << 20);
	for (unsigned i = 0; i < m.nparts; i++) {
		const struct mail_part *p = &m.parts[i];
		if (p->hdr_off + p->hdr_len != p->body_off ||
		    p->body_off + p->body_len > size)
			abort();
		if (p->parent >= 0) {
			const struct mail_part *q = &m.parts[p->parent];
			if (p->hdr_off < q->body_off ||
			    p->body_off + p->body_len > q->body_off + q->body_len)
				abort();
		}
		if (p->child >= 0)
			continue;
		buf_reset(&out);
		(void)mail_base64_decode(d + p->body_off, p->body_len, &out, NULL);
		buf_reset(&out);
		(void)mail_qp_decode(d + p->body_off, p->body_len, &out, 0, NULL);
		buf_reset(&out);
		(void)mail_header_get(d + p->hdr_off, p->hdr_len, "Subject", &out);
	}
	buf_free(&out);
	mail_mime_free(&m);
	return 0;
}
