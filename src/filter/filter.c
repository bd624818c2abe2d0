/*
 * filter.c - the content filter service (`tempest daemon filter`, a
 * unix service in master.cf): smtpd sends each message before its final
 * reply to DATA/BDAT (filter_proto.h); the filter scores it with the spam
 * engine and answers accept, tag (X-Spam-* headers), quarantine (stored
 * in the store with an X-Quarantine-Id header) or reject, or splits the
 * recipients into groups when their own levels call for different
 * treatment (spam_split_recipients).  This is the
 * process that parses hostile MIME: it runs unprivileged, serves one
 * connection at a time, and reads at most spam_max_message_size bytes
 * for analysis (the whole message only when quarantining).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "filter_proto.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "service.h"
#include "spam_engine.h"
#include "str.h"

/* The largest content read: what smtpd may accept (message_size_limit,
 * 0 = no limit, plus its own headers), at least 64 MiB. */
#define FILTER_MAX_MESSAGE (64LL * 1024 * 1024)

static long long
max_message(void)
{
	long long l = config_int("message_size_limit");

	if (l <= 0)
		return (long long)1 << 50;
	return l + 1024 * 1024 > FILTER_MAX_MESSAGE ? l + 1024 * 1024 : FILTER_MAX_MESSAGE;
}

static const struct cfg_param filter_params[] = {
	{ "spam_split_recipients", CFG_BOOL, "yes", 0, "Treat each recipient of a message by its own spam levels (a tagged copy per group of recipients treated alike, quarantine for those whose level says so); no: the most lenient levels of all recipients for everyone" },
};
CONFIG_PARAMS(filter_params);

static struct spam_engine *engine;

static void
quarantine_id(char id[17])
{
	unsigned char r[8];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		unsigned long long x = (unsigned long long)time(NULL) ^
		    ((unsigned long long)getpid() << 32);
		memcpy(r, &x, sizeof(r));
	}
	for (int i = 0; i < 8; i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 15];
	}
	id[16] = '\0';
}

/* qfile_read_range callback: collect the content (within b's bound). */
static int
append_chunk(const char *data, size_t n, void *arg)
{
	return buf_append(arg, data, n) < 0 ? 1 : 0;
}

static int
read_content(int fd, long long off, long long len, struct buf *b)
{
	if (off < 0 || len < 0)
		return -1;
	return qfile_read_range(fd, (off_t)off, (size_t)len, append_chunk,
	    b) == 0 ? 0 : -1;
}

static void
tests_string(const struct spam_result *res, struct buf *out)
{
	char n[32];

	for (size_t i = 0; i < res->nhits; i++) {
		report_num(n, sizeof(n), res->hits[i].score);
		(void)buf_printf(out, "%s%s=%s", i ? ", " : "", res->hits[i].name, n);
	}
}

/* What a scanned message leaves for after the reply: the auto-learning
 * (spam_engine_autolearn) needs the parsed message, which points into
 * the content. */
struct scanned {
	int valid;
	struct buf content;
	struct spam_verdict v;
	char **rcpts;
	size_t nr;
};

static void
scanned_free(struct scanned *s)
{
	if (!s->valid)
		return;
	spam_verdict_free(&s->v);
	buf_free(&s->content);
	str_split_free(&s->rcpts);
	s->valid = 0;
}

/* Scanned messages waiting for their auto-learning while another writer
 * (most often another filter process learning) holds the store: learned
 * together in one transaction after the next message, or when the
 * store is found free by a retry every LEARN_IDLE_SECONDS, so no
 * process waits for the lock while it has mail to scan, and under load
 * the learning is batched instead of every process queueing for the
 * lock with its own message.  At LEARN_PENDING_MAX messages or
 * LEARN_PENDING_BYTES of content the learning after a message waits for
 * the lock (in the session, so master counts the process busy and
 * starts another for new mail).  The idle retry never waits: outside a
 * session master counts on this process to accept the next message.  On
 * a reload, and on SIGTERM (tempest stop), the process learns them
 * before it exits, waiting for the store (on a stop master kills it
 * after 4 seconds: what is not committed by then is lost, nothing is
 * half-written).  A retraining of the LR the learning calls for is done
 * after a message or at a reload, not by the retry or at a stop. */
