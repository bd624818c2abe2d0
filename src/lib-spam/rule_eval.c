/*
 * rule_eval.c - run a compiled rule set on an analysed message (whose
 * text is untrusted): header, body (paragraphs), rawbody (lines), uri,
 * full and meta rules, the eval: tests Tempest implements, and scoring.
 * PCRE2 runs JIT-compiled, or interpreted, with a match, depth and heap
 * limit per match and a budget per message (rules-private.h,
 * RULE_MATCH_BUDGET), so a hostile message cannot make a rule, or all of
 * them together, loop for long.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mem.h"
#include "str.h"
#include "header_eval.h"
#include "html.h"
#include "mime.h"
#include "msg_date.h"
#include "relays.h"
#include "rules-private.h"
#include "uri.h"

struct span {
	const char *p;
	size_t n;
};

struct hcache {
	char *value;            /* NULL = header absent */
	size_t len;
	int done;
};

/* A tag set by capture rules (rules-private.h): the values the last
 * rule that set it matched, in order, distinct, non-empty (a rule's
 * captures replace another's, as in SpamAssassin). */
#define TAG_MAX 16              /* tags per scan */
#define TAG_VALUES_MAX 32       /* values per tag */
#define TAG_VALUE_MAX 256       /* bytes per value (longer: not kept) */
struct tag {
	char *name;
	char **v;
	size_t n;
	const struct rule *by;  /* the rule that set the values */
};

struct scan {
	struct ruleset *rs;
	const struct mime_msg *m;
	double bayes;
	double lr;
	int set;
	struct span *paras, *lines;
	size_t npara, nline;
	size_t *para_starts;    /* offset of each paragraph in the body text */
	size_t *line_starts;    /* and of each rawbody piece in the rawbody */
	struct hcache *hc;      /* by rule->hkey */
	struct relays relays;   /* X-Spam-Relays-*, read when a rule asks */
	int have_relays;
	struct tag tags[TAG_MAX];
	size_t ntags;
	int captured;           /* the capture rules have run */
	int64_t date_diff;      /* Date: minus Received: (msg_date.h) */
	int have_date_diff;
	/* each header's addresses as the address parser finds them
	 * (addrs_of_max), read when a test first asks: hdr_addrs[i] for
	 * m->hdrs[i] (NULL: not yet), hdr_naddrs[i] of them */
	char ***hdr_addrs;
	size_t *hdr_naddrs;
	/* the targets the rule set's redirector_pattern lines find in the
	 * URIs (uri rules see them after the message's own) */
	struct uri_list redir;
	/* per URI of the message's own (uris, uris_also, uris_sl): seen
	 * by this rule set (uri_visibility) */
	unsigned char *uvis;
	/* the body text once the FreeMail plugin's look for addresses has
	 * blanked parts of it (fm_body), which the rules after it read
	 * (m then points to fm_msg); unset: it has not */
	struct buf fm_text;
	struct mime_msg fm_msg;
	/* PCRE2 budget: matches that reached a limit; the current rule
	 * met a limit or the spent budget (re_err); rules not run for it */
	unsigned re_limited;
	int re_err;
	unsigned re_skipped;
};

#define BODY_LINE_MAX 2048        /* SpamAssassin's MAX_BODY_LINE_LENGTH */

static void
span_add(struct span **v, size_t *nv, size_t **starts, size_t *cap, const char *base,
    size_t off, size_t len)
{
	if (*nv == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = xreallocarray(*v, *cap, sizeof(**v));
		*starts = xreallocarray(*starts, *cap, sizeof(**starts));
	}
	(*v)[*nv].p = base + off;
	(*v)[*nv].n = len;
	(*starts)[(*nv)++] = off;
}

/* A byte of s[from..n) (the first), or n. */
static size_t
index_of(const char *s, size_t n, size_t from, char c)
{
	const char *q = from < n ? memchr(s + from, c, n - from) : NULL;

	return q != NULL ? (size_t)(q - s) : n;
}

/* The rawbody as SpamAssassin's rawbody rules see it
 * (split_into_array_of_short_paragraphs): each part on its own, whole up
 * to BODY_LINE_MAX bytes, else in pieces of BODY_LINE_MAX to twice that,
 * each ending at the first newline past BODY_LINE_MAX, else '>', else
 * space, that keeps it within twice BODY_LINE_MAX, else after
 * BODY_LINE_MAX + 1 bytes. */
static void
split_raw(const struct mime_msg *m, struct span **v, size_t *nv, size_t **starts)
{
	const char *s = m->rawbody.data ? m->rawbody.data : "";
	size_t np = m->nrawbody_parts, cap = 0;

	*v = NULL;
	*starts = NULL;
	*nv = 0;
	for (size_t k = 0; k < np; k++) {
		size_t ofs = m->rawbody_parts[k].off, j;
		size_t end = ofs + m->rawbody_parts[k].len;

		if (end - ofs <= BODY_LINE_MAX) {
			span_add(v, nv, starts, &cap, s, ofs, end - ofs);
			continue;
		}
		for (; end - ofs > 2 * BODY_LINE_MAX; ofs = j + 1) {
			static const char seps[] = "\n> ";
			j = end;
			for (const char *c = seps; *c != '\0' && (j >= end ||
			    j - ofs + 1 > 2 * BODY_LINE_MAX); c++)
				j = index_of(s, end, ofs + BODY_LINE_MAX, *c);
			if (j >= end || j - ofs + 1 > 2 * BODY_LINE_MAX)
				j = ofs + BODY_LINE_MAX;
			span_add(v, nv, starts, &cap, s, ofs, j - ofs + 1);
		}
		if (ofs < end)
			span_add(v, nv, starts, &cap, s, ofs, end - ofs);
	}
}

/* The body text's lines as SpamAssassin's body rules see them
 * (split_into_array_of_short_lines): each with its newline, one longer
 * than BODY_LINE_MAX cut after its last space within the first
 * BODY_LINE_MAX + 1 bytes, or at BODY_LINE_MAX without one; the start of
 * each in starts (the prefilter's pieces). */
static void
split_body(const char *s, size_t n, struct span **v, size_t *nv, size_t **starts)
{
	size_t cap = 0;

	*v = NULL;
	*starts = NULL;
	*nv = 0;
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl != NULL ? (size_t)(nl - s) + 1 : n;

		while (i < e) {
			size_t len = e - i;
			if (len > BODY_LINE_MAX) {
				len = BODY_LINE_MAX;
				for (size_t k = BODY_LINE_MAX + 1; k-- > 0;)
					if (s[i + k] == ' ') {
						len = k + 1;
						break;
					}
			}
			span_add(v, nv, starts, &cap, s, i, len);
			i += len;
		}
	}
}

static void
tag_add(struct scan *sc, const struct rule *r, const char *name, const char *v, size_t n)
{
	struct tag *t = NULL;

	if (n == 0 || n > TAG_VALUE_MAX)
		return;
	for (size_t i = 0; i < sc->ntags; i++)
		if (strcmp(sc->tags[i].name, name) == 0)
			t = &sc->tags[i];
	if (t == NULL) {
		if (sc->ntags >= TAG_MAX)
			return;
		t = &sc->tags[sc->ntags++];
		t->name = xstrdup(name);
	}
	if (t->by != r) {       /* another rule's values: replaced */
		for (size_t i = 0; i < t->n; i++)
			free(t->v[i]);
		t->n = 0;
		t->by = r;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i]) == n && memcmp(t->v[i], v, n) == 0)
			return;
	if (t->n >= TAG_VALUES_MAX)
		return;
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = xstrndup(v, n);
}

/* A capture rule matched s: its named groups' text become tag values. */
static void
save_captures(struct scan *sc, const struct rule *r, const char *s, pcre2_match_data *md)
{
	uint32_t count = 0, size = 0;
	PCRE2_SPTR tab = NULL;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	uint32_t nov = pcre2_get_ovector_count(md);

	if (pcre2_pattern_info(r->re, PCRE2_INFO_NAMECOUNT, &count) != 0 ||
	    pcre2_pattern_info(r->re, PCRE2_INFO_NAMEENTRYSIZE, &size) != 0 ||
	    pcre2_pattern_info(r->re, PCRE2_INFO_NAMETABLE, &tab) != 0)
		return;
	for (uint32_t i = 0; i < count; i++, tab += size) {
		uint32_t g = ((uint32_t)tab[0] << 8) | tab[1];
		if (g >= nov || ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] < ov[2 * g])
			continue;
		tag_add(sc, r, (const char *)tab + 2, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
	}
}

/*
 * A rule set loaded without JIT (spamc on one message: compiling every
 * pattern costs more than interpreting them on short texts) still
 * JIT-compiles a rule the first time it reads this many bytes: the
 * interpreter copies a backtracking frame per character a .* gives
 * back, so a pattern like \?.*! on 60 Subject: values of 8 KB (one
 * scan from each '?') took 9.5 s where the JIT takes 0.02 s.
 */
#define LATE_JIT_MIN 4096

/* r JIT-compiled now if it reads n bytes in a rule set without JIT. */
static void
late_jit(struct ruleset *rs, const struct rule *r, size_t n)
{
	struct rule *w;

	if (r->jit || r->jit_tried || !rs->no_jit || n < LATE_JIT_MIN || r < rs->v ||
	    r >= rs->v + rs->n || rule_jit_disabled())
		return;
	w = &rs->v[r - rs->v];
	w->jit_tried = 1;       /* (one that fails is not compiled again) */
	if (w->re32 != NULL)
		w->jit = pcre2_jit_compile_32(w->re32, PCRE2_JIT_COMPLETE) == 0;
	else if (w->re != NULL)
		w->jit = pcre2_jit_compile(w->re, PCRE2_JIT_COMPLETE) == 0;
}

/* Whether the message's PCRE2 budget is spent. */
static int
re_budget_spent(const struct scan *sc)
{
	return sc->re_limited >= RULE_MATCH_BUDGET;
}

/* Charge a match's result to the budget: one that stopped at a limit
 * spent (at least) the match limit. */
static void
re_charge(struct scan *sc, int rc)
{
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT ||
	    rc == PCRE2_ERROR_NOMEMORY) {
		sc->re_limited++;
		sc->re_err = 1;
	}
}

/* One match of r in s from off: rc of pcre2_match; a capture rule keeps
 * its groups.  With the budget spent: not run, PCRE2_ERROR_MATCHLIMIT. */
static int
match_at(struct scan *sc, const struct rule *r, const char *s, size_t n, size_t off)
{
	pcre2_match_data *md = sc->rs->md;
	int rc;

	if (re_budget_spent(sc)) {
		sc->re_err = 1;
		return PCRE2_ERROR_MATCHLIMIT;
	}
	late_jit(sc->rs, r, n);
	if (r->re32 != NULL) {  /* (never a capture rule: not marked one) */
		rc = wide_match(sc->rs, r, s, n, off, pcre2_get_ovector_pointer(md));
		re_charge(sc, rc);
		return rc;
	}
	if (r->capture)
		md = pcre2_match_data_create_from_pattern(r->re, NULL);
	if (r->jit)
		rc = pcre2_jit_match(r->re, (PCRE2_SPTR)s, n, off, 0, md, sc->rs->mctx);
	else
		rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, off, 0, md, sc->rs->mctx);
	re_charge(sc, rc);
	if (r->capture) {
		if (rc >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			save_captures(sc, r, s, md);
			/* re_count reads the end of the match from the rule
			 * set's match data */
			pcre2_get_ovector_pointer(sc->rs->md)[0] = ov[0];
			pcre2_get_ovector_pointer(sc->rs->md)[1] = ov[1];
		}
		pcre2_match_data_free(md);
	}
	return rc;
}

static int
re_match(struct scan *sc, const struct rule *r, const char *s, size_t n)
{
	return match_at(sc, r, s, n, 0) >= 0;
}

/* Count matches of a rule in s (for tflags multiple). */
static unsigned
re_count(struct scan *sc, const struct rule *r, const char *s, size_t n, unsigned max)
{
	unsigned c = 0;
	size_t off = 0;

	while (off <= n && c < max) {
		PCRE2_SIZE *ov;
		if (match_at(sc, r, s, n, off) < 0)
			break;
		c++;
		ov = pcre2_get_ovector_pointer(sc->rs->md);
		off = ov[1] > off ? ov[1] : off + 1;
	}
	return c;
}

/* Hits of a body/rawbody rule in one paragraph or line: the number of
 * matches (at most max) for tflags multiple, else 0 or 1. */
static unsigned
span_hits(struct scan *sc, const struct rule *r, const struct span *t,
    int multiple, unsigned max)
{
	if (multiple)
		return re_count(sc, r, t->p, t->n, max);
	return re_match(sc, r, t->p, t->n) ? 1 : 0;
}

/* The values of the headers called name appended to b, decoded (raw 0)
 * or as written (1), each ended by a newline, or (2) as written, each
 * ended by a NUL. */
static void
append_values(const struct mime_msg *m, const char *name, int raw, struct buf *b, int *found)
{
	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0) {
			(void)buf_appends(b, raw ? m->hdrs[i].raw : m->hdrs[i].value);
			(void)buf_appendc(b, raw == 2 ? '\0' : '\n');
			*found = 1;
		}
}

/*
 * A mimeheader rule (SpamAssassin's MIMEHeader plugin): each MIME part
 * in order, the message itself first, gives the last of its headers of
 * that name (decoded, or :raw as written) with a newline, the rule's
 * [if-unset: …] text (default empty) when it has none, or with ALL its
 * whole header block; the first part that matches decides (with tflags
 * multiple, the count of its matches).  A negated rule hits when no
 * part matches (the plugin's own code would hit always).
 */
static unsigned
mimeheader_hits(struct scan *sc, const struct rule *r, int multiple, unsigned max)
{
	const struct mime_msg *m = sc->m;
	int raw = r->hmod == HM_RAW, all = strcmp(r->hdr, "ALL") == 0;
	struct buf b;
	unsigned hits = 0;

	buf_init(&b, 4 * 1024 * 1024);
	for (size_t i = 0; i < m->nparts && hits == 0; i++) {
		const struct mime_part *pt = &m->parts[i];
		const struct mime_header *h = NULL;
		buf_reset(&b);
		for (size_t k = 0; k < pt->nhdrs; k++) {
			if (all)
				(void)buf_printf(&b, "%s: %s\n", pt->hdrs[k].name,
				    raw ? pt->hdrs[k].raw : pt->hdrs[k].value);
			else if (strcasecmp(pt->hdrs[k].name, r->hdr) == 0)
				h = &pt->hdrs[k];
		}
		if (h != NULL) {
			(void)buf_appends(&b, raw ? h->raw : h->value);
			(void)buf_appendc(&b, '\n');
		} else if (!all && r->if_unset != NULL)
			(void)buf_appends(&b, r->if_unset);
		if (multiple)
			hits = re_count(sc, r, b.data ? b.data : "", b.len, max);
		else
			hits = re_match(sc, r, b.data ? b.data : "", b.len);
	}
	buf_free(&b);
	return r->negate ? hits == 0 : hits;
}

