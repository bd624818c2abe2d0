/*
 * rule_prefilter.c - the Vectorscan (Hyperscan API) multi-pattern
 * prefilter for header, body, rawbody and uri rules.
 *
 * Two kinds of databases per kind of text.  First, every rule whose
 * pattern has required literals (rule_literal.c: up to four groups, one
 * literal of each occurs in every match) contributes them to ONE
 * literal database (hs_compile_lit_multi, caseless where the pattern
 * is): it compiles in milliseconds and each text is scanned once for
 * all of them.  Body and rawbody ones also record the lines their
 * literals end on (PCRE2 then runs on those lines only), header ones
 * count only inside the rule's own header text.  Second, the body,
 * rawbody and uri rules without literals are compiled in
 * HS_FLAG_PREFILTER mode into databases of PF_CHUNK patterns:
 * Vectorscan may report a rule that PCRE2 would not match (lookarounds,
 * back references are approximated), never the reverse.  A scan marks
 * the candidate rules; only those run through PCRE2 (rule_eval.c),
 * which stays the only judge of a hit.  A pattern with neither form is
 * simply not prefiltered (always a candidate).
 *
 * PCRE2 runs a body rule on each paragraph, a rawbody rule on each line,
 * a uri rule on each URI and a header rule on one header text (after
 * :raw, :addr, :name, ALL, ToCc...).  Vectorscan instead scans each kind
 * once, the pieces joined by "\n", with HS_FLAG_MULTILINE: a match
 * inside a piece is still a match there (^ and $ match at the "\n"),
 * matches across pieces only add candidates.  Patterns with \A, \z, \Z
 * or \G would not survive the joining and are left out of the
 * prefilter-mode databases (a literal is found whatever the joining).
 *
 * Untrusted bytes: the message texts scanned here; Vectorscan scans
 * them in block mode with no size limit beyond the MIME limits.
 * Built only when libhs (libvectorscan-dev) is found (HAVE_HS).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mem.h"
#include "rules-private.h"

#ifdef HAVE_HS
#include <hs/hs.h>

#define PF_MAX_PATTERN 65536      /* bytes; the longest SpamAssassin one is 38 k */
#define PF_LIT_MIN 3             /* shortest literal worth a prefilter */

static int
pf_kind(const struct rule *r)
{
	switch (r->type) {
	case RULE_BODY: return PF_BODY;
	case RULE_RAWBODY: return PF_RAWBODY;
	case RULE_URI: return PF_URI;
	case RULE_HEADER: return r->exists ? -1 : PF_HEADER;
	default: return -1;
	}
}

/* Does this rule take part (it would run and is a plain pattern)? */
static int
pf_wanted(const struct rule *r)
{
	if (r->bad || r->re == NULL || r->eval >= 0 || r->eval_unknown || r->unneeded ||
	    rule_is_skipped(r))
		return 0;
	return pf_kind(r) >= 0;
}

static const char *
pf_pattern(const struct rule *r)
{
	return r->pat != NULL ? r->pat : r->src;
}

static unsigned
pf_flags(const struct rule *r, int kind)
{
	/* no HS_FLAG_SINGLEMATCH: with it Vectorscan 5.4.9 (Debian 12)
	 * reports nothing for some one-byte patterns (/q/, /q+/) matching
	 * only past the first 64 bytes of the text, a rule PCRE2 hits
	 * (test_prefilter_one_byte); every match now calls pf_on_match,
	 * which only sets the rule's candidate byte */
	unsigned f = HS_FLAG_PREFILTER;

	if (r->opts & PCRE2_CASELESS)
		f |= HS_FLAG_CASELESS;
	if (r->opts & PCRE2_DOTALL)
		f |= HS_FLAG_DOTALL;
	(void)kind;
	f |= HS_FLAG_MULTILINE;         /* texts are scanned joined by \n */
	return f;
}

/* A class of bytes >= 0x80 only, written as \xHH escapes, ranges of
 * them or raw bytes ("[\xc3]", "[\x80-\x8f\xb0]": the UTF-8 pieces of
 * the ReplaceTags "fuzzy" letters): its length, else 0. */
