/* fuzz-rule-literals.c - libFuzzer target for the required-literal
 * extractor (rule_literal.c), with its correctness property as the
 * oracle.  Input: one byte of regex flags (i, m, s), the pattern up to
 * the first NUL, then a subject.  The extractor must not crash on any
 * pattern; and when PCRE2 compiles the pattern and matches the subject,
 * in every literal group one of its literals must occur in the subject
 * (caseless if so marked), or the literal prefilter, which runs a rule
 * only when each of its groups is seen, would hide a hit: abort(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
occurs(const struct pf_lit *l, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i + l->len <= n; i++)
		if (l->caseless ? strncasecmp((const char *)s + i, l->s, l->len) == 0 &&
		    memchr(s + i, '\0', l->len) == NULL :
		    memcmp(s + i, l->s, l->len) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t flag[] = { PCRE2_CASELESS, PCRE2_MULTILINE, PCRE2_DOTALL };
	uint32_t opts = 0;
	const uint8_t *nul;
	char *pat;
	struct pf_lit *v;
	size_t n, plen;
	pcre2_code *re;
	int err;
	PCRE2_SIZE off;

	if (size < 1 || size > 8192)
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (data[0] & (1u << i))
			opts |= flag[i];
	data++;
	size--;
	nul = memchr(data, '\0', size);
	plen = nul ? (size_t)(nul - data) : size;
	pat = malloc(plen + 1);
	if (pat == NULL)
		return 0;
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	if (rule_literals(pat, opts, 3, &v, &n) != 1) {
		free(pat);
		return 0;
	}
	if (n == 0)
		abort();                /* 1 means a non-empty set */
	for (size_t i = 0; i < n; i++)
		if (v[i].len < 3 || strlen(v[i].s) != v[i].len || v[i].grp >= PF_LIT_GROUPS)
			abort();
	re = pcre2_compile((PCRE2_SPTR)pat, plen, opts, &err, &off, NULL);
	if (re != NULL) {
		const uint8_t *s = nul ? nul + 1 : data + size;
		size_t sn = (size_t)(data + size - s);
		pcre2_match_data *md = pcre2_match_data_create(1, NULL);
		pcre2_match_context *mc = pcre2_match_context_create(NULL);
		int hit = 0;

		pcre2_set_match_limit(mc, 100000);
		pcre2_set_depth_limit(mc, 1000);
		if (pcre2_match(re, s, sn, 0, 0, md, mc) >= 0) {
			for (unsigned g = 0; g < PF_LIT_GROUPS; g++) {
				int any = 0;
				hit = 0;
				for (size_t i = 0; i < n && !hit; i++)
					if (v[i].grp == g) {
						any = 1;
						hit = occurs(&v[i], s, sn);
					}
				if (any && !hit)
					abort();
			}
		}
		pcre2_match_context_free(mc);
		pcre2_match_data_free(md);
		pcre2_code_free(re);
	}
	rule_literals_free(v, n);
	free(pat);
	return 0;
}
