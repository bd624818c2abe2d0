/*
 * lr_store.c - the logistic regression over the store (see lr.h): the
 * weights cache used per message, the samples kept per learned
 * message, and the training from them.  Blobs read back from the store
 * are decoded with bounds checks (lr.c); a damaged one is skipped (a
 * sample) or ignored until the next training (the weights).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bayes.h"
#include "log.h"
#include "lr.h"
#include "mem.h"
#include "store.h"

void
lr_cache_free(struct lr_cache *c)
{
	FREE(c->user);
	lr_weights_free(c->w);
	c->w = NULL;
	c->gen = c->nspam = c->nham = 0;
}

/* decoding the weights as the store hands them over */
struct weights_load {
	float *w;
	size_t got, total;
	int bad;
};

static void
weights_piece(const void *p, size_t off, size_t n, size_t total, void *arg)
{
	struct weights_load *l = arg;

	if (l->bad || total != (size_t)LR_NWEIGHTS * 4 || off != l->got ||
	    lr_weights_decode(p, off, n, l->w) < 0)
		l->bad = 1;
	l->got += n;
	l->total = total;
}

double
lr_classify(struct store *st, struct lr_cache *c, const char *user,
    const uint32_t *x, size_t n, long min_spam, long min_ham, const char **error_r)
{
	struct lr_model_info inf;
	int r = store_lr_model_info(st, user, &inf);

	if (r < 0) {
		*error_r = store_error(st);
		return -2;
	}
	if (r == 0 || inf.gen == 0)
		return -1;
	if (c->w == NULL || c->user == NULL || strcmp(c->user, user) != 0 ||
	    c->gen != inf.gen) {
		struct weights_load l = { NULL, 0, 0, 0 };
		lr_cache_free(c);
		l.w = lr_weights_alloc();
		r = store_lr_model_get(st, user, &inf, weights_piece, &l);
		if (r <= 0) {
			lr_weights_free(l.w);
			if (r == 0)
				return -1;
			*error_r = store_error(st);
			return -2;
		}
		if (l.bad || l.got != l.total) {
			log_warn("lr: the weights of user '%s' are damaged (%zu bytes); "
			    "ignored until the next training", user, l.total);
			lr_weights_free(l.w);
			return -1;
		}
		c->w = l.w;
		c->user = xstrdup(user);
		c->gen = inf.gen;
		c->nspam = inf.nspam;
		c->nham = inf.nham;
	}
	if (c->nspam < min_spam || c->nham < min_ham || c->nspam == 0 || c->nham == 0)
		return -1;
	return lr_predict(c->w, x, n);
}

int
lr_learn(struct store *st, const char *user, const char *msgkey,
    const uint32_t *x, size_t n, int spam, int forget)
{
	struct buf b;
	int r;

	if (forget)
		return store_lr_sample_delete(st, user, msgkey) < 0 ? -1 : 0;
	buf_init(&b, BUF_UNLIMITED);
	lr_sample_encode(x, n, &b);
	r = store_lr_sample_put(st, user, msgkey, spam ? 's' : 'h', b.data, b.len);
	buf_free(&b);
	return r;
}

static void
collect_one(const char *msgkey, char kind, const void *feat, size_t len, void *arg)
{
	struct lr_training *t = arg;
	struct lr_sample s;

	if ((kind != 's' && kind != 'h') || lr_sample_decode(feat, len, &s.x, &s.n) < 0) {
		t->bad++;
		return;
	}
	s.spam = kind == 's';
	s.order = bayes_hash(msgkey, strlen(msgkey), BAYES_HASH_INIT);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->s = xreallocarray(t->s, t->cap, sizeof(*t->s));
	}
	t->s[t->n++] = s;
	if (s.spam)
		t->nspam++;
	else
		t->nham++;
}

/* A training is due: forced, when any sample changed since the last
 * one (none changed: the same weights again, only a new generation for
 * every reader to load); else when 1/LR_RETRAIN_DIV of them did. */
static int
due(const struct lr_model_info *inf, int force)
{
	return inf->changes > 0 &&
	    (force || inf->changes * LR_RETRAIN_DIV >= inf->nspam + inf->nham);
}

/* the model row and the samples, in the caller's transaction or
 * snapshot */
