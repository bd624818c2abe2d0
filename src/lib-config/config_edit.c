/*
 * config_edit.c - the text edits of `postconf -e`, `-X` and `-#` on a
 * main.cf (config.h).  Pure: text in, text out, no files and no
 * configuration state.  The input is the administrator's main.cf; the
 * edits come from the command line of whoever may write it.
 *
 * A parameter's setting is its logical line as config.c reads it: the
 * line that starts with the name, and the lines after it that start
 * with white space, across the comment and blank lines between them,
 * which belong to no setting and are kept.
 */
#include <string.h>

#include "buf.h"
#include "config.h"
#include "mem.h"

/* What happens to the continuation lines of the setting being read. */
enum cont { CONT_KEEP, CONT_DROP, CONT_COMMENT };

static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
config_edit_valid(const char *name, const char *value)
{
	const char *p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!name_char(*p))
			return 0;
	return value == NULL || value[strcspn(value, "\r\n")] == '\0';
}

/* The edit for the setting on line [s, e), or NULL. */
static struct config_edit *
edit_of(const char *s, const char *e, struct config_edit *ed, size_t n)
{
	const char *q = s;

	while (q < e && name_char(*q))
		q++;
	for (size_t i = 0; i < n; i++)
		if (strlen(ed[i].name) == (size_t)(q - s) &&
		    memcmp(ed[i].name, s, (size_t)(q - s)) == 0)
			return &ed[i];
	return NULL;
}

static int
emit_setting(struct buf *out, const struct config_edit *ed)
{
	return buf_printf(out, "%s = %s\n", ed->name, ed->value);
}

int
config_edit_text(const char *text, size_t len, enum config_edit_op op,
    struct config_edit *ed, size_t n, struct buf *out)
{
	const char *p = text, *end = text + len;
	enum cont cont = CONT_KEEP;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (!config_edit_valid(ed[i].name,
		    op == CONFIG_EDIT_SET ? ed[i].value : NULL))
			return -1;
		ed[i].found = 0;
	}
	while (r == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl != NULL ? nl : end, *q = p;
		struct config_edit *x;

		while (q < e && (*q == ' ' || *q == '\t' || *q == '\r' ||
		    *q == '\f' || *q == '\v'))
			q++;
		if (q == e || *q == '#') {
			/* comments and blank lines are no setting's */
		} else if (q != p) {
			if (cont == CONT_DROP)
				goto next;
			if (cont == CONT_COMMENT)
				r = buf_appendc(out, '#');
		} else if ((x = edit_of(p, e, ed, n)) == NULL) {
			cont = CONT_KEEP;
		} else if (op == CONFIG_EDIT_COMMENT) {
			x->found++;
			cont = CONT_COMMENT;
			r = buf_appendc(out, '#');
		} else {
			/* set at the first setting, every later one dropped:
			 * the last would win otherwise */
			cont = CONT_DROP;
			if (op == CONFIG_EDIT_SET && x->found == 0)
				r = emit_setting(out, x);
			x->found++;
			goto next;
		}
		if (r == 0)
			r = buf_append(out, p, (size_t)(e - p));
		if (r == 0)
			r = buf_appendc(out, '\n');
next:
		p = nl != NULL ? nl + 1 : end;
	}
	for (size_t i = 0; r == 0 && op == CONFIG_EDIT_SET && i < n; i++)
		if (ed[i].found == 0)
			r = emit_setting(out, &ed[i]);
	return r;
}