#define LEARN_PENDING_MAX 64
#define LEARN_PENDING_BYTES (16u << 20)
#define LEARN_IDLE_SECONDS 1
static struct scanned pending[LEARN_PENDING_MAX];
static size_t npending;
static struct event *learn_timer;

static int
pending_full(void)
{
	size_t bytes = 0;

	for (size_t i = 0; i < npending; i++)
		bytes += pending[i].content.len;
	return npending == LEARN_PENDING_MAX || bytes >= LEARN_PENDING_BYTES;
}

enum { LEARN_TRY, LEARN_TRY_UNLESS_FULL, LEARN_WAIT, LEARN_STOP };

static void
learn_pending(int how)
{
	struct spam_verdict *v[LEARN_PENDING_MAX];
	const char *u[LEARN_PENDING_MAX];
	int wait = how == LEARN_WAIT || how == LEARN_STOP;
	size_t n;

	if (npending == 0)
		return;
	if (how == LEARN_TRY_UNLESS_FULL && pending_full())
		wait = 1;
	for (size_t i = 0; i < npending; i++) {
		v[i] = &pending[i].v;
		u[i] = pending[i].nr > 0 ? pending[i].rcpts[0] : NULL;
	}
	n = (size_t)spam_engine_autolearns(engine, v, u, npending, wait);
	for (size_t i = 0; i < n; i++)
		scanned_free(&pending[i]);
	memmove(pending, pending + n, (npending - n) * sizeof(pending[0]));
	npending -= n;
	/* a retraining it calls for (which may wait for the store) only
	 * where master counts this process busy or gone */
	if (how != LEARN_TRY && how != LEARN_STOP)
		spam_engine_train(engine);
	if (npending > 0) {
		struct timeval tv = { LEARN_IDLE_SECONDS, 0 };

		evtimer_add(learn_timer, &tv);
	} else
		evtimer_del(learn_timer);
}

/* Keep a scanned message for learn_pending() if it is to be learned. */
static void
learn_later(struct scanned *s)
{
	/* (never full here: a full queue was learned, waiting, after the
	 * message that filled it) */
	if (!s->valid || spam_verdict_learn_as_spam(&s->v) < 0 ||
	    npending == LEARN_PENDING_MAX) {
		scanned_free(s);
		return;
	}
	pending[npending++] = *s;
	s->valid = 0;
}

static void
on_learn_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	learn_pending(LEARN_TRY);
}

static void
on_drain(void *arg)
{
	(void)arg;
	learn_pending(LEARN_WAIT);
}

static void
on_stop(void *arg)
{
	size_t n = npending;

	(void)arg;
	learn_pending(LEARN_STOP);
	if (n > 0)
		log_info("filter: learned %zu held message(s) before stopping%s", n - npending,
		    npending ? " (the rest could not be)" : "");
}

/* A quarantine entry being made: the item and the message it points to. */
struct qentry {
	struct quarantine_item q;
	struct buf msg;
	char id[17];
};

/* The entry for rcpts: the message with the headers of verdict v (as it
 * stands now: decided for these recipients' levels) and an
 * X-Quarantine-Id. */
/* The lines of the request's envelope (filter_proto.h) for an entry to
 * rcpts: the FROM line and the TO lines of these recipients. */
static char *
envelope_for(const char *envelope, char **rcpts, size_t nr)
{
	struct buf b;
	const char *p = envelope, *nl;

	buf_init(&b, BUF_UNLIMITED);
	for (; *p != '\0'; p = nl + 1) {
		int keep = 0;
		size_t n;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		n = (size_t)(nl - p);
		if (str_prefix_ci(p, "FROM:<"))
			keep = 1;
		for (size_t i = 0; i < nr && !keep; i++) {
			size_t al = strlen(rcpts[i]);
			keep = n >= al + 5 && strncmp(p, "TO:<", 4) == 0 &&
			    memcmp(p + 4, rcpts[i], al) == 0 && p[4 + al] == '>';
		}
		if (keep)
			(void)buf_append(&b, p, n + 1);
	}
	{
		char *r = xstrdup(buf_cstr(&b));
		buf_free(&b);
		return r;
	}
}

