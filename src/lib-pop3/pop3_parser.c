/*
 * pop3_parser.c - POP3 command tokenizer.
 *
 * Untrusted bytes: the client's command line.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pop3_parser.h"

int
pop3_parse(const char *line, size_t len, struct pop3_cmd *cmd,
    const char **error_r)
{
	size_t i = 0, n = 0;

	memset(cmd, 0, sizeof(*cmd));
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f) {
			*error_r = "Invalid characters in command";
			return -1;
		}
	while (i < len && isalpha((unsigned char)line[i])) {
		if (n == 8) {
			*error_r = "Unknown command";
			return -1;
		}
		cmd->name[n++] = (char)toupper((unsigned char)line[i++]);
	}
	if (n == 0 || (i < len && line[i] != ' ')) {
		*error_r = "Unknown command";
		return -1;
	}
	if (strcmp(cmd->name, "PASS") == 0 && i < len) {
		/* RFC 1939 allows spaces in the password: the rest of the line */
		if (len - i - 1 == 0 || len - i - 1 > POP3_ARG_MAX) {
			*error_r = "Invalid password argument";
			return -1;
		}
		cmd->args[cmd->nargs++] = xstrndup(line + i + 1, len - i - 1);
		return 0;
	}
	while (i < len) {
		size_t start;
		i++;    /* the space */
		start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (i == start) {
			*error_r = "Empty argument";
			goto fail;
		}
		if (cmd->nargs == POP3_MAX_ARGS || i - start > POP3_ARG_MAX) {
			*error_r = "Too many or too long arguments";
			goto fail;
		}
		cmd->args[cmd->nargs++] = xstrndup(line + start, i - start);
	}
	return 0;
fail:
	pop3_cmd_free(cmd);
	return -1;
}

void
pop3_cmd_free(struct pop3_cmd *cmd)
{
	for (unsigned i = 0; i < cmd->nargs; i++)
		FREE(cmd->args[i]);
	cmd->nargs = 0;
}

int
pop3_msgnum(const char *s, unsigned max, unsigned *r)
{
	unsigned long v = 0;

	if (*s < '1' || *s > '9')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return -1;
	}
	*r = (unsigned)v;
	return 0;
}
