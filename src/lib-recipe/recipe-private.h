/*
 * recipe-private.h - internals shared by the lib-recipe files.
 */
#ifndef TEMPEST_RECIPE_PRIVATE_H
#define TEMPEST_RECIPE_PRIVATE_H

#include "recipe.h"

enum rc_xmode {
	RC_X_WORDS,     /* split into words on unquoted white space */
	RC_X_ASSIGN,    /* one word (an assignment value) */
	RC_X_DQUOTE,    /* as inside double quotes ($ conditions) */
};

struct rc_expand_ops {
	void *ctx;
	/* NULL when unset */
	const char *(*getvar)(void *ctx, const char *name);
	/* $$ $? $_ $- $= $# $0..$9: malloc'ed */
	char *(*special)(void *ctx, char c);
	/* `cmd`: malloc'ed output, trailing newlines removed */
	char *(*command)(void *ctx, const char *cmd);
};

/* 0, or -1 when the result was cut at the size bound. */
int rc_expand(struct rc_expand_ops *ops, const char *s, enum rc_xmode mode,
    char ***words_r, size_t *n_r);
/* Expand and join the words with single spaces (malloc'ed). */
char *rc_expand1(struct rc_expand_ops *ops, const char *s, enum rc_xmode mode);
void rc_words_free(char ***w, size_t n);

/* End offset of the last successful rc_regex_search(). */
size_t rc_regex_match_end(struct rc_regex *re);

#endif
