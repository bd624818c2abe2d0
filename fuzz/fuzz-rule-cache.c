/* fuzz-rule-cache.c - libFuzzer target: arbitrary bytes as the payload of
 * a compiled-rule cache file (rule_cache.c).  The target writes a valid
 * header with the payload's checksum around them, so the parser behind
 * the checksum is what gets fuzzed; PCRE2's and Vectorscan's own
 * deserializers are not run (decode_blobs = 0: patterns are compiled from
 * their text), as they trust their input and are only ever given files
 * whose owner and mode say only this user or root wrote them; the walk of
 * a pattern section that bounds what they read runs, without deciding
 * (the seeds hold no real PCRE2 blobs).  An accepted rule set is run over
 * a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "rules-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
    "From: \"A\" <a@example.org>\nTo: b@example.net\nSubject: free offer\n"
    "Content-Type: text/html\n\n<p>Buy <a href=\"http://x.example/\">now</a></p>\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset *rs;
	unsigned char *file;
	uint32_t version = RULE_CACHE_VERSION, flags = 0;
	uint64_t sum, len = size;
	const char *err;

	if (size > 65536)               /* as fuzz-rules: meta chains recurse */
		return 0;
	file = malloc(size + 32);
	if (file == NULL)
		return 0;
	sum = cache_hash(data, size, version);
	memcpy(file, "TMPSRC\r\n", 8);
	memcpy(file + 8, &version, 4);
	memcpy(file + 12, &flags, 4);
	memcpy(file + 16, &sum, 8);
	memcpy(file + 24, &len, 8);
	memcpy(file + 32, data, size);
	rs = ruleset_new();
	ruleset_set_prefilter(rs, 0);
	if (ruleset_cache_parse(rs, file, size + 32, NULL, 0, &err) == 0) {
		struct mime_msg m;
		struct spam_result r;
		mime_parse(&m, msg, sizeof(msg) - 1, NULL);
		spam_scan(rs, &m, 0.5, 0.5, &r);
		spam_result_free(&r);
		mime_free(&m);
	}
	ruleset_free(&rs);
	free(file);
	return 0;
}
