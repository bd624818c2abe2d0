/*
 * rule_literal.c - required literals of a PCRE2 pattern, for the
 * Vectorscan literal prefilter (rule_prefilter.c).
 *
 * rule_literals() derives from a pattern a set of literal strings such
 * that every match of the pattern contains at least one of them (the
 * idea of SpamAssassin's BodyRuleBaseExtractor and of rspamd).  A rule
 * whose literals all miss a text cannot match there; PCRE2 alone still
 * decides a hit, so the set only has to be a necessary condition, and
 * the extractor gives up (returns 0) on anything it does not fully
 * understand: /x, (?x), conditionals, verbs, callouts, unknown escapes,
 * and a '{' that might be a quantifier.  No literal comes from inside an
 * optional item (?, *, {0,n}, classes of more than a few characters,
 * '.', \d, back references, ...); an alternation gives one literal per
 * branch or none; a caseless part ((?i), /i, (?i:...)) makes the whole
 * literal caseless (ASCII only: the patterns are compiled without
 * PCRE2_UTF, and bytes >= 0x80 never go into a literal).
 *
 * Untrusted bytes: the pattern text of a rule file (parsed with bounds:
 * the nesting depth, the size of every set and the length of every
 * literal are capped); fuzzed by fuzz/fuzz-rule-literals.c, which also
 * checks the necessary-condition property against PCRE2.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "rules-private.h"
#include "str.h"

#define LX_MAX_SET   64         /* strings of a run (cross products) */
#define LX_MAX_ALT   256        /* literals of one pattern or group */
#define LX_MAX_LEN   64         /* bytes of one literal */
#define LX_MAX_DEPTH 64         /* group nesting */
#define LX_MAX_CANDS 8          /* necessary sets kept per branch */

struct lset {
	struct pf_lit *v;
	size_t n;
};

struct lres {
	struct lset best;       /* a usable necessary set, or empty */
	int pure;               /* every match consumes exactly one of strs */
	struct lset strs;
	/* a single branch: its usable necessary sets (all of them must
	 * occur: each comes from a different mandatory item), best first */
	struct lset cands[LX_MAX_CANDS];
	size_t ncands;
};

struct lx {
	const char *p;
	size_t minlen;
	int depth;
	int inq;                /* inside \Q...\E */
	int fail;
};

enum { A_NONE, A_STRS, A_GROUP, A_ZERO, A_ANY };

static void
lset_clear(struct lset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].s);
	FREE(s->v);
	s->n = 0;
}

static void
lset_add(struct lset *s, const char *p, size_t len, int ci)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n].s = xmalloc(len + 1);
	memcpy(s->v[s->n].s, p, len);
	s->v[s->n].s[len] = '\0';
	s->v[s->n].len = len;
	s->v[s->n].caseless = ci;
	s->v[s->n].grp = 0;
	s->n++;
}

/* Append a copy of every string of b to a; 0 if a would exceed max. */
static int
lset_union(struct lset *a, const struct lset *b, size_t max)
{
	if (a->n + b->n > max)
		return 0;
	for (size_t i = 0; i < b->n; i++)
		lset_add(a, b->v[i].s, b->v[i].len, b->v[i].caseless);
	return 1;
}

static void
lset_copy(struct lset *dst, const struct lset *src)
{
	lset_clear(dst);
	(void)lset_union(dst, src, (size_t)-1);
}

static size_t
lset_minlen(const struct lset *s)
{
	size_t m = (size_t)-1;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].len < m)
			m = s->v[i].len;
	return s->n ? m : 0;
}

/* a := a x b (every string of a followed by every string of b); 0 and
 * a unchanged if the product is too big or a literal too long. */
static int
lset_product(struct lset *a, const struct lset *b)
{
	struct lset r = { NULL, 0 };

	if (a->n * b->n > LX_MAX_SET || a->n == 0 || b->n == 0)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (a->v[i].len + b->v[j].len > LX_MAX_LEN) {
				lset_clear(&r);
				return 0;
			}
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++) {
			size_t l1 = a->v[i].len, l2 = b->v[j].len;
			char *t = xmalloc(l1 + l2 + 1);
			memcpy(t, a->v[i].s, l1);
			memcpy(t + l1, b->v[j].s, l2);
			lset_add(&r, t, l1 + l2, a->v[i].caseless | b->v[j].caseless);
			free(t);
		}
	lset_clear(a);
	*a = r;
	return 1;
}

