/*
 * imapd_mailbox.c - folder commands and the untagged updates of the
 * selected folder.
 *
 * Untrusted bytes: mailbox names, LIST patterns, STATUS items and APPEND
 * arguments from the client, as parsed arguments.  Names go through
 * maildir_name_check before any file system access; patterns are matched
 * in O(len(name) * len(pattern)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_date.h"
#include "imap_message.h"
#include "imap_search.h"
#include "imap_utf7.h"
#include "imapd.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"

/* ---- names ---- */

char *
client_mailbox_arg(struct client *c, const char *tag, const struct imap_arg *a)
{
	const char *err;
	char *name;
	size_t n;

	if (!imap_arg_is_astring(a)) {
		client_tagged(c, tag, "BAD Invalid mailbox name.");
		return NULL;
	}
	if (client_utf8_arg(c, (struct imap_arg *)a) < 0) {
		client_tagged(c, tag, "BAD Invalid UTF-8 in mailbox name.");
		return NULL;
	}
	name = maildir_name_normalize(a->str);
	n = strlen(name);
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (strcmp(name, "INBOX") != 0 && maildir_name_check(name, &err) < 0) {
		client_tagged(c, tag, "NO %s", err);
		free(name);
		return NULL;
	}
	return name;
}

void
client_write_mailbox(struct client *c, struct buf *b, const char *name)
{
	struct buf u;

	if (!c->utf8) {
		imap_write_cstring(b, name);
		return;
	}
	buf_init(&u, strlen(name) * 4 + 16);
	if (imap_utf7_to_utf8(name, &u) < 0 || strpbrk(buf_cstr(&u), "\r\n"))
		imap_write_cstring(b, name);    /* not ours: as stored */
	else {
		/* RFC 6855: quoted strings carry UTF-8 */
		buf_appendc(b, '"');
		for (const char *p = buf_cstr(&u); *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				buf_appendc(b, '\\');
			buf_appendc(b, *p);
		}
		buf_appendc(b, '"');
	}
	buf_free(&u);
}

int
client_utf8_arg(struct client *c, struct imap_arg *a)
{
	struct buf m;

	if (!c->utf8 || a->str == NULL || a->type == IMAP_ARG_NIL)
		return 0;
	buf_init(&m, a->len * 4 + 16);
	if (imap_utf8_to_utf7(a->str, &m) < 0) {
		buf_free(&m);
		return -1;
	}
	free(a->str);
	a->len = m.len;
	a->str = xstrdup(buf_cstr(&m));
	buf_free(&m);
	return 0;
}

/* ---- flags ---- */

void
client_write_flags(struct client *c, struct buf *b, unsigned i)
{
	static const struct { unsigned f; const char *n; } sys[] = {
		{ IMAP_FLAG_ANSWERED, "\\Answered" }, { IMAP_FLAG_FLAGGED, "\\Flagged" },
		{ IMAP_FLAG_DELETED, "\\Deleted" }, { IMAP_FLAG_SEEN, "\\Seen" },
		{ IMAP_FLAG_DRAFT, "\\Draft" }, { IMAP_FLAG_RECENT, "\\Recent" },
	};
	struct mail *m = &c->box->mails[i];
	int first = 1;

	buf_appendc(b, '(');
	for (unsigned k = 0; k < NELEM(sys); k++)
		if (m->flags & sys[k].f) {
			if (!first)
				buf_appendc(b, ' ');
			buf_appends(b, sys[k].n);
			first = 0;
		}
	struct maildir_kw kw;
	maildir_mail_kw(m, &kw);
	for (unsigned k = 0; k < c->mu->nkeywords; k++)
		if (maildir_kw_has(&kw, k)) {
			if (!first)
				buf_appendc(b, ' ');
			buf_appends(b, c->mu->keywords[k]);
			first = 0;
		}
	buf_appendc(b, ')');
}

#define KW_STR2(x) #x
#define KW_STR(x) KW_STR2(x)