static void
qentry_make(struct qentry *e, const struct spam_verdict *v, const struct buf *content,
    const char *sender, const char *envelope, char **rcpts, size_t nr,
    const struct buf *tests)
{
	const struct mime_header *subj = mime_header_get(&v->msg, "Subject");
	struct buf headers;

	quarantine_id(e->id);
	buf_init(&headers, 256 * 1024);
	(void)buf_printf(&headers, "X-Quarantine-Id: <%s>\n", e->id);
	spam_engine_headers(engine, v, &headers);
	/* (the subject tag can be added to many Subject: lines) */
	buf_init(&e->msg, BUF_UNLIMITED);
	spam_rewrite(engine, v, content->data ? content->data : "", content->len,
	    buf_cstr(&headers), &e->msg);
	buf_free(&headers);
	memset(&e->q, 0, sizeof(e->q));
	e->q.id = e->id;
	e->q.created = time(NULL);
	e->q.sender = (char *)sender;
	e->q.recipients = quarantine_recipients_join(rcpts, nr);
	e->q.envelope = envelope_for(envelope, rcpts, nr);
	/* (as a reader shows it: Tempest's own reading where SpamAssassin's
	 * rules read it otherwise) */
	e->q.subject = (char *)(subj != NULL ? mime_header_own(subj) : "");
	e->q.score = v->res.score;
	e->q.tests = (char *)buf_cstr(tests);
	e->q.message = e->msg.data ? e->msg.data : "";
	e->q.message_len = e->msg.len;
}

static void
qentry_free(struct qentry *e)
{
	free(e->q.recipients);
	e->q.recipients = NULL;
	free(e->q.envelope);
	e->q.envelope = NULL;
	buf_free(&e->msg);
}

struct qentries {
	struct qentry *e;
	size_t n;
};

/* store_transaction() body: every entry or (rolled back) none. */
static int
put_entries(struct store *st, void *arg)
{
	const struct qentries *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (store_quarantine_put(st, &a->e[i].q) < 0)
			return -1;
	return 0;
}

/* store_transaction() body: the entries taken back. */
static int
delete_entries(struct store *st, void *arg)
{
	const struct qentries *a = arg;

	for (size_t i = 0; i < a->n; i++)
		if (store_quarantine_delete(st, a->e[i].q.id) < 0)
			return -1;
	return 0;
}

/* Time left to store before smtpd's deadline (a commit waits for the
 * disk); a store that took longer than it is taken back. */
#define STORE_MARGIN_MS 500

/* Store n entries in one transaction, so that a failure leaves none of
 * them behind (the tempfail that follows makes the client send the
 * message again), durable before smtpd's 250.  Not after smtpd's
 * deadline (ms, filter_clock_ms(); 0 = none): smtpd has answered 451
 * by then and the client's retry would store the message again, so an
 * entry the store kept waiting past it is deleted.  0, or -1 logged. */
static int
quarantine_store(struct qentry *e, size_t n, const char *qid, long long deadline)
{
	struct qentries a = { e, n };

	if (deadline > 0 && filter_clock_ms() + STORE_MARGIN_MS >= deadline) {
		log_warn("%s: quarantine: not stored, too close to smtpd's timeout", qid);
		return -1;
	}
	if (engine->store == NULL || store_transaction_durable(engine->store,
	    put_entries, &a) < 0) {
		log_warn("%s: quarantine failed: %s", qid, engine->store ?
		    store_error(engine->store) : engine->store_error);
		return -1;
	}
	if (deadline > 0 && filter_clock_ms() >= deadline) {
		if (store_transaction(engine->store, delete_entries, &a) < 0)
			log_err("%s: quarantine: stored after smtpd's timeout and not "
			    "taken back: %s", qid, store_error(engine->store));
		else
			log_warn("%s: quarantine: stored after smtpd's timeout, taken back", qid);
		return -1;
	}
	return 0;
}

