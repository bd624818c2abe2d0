/*
 * fuzz-recipe.c - libFuzzer target for the recipe language: the rcfile
 * parser (rc_parse), the regex dialect translation and compilation of
 * every condition, a bounded search, and the vacation header checks on
 * the same bytes taken as a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"
#include "recipe-vacation.h"

static void
walk(struct rc_item *items, size_t n, const char *text, size_t len)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		struct rc_recipe *r = items[i].recipe;
		if (r == NULL)
			continue;
		for (j = 0; j < r->nconds; j++) {
			char *err = NULL, *match = NULL;
			struct rc_regex *re = rc_regex_compile(r->conds[j].text,
			    r->flags[RCF_D], &err);
			free(err);
			if (re != NULL) {
				rc_regex_search(re, text, len, 10000, &match);
				free(match);
				rc_regex_free(&re);
			}
		}
		walk(r->block, r->nblock, text, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rc_limits lim = { 64 * 1024, 16, 2000 };
	char *err = NULL, *to = NULL;
	const char *why, *addrs[] = { "bob@example.net" };
	struct rc_file *f = rc_parse("fuzz.rc", (const char *)data, size, &lim,
	    &err);

	free(err);
	if (f != NULL) {
		walk(f->items, f->nitems, (const char *)data, size);
		rc_file_free(&f);
	}
	rc_vacation_check((const char *)data, size, addrs, 1, NULL, &to, &why);
	free(to);
	return 0;
}
