/* fuzz-mime.c - libFuzzer target: arbitrary bytes as a message through
 * the whole analysis (headers, MIME tree, decodings, HTML, URIs). */
#include <stddef.h>
#include <stdint.h>

#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	struct mime_limits lim = mime_default_limits;

	lim.max_depth = 8;
	lim.max_parts = 50;
	mime_parse(&m, (const char *)data, size, &lim);
	mime_free(&m);
	return 0;
}