static size_t
pf_high_class(const char *p)
{
	size_t i = 1;
	int items = 0;

	for (;;) {
		unsigned char c = (unsigned char)p[i];
		if (c == ']' && items > 0)
			return i + 1;
		if (c >= 0x80) {
			i++;
		} else if (c == '\\' && p[i + 1] == 'x' && isxdigit((unsigned char)p[i + 2]) &&
		    isxdigit((unsigned char)p[i + 3]) && p[i + 2] >= '8') {
			i += 4;
		} else if (c == '-' && items > 0 && p[i + 1] != ']') {
			i++;
			continue;       /* a range: its end is checked next */
		} else {
			return 0;
		}
		items++;
	}
}

/*
 * The prefilter form of a pattern: every counted repeat X{a,b} (also
 * {a}, {a,}) outside a character class becomes X* — a superset, so
 * still a valid prefilter, and far cheaper for Vectorscan to compile
 * (large counted repeats and the ReplaceTags "fuzzy word" patterns cost
 * 20-1200 ms each as written; one database of the whole SpamAssassin
 * set took 38 s).  Escapes with braces (\x{..}, \p{..}, \N{..},
 * \o{..}, \g{..}, \k{..}) and classes are copied as they are.
 * Returns NULL for /x patterns (comments could hide a brace).
 */
static char *
pf_widen(const char *pat, uint32_t opts)
{
	size_t n = strlen(pat), o = 0, hc;
	char *out;
	int cls = 0;

	if (opts & PCRE2_EXTENDED)
		return NULL;
	/* a class of one raw byte (3 bytes) becomes 11: at most x4 */
	out = xmalloc(4 * n + 1);
	for (size_t i = 0; i < n; ) {
		char c = pat[i];
		if (c == '\\' && i + 1 < n && !cls && strchr("AzZ", pat[i + 1]) != NULL) {
			/* start/end of the text: of a piece, in the joined text
			 * a line start/end (HS_FLAG_MULTILINE), a superset */
			out[o++] = pat[i + 1] == 'A' ? '^' : '$';
			i += 2;
			continue;
		}
		if (c == '\\' && i + 1 < n) {
			size_t k = i + 2;
			if (strchr("xpPNogk", pat[i + 1]) != NULL && k < n && pat[k] == '{') {
				const char *e = strchr(pat + k, '}');
				k = e ? (size_t)(e - pat) + 1 : n;
			}
			memcpy(out + o, pat + i, k - i);
			o += k - i;
			i = k;
			continue;
		}
		if (cls) {
			if (c == ']')
				cls = 0;
			out[o++] = c;
			i++;
			continue;
		}
		if (c == '[' && (hc = pf_high_class(pat + i)) > 0) {
			static const char high[] = "[\\x80-\\xff]";
			memcpy(out + o, high, sizeof(high) - 1);
			o += sizeof(high) - 1;
			i += hc;
			continue;
		}
		if (c == '[') {
			/* a ']' right after '[' or '[^' is a literal */
			out[o++] = pat[i++];
			if (i < n && pat[i] == '^')
				out[o++] = pat[i++];
			if (i < n && pat[i] == ']')
				out[o++] = pat[i++];
			cls = 1;
			continue;
		}
		if (c == '{' && i + 1 < n && pat[i + 1] >= '0' && pat[i + 1] <= '9') {
			size_t k = i + 1;
			int least = 0;          /* the minimum count is >= 1 */
			while (k < n && pat[k] >= '0' && pat[k] <= '9')
				least |= pat[k++] != '0';
			if (k < n && pat[k] == ',')
				for (k++; k < n && pat[k] >= '0' && pat[k] <= '9'; k++)
					;
			if (k < n && pat[k] == '}' && o > 0) {
				out[o++] = least ? '+' : '*';
				i = k + 1;
				continue;
			}
		}
		out[o++] = c;
		i++;
	}
	out[o] = '\0';
	return out;
}

/* Patterns Vectorscan must not see: anchors that mean "start/end of
 * buffer" (the scanned text is several pieces joined), and very long
 * patterns (their compile time). */