void
ruleset_set_trusted_networks(struct ruleset *rs, const struct netlist *nl)
{
	rs->trusted = nl;
}

/* The message's own URIs, one index over the canonical ones, the other
 * forms and the schemeless ones: the list of the i-th and its index
 * there. */
static const struct uri_list *
own_list(const struct mime_msg *m, size_t *i)
{
	if (*i < m->uris.n)
		return &m->uris;
	*i -= m->uris.n;
	if (*i < m->uris_also.n)
		return &m->uris_also;
	*i -= m->uris_also.n;
	return &m->uris_sl;
}

static size_t
own_count(const struct mime_msg *m)
{
	return m->uris.n + m->uris_also.n + m->uris_sl.n;
}

/* Which of them the rule set sees.  With no util_rb_tld list (Tempest's
 * own rules) those with a scheme, all of them.  With one, as
 * SpamAssassin's: a URI of the body text only when a form of it has a
 * domain (uri_to_domain), and the schemeless ones alike (its
 * add_uri_detail_list with valid_domain); the others always.  And never
 * a form uri.h hides. */
static void
uri_visibility(struct scan *sc)
{
	const struct mime_msg *m = sc->m;
	size_t n = own_count(m);
	const struct rb_lists *rb = &sc->rs->rb;
	uint32_t groups = m->uris.groups;
	unsigned char *ok = NULL;

	sc->uvis = xcalloc(n > 0 ? n : 1, 1);
	if (rb->n[0] > 0) {
		ok = xcalloc((size_t)groups + 1, 1);
		for (size_t i = 0; i < n; i++) {
			size_t k = i;
			const struct uri_list *l = own_list(m, &k);
			uint32_t g = l->grp != NULL ? l->grp[k] : 0;
			/* (a schemeless one ends in a TLD: no address) */
			if (g != 0 && g <= groups && !ok[g] &&
			    he_uri_has_domain(rb, l->v[k], l != &m->uris_sl))
				ok[g] = 1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = i;
		const struct uri_list *l = own_list(m, &k);
		uint32_t g = l->grp != NULL ? l->grp[k] : 0;
		if (l->hide != NULL && l->hide[k])
			continue;
		if (ok == NULL)         /* (no TLD list) */
			sc->uvis[i] = l != &m->uris_sl;
		else
			sc->uvis[i] = g == 0 || (g <= groups && ok[g]);
	}
	free(ok);
}

/* The URIs uri rules see: the message's own (the canonical ones, the
 * other forms, the schemeless ones), then the redirectors' targets;
 * NULL for one they do not see (uri_visibility, uri.h hide).
 * uri_count() of them. */
static const char *
uri_at(const struct scan *sc, size_t i)
{
	const struct mime_msg *m = sc->m;

	if (i < own_count(m)) {
		size_t k = i;
		const struct uri_list *l = own_list(m, &k);
		return sc->uvis[i] ? l->v[k] : NULL;
	}
	i -= own_count(m);
	return sc->redir.hide != NULL && sc->redir.hide[i] ? NULL : sc->redir.v[i];
}

static size_t
uri_count(const struct scan *sc)
{
	return own_count(sc->m) + sc->redir.n;
}

/* SpamAssassin's redirector_pattern: each URI (and each target found,
 * in turn) against the patterns in order; the first whose first group
 * has a dot gives a target, a URI of its own (uri_add_target). */
static void
redirect_targets(struct scan *sc)
{
	struct ruleset *rs = sc->rs;
	pcre2_match_data *md;

	sc->redir.max = sc->m->lim.max_uris;
	if (rs->nredir == 0)
		return;
	redirectors_compile(rs);
	md = pcre2_match_data_create(2, NULL);
	for (size_t i = 0; i < uri_count(sc) && sc->redir.n < sc->redir.max; i++) {
		const char *u = uri_at(sc, i);
		if (u == NULL)
			continue;
		for (size_t k = 0; k < rs->nredir; k++) {
			PCRE2_SIZE *ov;
			if (rs->redir_re[k] == NULL || pcre2_match(rs->redir_re[k], (PCRE2_SPTR)u,
			    strlen(u), 0, 0, md, rs->mctx) < 2)
				continue;
			ov = pcre2_get_ovector_pointer(md);
			if (ov[2] == PCRE2_UNSET || memchr(u + ov[2], '.', ov[3] - ov[2]) == NULL)
				continue;
			uri_add_target(&sc->redir, u + ov[2], ov[3] - ov[2]);
			break;
		}
	}
	pcre2_match_data_free(md);
}

/* X-Spam-Relays-<which>, the relays read once per scan. */
static const char *
relays_value(struct scan *sc, const char *which)
{
	if (!sc->have_relays) {
		relays_of_message(sc->m, sc->rs->trusted, &sc->relays);
		sc->have_relays = 1;
	}
	if (strcasecmp(which, "Trusted") == 0)
		return sc->relays.trusted;
	if (strcasecmp(which, "Untrusted") == 0)
		return sc->relays.untrusted;
	if (strcasecmp(which, "Internal") == 0)
		return sc->relays.internal;
	if (strcasecmp(which, "External") == 0)
		return sc->relays.external;
	return NULL;
}

/* SpamAssassin's ALL-TRUSTED, ALL-INTERNAL (the top down to the first
 * Received: line after the trusted, or internal, ones, included),
 * ALL-UNTRUSTED, ALL-EXTERNAL (from that line to the end): the range of
 * Received: indexes, start -1 for the top, end -1 for the end; 0 for a
 * name that is none of them. */
static int
all_range(struct scan *sc, const char *which, int *start, int *end)
{
	int trusted = strcasecmp(which, "TRUSTED") == 0 || strcasecmp(which, "UNTRUSTED") == 0;
	int last;

	if (strcasecmp(which, "TRUSTED") != 0 && strcasecmp(which, "UNTRUSTED") != 0 &&
	    strcasecmp(which, "INTERNAL") != 0 && strcasecmp(which, "EXTERNAL") != 0)
		return 0;
	(void)relays_value(sc, "Trusted");      /* (computes the relays) */
	last = trusted ? sc->relays.last_trusted : sc->relays.last_internal;
	if (strncasecmp(which, "UN", 2) == 0 || strncasecmp(which, "EX", 2) == 0) {
		*start = last + 1;
		*end = -1;
	} else {
		*start = -1;
		*end = last + 1;
	}
	return 1;
}

#define ADDRS_MAX 1024         /* addresses a test reads at most (of one header) */

/* The addresses (hmod HM_ADDR) or display names (HM_NAME decoded, with
 * white space runs one blank and single quotes around it dropped, as
 * SpamAssassin's get() gives them; HM_NAME_RAW as written) of a header
 * value as written, each appended to out after a newline but the first. */
static void
addr_lines(const char *value, enum hdr_mod hmod, struct buf *out)
{
	char *a[ADDRS_MAX], *nm[ADDRS_MAX];
	size_t n = he_parse_addresses(value, a, nm, ADDRS_MAX);

	for (size_t k = 0; k < n; k++) {
		const char *v = hmod == HM_ADDR ? a[k] : nm[k];
		struct buf d;
		if (v == NULL)
			goto next;
		buf_init(&d, BUF_UNLIMITED);
		if (hmod == HM_NAME) {
			size_t st, en;
			mime_decode_2047(v, strlen(v), &d, NULL, NULL);
			for (st = 0; st < d.len && isspace((unsigned char)d.data[st]); st++)
				;
			if (st < d.len) {       /* (all blank: kept as it is) */
				size_t j = 0;
				for (size_t i = st; i < d.len; i++) {
					if (isspace((unsigned char)d.data[i])) {
						if (j > 0 && d.data[j - 1] == ' ')
							continue;
						d.data[j++] = ' ';
					} else {
						d.data[j++] = d.data[i];
					}
				}
				en = j;
				if (en > 0 && d.data[en - 1] == ' ')
					en--;
				if (en >= 2 && d.data[0] == '\'' && d.data[en - 1] == '\'') {
					memmove(d.data, d.data + 1, en - 2);
					en -= 2;
				}
				buf_truncate(&d, en);
			}
			v = d.data != NULL ? d.data : "";
		}
		if (out->len > 0)
			(void)buf_appendc(out, '\n');
		(void)buf_append(out, v, hmod == HM_NAME ? d.len : strlen(v));
		buf_free(&d);
next:
		free(a[k]);
		free(nm[k]);
	}
}

/* The text a header rule looks at; NULL when the header is absent. */
static const char *
header_text(struct scan *sc, const struct rule *r, size_t *len_r)
{
	const struct mime_msg *m = sc->m;
	struct hcache *hc;
	struct buf b;
	/* (addresses and names are parsed from the values as written,
	 * folds kept, each value ended by a NUL: raw 2 to append_values) */
	int found = 0, raw = r->hmod == HM_NONE ? 0 : r->hmod == HM_RAW ? 1 : 2;
	int start, end;
	const char *rv;

	*len_r = 0;
	if (r->hkey < 0 || (unsigned)r->hkey >= sc->rs->nhkeys)
		return NULL;
	hc = &sc->hc[r->hkey];
	if (hc->done) {
		*len_r = hc->len;
		return hc->value;
	}
	buf_init(&b, 4 * 1024 * 1024);
	/* ALL:raw and ALL-*:raw are the pristine header block to
	 * SpamAssassin: values whole, where a header rule reads what its
	 * parser kept of them */
	if (strcmp(r->hdr, "ALL") == 0) {
		for (size_t i = 0; i < m->nhdrs; i++)
			(void)buf_printf(&b, "%s: %s\n", m->hdrs[i].name,
			    raw ? mime_header_raw_whole(&m->hdrs[i]) : m->hdrs[i].value);
		found = m->nhdrs > 0;
	} else if (strncmp(r->hdr, "ALL-", 4) == 0 && all_range(sc, r->hdr + 4, &start, &end)) {
		/* the headers from the Received: line at index start (-1:
		 * the top) to the one at end, which is included (SpamAssassin's
		 * get_all_hdrs_in_rcvd_index_range) */
		int cur = -1;
		for (size_t i = 0; i < m->nhdrs; i++) {
			if (strcasecmp(m->hdrs[i].name, "Received") == 0)
				cur++;
			if (cur < start || (end >= 0 && cur > end))
				continue;
			(void)buf_printf(&b, "%s: %s\n", m->hdrs[i].name,
			    raw ? mime_header_raw_whole(&m->hdrs[i]) : m->hdrs[i].value);
			found = 1;
			if (end >= 0 && cur == end)
				break;
		}
	} else if (strcmp(r->hdr, "ToCc") == 0) {
		append_values(m, "To", raw, &b, &found);
		append_values(m, "Cc", raw, &b, &found);
	} else if (strcmp(r->hdr, "MESSAGEID") == 0) {
		append_values(m, "Message-Id", raw, &b, &found);
		append_values(m, "Resent-Message-Id", raw, &b, &found);
		append_values(m, "X-Message-Id", raw, &b, &found);
	} else if (strncasecmp(r->hdr, "X-Spam-Relays-", 14) == 0 &&
	    (rv = relays_value(sc, r->hdr + 14)) != NULL) {
		/* SpamAssassin's pseudo-headers (present, maybe empty);
		 * a header of that name in the mail is not read */
		(void)buf_appends(&b, rv);
		found = 1;
	} else if (strcmp(r->hdr, "EnvelopeFrom") == 0) {
		char *e;
		(void)relays_value(sc, "Trusted");
		if ((e = relays_envelope_from(m, &sc->relays)) != NULL) {
			(void)buf_appends(&b, e);
			free(e);
			found = 1;
		}
	} else {
		append_values(m, r->hdr, raw, &b, &found);
	}
	if (found && (r->hmod == HM_ADDR || r->hmod == HM_NAME ||
	    r->hmod == HM_NAME_RAW)) {
		/* every address (or name) of every header of that name, one
		 * per line (SpamAssassin 4's get() in list context, which its
		 * header rules join), from the values as written; none: no
		 * header at all */
		struct buf all;
		buf_init(&all, b.max);
		for (size_t i = 0; i < b.len;) {
			size_t e = i + strnlen(b.data + i, b.len - i);
			char *value = xstrndup(b.data + i, e - i);
			addr_lines(value, r->hmod, &all);
			free(value);
			i = e + 1;
		}
		found = all.len > 0;
		buf_free(&b);
		b = all;
	}
	hc->done = 1;
	hc->len = found ? b.len : 0;
	hc->value = found ? (b.data ? buf_steal(&b) : xstrdup("")) : NULL;
	buf_free(&b);
	*len_r = hc->len;
	return hc->value;
}

/* ---- eval: tests Tempest implements ---- */

typedef unsigned (*eval_fn)(struct scan *sc, const struct rule *r);
/* a test of the message alone (header_eval.h) */
typedef int (*eval_msg_fn)(const struct mime_msg *m);

static double
arg_num(const struct rule *r, int i, double def)
{
	return i < r->neval_args ? strtod(r->eval_args[i], NULL) : def;
}

static unsigned
ev_check_bayes(struct scan *sc, const struct rule *r)
{
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 1);

	if (sc->bayes < 0)
		return 0;
	return sc->bayes >= lo && (sc->bayes < hi || (hi >= 1.0 && sc->bayes <= hi));
}

/* check_lr(min, max): the logistic regression's probability (lr.h) */
static unsigned
ev_check_lr(struct scan *sc, const struct rule *r)
{
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 1);

	if (sc->lr < 0)
		return 0;
	return sc->lr >= lo && (sc->lr < hi || (hi >= 1.0 && sc->lr <= hi));
}


static size_t all_from_addrs(struct scan *sc, char **v);
static void addrs_free(char **v, size_t n);
static int glob_match(const char *p, const char *s, int dots);
static const struct addrlist *alist(const struct ruleset *rs, const char *name);
static int in_alist(const struct addrlist *l, const char *a);

/* Is a (lower case) in the welcomelist_from / blocklist_from globs? */
static int
in_list_globs(char *const *list, size_t n, const char *a)
{
	for (size_t k = 0; k < n; k++)
		if (glob_match(list[k], a, 1))
			return 1;
	return 0;
}

/* Does the relay come through relay spec d (a reverse-name domain, or
 * [ip], [a.b.c] a classful net, [ip/len] or [ipv6])? */
static int
relay_is(const struct relay *rl, const char *d)
{
	size_t dl = strlen(d), rl_n = strlen(rl->rdns);

	if (d[0] == '[') {
		char ip[128];
		const char *e = strchr(d, ']');
		if (e == NULL || (size_t)(e - d - 1) >= sizeof(ip) - 8 || rl->ip[0] == '\0')
			return 0;
		snprintf(ip, sizeof(ip), "%.*s%s", (int)(e - d - 1), d + 1, e[1] == '/' ? e + 1 : "");
		if (strspn(ip, "0123456789.") == strlen(ip)) {
			unsigned dots = 0;
			for (const char *q = ip; *q; q++)
				dots += *q == '.';
			if (dots == 3 && ip[strlen(ip) - 1] != '.')
				return strcmp(ip, rl->ip) == 0;
			if (ip[strlen(ip) - 1] != '.')
				strcat(ip, ".");        /* a classful net: its prefix */
			return strncmp(rl->ip, ip, strlen(ip)) == 0;
		}
		return relay_ip_in_net(ip, rl->ip);
	}
	return rl_n >= dl && strcasecmp(rl->rdns + rl_n - dl, d) == 0 &&
	    (rl_n == dl || rl->rdns[rl_n - dl - 1] == '.');
}

