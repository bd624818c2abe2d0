/*
 * bayes.h - the Bayesian classifier: tokenizer, Robinson/Fisher
 * chi-square combining, learning and forgetting over the store.
 *
 * Tokens (hashed to 64 bits, FNV-1a): words of the rendered body
 * (lower-cased, 3..24 bytes; longer ones as "sk:" skip tokens, long
 * numbers by length), word bigrams, header words prefixed by the header
 * name ("Hsubject:free"), header names, URI hosts and their parent
 * domains, MIME types/charsets/encodings/attachment extensions, and a
 * few analysis flags; list and delivery headers (List-*, Sender, ...)
 * are skipped.  Each token counts once per message.
 *
 * Per-token probability (Robinson): p = (s/NS) / (s/NS + h/NH),
 * f = (S*X + n*p) / (S + n) with S = 0.45, X = 0.538, n = s + h; tokens
 * with |f - 0.5| < 0.1 are ignored and the 400 strongest kept; Fisher's
 * chi-square combining gives I = (1 + S - H) / 2.  An "unsure" gate
 * (bogofilter-style: s = 0.15, x = 0.52, every token with |f - 0.5| >=
 * 0.375) turns I into 0.5 when it sees strong evidence both ways (its S
 * and H both > 0.9999).
 */
#ifndef TEMPEST_BAYES_H
#define TEMPEST_BAYES_H

#include <stddef.h>
#include <stdint.h>

struct mime_msg;
struct store;

struct bayes_opts {
	long min_spam;          /* messages needed before Bayes is used */
	long min_ham;
};

/* The tokenizer's hash (64-bit FNV-1a), continuing from h; start with
 * BAYES_HASH_INIT.  lr.c hashes its features with it too. */
#define BAYES_HASH_INIT 0xcbf29ce484222325ULL
static inline uint64_t
bayes_hash(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Unique tokens of a message (malloc'ed array). */
void bayes_tokenize(const struct mime_msg *m, uint64_t **tok_r, size_t *n_r);
/* Debug/test form: the token strings themselves, one per line. */
char *bayes_token_text(const struct mime_msg *m);
/* Identifies a message for learn bookkeeping: its Message-ID (a long one
 * shortened with its SHA-256) and a hash of its body, at most
 * BAYES_MSGKEY_MAX bytes, the part of a key MariaDB's index keeps. */
#define BAYES_MSGKEY_MAX 255
char *bayes_msgkey(const struct mime_msg *m);

struct bayes_counts;
/* The combination alone (pure): spam probability of a message whose n
 * tokens have the database counts c[], with tot messages learned (both
 * > 0).  Robinson f(w), Fisher's chi-square over the 400 strongest,
 * then the "unsure" gate (see bayes.c) may return 0.5. */
double bayes_combine(const struct bayes_counts *c, size_t n,
    const struct bayes_counts *tot);
/* Spam probability 0..1; -1 when the database has fewer messages than
 * opts requires; -2 on a store error (*error_r static). */
double bayes_classify(struct store *st, const char *user,
    const struct mime_msg *m, const struct bayes_opts *o, const char **error_r);
/* The same for the tokens of bayes_tokenize(). */
double bayes_classify_tokens(struct store *st, const char *user,
    const uint64_t *tok, size_t n, const struct bayes_opts *o, const char **error_r);

enum bayes_learned {
	BAYES_LEARNED,          /* new */
	BAYES_RELEARNED,        /* was learned as the other class */
	BAYES_ALREADY,          /* already learned as this class */
	BAYES_FORGOTTEN,
	BAYES_NOT_FOUND,        /* forget: was never learned */
};
/* Learn m as spam (1) or ham (0), or forget it.  Result or -1.  One
 * transaction (all or nothing), done again after a conflict with another
 * writer (store_transaction), unless the caller has one open (tempest
 * learn batches many; it does the same for the batch).  The logistic
 * regression's sample (lr.h) is stored or removed with it
 * (also for BAYES_ALREADY, so that mail learned before the LR existed
 * gains one when learned again); its weights are trained separately
 * (lr.h). */
int bayes_learn(struct store *st, const char *user, const struct mime_msg *m,
    int spam, int forget);

/* Expiry (SpamAssassin's bayes_expiry_max_db_size): when user's
 * database holds more than max tokens, tokens go until 3/4 of max are
 * left: those last learned on the oldest day first, within a day the
 * rarest (store_bayes_expire).  The message totals stay.  The count deleted (0 under
 * max, or when max <= 0), -1 on a store error. */
int64_t bayes_expire(struct store *st, const char *user, int64_t max);

/* Copy user's Bayes database (tokens with their counts and learn
 * times, totals, learned-message marks) and its LR samples from one
 * store to another, where user's database must be empty (moving from
 * the embedded SQLite store to a shared MariaDB one).  0, or -1 with
 * *error_r (static, or the store's).  The LR weights are not copied:
 * the caller retrains them (lr_retrain).  In the caller's transaction
 * on `to`, if any. */
struct bayes_copied {
	int64_t tokens, seen, samples;
};
int bayes_copy(struct store *from, struct store *to, const char *user,
    struct bayes_copied *n, const char **error_r);

/* Chi-square survival function for even degrees of freedom (exposed for
 * tests). */
double bayes_chi2q(double x2, int v);

#endif