/* Is a (a usable set) better than b (usable or empty)? */
static int
lset_better(const struct lset *a, const struct lset *b)
{
	size_t m = lset_minlen(a), bm = lset_minlen(b);

	return b->n == 0 || m > bm || (m == bm && a->n < b->n);
}

/* Keep s as the best necessary set if it is usable and better, and in
 * the branch's list of necessary sets (sorted, best first). */
static void
candidate(struct lx *x, struct lres *out, const struct lset *s)
{
	size_t k;

	if (s->n == 0 || lset_minlen(s) < x->minlen)
		return;
	if (lset_better(s, &out->best))
		lset_copy(&out->best, s);
	for (k = 0; k < out->ncands && !lset_better(s, &out->cands[k]); k++)
		;
	if (k == LX_MAX_CANDS)
		return;
	if (out->ncands == LX_MAX_CANDS)
		lset_clear(&out->cands[--out->ncands]);
	memmove(&out->cands[k + 1], &out->cands[k], (out->ncands - k) * sizeof(out->cands[0]));
	memset(&out->cands[k], 0, sizeof(out->cands[k]));
	lset_copy(&out->cands[k], s);
	out->ncands++;
}

static void
run_reset(struct lset *run)
{
	lset_clear(run);
	lset_add(run, "", 0, 0);
}

/* Skip from p (an opening bracket) to just after the closing c;
 * NULL if there is none. */
static const char *
skip_to(const char *p, char c)
{
	const char *e = strchr(p, c);
	return e ? e + 1 : NULL;
}

/* An escape outside a class; x->p at the backslash. */
static int
parse_escape(struct lx *x, int ci, struct lset *s)
{
	const char *p = x->p;
	int n = (unsigned char)p[1];
	char ch;

	if (n == 0) {
		x->fail = 1;
		return A_NONE;
	}
	x->p = p + 2;
	if (n >= '1' && n <= '9') {             /* back reference */
		while (isdigit((unsigned char)*x->p))
			x->p++;
		return A_ANY;
	}
	switch (n) {
	case '0':
		for (int k = 0; k < 2 && *x->p >= '0' && *x->p <= '7'; k++)
			x->p++;
		return A_ANY;
	case 'x': {
		long v = 0;
		if (*x->p == '{') {
			const char *e = skip_to(x->p, '}');
			if (e == NULL || e - x->p > 10) {
				x->fail = 1;
				return A_NONE;
			}
			for (const char *q = x->p + 1; q < e - 1; q++) {
				int h = str_hexval((unsigned char)*q);
				if (h < 0) {
					x->fail = 1;
					return A_NONE;
				}
				v = v * 16 + h;
			}
			x->p = e;
		} else {
			for (int k = 0; k < 2 && str_hexval((unsigned char)*x->p) >= 0; k++)
				v = v * 16 + str_hexval((unsigned char)*x->p++);
		}
		if (v <= 0 || v >= 0x80)
			return A_ANY;
		ch = (char)v;
		break;
	}
	case 'o': case 'N': case 'p': case 'P': case 'g': case 'k':
		/* only \g and \k take a <name> or 'name'; after the others
		 * those are plain characters (\N' is not-a-newline and a
		 * quote) */
		if (*x->p == '{' || ((n == 'g' || n == 'k') &&
		    (*x->p == '<' || *x->p == '\''))) {
			char close = *x->p == '{' ? '}' : *x->p == '<' ? '>' : '\'';
			x->p = skip_to(x->p + 1, close);
			if (x->p == NULL) {
				x->fail = 1;
				return A_NONE;
			}
		} else if (n == 'o') {
			x->fail = 1;
			return A_NONE;
		} else if (n == 'p' || n == 'P') {
			if (*x->p == '\0') {
				x->fail = 1;
				return A_NONE;
			}
			x->p++;
		} else if (n == 'g') {
			if (*x->p == '+' || *x->p == '-')
				x->p++;
			if (!isdigit((unsigned char)*x->p)) {
				x->fail = 1;
				return A_NONE;
			}
			while (isdigit((unsigned char)*x->p))
				x->p++;
		} else if (n == 'k') {
			x->fail = 1;
			return A_NONE;
		}
		return A_ANY;
	case 'c':
		if (*x->p == '\0') {
			x->fail = 1;
			return A_NONE;
		}
		x->p++;
		return A_ANY;
	case 'n': ch = '\n'; break;
	case 't': ch = '\t'; break;
	case 'r': ch = '\r'; break;
	case 'f': ch = '\f'; break;
	case 'e': ch = 0x1b; break;
	case 'a': ch = 0x07; break;
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S': case 'h':
	case 'H': case 'v': case 'V': case 'R': case 'X': case 'C':
		return A_ANY;
	case 'b': case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
		return A_ZERO;
	case 'Q':
		x->inq = 1;
		return A_NONE;
	default:
		if (isalnum(n)) {               /* \E alone, \i, ...: give up */
			x->fail = 1;
			return A_NONE;
		}
		if (n >= 0x80)
			return A_ANY;
		ch = (char)n;
		break;
	}
	lset_add(s, &ch, 1, ci && isalpha((unsigned char)ch));
	return A_STRS;
}