/* welcomelist_from_rcvd's test of address a (lower case) against list:
 * 1 when an entry whose glob a matches names a relay it came through
 * (the newest untrusted one, or with none untrusted any trusted one),
 * -1 when entries match but no relay (a forgery, unless
 * welcomelist_allows_relays has a), 0 when none matches. */
static int
from_rcvd(struct scan *sc, const char *list, const char *a)
{
	const struct addrlist *l = alist(sc->rs, list);
	const struct relays *rs = &sc->relays;
	size_t first, last;
	int forged = 0;

	if (l == NULL || l->n == 0)
		return 0;
	(void)relays_value(sc, "Trusted");
	if (rs->ntrusted + rs->nuntrusted == 0)
		return 0;
	if (rs->nuntrusted > 0) {
		first = rs->ntrusted;
		last = first + 1;
	} else {
		first = 0;
		last = rs->ntrusted;
	}
	if (last > RELAYS_KEPT)
		last = RELAYS_KEPT;
	for (size_t i = 0; i < l->n; i++) {
		char glob[RELAY_FIELD_MAX * 2];
		const char *sp = strchr(l->v[i], ' ');
		if (sp == NULL || (size_t)(sp - l->v[i]) >= sizeof(glob))
			continue;
		snprintf(glob, sizeof(glob), "%.*s", (int)(sp - l->v[i]), l->v[i]);
		if (!glob_match(glob, a, 1))
			continue;
		for (size_t k = first; k < last; k++)
			if (relay_is(&rs->v[k], sp + 1))
				return 1;
		forged = -1;
	}
	if (forged && in_alist(alist(sc->rs, "welcomelist_allows_relays"), a))
		forged = 0;
	return forged;
}

/* WLBLEval's _check_from_in_welcomelist and _default_welcomelist over
 * all_from_addrs: 1 welcome-listed, -1 only forged matches, 0 none */
static void
from_welcome(struct scan *sc, int *welcome, int *def)
{
	char *v[ADDRS_MAX];
	size_t n = all_from_addrs(sc, v);

	*welcome = *def = 0;
	for (size_t i = 0; i < n && *welcome <= 0; i++) {
		int w;
		if (in_list_globs(sc->rs->welcome, sc->rs->nwelcome, v[i]))
			*welcome = 1;
		else if ((w = from_rcvd(sc, FROM_RCVD_LIST "welcome", v[i])) != 0)
			*welcome = w;
	}
	for (size_t i = 0; i < n && *def <= 0; i++) {
		int w = from_rcvd(sc, FROM_RCVD_LIST "default", v[i]);
		if (w != 0)
			*def = w;
	}
	addrs_free(v, n);
}

static unsigned
ev_welcome(struct scan *sc, const struct rule *r)
{
	int w, d;

	(void)r;
	from_welcome(sc, &w, &d);
	return w > 0;
}

static unsigned
ev_default_welcome(struct scan *sc, const struct rule *r)
{
	int w, d;

	(void)r;
	from_welcome(sc, &w, &d);
	return d > 0;
}

static unsigned
ev_forged_welcome(struct scan *sc, const struct rule *r)
{
	int w, d;

	(void)r;
	from_welcome(sc, &w, &d);
	return w < 0 && d == 0;
}

static unsigned
ev_forged_default_welcome(struct scan *sc, const struct rule *r)
{
	int w, d;

	(void)r;
	from_welcome(sc, &w, &d);
	return d < 0 && w == 0;
}

static unsigned
ev_block(struct scan *sc, const struct rule *r)
{
	char *v[ADDRS_MAX];
	size_t n = all_from_addrs(sc, v);
	int hit = 0;

	(void)r;
	for (size_t i = 0; i < n && !hit; i++)
		hit = in_list_globs(sc->rs->block, sc->rs->nblock, v[i]);
	addrs_free(v, n);
	return (unsigned)hit;
}

static unsigned
ev_mime_html(struct scan *sc, const struct rule *r)
{
	(void)r;
	return sc->m->st.html_parts > 0;
}

static unsigned
ev_mime_html_only(struct scan *sc, const struct rule *r)
{
	(void)r;
	return sc->m->st.html_parts > 0 && sc->m->st.plain_parts == 0;
}

static unsigned
ev_html_image_only(struct scan *sc, const struct rule *r)
{
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 1e18);
	double t = (double)sc->m->st.html_bytes;

	/* SpamAssassin's measure: the HTML's own length, markup included
	 * (its "bytes of words" describes notwithstanding), here summed
	 * over the HTML parts where it looks at each */
	return sc->m->st.html_images > 0 && t > lo && t <= hi;
}

static double
html_ratio(const struct mime_stats *st)
{
	if (st->html_bytes == 0)
		return 0;
	return 1.0 - (double)st->html_text_bytes / (double)st->html_bytes;
}

/* Tempest's generic access to every analysis counter. */
static double
stat_value(const struct mime_stats *st, const char *name, int *ok)
{
	static const struct { const char *n; size_t off; int sz; } t[] = {
#define S(f) { #f, offsetof(struct mime_stats, f), (int)sizeof(((struct mime_stats *)0)->f) }
		S(hdr_bad_lines), S(hdr_8bit), S(hdr_bad_2047), S(hdr_2047),
		S(hdr_long_lines), S(hdr_dup_single), S(parts), S(text_parts),
		S(html_parts), S(html_rendered), S(plain_parts), S(attachments), S(max_depth_seen),
		S(missing_boundary), S(bad_base64), S(bad_qp), S(charset_unknown),
		S(charset_bad_bytes), S(mime_missing_version), S(base64_text),
		S(truncated), S(html_tags), S(html_bad_tags), S(html_images),
		S(html_comments), S(html_image_area), S(html_font_big), S(html_font_face_bad),
		S(html_font_low_contrast), S(html_font_max_size), S(html_embeds),
		S(html_form_mailto), S(html_font_invalid_color),
		S(html_hidden), S(html_obfuscated_words), S(html_entity_letters),
		S(html_links), S(html_forms), S(html_scripts), S(html_bytes),
		S(html_text_bytes), S(uri_obfuscated), S(uri_numeric_host),
		S(uri_numeric_encoded),
#undef S
	};

	*ok = 1;
	if (strcmp(name, "html_ratio") == 0)
		return html_ratio(st);
	for (size_t i = 0; i < NELEM(t); i++)
		if (strcmp(name, t[i].n) == 0) {
			const char *p = (const char *)st + t[i].off;
			if (t[i].sz == sizeof(unsigned)) return *(const unsigned *)(const void *)p;
			if (t[i].sz == sizeof(unsigned long)) return (double)*(const unsigned long *)(const void *)p;
		}
	*ok = 0;
	return 0;
}

static unsigned
ev_html_range(struct scan *sc, const struct rule *r)
{
	const char *what = r->neval_args > 0 ? r->eval_args[0] : "";
	double v, lo = arg_num(r, 1, 0), hi = arg_num(r, 2, 1e18);

	if (strcmp(what, "ratio") == 0)
		v = html_ratio(&sc->m->st);
	else if (strcmp(what, "image_area") == 0)
		v = (double)sc->m->st.html_image_area;
	else if (strcmp(what, "max_size") == 0)
		v = (double)sc->m->st.html_font_max_size;
	else if (strstr(what, "_ratio") != NULL) {
		/* each HTML part's, as SpamAssassin's renderer counts: when
		 * it has tags (and, for obfuscation_ratio, an obfuscation) */
		const struct mime_stats *st = &sc->m->st;
		for (unsigned i = 0; i < st->html_parts_kept; i++) {
			const unsigned *t = st->html_part_tags[i];
			double x;
			if (t[HTML_SA_TAGS] == 0)
				continue;
			if (strcmp(what, "closed_extra_ratio") == 0)
				x = (double)t[HTML_SA_CLOSED_EXTRA] / t[HTML_SA_TAGS];
			else if (strcmp(what, "obfuscation_ratio") == 0) {
				if (t[HTML_SA_OBFUSCATION] == 0)
					continue;
				x = (double)t[HTML_SA_OBFUSCATION] / t[HTML_SA_TAGS];
			} else if (strcmp(what, "bad_tag_ratio") == 0) {
				if (t[HTML_SA_ELEMENTS] == 0)
					continue;
				x = (double)(t[HTML_SA_TAGS] - t[HTML_SA_ELEMENTS]) / t[HTML_SA_TAGS];
			} else {        /* non_element_ratio */
				if (t[HTML_SA_NAMES] == 0 || t[HTML_SA_ELEMENT_NAMES] == 0)
					continue;
				x = (double)(t[HTML_SA_NAMES] - t[HTML_SA_ELEMENT_NAMES]) /
				    t[HTML_SA_NAMES];
			}
			if (x > lo && x <= hi)
				return 1;
		}
		return 0;
	} else if (strcmp(what, "length") == 0) {
		/* each HTML part's own (html_eval's measure) */
		const struct mime_stats *st = &sc->m->st;
		for (unsigned i = 0; i < st->html_parts_kept; i++)
			if ((double)st->html_part_len[i] > lo && (double)st->html_part_len[i] <= hi)
				return 1;
		return 0;
	} else
		return 0;       /* (not reached: eval_args_known) */
	/* as SpamAssassin: above min, at most max ("inf": no bound) */
	return sc->m->st.html_rendered > 0 && v > lo && v <= hi;
}

static unsigned
ev_html_test(struct scan *sc, const struct rule *r)
{
	const struct mime_stats *st = &sc->m->st;
	const char *w = r->neval_args > 0 ? r->eval_args[0] : "";

	if (strcmp(w, "html") == 0)
		return st->html_rendered > 0;
	if (strcmp(w, "big_font") == 0 || strcmp(w, "font_big") == 0)
		return st->html_font_big > 0;
	if (strcmp(w, "font_face_bad") == 0)
		return st->html_font_face_bad > 0;
	if (strcmp(w, "font_low_contrast") == 0)
		return st->html_font_low_contrast > 0;
	if (strcmp(w, "font_invalid_color") == 0)
		return st->html_font_invalid_color > 0;
	if (strcmp(w, "embeds") == 0)
		return st->html_embeds > 0;
	if (strcmp(w, "form_action_mailto") == 0)
		return st->html_form_mailto > 0;
	if (strcmp(w, "obfuscation") == 0)
		return st->html_obfuscated_words > 0;
	if (strcmp(w, "hidden") == 0 || strcmp(w, "font_invisible") == 0)
		return st->html_hidden > 0;
	if (strcmp(w, "script") == 0)
		return st->html_scripts > 0;
	if (strcmp(w, "form") == 0)
		return st->html_forms > 0;
	return 0;
}

static unsigned
ev_tempest_stat(struct scan *sc, const struct rule *r)
{
	int ok;
	double v, lo = arg_num(r, 1, 1), hi = arg_num(r, 2, 1e18);

	if (r->neval_args < 1)
		return 0;
	v = stat_value(&sc->m->st, r->eval_args[0], &ok);
	return ok && v >= lo && v < hi;
}

/* check_for_shifted_date(min, max): Date: minus the closest Received:
 * time at least min and under max hours ("undef": no bound). */
static unsigned
ev_shifted_date(struct scan *sc, const struct rule *r)
{
	if (r->neval_args < 2)
		return 0;
	if (!sc->have_date_diff) {
		sc->date_diff = msg_date_diff(sc->m);
		sc->have_date_diff = 1;
	}
	return (strcmp(r->eval_args[0], "undef") == 0 ||
	    (double)sc->date_diff >= 3600 * strtod(r->eval_args[0], NULL)) &&
	    (strcmp(r->eval_args[1], "undef") == 0 ||
	    (double)sc->date_diff < 3600 * strtod(r->eval_args[1], NULL));
}

/* SpamAssassin's HeaderEval tests (header_eval.h) */
static const char *
arg_str(const struct rule *r, int i)
{
	return i < r->neval_args ? r->eval_args[i] : "";
}

static unsigned
ev_header_count_range(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 3 && he_header_count_range(sc->m, arg_str(r, 0),
	    arg_num(r, 1, 0), arg_num(r, 2, 0));
}

static unsigned
ev_to_in_subject(struct scan *sc, const struct rule *r)
{
	return he_to_in_subject(sc->m, arg_str(r, 0));
}

static unsigned
ev_illegal_chars(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 3 && he_illegal_chars(sc->m, arg_str(r, 0),
	    arg_num(r, 1, 0), arg_num(r, 2, 0));
}

/* html_tag_exists(tag): a start or end tag of that name in an HTML part */
static unsigned
ev_html_tag_exists(struct scan *sc, const struct rule *r)
{
	const char *names = sc->m->st.html_tag_names, *t = arg_str(r, 0);
	size_t tl = strlen(t);

	if (tl == 0)
		return 0;
	for (const char *p = names; (p = strstr(p, t)) != NULL; p += tl)
		if (p > names && p[-1] == ' ' && (p[tl] == ' ' || p[tl] == '\0'))
			return 1;
	return 0;
}

/* check_for_mime(test) for the tests it derives from part headers */
static unsigned
ev_check_for_mime(struct scan *sc, const struct rule *r)
{
	int n;

	if (strcmp(arg_str(r, 0), "mime_faraway_charset") == 0)
		return he_mime_faraway_charset(sc->m, sc->rs->ok_locales);
	if (strcmp(arg_str(r, 0), "mime_ascii_text_illegal") == 0)
		return he_ascii_text_illegal(sc->m);
	/* (SpamAssassin 4.0.1's never hits: it looks for its parser's note
	 * on the wrong object; this one is Tempest's own part limit) */
	if (strcmp(arg_str(r, 0), "mimepart_limit_exceeded") == 0)
		return sc->m->st.parts_limit;
	n = he_check_for_mime(sc->m, arg_str(r, 0));

	return n > 0 ? (unsigned)n : 0;
}

static unsigned
ev_image_count(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 2 && he_image_count(sc->m, arg_str(r, 0), arg_num(r, 1, 0),
	    r->neval_args >= 3, arg_num(r, 2, 0));
}

static unsigned
ev_uppercase(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 2 && he_uppercase(sc->m, arg_num(r, 0, 0), arg_num(r, 1, 0));
}

static unsigned
ev_base64_length(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 1 && he_base64_length(sc->m, arg_num(r, 0, 0),
	    r->neval_args >= 2, arg_num(r, 1, 0));
}

/* EnvelopeFrom:addr, malloc'ed ("" when there is none) */
static char *
envfrom_addr(struct scan *sc)
{
	char *e, *a;

	(void)relays_value(sc, "Trusted");      /* (computes the relays) */
	if ((e = relays_envelope_from(sc->m, &sc->relays)) == NULL)
		return xstrdup("");
	a = mime_addr(e);
	free(e);
	return a;
}

