/*
 * store.c - the store interface: picks the driver from the spec and
 * forwards each call.  See store.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "str.h"
#include "store-private.h"
#include "token_cache.h"

const char *
store_sqlite_path(const char *spec)
{
	if (strncmp(spec, "sqlite:", 7) == 0)
		return spec + 7;
	if (strchr(spec, ':') != NULL && spec[0] != '/' && spec[0] != '.')
		return NULL;    /* another type */
	return spec;
}

struct store *
store_open(const char *spec, char **error_r)
{
	const char *path = store_sqlite_path(spec);

	if (path != NULL)
		return store_driver_sqlite.open(path, error_r);
	if (strncmp(spec, "mysql:", 6) == 0 || strncmp(spec, "mariadb:", 8) == 0) {
#ifdef HAVE_MARIADB
		return store_driver_mysql.open(strchr(spec, ':') + 1, error_r);
#else
		*error_r = xasprintf("%s: the MariaDB store driver is not built", spec);
		return NULL;
#endif
	}
	*error_r = xasprintf("%s: unknown store type", spec);
	return NULL;
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	free(st->error);
	token_cache_free(&st->tcache);
	st->drv->close(st);
	*stp = NULL;
}

void
store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	free(st->error);
	va_start(ap, fmt);
	st->error = xvasprintf(fmt, ap);
	va_end(ap);
}

const char *
store_error(const struct store *st)
{
	return st->error ? st->error : "no error";
}

static int
begin(struct store *st, const char *sql)
{
	int r = st->drv->exec(st, sql);
	if (r == 0)
		st->in_tx = 1;
	return r;
}

int
store_begin(struct store *st)
{
	return begin(st, st->drv->begin);
}

int
store_begin_try(struct store *st)
{
	int r;

	if (st->drv->set_wait == NULL)
		return store_begin(st);
	st->drv->set_wait(st, 0);
	r = store_begin(st);
	st->drv->set_wait(st, -1);
	return r < 0 && store_conflict(st) ? 1 : r;
}

int
store_begin_read(struct store *st)
{
	return begin(st, st->drv->begin_read);
}

/* After a durable transaction: the driver's usual commits again. */
static void
sync_end(struct store *st)
{
	if (st->sync_tx && st->drv->sync_off != NULL)
		(void)st->drv->exec(st, st->drv->sync_off);
	st->sync_tx = 0;
}

int
store_begin_durable(struct store *st)
{
	if (st->drv->sync_on != NULL && st->drv->exec(st, st->drv->sync_on) < 0)
		return -1;
	st->sync_tx = 1;
	if (store_begin(st) < 0) {
		sync_end(st);
		return -1;
	}
	return 0;
}

int
store_set_patience(struct store *st, int ms)
{
	st->patience_ms = ms > 0 ? ms : 0;
	if (st->drv->set_wait != NULL)
		st->drv->set_wait(st, -1);
	else if (st->drv->set_lock_wait != NULL)
		return st->drv->set_lock_wait(st, st->patience_ms);
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum { TX_WAIT, TX_DURABLE, TX_TRY };

static int
transaction(struct store *st, int how, int (*fn)(struct store *, void *), void *arg)
{
	int64_t start = st->patience_ms > 0 ? now_ms() : 0;

	for (int attempt = 0;; attempt++) {
		int b = how == TX_DURABLE ? store_begin_durable(st) :
		    how == TX_TRY ? store_begin_try(st) : store_begin(st);

		if (b == 0) {
			int r = fn(st, arg);
			if (r >= 0 && store_commit(st) == 0)
				return r;
			(void)store_rollback(st);
		}
		/* busy at store_begin_try(): its store_begin() failed with
		 * a conflict, which store_conflict() still says */
		if (how == TX_TRY || !store_conflict(st) || attempt == STORE_TX_ATTEMPTS - 1 ||
		    (st->patience_ms > 0 && now_ms() - start >= st->patience_ms))
			return -1;
		store_conflict_wait(attempt);
	}
}

int
store_transaction(struct store *st, int (*fn)(struct store *, void *), void *arg)
{
	return transaction(st, TX_WAIT, fn, arg);
}

int
store_transaction_try(struct store *st, int (*fn)(struct store *, void *), void *arg)
{
	return transaction(st, TX_TRY, fn, arg);
}

int
store_transaction_durable(struct store *st, int (*fn)(struct store *, void *), void *arg)
{
	return transaction(st, TX_DURABLE, fn, arg);
}

int
store_in_transaction(const struct store *st)
{
	return st->in_tx;
}

int
store_conflict(const struct store *st)
{
	return st->conflict;
}

void
store_conflict_wait(int attempt)
{
	/* 10, 20, 40, 80 ms ... plus up to 10 ms, so that two writers that
	 * met do not meet again at once */
	unsigned int r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)getpid();
	usleep((useconds_t)(10000u << (attempt < 6 ? attempt : 6)) + r % 10000u);
}