static int
pf_excluded(const char *pat)
{
	if (strlen(pat) > PF_MAX_PATTERN)
		return 1;
	for (const char *p = pat; (p = strchr(p, '\\')) != NULL; p += 2) {
		if (p[1] == 'G')
			return 1;
		if (p[1] == '\0')
			break;
	}
	return 0;
}

static void
pf_db_free(struct pf_db *d)
{
	if (d->db != NULL)
		hs_free_database(d->db);
	d->db = NULL;
	FREE(d->rule);
	FREE(d->grp);
	d->n = 0;
}

/*
 * Compile one database from n patterns.  If the set fails, the pattern
 * the error names is dropped and the rest compiled again.  Takes
 * ownership of expr[]; rule[] is kept in step.
 */
static void
pf_compile(struct ruleset *rs, int kind, char **expr, unsigned *flags,
    unsigned *rule, size_t n)
{
	unsigned *ids = xcalloc(n ? n : 1, sizeof(*ids));
	hs_database_t *db = NULL;

	while (n > 0) {
		hs_compile_error_t *cerr = NULL;
		int bad;

		for (size_t k = 0; k < n; k++)
			ids[k] = (unsigned)k;
		if (hs_compile_multi((const char *const *)expr, flags, ids, (unsigned)n,
		    HS_MODE_BLOCK, NULL, &db, &cerr) == HS_SUCCESS)
			break;
		db = NULL;
		bad = cerr->expression;
		hs_free_compile_error(cerr);
		if (bad < 0 || (size_t)bad >= n) {
			/* not one pattern's fault: no prefilter for these */
			break;
		}
		free(expr[bad]);
		memmove(expr + bad, expr + bad + 1, (n - (size_t)bad - 1) * sizeof(*expr));
		memmove(flags + bad, flags + bad + 1, (n - (size_t)bad - 1) * sizeof(*flags));
		memmove(rule + bad, rule + bad + 1, (n - (size_t)bad - 1) * sizeof(*rule));
		n--;
	}
	for (size_t k = 0; k < n; k++)
		free(expr[k]);
	free(ids);
	if (db == NULL)
		return;
	rs->pf = xreallocarray(rs->pf, rs->npf + 1, sizeof(*rs->pf));
	rs->pf[rs->npf].kind = kind;
	rs->pf[rs->npf].lit = 0;
	rs->pf[rs->npf].grp = NULL;
	rs->pf[rs->npf].db = db;
	rs->pf[rs->npf].rule = xreallocarray(NULL, n, sizeof(unsigned));
	memcpy(rs->pf[rs->npf].rule, rule, n * sizeof(unsigned));
	rs->pf[rs->npf].n = (unsigned)n;
	rs->npf++;
}

/*
 * The literal database of one kind: every required literal of every
 * rule that has a set (rule_literals), one pattern id per literal, all
 * in one Vectorscan literal database (thousands of literals compile in
 * milliseconds and scan in one pass).  Takes ownership of lit[].
 */