/* SpamAssassin's RelayEval tests: relays trusted, untrusted, unparseable */
static unsigned
ev_all_trusted(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return sc->relays.ntrusted && !sc->relays.nuntrusted && !sc->relays.nunparseable;
}

static unsigned
ev_no_relays(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return !sc->relays.ntrusted && !sc->relays.nuntrusted && !sc->relays.nunparseable;
}

static unsigned
ev_relays_unparseable(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return sc->relays.nunparseable > 0;
}

static unsigned
ev_helo_ip_mismatch(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return re_helo_ip_mismatch(&sc->relays);
}

static unsigned
ev_forged_received_trail(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return re_forged_received_trail(&sc->relays);
}

static unsigned
ev_mailfrom_matches_rcvd(struct scan *sc, const struct rule *r)
{
	char *e = envfrom_addr(sc);
	unsigned hit = e[0] != '\0' && re_mailfrom_matches_rcvd(&sc->relays, &sc->rs->rb, e);

	(void)r;
	free(e);
	return hit;
}

static unsigned
ev_env_and_hdr_from(struct scan *sc, const struct rule *r)
{
	char *e = envfrom_addr(sc), *f = he_addr(sc->m, "From");
	unsigned hit = strcasecmp(e, f) == 0;

	(void)r;
	free(e);
	free(f);
	return hit;
}

static unsigned
ev_equal_from_domains(struct scan *sc, const struct rule *r)
{
	char *e = envfrom_addr(sc);
	unsigned hit = he_equal_from_domains(sc->m, e);

	(void)r;
	free(e);
	return hit;
}

/* html_text_match(list, re): an entry of an HTML list (html.h) the
 * pattern (as written, no flags) matches, in characters as SpamAssassin
 * matches these texts (it decodes an HTML part to characters before its
 * parser sees it; the texts are UTF-8), in bytes for an entry that is
 * no valid UTF-8 (as it matches a part it could not decode).  Both forms
 * are compiled on first use and kept by the pattern's text (once per
 * process, not for use from several threads). */
#define HTM_MAX 32
static struct {
	char *pat;
	pcre2_code *re[2];      /* UTF-8, bytes */
} htm[HTM_MAX];

static int
htm_pattern(const char *pat, pcre2_code *re[2])
{
	size_t k;
	int err;
	PCRE2_SIZE off;

	for (k = 0; k < HTM_MAX && htm[k].pat != NULL; k++)
		if (strcmp(htm[k].pat, pat) == 0) {
			re[0] = htm[k].re[0];
			re[1] = htm[k].re[1];
			return 1;
		}
	for (int b = 0; b < 2; b++) {
		re[b] = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
		    b ? 0 : PCRE2_UTF, &err, &off, NULL);
		spam_jit_fixed(re[b]);
	}
	if (k == HTM_MAX)
		return 0;       /* (the caller frees them) */
	htm[k].pat = xstrdup(pat);
	htm[k].re[0] = re[0];
	htm[k].re[1] = re[1];
	return 1;
}

static unsigned
ev_html_text_match(struct scan *sc, const struct rule *r)
{
	static const char *const lists[] = { "comment", "anchor", "title" };
	const struct buf *b = NULL;
	pcre2_code *re[2];
	pcre2_match_data *md;
	unsigned hit = 0;
	int kept;

	for (int k = 0; k < 3; k++)
		if (strcmp(arg_str(r, 0), lists[k]) == 0)
			b = &sc->m->html_texts[k];
	if (b == NULL || b->len == 0)
		return 0;
	kept = htm_pattern(arg_str(r, 1), re);
	md = pcre2_match_data_create(1, NULL);
	for (size_t i = 0; i < b->len && !hit && !re_budget_spent(sc); ) {
		size_t e = i + 1;       /* b->data[i] is the entry's NUL */
		int rc = -1;
		while (e < b->len && b->data[e] != '\0')
			e++;
		if (re[0] != NULL)
			rc = pcre2_match(re[0], (PCRE2_SPTR)b->data + i + 1, e - i - 1, 0, 0, md,
			    sc->rs->mctx);
		/* (PCRE2_ERROR_UTF8_ERR1..21: not UTF-8) */
		if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21 && re[1] != NULL)
			rc = pcre2_match(re[1], (PCRE2_SPTR)b->data + i + 1, e - i - 1, 0, 0, md,
			    sc->rs->mctx);
		re_charge(sc, rc);
		hit = rc >= 0;
		i = e;
	}
	pcre2_match_data_free(md);
	for (int k = 0; k < 2 && !kept; k++)
		if (re[k] != NULL)
			pcre2_code_free(re[k]);
	return hit;
}

/* "OP N" of SpamAssassin's html_eval and html_tag_balance (it evaluates
 * the text as Perl after "$val"): <, <=, >, >=, ==, != and a number; -1
 * for anything else. */
static int
cmp_expr(double v, const char *e)
{
	char op[3] = "";
	char *end;
	double x;
	size_t k = 0;

	while (*e == ' ')
		e++;
	while (k < 2 && (*e == '<' || *e == '>' || *e == '=' || *e == '!'))
		op[k++] = *e++;
	op[k] = '\0';
	x = strtod(e, &end);
	if (end == e)
		return -1;
	while (*end == ' ')
		end++;
	if (*end != '\0')
		return -1;
	if (strcmp(op, "<") == 0) return v < x;
	if (strcmp(op, "<=") == 0) return v <= x;
	if (strcmp(op, ">") == 0) return v > x;
	if (strcmp(op, ">=") == 0) return v >= x;
	if (strcmp(op, "==") == 0) return v == x;
	if (strcmp(op, "!=") == 0) return v != x;
	return -1;
}

/* html_eval('length', expr): an HTML part whose length (characters)
 * satisfies it */
static unsigned
ev_html_eval(struct scan *sc, const struct rule *r)
{
	const struct mime_stats *st = &sc->m->st;

	for (unsigned i = 0; i < st->html_parts_kept; i++)
		if (cmp_expr((double)st->html_part_len[i], arg_str(r, 1)) == 1)
			return 1;
	return 0;
}

/* html_tag_balance(tag, expr): an HTML part whose start tags less end
 * tags of that name (never below 0) satisfy it */
static unsigned
ev_html_tag_balance(struct scan *sc, const struct rule *r)
{
	const struct mime_stats *st = &sc->m->st;

	for (int b = 0; html_balance_tags[b] != NULL; b++) {
		if (strcmp(arg_str(r, 0), html_balance_tags[b]) != 0)
			continue;
		for (unsigned i = 0; i < st->html_parts_kept; i++)
			if (st->html_part_balance[i][b] >= 0 &&     /* (seen) */
			    cmp_expr((double)st->html_part_balance[i][b], arg_str(r, 1)) == 1)
				return 1;
	}
	return 0;
}

/* ---- sender lists (WLBLEval's check_from_in_list, the FreeMail
 * plugin) ---- */


/* The addresses of every header called name ("EnvelopeFrom" too), lower
 * case, appended to v (at most ADDRS_MAX in all). */
static void
addrs_of_max(struct scan *sc, const char *name, char **v, size_t *n, size_t max,
    int first_only)
{
	if (strcmp(name, "EnvelopeFrom") == 0) {
		char *e = envfrom_addr(sc);
		if (e[0] != '\0' && *n < max)
			v[(*n)++] = e;
		else
			free(e);
		return;
	}
	for (size_t i = 0; i < sc->m->nhdrs && *n < max; i++) {
		if (strcasecmp(sc->m->hdrs[i].name, name) != 0)
			continue;
		if (sc->hdr_addrs == NULL) {
			sc->hdr_addrs = xcalloc(sc->m->nhdrs, sizeof(*sc->hdr_addrs));
			sc->hdr_naddrs = xcalloc(sc->m->nhdrs, sizeof(*sc->hdr_naddrs));
		}
		if (sc->hdr_addrs[i] == NULL) {
			char *a[ADDRS_MAX], *nm[ADDRS_MAX];
			size_t k = he_parse_addresses(sc->m->hdrs[i].raw, a, nm, ADDRS_MAX), na = 0;
			/* (the ones found without an address left out) */
			sc->hdr_addrs[i] = xcalloc(k + 1, sizeof(char *));
			for (size_t j = 0; j < k; j++) {
				free(nm[j]);
				if (a[j] != NULL)
					sc->hdr_addrs[i][na++] = a[j];
			}
			sc->hdr_naddrs[i] = na;
		}
		for (size_t j = 0; j < sc->hdr_naddrs[i] && *n < max; j++)
			v[(*n)++] = xstrdup(sc->hdr_addrs[i][j]);
		if (first_only)
			break;
	}
}

static void
addrs_of(struct scan *sc, const char *name, char **v, size_t *n, int first_only)
{
	addrs_of_max(sc, name, v, n, ADDRS_MAX, first_only);
}

/* SpamAssassin's all_from_addrs(): the Resent-From: addresses of its
 * first such header, else those of From:, Envelope-Sender:,
 * Resent-Sender:, X-Envelope-From: and the envelope sender; repeated
 * dots one, lower case, each once.  Their number, malloc'ed in v. */
static size_t
all_from_addrs(struct scan *sc, char **v)
{
	static const char *const hdrs[] = {
		"From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From", "EnvelopeFrom",
	};
	size_t n = 0, k = 0;

	addrs_of(sc, "Resent-From", v, &n, 1);
	if (n == 0)
		for (size_t h = 0; h < NELEM(hdrs); h++)
			addrs_of(sc, hdrs[h], v, &n, 0);
	for (size_t i = 0; i < n; i++) {
		char *a = v[i], *w = a;
		int dup = 0;
		for (char *r = a; *r; r++)      /* tr/././s, lc */
			if (!(*r == '.' && w > a && w[-1] == '.'))
				*w++ = (char)tolower((unsigned char)*r);
		*w = '\0';
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(v[j], a) == 0;
		if (dup)
			free(a);
		else
			v[k++] = a;
	}
	return k;
}

static void
addrs_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

/* A glob (lower case; '*' any text, or with dots 0 any text without a
 * '.'; '?' one character) against s, case aside. */