/* Where a POSIX item inside a class ("[:alpha:]", "[.x.]", "[=x=]")
 * ends, p at the character after its '[': the terminator character
 * before the closing "]", or NULL when it is not one — PCRE2's own test
 * (check_posix_syntax): a ']', or a '[' followed by the terminator
 * character, before the end means the '[' was a plain member. */
static const char *
posix_item_end(const char *p)
{
	char t = *p++;

	for (; p[0] != '\0' && p[1] != '\0'; p++) {
		if (p[0] == '\\' && (p[1] == ']' || p[1] == '\\'))
			p++;
		else if ((p[0] == '[' && p[1] == t) || p[0] == ']')
			return NULL;
		else if (p[0] == t && p[1] == ']')
			return p;
	}
	return NULL;
}

/* A character class; x->p at '['.  A class of at most four plain
 * characters is a set of one-character strings, anything else A_ANY. */
static int
parse_class(struct lx *x, int ci, struct lset *s)
{
	const char *p = x->p + 1;
	char items[4];
	int nitems = 0, simple = 1, first = 1;

	if (*p == '^') {
		simple = 0;
		p++;
	}
	for (;;) {
		if (*p == '\0') {
			x->fail = 1;
			return A_NONE;
		}
		if (*p == ']' && !first) {
			p++;
			break;
		}
		first = 0;
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			const char *e = posix_item_end(p + 1);
			if (e != NULL) {
				p = e + 2;
				simple = 0;
				continue;
			}
			/* not one: the '[' is a plain member, as for PCRE2 */
		}
		if (*p == '\\') {
			int e = (unsigned char)p[1];
			if (e == 0 || e == 'Q' || e == 'E') {
				x->fail = 1;
				return A_NONE;
			}
			if (e == 'c') {
				/* \cX: a control character; X is any
				 * character, ']' and '\\' too */
				if (p[2] == '\0') {
					x->fail = 1;
					return A_NONE;
				}
				p += 3;
				simple = 0;
				continue;
			}
			if (strchr("xopPNgk", e) != NULL && p[2] == '{') {
				const char *q = skip_to(p + 3, '}');
				if (q == NULL) {
					x->fail = 1;
					return A_NONE;
				}
				p = q;
				simple = 0;
				continue;
			}
			if (isalnum(e) || e >= 0x80) {
				simple = 0;
			} else if (nitems < 4) {
				items[nitems++] = (char)e;
			} else {
				simple = 0;
			}
			p += 2;
			continue;
		}
		if (p[1] == '-' && p[2] != ']' && p[2] != '\0') {
			simple = 0;             /* a range */
			p += 2;
			continue;
		}
		if ((unsigned char)*p >= 0x80 || nitems == 4)
			simple = 0;
		else
			items[nitems++] = *p;
		p++;
	}
	x->p = p;
	if (!simple || nitems == 0)
		return A_ANY;
	for (int i = 0; i < nitems; i++)
		lset_add(s, &items[i], 1, ci && isalpha((unsigned char)items[i]));
	return A_STRS;
}

