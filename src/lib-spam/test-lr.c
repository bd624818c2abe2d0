/* test-lr.c - the logistic regression: features, blob encodings,
 * training (order independence, separation), and learn / retrain /
 * classify / forget over a SQLite store. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bayes.h"
#include "lr.h"
#include "mem.h"
#include "mime.h"
#include "store.h"
#include "test.h"
#include "test-spam-msgs.h"

static void
features_of(const char *msg, uint32_t **x, size_t *n)
{
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	lr_features(&m, NULL, 0, x, n);
	mime_free(&m);
}

static int
same(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static void
test_features(void)
{
	const char *plain = "From: a@example.org\nSubject: hello there\n\nbody text here\n";
	const char *tagged = "X-Spam-Status: Yes, hits=9 tests=[A=1]\n\tcontinued\n"
	    "From: a@example.org\nX-Spam-Flag: YES\nSubject: hello there\n\nbody text here\n";
	const char *mbox = "From a@example.org Thu Jan  1 00:00:00 2026\n"
	    "From: a@example.org\nSubject: hello there\n\nbody text here\n";
	const char *other = "From: b@example.net\nSubject: cheap pills\n\nbuy now\n";
	uint32_t *a, *b, *c, *d, *t;
	size_t na, nb, nc, nd, nt;
	uint64_t tok[2] = { 12345, 0xfedcba9876543210ULL };
	struct mime_msg m;

	features_of(plain, &a, &na);
	features_of(tagged, &b, &nb);
	features_of(mbox, &c, &nc);
	features_of(other, &d, &nd);
	/* sorted, unique, in range, about one per byte 4-gram */
	T_OK(na > 20 && na <= strlen(plain) - 3);
	for (size_t i = 1; i < na; i++)
		T_OK(a[i - 1] < a[i]);
	T_OK(a[na - 1] < LR_NWEIGHTS);
	/* our own X-Spam-* lines and an mbox From line are not features */
	T_OK(same(a, na, b, nb));
	T_OK(same(a, na, c, nc));
	T_OK(!same(a, na, d, nd));
	/* tokens add features */
	mime_parse(&m, plain, strlen(plain), NULL);
	lr_features(&m, tok, 2, &t, &nt);
	mime_free(&m);
	T_OK(nt >= na + 1 && nt <= na + 2);
	free(a); free(b); free(c); free(d); free(t);

	/* only the head: bytes after LR_HEAD_BYTES change nothing */
	{
		struct buf x, y;
		buf_init(&x, BUF_UNLIMITED);
		(void)buf_appends(&x, "From: a@example.org\nSubject: long\n\n");
		while (x.len < LR_HEAD_BYTES + 100)
			(void)buf_appends(&x, "lorem ipsum dolor sit amet ");
		buf_init(&y, BUF_UNLIMITED);
		(void)buf_append(&y, x.data, x.len);
		(void)buf_appends(&x, "and the first tail\n");
		(void)buf_appends(&y, "another, quite different tail of text\n");
		features_of(x.data, &a, &na);
		features_of(y.data, &b, &nb);
		T_OK(same(a, na, b, nb));
		free(a); free(b);
		buf_free(&x);
		buf_free(&y);
	}
	/* an empty message has no byte features */
	features_of("", &a, &na);
	T_INTEQ(na, 0);
	free(a);
}