static int
glob_match(const char *p, const char *s, int dots)
{
	const char *star = NULL, *back = NULL;

	while (*s) {
		if (*p == '*') {
			star = ++p;
			back = s;
		} else if (*p == '?' || (*p != '\0' &&
		    tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (star != NULL && (dots || *back != '.')) {
			p = star;
			s = ++back;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static const struct addrlist *
alist(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->nalists; i++)
		if (strcmp(rs->alists[i].name, name) == 0)
			return &rs->alists[i];
	return NULL;
}

static int
in_alist(const struct addrlist *l, const char *a)
{
	return l != NULL && in_list_globs(l->v, l->n, a);
}

/* check_from_in_list(NAME): a From address (all_from_addrs) the list has */
static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned
ev_from_in_list(struct scan *sc, const struct rule *r)
{
	const struct addrlist *l = alist(sc->rs, arg_str(r, 0));
	char *v[ADDRS_MAX];
	size_t n;
	unsigned hit = 0;

	if (l == NULL)
		return 0;
	n = all_from_addrs(sc, v);
	for (size_t i = 0; i < n && !hit; i++)
		hit = in_alist(l, v[i]);
	addrs_free(v, n);
	return hit;
}

/* SpamAssassin's all_to_addrs(): the first Resent-To: and Resent-Cc:
 * addresses when there are, else the "for <addr>;" of the newest three
 * Received: lines (a domain with a dot) and the addresses of To:,
 * Apparently-To:, Delivered-To:, Envelope-Recipients:,
 * Apparently-Resent-To:, X-Envelope-To:, Envelope-To:, X-Delivered-To:,
 * X-Original-To:, X-Rcpt-To:, X-Real-To:, Cc:; each once.  Their
 * number, malloc'ed in v. */
static size_t
all_to_addrs(struct scan *sc, char **v)
{
	static const char *const hdrs[] = {
		"To", "Apparently-To", "Delivered-To", "Envelope-Recipients",
		"Apparently-Resent-To", "X-Envelope-To", "Envelope-To", "X-Delivered-To",
		"X-Original-To", "X-Rcpt-To", "X-Real-To", "Cc",
	};
	size_t n = 0, k = 0;

	for (int h = 0; h < 2; h++) {   /* each one's first address */
		size_t before = n;
		addrs_of(sc, h == 0 ? "Resent-To" : "Resent-Cc", v, &n, 1);
		while (n > before + 1)
			free(v[--n]);
	}
	if (n == 0) {
		unsigned rcvd = 0;
		for (size_t i = 0; i < sc->m->nhdrs && rcvd < 3 && n < ADDRS_MAX; i++) {
			struct buf u;
			const char *f, *at, *e;
			if (strcasecmp(sc->m->hdrs[i].name, "Received") != 0)
				continue;
			rcvd++;
			buf_init(&u, 8192);
			mime_unfold(sc->m->hdrs[i].value, strlen(sc->m->hdrs[i].value), &u);
			for (f = u.data; f != NULL && (f = strstr(f, " for ")) != NULL; f++) {
				const char *a = f + 5 + (f[5] == '<');
				e = a + strcspn(a, " \t;");
				if (*e != ';' || (at = memchr(a, '@', (size_t)(e - a))) == NULL)
					continue;
				if (e > a && e[-1] == '>')
					e--;
				/* (\S+@(\S+?)) with a domain that has a dot */
				if (at > a && memchr(at + 1, '.', (size_t)(e - at - 1)) != NULL &&
				    at[1] != '.' && e[-1] != '.') {
					v[n++] = xstrndup(a, (size_t)(e - a));
					break;
				}
			}
			buf_free(&u);
		}
		for (size_t h = 0; h < NELEM(hdrs); h++)
			addrs_of(sc, hdrs[h], v, &n, 0);
	}
	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(v[j], v[i]) == 0;
		if (dup)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	return k;
}

/* check_to_in_list(NAME) and WLBLEval's check_to_in_welcomelist,
 * _blocklist, _more_spam, _all_spam (the lists welcomelist_to,
 * blocklist_to, more_spam_to, all_spam_to): a recipient address
 * (all_to_addrs) the list has */
static int
to_in_list(struct scan *sc, const char *name)
{
	const struct addrlist *l = alist(sc->rs, name);
	char *v[ADDRS_MAX];
	size_t n;
	int hit = 0;

	if (l == NULL || l->n == 0)
		return 0;
	n = all_to_addrs(sc, v);
	for (size_t i = 0; i < n && !hit; i++)
		hit = in_alist(l, v[i]);
	addrs_free(v, n);
	return hit;
}

static unsigned
ev_to_in_list(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 1 && to_in_list(sc, arg_str(r, 0));
}

/* The WelcomeListSubject plugin: a welcomelist_subject / blocklist_subject
 * glob ('*' any text, '?' one character) found in the Subject (the body
 * text's first line), case aside */
static int
subject_in_list(struct scan *sc, const char *name)
{
	const struct addrlist *l = alist(sc->rs, name);
	const char *b = sc->m->body.data ? sc->m->body.data : "";
	const char *nl = memchr(b, '\n', sc->m->body.len);
	char *subj;
	int hit = 0;

	if (l == NULL || l->n == 0 || mime_header_get(sc->m, "Subject") == NULL)
		return 0;
	subj = xstrndup(b, nl != NULL ? (size_t)(nl - b) : sc->m->body.len);
	hit = in_list_globs(l->v, l->n, subj);  /* (kept as "*pattern*") */
	free(subj);
	return hit;
}

static unsigned
ev_subject_welcome(struct scan *sc, const struct rule *r)
{
	(void)r;
	return subject_in_list(sc, SUBJECT_LIST "welcome");
}

static unsigned
ev_subject_block(struct scan *sc, const struct rule *r)
{
	(void)r;
	return subject_in_list(sc, SUBJECT_LIST "block");
}

/* check_replyto_in_list(NAME): the first Reply-To: address */
static unsigned
ev_replyto_in_list(struct scan *sc, const struct rule *r)
{
	const struct addrlist *l = alist(sc->rs, arg_str(r, 0));
	char *a = he_addr(sc->m, "Reply-To");
	unsigned hit = l != NULL && a[0] != '\0' && in_alist(l, a);

	free(a);
	return hit;
}

/* The FreeMail plugin's _is_freemail(): not welcome-listed (the address
 * or its domain, or a role or bounce local part), and its domain listed
 * in freemail_domains. */
static int
is_freemail(const struct ruleset *rs, const char *email)
{
	const char *at = strrchr(email, '@'), *dom = at ? at + 1 : email;

	if (email[0] == '\0' || rs->nfm[FM_DOM] + rs->nfm[FM_WILD] == 0)
		return 0;
	for (size_t i = 0; i < rs->nfm[FM_WELCOME]; i++)
		if (strcmp(rs->fm[FM_WELCOME][i], email) == 0 ||
		    strcmp(rs->fm[FM_WELCOME][i], dom) == 0)
			return 0;
	if (he_freemail_role(email))
		return 0;
	if (rs->nfm[FM_DOM] > 0 &&
	    bsearch(&dom, rs->fm[FM_DOM], rs->nfm[FM_DOM], sizeof(char *), cmp_strp) != NULL)
		return 1;
	/* a wildcard: '*' any label text (no '.'), '?' one character */
	for (size_t i = 0; i < rs->nfm[FM_WILD]; i++)
		if (glob_match(rs->fm[FM_WILD][i], dom, 0))
			return 1;
	return 0;
}

/* check_freemail_from([re]): a From address (all_from_addrs) that is a
 * freemail one (and matches re) */
static unsigned
ev_freemail_from(struct scan *sc, const struct rule *r)
{
	char *v[ADDRS_MAX];
	size_t n = all_from_addrs(sc, v);
	unsigned hit = 0;

	for (size_t i = 0; i < n && !hit; i++)
		hit = is_freemail(sc->rs, v[i]) &&
		    (r->neval_args < 1 || he_match(r->eval_args[0], v[i]));
	addrs_free(v, n);
	return hit;
}

/* check_freemail_header(hdr[, re]): an address of hdr that is a freemail
 * one (and matches re) */
static unsigned
ev_freemail_header(struct scan *sc, const struct rule *r)
{
	char *v[ADDRS_MAX];
	size_t n = 0;
	unsigned hit = 0;

	if (r->neval_args < 1)
		return 0;
	addrs_of(sc, r->eval_args[0], v, &n, 0);
	for (size_t i = 0; i < n && !hit; i++) {
		str_lower(v[i]);
		hit = is_freemail(sc->rs, v[i]) &&
		    (r->neval_args < 2 || he_match(r->eval_args[1], v[i]));
	}
	addrs_free(v, n);
	return hit;
}

/* The FreeMail plugin's body addresses, for check_freemail_replyto: its
 * e-mail pattern (a local part of its characters, up to 4 labels, then
 * a TLD of util_rb_tld, all case aside), compiled with the two it blanks
 * out a body line with first (an http link with an '@' in it; an
 * address in <> or followed by a "label:", as in "x@y.com wrote:"). */
static const char fm_local[] = "[a-z0-9!#\\$%&'*+\\/=?^_`{|}~-]";

static int
fm_patterns(struct ruleset *rs)
{
	struct buf e, p;
	int err;
	PCRE2_SIZE off;

	if (rs->fm_re[0] != NULL)
		return 1;
	if (rs->rb.n[0] == 0)
		return 0;       /* (no TLD: the plugin's pattern never matches) */
	buf_init(&e, BUF_UNLIMITED);
	(void)buf_printf(&e, "(?=.{0,64}\\@)(?<!%s)(%s+(?:\\.%s+)*\\@"
	    "(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}(?<![a-zA-Z0-9-])(?:",
	    fm_local, fm_local, fm_local);
	for (size_t i = 0; i < rs->rb.n[0]; i++) {
		if (i > 0)
			(void)buf_appendc(&e, '|');
		sa_quotemeta(&e, rs->rb.v[0][i]);
	}
	(void)buf_appends(&e, ")(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9])))");
	buf_init(&p, BUF_UNLIMITED);
	(void)buf_printf(&p, "<?(?<!mailto:)%s(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone|"
	    "e?-?mail))[a-z]{2,11}:)", buf_cstr(&e));
	rs->fm_re[0] = pcre2_compile((PCRE2_SPTR)buf_cstr(&e), e.len, PCRE2_CASELESS, &err,
	    &off, NULL);
	rs->fm_re[1] = pcre2_compile((PCRE2_SPTR)"<?https?://\\S{0,255}(?:\\@|%40)\\S{0,255}",
	    PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &err, &off, NULL);
	rs->fm_re[2] = pcre2_compile((PCRE2_SPTR)buf_cstr(&p), p.len, PCRE2_CASELESS, &err,
	    &off, NULL);
	buf_free(&e);
	buf_free(&p);
	for (int k = 0; k < 3; k++) {
		if (rs->fm_re[k] == NULL) {
			for (int j = 0; j < 3; j++)
				if (rs->fm_re[j] != NULL)
					pcre2_code_free(rs->fm_re[j]);
			memset(rs->fm_re, 0, sizeof(rs->fm_re));
			return 0;
		}
		spam_jit_fixed(rs->fm_re[k]);
	}
	return 1;
}

/* An address (lower case) added to v unless there; 0 when v is full. */
static int
fm_add(char **v, size_t *n, size_t max, const char *s, size_t len)
{
	char *a = xstrndup(s, len);

	str_lower(a);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i], a) == 0) {
			free(a);
			return 1;
		}
	if (*n >= max) {
		free(a);
		return 0;
	}
	v[(*n)++] = a;
	return 1;
}

/* Whether s[0..n) contains needle[0..nl), case aside. */
static int
has_nocase(const char *s, size_t n, const char *needle, size_t nl)
{
	for (size_t i = 0; nl > 0 && i + nl <= n; i++)
		if (strncasecmp(s + i, needle, nl) == 0)
			return 1;
	return 0;
}

/* Its _parse_body(): the addresses of the message's mailto: links (not
 * also in its text), then those of the body text once the two blanking
 * patterns have run on each line; the freemail ones in fv.  -1 when the
 * body has 5 addresses or 3 freemail ones (the plugin then skips the
 * body: freemail_max_body_emails, freemail_max_body_freemails). */
static int
fm_body(struct scan *sc, char **fv, size_t *nfv)
{
	struct ruleset *rs = sc->rs;
	const struct buf *links = &sc->m->html_texts[HTML_TEXT_MAILTO];
	const struct buf *body = &sc->m->body;
	char *v[40];
	size_t n = 0, all = 0;
	pcre2_match_data *md;
	int skip = 0;

	*nfv = 0;
	if (!fm_patterns(rs))
		return 0;
	md = pcre2_match_data_create_from_pattern(rs->fm_re[0], NULL);
	for (size_t i = 0; i < links->len && n < 20; ) {
		size_t e = i + 1;       /* links->data[i] is the entry's NUL */
		while (e < links->len && links->data[e] != '\0')
			e++;
		if (pcre2_match(rs->fm_re[0], (PCRE2_SPTR)links->data + i + 1, e - i - 1, 7,
		    PCRE2_ANCHORED, md, rs->mctx) >= 2) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			const char *a = links->data + i + 1 + ov[2];
			size_t al = ov[3] - ov[2];
			/* (one the text has too is the text's, below) */
			if (body->data == NULL || !has_nocase(body->data, body->len, a, al))
				(void)fm_add(v, &n, 20, a, al);
		}
		i = e;
	}
	/* (the plugin blanks the lines of the body text it is given in
	 * place, which is the text the rules after it read: its copy) */
	int keep = sc->fm_text.data == NULL;
	size_t at = 0;
	if (keep)
		buf_init(&sc->fm_text, BUF_UNLIMITED);
	for (; at < body->len && n < 40; ) {
		size_t e = at;
		PCRE2_UCHAR *line;
		PCRE2_SIZE ll;
		while (e < body->len && body->data[e] != '\n')
			e++;
		ll = e - at;     /* (the text may hold NUL bytes) */
		line = xmalloc(ll + 1);
		memcpy(line, body->data + at, ll);
		line[ll] = '\0';
		for (int k = 1; k <= 2; k++) {
			PCRE2_SIZE outl = ll * 2 + 64;
			PCRE2_UCHAR *out = xmalloc(outl);
			if (pcre2_substitute(rs->fm_re[k], line, ll, 0, PCRE2_SUBSTITUTE_GLOBAL, NULL,
			    rs->mctx, (PCRE2_SPTR)" ", 1, out, &outl) >= 0) {
				free(line);
				line = out;
				ll = outl;
			} else
				free(out);
		}
		for (PCRE2_SIZE off = 0; off <= ll && n < 40; ) {
			PCRE2_SIZE *ov;
			if (pcre2_match(rs->fm_re[0], line, ll, off, 0, md, rs->mctx) < 2)
				break;
			ov = pcre2_get_ovector_pointer(md);
			(void)fm_add(v, &n, 40, (const char *)line + ov[2], ov[3] - ov[2]);
			off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		}
		if (keep) {
			(void)buf_append(&sc->fm_text, (const char *)line, ll);
			if (e < body->len)
				(void)buf_appendc(&sc->fm_text, '\n');
		}
		free(line);
		at = e + 1;
	}
	if (keep && at < body->len)
		(void)buf_append(&sc->fm_text, body->data + at, body->len - at);
	if (keep && sc->fm_text.len > 0 && (sc->fm_text.len != body->len ||
	    memcmp(sc->fm_text.data, body->data, body->len) != 0)) {
		sc->fm_msg = *sc->m;
		sc->fm_msg.body = sc->fm_text;
	} else if (keep)
		buf_free(&sc->fm_text);
	pcre2_match_data_free(md);
	for (size_t i = 0; i < n && !skip; i++) {
		if (++all == 5) {
			skip = 1;
			break;
		}
		if (!is_freemail(rs, v[i]))
			continue;
		if (*nfv + 1 == 3) {
			skip = 1;
			break;
		}
		fv[(*nfv)++] = xstrdup(v[i]);
	}
	addrs_free(v, n);
	if (skip) {
		addrs_free(fv, *nfv);
		*nfv = 0;
		return -1;
	}
	return 0;
}

/* check_freemail_replyto('replyto'|'reply'): From: and Reply-To: both
 * freemail, no From address among the Reply-To ones; else (Reply-To:
 * freemail, or for 'reply' a freemail From: and no other Reply-To:) an
 * address in the body that is freemail and not the one to reply to.  Not
 * for a bulk envelope sender (bounces, lists, no-reply). */