static const char *
action_name(int action)
{
	return action == FILTER_ACCEPT ? "accept" : action == FILTER_TAG ? "tag" :
	    action == FILTER_QUARANTINE ? "quarantine" : action == FILTER_REJECT ?
	    "reject" : "tempfail";
}

/* The reply's fields before its groups (filter_proto.h). */
static void
put_reply(struct ipc_msg *rep, int action, const char *headers, const char *tag,
    const char *reply, const char *score, const char *qid, int ngroups)
{
	ipc_put_int(rep, action);
	ipc_put_str(rep, headers);
	ipc_put_str(rep, tag);
	ipc_put_str(rep, reply);
	ipc_put_str(rep, score);
	ipc_put_str(rep, qid);
	ipc_put_int(rep, ngroups);
}

/* The size of put_reply()'s fields: the reply must fit in one ipc frame
 * (IPC_MAX), which is checked before anything is stored. */
static size_t
reply_size(const char *headers, const char *tag, const char *reply,
    const char *score, const char *qid)
{
	return 2 * IPC_INT_SIZE + ipc_str_size(headers) + ipc_str_size(tag) +
	    ipc_str_size(reply) + ipc_str_size(score) + ipc_str_size(qid);
}

/* A tempfail with this SMTP reply. */
static void
put_tempfail(struct ipc_msg *rep, const char *reply, const char *score)
{
	put_reply(rep, FILTER_TEMPFAIL, "", "", reply, score, "", 0);
}

/* What recipients with these levels get: accept, tag or quarantine (a
 * message accepted for others cannot be refused for some). */
static int
group_action(struct spam_verdict *v, const struct spam_levels *l)
{
	spam_engine_decide(engine, v, l);
	return v->action == SPAM_REJECT || v->action == SPAM_QUARANTINE ?
	    FILTER_QUARANTINE : v->action == SPAM_TAG ? FILTER_TAG : FILTER_ACCEPT;
}

/* The levels for the members of a treatment: those of each[i] with
 * key[i] == k (every i when key is NULL) that treat the message most
 * leniently (spam_levels_most_lenient()). */
static void
lenient(const struct spam_verdict *v, const struct spam_levels *each, size_t n,
    const int *key, int k, struct spam_levels *out)
{
	struct spam_levels *m = xcalloc(n ? n : 1, sizeof(*m));
	size_t nm = 0;

	for (size_t i = 0; i < n; i++)
		if (key == NULL || key[i] == k)
			m[nm++] = each[i];
	spam_levels_most_lenient(engine, v->res.score, m, nm, out);
	free(m);
}

/* spam_split_recipients: when the recipients' own levels (each[i] of
 * rcpts[i]) call for different treatment, one group per treatment
 * (action and spam flag), each decided with the most lenient levels of
 * its members; the reply is FILTER_SPLIT.  The quarantined groups are
 * stored together, all or none.  0 when no split is needed (nothing
 * written to rep, v to be decided by the caller), 1 done. */
