/* fuzz-mime.c - libFuzzer target: arbitrary bytes as a message through
 * the whole analysis (headers, MIME tree, decodings, HTML in either
 * reading, URIs), then
 * the helpers the rules run on what it found: mime_addr and
 * mime_addr_name on every top-level header value (From:/To: rules with
 * :addr and :name), uri_host on every extracted URI (uri rules, lists). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mime.h"
#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	struct mime_limits lim = mime_default_limits;

	lim.max_depth = 8;
	lim.max_parts = 50;
	lim.sa_text = (int)(size & 1);  /* both readings of HTML */
	mime_parse(&m, (const char *)data, size, &lim);
	for (size_t i = 0; i < m.nhdrs; i++) {
		free(mime_addr(m.hdrs[i].value));
		free(mime_addr_name(m.hdrs[i].value));
	}
	for (size_t i = 0; i < m.uris.n; i++)
		free(uri_host(m.uris.v[i]));
	mime_free(&m);
	return 0;
}