static void
pf_compile_lit(struct ruleset *rs, int kind, char **lit, size_t *len, unsigned *flags,
    unsigned *rule, unsigned char *grp, size_t n)
{
	unsigned *ids = xcalloc(n ? n : 1, sizeof(*ids));
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;

	for (size_t k = 0; k < n; k++)
		ids[k] = (unsigned)k;
	if (n > 0 && hs_compile_lit_multi((const char *const *)lit, flags, ids, len,
	    (unsigned)n, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
		/* not expected for plain literals: these rules just run */
		log_warn("spam rules: Vectorscan literal database: %s",
		    cerr != NULL ? cerr->message : "error");
		hs_free_compile_error(cerr);
		db = NULL;
	}
	for (size_t k = 0; k < n; k++)
		free(lit[k]);
	free(ids);
	if (db == NULL)
		return;
	rs->pf = xreallocarray(rs->pf, rs->npf + 1, sizeof(*rs->pf));
	rs->pf[rs->npf].kind = kind;
	rs->pf[rs->npf].lit = 1;
	rs->pf[rs->npf].db = db;
	rs->pf[rs->npf].rule = xreallocarray(NULL, n, sizeof(unsigned));
	memcpy(rs->pf[rs->npf].rule, rule, n * sizeof(unsigned));
	rs->pf[rs->npf].grp = xmalloc(n);
	memcpy(rs->pf[rs->npf].grp, grp, n);
	rs->pf[rs->npf].n = (unsigned)n;
	rs->npf++;
}

/*
 * The databases of one kind.  A rule with a required-literal set goes
 * into the one literal database; the others, as a fallback, into
 * databases of PF_CHUNK prefilter-mode patterns (Vectorscan's compile
 * time grows faster than linearly with such a set: the whole
 * SpamAssassin body set in one database took 5x the sum of its parts).
 * Patterns it cannot parse alone are dropped first (hs_expression_info).
 */
static void
pf_build_kind(struct ruleset *rs, int kind)
{
	char *expr[PF_CHUNK];
	unsigned flags[PF_CHUNK], rule[PF_CHUNK];
	size_t n = 0;
	char **lit = NULL;
	size_t *llen = NULL, nlit = 0;
	unsigned *lflags = NULL, *lrule = NULL;
	unsigned char *lgrp = NULL;

	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		const char *pat;
		char *e;
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *cerr = NULL;
		struct pf_lit *lv;
		size_t nlv;
		unsigned f;

		if (!pf_wanted(r) || pf_kind(r) != kind)
			continue;
		pat = pf_pattern(r);
		if (rule_literals(pat, r->opts, PF_LIT_MIN, &lv, &nlv) == 1) {
			lit = xreallocarray(lit, nlit + nlv, sizeof(*lit));
			llen = xreallocarray(llen, nlit + nlv, sizeof(*llen));
			lflags = xreallocarray(lflags, nlit + nlv, sizeof(*lflags));
			lrule = xreallocarray(lrule, nlit + nlv, sizeof(*lrule));
			lgrp = xreallocarray(lgrp, nlit + nlv, sizeof(*lgrp));
			for (size_t k = 0; k < nlv; k++) {
				lit[nlit] = lv[k].s;
				llen[nlit] = lv[k].len;
				/* body, rawbody, header: every occurrence, for
				 * the lines or the header text it is in; uri: the
				 * first is enough */
				lflags[nlit] = (kind == PF_URI ? HS_FLAG_SINGLEMATCH : 0) |
				    (lv[k].caseless ? HS_FLAG_CASELESS : 0);
				lgrp[nlit] = (unsigned char)lv[k].grp;
				lrule[nlit++] = (unsigned)i;
			}
			free(lv);
			continue;
		}
		/* header rules without literals: PCRE2 on the rule's own short
		 * text is cheaper than prefilter-mode databases scanning the
		 * joined header texts (several KB: ALL, ALL:raw and every
		 * single header), which cost a third of the scan time */
		if (kind == PF_HEADER || pf_excluded(pat))
			continue;
		e = pf_widen(pat, r->opts);
		if (e == NULL)
			e = xasprintf("(?x)%s", pat);
		f = pf_flags(r, kind);
		if (hs_expression_info(e, f, &info, &cerr) != HS_SUCCESS) {
			hs_free_compile_error(cerr);
			free(e);
			continue;
		}
		/* a pattern that can match the empty string matches everywhere */
		if (info->min_width == 0) {
			free(info);
			free(e);
			continue;
		}
		free(info);
		expr[n] = e;
		flags[n] = f;
		rule[n] = (unsigned)i;
		if (++n == PF_CHUNK) {
			pf_compile(rs, kind, expr, flags, rule, n);
			n = 0;
		}
	}
	if (n > 0)
		pf_compile(rs, kind, expr, flags, rule, n);
	if (nlit > 0)
		pf_compile_lit(rs, kind, lit, llen, lflags, lrule, lgrp, nlit);
	free(lit);
	free(llen);
	free(lflags);
	free(lrule);
	free(lgrp);
}

