/*
 * token_cache.c - Bayes token counts of one user between classifications
 * (token_cache.h).  No untrusted bytes: tokens are hashes the tokenizer
 * made.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "token_cache.h"

#define SLOT_BITS 16
#define NSLOTS (1u << SLOT_BITS)

struct slot {
	uint64_t tok;
	int64_t spam, ham;
	uint32_t gen;           /* valid when the cache's generation */
};

struct token_cache {
	struct slot *slot;
	uint32_t gen;           /* bumped to drop every slot at once */
	char *user;             /* the user served, NULL: none */
	int64_t store_gen;              /* the token generation expected next */
	uint64_t hits, lookups;
};

/* The tokens are FNV-1a hashes: a multiply spreads them over the slots. */
static size_t
slot_of(uint64_t tok)
{
	return (size_t)((tok * 0x9e3779b97f4a7c15ULL) >> (64 - SLOT_BITS));
}

struct token_cache *
token_cache_new(void)
{
	struct token_cache *c = xcalloc(1, sizeof(*c));

	c->slot = xcalloc(NSLOTS, sizeof(*c->slot));
	c->gen = 1;
	return c;
}

void
token_cache_free(struct token_cache **cp)
{
	if (*cp == NULL)
		return;
	free((*cp)->slot);
	free((*cp)->user);
	FREE(*cp);
}

void
token_cache_clear(struct token_cache *c)
{
	if (++c->gen == 0) {
		memset(c->slot, 0, NSLOTS * sizeof(*c->slot));
		c->gen = 1;
	}
	FREE(c->user);
}

static int
serves(const struct token_cache *c, const char *user)
{
	return c->user != NULL && strcmp(c->user, user) == 0;
}

void
token_cache_generation(struct token_cache *c, const char *user, int64_t gen)
{
	if (serves(c, user) && gen == c->store_gen)
		return;
	token_cache_clear(c);
	c->user = xstrdup(user);
	c->store_gen = gen;
}

size_t
token_cache_get(struct token_cache *c, const char *user, const uint64_t *tok,
    size_t n, struct bayes_counts *out, size_t *miss_r)
{
	size_t nmiss = 0;
	int on = serves(c, user);

	for (size_t i = 0; i < n; i++) {
		const struct slot *s = &c->slot[slot_of(tok[i])];
		if (on && s->gen == c->gen && s->tok == tok[i]) {
			out[i].spam = s->spam;
			out[i].ham = s->ham;
		} else {
			miss_r[nmiss++] = i;
		}
	}
	c->lookups += n;
	c->hits += n - nmiss;
	return nmiss;
}

void
token_cache_put(struct token_cache *c, const char *user, uint64_t tok,
    const struct bayes_counts *counts)
{
	struct slot *s = &c->slot[slot_of(tok)];

	if (!serves(c, user))
		return;
	s->tok = tok;
	s->spam = counts->spam;
	s->ham = counts->ham;
	s->gen = c->gen;
}

void
token_cache_changed(struct token_cache *c, const char *user, const uint64_t *tok,
    size_t n)
{
	if (!serves(c, user))
		return;
	c->store_gen++;
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &c->slot[slot_of(tok[i])];
		if (s->tok == tok[i])
			s->gen = 0;
	}
}

void
token_cache_stats(const struct token_cache *c, uint64_t *hits_r, uint64_t *lookups_r)
{
	*hits_r = c != NULL ? c->hits : 0;
	*lookups_r = c != NULL ? c->lookups : 0;
}