static void
test_encodings(void)
{
	uint32_t x[] = { 0, 1, 127, 128, 300, 16384, LR_NWEIGHTS - 1 }, *y;
	size_t n = sizeof(x) / sizeof(*x), ny;
	struct buf b;
	float *w = xcalloc(LR_NWEIGHTS, sizeof(*w)), *w2 = xcalloc(LR_NWEIGHTS, sizeof(*w2));

	buf_init(&b, BUF_UNLIMITED);
	lr_sample_encode(x, n, &b);
	T_INTEQ(lr_sample_decode(b.data, b.len, &y, &ny), 0);
	T_OK(same(x, n, y, ny));
	free(y);
	/* truncated varint, out of range, not increasing, over-long varint */
	T_INTEQ(lr_sample_decode("\x81", 1, &y, &ny), -1);
	T_INTEQ(lr_sample_decode("\xff\xff\x7f", 3, &y, &ny), -1);
	T_INTEQ(lr_sample_decode("\x05\x00", 2, &y, &ny), -1);
	T_INTEQ(lr_sample_decode("\x80\x80\x80\x80\x01", 5, &y, &ny), -1);
	T_OK(y == NULL && ny == 0);
	T_INTEQ(lr_sample_decode("", 0, &y, &ny), 0);
	T_INTEQ(ny, 0);
	free(y);
	buf_free(&b);

	w[0] = 1.5f; w[7] = -0.25f; w[LR_NWEIGHTS - 1] = 3e-7f;
	buf_init(&b, BUF_UNLIMITED);
	lr_weights_encode(w, &b);
	T_INTEQ(b.len, (size_t)LR_NWEIGHTS * 4);
	T_OK((unsigned char)b.data[0] == 0x00 && (unsigned char)b.data[3] == 0x3f); /* 1.5f LE */
	T_INTEQ(lr_weights_decode(b.data, 0, b.len, w2), 0);
	T_OK(memcmp(w, w2, (size_t)LR_NWEIGHTS * sizeof(*w)) == 0);
	/* in pieces, the last one first: the same weights */
	memset(w2, 0, (size_t)LR_NWEIGHTS * sizeof(*w2));
	T_INTEQ(lr_weights_decode(b.data + 32768, 32768, b.len - 32768, w2), 0);
	T_INTEQ(lr_weights_decode(b.data, 0, 32768, w2), 0);
	T_OK(memcmp(w, w2, (size_t)LR_NWEIGHTS * sizeof(*w)) == 0);
	/* a piece out of step with the floats, or reaching past the end */
	T_INTEQ(lr_weights_decode(b.data, 2, 4, w2), -1);
	T_INTEQ(lr_weights_decode(b.data, 0, 6, w2), -1);
	T_INTEQ(lr_weights_decode(b.data, 4, b.len, w2), -1);
	T_INTEQ(lr_weights_decode(b.data, b.len + 4, 0, w2), -1);
	T_INTEQ(lr_weights_decode(b.data, b.len, 0, w2), 0);
	memcpy(b.data + 8, "\x00\x00\xc0\x7f", 4);      /* a NaN */
	T_INTEQ(lr_weights_decode(b.data, 0, b.len, w2), -1);
	buf_free(&b);
	free(w);
	free(w2);
}

/* synthetic samples: spam features in [0, 1000), ham in [1000, 2000),
 * shared ones in [5000, 5100) */
static void
make_samples(struct lr_sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int spam = i % 3 == 0;
		s[i].n = 40;
		s[i].x = xcalloc(40, sizeof(uint32_t));
		for (size_t k = 0; k < 20; k++)
			s[i].x[k] = (uint32_t)((spam ? 0 : 1000) + (i * 7 + k * 13) % 1000);
		for (size_t k = 20; k < 40; k++)
			s[i].x[k] = (uint32_t)(5000 + (i + k * 3) % 100);
		s[i].spam = spam;
		s[i].order = bayes_hash(&i, sizeof(i), BAYES_HASH_INIT);
	}
}

