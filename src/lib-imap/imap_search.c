/*
 * imap_search.c - SEARCH key parsing and evaluation (RFC 3501 6.4.4,
 * RFC 7162 MODSEQ).
 *
 * Untrusted bytes: the search keys; the messages being searched (through
 * the load callback: header values are unfolded into bounded buffers,
 * substring matching is ASCII case-insensitive).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_date.h"
#include "imap_message.h"
#include "imap_search.h"
#include "mail_header.h"
#include "mem.h"

enum skey {
	K_ALL, K_SAVED, K_FLAG_SET, K_FLAG_UNSET, K_HEADER, K_BODY, K_TEXT,
	K_BEFORE, K_ON, K_SINCE, K_SENTBEFORE, K_SENTON, K_SENTSINCE,
	K_LARGER, K_SMALLER, K_NOT, K_OR, K_AND, K_SEQ, K_UID, K_KEYWORD,
	K_UNKEYWORD, K_NEW, K_OLD, K_MODSEQ,
};

struct snode {
	enum skey key;
	unsigned flag;
	char *field, *value;
	time_t date;
	uint64_t num;
	struct seqset set;
	struct snode **kids;
	unsigned nkids;
};

struct imap_search {
	struct snode *root;
	int modseq;
};

struct sparse {
	const struct imap_arg *args;
	unsigned n, i;
	uint32_t max_seq, max_uid;
	const char *error;
	int modseq;
};

static void
node_free(struct snode *k)
{
	if (k == NULL)
		return;
	free(k->field);
	free(k->value);
	imap_seqset_free(&k->set);
	for (unsigned i = 0; i < k->nkids; i++)
		node_free(k->kids[i]);
	free(k->kids);
	free(k);
}

static void
add_kid(struct snode *p, struct snode *k)
{
	p->kids = xreallocarray(p->kids, p->nkids + 1, sizeof(*p->kids));
	p->kids[p->nkids++] = k;
}

static const struct imap_arg *
next_string(struct sparse *ps)
{
	const struct imap_arg *a;

	if (ps->i >= ps->n) {
		ps->error = "Missing search argument";
		return NULL;
	}
	a = &ps->args[ps->i++];
	if (!imap_arg_is_astring(a)) {
		ps->error = "Invalid search argument";
		return NULL;
	}
	return a;
}

static struct snode *parse_key(struct sparse *ps, unsigned depth);

static const struct {
	const char *name;
	enum skey key;
	unsigned flag;
} simple[] = {
	{ "ALL", K_ALL, 0 },
	{ "$", K_SAVED, 0 },    /* SEARCHRES: the saved result */
	{ "ANSWERED", K_FLAG_SET, IMAP_FLAG_ANSWERED },
	{ "DELETED", K_FLAG_SET, IMAP_FLAG_DELETED },
	{ "DRAFT", K_FLAG_SET, IMAP_FLAG_DRAFT },
	{ "FLAGGED", K_FLAG_SET, IMAP_FLAG_FLAGGED },
	{ "RECENT", K_FLAG_SET, IMAP_FLAG_RECENT },
	{ "SEEN", K_FLAG_SET, IMAP_FLAG_SEEN },
	{ "UNANSWERED", K_FLAG_UNSET, IMAP_FLAG_ANSWERED },
	{ "UNDELETED", K_FLAG_UNSET, IMAP_FLAG_DELETED },
	{ "UNDRAFT", K_FLAG_UNSET, IMAP_FLAG_DRAFT },
	{ "UNFLAGGED", K_FLAG_UNSET, IMAP_FLAG_FLAGGED },
	{ "UNSEEN", K_FLAG_UNSET, IMAP_FLAG_SEEN },
	{ "NEW", K_NEW, 0 },
	{ "OLD", K_OLD, 0 },
};

static const struct {
	const char *name;
	enum skey key;
} dated[] = {
	{ "BEFORE", K_BEFORE }, { "ON", K_ON }, { "SINCE", K_SINCE },
	{ "SENTBEFORE", K_SENTBEFORE }, { "SENTON", K_SENTON },
	{ "SENTSINCE", K_SENTSINCE },
};

