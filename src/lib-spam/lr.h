/*
 * lr.h - the logistic-regression classifier next to Bayes: hashed
 * binary features (byte 4-grams of the first LR_HEAD_BYTES of the raw
 * message, our own X-Spam-* header lines left out, plus the Bayes
 * token hashes) and a weight vector of LR_NWEIGHTS floats.
 *
 * Learning is order-independent: every learned message keeps its
 * feature list in the store (lr_sample), and the weights are retrained
 * from all of them (LR_PASSES passes of stochastic gradient descent in
 * a fixed pseudo-random order, the classes mixed) instead of being
 * nudged once per message, which makes `learn --spam DIR; learn --ham
 * DIR` learn what one mixed pass would (a class-after-class online
 * pass leaves a model that calls everything ham).  Forgetting removes
 * the sample, so after the next training it is exact.
 *
 * Pure functions here (features, scoring, training, the sample and
 * weight encodings); lr_store.c connects them to the store.  Inputs:
 * the analysed message (untrusted, bounded by the MIME limits) and
 * blobs read back from the store (decoded with bounds checks).
 */
#ifndef TEMPEST_LR_H
#define TEMPEST_LR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct mime_msg;
struct store;

#define LR_BITS 20
#define LR_NWEIGHTS (1u << LR_BITS)
#define LR_HEAD_BYTES 3000
#define LR_RATE 0.02
#define LR_PASSES 3
#define LR_MAX_FEATURES (LR_HEAD_BYTES + 20000)

/* The feature indices of a message (sorted, unique, < LR_NWEIGHTS;
 * malloc'ed): byte 4-grams of the raw head and the Bayes tokens tok[]. */
void lr_features(const struct mime_msg *m, const uint64_t *tok, size_t ntok,
    uint32_t **x_r, size_t *n_r);
/* Spam probability for features x[] under weights w. */
double lr_predict(const float *w, const uint32_t *x, size_t n);
/* One gradient step towards label spam (1) or ham (0). */
void lr_step(float *w, const uint32_t *x, size_t n, int spam, double rate);

struct lr_sample {
	uint32_t *x;
	size_t n;
	int spam;
	uint64_t order;         /* training order key (hash of the message key) */
};
/* Weights (w[LR_NWEIGHTS], zeroed first) from the samples: LR_PASSES
 * passes in order-key order.  Sorts s[]. */
void lr_train(float *w, struct lr_sample *s, size_t n);

/* Sample encoding: LEB128 varints of the gaps between sorted indices. */
void lr_sample_encode(const uint32_t *x, size_t n, struct buf *out);
/* 0, or -1 when the bytes are not a valid encoding (indices out of
 * range, not increasing, truncated, more than LR_MAX_FEATURES). */
int lr_sample_decode(const void *p, size_t len, uint32_t **x_r, size_t *n_r);
/* Weights as LR_NWEIGHTS little-endian IEEE floats. */
void lr_weights_encode(const float *w, struct buf *out);
/* Decode the len bytes found at byte off of an encoding into their
 * place in w (pieces in any order make the whole): 0, or -1 when off or
 * len is not a multiple of 4, the piece reaches past LR_NWEIGHTS * 4
 * bytes, or a value is not finite. */
int lr_weights_decode(const void *p, size_t off, size_t len, float *w);
/* LR_NWEIGHTS floats, not initialised, its pages already mapped (fatal
 * when out of memory); lr_weights_free() (NULL is fine). */
float *lr_weights_alloc(void);
void lr_weights_free(float *w);

/* ---- over the store (lr_store.c) ---- */

/* The weights of one user, kept between messages; reloaded when the
 * store's model generation changes. */
struct lr_cache {
	char *user;
	int64_t gen;
	int64_t nspam, nham;    /* samples the weights were trained on */
	float *w;               /* NULL: no model */
};
void lr_cache_free(struct lr_cache *c);
/* Spam probability of a message with features x[] for `user`; -1 when
 * there is no model trained on at least min_spam / min_ham messages;
 * -2 on a store error (*error_r from the store). */
double lr_classify(struct store *st, struct lr_cache *c, const char *user,
    const uint32_t *x, size_t n, long min_spam, long min_ham,
    const char **error_r);
/* Record message `msgkey` as a spam/ham sample (or remove it:
 * forget).  0 or -1. */
int lr_learn(struct store *st, const char *user, const char *msgkey,
    const uint32_t *x, size_t n, int spam, int forget);
/* Retrain the weights of `user` from its samples, in the caller's
 * write transaction: when any sample changed since the last training
 * (force), or when at least 1/LR_RETRAIN_DIV of its size did.  1
 * trained, 0 not needed (nothing changed: the weights would be the
 * same), -1 error. */
#define LR_RETRAIN_DIV 20
/* Samples kept per user: a training first drops all but the newest
 * LR_MAX_SAMPLES (about 35 MB of samples; the training holds their
 * feature lists, about 140 MB, while it runs). */
#define LR_MAX_SAMPLES 10000
#define LR_CLAIM_SECONDS 300
int lr_retrain(struct store *st, const char *user, int force);

/* The same in three steps outside a transaction, so that no write lock
 * is held while the weights are computed (about 0.1 s per 1,000
 * samples, a second at LR_MAX_SAMPLES): lr_training_read() claims the
 * training and trims the samples (a short write transaction) and reads
 * them in a read snapshot (store_begin_read): 1 read, 0 no training due
 * or another process's claim on it younger than LR_CLAIM_SECONDS
 * (!force), -1 error.  The claim is what keeps the content filter's
 * processes, which all find the same training due after their
 * auto-learning, from each computing it; lr_training_write() drops it,
 * and a process that dies meanwhile leaves it to expire.
 * lr_training_run() trains without the store; lr_training_write(), in
 * the caller's write transaction, stores the weights unless another
 * training was stored since the read: 1 stored, 0 another came first
 * (read again), -1 error.  Samples learned after the read stay counted
 * as changes for the next training.  lr_training_free() in any case. */
struct lr_training {
	struct lr_sample *s;
	size_t n, cap;
	int64_t nspam, nham, bad;
	int64_t gen, changes;   /* the model row when the samples were read */
	float *w;               /* after lr_training_run() */
};
int lr_training_read(struct store *st, const char *user, int force,
    struct lr_training *t);
void lr_training_run(struct lr_training *t);
int lr_training_write(struct store *st, const char *user,
    const struct lr_training *t);
void lr_training_free(struct lr_training *t);

#endif