static void
test_train(void)
{
	enum { N = 90 };
	struct lr_sample a[N], b[N];
	float *w1 = xmalloc((size_t)LR_NWEIGHTS * sizeof(float));
	float *w2 = xmalloc((size_t)LR_NWEIGHTS * sizeof(float));
	uint32_t hm[] = { 1003, 1010, 1017, 5010, 5020 };

	make_samples(a, N);
	/* the same samples in reverse order: the same weights (the training
	 * order is the order key, not the order of learning) */
	for (size_t i = 0; i < N; i++)
		b[i] = a[N - 1 - i];
	lr_train(w1, a, N);
	lr_train(w2, b, N);
	T_OK(memcmp(w1, w2, (size_t)LR_NWEIGHTS * sizeof(float)) == 0);
	/* the learned samples are separated */
	for (size_t i = 0; i < N; i++)
		T_OK(a[i].spam ? lr_predict(w1, a[i].x, a[i].n) > 0.6 :
		    lr_predict(w1, a[i].x, a[i].n) < 0.4);
	T_OK(fabs(lr_predict(w1, NULL, 0) - 0.5) < 1e-9);
	/* a step moves the prediction towards its label */
	{
		double p0 = lr_predict(w1, hm, 5);
		lr_step(w1, hm, 5, 1, 0.5);
		T_OK(lr_predict(w1, hm, 5) > p0);
	}
	for (size_t i = 0; i < N; i++)
		free(a[i].x);
	free(w1);
	free(w2);
}


static double
classify(struct store *st, struct lr_cache *c, int spam, int i, long min)
{
	char *msg = make_msg(spam, i);
	struct mime_msg m;
	uint64_t *tok;
	uint32_t *x;
	size_t nt, nx;
	const char *err = NULL;
	double p;

	mime_parse(&m, msg, strlen(msg), NULL);
	bayes_tokenize(&m, &tok, &nt);
	lr_features(&m, tok, nt, &x, &nx);
	p = lr_classify(st, c, "", x, nx, min, min, &err);
	free(x);
	free(tok);
	mime_free(&m);
	free(msg);
	return p;
}

static void
learn_range(struct store *st, int spam, int from, int to, int forget, int expect)
{
	for (int i = from; i < to; i++) {
		char *msg = make_msg(spam, i);
		struct mime_msg m;
		mime_parse(&m, msg, strlen(msg), NULL);
		T_INTEQ(bayes_learn(st, "", &m, spam, forget), expect);
		mime_free(&m);
		free(msg);
	}
}

static int nsamples;
static void
count_sample(const char *key, char kind, const void *f, size_t len, void *arg)
{
	(void)key; (void)f; (void)len; (void)arg;
	if (kind == 's' || kind == 'h')
		nsamples++;
}

