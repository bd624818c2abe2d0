/* fuzz-rules.c - libFuzzer target: arbitrary bytes as a SpamAssassin rule
 * file (parser, regex compilation, meta expressions, conditionals), then
 * the resulting rule set run over a fixed message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
    "From: \"A\" <a@example.org>\nTo: b@example.net\nSubject: free offer\n"
    "Content-Type: text/html\n\n<p>Buy <a href=\"http://x.example/\">now</a></p>\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset *rs;
	struct mime_msg m;
	struct spam_result r;
	char *text;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rs = ruleset_new();
	ruleset_load_text(rs, "fuzz.cf", text);   /* stops at an inner NUL */
	ruleset_finish(rs);
	mime_parse(&m, msg, sizeof(msg) - 1, NULL);
	spam_scan(rs, &m, 0.5, 0.5, &r);
	spam_result_free(&r);
	mime_free(&m);
	ruleset_free(&rs);
	free(text);
	return 0;
}
