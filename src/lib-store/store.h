/*
 * store.h - the one store interface for shared state: Bayes tokens,
 * the logistic-regression samples and weights, the quarantine and
 * per-recipient spam thresholds (and, later, the greylist and vacation
 * memory).  Two drivers: SQLite (embedded default,
 * "sqlite:/path/file.db" or a bare path) and MariaDB ("mysql:...", when
 * built with MariaDB Connector/C).
 *
 * All calls return 0 (or a count / 1-found-0-not) on success and -1 on
 * a database error, with the reason available from store_error().  Keys
 * and values come from mail (untrusted): SQLite binds them as SQL
 * parameters; the MariaDB driver escapes them with
 * mysql_real_escape_string() (numbers it formats itself).
 */
#ifndef TEMPEST_STORE_H
#define TEMPEST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

/* Open (creating the schema if needed).  NULL with *error_r. */
struct store *store_open(const char *spec, char **error_r);
void store_close(struct store **st);
/* The file of a SQLite spec ("sqlite:PATH" or a plain path), else NULL. */
const char *store_sqlite_path(const char *spec);
const char *store_error(const struct store *st);

/* A write transaction (SQLite: BEGIN IMMEDIATE, so it waits for other
 * writers up to the busy timeout instead of failing at its first
 * write). */
int store_begin(struct store *st);
/* The same without waiting for another writer: 0 begun, 1 another
 * writer holds the store (nothing begun), -1 error.  (MariaDB, where
 * writers lock rows, not the store: store_begin().) */
int store_begin_try(struct store *st);
int store_commit(struct store *st);
/* Keeps the error that led to it for store_error()/store_conflict(). */
int store_rollback(struct store *st);
/* A read snapshot: the reads until store_commit() see one state of the
 * store and hold no lock that stops a writer (SQLite: a WAL reader,
 * BEGIN DEFERRED; MariaDB: a consistent read). */
int store_begin_read(struct store *st);
/* A write transaction whose commit waits for the disk (the quarantine:
 * a row there may be the only copy of a message answered with 250). */
int store_begin_durable(struct store *st);
/* Whether a store_begin() or store_begin_read() is open. */
int store_in_transaction(const struct store *st);
/* Whether the last error was a conflict with another writer: a MariaDB
 * deadlock (InnoDB has rolled the transaction back) or lock wait
 * timeout, SQLite busy or locked.  A transaction that failed so should
 * be rolled back and done again; store_conflict_wait(attempt) sleeps a
 * growing, randomised while first. */
int store_conflict(const struct store *st);
void store_conflict_wait(int attempt);
/* fn(st, arg) in a write transaction, committed; after a conflict
 * rolled back and run again (store_conflict_wait first), up to
 * STORE_TX_ATTEMPTS times, so fn must start from scratch each time.
 * fn returns >= 0 (passed back) or -1 (rolled back).  -1 on an error
 * or when the attempts ran out. */
#define STORE_TX_ATTEMPTS 8
int store_transaction(struct store *st, int (*fn)(struct store *, void *), void *arg);
/* The same once, begun with store_begin_try(): -1 with store_conflict()
 * true when another writer held the store (at the begin or, on
 * MariaDB, a conflict at a write or the commit), nothing retried. */
int store_transaction_try(struct store *st, int (*fn)(struct store *, void *), void *arg);
/* The same with store_begin_durable(). */
int store_transaction_durable(struct store *st, int (*fn)(struct store *, void *),
    void *arg);
/* For an interactive command: a write meeting another writer waits at
 * most ms (SQLite busy timeout, MariaDB innodb_lock_wait_timeout,
 * rounded up to seconds) and store_transaction() retries a conflict
 * only within ms of its start, so a busy store fails in about ms
 * instead of the attempts of STORE_TX_ATTEMPTS waits of the driver's
 * default (SQLite: 10 s each, about 80 s).  ms 0: the defaults again,
 * as the filter keeps them. */
int store_set_patience(struct store *st, int ms);

/* ---- Bayes ---- user "" is the global database. */
struct bayes_counts {
	int64_t spam, ham;
};
/* Messages learned so far. */
int store_bayes_totals(struct store *st, const char *user, struct bayes_counts *r);
int store_bayes_add_totals(struct store *st, const char *user, int64_t dspam,
    int64_t dham);