static void
test_store(void)
{
	char path[] = "/tmp/tempest-lr-XXXXXX";
	int fd = mkstemp(path);
	char *err = NULL;
	struct store *st;
	struct lr_cache c = { 0 };
	struct lr_model_info inf;

	close(fd);
	st = store_open(path, &err);
	T_OK(st != NULL);
	if (st == NULL)
		return;
	/* nothing learned: no model */
	T_OK(classify(st, &c, 1, 0, 1) == -1);
	learn_range(st, 1, 0, 20, 0, BAYES_LEARNED);
	learn_range(st, 0, 0, 20, 0, BAYES_LEARNED);
	nsamples = 0;
	T_INTEQ(store_lr_samples(st, "", count_sample, NULL), 0);
	T_INTEQ(nsamples, 40);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.gen, 0);
	T_INTEQ(inf.changes, 40);
	/* samples, but no weights yet */
	T_OK(classify(st, &c, 1, 0, 1) == -1);
	T_INTEQ(lr_retrain(st, "", 0), 1);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.gen, 1);
	T_INTEQ(inf.nspam, 20);
	T_INTEQ(inf.nham, 20);
	T_INTEQ(inf.changes, 0);
	T_INTEQ(lr_retrain(st, "", 0), 0);          /* nothing changed */
	/* unseen messages of each kind */
	T_OK(classify(st, &c, 1, 25, 1) > 0.9);
	T_OK(classify(st, &c, 0, 25, 1) < 0.1);
	/* too few learned for the minimum: not used */
	T_OK(classify(st, &c, 1, 25, 21) == -1);
	/* learning the same message again keeps one sample and changes
	 * nothing: no change counted, so no training, not even a forced
	 * one (it counted a change, and `tempest learn` retrained) */
	learn_range(st, 1, 0, 1, 0, BAYES_ALREADY);
	nsamples = 0;
	(void)store_lr_samples(st, "", count_sample, NULL);
	T_INTEQ(nsamples, 40);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.changes, 0);
	T_INTEQ(lr_retrain(st, "", 1), 0);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.gen, 1);
	/* ... unless its sample is missing (learned before the LR) */
	{
		char *msg = make_msg(1, 0), *key, kind;
		struct mime_msg m;
		mime_parse(&m, msg, strlen(msg), NULL);
		key = bayes_msgkey(&m);
		T_INTEQ(store_begin(st), 0);
		T_INTEQ(store_lr_sample_delete(st, "", key), 1);
		T_INTEQ(store_commit(st), 0);
		T_INTEQ(bayes_learn(st, "", &m, 1, 0), BAYES_ALREADY);
		T_INTEQ(store_lr_sample_kind(st, "", key, &kind), 0);
		T_INTEQ(kind, 's');
		/* relearned as ham and back: its one sample changes class */
		T_INTEQ(bayes_learn(st, "", &m, 0, 0), BAYES_RELEARNED);
		nsamples = 0;
		(void)store_lr_samples(st, "", count_sample, NULL);
		T_INTEQ(nsamples, 40);
		T_INTEQ(store_lr_sample_kind(st, "", key, &kind), 0);
		T_INTEQ(kind, 'h');
		T_INTEQ(bayes_learn(st, "", &m, 1, 0), BAYES_RELEARNED);
		T_INTEQ(store_lr_sample_kind(st, "", key, &kind), 0);
		T_INTEQ(kind, 's');
		mime_free(&m);
		free(key);
		free(msg);
	}
	T_INTEQ(lr_retrain(st, "", 1), 1);
	/* one change of 40: below 1/LR_RETRAIN_DIV, no training; two: yes */
	learn_range(st, 0, 30, 31, 0, BAYES_LEARNED);
	T_INTEQ(lr_retrain(st, "", 0), 0);
	learn_range(st, 0, 31, 32, 0, BAYES_LEARNED);
	T_INTEQ(lr_retrain(st, "", 0), 1);
	learn_range(st, 0, 30, 32, 1, BAYES_FORGOTTEN);
	/* forget all the spam: after training, no spam sample is left and
	 * the model is not used */
	learn_range(st, 1, 1, 20, 1, BAYES_FORGOTTEN);
	learn_range(st, 1, 0, 1, 1, BAYES_FORGOTTEN);
	T_INTEQ(lr_retrain(st, "", 1), 1);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.nspam, 0);
	T_INTEQ(inf.nham, 20);
	T_OK(classify(st, &c, 1, 25, 0) == -1);
	/* the cache follows the store's generation */
	T_INTEQ(c.gen, inf.gen);
	lr_cache_free(&c);
	store_close(&st);
	unlink(path);
	{
		char *w = NULL;
		if (asprintf(&w, "%s-wal", path) > 0) { unlink(w); free(w); }
		if (asprintf(&w, "%s-shm", path) > 0) { unlink(w); free(w); }
	}
}

/* The training in three steps: no lock held while the weights are
 * computed, samples learned meanwhile stay counted, a training stored
 * by another process in between wins. */
