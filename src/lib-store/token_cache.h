/*
 * token_cache.h - Bayes token counts of one user kept between
 * classifications by a store handle (store.c), so that a long-lived
 * classifier (the filter, `spamc --batch`) does not seek the same
 * frequent tokens in the database for every message.
 *
 * Valid while the user's token generation, read with the totals at the
 * start of a classification, is what the cache expects.  The store
 * counts a generation per user that every write of tokens raises
 * (learning, forgetting, expiry, a copy; store.c), so a write by
 * another process or handle, even one that leaves the totals as they
 * were (a message learned and another of the same class forgotten, an
 * expiry), makes the cache start over at the next classification; the
 * totals themselves are read afresh every time and not cached.  Its
 * own writes through the same handle move the expectation along: their
 * tokens are dropped and the generation counted one up.
 * Direct-mapped, a fixed 2 MiB.
 */
#ifndef TEMPEST_TOKEN_CACHE_H
#define TEMPEST_TOKEN_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct token_cache;

struct token_cache *token_cache_new(void);
void token_cache_free(struct token_cache **c);
/* The token generation just read for user: the cache goes on serving
 * user when it is the expected one, else it starts over for user and
 * this generation. */
void token_cache_generation(struct token_cache *c, const char *user, int64_t gen);
/* Fill out[i] of the cached tokens of user; the positions of the others
 * (all n when the cache does not serve user) go to miss_r.  The count of
 * misses. */
size_t token_cache_get(struct token_cache *c, const char *user, const uint64_t *tok,
    size_t n, struct bayes_counts *out, size_t *miss_r);
/* Remember counts read from the store for user. */
void token_cache_put(struct token_cache *c, const char *user, uint64_t tok,
    const struct bayes_counts *counts);
/* This handle changed n tokens of user (one write, one generation):
 * drop them. */
void token_cache_changed(struct token_cache *c, const char *user, const uint64_t *tok,
    size_t n);
/* Forget everything (after a rollback, an expiry, a bulk write). */
void token_cache_clear(struct token_cache *c);
/* Lookups served and lookups asked for, since the cache was made. */
void token_cache_stats(const struct token_cache *c, uint64_t *hits_r, uint64_t *lookups_r);

#endif
