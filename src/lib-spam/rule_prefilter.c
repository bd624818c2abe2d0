/*
 * rule_prefilter.c - the Vectorscan (Hyperscan API) multi-pattern
 * prefilter for header, body, rawbody and uri rules.
 *
 * One literal database per kind of text: every rule whose pattern has
 * required literals (rule_literal.c: up to four groups, one literal of
 * each occurs in every match) contributes them to it
 * (hs_compile_lit_multi, caseless where the pattern is): it compiles in
 * milliseconds and each text is scanned once for all of them.  A rule is
 * a candidate once a literal of each of its groups was seen; only the
 * candidates run through PCRE2 (rule_eval.c), which stays the only judge
 * of a hit.  Body and rawbody literals also record the lines they end on
 * (PCRE2 then runs on those lines only), header ones count only inside
 * the rule's own header text.  A pattern without literals is not
 * prefiltered (always a candidate).
 *
 * Debian 12's Vectorscan 5.4.9 loses matches past the first 64 bytes
 * of a text on AVX-512 hosts: its hs_scan() dispatches to AVX-512 code
 * whose tail handling misses short patterns (/x./, /x[yz]/: some 1,800
 * of 2,000 text lengths) and, in small literal databases, literals (24
 * of two million randomised checks).  Its AVX2 code, the same library's
 * avx2_hs_scan(), has neither fault.  So on a host whose platform has
 * AVX-512 the databases are compiled for AVX2 and scanned with
 * avx2_hs_scan() (a weak reference: a library without it leaves such a
 * host without the prefilter); elsewhere hs_scan().  Either way the
 * chosen path must first pass pf_selftest() (the failing vectors found
 * here), else there is no prefilter.  No regular expression goes to
 * Vectorscan (prefilter-mode databases cost 4 s of start-up for the
 * SpamAssassin set and saved 0.5 ms per message).
 *
 * PCRE2 runs a body rule on each line of the body text, a rawbody rule
 * on each piece of the rawbody (rule_eval.c cuts both as SpamAssassin
 * does), a uri rule on each URI and a header rule on one header text
 * (after :raw, :addr, :name, ALL, ToCc...).  Vectorscan instead scans
 * each kind once, whole: a literal inside a piece is still found there
 * (the pieces' starts say which), one across pieces only adds a
 * candidate.
 *
 * Untrusted bytes: the message texts scanned here; Vectorscan scans
 * them in block mode with no size limit beyond the MIME limits.
 * Built only when libhs (libvectorscan-dev) is found (HAVE_HS).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "log.h"
#include "mem.h"
#include "rules-private.h"

#ifdef HAVE_HS

#define PF_LIT_MIN 3             /* shortest literal worth a prefilter */

typedef hs_error_t pf_scan_fn(const hs_database_t *, const char *, unsigned,
    unsigned, hs_scratch_t *, match_event_handler, void *);

struct pf_hs_api pf_hs;

/* dlopen() libhs (HS_SONAME, the soname it was built against) and find
 * its functions: 0, or -1 with a warning (then no prefilter).  The fat
 * runtime's AVX2 scanner (not in hs.h; see the top comment) is looked
 * up too, NULL if the library lacks it. */
static int
pf_hs_load(pf_scan_fn **avx2_r)
{
	struct pf_hs_api a;
	const struct dl_sym syms[] = {
		{ "hs_compile_lit_multi", (void **)&a.compile_lit_multi },
		{ "hs_free_compile_error", (void **)&a.free_compile_error },
		{ "hs_alloc_scratch", (void **)&a.alloc_scratch },
		{ "hs_free_scratch", (void **)&a.free_scratch },
		{ "hs_free_database", (void **)&a.free_database },
		{ "hs_populate_platform", (void **)&a.populate_platform },
		{ "hs_scan", (void **)&a.scan },
		{ "hs_serialize_database", (void **)&a.serialize_database },
		{ "hs_deserialize_database", (void **)&a.deserialize_database },
	};
	void *h;
	char *err;

	if (dl_load(HS_SONAME, syms, NELEM(syms), &h, &err) < 0) {
		log_warn("spam rules: Vectorscan: %s; no prefilter", err);
		free(err);
		return -1;
	}
	*(void **)avx2_r = dlsym(h, "avx2_hs_scan");
	pf_hs = a;
	return 0;
}

static struct {
	int done;
	pf_scan_fn *scan;               /* NULL: no prefilter on this host */
	const char *name;
	hs_platform_info_t plat;        /* what the databases are compiled for */
} pf_host;