static const char *const addr_headers[] = { "BCC", "CC", "FROM", "SUBJECT", "TO" };

static struct snode *
parse_key(struct sparse *ps, unsigned depth)
{
	const struct imap_arg *a, *v;
	struct snode *k;

	if (depth > 64) {
		ps->error = "Search too complex";
		return NULL;
	}
	if (ps->i >= ps->n) {
		ps->error = "Missing search key";
		return NULL;
	}
	a = &ps->args[ps->i++];
	k = xcalloc(1, sizeof(*k));
	if (a->type == IMAP_ARG_LIST) {
		struct sparse sub = *ps;
		k->key = K_AND;
		sub.args = a->list;
		sub.n = a->count;
		sub.i = 0;
		if (a->count == 0) {
			ps->error = "Empty search list";
			goto fail;
		}
		while (sub.i < sub.n) {
			struct snode *c = parse_key(&sub, depth + 1);
			if (c == NULL) {
				ps->error = sub.error;
				goto fail;
			}
			add_kid(k, c);
		}
		ps->modseq |= sub.modseq;
		return k;
	}
	if (a->type != IMAP_ARG_ATOM) {
		ps->error = "Invalid search key";
		goto fail;
	}
	for (unsigned i = 0; i < NELEM(simple); i++)
		if (strcasecmp(a->str, simple[i].name) == 0) {
			k->key = simple[i].key;
			k->flag = simple[i].flag;
			return k;
		}
	for (unsigned i = 0; i < NELEM(dated); i++)
		if (strcasecmp(a->str, dated[i].name) == 0) {
			k->key = dated[i].key;
			if ((v = next_string(ps)) == NULL)
				goto fail;
			if (imap_date_parse(v->str, &k->date) < 0) {
				ps->error = "Invalid search date";
				goto fail;
			}
			return k;
		}
	for (unsigned i = 0; i < NELEM(addr_headers); i++)
		if (strcasecmp(a->str, addr_headers[i]) == 0) {
			k->key = K_HEADER;
			k->field = xstrdup(addr_headers[i]);
			if ((v = next_string(ps)) == NULL)
				goto fail;
			k->value = xstrdup(v->str);
			return k;
		}
	if (strcasecmp(a->str, "HEADER") == 0) {
		k->key = K_HEADER;
		if ((v = next_string(ps)) == NULL)
			goto fail;
		k->field = xstrdup(v->str);
		if ((v = next_string(ps)) == NULL)
			goto fail;
		k->value = xstrdup(v->str);
		return k;
	}
	if (strcasecmp(a->str, "BODY") == 0 || strcasecmp(a->str, "TEXT") == 0) {
		k->key = toupper((unsigned char)a->str[0]) == 'B' ? K_BODY : K_TEXT;
		if ((v = next_string(ps)) == NULL)
			goto fail;
		k->value = xstrdup(v->str);
		return k;
	}
	if (strcasecmp(a->str, "KEYWORD") == 0 ||
	    strcasecmp(a->str, "UNKEYWORD") == 0) {
		k->key = toupper((unsigned char)a->str[0]) == 'K' ? K_KEYWORD : K_UNKEYWORD;
		if ((v = next_string(ps)) == NULL)
			goto fail;
		k->value = xstrdup(v->str);
		return k;
	}
	if (strcasecmp(a->str, "LARGER") == 0 || strcasecmp(a->str, "SMALLER") == 0 ||
	    strcasecmp(a->str, "MODSEQ") == 0) {
		char *end;
		k->key = toupper((unsigned char)a->str[0]) == 'L' ? K_LARGER :
		    toupper((unsigned char)a->str[0]) == 'S' ? K_SMALLER : K_MODSEQ;
		if (k->key == K_MODSEQ) {
			ps->modseq = 1;
			/* optional entry-name and entry-type-req */
			if (ps->i + 2 < ps->n + 0 &&
			    ps->args[ps->i].type == IMAP_ARG_QUOTED)
				ps->i += 2;
		}
		if ((v = next_string(ps)) == NULL)
			goto fail;
		if (!isdigit((unsigned char)v->str[0])) {
			ps->error = "Invalid number";
			goto fail;
		}
		k->num = strtoull(v->str, &end, 10);
		if (*end != '\0' || v->len > 20) {
			ps->error = "Invalid number";
			goto fail;
		}
		return k;
	}
	if (strcasecmp(a->str, "NOT") == 0) {
		struct snode *c;
		k->key = K_NOT;
		if ((c = parse_key(ps, depth + 1)) == NULL)
			goto fail;
		add_kid(k, c);
		return k;
	}
	if (strcasecmp(a->str, "OR") == 0) {
		k->key = K_OR;
		for (int j = 0; j < 2; j++) {
			struct snode *c = parse_key(ps, depth + 1);
			if (c == NULL)
				goto fail;
			add_kid(k, c);
		}
		return k;
	}
	if (strcasecmp(a->str, "UID") == 0) {
		k->key = K_UID;
		if ((v = next_string(ps)) == NULL)
			goto fail;
		if (imap_seqset_parse(v->str, 100000, &k->set, &ps->error) < 0)
			goto fail;
		imap_seqset_resolve(&k->set, ps->max_uid);
		return k;
	}
	if (isdigit((unsigned char)a->str[0]) || a->str[0] == '*') {
		k->key = K_SEQ;
		if (imap_seqset_parse(a->str, 100000, &k->set, &ps->error) < 0)
			goto fail;
		imap_seqset_resolve(&k->set, ps->max_seq);
		return k;
	}
	ps->error = "Unknown search key";
fail:
	node_free(k);
	return NULL;
}