static int
handle_split(struct spam_verdict *v, const struct buf *content, const char *qid,
    const char *sender, const char *envelope, const char *client, char **rcpts, size_t nr,
    const struct spam_levels *each, const struct buf *tests, const char *score,
    long long deadline, struct ipc_msg *rep)
{
	struct group {
		int key, action, is_spam;
		const char *tag;        /* subject tag of a copy to deliver */
		size_t n;
		struct buf headers, list;
		struct qentry *qe;      /* in qe[] when quarantined */
	} g[FILTER_MAX_GROUPS];
	int *key = xcalloc(nr, sizeof(*key));
	int ng = 0, failed, toobig;
	size_t nq = 0, need;
	char **members = xcalloc(nr + 1, sizeof(*members));
	struct qentry *qe;
	struct ipc_msg groups;  /* the group fields, appended to rep */

	for (size_t i = 0; i < nr; i++) {
		int k = group_action(v, &each[i]) * 2 + v->is_spam, j;
		for (j = 0; j < ng && g[j].key != k; j++)
			;
		if (j == ng && ng < FILTER_MAX_GROUPS)
			g[ng++].key = k;
		key[i] = k;
	}
	if (ng < 2) {
		free(key);
		free(members);
		return 0;
	}
	qe = xcalloc((size_t)ng, sizeof(*qe));
	for (int j = 0; j < ng; j++) {
		struct spam_levels l;
		size_t n = 0;

		for (size_t i = 0; i < nr; i++)
			if (key[i] == g[j].key)
				members[n++] = rcpts[i];
		members[n] = NULL;
		lenient(v, each, nr, key, g[j].key, &l);
		g[j].action = group_action(v, &l);
		g[j].is_spam = v->is_spam;
		g[j].n = n;
		g[j].qe = NULL;
		buf_init(&g[j].headers, 256 * 1024);
		buf_init(&g[j].list, BUF_UNLIMITED);
		for (size_t i = 0; i < n; i++)
			(void)buf_printf(&g[j].list, "%s%s", i ? "\n" : "", members[i]);
		if (g[j].action == FILTER_QUARANTINE) {
			g[j].qe = &qe[nq++];
			qentry_make(g[j].qe, v, content, sender, envelope, members, n, tests);
		} else {
			spam_engine_headers(engine, v, &g[j].headers);
		}
		g[j].tag = g[j].action != FILTER_QUARANTINE && g[j].is_spam ?
		    engine->subject_tag : "";
	}
	/* the whole reply must fit in its frame before anything is stored
	 * (the recipients are within FILTER_RCPTS_MAX; the headers could
	 * still make it too large) */
	need = reply_size("", "", "", score, "");
	for (int j = 0; j < ng; j++)
		need += IPC_INT_SIZE + ipc_str_size(buf_cstr(&g[j].headers)) +
		    ipc_str_size(g[j].tag) + ipc_str_size(g[j].qe != NULL ?
		    g[j].qe->id : "") + ipc_str_size(buf_cstr(&g[j].list));
	toobig = need > IPC_MAX;
	if (toobig)
		log_warn("%s: filter: the split reply would be too large (%zu bytes)",
		    qid, need);
	failed = toobig || (nq > 0 && quarantine_store(qe, nq, qid, deadline) < 0);
	ipc_msg_init(&groups, 0);
	if (failed)
		log_info("%s: filter: from=<%s> %s score=%s action=tempfail (split, "
		    "%d groups) tests=[%s]", qid, sender, client, score, ng, buf_cstr(tests));
	for (int j = 0; j < ng; j++) {
		const char *qidbuf = g[j].qe != NULL ? g[j].qe->id : "";
		if (!failed)
			log_info("%s: filter: from=<%s> %s score=%s action=%s%s%s for %zu "
			    "recipient(s) (split) tests=[%s]", qid, sender, client, score,
			    action_name(g[j].action), qidbuf[0] ? " quarantine_id=" : "",
			    qidbuf, g[j].n, buf_cstr(tests));
		if (!failed) {
			ipc_put_int(&groups, g[j].action == FILTER_QUARANTINE ?
			    FILTER_QUARANTINE : FILTER_TAG);
			ipc_put_str(&groups, buf_cstr(&g[j].headers));
			ipc_put_str(&groups, g[j].tag);
			ipc_put_str(&groups, qidbuf);
			ipc_put_str(&groups, buf_cstr(&g[j].list));
		}
		buf_free(&g[j].headers);
		buf_free(&g[j].list);
	}
	for (size_t i = 0; i < nq; i++)
		qentry_free(&qe[i]);
	free(qe);
	free(key);
	free(members);
	if (failed) {
		/* none of the groups is stored: the client's retry starts
		 * afresh */
		put_tempfail(rep, toobig ? "451 4.7.1 Error: content filter reply too large" :
		    "451 4.7.1 Error: quarantine not available", score);
	} else {
		put_reply(rep, FILTER_SPLIT, "", "", "", score, "", ng);
		(void)buf_append(&rep->body, groups.body.data, groups.body.len);
	}
	ipc_msg_free(&groups);
	return 1;
}

