/*
 * lr_store.c - the logistic regression over the store (see lr.h): the
 * weights cache used per message, the samples kept per learned
 * message, and the training from them.  Blobs read back from the store
 * are decoded with bounds checks (lr.c); a damaged one is skipped (a
 * sample) or ignored until the next training (the weights).
 */
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "log.h"
#include "lr.h"
#include "mem.h"
#include "store.h"

void
lr_cache_free(struct lr_cache *c)
{
	FREE(c->user);
	FREE(c->w);
	c->gen = c->nspam = c->nham = 0;
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
		void *blob = NULL;
		size_t len = 0;
		lr_cache_free(c);
		r = store_lr_model_get(st, user, &inf, &blob, &len);
		if (r < 0) {
			*error_r = store_error(st);
			return -2;
		}
		if (r == 0)
			return -1;
		c->w = xmalloc((size_t)LR_NWEIGHTS * sizeof(*c->w));
		if (lr_weights_decode(blob, len, c->w) < 0) {
			log_warn("lr: the weights of user '%s' are damaged (%zu bytes); "
			    "ignored until the next training", user, len);
			FREE(c->w);
			free(blob);
			return -1;
		}
		free(blob);
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

struct collect {
	struct lr_sample *s;
	size_t n, cap;
	int64_t nspam, nham, bad;
};

static void
collect_one(const char *msgkey, char kind, const void *feat, size_t len, void *arg)
{
	struct collect *c = arg;
	struct lr_sample s;

	if ((kind != 's' && kind != 'h') || lr_sample_decode(feat, len, &s.x, &s.n) < 0) {
		c->bad++;
		return;
	}
	s.spam = kind == 's';
	s.order = bayes_hash(msgkey, strlen(msgkey), BAYES_HASH_INIT);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->s = xreallocarray(c->s, c->cap, sizeof(*c->s));
	}
	c->s[c->n++] = s;
	if (s.spam)
		c->nspam++;
	else
		c->nham++;
}

int
lr_retrain(struct store *st, const char *user, int force)
{
	struct lr_model_info inf;
	struct collect c;
	struct buf b;
	float *w;
	int r;

	if (store_lr_model_info(st, user, &inf) < 0)
		return -1;
	if (!force && (inf.changes == 0 ||
	    inf.changes * LR_RETRAIN_DIV < inf.nspam + inf.nham))
		return 0;
	if (store_lr_samples_trim(st, user, LR_MAX_SAMPLES) < 0)
		return -1;
	memset(&c, 0, sizeof(c));
	if (store_lr_samples(st, user, collect_one, &c) < 0) {
		for (size_t i = 0; i < c.n; i++)
			free(c.s[i].x);
		free(c.s);
		return -1;
	}
	if (c.bad > 0)
		log_warn("lr: %lld damaged sample(s) of user '%s' skipped",
		    (long long)c.bad, user);
	w = xmalloc((size_t)LR_NWEIGHTS * sizeof(*w));
	lr_train(w, c.s, c.n);
	for (size_t i = 0; i < c.n; i++)
		free(c.s[i].x);
	free(c.s);
	buf_init(&b, BUF_UNLIMITED);
	lr_weights_encode(w, &b);
	free(w);
	r = store_lr_model_put(st, user, c.nspam, c.nham, b.data, b.len);
	buf_free(&b);
	return r < 0 ? -1 : 1;
}