static unsigned
ev_freemail_replyto(struct scan *sc, const struct rule *r)
{
	const char *what = r->neval_args > 0 ? r->eval_args[0] : "replyto";
	int reply = strcmp(what, "reply") == 0;
	char *from[ADDRS_MAX], *rt[ADDRS_MAX], *body[3], *e;
	size_t nf = 0, nr = 0, nb = 0;
	int from_fm = 0, rt_fm = 0, not_in = 1;
	unsigned hit = 0;

	if (sc->rs->nfm[FM_DOM] + sc->rs->nfm[FM_WILD] == 0)
		return 0;
	/* freemail_skip_bulk_envfrom: the EnvelopeFrom text */
	(void)relays_value(sc, "Trusted");
	if ((e = relays_envelope_from(sc->m, &sc->relays)) != NULL) {
		int bulk = he_bulk_envfrom(e);
		free(e);
		if (bulk)
			return 0;
	}
	addrs_of(sc, "From", from, &nf, 0);
	addrs_of(sc, "Reply-To", rt, &nr, 0);
	for (size_t i = 0; i < nf; i++) {
		str_lower(from[i]);
		from_fm += is_freemail(sc->rs, from[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		str_lower(rt[i]);
		rt_fm += is_freemail(sc->rs, rt[i]);
	}
	for (size_t i = 0; i < nf; i++)
		for (size_t k = 0; k < nr; k++)
			if (strcmp(from[i], rt[k]) == 0)
				not_in = 0;
	if (from_fm && rt_fm && not_in)
		hit = 1;
	else if ((!reply && rt_fm) || (reply && (nr == 0 || rt_fm) && from_fm)) {
		if (fm_body(sc, body, &nb) == 0) {
			char **to = !reply || rt_fm ? rt : from;
			size_t nto = !reply || rt_fm ? nr : nf;
			for (size_t b = 0; b < nb && !hit; b++)
				for (size_t k = 0; k < nto && !hit; k++)
					hit = strcmp(body[b], to[k]) != 0;
			addrs_free(body, nb);
		}
	}
	addrs_free(from, nf);
	addrs_free(rt, nr);
	return hit;
}

/* HeaderEval's recipient-list tests: the To:, Cc: (and, with fewer
 * than 5, Bcc:) addresses, one of each run of the same one (case
 * aside), at most 256.  sorted: 7 or more, in byte order; similar: with
 * 5 or more, the share of pairs with the same first two characters of
 * the local part, plus those of different domains with the same first
 * two characters. */
#define RECIPS_MAX 256
static size_t
recipients(struct scan *sc, char **v)
{
	char *in[RECIPS_MAX];
	size_t n = 0, k = 0;

	addrs_of_max(sc, "To", in, &n, RECIPS_MAX, 0);
	addrs_of_max(sc, "Cc", in, &n, RECIPS_MAX, 0);
	if (n < 5)
		addrs_of_max(sc, "Bcc", in, &n, RECIPS_MAX, 0);
	for (size_t i = 0; i < n; i++) {
		if (k < RECIPS_MAX && (k == 0 || strcasecmp(v[k - 1], in[i]) != 0))
			v[k++] = in[i];
		else
			free(in[i]);
	}
	return k;
}

static unsigned
ev_sorted_recipients(struct scan *sc, const struct rule *r)
{
	char *v[RECIPS_MAX], *s[RECIPS_MAX];
	size_t n = recipients(sc, v);
	unsigned hit = 0;

	(void)r;
	if (n >= 7) {
		memcpy(s, v, n * sizeof(*v));
		qsort(s, n, sizeof(*s), cmp_strp);
		hit = 1;
		for (size_t i = 0; i < n && hit; i++)
			hit = strcmp(s[i], v[i]) == 0;
	}
	addrs_free(v, n);
	return hit;
}

static unsigned
ev_similar_recipients(struct scan *sc, const struct rule *r)
{
	char *v[RECIPS_MAX];
	const char *host[RECIPS_MAX];
	size_t n = recipients(sc, v), nh = 0;
	double similar = 0;
	unsigned hits = 0, pairs = 0;
	const char *lo = arg_str(r, 0), *hi = arg_str(r, 1);

	if (n >= 5) {
		/* (the domains of those with an '@' only, in their order, as
		 * the plugin's map leaves them) */
		for (size_t i = 0; i < n; i++)
			if (strchr(v[i], '@') != NULL)
				host[nh++] = strchr(v[i], '@') + 1;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				hits += strncmp(v[i], v[j], 2) == 0;
				if (i < nh && j < nh)
					hits += strncmp(host[i], host[j], 2) == 0 &&
					    strcmp(host[i], host[j]) != 0;
				pairs++;
			}
		similar = (double)hits / pairs;
	}
	addrs_free(v, n);
	return (strcmp(lo, "undef") == 0 || similar >= strtod(lo, NULL)) &&
	    (strcmp(hi, "undef") == 0 || similar < strtod(hi, NULL));
}

/* HTMLEval's check_iframe_src(): an <iframe> with a src */
static unsigned
ev_iframe_src(struct scan *sc, const struct rule *r)
{
	(void)r;
	return sc->m->st.html_iframe_src > 0;
}

/* VBounce: have_any_bounce_relays(), check_welcomelist_bounce_relays()
 * (a bounce quoting a Received: line of one of welcomelist_bounce_relays
 * is one for mail that was sent from here: it is not blowback). */
static unsigned
ev_have_bounce_relays(struct scan *sc, const struct rule *r)
{
	const struct addrlist *l = alist(sc->rs, ADDRLIST_BOUNCE_RELAYS);

	(void)r;
	return l != NULL && l->n > 0;
}

static int
vb_space(int c, int any)
{
	return any ? c == ' ' || (c >= '\t' && c <= '\r') : c == ' ';
}

/* The plugin's / (\S+\.\S+) /g (any: \s for the blanks) over s[0..n):
 * a token between two blanks with a '.' that neither starts nor ends it;
 * a match takes its blank after, so the next token is not tried. */
static int
vb_relays(const struct addrlist *l, const char *s, size_t n, int any)
{
	char h[256];

	for (size_t i = 0; i < n;) {
		size_t b = i + 1, e = b;
		const char *dot;

		if (!vb_space((unsigned char)s[i], any)) {
			i++;
			continue;
		}
		while (e < n && !vb_space((unsigned char)s[e], 1))
			e++;
		if (e < n && vb_space((unsigned char)s[e], any) && e - b >= 3 &&
		    (dot = memchr(s + b + 1, '.', e - b - 2)) != NULL) {
			if (e - b < sizeof(h)) {
				memcpy(h, s + b, e - b);
				h[e - b] = '\0';
				if (memchr(h, '\0', e - b) == NULL && in_alist(l, h))
					return 1;
			}
			i = e + 1;
		} else
			i = e > i + 1 ? e : i + 1;
	}
	return 0;
}

static int
vb_received(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == '>' || s[i] == ' '))
		i++;
	return n - i >= 9 && strncasecmp(s + i, "Received:", 9) == 0;
}

/* One header of the raw body, its lines joined with nothing between (as
 * the plugin folds them), when it is a Received: line. */
static int
vb_header(const struct addrlist *l, const char *s, size_t n)
{
	struct buf b;
	int hit;

	if (!vb_received(s, n))
		return 0;
	if (memchr(s, '\n', n) == NULL)
		return vb_relays(l, s, n, 1);
	buf_init(&b, BUF_UNLIMITED);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n')
			(void)buf_appendc(&b, s[i]);
	hit = vb_relays(l, b.data, b.len, 1);
	buf_free(&b);
	return hit;
}

static unsigned
ev_bounce_relays(struct scan *sc, const struct rule *r)
{
	const struct addrlist *l = alist(sc->rs, ADDRLIST_BOUNCE_RELAYS);
	const char *p, *end, *nl, *hdr = NULL;

	(void)r;
	if (l == NULL || l->n == 0)
		return 0;
	/* the rendered text's paragraphs that start as a Received: line */
	for (size_t i = 0; i < sc->npara; i++)
		if (vb_received(sc->paras[i].p, sc->paras[i].n) &&
		    vb_relays(l, sc->paras[i].p, sc->paras[i].n, 0))
			return 1;
	/* the raw body from its first Received: line on, a header at a time
	 * (a line and the lines after it that start with a blank: the
	 * plugin tries each longer fold, but a blank never joins a word to
	 * the one before, so the whole header finds what they find) */
	if (sc->m->full == NULL || sc->m->body_offset >= sc->m->full_len)
		return 0;
	end = sc->m->full + sc->m->full_len;
	for (p = sc->m->full + sc->m->body_offset; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (hdr == NULL && !vb_received(p, (size_t)(nl - p)))
			continue;
		if (hdr != NULL && p < nl && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
			continue;       /* a continuation line */
		if (hdr != NULL && vb_header(l, hdr, (size_t)(p - 1 - hdr)))
			return 1;
		hdr = p;
	}
	return hdr != NULL && vb_header(l, hdr, (size_t)(end - hdr));
}

/* forged webmail trails (header_eval.h) */
static int
hotmail_trail(struct scan *sc)
{
	char *e = envfrom_addr(sc);
	int r = he_hotmail_trail(sc->m, e);

	free(e);
	return r;
}

static unsigned
ev_ratware_envfrom(struct scan *sc, const struct rule *r)
{
	char *e = envfrom_addr(sc);
	unsigned hit = he_ratware_envfrom(sc->m, &sc->rs->rb, e);

	(void)r;
	free(e);
	return hit;
}

static unsigned
ev_forged_hotmail(struct scan *sc, const struct rule *r)
{
	(void)r;
	return hotmail_trail(sc) == 1;
}

static unsigned
ev_no_hotmail(struct scan *sc, const struct rule *r)
{
	(void)r;
	return hotmail_trail(sc) == 2;
}

static unsigned
ev_forged_yahoo(struct scan *sc, const struct rule *r)
{
	(void)r;
	(void)relays_value(sc, "Trusted");
	return he_forged_yahoo(sc->m, &sc->relays);
}

/* ok_locales tests (header_eval.h) */
static unsigned
ev_faraway_charset(struct scan *sc, const struct rule *r)
{
	(void)r;
	return he_faraway_charset(sc->m, sc->rs->ok_locales);
}

static unsigned
ev_faraway_charset_headers(struct scan *sc, const struct rule *r)
{
	(void)r;
	return he_faraway_charset_headers(sc->m, sc->rs->ok_locales);
}

/* HTMLEval's html_image_ratio(min, max): an HTML part with images whose
 * rendered characters that are not white space over its image area are
 * above min, at most max */
static unsigned
ev_html_image_ratio(struct scan *sc, const struct rule *r)
{
	const struct mime_stats *st = &sc->m->st;
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 0);

	for (unsigned i = 0; i < st->html_parts_kept && r->neval_args >= 2; i++) {
		double v;
		if (st->html_part_image_area[i] == 0)
			continue;
		v = (double)st->html_part_nonspace[i] / (double)st->html_part_image_area[i];
		if (v > lo && v <= hi)
			return 1;
	}
	return 0;
}

/* MIMEEval's check_mime_multipart_ratio(min, max): min <= ratio < max */
static unsigned
ev_multipart_ratio(struct scan *sc, const struct rule *r)
{
	double v = he_multipart_ratio(sc->m);

	return r->neval_args >= 2 && v >= arg_num(r, 0, 0) && v < arg_num(r, 1, 0);
}

/* RelayEval's check_for_no_rdns_dotcom_helo(): the untrusted relays not
 * from a private address, oldest last, each deciding anew: a HELO name
 * of a big webmail site (lycos.com, hotmail.com, aol.com, yahoo.com, …)
 * from a host its MTA found no name for. */
static unsigned
ev_no_rdns_dotcom_helo(struct scan *sc, const struct rule *r)
{
	static const char *const dotcoms[] = {
		"lycos.com", "lycos.co.uk", "hotmail.com", "localhost.com",
		"excite.com", "caramail.com", "cs.com", "aol.com", "msn.com",
		"yahoo.com", "drizzle.com",
	};
	int hit = 0;

	(void)r;
	(void)relays_value(sc, "Untrusted");
	for (size_t i = 0; i < sc->relays.nuntrusted &&
	    sc->relays.ntrusted + i < RELAYS_KEPT; i++) {
		const struct relay *rl = &sc->relays.v[sc->relays.ntrusted + i];
		size_t hl = strlen(rl->helo);
		if (relay_ip_private(rl->ip))
			continue;
		hit = 0;
		for (size_t k = 0; k < NELEM(dotcoms) && rl->no_rdns; k++) {
			size_t dl = strlen(dotcoms[k]);
			if (hl >= dl && strcasecmp(rl->helo + hl - dl, dotcoms[k]) == 0 &&
			    (hl == dl || rl->helo[hl - dl - 1] == '.'))
				hit = 1;
		}
	}
	return hit;
}

/* WLBLEval's check_uri_host_listed(NAME) (and check_uri_host_in_blocklist,
 * _welcomelist: BLOCK, WELCOME): a host of the URIs uri rules see (not
 * mailto:, and only of those with a domain: a util_rb_tld list is
 * needed) whose most specific entry in the list (the host, then its
 * parent domains; an address only itself) is not a "!" one. */
static int
uri_host_listed(struct scan *sc, const char *list)
{
	char lname[160];
	const struct addrlist *l = NULL;

	snprintf(lname, sizeof(lname), URI_HOST_LIST "%s", list);
	for (size_t k = 0; k < sc->rs->nalists; k++)
		if (strcmp(sc->rs->alists[k].name, lname) == 0)
			l = &sc->rs->alists[k];
	if (l == NULL || l->n == 0)
		return 0;
	for (size_t u = 0; u < uri_count(sc); u++) {
		char *h, *at, *c, *q;
		const char *keys[12];
		size_t nk = 0;
		int verdict = -1;
		/* (its hosts: of the URIs with a domain, uri_to_domain) */
		if (uri_at(sc, u) == NULL || strncasecmp(uri_at(sc, u), "mailto:", 7) == 0 ||
		    !he_uri_has_domain(&sc->rs->rb, uri_at(sc, u), 1))
			continue;
		h = uri_host(uri_at(sc, u));
		if ((at = strrchr(h, '@')) != NULL)
			memmove(h, at + 1, strlen(at + 1) + 1);
		if (h[0] == '[') {              /* an address literal: itself */
			if ((c = strchr(h, ']')) != NULL)
				*c = '\0';
			keys[nk++] = h + 1;
		} else {
			if ((c = strrchr(h, ':')) != NULL)
				*c = '\0';
			str_lower(h);
			/* the host, then its parents (the last 11 of them) */
			for (q = h; q != NULL; q = strchr(q, '.') ? strchr(q, '.') + 1 : NULL) {
				if (nk == NELEM(keys) - 1) {
					memmove(keys, keys + 1, (nk - 1) * sizeof(keys[0]));
					nk--;
				}
				keys[nk++] = q;
				if (*q == '\0')
					break;
			}
		}
		for (size_t k = 0; k < nk && verdict < 0 && keys[k][0] != '\0'; k++)
			for (size_t i = 0; i < l->n && verdict < 0; i++) {
				const char *e = l->v[i][0] == '!' ? l->v[i] + 1 : l->v[i];
				if (strcmp(e, keys[k]) == 0)
					verdict = l->v[i][0] != '!';
			}
		free(h);
		if (verdict == 1)
			return 1;
	}
	return 0;
}

static unsigned
ev_uri_host_listed(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 1 && uri_host_listed(sc, arg_str(r, 0));
}

/* ImageInfo's pixel_coverage(type, min[, max]): min <= the pixels its
 * images cover <= max */
static unsigned
ev_pixel_coverage(struct scan *sc, const struct rule *r)
{
	double v = he_image_area(sc->m, arg_str(r, 0));

	return r->neval_args >= 2 && v >= arg_num(r, 1, 0) &&
	    (r->neval_args < 3 || v <= arg_num(r, 2, 0));
}

/* image_to_text_ratio(type, min, max): the body text's bytes over the
 * pixels its images cover, min <= ratio < max */
static unsigned
ev_image_to_text_ratio(struct scan *sc, const struct rule *r)
{
	double area = he_image_area(sc->m, arg_str(r, 0)), v;

	if (r->neval_args < 3 || sc->m->body.len == 0 || area <= 0)
		return 0;
	v = (double)sc->m->body.len / area;
	return v >= arg_num(r, 1, 0) && v < arg_num(r, 2, 0);
}

/* image_size_exact(type, h, w), image_size_range(type, minh, minw[, maxh,
 * maxw]), image_named(name) */
static unsigned
ev_image_size_exact(struct scan *sc, const struct rule *r)
{
	double h = arg_num(r, 1, 0), w = arg_num(r, 2, 0);

	return r->neval_args >= 3 && he_image_size_range(sc->m, arg_str(r, 0), h, w, h, w);
}

static unsigned
ev_image_size_range(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 3 && he_image_size_range(sc->m, arg_str(r, 0),
	    arg_num(r, 1, 0), arg_num(r, 2, 0), arg_num(r, 3, -1), arg_num(r, 4, -1));
}

static unsigned
ev_image_named(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 1 && he_image_named(sc->m, arg_str(r, 0));
}

static unsigned
ev_image_name_regex(struct scan *sc, const struct rule *r)
{
	return r->neval_args >= 1 && he_image_name_regex(sc->m, arg_str(r, 0));
}

/* BodyEval's check_blank_line_ratio(min, max[, minlines]): of the lines
 * of the text parts as decoded (the rawbody), those with only white
 * space, in percent (-1 with fewer than minlines lines); min 0 and at
 * most max, or above min and at most max */
static unsigned
ev_blank_line_ratio(struct scan *sc, const struct rule *r)
{
	const struct mime_msg *m = sc->m;
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 0), minl = arg_num(r, 2, 1), v;
	size_t lines = 0, blank = 0;

	if (r->neval_args < 2)
		return 0;
	if (minl < 1)
		minl = 1;
	for (size_t k = 0; k < m->nrawbody_parts; k++) {
		const char *s = m->rawbody.data + m->rawbody_parts[k].off;
		size_t n = m->rawbody_parts[k].len;
		for (size_t i = 0; i < n;) {
			const char *nl = memchr(s + i, '\n', n - i);
			size_t e = nl != NULL ? (size_t)(nl - s) + 1 : n;
			int sp = 1;
			for (size_t j = i; j < e && sp; j++)
				sp = isspace((unsigned char)s[j]) != 0;
			lines++;
			blank += sp;
			i = e;
		}
	}
	v = (double)lines < minl ? -1 : 100.0 * (double)blank / (double)lines;
	return (lo == 0 && v <= hi) || (v > lo && v <= hi);
}