static void parse_alt(struct lx *x, int *ci, struct lres *out);

static void
lres_clear(struct lres *r)
{
	lset_clear(&r->best);
	lset_clear(&r->strs);
	for (size_t k = 0; k < r->ncands; k++)
		lset_clear(&r->cands[k]);
	r->ncands = 0;
	r->pure = 0;
}

/* A group; x->p at '('.  A_GROUP with *g filled, A_ZERO for a
 * lookaround, A_ANY for a back reference or subroutine call, A_NONE for
 * an option setting (which changes *ci) or a comment. */
static int
parse_group(struct lx *x, int *ci, struct lres *g)
{
	const char *p = x->p + 1;
	int gci = *ci, look = 0;

	if (*p == '*') {
		x->fail = 1;
		return A_NONE;
	}
	if (*p == '?') {
		p++;
		switch (*p) {
		case '#':
			x->p = skip_to(p, ')');
			if (x->p == NULL)
				x->fail = 1;
			return A_NONE;
		case ':': case '|': case '>':
			p++;
			break;
		case '=': case '!':
			p++;
			look = 1;
			break;
		case '<':
			if (p[1] == '=' || p[1] == '!') {
				p += 2;
				look = 1;
				break;
			}
			p = skip_to(p + 1, '>');
			break;
		case '\'':
			p = skip_to(p + 1, '\'');
			break;
		case 'P':
			if (p[1] == '<') {
				p = skip_to(p + 2, '>');
				break;
			}
			if (p[1] == '=' || p[1] == '>') {
				x->p = skip_to(p, ')');
				if (x->p == NULL)
					x->fail = 1;
				return A_ANY;
			}
			x->fail = 1;
			return A_NONE;
		case 'R': case '&': case '+': case '-':
		case '0': case '1': case '2': case '3': case '4':
		case '5': case '6': case '7': case '8': case '9':
			if (*p == '-' && !isdigit((unsigned char)p[1]))
				goto options;
			x->p = skip_to(p, ')');
			if (x->p == NULL)
				x->fail = 1;
			return A_ANY;
		default:
		options: {
			int neg = 0, nci = *ci;
			for (;; p++) {
				switch (*p) {
				case 'i': nci = !neg; continue;
				case '^': nci = 0; continue;
				case '-': neg = 1; continue;
				case 'x':
					if (!neg) {
						x->fail = 1;
						return A_NONE;
					}
					continue;
				case 'm': case 'n': case 's': case 'U': case 'J':
					continue;
				default:
					break;
				}
				break;
			}
			if (*p == ')') {
				*ci = nci;
				x->p = p + 1;
				return A_NONE;
			}
			if (*p != ':') {
				x->fail = 1;
				return A_NONE;
			}
			gci = nci;
			p++;
			break;
		}
		}
		if (p == NULL) {
			x->fail = 1;
			return A_NONE;
		}
	}
	if (++x->depth > LX_MAX_DEPTH) {
		x->fail = 1;
		return A_NONE;
	}
	x->p = p;
	parse_alt(x, &gci, g);
	x->depth--;
	if (x->fail || *x->p != ')') {
		x->fail = 1;
		return A_NONE;
	}
	x->p++;
	if (look) {
		lres_clear(g);
		return A_ZERO;
	}
	return A_GROUP;
}

