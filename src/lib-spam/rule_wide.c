/*
 * rule_wide.c - patterns too large for PCRE2's 8-bit library.
 *
 * Debian builds PCRE2 with a link size of 2: a compiled 8-bit pattern
 * is at most 64 KB.  SpamAssassin's ReplaceTags rules spell each letter
 * of a phrase as every look-alike (<E> is some 50 byte classes and
 * UTF-8 sequences), and a few expand past that (__HOURS_DEADLINE,
 * __YOUR_PERSONAL, …: "regular expression is too large").  PCRE2's
 * 32-bit library always links with 4 bytes, so such a pattern is
 * compiled there instead, with the same options and without UTF: each
 * byte of the pattern and of the text is one code unit, which gives the
 * same matches at the same offsets (case folding, classes and \b are
 * the same ASCII tables in both widths).  The text is widened into a
 * scratch buffer kept across the calls of one text (a tflags-multiple
 * rule matches the same text again from later offsets).
 */
#include <stdlib.h>
#include <string.h>

#include "rules-private.h"
#include "mem.h"

struct wide_scratch {
	uint32_t *w;
	size_t cap;
	const char *s;          /* the text widened into w */
	size_t n;
	pcre2_match_data_32 *md;
	pcre2_match_context_32 *mctx;
};

pcre2_code_32 *
wide_compile(const char *pat, size_t len, uint32_t opts, int *err, PCRE2_SIZE *off)
{
	uint32_t *w = xcalloc(len ? len : 1, sizeof(*w));
	pcre2_code_32 *re;

	for (size_t i = 0; i < len; i++)
		w[i] = (unsigned char)pat[i];
	re = pcre2_compile_32(w, len, opts, err, off, NULL);
	free(w);
	return re;
}

/* A pattern through the 8-bit library, else, when it is only too large
 * there, through the 32-bit one (*wide_r); NULL with *err set when
 * neither compiles it. */
pcre2_code *
rule_compile(const char *pat, size_t len, uint32_t opts, int *err, PCRE2_SIZE *off,
    pcre2_code_32 **wide_r)
{
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len, opts, err, off, NULL);

	*wide_r = NULL;
	if (re == NULL && *err == PCRE2_ERROR_PATTERN_TOO_LARGE) {
		int err32;
		PCRE2_SIZE off32;
		*wide_r = wide_compile(pat, len, opts, &err32, &off32);
		if (*wide_r == NULL) {
			*err = err32;
			*off = off32;
		}
	}
	return re;
}

int
wide_match(struct ruleset *rs, const struct rule *r, const char *s, size_t n,
    size_t off, PCRE2_SIZE ov[2])
{
	struct wide_scratch *ws = rs->wide;
	int rc;

	if (ws == NULL) {
		ws = rs->wide = xcalloc(1, sizeof(*ws));
		ws->md = pcre2_match_data_create_32(1, NULL);
		ws->mctx = pcre2_match_context_create_32(NULL);
		pcre2_set_match_limit_32(ws->mctx, RULE_MATCH_LIMIT);
		pcre2_set_depth_limit_32(ws->mctx, RULE_DEPTH_LIMIT);
		pcre2_set_heap_limit_32(ws->mctx, RULE_HEAP_LIMIT);
	}
	/* a first match widens; a later one from an offset (tflags
	 * multiple) continues on the text widened for the first */
	if (off == 0 || ws->s != s || ws->n != n) {
		if (n > ws->cap) {
			free(ws->w);
			ws->cap = n + n / 2 + 64;
			ws->w = xcalloc(ws->cap, sizeof(*ws->w));
		}
		for (size_t i = 0; i < n; i++)
			ws->w[i] = (unsigned char)s[i];
		ws->s = s;
		ws->n = n;
	}
	if (r->jit)
		rc = pcre2_jit_match_32(r->re32, ws->w, n, off, 0, ws->md, ws->mctx);
	else
		rc = pcre2_match_32(r->re32, ws->w, n, off, 0, ws->md, ws->mctx);
	if (rc >= 0) {
		PCRE2_SIZE *o = pcre2_get_ovector_pointer_32(ws->md);
		ov[0] = o[0];
		ov[1] = o[1];
	}
	return rc;
}

void
wide_free(struct ruleset *rs)
{
	struct wide_scratch *ws = rs->wide;

	if (ws == NULL)
		return;
	free(ws->w);
	pcre2_match_data_free_32(ws->md);
	pcre2_match_context_free_32(ws->mctx);
	free(ws);
	rs->wide = NULL;
}