/* A write the cache cannot follow token by token. */
static void
cache_clear(struct store *st)
{
	if (st->tcache != NULL)
		token_cache_clear(st->tcache);
}

int
store_commit(struct store *st)
{
	int r;

	st->in_tx = 0;
	r = st->drv->exec(st, "COMMIT");
	sync_end(st);
	return r;
}

int
store_rollback(struct store *st)
{
	/* what comes after an error: that error (and whether it was a
	 * conflict) is the one to report, not the rollback's own (InnoDB
	 * has already rolled back after a deadlock) */
	char *error = st->error;
	int conflict = st->conflict, r;

	st->error = NULL;
	st->in_tx = 0;
	r = st->drv->exec(st, "ROLLBACK");
	sync_end(st);
	cache_clear(st);        /* it may hold what was rolled back */
	if (error != NULL) {
		free(st->error);
		st->error = error;
		st->conflict = conflict;
	}
	return r;
}

/* The Bayes reads and writes keep the handle's token cache
 * (token_cache.h) in step. */
int
store_bayes_totals(struct store *st, const char *u, struct bayes_counts *r)
{
	int64_t gen;

	if (st->drv->bayes_totals(st, u, r, &gen) < 0)
		return -1;
	if (st->tcache == NULL)
		st->tcache = token_cache_new();
	token_cache_generation(st->tcache, u, gen);
	return 0;
}

int
store_bayes_add_totals(struct store *st, const char *u, int64_t s, int64_t h)
{
	return st->drv->bayes_add_totals(st, u, s, h);
}

int
store_bayes_get(struct store *st, const char *u, const uint64_t *t, size_t n,
    struct bayes_counts *o)
{
	size_t *pos, nmiss;
	uint64_t *mt;
	struct bayes_counts *mc;
	void *block;
	int r = 0;

	if (st->tcache == NULL || n == 0)
		return st->drv->bayes_get(st, u, t, n, o);
	/* the misses' counts, tokens and positions in one block */
	block = xcalloc(n, sizeof(*mc) + sizeof(*mt) + sizeof(*pos));
	mc = block;
	mt = (uint64_t *)(mc + n);
	pos = (size_t *)(mt + n);
	nmiss = token_cache_get(st->tcache, u, t, n, o, pos);
	if (nmiss > 0) {
		for (size_t i = 0; i < nmiss; i++)
			mt[i] = t[pos[i]];
		r = st->drv->bayes_get(st, u, mt, nmiss, mc);
		for (size_t i = 0; r == 0 && i < nmiss; i++) {
			o[pos[i]] = mc[i];
			token_cache_put(st->tcache, u, mt[i], &mc[i]);
		}
	}
	free(block);
	return r;
}

int
store_bayes_update(struct store *st, const char *u, const uint64_t *t, size_t n,
    int s, int h)
{
	/* dropped even when it fails: a rollback follows */
	if (st->tcache != NULL)
		token_cache_changed(st->tcache, u, t, n);
	if (st->drv->bayes_update(st, u, t, n, s, h) < 0)
		return -1;
	return st->drv->bayes_bump(st, u);
}

void
store_bayes_cache_stats(const struct store *st, uint64_t *hits_r, uint64_t *lookups_r)
{
	token_cache_stats(st->tcache, hits_r, lookups_r);
}

int store_bayes_seen(struct store *st, const char *u, const char *k, char *r) { return st->drv->bayes_seen(st, u, k, r); }
int store_bayes_set_seen(struct store *st, const char *u, const char *k, char c) { return st->drv->bayes_set_seen(st, u, k, c); }
int
store_bayes_move_seen(struct store *st, const char *u, const char *k, char from, char to)
{
	if (st->drv->bayes_move_seen != NULL)
		return st->drv->bayes_move_seen(st, u, k, from, to);
	return st->drv->bayes_set_seen(st, u, k, to);
}
int64_t store_bayes_ntokens(struct store *st, const char *u) { return st->drv->bayes_ntokens(st, u); }
int64_t
store_bayes_expire(struct store *st, const char *u, int64_t n)
{
	int64_t r;

	if (n <= 0)
		return 0;
	cache_clear(st);
	if ((r = st->drv->bayes_expire(st, u, n)) > 0 && st->drv->bayes_bump(st, u) < 0)
		return -1;
	return r;
}