void
prefilter_build(struct ruleset *rs)
{
	prefilter_free(rs);
	if (!rs->use_hs)
		return;
	for (int k = 0; k < PF_N; k++)
		pf_build_kind(rs, k);
	if (prefilter_finish(rs) < 0)
		log_warn("spam rules: Vectorscan scratch allocation failed; no prefilter");
}

int
prefilter_finish(struct ruleset *rs)
{
	if (rs->npf == 0)
		return 0;
	for (size_t j = 0; j < rs->npf; j++)
		if (hs_alloc_scratch(rs->pf[j].db, (hs_scratch_t **)&rs->scratch) != HS_SUCCESS) {
			prefilter_free(rs);
			return -1;
		}
	rs->cand = xcalloc(rs->n ? rs->n : 1, 1);
	rs->need = xcalloc(rs->n ? rs->n : 1, 1);
	rs->seen = xcalloc(rs->n ? rs->n : 1, 1);
	rs->lhead = xcalloc(rs->n ? rs->n : 1, sizeof(*rs->lhead));
	rs->ltail = xcalloc(rs->n ? rs->n : 1, sizeof(*rs->ltail));
	for (size_t j = 0; j < rs->npf; j++)
		for (unsigned i = 0; i < rs->pf[j].n; i++) {
			unsigned r = rs->pf[j].rule[i];
			rs->v[r].pf = rs->pf[j].lit &&
			    (rs->pf[j].kind == PF_BODY || rs->pf[j].kind == PF_RAWBODY) ? 2 : 1;
			if (rs->pf[j].grp != NULL)
				rs->need[r] |= (unsigned char)(1u << (rs->pf[j].grp[i] & 7));
		}
	return 0;
}

void
prefilter_free(struct ruleset *rs)
{
	for (size_t j = 0; j < rs->npf; j++)
		pf_db_free(&rs->pf[j]);
	FREE(rs->pf);
	rs->npf = 0;
	if (rs->scratch != NULL)
		hs_free_scratch(rs->scratch);
	rs->scratch = NULL;
	FREE(rs->cand);
	FREE(rs->need);
	FREE(rs->seen);
	FREE(rs->lhead);
	FREE(rs->ltail);
	FREE(rs->lnode);
	rs->nlnode = rs->caplnode = 0;
	for (size_t i = 0; i < rs->n; i++)
		rs->v[i].pf = 0;
}

struct pf_ctx {
	struct ruleset *rs;
	const struct pf_db *d;
	const char *s;          /* the scanned text */
	size_t pos, line;       /* '\n' before s + pos: line */
	const size_t *starts;   /* header texts: piece i starts at starts[i] */
	const int *keys;        /* and is the text of header key keys[i] */
	size_t npieces;
};