/* After an atom: its repeat counts; max -1 = unbounded.  0 = none. */
static int
parse_quant(struct lx *x, int *min_r, int *max_r)
{
	const char *p = x->p;

	switch (*p) {
	case '*': *min_r = 0; *max_r = -1; p++; break;
	case '+': *min_r = 1; *max_r = -1; p++; break;
	case '?': *min_r = 0; *max_r = 1; p++; break;
	case '{': {
		const char *q = p + 1;
		long a = 0, b;
		if (!isdigit((unsigned char)*q)) {
			if (*q == ',' || isspace((unsigned char)*q))
				x->fail = 1;    /* {,n} is a quantifier in newer PCRE2 */
			return 0;
		}
		while (isdigit((unsigned char)*q) && a < 100000)
			a = a * 10 + (*q++ - '0');
		b = a;
		if (*q == ',') {
			q++;
			b = -1;
			if (isdigit((unsigned char)*q)) {
				b = 0;
				while (isdigit((unsigned char)*q) && b < 100000)
					b = b * 10 + (*q++ - '0');
			}
		}
		if (*q != '}') {
			x->fail = 1;    /* not a quantifier here, but be safe */
			return 0;
		}
		*min_r = (int)a;
		*max_r = (int)b;
		p = q + 1;
		break;
	}
	default:
		return 0;
	}
	if (*p == '?' || *p == '+')
		p++;
	x->p = p;
	return 1;
}

/* A character that stands for itself: one literal of one byte, or "any"
 * for a byte of a UTF-8 sequence (its case folding is not ours to do). */
static int
plain_char(int c, int ci, struct lset *s)
{
	char ch = (char)c;

	if (c >= 0x80)
		return A_ANY;
	lset_add(s, &ch, 1, ci && isalpha(c));
	return A_STRS;
}

/* One branch: up to '|', ')' or the end. */
static void
parse_seq(struct lx *x, int *ci, struct lres *out)
{
	struct lset run = { NULL, 0 };
	int pure = 1;

	memset(out, 0, sizeof(*out));
	run_reset(&run);
	while (!x->fail && *x->p != '\0' && (x->inq || (*x->p != '|' && *x->p != ')'))) {
		struct lset s = { NULL, 0 };
		struct lres g;
		int kind, min = 1, max = 1, c = (unsigned char)*x->p;

		memset(&g, 0, sizeof(g));

		if (x->inq) {
			if (c == '\\' && x->p[1] == 'E') {
				x->inq = 0;
				x->p += 2;
				kind = A_NONE;
			} else {
				x->p++;
				kind = plain_char(c, *ci, &s);
				if (x->p[0] == '\\' && x->p[1] == 'E') {
					x->inq = 0;
					x->p += 2;
				}
			}
		} else if (c == '\\') {
			kind = parse_escape(x, *ci, &s);
		} else if (c == '[') {
			kind = parse_class(x, *ci, &s);
		} else if (c == '(') {
			kind = parse_group(x, ci, &g);
		} else if (c == '.') {
			x->p++;
			kind = A_ANY;
		} else if (c == '^' || c == '$') {
			x->p++;
			kind = A_ZERO;
		} else if (c == '*' || c == '+' || c == '?' ||
		    (c == '{' && (isdigit((unsigned char)x->p[1]) || x->p[1] == ',' ||
		    isspace((unsigned char)x->p[1])))) {
			x->fail = 1;
			break;
		} else {
			x->p++;
			kind = plain_char(c, *ci, &s);
		}
		if (x->fail) {
			lset_clear(&s);
			lres_clear(&g);
			break;
		}
		if (!x->inq && parse_quant(x, &min, &max)) {
			if (kind == A_NONE)
				x->fail = 1;    /* a quantifier after (?i), \Q\E, ... */
		}
		if (x->fail) {
			lset_clear(&s);
			lres_clear(&g);
			break;
		}
		if (kind == A_GROUP && g.pure) {
			s = g.strs;
			g.strs.v = NULL;
			g.strs.n = 0;
			kind = A_STRS;
		}
		switch (kind) {
		case A_NONE:
		case A_ZERO:
			break;
		case A_ANY:
			candidate(x, out, &run);
			run_reset(&run);
			pure = 0;
			break;
		case A_GROUP:
			/* a single-branch group: each of its sets is needed */
			for (size_t k = 0; min > 0 && k < g.ncands; k++)
				candidate(x, out, &g.cands[k]);
			if (min > 0 && g.ncands == 0)
				candidate(x, out, &g.best);
			candidate(x, out, &run);
			run_reset(&run);
			pure = 0;
			break;
		case A_STRS:
			if (min == 0) {
				candidate(x, out, &run);
				run_reset(&run);
				pure = 0;
				break;
			}
			if (!lset_product(&run, &s)) {
				candidate(x, out, &run);
				lset_copy(&run, &s);
				pure = 0;
			}
			if (max != 1) {
				/* repeated: what follows comes after the last copy */
				candidate(x, out, &run);
				lset_copy(&run, &s);
				pure = 0;
			}
			break;
		}
		lset_clear(&s);
		lres_clear(&g);
	}
	candidate(x, out, &run);
	out->pure = pure && !x->fail;
	if (out->pure) {
		out->strs = run;
	} else {
		lset_clear(&run);
		out->strs.v = NULL;
		out->strs.n = 0;
	}
}