/* Counts of n tokens (zeros for unknown tokens).  After
 * store_bayes_totals() of the same user they come through the handle's
 * token cache where it has them (src/lib-store/token_cache.h: valid
 * while the user's token generation, which every write of tokens
 * raises, is the expected one). */
int store_bayes_get(struct store *st, const char *user, const uint64_t *tok,
    size_t n, struct bayes_counts *out);
/* Token lookups the cache served and all asked for, on this handle. */
void store_bayes_cache_stats(const struct store *st, uint64_t *hits_r,
    uint64_t *lookups_r);
/* Add deltas (may be negative; counts never go below 0; tokens at 0/0
 * are removed). */
int store_bayes_update(struct store *st, const char *user, const uint64_t *tok,
    size_t n, int dspam, int dham);
/* How a message was learned: 's', 'h' or 0 (never). */
int store_bayes_seen(struct store *st, const char *user, const char *msgkey,
    char *kind_r);
/* Record (kind 's'/'h') or forget (kind 0) a learned message. */
int store_bayes_set_seen(struct store *st, const char *user, const char *msgkey,
    char kind);
/* The same as a change from kind `from` (what store_bayes_seen() read
 * in this transaction) to `to`: when another transaction changed or
 * added the mark since (MariaDB, where that read takes no lock: two
 * learners of one message at once), -1 with store_conflict() true, so
 * that the transaction is done again and sees it.  (SQLite's writers
 * run one at a time: the mark cannot change between.) */
int store_bayes_move_seen(struct store *st, const char *user, const char *msgkey,
    char from, char to);
/* Number of distinct tokens. */
int64_t store_bayes_ntokens(struct store *st, const char *user);
/* Delete `n` tokens of user, the least recently learned first by the
 * day they were last learned, within a day the rarest (fewest spam +
 * ham; most of a database are tokens seen once), then the older: the
 * count deleted. */
int64_t store_bayes_expire(struct store *st, const char *user, int64_t n);
/* A token as stored, for copying a database (bayes_copy). */
struct bayes_token_row {
	uint64_t token;
	int64_t spam, ham, atime;
};
/* fn for each token of user, in no particular order (fn must not use
 * this store). */
int store_bayes_tokens(struct store *st, const char *user,
    void (*fn)(const struct bayes_token_row *, void *), void *arg);
/* Set n tokens to the counts and atimes given. */
int store_bayes_put(struct store *st, const char *user,
    const struct bayes_token_row *rows, size_t n);
/* fn for each learned message of user (fn must not use this store). */
int store_bayes_seen_all(struct store *st, const char *user,
    void (*fn)(const char *msgkey, char kind, void *), void *arg);
/* fn for each user with a model (Bayes totals or LR samples), ordered
 * by name (fn must not use this store). */
int store_bayes_users(struct store *st, void (*fn)(const char *user, void *),
    void *arg);

/* ---- logistic-regression samples and weights (src/lib-spam/lr.h) ---- */
struct lr_model_info {
	int64_t gen;            /* bumped at every training */
	int64_t nspam, nham;    /* samples the weights were trained on */
	int64_t changes;        /* samples stored or removed since then */
};
/* Store (or replace) the feature blob of a learned message; kind 's' or
 * 'h'.  Counts a change in the model row. */
int store_lr_sample_put(struct store *st, const char *user, const char *msgkey,
    char kind, const void *feat, size_t len);
/* How a message's sample is stored: *kind_r 's', 'h' or 0 (none). */
int store_lr_sample_kind(struct store *st, const char *user, const char *msgkey,
    char *kind_r);
/* 1 removed (a change counted), 0 there was none. */
int store_lr_sample_delete(struct store *st, const char *user, const char *msgkey);
/* Delete all but the `keep` most recently stored samples of user: the
 * count deleted (not counted as changes). */
int store_lr_samples_trim(struct store *st, const char *user, int64_t keep);
/* fn for each sample of user, in no particular order. */
int store_lr_samples(struct store *st, const char *user,
    void (*fn)(const char *msgkey, char kind, const void *feat, size_t len, void *arg),
    void *arg);
