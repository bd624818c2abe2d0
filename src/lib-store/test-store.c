/* test-store.c - the store interface on the SQLite driver: Bayes
 * counts, seen messages, logistic-regression samples and weights,
 * quarantine and per-recipient thresholds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "test.h"

static int nlisted;
static char listed[256];
static void
list_user(const char *u, void *arg)
{
	(void)arg;
	snprintf(listed + strlen(listed), sizeof(listed) - strlen(listed), "[%s]", u);
}
static void
list_levels(const char *r, const struct spam_levels *l, void *arg)
{
	(void)arg;
	snprintf(listed + strlen(listed), sizeof(listed) - strlen(listed), "[%s %g %g %g %g]",
	    r, l->tag, l->spam, l->quarantine, l->reject);
}
static int nsamples, sample_ok;
static void
check_sample(const char *key, char kind, const void *feat, size_t len, void *arg)
{
	(void)arg;
	nsamples++;
	if (strcmp(key, "<m2@x>") == 0 && kind == 'h' && len == 4 &&
	    memcmp(feat, "\x01\x00\x80\x02", 4) == 0)
		sample_ok++;
}
/* the weights as store_lr_model_get() hands them over, put together */
struct pieces {
	unsigned char *data;
	size_t len, total;
	int calls, bad;
};
static void
piece(const void *p, size_t off, size_t n, size_t total, void *arg)
{
	struct pieces *g = arg;

	if (g->data == NULL)
		g->data = malloc(total);
	if (off != g->len || off + n > total || (g->total != 0 && g->total != total))
		g->bad = 1;
	else
		memcpy(g->data + off, p, n);
	g->len += n;
	g->total = total;
	g->calls++;
}
static int
add_ham_tx(struct store *st, void *arg)
{
	(void)arg;
	return store_bayes_add_totals(st, "bob", 0, 0) < 0 ? -1 : 7;
}
static void
count_item(const struct quarantine_item *q, void *arg)
{
	(void)arg;
	if (q->message == NULL && q->id[0] != '\0')
		nlisted++;
}