/* Branches up to ')' or the end: one literal per branch or none. */
static void
parse_alt(struct lx *x, int *ci, struct lres *out)
{
	int all = 1, pure = 1, nbr = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		struct lres br;
		parse_seq(x, ci, &br);
		if (x->fail) {
			lres_clear(&br);
			break;
		}
		if (nbr++ == 0) {
			/* kept while this stays the only branch */
			memcpy(out->cands, br.cands, sizeof(br.cands));
			out->ncands = br.ncands;
			br.ncands = 0;
		} else {
			for (size_t k = 0; k < out->ncands; k++)
				lset_clear(&out->cands[k]);
			out->ncands = 0;
		}
		if (br.best.n == 0 || !lset_union(&out->best, &br.best, LX_MAX_ALT))
			all = 0;
		if (!br.pure || !lset_union(&out->strs, &br.strs, LX_MAX_SET))
			pure = 0;
		lres_clear(&br);
		if (*x->p != '|')
			break;
		x->p++;
	}
	if (!all || x->fail)
		lset_clear(&out->best);
	if (x->fail) {
		for (size_t k = 0; k < out->ncands; k++)
			lset_clear(&out->cands[k]);
		out->ncands = 0;
	}
	if (!pure || x->fail)
		lset_clear(&out->strs);
	out->pure = pure && !x->fail;
}

/* Append the literals of one set as group grp, without duplicates (a
 * caseless copy covers a case-sensitive one). */
static void
add_group(struct lset *out, struct lset *set, unsigned grp)
{
	size_t first = out->n;

	for (size_t i = 0; i < set->n; i++) {
		struct pf_lit *a = &set->v[i];
		size_t k;
		for (k = first; k < out->n; k++) {
			struct pf_lit *b = &out->v[k];
			if (a->len == b->len && strncasecmp(a->s, b->s, a->len) == 0 &&
			    (b->caseless || (!a->caseless && memcmp(a->s, b->s, a->len) == 0)))
				break;
		}
		if (k < out->n)
			continue;
		lset_add(out, a->s, a->len, a->caseless);
		out->v[out->n - 1].grp = grp;
	}
}

int
rule_literals(const char *pat, uint32_t opts, size_t minlen, struct pf_lit **v_r,
    size_t *n_r)
{
	struct lx x;
	struct lres r;
	struct lset out = { NULL, 0 };
	int ci = (opts & PCRE2_CASELESS) != 0;

	*v_r = NULL;
	*n_r = 0;
	if (opts & (PCRE2_EXTENDED | PCRE2_EXTENDED_MORE | PCRE2_UTF | PCRE2_LITERAL))
		return 0;
	memset(&x, 0, sizeof(x));
	x.p = pat;
	x.minlen = minlen > 0 ? minlen : 1;
	parse_alt(&x, &ci, &r);
	if (x.fail || *x.p != '\0' || r.best.n == 0) {
		lres_clear(&r);
		return 0;
	}
	/* one branch: several necessary sets, all required (best first);
	 * else the union over the branches */
	if (r.ncands > 1) {
		for (size_t k = 0; k < r.ncands && k < PF_LIT_GROUPS; k++)
			add_group(&out, &r.cands[k], (unsigned)k);
	} else {
		add_group(&out, &r.best, 0);
	}
	lres_clear(&r);
	*v_r = out.v;
	*n_r = out.n;
	return 1;
}

void
rule_literals_free(struct pf_lit *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].s);
	free(v);
}