int
client_parse_flags(struct client *c, const struct imap_arg *v, unsigned n,
    int create, unsigned *flags_r, struct maildir_kw *kw_r,
    const char **error_r)
{
	static const struct { const char *n; unsigned f; } sys[] = {
		{ "\\Answered", IMAP_FLAG_ANSWERED }, { "\\Flagged", IMAP_FLAG_FLAGGED },
		{ "\\Deleted", IMAP_FLAG_DELETED }, { "\\Seen", IMAP_FLAG_SEEN },
		{ "\\Draft", IMAP_FLAG_DRAFT },
	};

	*flags_r = 0;
	memset(kw_r, 0, sizeof(*kw_r));
	for (unsigned i = 0; i < n; i++) {
		const char *f = v[i].str;
		unsigned k;
		if (v[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid flag";
			return -1;
		}
		if (f[0] == '\\') {
			if (strcasecmp(f, "\\Recent") == 0)
				continue;
			for (k = 0; k < NELEM(sys); k++)
				if (strcasecmp(f, sys[k].n) == 0)
					break;
			if (k == NELEM(sys)) {
				*error_r = "Invalid system flag";
				return -1;
			}
			*flags_r |= sys[k].f;
			continue;
		}
		for (const char *p = f; *p; p++)
			if (strchr("(){%*\"\\]", *p) != NULL || (unsigned char)*p < 0x21 ||
			    (unsigned char)*p > 0x7e) {
				*error_r = "Invalid keyword";
				return -1;
			}
		int kw = maildir_keyword(c->mu, f, create);
		if (kw < 0) {
			if (create) {
				*error_r = kw == -2 ? "[LIMIT] Too many keywords "
				    "(at most " KW_STR(MAILDIR_MAX_KEYWORDS)
				    " per user)" : kw == -3 ? "[LIMIT] Keyword "
				    "too long (at most " KW_STR(MAILDIR_KEYWORD_MAX_LEN)
				    " characters)" : "[SERVERBUG] Cannot add keyword";
				return -2;
			}
			continue;
		}
		maildir_kw_set(kw_r, (unsigned)kw);
	}
	return 0;
}

/* ---- untagged updates ---- */

struct sync_ctx {
	struct client *c;
	struct buf out;
	unsigned expunged;
	uint32_t *vanished;     /* QRESYNC: expunged UIDs */
};

static void
sync_expunge(void *ctx, unsigned seq, uint32_t uid)
{
	struct sync_ctx *s = ctx;

	if (s->c->qresync) {
		s->vanished = xreallocarray(s->vanished, s->expunged + 1,
		    sizeof(*s->vanished));
		s->vanished[s->expunged] = uid;
	} else
		buf_printf(&s->out, "* %u EXPUNGE\r\n", seq);
	s->expunged++;
	if (s->c->exists_sent > 0)
		s->c->exists_sent--;
}

static void
sync_flags(void *ctx, unsigned seq)
{
	struct sync_ctx *s = ctx;
	struct client *c = s->c;

	buf_printf(&s->out, "* %u FETCH (UID %u FLAGS ", seq,
	    c->box->mails[seq - 1].uid);
	client_write_flags(c, &s->out, seq - 1);
	if (c->condstore)
		buf_printf(&s->out, " MODSEQ (%llu)",
		    (unsigned long long)c->box->mails[seq - 1].modseq);
	buf_appends(&s->out, ")\r\n");
}

static unsigned
count_recent(struct mailbox *box)
{
	unsigned n = 0;

	for (unsigned i = 0; i < box->count; i++)
		if (box->mails[i].flags & IMAP_FLAG_RECENT)
			n++;
	return n;
}

void
client_sync(struct client *c, int allow_expunge)
{
	struct sync_ctx s = { c, { 0 }, 0, NULL };
	struct maildir_sync_cb cb = { sync_expunge, sync_flags, NULL, &s };

	if (c->box == NULL)
		return;
	buf_init(&s.out, BUF_UNLIMITED);
	if (maildir_sync(c->box, allow_expunge, &cb) < 0)
		log_warn("%s: sync of %s failed", c->conn.id, c->box->name);
	if (s.vanished != NULL) {
		/* RFC 7162: one VANISHED for the lot (UIDs ascend) */
		buf_appends(&s.out, "* VANISHED ");
		client_write_numbers(&s.out, s.vanished, s.expunged);
		buf_appends(&s.out, "\r\n");
		free(s.vanished);
	}
	if (c->box->count != c->exists_sent || s.expunged > 0) {
		unsigned r = count_recent(c->box);
		if (c->box->count != c->exists_sent)
			buf_printf(&s.out, "* %u EXISTS\r\n", c->box->count);
		if (r != c->recent)
			buf_printf(&s.out, "* %u RECENT\r\n", r);
		c->exists_sent = c->box->count;
		c->recent = r;
	}
	client_write_buf(c, &s.out);
	buf_free(&s.out);
}

void
client_unselect(struct client *c)
{
	if (c->box == NULL)
		return;
	notify_unwatch(c);
	maildir_close(&c->box);
	/* SEARCHRES: the saved result belongs to the selected folder */
	FREE(c->saved);
	c->nsaved = 0;
	c->exists_sent = c->recent = 0;
	if (c->state == ST_SELECTED)
		c->state = ST_AUTH;
}

/* ---- SELECT / EXAMINE ---- */

void
cmd_select(struct client *c, struct imap_command *cmd, int readonly)
{
	struct mailbox *box;
	const char *err;
	char *name;
	struct buf b;
	unsigned unseen = 0;
	const struct imap_arg *qr = NULL;
	uint32_t qr_uidvalidity = 0;
	uint64_t qr_modseq = 0;
	struct seqset qr_known = { NULL, 0 };

	if (cmd->count < 1 || cmd->count > 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (cmd->count == 2) {
		const struct imap_arg *o = &cmd->args[1];
		if (o->type == IMAP_ARG_LIST && o->count == 2 &&
		    imap_arg_atom_eq(&o->list[0], "QRESYNC") &&
		    o->list[1].type == IMAP_ARG_LIST) {
			/* (QRESYNC (uidvalidity modseq [known-uids [seq-match]])) */
			const char *serr;
			char *e1, *e2;
			qr = &o->list[1];
			if (!c->qresync || qr->count < 2 || qr->count > 4 ||
			    qr->list[0].type != IMAP_ARG_ATOM ||
			    qr->list[1].type != IMAP_ARG_ATOM ||
			    (qr->count >= 3 && qr->list[2].type != IMAP_ARG_ATOM)) {
				client_tagged(c, cmd->tag, c->qresync ?
				    "BAD Invalid QRESYNC parameters." :
				    "BAD QRESYNC not enabled.");
				return;
			}
			qr_uidvalidity = (uint32_t)strtoul(qr->list[0].str, &e1, 10);
			qr_modseq = strtoull(qr->list[1].str, &e2, 10);
			if (*e1 != '\0' || *e2 != '\0' || qr_uidvalidity == 0 ||
			    qr_modseq == 0 || (qr->count >= 3 &&
			    imap_seqset_parse(qr->list[2].str, 10000, &qr_known,
			    &serr) < 0)) {
				client_tagged(c, cmd->tag, "BAD Invalid QRESYNC parameters.");
				return;
			}
		} else if (o->type != IMAP_ARG_LIST || o->count != 1 ||
		    !imap_arg_atom_eq(&o->list[0], "CONDSTORE")) {
			client_tagged(c, cmd->tag, "BAD Unsupported SELECT parameters.");
			return;
		}
		c->condstore = 1;
	}
	if ((name = client_mailbox_arg(c, cmd->tag, &cmd->args[0])) == NULL) {
		imap_seqset_free(&qr_known);
		return;
	}
	if (c->box != NULL) {
		client_unselect(c);
		client_send(c, "* OK [CLOSED] Previous mailbox closed.");
	}
	if (maildir_open(c->mu, name, readonly, &box, &err) < 0) {
		client_tagged(c, cmd->tag, "NO %s", err);
		free(name);
		imap_seqset_free(&qr_known);
		return;
	}
	free(name);
	c->box = box;
	c->state = ST_SELECTED;
	c->exists_sent = box->count;
	c->recent = count_recent(box);
	/* FLAGS and PERMANENTFLAGS: up to MAILDIR_MAX_KEYWORDS names of
	 * MAILDIR_KEYWORD_MAX_LEN each */
	buf_init(&b, 2 * MAILDIR_MAX_KEYWORDS * (MAILDIR_KEYWORD_MAX_LEN + 1) + 8192);
	buf_appends(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (unsigned k = 0; k < c->mu->nkeywords; k++)
		buf_printf(&b, " %s", c->mu->keywords[k]);
	buf_appends(&b, ")\r\n");
	if (!readonly) {
		buf_appends(&b, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (unsigned k = 0; k < c->mu->nkeywords; k++)
			buf_printf(&b, " %s", c->mu->keywords[k]);
		buf_printf(&b, "%s)] Flags permitted.\r\n",
		    c->mu->nkeywords < MAILDIR_MAX_KEYWORDS ? " \\*" : "");
	} else
		buf_appends(&b, "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n");
	buf_printf(&b, "* %u EXISTS\r\n* %u RECENT\r\n", box->count, c->recent);
	for (unsigned i = 0; i < box->count; i++)
		if (!(box->mails[i].flags & IMAP_FLAG_SEEN)) {
			unseen = i + 1;
			break;
		}
	if (unseen)
		buf_printf(&b, "* OK [UNSEEN %u] First unseen.\r\n", unseen);
	buf_printf(&b, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %llu] Highest\r\n", box->uidvalidity,
	    box->uidnext, (unsigned long long)box->highestmodseq);
	if (qr != NULL && qr_uidvalidity == box->uidvalidity) {
		/* what changed since the client's modseq: vanished UIDs
		 * (all missing ones of known-uids; expunge times are not
		 * kept), then flags of messages changed since */
		if (qr_modseq < box->highestmodseq && box->uidnext > 1) {
			if (qr_known.n == 0) {
				qr_known.v = xcalloc(1, sizeof(*qr_known.v));
				qr_known.v[0].lo = 1;
				qr_known.v[0].hi = SEQ_STAR;
				qr_known.n = 1;
			}
			imap_seqset_resolve(&qr_known, box->uidnext - 1);
			client_vanished_earlier(c, &b, &qr_known);
		}
		for (unsigned i = 0; i < box->count; i++) {
			if (box->mails[i].modseq <= qr_modseq)
				continue;
			buf_printf(&b, "* %u FETCH (UID %u FLAGS ", i + 1,
			    box->mails[i].uid);
			client_write_flags(c, &b, i);
			buf_printf(&b, " MODSEQ (%llu))\r\n",
			    (unsigned long long)box->mails[i].modseq);
		}
	}
	imap_seqset_free(&qr_known);
	buf_printf(&b, "%s OK [%s] %s completed.\r\n", cmd->tag,
	    readonly ? "READ-ONLY" : "READ-WRITE", readonly ? "Examine" : "Select");
	client_write_buf(c, &b);
	buf_free(&b);
	notify_watch(c);
}

void
cmd_close(struct client *c, struct imap_command *cmd, int expunge)
{
	if (expunge && !c->box->readonly) {
		for (unsigned i = 0; i < c->box->count; i++)
			if (c->box->mails[i].flags & IMAP_FLAG_DELETED)
				maildir_expunge(c->box, i);
	}
	client_unselect(c);
	client_tagged(c, cmd->tag, "OK %s completed.", expunge ? "Close" : "Unselect");
}

/* ---- CREATE / DELETE / RENAME / SUBSCRIBE ---- */

/* The mailbox name that is a command's only argument (as
 * client_mailbox_arg), or NULL after a BAD/NO reply. */
static char *
mailbox_only_arg(struct client *c, struct imap_command *cmd)
{
	if (cmd->count != 1) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return NULL;
	}
	return client_mailbox_arg(c, cmd->tag, &cmd->args[0]);
}

/* The reply to a change of folders: NO with the storage's reason, or
 * "OK <Verb> completed." */
static void
folder_change_done(struct client *c, const char *tag, int r,
    const char *err, const char *verb)
{
	if (r < 0)
		client_tagged(c, tag, "NO %s", err);
	else
		client_tagged(c, tag, "OK %s completed.", verb);
}

void
cmd_create(struct client *c, struct imap_command *cmd)
{
	const char *err = NULL;
	char *name;
	int r;

	if ((name = mailbox_only_arg(c, cmd)) == NULL)
		return;
	r = maildir_create(c->mu, name, &err);
	folder_change_done(c, cmd->tag, r, err, "Create");
	free(name);
}

void
cmd_delete(struct client *c, struct imap_command *cmd)
{
	const char *err = NULL;
	char *name;
	int r;

	if ((name = mailbox_only_arg(c, cmd)) == NULL)
		return;
	if (c->box != NULL && strcmp(c->box->name, name) == 0)
		client_unselect(c);
	r = maildir_delete(c->mu, name, &err);
	folder_change_done(c, cmd->tag, r, err, "Delete");
	free(name);
}

void
cmd_rename(struct client *c, struct imap_command *cmd)
{
	const char *err = NULL;
	char *from, *to;
	int r;

	if (cmd->count != 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if ((from = client_mailbox_arg(c, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if ((to = client_mailbox_arg(c, cmd->tag, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	r = maildir_rename(c->mu, from, to, &err);
	folder_change_done(c, cmd->tag, r, err, "Rename");
	free(from);
	free(to);
}

void
cmd_subscribe(struct client *c, struct imap_command *cmd, int on)
{
	char *name;

	if ((name = mailbox_only_arg(c, cmd)) == NULL)
		return;
	if (on && !maildir_exists(c->mu, name))
		client_tagged(c, cmd->tag, "NO [NONEXISTENT] Mailbox does not exist.");
	else if (maildir_subscribe(c->mu, name, on) < 0)
		client_tagged(c, cmd->tag, "NO [SERVERBUG] Cannot update subscriptions.");
	else
		client_tagged(c, cmd->tag, "OK %s completed.", on ? "Subscribe" : "Unsubscribe");
	free(name);
}

void
cmd_namespace(struct client *c, struct imap_command *cmd)
{
	client_send(c, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	client_tagged(c, cmd->tag, "OK Namespace completed.");
}

/* ---- LIST / LSUB ---- */

/* IMAP wildcard match: '*' anything, '%' anything but the separator. */
static int
pattern_match(const char *pat, const char *name)
{
	size_t pl = strlen(pat), nl = strlen(name);
	unsigned char *row, *prev;
	int r;

	if (pl > 1024 || nl > 1024)
		return 0;
	/* DP over pattern positions: prev[j] = pat[0..i) matches name[0..j) */
	prev = xcalloc(nl + 1, 1);
	row = xcalloc(nl + 1, 1);
	prev[0] = 1;
	for (size_t i = 0; i < pl; i++) {
		char p = pat[i];
		memset(row, 0, nl + 1);
		if (p == '*' || p == '%') {
			for (size_t j = 0; j <= nl; j++) {
				if (prev[j])
					row[j] = 1;
				else if (j > 0 && row[j - 1] &&
				    (p == '*' || name[j - 1] != '.'))
					row[j] = 1;
			}
		} else {
			for (size_t j = 1; j <= nl; j++)
				row[j] = prev[j - 1] && name[j - 1] == p;
		}
		unsigned char *t = prev;
		prev = row;
		row = t;
	}
	r = prev[nl];
	free(prev);
	free(row);
	return r;
}

static int
list_match(const char *ref, const char *pat, const char *name)
{
	char *full = xasprintf("%s%s", ref, pat);
	int r = pattern_match(full, name);

	if (!r && strcmp(name, "INBOX") == 0 && strncasecmp(full, "INBOX", 5) == 0) {
		/* INBOX is case-insensitive */
		memcpy(full, "INBOX", 5);
		r = pattern_match(full, name);
	}
	free(full);
	return r;
}

static int
status_items(struct client *c, const char *tag, const struct imap_arg *list,
    unsigned *items_r)
{
	static const char *const names[] = { "MESSAGES", "RECENT", "UIDNEXT",
	    "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE" };

	*items_r = 0;
	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		client_tagged(c, tag, "BAD Invalid status items.");
		return -1;
	}
	for (unsigned i = 0; i < list->count; i++) {
		unsigned k;
		for (k = 0; k < NELEM(names); k++)
			if (imap_arg_atom_eq(&list->list[i], names[k]))
				break;
		if (k == NELEM(names)) {
			client_tagged(c, tag, "BAD Unknown status item.");
			return -1;
		}
		*items_r |= 1u << k;
	}
	return 0;
}

/* "* STATUS name (...)" for name; 0 or -1 with *error_r. */
static int
status_line(struct client *c, const char *name, unsigned items,
    struct buf *out, const char **error_r)
{
	struct mailbox *box = NULL;
	unsigned recent = 0, unseen = 0;
	uint64_t size = 0;
	int own = 0;

	if (c->box != NULL && strcmp(c->box->name, name) == 0)
		box = c->box;
	else {
		if (maildir_open(c->mu, name, 1, &box, error_r) < 0)
			return -1;
		own = 1;
	}
	for (unsigned i = 0; i < box->count; i++) {
		if (box->mails[i].flags & IMAP_FLAG_RECENT)
			recent++;
		if (!(box->mails[i].flags & IMAP_FLAG_SEEN))
			unseen++;
		if (items & 64)
			size += maildir_psize(box, i);
	}
	buf_appends(out, "* STATUS ");
	client_write_mailbox(c, out, name);
	buf_appends(out, " (");
	size_t start = out->len;
#define SEP() do { if (out->len > start) buf_appendc(out, ' '); } while (0)
	if (items & 1) { SEP(); buf_printf(out, "MESSAGES %u", box->count); }
	if (items & 2) { SEP(); buf_printf(out, "RECENT %u", recent); }
	if (items & 4) { SEP(); buf_printf(out, "UIDNEXT %u", box->uidnext); }
	if (items & 8) { SEP(); buf_printf(out, "UIDVALIDITY %u", box->uidvalidity); }
	if (items & 16) { SEP(); buf_printf(out, "UNSEEN %u", unseen); }
	if (items & 32) { SEP(); buf_printf(out, "HIGHESTMODSEQ %llu",
	    (unsigned long long)box->highestmodseq); }
	if (items & 64) { SEP(); buf_printf(out, "SIZE %llu", (unsigned long long)size); }
#undef SEP
	buf_appends(out, ")\r\n");
	if (own)
		maildir_close(&box);
	return 0;
}

void
cmd_status(struct client *c, struct imap_command *cmd)
{
	unsigned items;
	const char *err;
	char *name;
	struct buf b;

	if (cmd->count != 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (status_items(c, cmd->tag, &cmd->args[1], &items) < 0)
		return;
	if ((name = client_mailbox_arg(c, cmd->tag, &cmd->args[0])) == NULL)
		return;
	buf_init(&b, BUF_UNLIMITED);
	if (status_line(c, name, items, &b, &err) < 0)
		client_tagged(c, cmd->tag, "NO %s", err);
	else {
		client_write_buf(c, &b);
		client_tagged(c, cmd->tag, "OK Status completed.");
	}
	buf_free(&b);
	free(name);
}

static int
is_subscribed(char **subs, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(subs[i], name) == 0)
			return 1;
	return 0;
}

void
cmd_list(struct client *c, struct imap_command *cmd, int lsub)
{
	const struct imap_arg *a = cmd->args, *pats;
	unsigned n = cmd->count, i = 0, npats, nsubs, nf = 0, status = 0;
	int sel_sub = lsub, sel_special = 0, ret_sub = 0, ret_status = 0;
	struct maildir_folder *folders = NULL;
	char **subs;
	struct buf b;
	const char *verb = lsub ? "LSUB" : "LIST";

	if (!lsub && n > 0 && a[0].type == IMAP_ARG_LIST) {
		for (unsigned k = 0; k < a[0].count; k++) {
			if (imap_arg_atom_eq(&a[0].list[k], "SUBSCRIBED"))
				sel_sub = ret_sub = 1;
			else if (imap_arg_atom_eq(&a[0].list[k], "SPECIAL-USE"))
				sel_special = 1;
			else if (!imap_arg_atom_eq(&a[0].list[k], "REMOTE") &&
			    !imap_arg_atom_eq(&a[0].list[k], "RECURSIVEMATCH")) {
				client_tagged(c, cmd->tag, "BAD Unknown selection option.");
				return;
			}
		}
		i = 1;
	}
	if (n < i + 2 || !imap_arg_is_astring(&a[i]) ||
	    (!imap_arg_is_astring(&a[i + 1]) && a[i + 1].type != IMAP_ARG_LIST)) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	pats = a[i + 1].type == IMAP_ARG_LIST ? a[i + 1].list : &a[i + 1];
	npats = a[i + 1].type == IMAP_ARG_LIST ? a[i + 1].count : 1;
	/* UTF8=ACCEPT: reference and patterns compare with stored names */
	int bad8 = client_utf8_arg(c, &cmd->args[i]) < 0;
	for (unsigned k = 0; k < npats; k++)
		if (client_utf8_arg(c, (struct imap_arg *)&pats[k]) < 0)
			bad8 = 1;
	if (bad8) {
		client_tagged(c, cmd->tag, "BAD Invalid UTF-8 in mailbox name.");
		return;
	}
	const char *ref = a[i].type == IMAP_ARG_NIL ? "" : a[i].str;
	i += 2;
	if (i < n) {
		if (lsub || !imap_arg_atom_eq(&a[i], "RETURN") || i + 2 != n ||
		    a[i + 1].type != IMAP_ARG_LIST) {
			client_tagged(c, cmd->tag, "BAD Invalid arguments.");
			return;
		}
		const struct imap_arg *r = &a[i + 1];
		for (unsigned k = 0; k < r->count; k++) {
			if (imap_arg_atom_eq(&r->list[k], "SUBSCRIBED"))
				ret_sub = 1;
			else if (imap_arg_atom_eq(&r->list[k], "STATUS") &&
			    k + 1 < r->count) {
				if (status_items(c, cmd->tag, &r->list[++k], &status) < 0)
					return;
				ret_status = 1;
			} else if (!imap_arg_atom_eq(&r->list[k], "CHILDREN") &&
			    !imap_arg_atom_eq(&r->list[k], "SPECIAL-USE")) {
				client_tagged(c, cmd->tag, "BAD Unknown return option.");
				return;
			}
		}
	}
	for (unsigned k = 0; k < npats; k++)
		if (!imap_arg_is_astring(&pats[k])) {
			client_tagged(c, cmd->tag, "BAD Invalid pattern.");
			return;
		}
	buf_init(&b, BUF_UNLIMITED);
	if (npats == 1 && pats[0].str[0] == '\0' && pats[0].type != IMAP_ARG_NIL) {
		buf_printf(&b, "* %s (\\Noselect) \".\" \"\"\r\n", verb);
		client_write_buf(c, &b);
		buf_free(&b);
		client_tagged(c, cmd->tag, "OK %s completed.", verb);
		return;
	}
	subs = maildir_subscriptions(c->mu, &nsubs);
	if (maildir_list(c->mu, &folders, &nf) < 0)
		nf = 0;
	/* candidates: existing folders, their missing parent levels
	 * (\Noselect), and subscribed-but-gone names (\NonExistent) */
	struct cand { const char *name, *special; int exists, children; } *cv;
	unsigned nc = 0, cap = nf * 2 + nsubs + 1;
	char **ghosts = xcalloc(nf + 1, sizeof(*ghosts));
	unsigned ng = 0;
	cv = xcalloc(cap, sizeof(*cv));
	for (unsigned k = 0; k < nf; k++)
		cv[nc++] = (struct cand){ folders[k].name, folders[k].special, 1,
		    folders[k].children };
	for (unsigned k = 0; k < nf && !sel_sub; k++) {
		for (const char *dot = strchr(folders[k].name, '.'); dot != NULL;
		    dot = strchr(dot + 1, '.')) {
			size_t l = (size_t)(dot - folders[k].name);
			int known = 0;
			for (unsigned x = 0; x < nc && !known; x++)
				known = strlen(cv[x].name) == l &&
				    strncmp(cv[x].name, folders[k].name, l) == 0;
			if (known || nc >= cap || ng >= nf)
				continue;
			ghosts[ng] = xstrndup(folders[k].name, l);
			cv[nc++] = (struct cand){ ghosts[ng++], NULL, 0, 1 };
		}
	}
	for (unsigned k = 0; k < nsubs && sel_sub && nc < cap; k++) {
		int known = 0;
		for (unsigned x = 0; x < nf && !known; x++)
			known = strcmp(folders[x].name, subs[k]) == 0;
		if (!known)
			cv[nc++] = (struct cand){ subs[k], NULL, 0, 0 };
	}
	for (unsigned k = 0; k < nc; k++) {
		const char *name = cv[k].name, *special = cv[k].special;
		int exists = cv[k].exists, children = cv[k].children, subscribed;
		subscribed = is_subscribed(subs, nsubs, name);
		if (sel_sub && !subscribed)
			continue;
		if (sel_special && special == NULL)
			continue;
		int match = 0;
		for (unsigned p = 0; p < npats && !match; p++)
			match = list_match(ref, pats[p].str, name);
		if (!match)
			continue;
		buf_printf(&b, "* %s (", verb);
		size_t st = b.len;
#define ATTR(s) do { if (b.len > st) buf_appendc(&b, ' '); buf_appends(&b, s); } while (0)
		if (!exists && !children)
			ATTR("\\NonExistent");
		else if (!exists)
			ATTR("\\Noselect");
		if (!lsub && (exists || children))
			ATTR(children ? "\\HasChildren" : "\\HasNoChildren");
		if (subscribed && (ret_sub || sel_sub) && !lsub)
			ATTR("\\Subscribed");
		if (special != NULL)
			ATTR(special);
#undef ATTR
		buf_appends(&b, ") \".\" ");
		client_write_mailbox(c, &b, name);
		buf_appends(&b, "\r\n");
		if (ret_status && exists) {
			const char *err;
			status_line(c, name, status, &b, &err);
		}
		if (b.len > 65536)
			client_write_buf(c, &b);
	}
	client_write_buf(c, &b);
	buf_free(&b);
	for (unsigned k = 0; k < ng; k++)
		free(ghosts[k]);
	free(ghosts);
	free(cv);
	maildir_list_free(folders, nf);
	for (unsigned k = 0; k < nsubs; k++)
		free(subs[k]);
	free(subs);
	client_tagged(c, cmd->tag, "OK %s completed.", verb);
}

/* ---- APPEND ---- */

void
cmd_append(struct client *c, struct imap_command *cmd)
{
	struct app { unsigned flags; struct maildir_kw kw; time_t date; const struct imap_arg *msg; } *v = NULL;
	unsigned nv = 0, i = 1;
	uint32_t uv = 0, *uids;
	const char *err;
	char *name;
	struct buf b;

	if (cmd->count < 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if ((name = client_mailbox_arg(c, cmd->tag, &cmd->args[0])) == NULL)
		return;
	while (i < cmd->count) {
		struct app a = { 0, { { 0 } }, time(NULL), NULL };
		if (cmd->args[i].type == IMAP_ARG_LIST) {
			int pr = client_parse_flags(c, cmd->args[i].list,
			    cmd->args[i].count, 1, &a.flags, &a.kw, &err);
			if (pr < 0) {
				client_tagged(c, cmd->tag, "%s %s.",
				    pr == -2 ? "NO" : "BAD", err);
				goto out;
			}
			i++;
		}
		if (i < cmd->count && cmd->args[i].type == IMAP_ARG_QUOTED) {
			if (imap_datetime_parse(cmd->args[i].str, &a.date) < 0) {
				client_tagged(c, cmd->tag, "BAD Invalid date-time.");
				goto out;
			}
			i++;
		}
		if (i + 1 < cmd->count && imap_arg_atom_eq(&cmd->args[i], "UTF8") &&
		    cmd->args[i + 1].type == IMAP_ARG_LIST &&
		    cmd->args[i + 1].count == 1 &&
		    cmd->args[i + 1].list[0].type == IMAP_ARG_LITERAL &&
		    cmd->args[i + 1].list[0].literal8) {
			/* RFC 6855: UTF8 (~{n} message) */
			if (!c->utf8) {
				client_tagged(c, cmd->tag, "BAD UTF8=ACCEPT not enabled.");
				goto out;
			}
			a.msg = &cmd->args[i + 1].list[0];
			i += 2;
		} else if (i >= cmd->count || cmd->args[i].type != IMAP_ARG_LITERAL) {
			client_tagged(c, cmd->tag, "BAD Message literal expected.");
			goto out;
		} else
			a.msg = &cmd->args[i++];
		if (a.msg->len == 0) {
			client_tagged(c, cmd->tag, "NO Empty message.");
			goto out;
		}
		v = xreallocarray(v, nv + 1, sizeof(*v));
		v[nv++] = a;
	}
	if (!maildir_exists(c->mu, name)) {
		client_tagged(c, cmd->tag, "NO [TRYCREATE] Mailbox does not exist.");
		goto out;
	}
	uids = xcalloc(nv, sizeof(*uids));
	for (unsigned k = 0; k < nv; k++) {
		if (maildir_save(c->mu, name, v[k].msg->str, v[k].msg->len,
		    v[k].flags, &v[k].kw, v[k].date, &uv, &uids[k], &err) < 0) {
			client_tagged(c, cmd->tag, "NO %s", err);
			free(uids);
			goto out;
		}
	}
	if (c->box != NULL)
		client_sync(c, 0);
	buf_init(&b, 4096);
	buf_printf(&b, "%s OK [APPENDUID %u ", cmd->tag, uv);
	for (unsigned k = 0; k < nv; k++)
		buf_printf(&b, k ? ",%u" : "%u", uids[k]);
	buf_appends(&b, "] Append completed.\r\n");
	client_write_buf(c, &b);
	buf_free(&b);
	free(uids);
out:
	free(v);
	free(name);
}
