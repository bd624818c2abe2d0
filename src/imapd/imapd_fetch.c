/*
 * imapd_fetch.c - message commands of the selected state: FETCH (with
 * output flow control), STORE, SEARCH/ESEARCH, COPY/MOVE, EXPUNGE and
 * their UID forms.
 *
 * Untrusted bytes: sequence sets, fetch items, flags and search keys from
 * the client (parsed arguments); stored messages (parsed by lib-imap with
 * bounds).  A FETCH writes at most ~256 KiB ahead of the client and then
 * waits for the output to drain, so a large FETCH costs bounded memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_date.h"
#include "imap_message.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "imapd.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "mime.h"

#define FETCH_AHEAD (256 * 1024)
#define MAX_RANGES 100000

/* Append a decimal number (hot path: no printf). */
static void
put_u(struct buf *b, unsigned long long v)
{
	char t[24];
	int n = 0;

	do {
		t[sizeof(t) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	buf_append(b, t + sizeof(t) - n, (size_t)n);
}

/* ---- sets ---- */

/* View indexes named by a sequence or UID set (ascending).  -1 after a
 * BAD reply. */
static int
resolve_set(struct client *c, const char *tag, const struct imap_arg *a,
    int uid, unsigned **idx_r, unsigned *n_r)
{
	struct mailbox *box = c->box;
	struct seqset set;
	const char *err;
	unsigned *idx, n = 0;

	if (a->type != IMAP_ARG_ATOM) {
		client_tagged(c, tag, "BAD Invalid sequence set.");
		return -1;
	}
	if (strcmp(a->str, "$") == 0) {
		/* SEARCHRES: the saved result, as far as it still exists */
		idx = xcalloc(box->count + 1, sizeof(*idx));
		for (unsigned i = 0; i < box->count; i++)
			if (client_saved_has(c, box->mails[i].uid))
				idx[n++] = i;
		*idx_r = idx;
		*n_r = n;
		return 0;
	}
	if (imap_seqset_parse(a->str, MAX_RANGES, &set, &err) < 0) {
		client_tagged(c, tag, "BAD %s.", err);
		return -1;
	}
	if (uid) {
		uint32_t maxuid = box->count ? box->mails[box->count - 1].uid : 0;
		imap_seqset_resolve(&set, maxuid ? maxuid : box->uidnext - 1);
	} else {
		imap_seqset_resolve(&set, box->count);
		if (set.n > 0 && (set.v[set.n - 1].hi > box->count ||
		    set.v[0].lo == 0)) {
			imap_seqset_free(&set);
			client_tagged(c, tag, "BAD Error in IMAP command: Invalid messageset");
			return -1;
		}
	}
	idx = xcalloc(box->count + 1, sizeof(*idx));
	for (unsigned i = 0; i < box->count; i++)
		if (imap_seqset_contains(&set, uid ? box->mails[i].uid : i + 1))
			idx[n++] = i;
	imap_seqset_free(&set);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

void
client_write_numbers(struct buf *b, const uint32_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; ) {
		unsigned j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0)
			buf_appendc(b, ',');
		if (j > i)
			buf_printf(b, "%u:%u", v[i], v[j]);
		else
			buf_printf(b, "%u", v[i]);
		i = j + 1;
	}
}

void
client_vanished_earlier(struct client *c, struct buf *b,
    const struct seqset *set)
{
	struct mailbox *box = c->box;
	unsigned k = 0, written = 0;

	/* walk the set's ranges and the folder's ascending UIDs together,
	 * writing the gaps: no enumeration of huge ranges */
	for (unsigned r = 0; r < set->n; r++) {
		uint32_t lo = set->v[r].lo, hi = set->v[r].hi;
		if (hi >= box->uidnext)
			hi = box->uidnext - 1;
		while (lo <= hi && lo != 0) {
			uint32_t end;
			while (k < box->count && box->mails[k].uid < lo)
				k++;
			if (k < box->count && box->mails[k].uid == lo) {
				if (lo == UINT32_MAX)
					break;
				lo++;
				continue;
			}
			end = k < box->count && box->mails[k].uid <= hi ?
			    box->mails[k].uid - 1 : hi;
			buf_appends(b, written++ == 0 ? "* VANISHED (EARLIER) " : ",");
			if (end > lo)
				buf_printf(b, "%u:%u", lo, end);
			else
				buf_printf(b, "%u", lo);
			if (end == UINT32_MAX)
				break;
			lo = end + 1;
		}
	}
	if (written > 0)
		buf_appends(b, "\r\n");
}

/* ---- loading messages ---- */

struct msgdata {
	char *crlf;             /* the message with CRLF line ends */
	size_t len;
	struct imap_part *parts;
};

static void
msgdata_free(struct msgdata *d)
{
	FREE(d->crlf);
	d->len = 0;
	imap_part_free(&d->parts);
}

static int
msg_load(struct client *c, unsigned i, struct msgdata *d)
{
	char *raw;
	size_t len, extra = 0, o = 0;

	if (d->crlf != NULL)
		return 0;
	if (maildir_read(c->box, i, &raw, &len) < 0)
		return -1;
	for (size_t k = 0; k < len; k++)
		if (raw[k] == '\n' && (k == 0 || raw[k - 1] != '\r'))
			extra++;
	d->crlf = xmalloc(len + extra + 1);
	for (size_t k = 0; k < len; k++) {
		if (raw[k] == '\n' && (k == 0 || raw[k - 1] != '\r'))
			d->crlf[o++] = '\r';
		d->crlf[o++] = raw[k];
	}
	d->crlf[o] = '\0';
	d->len = o;
	free(raw);
	c->box->mails[i].vsize = o;
	return 0;
}

static uint64_t
msg_vsize(struct client *c, unsigned i, struct msgdata *d)
{
	if (c->box->mails[i].vsize == 0 && msg_load(c, i, d) < 0)
		return 0;
	return c->box->mails[i].vsize;
}

/* ---- FETCH ---- */

enum fi_type { FI_FLAGS, FI_INTERNALDATE, FI_SIZE, FI_ENVELOPE, FI_BODY,
	FI_BODYSTRUCTURE, FI_UID, FI_MODSEQ, FI_SECTION, FI_BINARY_SIZE };

struct fitem {
	enum fi_type t;
	char *section;          /* inside [] */
	char *label;            /* name in the response */
	int peek, binary, partial;
	uint64_t off, len;
};

struct fetch_ctx {
	char *tag;
	int uid, set_seen, need_data, need_parts, modseq, flags, changed_flags;
	uint64_t changedsince;
	struct fitem *items;
	unsigned nitems;
	unsigned *idx, n, pos;
};

static void
fetch_ctx_free(struct fetch_ctx *f)
{
	for (unsigned i = 0; i < f->nitems; i++) {
		free(f->items[i].section);
		free(f->items[i].label);
	}
	free(f->items);
	free(f->idx);
	free(f->tag);
	free(f);
}

void
fetch_free(struct client *c)
{
	if (c->fetch != NULL) {
		fetch_ctx_free(c->fetch);
		c->fetch = NULL;
	}
}

static int
add_item(struct fetch_ctx *f, const char *s)
{
	static const struct { const char *n; enum fi_type t; } simple[] = {
		{ "FLAGS", FI_FLAGS }, { "INTERNALDATE", FI_INTERNALDATE },
		{ "RFC822.SIZE", FI_SIZE }, { "ENVELOPE", FI_ENVELOPE },
		{ "BODY", FI_BODY }, { "BODYSTRUCTURE", FI_BODYSTRUCTURE },
		{ "UID", FI_UID }, { "MODSEQ", FI_MODSEQ },
	};
	struct fitem it;
	const char *lb, *rb;

	memset(&it, 0, sizeof(it));
	for (unsigned k = 0; k < NELEM(simple); k++)
		if (strcasecmp(s, simple[k].n) == 0) {
			it.t = simple[k].t;
			if (it.t == FI_FLAGS)
				f->flags = 1;
			if (it.t == FI_MODSEQ)
				f->modseq = 1;
			if (it.t == FI_ENVELOPE || it.t == FI_BODY ||
			    it.t == FI_BODYSTRUCTURE)
				f->need_data = f->need_parts = 1;
			if (it.t == FI_SIZE)
				f->need_data |= 0;
			goto add;
		}
	if (strcasecmp(s, "RFC822") == 0 || strcasecmp(s, "RFC822.HEADER") == 0 ||
	    strcasecmp(s, "RFC822.TEXT") == 0) {
		it.t = FI_SECTION;
		it.section = xstrdup(strlen(s) == 6 ? "" : s[7] == 'H' || s[7] == 'h' ?
		    "HEADER" : "TEXT");
		it.peek = strcasecmp(s, "RFC822.HEADER") == 0;
		it.label = xstrdup(s);
		for (char *p = it.label; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		f->need_data = 1;
		goto add;
	}
	lb = strchr(s, '[');
	rb = strrchr(s, ']');
	if (lb == NULL || rb == NULL || rb < lb)
		return -1;
	size_t pre = (size_t)(lb - s);
	if (pre == 4 && strncasecmp(s, "BODY", 4) == 0) ;
	else if (pre == 9 && strncasecmp(s, "BODY.PEEK", 9) == 0)
		it.peek = 1;
	else if (pre == 6 && strncasecmp(s, "BINARY", 6) == 0)
		it.binary = 1;
	else if (pre == 11 && strncasecmp(s, "BINARY.PEEK", 11) == 0)
		it.binary = it.peek = 1;
	else if (pre == 11 && strncasecmp(s, "BINARY.SIZE", 11) == 0)
		it.binary = 1, it.peek = 1, it.t = FI_BINARY_SIZE;
	else
		return -1;
	if (it.t != FI_BINARY_SIZE)
		it.t = FI_SECTION;
	it.section = xstrndup(lb + 1, (size_t)(rb - lb - 1));
	if (rb[1] == '<') {
		char *e;
		if (it.t == FI_BINARY_SIZE)
			goto bad;
		it.off = strtoull(rb + 2, &e, 10);
		if (e == rb + 2 || *e != '.')
			goto bad;
		const char *l = e + 1;
		it.len = strtoull(l, &e, 10);
		if (e == l || strcmp(e, ">") != 0 || it.len == 0)
			goto bad;
		it.partial = 1;
	} else if (rb[1] != '\0')
		goto bad;
	{
		/* check the section syntax now: BAD before any output */
		static const char dummy[] = "\r\n";
		struct imap_part *p = imap_message_parse(dummy, 2);
		struct buf t;
		const char *r, *err;
		size_t rl;
		int bad;
		buf_init(&t, 1024);
		bad = imap_section_get(dummy, 2, p, it.section, it.binary, &t,
		    &r, &rl, &err) == -1;
		buf_free(&t);
		imap_part_free(&p);
		if (bad)
			goto bad;
	}
	if (it.partial)
		it.label = xasprintf("%s[%s]<%llu>", it.binary ? "BINARY" : "BODY",
		    it.section, (unsigned long long)it.off);
	else
		it.label = xasprintf("%s[%s]", it.t == FI_BINARY_SIZE ?
		    "BINARY.SIZE" : it.binary ? "BINARY" : "BODY", it.section);
	f->need_data = 1;
	if (it.section[0] != '\0' && strcasecmp(it.section, "HEADER") != 0 &&
	    strcasecmp(it.section, "TEXT") != 0)
		f->need_parts = 1;
	else if (strncasecmp(it.section, "HEADER", 6) == 0 ||
	    strcasecmp(it.section, "TEXT") == 0)
		f->need_parts = 1;
add:
	if (it.t == FI_SECTION && !it.peek)
		f->set_seen = 1;
	if (f->nitems >= 100)
		goto bad;
	f->items = xreallocarray(f->items, f->nitems + 1, sizeof(*f->items));
	f->items[f->nitems++] = it;
	return 0;
bad:
	free(it.section);
	free(it.label);
	return -1;
}

static int
parse_items(struct fetch_ctx *f, const struct imap_arg *a)
{
	if (a->type == IMAP_ARG_ATOM) {
		if (strcasecmp(a->str, "ALL") == 0)
			return add_item(f, "FLAGS") | add_item(f, "INTERNALDATE") |
			    add_item(f, "RFC822.SIZE") | add_item(f, "ENVELOPE");
		if (strcasecmp(a->str, "FAST") == 0)
			return add_item(f, "FLAGS") | add_item(f, "INTERNALDATE") |
			    add_item(f, "RFC822.SIZE");
		if (strcasecmp(a->str, "FULL") == 0)
			return add_item(f, "FLAGS") | add_item(f, "INTERNALDATE") |
			    add_item(f, "RFC822.SIZE") | add_item(f, "ENVELOPE") |
			    add_item(f, "BODY");
		return add_item(f, a->str);
	}
	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return -1;
	for (unsigned i = 0; i < a->count; i++)
		if (a->list[i].type != IMAP_ARG_ATOM || add_item(f, a->list[i].str) < 0)
			return -1;
	return 0;
}

static void
write_literal(struct buf *b, const char *d, size_t n, int binary)
{
	int nul = binary && memchr(d, '\0', n) != NULL;

	buf_printf(b, "%s{%zu}\r\n", nul ? "~" : "", n);
	buf_append(b, d, n);
}

static void
fetch_one(struct client *c, struct fetch_ctx *f, unsigned i, struct buf *b)
{
	struct mail *m = &c->box->mails[i];
	struct msgdata d = { NULL, 0, NULL };
	struct buf tmp;
	int first = 1, seen_now = 0;

	if (m->expunged)
		return;
	if (f->changedsince && m->modseq <= f->changedsince)
		return;
	if ((f->need_data || f->need_parts) && msg_load(c, i, &d) < 0)
		return;         /* vanished meanwhile */
	if (f->need_parts)
		d.parts = imap_message_parse(d.crlf, d.len);
	if (f->set_seen && !c->box->readonly && !(m->flags & IMAP_FLAG_SEEN)) {
		struct maildir_kw mk;
		maildir_mail_kw(m, &mk);
		if (maildir_set_flags(c->box, i, m->flags | IMAP_FLAG_SEEN,
		    &mk) == 0) {
			seen_now = 1;
			f->changed_flags = 1;
		}
	}
	buf_init(&tmp, BUF_UNLIMITED);
	buf_append(b, "* ", 2);
	put_u(b, i + 1);
	buf_append(b, " FETCH (", 8);
#define SP() do { if (!first) buf_appendc(b, ' '); first = 0; } while (0)
	if (f->uid) {
		SP();
		buf_append(b, "UID ", 4);
		put_u(b, m->uid);
	}
	for (unsigned k = 0; k < f->nitems; k++) {
		struct fitem *it = &f->items[k];
		const char *res, *err;
		size_t rlen;
		char date[64];
		switch (it->t) {
		case FI_UID:
			if (f->uid)
				break;
			SP();
			buf_append(b, "UID ", 4);
			put_u(b, m->uid);
			break;
		case FI_FLAGS:
			SP();
			buf_appends(b, "FLAGS ");
			client_write_flags(c, b, i);
			break;
		case FI_MODSEQ:
			break;  /* written once below */
		case FI_INTERNALDATE:
			SP();
			imap_datetime_format(maildir_internaldate(c->box, i), date,
			    sizeof(date));
			buf_printf(b, "INTERNALDATE \"%s\"", date);
			break;
		case FI_SIZE:
			SP();
			buf_printf(b, "RFC822.SIZE %llu",
			    (unsigned long long)msg_vsize(c, i, &d));
			break;
		case FI_ENVELOPE:
			SP();
			buf_appends(b, "ENVELOPE ");
			imap_write_envelope(b, d.crlf, d.parts->hdr_len);
			break;
		case FI_BODY:
		case FI_BODYSTRUCTURE:
			SP();
			buf_appends(b, it->t == FI_BODY ? "BODY " : "BODYSTRUCTURE ");
			imap_write_bodystructure(b, d.crlf, d.parts,
			    it->t == FI_BODYSTRUCTURE);
			break;
		case FI_SECTION:
		case FI_BINARY_SIZE:
			if (d.parts == NULL)
				d.parts = imap_message_parse(d.crlf, d.len);
			if (imap_section_get(d.crlf, d.len, d.parts, it->section,
			    it->binary, &tmp, &res, &rlen, &err) < 0) {
				/* validated at parse time; a decode failure */
				res = "";
				rlen = 0;
			}
			SP();
			buf_printf(b, "%s ", it->label);
			if (it->t == FI_BINARY_SIZE) {
				buf_printf(b, "%zu", rlen);
				break;
			}
			if (it->partial) {
				if (it->off >= rlen)
					rlen = 0, res = "";
				else {
					res += it->off;
					rlen -= it->off;
					if (rlen > it->len)
						rlen = it->len;
				}
			}
			write_literal(b, res, rlen, it->binary);
			break;
		}
	}
	if (seen_now && !f->flags) {
		SP();
		buf_appends(b, "FLAGS ");
		client_write_flags(c, b, i);
	}
	if (f->modseq || (c->condstore && (f->flags || seen_now))) {
		SP();
		buf_append(b, "MODSEQ (", 8);
		put_u(b, m->modseq);
		buf_appendc(b, ')');
	}
#undef SP
	buf_appends(b, ")\r\n");
	buf_free(&tmp);
	msgdata_free(&d);
}

int
fetch_continue(struct client *c)
{
	struct fetch_ctx *f = c->fetch;
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	while (f->pos < f->n && io_outlen(c->conn.io) < FETCH_AHEAD) {
		fetch_one(c, f, f->idx[f->pos++], &b);
		if (b.len >= 65536)
			client_write_buf(c, &b);
	}
	client_write_buf(c, &b);
	buf_free(&b);
	if (f->pos < f->n)
		return 0;
	if (f->changed_flags)
		maildir_commit(c->box);
	client_tagged(c, f->tag, "OK %sFetch completed.", f->uid ? "UID " : "");
	fetch_free(c);
	return 1;
}

void
cmd_fetch(struct client *c, struct imap_command *cmd, int uid, unsigned argi)
{
	struct fetch_ctx *f;
	unsigned n = cmd->count - argi;
	const struct imap_arg *a = cmd->args + argi;

	if (n < 2 || n > 3) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->uid = uid;
	if (parse_items(f, &a[1]) < 0) {
		client_tagged(c, cmd->tag, "BAD Invalid fetch item.");
		fetch_ctx_free(f);
		return;
	}
	if (n == 3) {
		const struct imap_arg *m = &a[2];
		char *e;
		if (m->type != IMAP_ARG_LIST || m->count < 2 || m->count > 3 ||
		    !imap_arg_atom_eq(&m->list[0], "CHANGEDSINCE") ||
		    m->list[1].type != IMAP_ARG_ATOM ||
		    (m->count == 3 && (!uid || !c->qresync ||
		    !imap_arg_atom_eq(&m->list[2], "VANISHED")))) {
			client_tagged(c, cmd->tag, "BAD Invalid fetch modifier.");
			fetch_ctx_free(f);
			return;
		}
		f->changedsince = strtoull(m->list[1].str, &e, 10);
		if (*e != '\0' || f->changedsince == 0) {
			client_tagged(c, cmd->tag, "BAD Invalid CHANGEDSINCE.");
			fetch_ctx_free(f);
			return;
		}
		f->modseq = 1;
		c->condstore = 1;
		if (m->count == 3 && f->changedsince < c->box->highestmodseq &&
		    a[0].type == IMAP_ARG_ATOM) {
			/* QRESYNC: UIDs of the set expunged since then (we do
			 * not keep expunge times: every missing UID) */
			struct seqset set;
			const char *serr;
			struct buf vb;
			if (imap_seqset_parse(a[0].str, MAX_RANGES, &set, &serr) == 0) {
				imap_seqset_resolve(&set, c->box->uidnext - 1);
				buf_init(&vb, BUF_UNLIMITED);
				client_vanished_earlier(c, &vb, &set);
				client_write_buf(c, &vb);
				buf_free(&vb);
				imap_seqset_free(&set);
			}
		}
	}
	if (f->modseq)
		c->condstore = 1;
	if (resolve_set(c, cmd->tag, &a[0], uid, &f->idx, &f->n) < 0) {
		fetch_ctx_free(f);
		return;
	}
	f->tag = xstrdup(cmd->tag);
	c->fetch = f;
	if (!fetch_continue(c)) {
		/* resumed from IO_LOWAT; no new commands meanwhile */
		c->conn.paused = 1;
	}
}

/* ---- STORE ---- */

void
cmd_store(struct client *c, struct imap_command *cmd, int uid, unsigned argi)
{
	const struct imap_arg *a = cmd->args + argi;
	unsigned n = cmd->count - argi, *idx, nidx, flags, k = 1;
	uint64_t unchangedsince = 0;
	int mode, silent, has_unch = 0;
	uint32_t *modified = NULL;
	struct maildir_kw kw;
	unsigned nmod = 0;
	const char *err, *item;
	struct buf b;

	if (n < 3) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (a[1].type == IMAP_ARG_LIST) {
		char *e;
		if (a[1].count != 2 || !imap_arg_atom_eq(&a[1].list[0], "UNCHANGEDSINCE") ||
		    a[1].list[1].type != IMAP_ARG_ATOM) {
			client_tagged(c, cmd->tag, "BAD Invalid store modifier.");
			return;
		}
		unchangedsince = strtoull(a[1].list[1].str, &e, 10);
		if (*e != '\0') {
			client_tagged(c, cmd->tag, "BAD Invalid UNCHANGEDSINCE.");
			return;
		}
		has_unch = 1;
		c->condstore = 1;
		k = 2;
	}
	if (n < k + 2 || a[k].type != IMAP_ARG_ATOM) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	item = a[k].str;
	mode = item[0] == '+' ? 1 : item[0] == '-' ? -1 : 0;
	if (mode != 0)
		item++;
	if (strcasecmp(item, "FLAGS") == 0)
		silent = 0;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = 1;
	else {
		client_tagged(c, cmd->tag, "BAD Invalid store item.");
		return;
	}
	int pr = 0;
	if (a[k + 1].type == IMAP_ARG_LIST) {
		if (n != k + 2) {
			client_tagged(c, cmd->tag, "BAD Invalid arguments.");
			return;
		}
		pr = client_parse_flags(c, a[k + 1].list, a[k + 1].count,
		    mode >= 0, &flags, &kw, &err);
	} else
		pr = client_parse_flags(c, &a[k + 1], n - k - 1, mode >= 0,
		    &flags, &kw, &err);
	if (pr < 0) {
		client_tagged(c, cmd->tag, "%s %s.", pr == -2 ? "NO" : "BAD",
		    err);
		return;
	}
	if (c->box->readonly) {
		client_tagged(c, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	if (resolve_set(c, cmd->tag, &a[0], uid, &idx, &nidx) < 0)
		return;
	int changed = 0;
	for (unsigned j = 0; j < nidx; j++) {
		struct mail *m = &c->box->mails[idx[j]];
		unsigned nf;
		struct maildir_kw ok, nk;
		if (m->expunged)
			continue;
		maildir_mail_kw(m, &ok);
		for (unsigned w = 0; w < NELEM(nk.w); w++)
			nk.w[w] = mode == 0 ? kw.w[w] : mode > 0 ?
			    ok.w[w] | kw.w[w] : ok.w[w] & ~kw.w[w];
		if (mode == 0)
			nf = flags | (m->flags & IMAP_FLAG_RECENT);
		else if (mode > 0)
			nf = m->flags | flags;
		else
			nf = m->flags & ~flags;
		if (has_unch && m->modseq > unchangedsince) {
			modified = xreallocarray(modified, nmod + 1, sizeof(*modified));
			modified[nmod++] = uid ? m->uid : idx[j] + 1;
			idx[j] = UINT32_MAX;
			continue;
		}
		if (nf == m->flags && memcmp(&nk, &ok, sizeof(nk)) == 0)
			continue;
		if (maildir_set_flags(c->box, idx[j], nf, &nk) == 0)
			changed = 1;
	}
	if (changed)
		maildir_commit(c->box);
	buf_init(&b, BUF_UNLIMITED);
	for (unsigned j = 0; j < nidx; j++) {
		unsigned i = idx[j];
		if (i == UINT32_MAX || c->box->mails[i].expunged)
			continue;
		if (silent && !has_unch)
			continue;
		buf_printf(&b, "* %u FETCH (", i + 1);
		if (uid)
			buf_printf(&b, "UID %u ", c->box->mails[i].uid);
		buf_appends(&b, "FLAGS ");
		client_write_flags(c, &b, i);
		if (c->condstore)
			buf_printf(&b, " MODSEQ (%llu)",
			    (unsigned long long)c->box->mails[i].modseq);
		buf_appends(&b, ")\r\n");
		if (b.len > 65536)
			client_write_buf(c, &b);
	}
	client_write_buf(c, &b);
	if (nmod > 0) {
		buf_printf(&b, "%s OK [MODIFIED ", cmd->tag);
		client_write_numbers(&b, modified, nmod);
		buf_appends(&b, "] Conditional store failed.\r\n");
		client_write_buf(c, &b);
	} else
		client_tagged(c, cmd->tag, "OK Store completed.");
	buf_free(&b);
	free(modified);
	free(idx);
}

/* ---- SEARCH ---- */

struct sctx {
	struct client *c;
	unsigned i;
	struct msgdata d;
};

static int
s_load(void *ctx, const char **data_r, size_t *len_r)
{
	struct sctx *s = ctx;

	if (msg_load(s->c, s->i, &s->d) < 0)
		return -1;
	*data_r = s->d.crlf;
	*len_r = s->d.len;
	return 0;
}

static uint64_t
s_size(void *ctx)
{
	struct sctx *s = ctx;

	return msg_vsize(s->c, s->i, &s->d);
}

static int
s_has_keyword(void *ctx, const char *kw)
{
	struct sctx *s = ctx;
	int k = maildir_keyword(s->c->mu, kw, 0);

	if (k < 0)
		return 0;
	if (k < MAILDIR_FILE_KEYWORDS)
		return (s->c->box->mails[s->i].keywords >> k) & 1;
	struct maildir_kw mk;
	maildir_mail_kw(&s->c->box->mails[s->i], &mk);
	return maildir_kw_has(&mk, (unsigned)k);
}

int
client_saved_has(const struct client *c, uint32_t uid)
{
	unsigned lo = 0, hi = c->nsaved;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (c->saved[mid] == uid)
			return 1;
		if (c->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
s_in_saved(void *ctx)
{
	struct sctx *s = ctx;

	return client_saved_has(s->c, s->c->box->mails[s->i].uid);
}

/* RFC 2047 words to UTF-8 (lib-spam's decoder, charsets through iconv). */
static void
s_decode_header(const char *value, size_t len, struct buf *out)
{
	unsigned decoded, bad;

	mime_decode_2047(value, len, out, &decoded, &bad);
}

void
cmd_search(struct client *c, struct imap_command *cmd, int uid, unsigned argi)
{
	const struct imap_arg *a = cmd->args + argi;
	unsigned n = cmd->count - argi, nres = 0;
	int esearch = 0, r_min = 0, r_max = 0, r_all = 0, r_count = 0, bc;
	int r_save = 0;
	struct imap_search *s;
	struct mailbox *box = c->box;
	uint32_t *res, maxuid;
	uint64_t maxmod = 0;
	const char *err;
	struct buf b;

	if (n >= 2 && imap_arg_atom_eq(&a[0], "RETURN") &&
	    a[1].type == IMAP_ARG_LIST) {
		esearch = 1;
		for (unsigned k = 0; k < a[1].count; k++) {
			const struct imap_arg *o = &a[1].list[k];
			if (imap_arg_atom_eq(o, "MIN")) r_min = 1;
			else if (imap_arg_atom_eq(o, "MAX")) r_max = 1;
			else if (imap_arg_atom_eq(o, "ALL")) r_all = 1;
			else if (imap_arg_atom_eq(o, "COUNT")) r_count = 1;
			else if (imap_arg_atom_eq(o, "SAVE")) r_save = 1;
			else {
				client_tagged(c, cmd->tag, "BAD Unknown search return option.");
				return;
			}
		}
		if (a[1].count == 0)
			r_all = 1;
		if (r_save && !r_min && !r_max && !r_all && !r_count)
			esearch = 0;    /* RFC 5182: SAVE alone: no ESEARCH */
		a += 2;
		n -= 2;
	}
	maxuid = box->count ? box->mails[box->count - 1].uid : 0;
	s = imap_search_parse(a, n, box->count, maxuid, &err, &bc);
	if (s == NULL) {
		if (r_save) {
			/* a failed SEARCH ... SAVE leaves an empty result */
			FREE(c->saved);
			c->nsaved = 0;
		}
		if (bc)
			client_tagged(c, cmd->tag, "NO [BADCHARSET (UTF-8 US-ASCII)] %s.", err);
		else
			client_tagged(c, cmd->tag, "BAD %s.", err);
		return;
	}
	if (imap_search_uses_modseq(s))
		c->condstore = 1;
	res = xcalloc(box->count + 1, sizeof(*res));
	for (unsigned i = 0; i < box->count; i++) {
		struct mail *m = &box->mails[i];
		struct sctx sc = { c, i, { NULL, 0, NULL } };
		struct imap_search_msg sm = { i + 1, m->uid, m->flags, m->modseq,
		    0, &sc, s_load, s_size, s_has_keyword, s_decode_header,
		    s_in_saved };
		if (m->expunged)
			continue;
		sm.internaldate = maildir_internaldate(box, i);
		if (imap_search_match(s, &sm)) {
			res[nres++] = uid ? m->uid : i + 1;
			if (m->modseq > maxmod)
				maxmod = m->modseq;
		}
		msgdata_free(&sc.d);
	}
	if (r_save) {
		/* the UIDs of the result; with MIN/MAX alone only those */
		uint32_t *v = xcalloc(nres + 1, sizeof(*v));
		unsigned nv = 0;
		for (unsigned k = 0; k < nres; k++) {
			if ((r_min || r_max) && !r_all && !r_count &&
			    !((r_min && k == 0) || (r_max && k == nres - 1)))
				continue;
			v[nv++] = uid ? res[k] : box->mails[res[k] - 1].uid;
		}
		free(c->saved);
		c->saved = v;
		c->nsaved = nv;
	}
	buf_init(&b, BUF_UNLIMITED);
	if (!esearch && r_save) {
		/* SAVE alone: nothing untagged */
	} else if (esearch) {
		buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", cmd->tag, uid ? " UID" : "");
		if (nres > 0) {
			if (r_min)
				buf_printf(&b, " MIN %u", res[0]);
			if (r_max)
				buf_printf(&b, " MAX %u", res[nres - 1]);
		}
		if (r_count)
			buf_printf(&b, " COUNT %u", nres);
		if (r_all && nres > 0) {
			buf_appends(&b, " ALL ");
			client_write_numbers(&b, res, nres);
		}
		if (imap_search_uses_modseq(s) && nres > 0)
			buf_printf(&b, " MODSEQ %llu", (unsigned long long)maxmod);
	} else {
		buf_appends(&b, "* SEARCH");
		for (unsigned k = 0; k < nres; k++)
			buf_printf(&b, " %u", res[k]);
		if (imap_search_uses_modseq(s) && nres > 0)
			buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)maxmod);
	}
	if (b.len > 0)
		buf_appends(&b, "\r\n");
	client_write_buf(c, &b);
	buf_free(&b);
	client_tagged(c, cmd->tag, "OK %sSearch completed.", uid ? "UID " : "");
	imap_search_free(&s);
	free(res);
}

/* ---- COPY / MOVE ---- */

void
cmd_copy(struct client *c, struct imap_command *cmd, int uid, unsigned argi,
    int move)
{
	const struct imap_arg *a = cmd->args + argi;
	unsigned n = cmd->count - argi, *idx, nidx, k, live = 0;
	uint32_t uv, *uids, *src;
	const char *err;
	char *dest;
	struct buf b;

	if (n != 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (move && c->box->readonly) {
		client_tagged(c, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	if ((dest = client_mailbox_arg(c, cmd->tag, &a[1])) == NULL)
		return;
	if (resolve_set(c, cmd->tag, &a[0], uid, &idx, &nidx) < 0) {
		free(dest);
		return;
	}
	for (k = 0; k < nidx; k++)
		if (!c->box->mails[idx[k]].expunged)
			idx[live++] = idx[k];
	if (live == 0) {
		if (!maildir_exists(c->mu, dest))
			client_tagged(c, cmd->tag, "NO [TRYCREATE] Mailbox does not exist.");
		else
			client_tagged(c, cmd->tag, "OK %s completed.", move ? "Move" : "Copy");
		free(dest);
		free(idx);
		return;
	}
	uids = xcalloc(live, sizeof(*uids));
	src = xcalloc(live, sizeof(*src));
	if (maildir_copy(c->box, idx, live, dest, &uv, uids, &err) < 0) {
		client_tagged(c, cmd->tag, "NO %s", err);
		goto out;
	}
	for (k = 0; k < live; k++)
		src[k] = c->box->mails[idx[k]].uid;
	buf_init(&b, BUF_UNLIMITED);
	if (move) {
		buf_printf(&b, "* OK [COPYUID %u ", uv);
		client_write_numbers(&b, src, live);
		buf_appendc(&b, ' ');
		client_write_numbers(&b, uids, live);
		buf_appends(&b, "] Moved.\r\n");
		client_write_buf(c, &b);
		for (k = 0; k < live; k++)
			maildir_expunge(c->box, idx[k]);
		client_sync(c, 1);
		client_tagged(c, cmd->tag, "OK Move completed.");
	} else {
		buf_printf(&b, "%s OK [COPYUID %u ", cmd->tag, uv);
		client_write_numbers(&b, src, live);
		buf_appendc(&b, ' ');
		client_write_numbers(&b, uids, live);
		buf_appends(&b, "] Copy completed.\r\n");
		client_write_buf(c, &b);
	}
	buf_free(&b);
out:
	free(uids);
	free(src);
	free(idx);
	free(dest);
}

/* ---- EXPUNGE ---- */

void
cmd_expunge(struct client *c, struct imap_command *cmd, int uid, unsigned argi)
{
	unsigned *idx = NULL, nidx = 0;

	if (cmd->count != argi + (uid ? 1 : 0)) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (c->box->readonly) {
		client_tagged(c, cmd->tag, "NO [READ-ONLY] Mailbox is read-only.");
		return;
	}
	if (uid && resolve_set(c, cmd->tag, &cmd->args[argi], 1, &idx, &nidx) < 0)
		return;
	if (!uid) {
		idx = xcalloc(c->box->count + 1, sizeof(*idx));
		for (unsigned i = 0; i < c->box->count; i++)
			idx[nidx++] = i;
	}
	for (unsigned k = 0; k < nidx; k++) {
		struct mail *m = &c->box->mails[idx[k]];
		if ((m->flags & IMAP_FLAG_DELETED) && !m->expunged)
			maildir_expunge(c->box, idx[k]);
	}
	free(idx);
	client_sync(c, 1);
	client_tagged(c, cmd->tag, "OK Expunge completed.");
}