/* Handle one request; fills the reply message, and *sc for the
 * auto-learning after it. */
static void
handle(struct ipc_msg *req, struct ipc_msg *rep, struct scanned *sc)
{
	const char *qid, *sender, *rcpt_text, *client, *envelope;
	int64_t off, len, deadline;
	struct buf content, headers, tests;
	struct spam_verdict v;
	struct spam_levels levels, *each;
	char **rcpts = NULL, score[32], qidbuf[17] = "";
	size_t nr = 0;
	int action;
	char *reply = xstrdup("");

	ipc_msg_init(rep, FILTER_REPLY);
	if (ipc_get_str(req, &qid) < 0 || ipc_get_str(req, &sender) < 0 ||
	    ipc_get_str(req, &rcpt_text) < 0 || ipc_get_str(req, &client) < 0 ||
	    ipc_get_int(req, &off) < 0 || ipc_get_int(req, &len) < 0 ||
	    ipc_get_int(req, &deadline) < 0 || req->fd < 0 || off < 0 || len < 0 || len > max_message()) {
		log_warn("malformed filter request");
		put_tempfail(rep, "451 4.7.1 Error: malformed content filter request", "");
		free(reply);
		return;
	}
	/* the envelope's parameters: absent in a request of an earlier
	 * version */
	if (ipc_get_str(req, &envelope) < 0)
		envelope = "";
	if (deadline > 0 && filter_clock_ms() >= deadline) {
		/* waited in the listen queue until smtpd gave up */
		log_warn("%s: filter: request too late, smtpd has stopped waiting", qid);
		put_tempfail(rep, "451 4.7.1 Error: content filter timed out", "");
		free(reply);
		return;
	}
	buf_init(&content, (size_t)len + 1);
	if (read_content(req->fd, off, len, &content) < 0) {
		log_warn("%s: cannot read the queue file", qid);
		put_tempfail(rep, "451 4.7.1 Error: content filter cannot read the message", "");
		buf_free(&content);
		free(reply);
		return;
	}
	rcpts = str_split(rcpt_text, "\n", &nr);
	(void)spam_engine_store_retry(engine);
	spam_engine_check(engine, content.data ? content.data : "", content.len,
	    nr > 0 ? rcpts[0] : NULL, &v);
	/* each recipient's levels read once, for the split and the
	 * lenient combination */
	each = xcalloc(nr ? nr : 1, sizeof(*each));
	for (size_t i = 0; i < nr; i++)
		spam_engine_levels(engine, rcpts[i], &each[i]);
	lenient(&v, each, nr, NULL, 0, &levels);
	spam_engine_autolearn_decide(engine, &v);
	report_num(score, sizeof(score), v.res.score);
	buf_init(&headers, 256 * 1024);
	buf_init(&tests, 256 * 1024);
	tests_string(&v.res, &tests);
	if (nr > 1 && config_bool("spam_split_recipients") &&
	    handle_split(&v, &content, qid, sender, envelope, client, rcpts, nr, each, &tests,
	    score, deadline, rep))
		goto done;
	spam_engine_decide(engine, &v, &levels);
	action = v.action == SPAM_REJECT ? FILTER_REJECT :
	    v.action == SPAM_QUARANTINE ? FILTER_QUARANTINE :
	    v.action == SPAM_TAG ? FILTER_TAG : FILTER_ACCEPT;
	if (action == FILTER_QUARANTINE) {
		struct qentry e;
		qentry_make(&e, &v, &content, sender, envelope, rcpts, nr, &tests);
		free(reply);
		if (quarantine_store(&e, 1, qid, deadline) < 0) {
			action = FILTER_TEMPFAIL;
			reply = xstrdup("451 4.7.1 Error: quarantine not available");
		} else {
			memcpy(qidbuf, e.id, sizeof(qidbuf));
			reply = xasprintf("250 2.7.0 Ok: quarantined as %s", qidbuf);
		}
		qentry_free(&e);
	} else if (action == FILTER_REJECT) {
		free(reply);
		reply = xasprintf("550 5.7.1 Message content rejected as spam (score %s)", score);
	} else if (action == FILTER_TAG) {
		spam_engine_headers(engine, &v, &headers);
		if (reply_size(buf_cstr(&headers), v.is_spam ? engine->subject_tag : "",
		    reply, score, "") > IPC_MAX) {
			log_warn("%s: filter: the reply would be too large", qid);
			action = FILTER_TEMPFAIL;
			free(reply);
			reply = xstrdup("451 4.7.1 Error: content filter reply too large");
		}
	} else if (action == FILTER_ACCEPT) {
		/* below the tag level: still drop X-Spam-* headers that came
		 * with the message (a copy without them is written); the
		 * whole header block, not the analysis's first 500 */
		if (report_has_spam_header(content.data ? content.data : "", content.len))
			action = FILTER_TAG;
	}
	log_info("%s: filter: from=<%s> %s score=%s action=%s%s%s tests=[%s]", qid,
	    sender, client, score, action_name(action),
	    qidbuf[0] ? " quarantine_id=" : "", qidbuf, buf_cstr(&tests));
	put_reply(rep, action, action == FILTER_TAG ? buf_cstr(&headers) : "",
	    action == FILTER_TAG && v.is_spam ? engine->subject_tag : "", reply,
	    score, qidbuf, 0);
done:
	free(each);
	free(reply);
	buf_free(&headers);
	buf_free(&tests);
	/* kept for the auto-learning after the reply */
	sc->valid = 1;
	sc->content = content;
	sc->v = v;
	sc->rcpts = rcpts;
	sc->nr = nr;
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct timeval tv = { 30, 0 };

	(void)sa;
	(void)salen;
	(void)arg;
	/* one session at a time: plain blocking reads with timeouts */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (;;) {
		struct ipc_msg req, rep;
		int r;

		ipc_msg_init(&req, 0);
		r = ipc_recv(fd, &req);
		if (r != 1 || req.type != FILTER_REQ) {
			if (req.fd >= 0)
				close(req.fd);
			ipc_msg_free(&req);
			break;
		}
		struct scanned sc = { 0 };

		handle(&req, &rep, &sc);
		if (req.fd >= 0)
			close(req.fd);
		ipc_msg_free(&req);
		r = ipc_send(fd, &rep);
		ipc_msg_free(&rep);
		/* with smtpd answered: the auto-learning, of this message and
		 * those that found the store busy before, unless another
		 * writer holds it now (learn_pending), and a retraining after
		 * it */
		learn_later(&sc);
		learn_pending(LEARN_TRY_UNLESS_FULL);
		if (r < 0)
			break;
	}
	close(fd);
	service_session_end();
}

static void
on_wakeup(void *arg)
{
	int n;

	(void)arg;
	if (engine->store == NULL)
		return;
	n = store_quarantine_expire(engine->store,
	    time(NULL) - (time_t)config_time("spam_quarantine_max_age"));
	if (n > 0)
		log_info("quarantine: expired %d message(s)", n);
}

int
filter_main(int argc, char **argv)
{
	struct spam_engine_opts eo = { 0 };
	char *err = NULL;

	service_init(argc, argv, "filter");
	service_drop_privileges();
	engine = spam_engine_new(&eo, &err);
	if (engine == NULL)
		fatal("filter: %s", err);
	if (engine->store == NULL)
		log_warn("filter: store unavailable (%s): no Bayes, no quarantine",
		    engine->store_error);
	learn_timer = evtimer_new(io_base(), on_learn_timer, NULL);
	service_on_drain(on_drain, NULL);
	service_on_stop(on_stop, NULL);
	service_listen(on_accept, NULL, 1);
	service_wakeup(on_wakeup, NULL, 3600);
	return service_run();
}
