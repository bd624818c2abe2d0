/*
 * alias_parse.h - pure parsing of forwarding lists: the value of an
 * aliases(5) entry and the body of a .forward or :include: file (which
 * a local user controls).  No I/O, every buffer bounded.
 */
#ifndef TEMPEST_ALIAS_PARSE_H
#define TEMPEST_ALIAS_PARSE_H

#include <stddef.h>

#define ALIAS_TOKEN_MAX 4096

/* Called with each target (NUL-terminated, trimmed, quotes removed; the
 * callee may modify it).  A non-zero return stops the split. */
typedef int (*alias_target_fn)(void *arg, char *target);

/* Split a list: commas outside double quotes separate targets; an
 * unquoted target that is not |command, /file, :include:... or \user and
 * contains white space is several addresses.  Returns the number of targets given to
 * fn, or -1 when a target is longer than ALIAS_TOKEN_MAX (targets before
 * it were given). */
int alias_split(const char *list, alias_target_fn fn, void *arg);

/* Turn a file body (one or more targets per line, # comments, blank
 * lines) into one list value for alias_split (malloc'ed). */
char *alias_file_list(const char *body, size_t len);

#endif