static int
pf_count_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned flags, void *arg)
{
	(void)from; (void)to; (void)flags;
	((unsigned *)arg)[id & 1]++;
	return 0;
}

/* The chosen scanner finds what hs_scan() lost on an AVX-512 host: two
 * literals at offsets 77 and 90 of a 107-byte text, one caseless. */
static int
pf_selftest(void)
{
	static const char text[] =
	    "rxxm npwnujy\npsberpoqlfhXpolycwj ovuXekjzubydtzheivuu "
	    "YpkkXcmrmg\nb Xgfe\nzfxYzYec. smsoYYyxaa\nb.iaa\nb.hrdmi\n";
	const char *lit[] = { "Yec. ", "aa\nb." };
	size_t len[] = { 5, 5 };
	unsigned flags[] = { 0, HS_FLAG_CASELESS }, ids[] = { 0, 1 };
	unsigned seen[2] = { 0, 0 };
	hs_database_t *db = NULL;
	hs_scratch_t *scratch = NULL;
	hs_compile_error_t *cerr = NULL;
	int ok = 0;

	if (pf_hs.compile_lit_multi(lit, flags, ids, len, 2, HS_MODE_BLOCK,
	    &pf_host.plat, &db, &cerr) != HS_SUCCESS) {
		pf_hs.free_compile_error(cerr);
		return 0;
	}
	if (pf_hs.alloc_scratch(db, &scratch) == HS_SUCCESS &&
	    pf_host.scan(db, text, sizeof(text) - 1, 0, scratch, pf_count_match,
	    seen) == HS_SUCCESS)
		ok = seen[0] == 1 && seen[1] == 2;
	pf_hs.free_scratch(scratch);
	pf_hs.free_database(db);
	return ok;
}

/* Once per process: the platform to compile for and the scanner. */
static void
pf_host_init(void)
{
	pf_scan_fn *avx2 = NULL;

	if (pf_host.done)
		return;
	pf_host.done = 1;
	if (pf_hs_load(&avx2) < 0)
		return;
	if (pf_hs.populate_platform(&pf_host.plat) != HS_SUCCESS) {
		log_warn("spam rules: Vectorscan: unknown platform; no prefilter");
		return;
	}
	pf_host.scan = pf_hs.scan;
	pf_host.name = "hs_scan";
	if (pf_host.plat.cpu_features & (HS_CPU_FEATURES_AVX512 | HS_CPU_FEATURES_AVX512VBMI)) {
		pf_host.plat.cpu_features &= ~(unsigned long long)(HS_CPU_FEATURES_AVX512 |
		    HS_CPU_FEATURES_AVX512VBMI);
		pf_host.scan = avx2;            /* NULL if the library lacks it */
		pf_host.name = "avx2_hs_scan";
		if (pf_host.scan == NULL) {
			log_warn("spam rules: Vectorscan has no AVX2 scanner to use "
			    "on this AVX-512 host; no prefilter");
			return;
		}
	}
	if (!pf_selftest()) {
		log_warn("spam rules: Vectorscan (%s) fails its self-test on this "
		    "host; no prefilter", pf_host.name);
		pf_host.scan = NULL;
	}
}

const char *
prefilter_scanner(void)
{
	pf_host_init();
	return pf_host.scan != NULL ? pf_host.name : NULL;
}

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
	    r->tpl || rule_is_skipped(r))
		return 0;
	return pf_kind(r) >= 0;
}

static const char *
pf_pattern(const struct rule *r)
{
	return r->pat != NULL ? r->pat : r->src;
}

static void
pf_db_free(struct pf_db *d)
{
	if (d->db != NULL)
		pf_hs.free_database(d->db);
	d->db = NULL;
	FREE(d->rule);
	FREE(d->grp);
	d->n = 0;
}

/*
 * The literal database of one kind: the required literals of every rule
 * of that kind that has a set (rule_literals; rules without one are not
 * prefiltered), one pattern id per literal, all in one Vectorscan
 * literal database (thousands of literals compile in milliseconds and
 * scan in one pass).
 */