static int
read_samples(struct store *st, const char *user, struct lr_training *t)
{
	struct lr_model_info inf;

	if (store_lr_model_info(st, user, &inf) < 0 ||
	    store_lr_samples(st, user, collect_one, t) < 0)
		return -1;
	t->gen = inf.gen;
	t->changes = inf.changes;
	if (t->bad > 0)
		log_warn("lr: %lld damaged sample(s) of user '%s' skipped",
		    (long long)t->bad, user);
	return 0;
}

static int
write_weights(struct store *st, const char *user, const struct lr_training *t)
{
	struct buf b;
	int r;

	buf_init(&b, BUF_UNLIMITED);
	lr_weights_encode(t->w, &b);
	r = store_lr_model_put(st, user, t->nspam, t->nham, t->changes, b.data, b.len);
	buf_free(&b);
	return r;
}

struct claim {
	const char *user;
	int force;
};

/* Whether another process's unexpired claim holds user's training: 1
 * yes, 0 no, -1 error.  (A claim dated further ahead than a claim can
 * be, after the clock was set back, holds nothing.) */
static int
claimed(struct store *st, const char *user)
{
	int64_t until, now = (int64_t)time(NULL);
	int k = store_lr_claim_get(st, user, &until);

	if (k <= 0)
		return k;
	return until > now && until <= now + LR_CLAIM_SECONDS;
}

/* Claim the training and trim the samples: 1, or 0 when it is no longer
 * due or another process's claim holds it (unless forced). */
static int
claim_tx(struct store *st, void *arg)
{
	const struct claim *c = arg;
	struct lr_model_info inf;
	int64_t now = (int64_t)time(NULL);
	int k;

	if (store_lr_model_info(st, c->user, &inf) < 0)
		return -1;
	if (!due(&inf, c->force))
		return 0;
	if (!c->force) {
		if ((k = claimed(st, c->user)) < 0)
			return -1;
		if (k == 1)
			return 0;
	}
	if (store_lr_claim_put(st, c->user, now + LR_CLAIM_SECONDS) < 0 ||
	    store_lr_samples_trim(st, c->user, LR_MAX_SAMPLES) < 0)
		return -1;
	return 1;
}

int
lr_training_read(struct store *st, const char *user, int force, struct lr_training *t)
{
	struct lr_model_info inf;
	struct claim c = { user, force };
	int r;

	memset(t, 0, sizeof(*t));
	if (store_lr_model_info(st, user, &inf) < 0)
		return -1;
	if (!due(&inf, force))
		return 0;
	/* held by another: known without waiting for the write lock
	 * (claim_tx checks again under it) */
	if (!force && (r = claimed(st, user)) != 0)
		return r < 0 ? -1 : 0;
	if ((r = store_transaction(st, claim_tx, &c)) <= 0)
		return r;
	if (store_begin_read(st) < 0)
		return -1;
	if (read_samples(st, user, t) < 0) {
		(void)store_rollback(st);
		lr_training_free(t);
		return -1;
	}
	/* a read-only snapshot: ending it cannot lose anything */
	if (store_commit(st) < 0) {
		lr_training_free(t);
		return -1;
	}
	return 1;
}

void
lr_training_run(struct lr_training *t)
{
	t->w = lr_weights_alloc();
	lr_train(t->w, t->s, t->n);
	for (size_t i = 0; i < t->n; i++)
		FREE(t->s[i].x);
	FREE(t->s);
	t->n = t->cap = 0;
}

int
lr_training_write(struct store *st, const char *user, const struct lr_training *t)
{
	struct lr_model_info inf;

	if (store_lr_model_info(st, user, &inf) < 0 ||
	    store_lr_claim_put(st, user, 0) < 0)
		return -1;
	if (inf.gen != t->gen)
		return 0;       /* another training came first */
	return write_weights(st, user, t) < 0 ? -1 : 1;
}

void
lr_training_free(struct lr_training *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i].x);
	FREE(t->s);
	lr_weights_free(t->w);
	t->w = NULL;
	t->n = t->cap = 0;
}

int
lr_retrain(struct store *st, const char *user, int force)
{
	struct lr_model_info inf;
	struct lr_training t;
	int r;

	memset(&t, 0, sizeof(t));
	if (store_lr_model_info(st, user, &inf) < 0)
		return -1;
	if (!due(&inf, force))
		return 0;
	if (store_lr_samples_trim(st, user, LR_MAX_SAMPLES) < 0 ||
	    read_samples(st, user, &t) < 0) {
		lr_training_free(&t);
		return -1;
	}
	lr_training_run(&t);
	r = write_weights(st, user, &t);
	lr_training_free(&t);
	return r < 0 ? -1 : 1;
}