int store_bayes_tokens(struct store *st, const char *u, void (*fn)(const struct bayes_token_row *, void *), void *a) { return st->drv->bayes_tokens(st, u, fn, a); }
int
store_bayes_put(struct store *st, const char *u, const struct bayes_token_row *r, size_t n)
{
	cache_clear(st);
	if (st->drv->bayes_put(st, u, r, n) < 0)
		return -1;
	return st->drv->bayes_bump(st, u);
}

int store_bayes_seen_all(struct store *st, const char *u, void (*fn)(const char *, char, void *), void *a) { return st->drv->bayes_seen_all(st, u, fn, a); }
int store_lr_sample_put(struct store *st, const char *u, const char *k, char c, const void *f, size_t n) { return st->drv->lr_sample_put(st, u, k, c, f, n); }
int store_lr_sample_kind(struct store *st, const char *u, const char *k, char *r) { return st->drv->lr_sample_kind(st, u, k, r); }
int store_lr_sample_delete(struct store *st, const char *u, const char *k) { return st->drv->lr_sample_delete(st, u, k); }
int store_lr_samples_trim(struct store *st, const char *u, int64_t k) { return st->drv->lr_samples_trim(st, u, k); }
int store_lr_samples(struct store *st, const char *u, void (*fn)(const char *, char, const void *, size_t, void *), void *a) { return st->drv->lr_samples(st, u, fn, a); }
int store_lr_model_info(struct store *st, const char *u, struct lr_model_info *r) { return st->drv->lr_model_info(st, u, r); }
int store_lr_model_get(struct store *st, const char *u, struct lr_model_info *r, store_piece_fn *fn, void *arg) { return st->drv->lr_model_get(st, u, r, fn, arg); }
int store_lr_model_put(struct store *st, const char *u, int64_t s, int64_t h, int64_t c, const void *b, size_t n) { return st->drv->lr_model_put(st, u, s, h, c, b, n); }
int store_lr_claim_get(struct store *st, const char *u, int64_t *until) { return st->drv->lr_claim_get(st, u, until); }
int store_lr_claim_put(struct store *st, const char *u, int64_t until) { return st->drv->lr_claim_put(st, u, until); }
int store_quarantine_put(struct store *st, const struct quarantine_item *q) { return st->drv->q_put(st, q); }
int store_quarantine_list(struct store *st, void (*fn)(const struct quarantine_item *, void *), void *a) { return st->drv->q_list(st, fn, a); }
int store_quarantine_get(struct store *st, const char *id, struct quarantine_item *q) { return st->drv->q_get(st, id, q); }
int store_quarantine_delete(struct store *st, const char *id) { return st->drv->q_delete(st, id); }
int store_quarantine_expire(struct store *st, time_t before) { return st->drv->q_expire(st, before); }

/* Per-recipient levels are keyed by the address in lower case, as
 * delivery finds a mailbox: RCPT TO:<Carol@...> has carol's levels. */
static char *
levels_key(const char *r)
{
	char *k = xstrdup(r);

	for (char *p = k; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

int
store_levels_get(struct store *st, const char *r, struct spam_levels *l)
{
	char *k = levels_key(r);
	int ret = st->drv->levels_get(st, k, l);

	free(k);
	return ret;
}

int
store_levels_set(struct store *st, const char *r, const struct spam_levels *l)
{
	char *k = levels_key(r);
	int ret = st->drv->levels_set(st, k, l);

	free(k);
	return ret;
}

int
store_levels_delete(struct store *st, const char *r)
{
	char *k = levels_key(r);
	int ret = st->drv->levels_delete(st, k);

	free(k);
	return ret;
}

char *
quarantine_recipients_join(char *const *rcpts, size_t n)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (size_t i = 0; i < n; i++)
		(void)buf_printf(&b, "%s\n", rcpts[i]);
	return b.data ? buf_steal(&b) : xstrdup("");
}

char **
quarantine_recipients(const struct quarantine_item *q, size_t *n_r)
{
	return str_split(q->recipients, strchr(q->recipients, '\n') ? "\n" : ",", n_r);
}

void
quarantine_item_free(struct quarantine_item *q)
{
	FREE(q->id);
	FREE(q->sender);
	FREE(q->recipients);
	FREE(q->subject);
	FREE(q->tests);
	FREE(q->message);
	FREE(q->envelope);
	q->message_len = 0;
}
int store_bayes_users(struct store *st, void (*fn)(const char *, void *), void *a) { return st->drv->bayes_users(st, fn, a); }
int store_levels_list(struct store *st, void (*fn)(const char *, const struct spam_levels *, void *), void *a) { return st->drv->levels_list(st, fn, a); }