/* 1 found, 0 no model row (r zeroed).  Does not read the weights. */
int store_lr_model_info(struct store *st, const char *user, struct lr_model_info *r);
/* The weights, handed to fn in pieces, in order and together the whole
 * blob (p: n bytes found at byte off of total), straight from the
 * driver's storage, so their megabytes are not copied on the way.
 * 1 found with weights, 0 no weights yet (fn not called). */
typedef void store_piece_fn(const void *p, size_t off, size_t n, size_t total,
    void *arg);
int store_lr_model_get(struct store *st, const char *user, struct lr_model_info *r,
    store_piece_fn *fn, void *arg);
/* Replace the weights: gen + 1, nspam/nham as given, changes less the
 * `consumed` ones (those counted when the samples were read; the
 * changes made since stay for the next training), never below 0. */
int store_lr_model_put(struct store *st, const char *user, int64_t nspam,
    int64_t nham, int64_t consumed, const void *blob, size_t len);
/* The claim on a user's next training (lr_training_read()), so that of
 * the processes that find a training due only one computes it: the
 * time (seconds since the epoch) until which it holds, 1 found, 0 none;
 * store_lr_claim_put() with until 0 removes it.  In the caller's write
 * transaction. */
int store_lr_claim_get(struct store *st, const char *user, int64_t *until_r);
int store_lr_claim_put(struct store *st, const char *user, int64_t until);

/* ---- quarantine ---- */
struct quarantine_item {
	char *id;
	time_t created;
	char *sender;
	char *recipients;       /* quarantine_recipients_join() */
	char *subject;
	double score;
	char *tests;            /* "NAME=score, ..." */
	char *message;          /* the whole message (may be NULL in lists) */
	size_t message_len;
	/* The SMTP envelope's parameters, for a release (NULL in lists; ""
	 * in rows of earlier versions, which had no column for it): LF
	 * separated lines "FROM:<sender> PARAMS" and "TO:<rcpt> PARAMS"
	 * (one per recipient of the entry), the arguments of MAIL and RCPT
	 * as far as they are kept (RET, ENVID, BODY, SMTPUTF8; NOTIFY,
	 * ORCPT): doc/spam.md, "Commands". */
	char *envelope;
};
void quarantine_item_free(struct quarantine_item *q);
/* The recipients column: each address followed by LF (an address may
 * hold a comma: "smith,john"@example.com).  Rows of earlier versions
 * hold no LF and separate addresses by commas. */
char *quarantine_recipients_join(char *const *rcpts, size_t n);
/* The addresses of q->recipients (either form), as str_split(): free
 * with str_split_free(). */
char **quarantine_recipients(const struct quarantine_item *q, size_t *n_r);
/* On stable storage only when committed by store_begin_durable() /
 * store_transaction_durable(): a quarantined message's row may be its
 * only copy. */
int store_quarantine_put(struct store *st, const struct quarantine_item *q);
/* Call fn for each item, oldest first (message not loaded). */
int store_quarantine_list(struct store *st,
    void (*fn)(const struct quarantine_item *, void *), void *arg);
/* 1 found (q filled, free with quarantine_item_free), 0 not found. */
int store_quarantine_get(struct store *st, const char *id, struct quarantine_item *q);
/* 1 deleted, 0 not found. */
int store_quarantine_delete(struct store *st, const char *id);
/* Delete items created before `before`: the count deleted. */
int store_quarantine_expire(struct store *st, time_t before);

/* ---- per-recipient spam thresholds ---- */
struct spam_levels {
	double tag, spam, quarantine, reject;
};
/* Rows are keyed by the address in lower case (get, set and delete
 * fold the one given).  1 found, 0 not set for this recipient. */
int store_levels_get(struct store *st, const char *recipient, struct spam_levels *r);
int store_levels_set(struct store *st, const char *recipient, const struct spam_levels *l);
int store_levels_delete(struct store *st, const char *recipient);
/* fn for each recipient with levels, ordered by address (fn must not
 * use this store). */
int store_levels_list(struct store *st,
    void (*fn)(const char *recipient, const struct spam_levels *, void *),
    void *arg);

#endif