struct imap_search *
imap_search_parse(const struct imap_arg *args, unsigned n, uint32_t max_seq,
    uint32_t max_uid, const char **error_r, int *badcharset_r)
{
	struct sparse ps = { args, n, 0, max_seq, max_uid, NULL, 0 };
	struct imap_search *s;
	struct snode *root;

	*badcharset_r = 0;
	if (n >= 2 && imap_arg_atom_eq(&args[0], "CHARSET")) {
		if (!imap_arg_is_string(&args[1])) {
			*error_r = "Invalid charset";
			return NULL;
		}
		if (strcasecmp(args[1].str, "UTF-8") != 0 &&
		    strcasecmp(args[1].str, "US-ASCII") != 0) {
			*badcharset_r = 1;
			*error_r = "Unsupported charset";
			return NULL;
		}
		ps.i = 2;
	}
	if (ps.i >= n) {
		*error_r = "Missing search keys";
		return NULL;
	}
	root = xcalloc(1, sizeof(*root));
	root->key = K_AND;
	while (ps.i < ps.n) {
		struct snode *k = parse_key(&ps, 0);
		if (k == NULL) {
			*error_r = ps.error ? ps.error : "Invalid search";
			node_free(root);
			return NULL;
		}
		add_kid(root, k);
	}
	s = xcalloc(1, sizeof(*s));
	s->root = root;
	s->modseq = ps.modseq;
	return s;
}

void
imap_search_free(struct imap_search **s)
{
	if (*s == NULL)
		return;
	node_free((*s)->root);
	FREE(*s);
}

int
imap_search_uses_modseq(const struct imap_search *s)
{
	return s->modseq;
}

static int
contains_ci(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return 1;
	if (hlen < n)
		return 0;
	for (size_t i = 0; i + n <= hlen; i++) {
		if (tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[0]) &&
		    strncasecmp(hay + i, needle, n) == 0)
			return 1;
	}
	return 0;
}

static time_t
day_of(time_t t)
{
	return t - (t % 86400 + 86400) % 86400;
}

/* Any header field named `name` (unfolded; raw or, with a decoder,
 * decoded from RFC 2047) containing value. */
