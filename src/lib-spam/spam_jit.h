/*
 * spam_jit.h - when lib-spam JIT-compiles its patterns.
 *
 * PCRE2's JIT compile of a pattern costs more than matching it
 * interpreted a few times, so a process that scans one message (spamc
 * without --batch) compiles none: ruleset_set_jit(rs, 0) says so for the
 * rule set's patterns and, through spam_jit_fixed_set(), for the fixed
 * patterns of lib-spam's own code (relay layouts, dates, the eval tests'
 * patterns), which are compiled once per process.  A one-message scan
 * with Debian's SpamAssassin rules JIT-compiled 59 of those, 3 ms of CPU.
 * Every match has a match limit, so an interpreted pattern stays bounded.
 */
#ifndef TEMPEST_SPAM_JIT_H
#define TEMPEST_SPAM_JIT_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* TEMPEST_RULES_NO_JIT=1 in the environment (read once): no pattern is
 * JIT-compiled, not even late (for tests). */
int rule_jit_disabled(void);

/* Whether the fixed patterns are JIT-compiled from now on (default on). */
void spam_jit_fixed_set(int on);

/* JIT-compile fixed pattern re (may be NULL) unless that is off. */
void spam_jit_fixed(pcre2_code *re);

#endif