static void
test_training_steps(void)
{
	char path[] = "/tmp/tempest-lr-XXXXXX";
	int fd = mkstemp(path);
	char *err = NULL;
	struct store *st, *other;
	struct lr_model_info inf;
	struct lr_training t, t2;

	close(fd);
	st = store_open(path, &err);
	other = st ? store_open(path, &err) : NULL;
	T_OK(other != NULL);
	if (other == NULL) {
		store_close(&st);
		unlink(path);
		return;
	}
	T_INTEQ(lr_training_read(st, "", 0, &t), 0);        /* nothing learned */
	lr_training_free(&t);
	learn_range(st, 1, 0, 20, 0, BAYES_LEARNED);
	learn_range(st, 0, 0, 20, 0, BAYES_LEARNED);
	T_INTEQ(lr_training_read(st, "", 0, &t), 1);
	T_INTEQ(t.n, 40);
	T_INTEQ(t.changes, 40);
	T_INTEQ(t.gen, 0);
	T_OK(!store_in_transaction(st));
	/* the read left no transaction open: another connection learns
	 * (one write transaction each) while this one trains */
	learn_range(other, 0, 30, 31, 0, BAYES_LEARNED);
	lr_training_run(&t);
	T_INTEQ(t.n, 0);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(lr_training_write(st, "", &t), 1);
	T_INTEQ(store_commit(st), 0);
	lr_training_free(&t);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.gen, 1);
	T_INTEQ(inf.nspam, 20);
	T_INTEQ(inf.nham, 20);
	T_INTEQ(inf.changes, 1);        /* the one learned meanwhile */
	/* 1 of 40 changed: not due (1/LR_RETRAIN_DIV is 2) */
	T_INTEQ(lr_training_read(st, "", 0, &t), 0);
	lr_training_free(&t);
	/* another process stores a training between this one's read and
	 * write: its weights stay */
	T_INTEQ(lr_training_read(st, "", 1, &t2), 1);
	T_INTEQ(t2.gen, 1);
	T_INTEQ(store_begin(other), 0);
	T_INTEQ(lr_retrain(other, "", 1), 1);
	T_INTEQ(store_commit(other), 0);
	lr_training_run(&t2);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(lr_training_write(st, "", &t2), 0);
	T_INTEQ(store_commit(st), 0);
	lr_training_free(&t2);
	T_INTEQ(store_lr_model_info(st, "", &inf), 1);
	T_INTEQ(inf.gen, 2);
	T_INTEQ(inf.nham, 21);
	T_INTEQ(inf.changes, 0);

	/* two processes find the same training due: the first to read it
	 * claims it, the other does not compute it too */
	learn_range(st, 0, 40, 45, 0, BAYES_LEARNED);
	T_INTEQ(lr_training_read(st, "", 0, &t), 1);
	T_INTEQ(lr_training_read(other, "", 0, &t2), 0);
	lr_training_free(&t2);
	lr_training_run(&t);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(lr_training_write(st, "", &t), 1);
	T_INTEQ(store_commit(st), 0);
	lr_training_free(&t);
	/* written: the claim is gone, the next due training is anyone's */
	learn_range(st, 0, 50, 55, 0, BAYES_LEARNED);
	T_INTEQ(lr_training_read(other, "", 0, &t2), 1);
	lr_training_free(&t2);
	/* a claimer that died: its claim holds until it expires ... */
	T_INTEQ(lr_training_read(st, "", 0, &t), 0);
	lr_training_free(&t);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(store_lr_claim_put(st, "", (int64_t)time(NULL) - 1), 0);
	T_INTEQ(store_commit(st), 0);
	/* ... and one dated too far ahead (a clock set back) is ignored */
	T_INTEQ(lr_training_read(st, "", 0, &t), 1);
	lr_training_free(&t);
	T_INTEQ(store_begin(st), 0);
	T_INTEQ(store_lr_claim_put(st, "", (int64_t)time(NULL) + 10 * LR_CLAIM_SECONDS), 0);
	T_INTEQ(store_commit(st), 0);
	T_INTEQ(lr_training_read(other, "", 0, &t2), 1);
	lr_training_free(&t2);
	/* a forced training (tempest learn) does not wait for a claim */
	T_INTEQ(lr_training_read(st, "", 1, &t), 1);
	lr_training_free(&t);
	store_close(&other);
	store_close(&st);
	unlink(path);
	{
		char *w = NULL;
		if (asprintf(&w, "%s-wal", path) > 0) { unlink(w); free(w); }
		if (asprintf(&w, "%s-shm", path) > 0) { unlink(w); free(w); }
	}
}

int
main(void)
{
	T_RUN(test_features);
	T_RUN(test_encodings);
	T_RUN(test_train);
	T_RUN(test_store);
	T_RUN(test_training_steps);
	return t_done();
}
