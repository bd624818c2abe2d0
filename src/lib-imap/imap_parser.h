/*
 * imap_parser.h - the IMAP command parser (pure, bounded).
 *
 * Untrusted bytes: one whole client command as the session collected it,
 * i.e. the command line text with every literal included in wire form
 * ("{5}\r\nhello" or "{5+}\r\nhello" or "~{5}\r\n..." for literal8).
 * The parser never reads past `len`, refuses NULs outside literals, limits
 * list nesting and the number of arguments, and produces a tree of
 * arguments that owns copies of every string (NUL-terminated).
 *
 * The session side uses imap_line_literal() on each received line to find
 * out whether a literal follows, before it has the whole command.
 */
#ifndef TEMPEST_IMAP_PARSER_H
#define TEMPEST_IMAP_PARSER_H

#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,          /* includes BODY[...]<...> style tokens */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	char *str;              /* ATOM/QUOTED/LITERAL: NUL-terminated copy */
	size_t len;
	int literal8;           /* LITERAL sent as ~{n} */
	struct imap_arg *list;  /* LIST children */
	unsigned count;
};

struct imap_limits {
	unsigned max_depth;     /* list nesting, e.g. 16 */
	unsigned max_args;      /* arguments in total, e.g. 10000 */
};

struct imap_command {
	char *tag;
	char *name;             /* upper-cased */
	struct imap_arg *args;  /* top-level arguments after the name */
	unsigned count;
};

/*
 * Parse one command.  0 on success (free with imap_command_free), -1 with
 * a static message in *error_r; *tag_r (malloc'ed or NULL) gets the tag
 * when one could be read, so the caller can answer "<tag> BAD ...".
 */
int imap_parse_command(const char *data, size_t len,
    const struct imap_limits *lim, struct imap_command *cmd_r,
    char **tag_r, const char **error_r);
void imap_command_free(struct imap_command *cmd);

/*
 * Does this line (terminator removed) end in a literal announcement?
 * Returns 1 with the size, whether it is non-synchronising ("{n+}") and
 * literal8 ("~{n}"), 0 if not, -1 if it ends in a malformed or overlong
 * number ("{" digits "}" with more than 19 digits or none).
 */
int imap_line_literal(const char *line, size_t len, uint64_t *size_r,
    int *nonsync_r);

/* Argument helpers. */
int imap_arg_is_string(const struct imap_arg *a);   /* atom/quoted/literal */
int imap_arg_is_astring(const struct imap_arg *a);
int imap_arg_atom_eq(const struct imap_arg *a, const char *s);  /* case-insensitive */

#endif
