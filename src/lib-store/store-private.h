/* store-private.h - the driver interface behind store.h. */
#ifndef TEMPEST_STORE_PRIVATE_H
#define TEMPEST_STORE_PRIVATE_H

#include "store.h"

struct store_driver {
	const char *name;
	const char *begin;      /* SQL that starts a write transaction */
	const char *begin_read; /* SQL that starts a read snapshot */
	/* SQL run before a durable transaction's BEGIN and after its end,
	 * when the driver's commits do not wait for the disk otherwise */
	const char *sync_on, *sync_off;
	struct store *(*open)(const char *arg, char **error_r);
	void (*close)(struct store *st);
	/* how long a write waits for another writer: 0 not at all, -1
	 * the handle's default, st->patience_ms or the driver's (optional) */
	void (*set_wait)(struct store *st, int ms);
	/* the lock wait of a driver without set_wait (store_set_patience;
	 * 0: its default; optional) */
	int (*set_lock_wait)(struct store *st, int ms);
	int (*exec)(struct store *st, const char *sql);        /* no parameters */
	/* totals and the token generation (0 before the first write) */
	int (*bayes_totals)(struct store *, const char *, struct bayes_counts *,
	    int64_t *);
	int (*bayes_add_totals)(struct store *, const char *, int64_t, int64_t);
	int (*bayes_get)(struct store *, const char *, const uint64_t *, size_t,
	    struct bayes_counts *);
	int (*bayes_update)(struct store *, const char *, const uint64_t *, size_t,
	    int, int);
	int (*bayes_bump)(struct store *, const char *);  /* generation + 1 */
	int (*bayes_seen)(struct store *, const char *, const char *, char *);
	int (*bayes_set_seen)(struct store *, const char *, const char *, char);
	/* (optional: else bayes_set_seen) */
	int (*bayes_move_seen)(struct store *, const char *, const char *, char, char);
	int64_t (*bayes_ntokens)(struct store *, const char *);
	int64_t (*bayes_expire)(struct store *, const char *, int64_t);
	int (*bayes_tokens)(struct store *, const char *,
	    void (*)(const struct bayes_token_row *, void *), void *);
	int (*bayes_put)(struct store *, const char *, const struct bayes_token_row *,
	    size_t);
	int (*bayes_seen_all)(struct store *, const char *,
	    void (*)(const char *, char, void *), void *);
	int (*bayes_users)(struct store *, void (*)(const char *, void *), void *);
	int (*levels_list)(struct store *,
	    void (*)(const char *, const struct spam_levels *, void *), void *);
	int (*lr_sample_put)(struct store *, const char *, const char *, char,
	    const void *, size_t);
	int (*lr_sample_kind)(struct store *, const char *, const char *, char *);
	int (*lr_sample_delete)(struct store *, const char *, const char *);
	int (*lr_samples_trim)(struct store *, const char *, int64_t);
	int (*lr_samples)(struct store *, const char *,
	    void (*)(const char *, char, const void *, size_t, void *), void *);
	int (*lr_model_info)(struct store *, const char *, struct lr_model_info *);
	int (*lr_model_get)(struct store *, const char *, struct lr_model_info *,
	    store_piece_fn *, void *);
	int (*lr_model_put)(struct store *, const char *, int64_t, int64_t,
	    int64_t, const void *, size_t);
	int (*lr_claim_get)(struct store *, const char *, int64_t *);
	int (*lr_claim_put)(struct store *, const char *, int64_t);
	int (*q_put)(struct store *, const struct quarantine_item *);
	int (*q_list)(struct store *, void (*)(const struct quarantine_item *, void *), void *);
	int (*q_get)(struct store *, const char *, struct quarantine_item *);
	int (*q_delete)(struct store *, const char *);
	int (*q_expire)(struct store *, time_t);
	int (*levels_get)(struct store *, const char *, struct spam_levels *);
	int (*levels_set)(struct store *, const char *, const struct spam_levels *);
	int (*levels_delete)(struct store *, const char *);
};

struct store {
	const struct store_driver *drv;
	char *error;
	int in_tx;
	int sync_tx;            /* in a store_begin_durable() transaction */
	struct token_cache *tcache;     /* Bayes counts between reads */
	int conflict;           /* the last error: see store_conflict() */
	int patience_ms;        /* store_set_patience(), 0 not set */
};

void store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

extern const struct store_driver store_driver_sqlite;
extern const struct store_driver store_driver_mysql;   /* when built with MariaDB */

#endif
