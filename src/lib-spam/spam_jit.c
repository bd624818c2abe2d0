/* spam_jit.c - when lib-spam JIT-compiles its patterns (spam_jit.h). */
#include <stdlib.h>
#include <string.h>

#include "spam_jit.h"

static int fixed_off;

int
rule_jit_disabled(void)
{
	static int off = -1;

	if (off < 0) {
		const char *v = getenv("TEMPEST_RULES_NO_JIT");
		off = v != NULL && strcmp(v, "1") == 0;
	}
	return off;
}

void
spam_jit_fixed_set(int on)
{
	fixed_off = !on;
}

void
spam_jit_fixed(pcre2_code *re)
{
	if (re != NULL && !fixed_off && !rule_jit_disabled())
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
}
