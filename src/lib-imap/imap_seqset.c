/*
 * imap_seqset.c - parse, normalise and query sequence sets.
 *
 * Untrusted bytes: the sequence-set argument of FETCH/STORE/SEARCH/COPY/
 * MOVE/EXPUNGE.  Bounded by max_ranges; arithmetic checked for overflow.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_seqset.h"
#include "mem.h"

static int
parse_num(const char **pp, uint32_t *r)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (*p == '*') {
		*r = SEQ_STAR;
		*pp = p + 1;
		return 0;
	}
	if (*p < '1' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > SEQ_STAR)
			return -1;
		p++;
	}
	*r = (uint32_t)v;
	*pp = p;
	return 0;
}

int
imap_seqset_parse(const char *s, unsigned max_ranges, struct seqset *r,
    const char **error_r)
{
	unsigned cap = 0;

	r->v = NULL;
	r->n = 0;
	for (;;) {
		struct seq_range sr;

		if (parse_num(&s, &sr.lo) < 0)
			goto bad;
		sr.hi = sr.lo;
		if (*s == ':') {
			s++;
			if (parse_num(&s, &sr.hi) < 0)
				goto bad;
		}
		if (r->n == max_ranges) {
			*error_r = "Too many ranges in sequence set";
			imap_seqset_free(r);
			return -1;
		}
		if (r->n == cap) {
			cap = cap ? cap * 2 : 4;
			r->v = xreallocarray(r->v, cap, sizeof(*r->v));
		}
		r->v[r->n++] = sr;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	*error_r = "Invalid sequence set";
	imap_seqset_free(r);
	return -1;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
imap_seqset_resolve(struct seqset *set, uint32_t star)
{
	unsigned i, o;

	for (i = 0; i < set->n; i++) {
		struct seq_range *r = &set->v[i];
		if (r->lo == SEQ_STAR)
			r->lo = star;
		if (r->hi == SEQ_STAR)
			r->hi = star;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->n < 2)
		return;
	qsort(set->v, set->n, sizeof(*set->v), range_cmp);
	for (i = 1, o = 0; i < set->n; i++) {
		if (set->v[i].lo <= set->v[o].hi ||
		    set->v[i].lo - 1 == set->v[o].hi) {
			if (set->v[i].hi > set->v[o].hi)
				set->v[o].hi = set->v[i].hi;
		} else
			set->v[++o] = set->v[i];
	}
	set->n = o + 1;
}

int
imap_seqset_contains(const struct seqset *set, uint32_t n)
{
	unsigned lo = 0, hi = set->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (n < set->v[mid].lo)
			hi = mid;
		else if (n > set->v[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void
imap_seqset_free(struct seqset *set)
{
	FREE(set->v);
	set->n = 0;
}