int
main(void)
{
	char path[] = "/tmp/tempest-store-XXXXXX";
	char *err = NULL;
	int fd = mkstemp(path);
	struct store *st;
	uint64_t toks[3] = { 1, 0xffffffffffffffffULL, 42 };
	struct bayes_counts c[3], tot;
	char kind;

	close(fd);
	/* TEMPEST_STORE_SPEC runs the same checks on another driver (the
	 * MariaDB test in tests/test_spam_mariadb.py sets it) */
	const char *spec = getenv("TEMPEST_STORE_SPEC");
	if (spec == NULL)
		spec = path;
	T_OK(store_open("nosuch:thing", &err) == NULL);
	T_OK(err != NULL && strstr(err, "unknown store type") != NULL);
	free(err);
	err = NULL;
	T_OK(store_open("/nonexistent-dir/x.db", &err) == NULL);
	free(err);
	err = NULL;
	st = store_open(spec, &err);
	T_OK(st != NULL);
	if (st == NULL) {
		fprintf(stderr, "%s\n", err);
		return t_done();
	}

	T_INTEQ(store_begin(st), 0);
	T_INTEQ(store_bayes_update(st, "", toks, 3, 1, 0), 0);
	T_INTEQ(store_bayes_update(st, "", toks, 2, 0, 2), 0);
	T_INTEQ(store_bayes_add_totals(st, "", 1, 2), 0);
	T_INTEQ(store_commit(st), 0);
	T_INTEQ(store_bayes_get(st, "", toks, 3, c), 0);
	T_INTEQ(c[0].spam, 1); T_INTEQ(c[0].ham, 2);
	T_INTEQ(c[1].spam, 1); T_INTEQ(c[1].ham, 2);
	T_INTEQ(c[2].spam, 1); T_INTEQ(c[2].ham, 0);
	T_INTEQ(store_bayes_totals(st, "", &tot), 0);
	T_INTEQ(tot.spam, 1); T_INTEQ(tot.ham, 2);
	/* per-user database is separate */
	T_INTEQ(store_bayes_get(st, "alice", toks, 3, c), 0);
	T_INTEQ(c[0].spam + c[0].ham, 0);
	T_INTEQ(store_bayes_ntokens(st, ""), 3);
	/* forget: counts go down, 0/0 tokens disappear, never negative */
	T_INTEQ(store_bayes_update(st, "", toks + 2, 1, -5, 0), 0);
	T_INTEQ(store_bayes_ntokens(st, ""), 2);
	T_INTEQ(store_bayes_add_totals(st, "", -3, 0), 0);
	T_INTEQ(store_bayes_totals(st, "", &tot), 0);
	T_INTEQ(tot.spam, 0);

	{
		/* expiry: the least recently learned tokens go first, the
		 * rarest among equally old ones; other users untouched */
		uint64_t old[5] = { 100, 101, 102, 103, 104 }, young[4] = { 200, 201, 202, 100 };
		uint64_t all[8] = { 100, 101, 102, 103, 104, 200, 201, 202 };
		struct bayes_counts e[8];
		int64_t before = store_bayes_ntokens(st, "");

		T_INTEQ(store_bayes_update(st, "exp", old, 5, 1, 0), 0);
		T_INTEQ(store_bayes_update(st, "exp", old + 4, 1, 1, 0), 0);
		sleep(1);               /* a later atime for the second batch */
		T_INTEQ(store_bayes_update(st, "exp", young, 4, 0, 1), 0);
		T_INTEQ(store_bayes_ntokens(st, "exp"), 8);
		T_INTEQ(store_bayes_expire(st, "exp", 0), 0);
		T_INTEQ(store_bayes_expire(st, "exp", 3), 3);
		T_INTEQ(store_bayes_ntokens(st, "exp"), 5);
		T_INTEQ(store_bayes_get(st, "exp", all, 8, e), 0);
		T_INTEQ(e[0].spam + e[0].ham, 2);       /* 100: learned again */
		T_INTEQ(e[1].spam + e[2].spam + e[3].spam, 0);
		T_INTEQ(e[4].spam, 2);                  /* 104: seen twice */
		T_INTEQ(e[5].ham + e[6].ham + e[7].ham, 3);
		T_INTEQ(store_bayes_expire(st, "exp", 100), 5);
		T_INTEQ(store_bayes_ntokens(st, "exp"), 0);
		T_INTEQ(store_bayes_ntokens(st, ""), before);
	}

	T_INTEQ(store_bayes_seen(st, "", "<m1@x>", &kind), 0);
	T_INTEQ(kind, 0);
	T_INTEQ(store_bayes_set_seen(st, "", "<m1@x>", 's'), 0);
	T_INTEQ(store_bayes_seen(st, "", "<m1@x>", &kind), 0);
	T_INTEQ(kind, 's');
	T_INTEQ(store_bayes_set_seen(st, "", "<m1@x>", 0), 0);
	T_INTEQ(store_bayes_seen(st, "", "<m1@x>", &kind), 0);
	T_INTEQ(kind, 0);
	/* the mark changed from what was read */
	T_INTEQ(store_bayes_move_seen(st, "", "<m2@x>", 0, 's'), 0);
	T_INTEQ(store_bayes_move_seen(st, "", "<m2@x>", 's', 'h'), 0);
	T_INTEQ(store_bayes_seen(st, "", "<m2@x>", &kind), 0);
	T_INTEQ(kind, 'h');
	if (strncmp(spec, "mysql:", 6) == 0) {
		/* read before another learner's change: a conflict */
		T_INTEQ(store_bayes_move_seen(st, "", "<m2@x>", 0, 's'), -1);
		T_OK(store_conflict(st));
		T_INTEQ(store_bayes_move_seen(st, "", "<m2@x>", 's', 'h'), -1);
		T_OK(store_conflict(st));
		/* another message's key of the same first 255 bytes (the
		 * index's prefix): replaced, as set_seen does, no conflict */
		char a[400], b[400];
		memset(a, 'x', 300);
		strcpy(a + 300, "/a");
		memcpy(b, a, 300);
		strcpy(b + 300, "/b");
		T_INTEQ(store_bayes_move_seen(st, "", a, 0, 's'), 0);
		T_INTEQ(store_bayes_move_seen(st, "", b, 0, 'h'), 0);
		T_INTEQ(store_bayes_seen(st, "", b, &kind), 0);
		T_INTEQ(kind, 'h');
		T_INTEQ(store_bayes_set_seen(st, "", b, 0), 0);
	}
	T_INTEQ(store_bayes_move_seen(st, "", "<m2@x>", 'h', 0), 0);
	T_INTEQ(store_bayes_seen(st, "", "<m2@x>", &kind), 0);
	T_INTEQ(kind, 0);

	{
		/* logistic-regression samples (binary blobs) and weights */
		struct lr_model_info inf;
		size_t big = (size_t)4 << 20;
		unsigned char *w = malloc(big);
		struct pieces got = { NULL, 0, 0, 0, 0 };

		for (size_t i = 0; i < big; i++)
			w[i] = (unsigned char)(i * 7 + (i >> 12));
		T_INTEQ(store_lr_model_info(st, "", &inf), 0);
		T_INTEQ(store_lr_model_get(st, "", &inf, piece, &got), 0);
		T_INTEQ(store_lr_sample_put(st, "", "<m1@x>", 's', "\x05", 1), 0);
		T_INTEQ(store_lr_sample_put(st, "", "<m2@x>", 's', "\x01\x00\x80\x02", 4), 0);
		T_INTEQ(store_lr_sample_put(st, "", "<m2@x>", 'h', "\x01\x00\x80\x02", 4), 0);
		T_INTEQ(store_lr_sample_put(st, "bob", "<m3@x>", 'h', "", 0), 0);
		nsamples = sample_ok = 0;
		T_INTEQ(store_lr_samples(st, "", check_sample, NULL), 0);
		T_INTEQ(nsamples, 2);
		T_INTEQ(sample_ok, 1);
		T_INTEQ(store_lr_model_info(st, "", &inf), 1);
		T_INTEQ(inf.gen, 0);
		T_INTEQ(inf.changes, 3);
		T_INTEQ(store_lr_model_get(st, "", &inf, piece, &got), 0);  /* no weights yet */
		T_INTEQ(store_lr_sample_delete(st, "", "<m1@x>"), 1);
		T_INTEQ(store_lr_sample_delete(st, "", "<m1@x>"), 0);
		/* 4 changes; a training that read 3 of them leaves 1, one
		 * that read more than there are leaves 0 */
		T_INTEQ(store_lr_model_put(st, "", 1, 1, 3, w, big), 0);
		T_INTEQ(store_lr_model_info(st, "", &inf), 1);
		T_INTEQ(inf.changes, 1);
		T_INTEQ(store_lr_model_put(st, "", 0, 1, 5, w, big), 0);
		T_INTEQ(store_lr_model_get(st, "", &inf, piece, &got), 1);
		T_INTEQ(inf.gen, 2);
		T_INTEQ(inf.nspam, 0);
		T_INTEQ(inf.nham, 1);
		T_INTEQ(inf.changes, 0);
		/* in order, no gap, the whole of it */
		T_OK(!got.bad && got.len == big && got.total == big);
		T_OK(got.calls >= 1);
		T_OK(got.data != NULL && memcmp(got.data, w, big) == 0);
		free(got.data);
		T_INTEQ(store_lr_model_info(st, "bob", &inf), 1);
		T_INTEQ(inf.changes, 1);
		/* trimming keeps the most recently stored samples (a replaced
		 * one counts as new), of that user only */
		T_INTEQ(store_lr_sample_put(st, "", "<m4@x>", 's', "\x07", 1), 0);
		T_INTEQ(store_lr_sample_put(st, "", "<m5@x>", 'h', "\x08", 1), 0);
		T_INTEQ(store_lr_sample_put(st, "", "<m2@x>", 'h', "\x01\x00\x80\x02", 4), 0);
		T_INTEQ(store_lr_samples_trim(st, "", 5), 0);
		T_INTEQ(store_lr_samples_trim(st, "", 2), 1);     /* <m4@x> goes */
		nsamples = sample_ok = 0;
		T_INTEQ(store_lr_samples(st, "", check_sample, NULL), 0);
		T_INTEQ(nsamples, 2);
		T_INTEQ(sample_ok, 1);
		T_INTEQ(store_lr_sample_delete(st, "", "<m4@x>"), 0);
		T_INTEQ(store_lr_samples_trim(st, "", 0), 2);
		nsamples = 0;
		T_INTEQ(store_lr_samples(st, "bob", check_sample, NULL), 0);
		T_INTEQ(nsamples, 1);
		free(w);
	}
	{
		/* the claim on a training: per user, replaced, removed */
		int64_t until = -1;

		T_INTEQ(store_begin(st), 0);
		T_INTEQ(store_lr_claim_get(st, "", &until), 0);
		T_INTEQ(until, 0);
		T_INTEQ(store_lr_claim_put(st, "", 1700000300), 0);
		T_INTEQ(store_lr_claim_put(st, "bob", 1700000100), 0);
		T_INTEQ(store_lr_claim_get(st, "", &until), 1);
		T_OK(until == 1700000300);
		T_INTEQ(store_lr_claim_put(st, "", 1700000900), 0);
		T_INTEQ(store_lr_claim_get(st, "", &until), 1);
		T_OK(until == 1700000900);
		T_INTEQ(store_lr_claim_put(st, "", 0), 0);
		T_INTEQ(store_lr_claim_get(st, "", &until), 0);
		T_INTEQ(store_lr_claim_get(st, "bob", &until), 1);
		T_OK(until == 1700000100);
		T_INTEQ(store_lr_claim_put(st, "bob", 0), 0);
		T_INTEQ(store_commit(st), 0);
	}
	{
		struct quarantine_item q = { 0 }, g;
		q.id = "q1"; q.created = 1000; q.sender = "s@x"; q.recipients = "a@y,b@y";
		q.subject = "hi"; q.score = 21.5; q.tests = "A=1"; q.message = "M\0X";
		q.message_len = 3;
		T_INTEQ(store_quarantine_put(st, &q), 0);
		/* q2 with the envelope's parameters (q1 without: NULL) */
		q.id = "q2"; q.created = 2000;
		q.envelope = "FROM:<s@x> RET=HDRS\nTO:<a@y> NOTIFY=NEVER\n";
		T_INTEQ(store_quarantine_put(st, &q), 0);
		T_INTEQ(store_quarantine_put(st, &q), -1);      /* duplicate id */
		T_OK(strstr(store_error(st), "UNIQUE") != NULL ||
		    strstr(store_error(st), "Duplicate") != NULL);
		T_INTEQ(store_quarantine_list(st, count_item, NULL), 0);
		T_INTEQ(nlisted, 2);
		T_INTEQ(store_quarantine_get(st, "q1", &g), 1);
		T_STREQ(g.recipients, "a@y,b@y");
		T_INTEQ(g.message_len, 3);
		T_OK(memcmp(g.message, "M\0X", 3) == 0);
		T_OK(g.score == 21.5);
		T_STREQ(g.envelope, "");
		quarantine_item_free(&g);
		T_INTEQ(store_quarantine_get(st, "q2", &g), 1);
		T_STREQ(g.envelope, "FROM:<s@x> RET=HDRS\nTO:<a@y> NOTIFY=NEVER\n");
		quarantine_item_free(&g);
		T_INTEQ(store_quarantine_get(st, "nope", &g), 0);
		T_INTEQ(store_quarantine_expire(st, 1500), 1);
		T_INTEQ(store_quarantine_delete(st, "q1"), 0);
		T_INTEQ(store_quarantine_delete(st, "q2"), 1);
	}
	{
		struct spam_levels l = { 1, 5, 10, 20 }, g;
		T_INTEQ(store_levels_get(st, "a@y", &g), 0);
		T_INTEQ(store_levels_set(st, "a@y", &l), 0);
		T_INTEQ(store_levels_get(st, "a@y", &g), 1);
		T_OK(g.spam == 5 && g.reject == 20);
		struct spam_levels l2 = { -999, 6.25, 20, 999 };
		T_INTEQ(store_levels_set(st, "b@y", &l2), 0);
		listed[0] = '\0';
		T_INTEQ(store_levels_list(st, list_levels, NULL), 0);
		T_STREQ(listed, "[a@y 1 5 10 20][b@y -999 6.25 20 999]");
		T_INTEQ(store_levels_delete(st, "a@y"), 0);
		T_INTEQ(store_levels_delete(st, "b@y"), 0);
		T_INTEQ(store_levels_get(st, "a@y", &g), 0);
		listed[0] = '\0';
		T_INTEQ(store_levels_list(st, list_levels, NULL), 0);
		T_STREQ(listed, "");
	}
	{
		/* a write transaction without waiting: on SQLite, busy
		 * (nothing begun) while another handle writes, at once; on
		 * MariaDB, whose writers lock rows, begun */
		struct store *b = store_open(spec, &err);
		int sqlite = store_sqlite_path(spec) != NULL;

		T_OK(b != NULL);
		if (b != NULL) {
			time_t t0 = time(NULL);

			T_INTEQ(store_begin(st), 0);
			T_INTEQ(store_begin_try(b), sqlite ? 1 : 0);
			T_OK(time(NULL) - t0 < 2);
			T_INTEQ(store_in_transaction(b), !sqlite);
			if (!sqlite)
				T_INTEQ(store_rollback(b), 0);
			/* the same as a transaction: -1 and a conflict, once */
			if (sqlite) {
				T_INTEQ(store_transaction_try(b, add_ham_tx, NULL), -1);
				T_OK(store_conflict(b));
				T_INTEQ(store_in_transaction(b), 0);
			}
			T_INTEQ(store_commit(st), 0);
			T_INTEQ(store_transaction_try(b, add_ham_tx, NULL), 7);
			T_INTEQ(store_begin_try(b), 0);
			T_INTEQ(store_bayes_add_totals(b, "bob", 0, 0), 0);
			T_INTEQ(store_commit(b), 0);
			/* and the handle waits for writers again afterwards */
			T_INTEQ(store_begin(st), 0);
			T_INTEQ(store_commit(st), 0);
			store_close(&b);
		}
	}

	/* users with a model: Bayes totals ("" and "bob" learned above)
	 * or LR samples ("bob") */
	listed[0] = '\0';
	T_INTEQ(store_bayes_users(st, list_user, NULL), 0);
	T_STREQ(listed, "[][bob]");

	{
		/* the token cache (token_cache.h): hits after the first
		 * lookup; another handle's learning is seen (the totals
		 * moved), and so are this handle's writes, and not what a
		 * rollback undid */
		struct store *b = store_open(spec, &err);
		uint64_t ct[2] = { 7001, 7002 }, h0, l0, h1, l1;
		struct bayes_counts cc[2], ctot;

		T_OK(b != NULL);
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam + cc[1].spam, 0);
		store_bayes_cache_stats(st, &h0, &l0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		store_bayes_cache_stats(st, &h1, &l1);
		T_INTEQ(h1 - h0, 2);
		T_INTEQ(l1 - l0, 2);
		if (b != NULL) {
			T_INTEQ(store_begin(b), 0);
			T_INTEQ(store_bayes_update(b, "tc", ct, 2, 1, 0), 0);
			T_INTEQ(store_bayes_add_totals(b, "tc", 1, 0), 0);
			T_INTEQ(store_commit(b), 0);
			store_close(&b);
		}
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(ctot.spam, 1);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam, 1);
		T_INTEQ(cc[1].spam, 1);
		/* this handle's own learning of one token */
		T_INTEQ(store_bayes_update(st, "tc", ct, 1, 1, 0), 0);
		T_INTEQ(store_bayes_add_totals(st, "tc", 1, 0), 0);
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(ctot.spam, 2);
		store_bayes_cache_stats(st, &h0, &l0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		store_bayes_cache_stats(st, &h1, &l1);
		T_INTEQ(cc[0].spam, 2);
		T_INTEQ(cc[1].spam, 1);
		T_INTEQ(h1 - h0, 1);    /* the other one stayed cached */
		/* a write rolled back, totals unchanged */
		T_INTEQ(store_begin(st), 0);
		T_INTEQ(store_bayes_update(st, "tc", ct, 2, 5, 0), 0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam, 7);
		T_INTEQ(store_rollback(st), 0);
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam, 2);
		T_INTEQ(cc[1].spam, 1);
		/* another user is not served from this user's cache */
		T_INTEQ(store_bayes_get(st, "tc2", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam + cc[1].spam, 0);
		/* another handle's writes that leave the totals as they were
		 * (a message learned, another of the same class forgotten;
		 * an expiry) are seen at the next classification: the token
		 * generation moved */
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		b = store_open(spec, &err);
		T_OK(b != NULL);
		if (b != NULL) {
			T_INTEQ(store_begin(b), 0);
			T_INTEQ(store_bayes_update(b, "tc", ct + 1, 1, 1, 0), 0);
			T_INTEQ(store_bayes_add_totals(b, "tc", 1, 0), 0);
			T_INTEQ(store_bayes_update(b, "tc", ct, 1, -1, 0), 0);
			T_INTEQ(store_bayes_add_totals(b, "tc", -1, 0), 0);
			T_INTEQ(store_commit(b), 0);
		}
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(ctot.spam, 2);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ(cc[0].spam, 1);
		T_INTEQ(cc[1].spam, 2);
		if (b != NULL) {
			T_INTEQ(store_bayes_expire(b, "tc", 1), 1);
			store_close(&b);
		}
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(ctot.spam, 2);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		T_INTEQ((cc[0].spam == 0) + (cc[1].spam == 0), 1);
		/* and nothing changed: served from the cache */
		store_bayes_cache_stats(st, &h0, &l0);
		T_INTEQ(store_bayes_totals(st, "tc", &ctot), 0);
		T_INTEQ(store_bayes_get(st, "tc", ct, 2, cc), 0);
		store_bayes_cache_stats(st, &h1, &l1);
		T_INTEQ(h1 - h0, 2);
	}
	store_close(&st);
	T_OK(st == NULL);
	unlink(path);
	{
		char *w = NULL;
		if (asprintf(&w, "%s-wal", path) > 0) { unlink(w); free(w); }
		if (asprintf(&w, "%s-shm", path) > 0) { unlink(w); free(w); }
	}
	return t_done();
}
