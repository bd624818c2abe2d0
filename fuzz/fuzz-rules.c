/* fuzz-rules.c - libFuzzer target: arbitrary bytes as a SpamAssassin rule
 * file (parser, regex compilation, meta expressions, conditionals), then
 * the resulting rule set run over a message: the bytes after the first
 * NUL, or a fixed one.  Each input also runs with the Vectorscan
 * prefilter, which must not change which rules hit. */
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

/* Rules from text, finished, run over m (Vectorscan prefilter or not);
 * the hit names point into the rule set returned. */
static struct ruleset *
scan(const char *text, int prefilter, const struct mime_msg *m,
    struct spam_result *r)
{
	struct ruleset *rs = ruleset_new();

	ruleset_set_prefilter(rs, prefilter);
	ruleset_load_text(rs, "fuzz.cf", text);
	ruleset_finish(rs);
	spam_scan(rs, m, 0.5, 0.5, r);
	return rs;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	struct ruleset *rs, *ps;
	struct spam_result r, p;
	const uint8_t *nul;
	char *text;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* the rules stop at an inner NUL; the bytes after it, if any, are
	 * the message they run over (else a fixed one) */
	nul = memchr(data, '\0', size);
	if (nul != NULL)
		mime_parse(&m, (const char *)nul + 1, size - (size_t)(nul + 1 - data),
		    NULL);
	else
		mime_parse(&m, msg, sizeof(msg) - 1, NULL);
	rs = scan(text, 0, &m, &r);
	/* The Vectorscan prefilter only skips rules that cannot match: with
	 * it the same rules hit.  (Its literal databases compile in well
	 * under a millisecond, so every input pays it.) */
	ps = scan(text, 1, &m, &p);
	if (p.nhits != r.nhits)
		abort();
	for (size_t i = 0; i < r.nhits; i++)
		if (strcmp(p.hits[i].name, r.hits[i].name) != 0 ||
		    p.hits[i].count != r.hits[i].count)
			abort();
	spam_result_free(&p);
	ruleset_free(&ps);
	spam_result_free(&r);
	ruleset_free(&rs);
	mime_free(&m);
	free(text);
	return 0;
}
