/*
 * pop3_parser.h - POP3 command lines (RFC 1939, RFC 2449).
 *
 * Untrusted bytes: one client line (terminator removed), already bounded
 * by the session's line limit.  The parser is pure: it upper-cases the
 * keyword (1-8 letters) and splits at most POP3_MAX_ARGS arguments on
 * single spaces; control characters are refused.
 */
#ifndef TEMPEST_POP3_PARSER_H
#define TEMPEST_POP3_PARSER_H

#include <stddef.h>

#define POP3_MAX_ARGS 2
#define POP3_ARG_MAX 1024

struct pop3_cmd {
	char name[9];
	char *args[POP3_MAX_ARGS];      /* malloc'ed */
	unsigned nargs;
};

/* 0, or -1 with a static message in *error_r. */
int pop3_parse(const char *line, size_t len, struct pop3_cmd *cmd,
    const char **error_r);
void pop3_cmd_free(struct pop3_cmd *cmd);
/* Parse a message number argument (1..max).  0 or -1. */
int pop3_msgnum(const char *s, unsigned max, unsigned *r);

#endif