/* URIEval's check_uri_truncated(): a URI over SpamAssassin's 8,192 bytes
 * (kept cut to them) */
static unsigned
ev_uri_truncated(struct scan *sc, const struct rule *r)
{
	(void)r;
	return sc->m->st.uri_truncated > 0;
}

/* BodyEval's check_body_length(max): the body as sent (after the header
 * block) at most max bytes */
static unsigned
ev_body_length(struct scan *sc, const struct rule *r)
{
	const struct mime_msg *m = sc->m;

	return r->neval_args >= 1 && m->body_offset <= m->full_len &&
	    (double)(m->full_len - m->body_offset) <= arg_num(r, 0, 0);
}

/* BodyEval's multipart_alternative_difference(min, max): the measure
 * (mime.h madiff) above min (or min 0), at most max (or "undef") */
static unsigned
ev_madiff(struct scan *sc, const struct rule *r)
{
	double v = sc->m->st.madiff, lo = arg_num(r, 0, 0);

	if (r->neval_args < 2)
		return 0;
	return (lo == 0 || v > lo) &&
	    (strcmp(arg_str(r, 1), "undef") == 0 || v <= arg_num(r, 1, 0));
}

/* multipart_alternative_difference_count(ratio, minhtml): more than
 * minhtml HTML words, and text words over them above ratio */
static unsigned
ev_madiff_count(struct scan *sc, const struct rule *r)
{
	const struct mime_stats *st = &sc->m->st;

	return r->neval_args >= 2 && st->madiff_html > arg_num(r, 1, 0) &&
	    (double)st->madiff_text / (double)st->madiff_html > arg_num(r, 0, 0);
}

/* BodyEval's tvd_vertical_words(min, max): of the body text's lines
 * as body rules see them (the Subject line first, each with its
 * newline, a long one in pieces) longer than 5 bytes, the largest share
 * of spaces to other characters in percent (100 when spaces are more),
 * -1 without one; at least min, below max (101 for a max of 100 or
 * more). */
static unsigned
ev_tvd_vertical_words(struct scan *sc, const struct rule *r)
{
	double lo = arg_num(r, 0, 0), hi = arg_num(r, 1, 0);
	long best = -1;

	if (r->neval_args < 2)
		return 0;
	if (hi >= 100)
		hi = 101;
	for (size_t i = 0; i < sc->npara; i++) {
		/* (bytes: SpamAssassin's text is UTF-8 octets) */
		size_t chars = sc->paras[i].n, spaces = 0;
		long pct;
		for (size_t k = 0; k < chars; k++)
			spaces += sc->paras[i].p[k] == ' ';
		if (chars <= 5)
			continue;
		pct = spaces > chars - spaces || chars == spaces ? 100 :
		    (long)(100 * spaces / (chars - spaces));
		if (pct > best)
			best = pct;
	}
	return best >= lo && best < hi;
}

/* BodyEval's check_stock_info(min): at least min stock-tip labels (any
 * message for a min of 0) */
static unsigned
ev_stock_info(struct scan *sc, const struct rule *r)
{
	double min = arg_num(r, 0, 0);

	return min == 0 || he_stock_info(sc->m) >= min;
}

static unsigned
ev_https_http_mismatch(struct scan *sc, const struct rule *r)
{
	return he_https_http_mismatch(sc->m, &sc->rs->rb, arg_num(r, 0, 1),
	    r->neval_args >= 2, arg_num(r, 1, 0));
}

static unsigned
ev_https_ip_mismatch(struct scan *sc, const struct rule *r)
{
	(void)r;
	return he_https_ip_mismatch(sc->m);
}

/* HTMLEval's html_title_subject_ratio(ratio): an HTML <title> longer
 * than ratio times the Subject (in characters, the Subject with its
 * newline, as the body text's first line has it) */
static unsigned
ev_html_title_subject_ratio(struct scan *sc, const struct rule *r)
{
	const struct buf *b = &sc->m->html_texts[HTML_TEXT_TITLE];
	const char *body = sc->m->body.data ? sc->m->body.data : "";
	const char *nl = memchr(body, '\n', sc->m->body.len);
	size_t subj = 0, e = nl != NULL ? (size_t)(nl - body) + 1 : sc->m->body.len;
	double ratio = arg_num(r, 0, 0);

	for (size_t k = 0; k < e; k++)
		subj += ((unsigned char)body[k] & 0xc0) != 0x80;
	if (r->neval_args < 1 || mime_header_get(sc->m, "Subject") == NULL)
		return 0;               /* (an empty one is its newline) */
	for (size_t i = 0; i < b->len;) {
		size_t j = i + 1, chars = 0;  /* b->data[i] is the entry's NUL */
		for (; j < b->len && b->data[j] != '\0'; j++)
			chars += ((unsigned char)b->data[j] & 0xc0) != 0x80;
		if (chars > 0 && (double)chars / (double)subj > ratio)
			return 1;
		i = j;
	}
	return 0;
}

/* MIMEEval's check_msg_parse_flags(name): a note of SpamAssassin's
 * parser on the message (mime.h MIME_SA_*). */
static const char *const parse_flag_names[] = {
	"missing_head_body_separator", "truncated_header", "missing_mime_headers",
	"missing_mime_head_body_separator", "mime_epilogue_exists", NULL,
};

static unsigned
ev_parse_flags(struct scan *sc, const struct rule *r)
{
	for (unsigned k = 0; parse_flag_names[k] != NULL; k++)
		if (strcmp(r->eval_args[0], parse_flag_names[k]) == 0)
			return (sc->m->st.sa_flags & (1u << k)) != 0;
	return 0;
}

/* The first arguments an eval implements (NULL: any). */
static const char *const html_tests[] = {
	"html", "big_font", "font_big", "font_face_bad", "font_low_contrast",
	"font_invalid_color", "embeds", "form_action_mailto", "obfuscation", "hidden",
	"font_invisible", "script", "form", NULL,
};
static const char *const mime_tests[] = {
	"mime_base64_count", "mime_qp_count", "mime_attachment", "mime_body_html_count",
	"mime_body_text_count", "mime_base64_encoded_text", "mime_bad_iso_charset",
	"mime_qp_long_line", "mime_faraway_charset", "mime_ascii_text_illegal",
	"mimepart_limit_exceeded", NULL,
};
static const char *const image_types[] = { "all", "gif", "png", "jpeg", NULL };
static const char *const html_lists[] = { "comment", "anchor", "title", NULL };
static const char *const html_measures[] = { "length", NULL };
static const char *const freemail_replyto_args[] = { "replyto", "reply", NULL };
static const char *const html_range_measures[] = {
	"ratio", "image_area", "max_size", "length", "closed_extra_ratio",
	"obfuscation_ratio", "bad_tag_ratio", "non_element_ratio", NULL,
};

static const struct {
	const char *name;
	eval_fn fn;             /* the test, or NULL: */
	const char *const *arg0;
	eval_msg_fn msg_fn;     /* a test of the message alone */
} evals[] = {
	{ "check_bayes", ev_check_bayes },
	{ "check_lr", ev_check_lr },
	{ "check_from_in_whitelist", ev_welcome },
	{ "check_from_in_welcomelist", ev_welcome },
	{ "check_from_in_default_whitelist", ev_default_welcome },
	{ "check_from_in_default_welcomelist", ev_default_welcome },
	{ "check_forged_in_whitelist", ev_forged_welcome },
	{ "check_forged_in_welcomelist", ev_forged_welcome },
	{ "check_forged_in_default_whitelist", ev_forged_default_welcome },
	{ "check_forged_in_default_welcomelist", ev_forged_default_welcome },
	{ "check_from_in_blacklist", ev_block },
	{ "check_from_in_blocklist", ev_block },
	{ "check_for_mime_html", ev_mime_html },
	{ "check_for_mime_html_only", ev_mime_html_only },
	{ "html_image_only", ev_html_image_only },
	{ "html_range", ev_html_range, html_range_measures },
	{ "html_test", ev_html_test, html_tests },
	{ "tempest_stat", ev_tempest_stat },
	{ "check_for_shifted_date", ev_shifted_date },
	{ "check_header_count_range", ev_header_count_range },
	{ "subject_is_all_caps", NULL, NULL, he_subject_all_caps },
	{ "check_for_to_in_subject", ev_to_in_subject },
	{ "check_illegal_chars", ev_illegal_chars },
	{ "check_ratware_name_id", NULL, NULL, he_ratware_name_id },
	{ "check_outlook_message_id", NULL, NULL, he_outlook_message_id },
	{ "html_tag_exists", ev_html_tag_exists },
	{ "check_for_mime", ev_check_for_mime, mime_tests },
	{ "image_count", ev_image_count, image_types },
	{ "check_for_uppercase", ev_uppercase },
	{ "check_base64_length", ev_base64_length },
	{ "check_all_trusted", ev_all_trusted },
	{ "check_no_relays", ev_no_relays },
	{ "check_relays_unparseable", ev_relays_unparseable },
	{ "helo_ip_mismatch", ev_helo_ip_mismatch },
	{ "check_for_forged_received_trail", ev_forged_received_trail },
	{ "check_mailfrom_matches_rcvd", ev_mailfrom_matches_rcvd },
	{ "check_for_matching_env_and_hdr_from", ev_env_and_hdr_from },
	{ "check_equal_from_domains", ev_equal_from_domains },
	{ "check_for_missing_to_header", NULL, NULL, he_missing_to },
	{ "check_unresolved_template", NULL, NULL, he_unresolved_template },
	{ "gated_through_received_hdr_remover", NULL, NULL, he_gated_through_rcvd_remover },
	{ "html_text_match", ev_html_text_match, html_lists },
	{ "html_eval", ev_html_eval, html_measures },
	{ "html_tag_balance", ev_html_tag_balance, html_balance_tags },
	{ "check_from_in_list", ev_from_in_list },
	{ "check_replyto_in_list", ev_replyto_in_list },
	{ "check_to_in_list", ev_to_in_list },
	{ "check_for_forged_juno_received_headers", NULL, NULL, he_forged_juno },
	{ "check_ma_non_text", NULL, NULL, he_ma_non_text },
	{ "check_subject_in_welcomelist", ev_subject_welcome },
	{ "check_subject_in_whitelist", ev_subject_welcome },
	{ "check_subject_in_blocklist", ev_subject_block },
	{ "check_subject_in_blacklist", ev_subject_block },
	{ "check_freemail_from", ev_freemail_from },
	{ "check_freemail_header", ev_freemail_header },
	{ "check_freemail_replyto", ev_freemail_replyto, freemail_replyto_args },
	{ "check_for_faraway_charset", ev_faraway_charset },
	{ "check_for_forged_gmail_received_headers", NULL, NULL, he_forged_gmail },
	{ "check_for_forged_yahoo_received_headers", ev_forged_yahoo },
	{ "check_for_forged_eudoramail_received_headers", NULL, NULL, he_forged_eudoramail },
	{ "check_for_fake_aol_relay_in_rcvd", NULL, NULL, he_fake_aol_relay },
	{ "sorted_recipients", ev_sorted_recipients },
	{ "check_iframe_src", ev_iframe_src },
	{ "check_for_forged_hotmail_received_headers", ev_forged_hotmail },
	{ "check_ratware_envelope_from", ev_ratware_envfrom },
	{ "check_for_no_hotmail_received_headers", ev_no_hotmail },
	{ "similar_recipients", ev_similar_recipients },
	{ "check_for_faraway_charset_in_headers", ev_faraway_charset_headers },
	{ "have_any_bounce_relays", ev_have_bounce_relays },
	{ "check_welcomelist_bounce_relays", ev_bounce_relays },
	{ "check_whitelist_bounce_relays", ev_bounce_relays },
	{ "check_msg_parse_flags", ev_parse_flags, parse_flag_names },
	{ "check_for_ascii_text_illegal", NULL, NULL, he_ascii_text_illegal },
	{ "check_mime_multipart_ratio", ev_multipart_ratio },
	{ "html_image_ratio", ev_html_image_ratio },
	{ "check_for_no_rdns_dotcom_helo", ev_no_rdns_dotcom_helo },
	{ "multipart_alternative_difference", ev_madiff },
	{ "multipart_alternative_difference_count", ev_madiff_count },
	{ "tvd_vertical_words", ev_tvd_vertical_words },
	{ "check_body_length", ev_body_length },
	{ "check_uri_truncated", ev_uri_truncated },
	{ "check_blank_line_ratio", ev_blank_line_ratio },
	{ "pixel_coverage", ev_pixel_coverage, image_types },
	{ "image_to_text_ratio", ev_image_to_text_ratio, image_types },
	{ "image_size_exact", ev_image_size_exact, image_types },
	{ "image_size_range", ev_image_size_range, image_types },
	{ "image_named", ev_image_named },
	{ "image_name_regex", ev_image_name_regex },
	{ "check_uri_host_listed", ev_uri_host_listed },
	{ "html_title_subject_ratio", ev_html_title_subject_ratio },
	{ "check_stock_info", ev_stock_info },
	{ "check_https_http_mismatch", ev_https_http_mismatch },
	{ "check_https_ip_mismatch", ev_https_ip_mismatch },
};

int
eval_args_known(int idx, char *const *args, int nargs)
{
	const char *const *k;

	if (idx < 0 || (size_t)idx >= NELEM(evals))
		return 0;
	if ((k = evals[idx].arg0) == NULL)
		return 1;
	for (; nargs > 0 && *k != NULL; k++)
		if (strcmp(*k, args[0]) == 0)
			return 1;
	return 0;
}

const char *
eval_name(int idx)
{
	return idx >= 0 && (size_t)idx < NELEM(evals) ? evals[idx].name : NULL;
}

int
eval_lookup(const char *name)
{
	for (size_t i = 0; i < NELEM(evals); i++)
		if (strcmp(name, evals[i].name) == 0)
			return (int)i;
	return -1;
}

/* ---- scoring ---- */

double
rule_score(const struct rule *r, int set)
{
	if (r->nscores > 0)
		return r->score[set & 3];
	if (strncmp(r->name, "__", 2) == 0)
		return 0;
	/* SpamAssassin's defaults: T_ rules 0.01, others 1.0, negative for
	 * tflags nice */
	double d = strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0;
	return (r->tflags & TF_NICE) ? -d : d;
}

const char *
rule_describe(const struct rule *r)
{
	return r->describe ? r->describe : "";
}

int
rule_is_skipped(const struct rule *r)
{
	return r->eval_unknown || r->bad || r->type == RULE_NONE || r->dep_skipped == 2 ||
	    ((r->tflags & TF_NET) && r->type != RULE_META) ||
	    (r->nscores == 1 && r->score[0] == 0 && strncmp(r->name, "__", 2) != 0);
}

size_t
ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const struct rule *
ruleset_rule(const struct ruleset *rs, size_t i)
{
	return i < rs->n ? &rs->v[i] : NULL;
}