/* The header key of the piece byte `last` is in, -1 if none. */
static int
pf_piece_key(const struct pf_ctx *c, size_t last)
{
	size_t lo = 0, hi = c->npieces;

	while (lo < hi) {               /* the last piece starting <= last */
		size_t mid = lo + (hi - lo) / 2;
		if (c->starts[mid] <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? -1 : c->keys[lo - 1];
}

#define PF_MAX_LINE_NODES (1u << 20)

/* Note that rule r has a literal ending on the line of byte `last`. */
static void
pf_note_line(struct pf_ctx *c, unsigned r, size_t last)
{
	struct ruleset *rs = c->rs;
	struct pf_line *t;

	if (rs->lines_over)
		return;
	if (last < c->pos) {            /* matches come by end offset; if not */
		c->pos = 0;
		c->line = 0;
	}
	while (c->pos < last) {
		const char *nl = memchr(c->s + c->pos, '\n', last - c->pos);
		if (nl == NULL) {
			c->pos = last;
			break;
		}
		c->line++;
		c->pos = (size_t)(nl - c->s) + 1;
	}
	t = rs->lhead[r] ? &rs->lnode[rs->ltail[r]] : NULL;
	if (t != NULL && t->line == c->line)
		return;
	if (t != NULL && t->line > c->line) {
		rs->lines_over = 1;     /* out of order: give up the lists */
		return;
	}
	if (rs->nlnode == rs->caplnode) {
		if (rs->caplnode >= PF_MAX_LINE_NODES) {
			rs->lines_over = 1;
			return;
		}
		rs->caplnode = rs->caplnode ? 2 * rs->caplnode : 1024;
		rs->lnode = xreallocarray(rs->lnode, rs->caplnode, sizeof(*rs->lnode));
	}
	/* (t is stale after the realloc: index again) */
	rs->lnode[rs->nlnode].line = (unsigned)c->line;
	rs->lnode[rs->nlnode].next = 0;
	if (rs->lhead[r] != 0)
		rs->lnode[rs->ltail[r]].next = (unsigned)rs->nlnode + 1;
	else
		rs->lhead[r] = (unsigned)rs->nlnode + 1;
	rs->ltail[r] = (unsigned)rs->nlnode++;
}

static int
pf_on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	struct pf_ctx *c = arg;

	(void)from; (void)flags;
	if (id < c->d->n) {
		unsigned r = c->d->rule[id];
		if (c->d->grp == NULL) {
			c->rs->cand[r] = 1;
		} else {
			if (c->keys != NULL && to > 0 &&
			    pf_piece_key(c, (size_t)to - 1) != c->rs->v[r].hkey)
				return 0;       /* in another header's text */
			if (c->rs->v[r].pf == 2 && to > 0)
				pf_note_line(c, r, (size_t)to - 1);
			/* a literal rule: a candidate once every group was seen */
			c->rs->seen[r] |= (unsigned char)(1u << (c->d->grp[id] & 7));
			if (c->rs->seen[r] == c->rs->need[r])
				c->rs->cand[r] = 1;
		}
	}
	return 0;
}

int
prefilter_active(const struct ruleset *rs, int kind)
{
	if (rs->cand == NULL)
		return 0;
	for (size_t j = 0; j < rs->npf; j++)
		if (rs->pf[j].kind == kind)
			return 1;
	return 0;
}

void
prefilter_reset(struct ruleset *rs)
{
	if (rs->cand != NULL) {
		memset(rs->cand, 0, rs->n);
		memset(rs->seen, 0, rs->n);
		memset(rs->lhead, 0, rs->n * sizeof(*rs->lhead));
		rs->nlnode = 0;
		rs->lines_over = 0;
	}
}

void
prefilter_scan(struct ruleset *rs, int kind, const char *s, size_t n,
    const size_t *starts, const int *keys, size_t npieces)
{
	if (rs->cand == NULL)
		return;
	for (size_t j = 0; j < rs->npf; j++) {
		struct pf_ctx c = { rs, &rs->pf[j], s, 0, 0, starts, keys, npieces };
		if (rs->pf[j].kind != kind)
			continue;
		/* an error (or a text too big to scan) leaves rules unmarked:
		 * mark them all, on every line (PCRE2 decides) */
		if (n > 0xffffffffu ||
		    hs_scan(c.d->db, s, (unsigned)n, 0, rs->scratch, pf_on_match, &c) != HS_SUCCESS) {
			for (unsigned i = 0; i < c.d->n; i++)
				rs->cand[c.d->rule[i]] = 1;
			rs->lines_over = 1;
		}
	}
}

unsigned
prefilter_count(const struct ruleset *rs)
{
	unsigned n = 0;
	for (size_t i = 0; i < rs->n; i++)
		n += rs->v[i].pf != 0;
	return n;
}

#else /* !HAVE_HS */

void prefilter_build(struct ruleset *rs) { (void)rs; }
int prefilter_finish(struct ruleset *rs) { (void)rs; return 0; }
void prefilter_free(struct ruleset *rs) { (void)rs; }
int prefilter_active(const struct ruleset *rs, int kind) { (void)rs; (void)kind; return 0; }
void prefilter_reset(struct ruleset *rs) { (void)rs; }
void prefilter_scan(struct ruleset *rs, int kind, const char *s, size_t n,
    const size_t *starts, const int *keys, size_t npieces)
{
	(void)rs; (void)kind; (void)s; (void)n; (void)starts; (void)keys; (void)npieces;
}
unsigned prefilter_count(const struct ruleset *rs) { (void)rs; return 0; }

#endif