static void
pf_build_kind(struct ruleset *rs, int kind)
{
	char **lit = NULL;
	size_t *len = NULL, n = 0;
	unsigned *flags = NULL, *rule = NULL, *ids;
	unsigned char *grp = NULL;
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;

	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		struct pf_lit *lv;
		size_t nlv;

		if (!pf_wanted(r) || pf_kind(r) != kind ||
		    rule_literals(pf_pattern(r), r->opts, PF_LIT_MIN, &lv, &nlv) != 1)
			continue;
		lit = xreallocarray(lit, n + nlv, sizeof(*lit));
		len = xreallocarray(len, n + nlv, sizeof(*len));
		flags = xreallocarray(flags, n + nlv, sizeof(*flags));
		rule = xreallocarray(rule, n + nlv, sizeof(*rule));
		grp = xreallocarray(grp, n + nlv, sizeof(*grp));
		/* every occurrence is reported (no HS_FLAG_SINGLEMATCH): body,
		 * rawbody and header rules need each line or header text a
		 * literal is in; for uri rules the first would do, but
		 * pf_on_match only sets bits */
		for (size_t k = 0; k < nlv; k++) {
			lit[n] = lv[k].s;
			len[n] = lv[k].len;
			flags[n] = lv[k].caseless ? HS_FLAG_CASELESS : 0;
			grp[n] = (unsigned char)lv[k].grp;
			rule[n++] = (unsigned)i;
		}
		free(lv);
	}
	ids = xcalloc(n ? n : 1, sizeof(*ids));
	for (size_t k = 0; k < n; k++)
		ids[k] = (unsigned)k;
	if (n > 0 && pf_hs.compile_lit_multi((const char *const *)lit, flags, ids, len,
	    (unsigned)n, HS_MODE_BLOCK, &pf_host.plat, &db, &cerr) != HS_SUCCESS) {
		/* not expected for plain literals: these rules just run */
		log_warn("spam rules: Vectorscan literal database: %s",
		    cerr != NULL ? cerr->message : "error");
		pf_hs.free_compile_error(cerr);
		db = NULL;
	}
	for (size_t k = 0; k < n; k++)
		free(lit[k]);
	free(lit);
	free(len);
	free(flags);
	free(ids);
	if (db == NULL) {
		free(rule);
		free(grp);
		return;
	}
	rs->pf = xreallocarray(rs->pf, rs->npf + 1, sizeof(*rs->pf));
	rs->pf[rs->npf].kind = kind;
	rs->pf[rs->npf].db = db;
	rs->pf[rs->npf].rule = rule;
	rs->pf[rs->npf].grp = grp;
	rs->pf[rs->npf].n = (unsigned)n;
	rs->npf++;
}

void
prefilter_build(struct ruleset *rs)
{
	prefilter_free(rs);
	if (!rs->use_hs || prefilter_scanner() == NULL)
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
		if (pf_hs.alloc_scratch(rs->pf[j].db, (hs_scratch_t **)&rs->scratch) != HS_SUCCESS) {
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
			rs->v[r].pf = rs->pf[j].kind == PF_BODY ||
			    rs->pf[j].kind == PF_RAWBODY ? 2 : 1;
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
		pf_hs.free_scratch(rs->scratch);
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

/* The piece byte `last` is in (the last one starting at or before it)
 * plus 1, 0 if none. */
static size_t
pf_piece(const struct pf_ctx *c, size_t last)
{
	size_t lo = 0, hi = c->npieces;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->starts[mid] <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The header key of the piece byte `last` is in, -1 if none. */
static int
pf_piece_key(const struct pf_ctx *c, size_t last)
{
	size_t k = pf_piece(c, last);

	return k == 0 ? -1 : c->keys[k - 1];
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
	if (c->starts != NULL) {        /* pieces that need not end at '\n' */
		size_t k = pf_piece(c, last);
		c->line = k > 0 ? k - 1 : 0;
	} else if (last < c->pos) {     /* matches come by end offset; if not */
		c->pos = 0;
		c->line = 0;
	}
	while (c->starts == NULL && c->pos < last) {
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
		if (c->keys != NULL && to > 0 &&
		    pf_piece_key(c, (size_t)to - 1) != c->rs->v[r].hkey)
			return 0;       /* in another header's text */
		if (c->rs->v[r].pf == 2 && to > 0)
			pf_note_line(c, r, (size_t)to - 1);
		/* a candidate once every group was seen */
		c->rs->seen[r] |= (unsigned char)(1u << (c->d->grp[id] & 7));
		if (c->rs->seen[r] == c->rs->need[r])
			c->rs->cand[r] = 1;
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
		if (n > 0xffffffffu || pf_host.scan == NULL ||
		    pf_host.scan(c.d->db, s, (unsigned)n, 0, rs->scratch, pf_on_match,
		    &c) != HS_SUCCESS) {
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

const char *prefilter_scanner(void) { return NULL; }
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
