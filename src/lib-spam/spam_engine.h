/*
 * spam_engine.h - one object that scores messages the way the filter,
 * `tempest spamc` and `tempest learn` all need: rules (built-in and/or
 * files), the Bayes store, thresholds and header style from main.cf
 * (spam_* parameters, declared in spam_engine.c), and the verdict.
 */
#ifndef TEMPEST_SPAM_ENGINE_H
#define TEMPEST_SPAM_ENGINE_H

#include <stddef.h>

#include <time.h>

#include "bayes.h"
#include "buf.h"
#include "lr.h"
#include "mime.h"
#include "report.h"
#include "rules.h"
#include "store.h"

struct spam_engine_opts {
	const char *const *rules;       /* rule paths ("builtin" = compiled in); NULL = spam_rules */
	const char *db;                 /* store spec; NULL = spam_database */
	int need_store;                 /* fail if the store cannot be opened */
	int no_store;                   /* do not open the store at all */
	int no_jit;                     /* one message only: skip PCRE2 JIT
					 * (and the Vectorscan compile) */
	int no_prefilter;               /* no Vectorscan prefilter */
	const char *cache_dir;          /* NULL = spam_rules_cache_directory */
};

struct spam_engine {
	struct ruleset *rs;
	struct store *store;
	char *store_error;              /* why store is NULL */
	struct bayes_opts bopts;
	struct spam_levels levels;      /* global thresholds */
	enum report_style style;
	char *subject_tag;
	int per_user;
	double autolearn_spam, autolearn_ham;
	int autolearn;
	long long bayes_max_tokens;     /* bayes_expiry_max_db_size */
	int bayes_auto_expire;
	struct mime_limits lim;
	int rules_cached;               /* the rules came from the cache */
	struct lr_cache lr;             /* weights of the last user scored */
	char *lr_due;                   /* user whose LR weights an
	                                 * auto-learn may have made stale */
	struct netlist *trusted;        /* spam_trusted_networks, or NULL */
	char *store_spec;               /* what store_open() was given */
	time_t store_retry;             /* when it may be tried again */
};

/* Read the spam_* parameters (config must be loaded, or defaults). */
struct spam_engine *spam_engine_new(const struct spam_engine_opts *o, char **error_r);
void spam_engine_free(struct spam_engine **e);
/* A store that could not be opened (not there yet, say: the first
 * `tempest quarantine levels` or `learn` creates it) is opened now, at
 * most once a second; 1 when the engine has its store. */
int spam_engine_store_retry(struct spam_engine *e);

enum spam_action { SPAM_ACCEPT, SPAM_TAG, SPAM_QUARANTINE, SPAM_REJECT };

struct spam_verdict {
	struct mime_msg msg;
	struct spam_result res;
	struct spam_levels levels;      /* effective for this message */
	enum spam_action action;
	int is_spam;                    /* score >= levels.spam */
	const char *autolearn;          /* "spam", "ham", "no", "disabled" */
};

/* Score data[0..len) for `user` (NULL or "" = global Bayes). */
void spam_engine_check(struct spam_engine *e, const char *data, size_t len,
    const char *user, struct spam_verdict *v);
/* The thresholds of one recipient: its row in the store where present,
 * else the global levels. */
void spam_engine_levels(struct spam_engine *e, const char *rcpt,
    struct spam_levels *out);
/* For one treatment of a message of this score for several recipients
 * (lowest risk of losing mail): the levels each[k] of the recipient
 * whose own levels treat it most leniently (accept, tag, quarantine,
 * reject in that order, then not spam before spam; the first of equals),
 * the global ones when n == 0.  A whole recipient's levels, not the
 * most lenient value of each level: those could deliver what no
 * recipient's own levels would (quarantine from 4 for one, reject from
 * 5 and never quarantine for the other).  Pure. */
void spam_levels_most_lenient(struct spam_engine *e, double score,
    const struct spam_levels *each, size_t n, struct spam_levels *out);
