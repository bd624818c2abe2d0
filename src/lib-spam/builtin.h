/* builtin.h - the rule files compiled into tempest (generated). */
#ifndef TEMPEST_BUILTIN_H
#define TEMPEST_BUILTIN_H

struct builtin_rules {
	const char *name;
	const char *text;
};

extern const struct builtin_rules spam_builtin_rules[];
extern const unsigned spam_builtin_nrules;

#endif