static int
header_matches(const char *hdr, size_t len, const char *name,
    const char *value,
    void (*decode)(const char *value, size_t len, struct buf *out))
{
	struct buf v, dv;
	struct mail_field f;
	size_t pos = 0, nlen = strlen(name);
	int found = 0;

	buf_init(&v, 256 * 1024);
	while (!found && mail_header_next(hdr, len, &pos, &f)) {
		if (f.name_len != nlen || strncasecmp(hdr + f.start, name, nlen) != 0)
			continue;
		mail_field_value(hdr, &f, &v);
		if (decode == NULL || v.len == 0 || v.data == NULL ||
		    memmem(v.data, v.len, "=?", 2) == NULL) {
			if (contains_ci(v.data ? v.data : "", v.len, value))
				found = 1;
		} else {
			/* encoded words: match the text */
			buf_init(&dv, 256 * 1024);
			decode(v.data, v.len, &dv);
			if (contains_ci(dv.data ? dv.data : "", dv.len, value))
				found = 1;
			buf_free(&dv);
		}
	}
	buf_free(&v);
	return found;
}

static int
eval(struct snode *k, const struct imap_search_msg *m)
{
	const char *d;
	size_t len, hl;
	struct buf v;
	time_t t;
	int r;

	switch (k->key) {
	case K_SAVED:
		return m->in_saved != NULL && m->in_saved(m->ctx);
	case K_ALL:
		return 1;
	case K_FLAG_SET:
		return (m->flags & k->flag) != 0;
	case K_FLAG_UNSET:
		return (m->flags & k->flag) == 0;
	case K_NEW:
		return (m->flags & IMAP_FLAG_RECENT) && !(m->flags & IMAP_FLAG_SEEN);
	case K_OLD:
		return !(m->flags & IMAP_FLAG_RECENT);
	case K_KEYWORD:
		return m->has_keyword(m->ctx, k->value);
	case K_UNKEYWORD:
		return !m->has_keyword(m->ctx, k->value);
	case K_SEQ:
		return imap_seqset_contains(&k->set, m->seq);
	case K_UID:
		return imap_seqset_contains(&k->set, m->uid);
	case K_MODSEQ:
		return m->modseq >= k->num;
	case K_LARGER:
		return m->size(m->ctx) > k->num;
	case K_SMALLER:
		return m->size(m->ctx) < k->num;
	case K_BEFORE:
		return day_of(m->internaldate) < k->date;
	case K_ON:
		return day_of(m->internaldate) == k->date;
	case K_SINCE:
		return day_of(m->internaldate) >= k->date;
	case K_NOT:
		return !eval(k->kids[0], m);
	case K_OR:
		return eval(k->kids[0], m) || eval(k->kids[1], m);
	case K_AND:
		for (unsigned i = 0; i < k->nkids; i++)
			if (!eval(k->kids[i], m))
				return 0;
		return 1;
	case K_SENTBEFORE:
	case K_SENTON:
	case K_SENTSINCE:
		if (m->load(m->ctx, &d, &len) < 0)
			return 0;
		buf_init(&v, 1024);
		r = mail_header_get(d, mail_header_end(d, len), "Date", &v) == 0 &&
		    imap_rfc822_date_parse(buf_cstr(&v), &t) == 0;
		buf_free(&v);
		if (!r)
			return 0;
		t = day_of(t);
		return k->key == K_SENTBEFORE ? t < k->date :
		    k->key == K_SENTON ? t == k->date : t >= k->date;
	case K_HEADER:
		if (m->load(m->ctx, &d, &len) < 0)
			return 0;
		return header_matches(d, mail_header_end(d, len), k->field, k->value,
		    m->decode_header);
	case K_BODY:
	case K_TEXT:
		if (m->load(m->ctx, &d, &len) < 0)
			return 0;
		hl = k->key == K_BODY ? mail_header_end(d, len) : 0;
		return contains_ci(d + hl, len - hl, k->value);
	}
	return 0;
}

int
imap_search_match(struct imap_search *s, const struct imap_search_msg *m)
{
	return eval(s->root, m);
}