/* Decide the action for v (after spam_engine_check) with `levels`. */
void spam_engine_decide(struct spam_engine *e, struct spam_verdict *v,
    const struct spam_levels *levels);
/* Header block for v (ends in "\n"; empty for SPAM_ACCEPT below tag). */
void spam_engine_headers(struct spam_engine *e, const struct spam_verdict *v,
    struct buf *out);
/* Whether v is to be auto-learned: v->autolearn = "spam" or "ham" when
 * its score without BAYES_* and LR_* points passes a threshold (and no
 * USER_IN_* list rule hit), else "no" ("disabled" without auto-learning
 * or a store).  No store access: the headers can say it before the
 * learning happens. */
void spam_engine_autolearn_decide(struct spam_engine *e, struct spam_verdict *v);
/* Learn v as spam_engine_autolearn_decide() said (nothing for "no").
 * The filter calls it after its reply to smtpd, so a reply never waits
 * for the learning or for another writer's lock; the LR retraining
 * this may call for is left to spam_engine_train(). */
void spam_engine_autolearn(struct spam_engine *e, struct spam_verdict *v,
    const char *user);
/* What v is to be learned as: 1 spam, 0 ham, -1 not at all. */
int spam_verdict_learn_as_spam(const struct spam_verdict *v);
/* The same for n verdicts at once (v[i] addressed to user[i], which may
 * be NULL), a user's run of consecutive verdicts in one transaction:
 * the content filter gathers them while another writer holds the store.
 * Without wait, a run that finds another writer holding the store stops
 * the batch: the count learned (or given up after a store error, which
 * is logged) from the start; the rest is the caller's to offer again.
 * With wait, all n (waiting for the store as store_transaction()).  No
 * LR training here: spam_engine_train() afterwards checks the last
 * run's user (another user of the batch is checked at its next
 * auto-learning). */
int spam_engine_autolearns(struct spam_engine *e, struct spam_verdict *const *v,
    const char *const *user, size_t n, int wait);
/* Retrain the LR weights of the user auto-learned for last, when enough
 * samples changed (lr_retrain), and then, with bayes_auto_expire, expire
 * that user's Bayes tokens; callers run it after their reply. */
void spam_engine_train(struct spam_engine *e);
/* The model's upkeep for user, in one transaction done again after a
 * conflict with another writer (store_conflict): the LR's training
 * (SPAM_MAINT_TRAIN: now; _TRAIN_DUE: when enough samples changed,
 * lr_retrain) and the Bayes expiry over bayes_expiry_max_db_size
 * (SPAM_MAINT_EXPIRE: now; _EXPIRE_AFTER_TRAIN: if it trained; bayes.h).
 * 1 trained, 0 not, -1 store error; *expired_r tokens expired. */
enum {
	SPAM_MAINT_TRAIN = 1,
	SPAM_MAINT_TRAIN_DUE = 2,
	SPAM_MAINT_EXPIRE = 4,
	SPAM_MAINT_EXPIRE_AFTER_TRAIN = 8,
};
int spam_engine_maintain(struct spam_engine *e, const char *user, int flags,
    int64_t *expired_r);
void spam_verdict_free(struct spam_verdict *v);

/* The message with our X-Spam-* headers removed and `headers` added at
 * the top (subject tag applied if spam), malloc'ed into out. */
void spam_rewrite(struct spam_engine *e, const struct spam_verdict *v,
    const char *data, size_t len, const char *headers, struct buf *out);
/* The same without an engine: prepend `headers` (after an mbox "From "
 * line; in CRLF if the message's first line is), drop incoming X-Spam-*
 * headers, put subject_tag (if not "") in front of the Subject (or add a
 * Subject: with the tag when there is none). */
void spam_rewrite_text(const char *data, size_t len, const char *headers,
    const char *subject_tag, struct buf *out);

#endif