const char *
rule_name(const struct rule *r)
{
	return r->name;
}

const char *
rule_status(const struct rule *r)
{
	if (r->type == RULE_NONE)
		return "score-only";
	if (r->eval_unknown)
		return "eval-skipped";
	if (r->bad)
		return "bad";
	if (r->dep_skipped == 2)
		return "meta-skipped";
	if (rule_is_skipped(r))
		return "disabled";
	if (r->unneeded)
		return "unneeded";      /* a __ rule no runnable rule uses */
	/* (a mimeheader rule is an eval: test of SpamAssassin's) */
	return r->eval >= 0 || r->type == RULE_MIMEHEADER ? "eval" : "active";
}

/* Mark the prefilter candidates: the paragraphs, lines, URIs and header
 * texts the prefiltered rules look at, each kind scanned once joined by
 * "\n" (see rule_prefilter.c). */
static void
prefilter_texts(struct scan *sc)
{
	struct ruleset *rs = sc->rs;
	const struct mime_msg *m = sc->m;
	struct buf b;

	prefilter_reset(rs);
	if (prefilter_active(rs, PF_BODY))
		prefilter_scan(rs, PF_BODY, m->body.data ? m->body.data : "", m->body.len,
		    sc->para_starts, NULL, sc->npara);
	if (prefilter_active(rs, PF_RAWBODY))
		prefilter_scan(rs, PF_RAWBODY, m->rawbody.data ? m->rawbody.data : "",
		    m->rawbody.len, sc->line_starts, NULL, sc->nline);
	buf_init(&b, BUF_UNLIMITED);
	if (prefilter_active(rs, PF_URI)) {
		for (size_t i = 0; i < uri_count(sc); i++) {
			if (uri_at(sc, i) == NULL)
				continue;
			(void)buf_appends(&b, uri_at(sc, i));
			(void)buf_appendc(&b, '\n');
		}
		prefilter_scan(rs, PF_URI, b.data ? b.data : "", b.len, NULL, NULL, 0);
	}
	if (prefilter_active(rs, PF_HEADER)) {
		size_t len, np = 0;
		size_t *starts = xcalloc(rs->nhkeys ? rs->nhkeys : 1, sizeof(*starts));
		int *keys = xcalloc(rs->nhkeys ? rs->nhkeys : 1, sizeof(*keys));
		buf_reset(&b);
		for (size_t k = 0; k < rs->nrun; k++)
			if (rs->v[rs->run[k]].pf && rs->v[rs->run[k]].type == RULE_HEADER)
				(void)header_text(sc, &rs->v[rs->run[k]], &len);
		for (size_t i = 0; i < rs->nhkeys; i++)
			if (sc->hc[i].value != NULL) {
				starts[np] = b.len;
				keys[np++] = (int)i;
				(void)buf_append(&b, sc->hc[i].value, sc->hc[i].len);
				(void)buf_appendc(&b, '\n');
			}
		prefilter_scan(rs, PF_HEADER, b.data ? b.data : "", b.len, starts, keys, np);
		free(starts);
		free(keys);
	}
	buf_free(&b);
}

static void run_rule(struct scan *sc, struct rule *r);

static double
meta_val(void *arg, int idx, const char *name)
{
	struct scan *sc = arg;
	struct rule *r;

	(void)name;
	if (idx < 0)
		return 0;
	r = &sc->rs->v[idx];
	if (r->state == 0)
		run_rule(sc, r);
	return r->state == 2 ? r->hits : 0;
}

/* A template rule's pattern with each %{NAME} replaced by the tag's
 * values as alternatives, each quoted ("(?:v1|v2)"), compiled; NULL when
 * a tag it names has no value (the rule does not run, as in
 * SpamAssassin) or the result does not compile.  The capture rules run
 * first. */
static pcre2_code *
template_compile(struct scan *sc, const struct rule *r)
{
	const char *p = r->pat != NULL ? r->pat : r->src;
	size_t pos = 0, last = 0, nm, len;
	struct buf b;
	pcre2_code *re = NULL;
	int err;
	PCRE2_SIZE off;

	if (!sc->captured) {
		sc->captured = 1;
		for (size_t k = 0; k < sc->rs->nrun; k++) {
			struct rule *c = &sc->rs->v[sc->rs->run[k]];
			if (c->capture && c->state == 0)
				run_rule(sc, c);
		}
	}
	buf_init(&b, 4 * 1024 * 1024);
	while (rule_next_template(p, &pos, &nm, &len)) {
		const struct tag *t = NULL;
		for (size_t i = 0; i < sc->ntags; i++)
			if (strlen(sc->tags[i].name) == len &&
			    strncmp(sc->tags[i].name, p + nm, len) == 0)
				t = &sc->tags[i];
		if (t == NULL || t->n == 0)
			goto out;
		(void)buf_append(&b, p + last, nm - 2 - last);
		(void)buf_appends(&b, "(?:");
		for (size_t i = 0; i < t->n; i++) {
			if (i > 0)
				(void)buf_appendc(&b, '|');
			sa_quotemeta(&b, t->v[i]);
		}
		(void)buf_appendc(&b, ')');
		last = pos;
	}
	(void)buf_appends(&b, p + last);
	re = pcre2_compile((PCRE2_SPTR)buf_cstr(&b), b.len, r->opts, &err, &off, NULL);
out:
	buf_free(&b);
	return re;
}

static void
run_rule(struct scan *sc, struct rule *r)
{
	unsigned hits = 0, max = r->maxhits ? r->maxhits : 1000;
	int multiple = (r->tflags & TF_MULTIPLE) != 0, pf_miss, saved_jit = r->jit;
	pcre2_code *tpl_re = NULL, *saved_re = r->re;

	r->state = 1;
	if (rule_is_skipped(r) || r->unneeded)
		goto done;
	/* a zero score in the active set disables the rule (SpamAssassin) */
	if (r->nscores == 4 && r->score[sc->set] == 0 && strncmp(r->name, "__", 2) != 0)
		goto done;
	if (r->eval >= 0) {
		hits = evals[r->eval].fn != NULL ? evals[r->eval].fn(sc, r) :
		    evals[r->eval].msg_fn(sc->m) != 0;
		goto done;
	}
	/* the message's PCRE2 budget is spent: regex rules no longer run */
	if (re_budget_spent(sc) && (r->re != NULL || r->re32 != NULL || r->tpl) &&
	    r->type != RULE_META && !r->exists) {
		sc->re_skipped++;
		goto done;
	}
	sc->re_err = 0;
	/* Vectorscan saw no possible match: PCRE2 would not match either */
	pf_miss = r->pf && !sc->rs->cand[r - sc->rs->v];
	if (pf_miss && r->type != RULE_HEADER)
		goto done;
	if (r->tpl) {
		if ((tpl_re = template_compile(sc, r)) == NULL)
			goto done;
		r->re = tpl_re;
		r->jit = 0;
	}
	switch (r->type) {
	case RULE_META:
		hits = meta_eval(&r->meta, meta_val, sc) != 0;
		break;
	case RULE_HEADER: {
		size_t len;
		const char *t = header_text(sc, r, &len);
		if (r->exists) {
			hits = t != NULL;
			break;
		}
		if (t == NULL) {
			const char *u = r->if_unset ? r->if_unset : "";
			hits = re_match(sc, r, u, strlen(u)) != r->negate;
			break;
		}
		if (multiple && !r->negate)     /* each match counts */
			hits = pf_miss ? 0 : re_count(sc, r, t, len, max);
		else
			hits = (!pf_miss && re_match(sc, r, t, len)) != r->negate;
		break;
	}
	case RULE_BODY:
	case RULE_RAWBODY: {
		struct span *v = r->type == RULE_BODY ? sc->paras : sc->lines;
		size_t n = r->type == RULE_BODY ? sc->npara : sc->nline;
		/* (nosubject: not the first line, the Subject) */
		size_t first = r->type == RULE_BODY && (r->tflags & TF_NOSUBJECT) ? 1 : 0;
		const struct ruleset *rs = sc->rs;
		if (r->pf == 2 && !rs->lines_over) {
			/* only the lines where one of its literals occurs */
			for (unsigned k = rs->lhead[r - rs->v]; k != 0 && hits < max;
			    k = rs->lnode[k - 1].next) {
				size_t i = rs->lnode[k - 1].line;
				if (i >= n)
					break;
				if (i < first)
					continue;
				hits += span_hits(sc, r, &v[i], multiple, max - hits);
				if (hits && !multiple)
					break;
			}
			break;
		}
		for (size_t i = first; i < n && hits < max; i++) {
			hits += span_hits(sc, r, &v[i], multiple, max - hits);
			if (hits && !multiple)
				break;
		}
		break;
	}
	case RULE_MIMEHEADER:
		hits = mimeheader_hits(sc, r, multiple, max);
		break;
	case RULE_URI:
		for (size_t i = 0; i < uri_count(sc) && hits < max; i++)
			if (uri_at(sc, i) != NULL &&
			    re_match(sc, r, uri_at(sc, i), strlen(uri_at(sc, i)))) {
				hits++;
				if (!multiple)
					break;
			}
		break;
	case RULE_FULL:
		if (multiple)
			hits = re_count(sc, r, sc->m->full, sc->m->full_len, max);
		else
			hits = re_match(sc, r, sc->m->full, sc->m->full_len);
		break;
	default:
		break;
	}
	/* a negated rule whose match stopped at a limit did not find its
	 * text absent */
	if (sc->re_err && r->negate && r->type != RULE_META)
		hits = 0;
done:
	if (tpl_re != NULL) {
		r->re = saved_re;
		r->jit = saved_jit;
		pcre2_code_free(tpl_re);
	}
	r->hits = hits;
	r->state = 2;
}

static int
cmp_uint(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_hit(const void *a, const void *b)
{
	return strcmp(((const struct spam_hit *)a)->name, ((const struct spam_hit *)b)->name);
}

void
spam_scan(struct ruleset *rs, const struct mime_msg *m, double bayes_prob,
    double lr_prob, struct spam_result *res)
{
	struct scan sc;
	unsigned *hr;
	size_t nhr = 0;

	if (!rs->finished)
		ruleset_finish(rs);
	memset(&sc, 0, sizeof(sc));
	sc.rs = rs;
	sc.m = m;
	sc.bayes = bayes_prob;
	sc.lr = lr_prob;
	sc.set = bayes_prob >= 0 ? SCORE_SET_BAYES : SCORE_SET_PLAIN;
	sc.hc = xcalloc(rs->nhkeys ? rs->nhkeys : 1, sizeof(*sc.hc));
	split_body(m->body.data ? m->body.data : "", m->body.len, &sc.paras, &sc.npara,
	    &sc.para_starts);
	split_raw(m, &sc.lines, &sc.nline, &sc.line_starts);
	uri_visibility(&sc);
	redirect_targets(&sc);
	/* only the run list: the other rules stay done with no hits (set
	 * once by ruleset_finish_loaded), so a scan costs nothing per
	 * loaded-but-idle rule */
	for (size_t k = 0; k < rs->nrun; k++)
		rs->v[rs->run[k]].state = 0, rs->v[rs->run[k]].hits = 0;
	/* SpamAssassin runs header tests before body tests, and its
	 * FreeMail plugin's check_freemail_replyto blanks links with an '@'
	 * and addresses followed by a "label:" out of the body text the
	 * body tests then read: those first, then the body as they left it */
	for (size_t k = 0; k < rs->nrun; k++) {
		struct rule *r = &rs->v[rs->run[k]];
		if (r->eval >= 0 && evals[r->eval].fn == ev_freemail_replyto && r->state == 0)
			run_rule(&sc, r);
	}
	if (sc.fm_msg.full != NULL) {
		sc.m = &sc.fm_msg;
		free(sc.paras);
		free(sc.para_starts);
		sc.paras = NULL;
		sc.para_starts = NULL;
		sc.npara = 0;
		split_body(sc.m->body.data, sc.m->body.len, &sc.paras, &sc.npara,
		    &sc.para_starts);
	}
	prefilter_texts(&sc);
	/* plain tests first, then metas (which pull their operands); the
	 * run list (ruleset_finish_loaded) holds them in that order */
	for (size_t k = 0; k < rs->nrun; k++)
		if (rs->v[rs->run[k]].state == 0)
			run_rule(&sc, &rs->v[rs->run[k]]);

	memset(res, 0, sizeof(*res));
	res->required = rs->required;
	res->bayes = bayes_prob;
	res->lr = lr_prob;
	res->score_set = sc.set;
	res->re_limited = sc.re_limited;
	res->re_skipped = sc.re_skipped;
	/* the hits in rule order (the order the score is summed in) */
	hr = xcalloc(rs->nrun ? rs->nrun : 1, sizeof(*hr));
	for (size_t k = 0; k < rs->nrun; k++) {
		struct rule *r = &rs->v[rs->run[k]];
		if (r->hits != 0 && strncmp(r->name, "__", 2) != 0)
			hr[nhr++] = rs->run[k];
	}
	if (nhr > 1)
		qsort(hr, nhr, sizeof(*hr), cmp_uint);
	for (size_t k = 0; k < nhr; k++) {
		struct rule *r = &rs->v[hr[k]];
		double s;
		s = rule_score(r, sc.set) * (double)r->hits;
		res->hits = xreallocarray(res->hits, res->nhits + 1, sizeof(*res->hits));
		res->hits[res->nhits].name = r->name;
		res->hits[res->nhits].describe = rule_describe(r);
		res->hits[res->nhits].score = s;
		res->hits[res->nhits].score_nobayes =
		    rule_score(r, sc.set & ~SCORE_SET_BAYES) * (double)r->hits;
		res->hits[res->nhits].count = r->hits;
		res->nhits++;
		res->score += s;
	}
	free(hr);
	if (res->nhits > 1)
		qsort(res->hits, res->nhits, sizeof(*res->hits), cmp_hit);
	for (size_t i = 0; i < rs->nhkeys; i++)
		free(sc.hc[i].value);
	free(sc.hc);
	if (sc.have_relays)
		relays_free(&sc.relays);
	for (size_t i = 0; sc.hdr_addrs != NULL && i < m->nhdrs; i++) {
		for (size_t k = 0; sc.hdr_addrs[i] != NULL && k < sc.hdr_naddrs[i]; k++)
			free(sc.hdr_addrs[i][k]);
		free(sc.hdr_addrs[i]);
	}
	free(sc.hdr_addrs);
	free(sc.hdr_naddrs);
	uri_list_free(&sc.redir);
	free(sc.uvis);
	for (size_t i = 0; i < sc.ntags; i++) {
		for (size_t k = 0; k < sc.tags[i].n; k++)
			free(sc.tags[i].v[k]);
		free(sc.tags[i].v);
		free(sc.tags[i].name);
	}
	free(sc.paras);
	free(sc.para_starts);
	free(sc.line_starts);
	buf_free(&sc.fm_text);
	free(sc.lines);
}

void
spam_result_free(struct spam_result *res)
{
	FREE(res->hits);
	res->nhits = 0;
}
