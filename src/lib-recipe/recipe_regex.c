/*
 * recipe_regex.c - procmail's egrep dialect on top of PCRE2.
 *
 * Untrusted bytes: the expression comes from the recipient's rcfile, the
 * subject text from the message.  The translation is a pure function;
 * matching runs with a PCRE2 match limit so a catastrophic expression
 * ends with an error instead of burning CPU.
 *
 * Dialect notes (procmail's regexp.c semantics):
 *   ^ and $ match a newline (start/end of text count as one); "^^" at the
 *   start/end of an expression anchors to the start/end of the text;
 *   . and negated classes never match a newline; inside [...] a backslash
 *   is an ordinary character; { } are ordinary; \< and \> match one
 *   non-word character (or the text edge); \/ starts the part that is
 *   copied to MATCH; \c quotes c.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "recipe.h"

static const struct {
	const char *key, *subst;
	int nocase;
} macros[] = {
	{ "^FROM_DAEMON", "(^(Mailing-List:|Precedence:.*(junk|bulk|list)|To: Multiple recipients of |(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)|n?uucp|LIST(SERV|proc)|NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\\.smtp)|echo|mirror|s(erv(ices?|er)|mtp(error)?|ystem)|A(dmin(istrator)?|MMGR|utoanswer))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$)))", 1 },
	{ "^TO_", "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^-a-zA-Z0-9_.])?)", 0 },
	{ "^TO", "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^a-zA-Z])?)", 0 },
	{ "^FROM_MAILER", "(^(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops|r(esponse|oot)|(bbs\\.)?smtp(error)?|s(erv(ices?|er)|ystem)|A(dmin(istrator)?|MMGR))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$))", 1 },
};

#define RX_MAX_LEN (64 * 1024)

/* Expand the macros as procmail does: repeatedly, first match in table
 * order, not when the key is preceded by a backslash. */
static char *
expand_macros(const char *pm, int *nocase_r)
{
	char *s = xstrdup(pm);
	size_t i;
	int rounds = 0;

again:
	if (++rounds > 64 || strlen(s) > RX_MAX_LEN)
		return s;
	for (i = 0; i < NELEM(macros); i++) {
		char *hit = s;
		while ((hit = strstr(hit, macros[i].key)) != NULL) {
			if (hit > s && hit[-1] == '\\') {
				hit++;
				continue;
			}
			char *n = xasprintf("%.*s%s%s", (int)(hit - s), s,
			    macros[i].subst, hit + strlen(macros[i].key));
			free(s);
			s = n;
			if (macros[i].nocase)
				*nocase_r = 1;
			goto again;
		}
	}
	return s;
}

static int
at_alt_start(const char *pm, const char *p)
{
	return p == pm || p[-1] == '(' || p[-1] == '|';
}

static int
at_alt_end(const char *p)
{
	return p[0] == '\0' || p[0] == ')' || p[0] == '|';
}

/* Does the expression hold a \/ (outside a class)? */
static int
has_split(const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']')
				p++;
			if (*p == '\0')
				return 0;
		} else if (*p == '\\') {
			if (p[1] == '/')
				return 1;
			if (p[1] != '\0')
				p++;
		}
	}
	return 0;
}

char *
rc_regex_translate(const char *in, int *force_nocase_r, int *has_match_r)
{
	struct buf o;
	char *pm, *p;
	int nocase = 0, split = 0, depth = 0, split_depth = 0, lazy, atom = 0;

	pm = expand_macros(in, &nocase);
	buf_init(&o, BUF_UNLIMITED);
	buf_appends(&o, "");
	lazy = has_split(pm);
	for (p = pm; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		int was_atom = atom;
		atom = 1;
		switch (c) {
		case '^':
			atom = 0;
			if (p[1] == '^') {
				p++;
				buf_appends(&o, at_alt_end(p + 1) ? "\\z" : "\\A");
			} else if (at_alt_start(pm, p))
				buf_appends(&o, "(?:^)");
			else
				buf_appends(&o, "\\n");
			break;
		case '$':
			buf_appends(&o, "(?:\\n|\\z)");
			break;
		case '.':
			buf_appends(&o, "[^\\n]");
			break;
		case '(':
			depth++;
			buf_appends(&o, "(?:");
			atom = 0;
			break;
		case ')':
			if (depth == 0) {
				buf_appends(&o, "\\)");
				break;
			}
			depth--;
			buf_appendc(&o, ')');
			break;
		case '|':
			buf_appendc(&o, '|');
			atom = 0;
			break;
		case '*': case '+': case '?':
			/* a quantifier with nothing to repeat is literal */
			if (!was_atom)
				buf_printf(&o, "\\%c", c);
			else {
				buf_appendc(&o, (char)c);
				/* before \/ procmail matches as little as it can */
				if (lazy && !split)
					buf_appendc(&o, '?');
				atom = 0;
			}
			break;
		case '[': {
			int neg = 0;
			p++;
			buf_appendc(&o, '[');
			if (*p == '^') {
				neg = 1;
				p++;
				buf_appendc(&o, '^');
			}
			if (*p == ']') {
				buf_appends(&o, "\\]");
				p++;
			}
			for (; *p != '\0' && *p != ']'; p++) {
				if (*p == '-' && p[1] != ']' && p[1] != '\0' &&
				    o.data[o.len - 1] != '[' && o.data[o.len - 1] != '^')
					buf_appendc(&o, '-');
				else if ((unsigned char)*p < 128 &&
				    !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				    (*p >= '0' && *p <= '9')))
					buf_printf(&o, "\\x{%x}", (unsigned char)*p);
				else
					buf_appendc(&o, *p);
			}
			if (neg)
				buf_appends(&o, "\\n");
			buf_appendc(&o, ']');
			if (*p == '\0')
				p--;
			break;
		}
		case '\\':
			p++;
			if (*p == '\0') {
				buf_appends(&o, "\\\\");
				p--;
			} else if (*p == '/' && !split) {
				split = 1;
				split_depth = depth;
				buf_appendc(&o, '(');
				atom = 0;
			} else if (*p == '<')
				buf_appends(&o, "(?:[^a-zA-Z0-9_]|\\A)");
			else if (*p == '>')
				buf_appends(&o, "(?:[^a-zA-Z0-9_]|\\z)");
			else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || (unsigned char)*p >= 128)
				buf_appendc(&o, *p);
			else
				buf_printf(&o, "\\x{%x}", (unsigned char)*p);
			break;
		default:
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c >= 128 || c == ' ')
				buf_appendc(&o, (char)c);
			else
				buf_printf(&o, "\\x{%x}", c);
		}
	}
	while (depth-- > 0)
		buf_appendc(&o, ')');
	if (split) {
		(void)split_depth;
		buf_appendc(&o, ')');
	}
	free(pm);
	*force_nocase_r = nocase;
	*has_match_r = split;
	return buf_steal(&o);
}

struct rc_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	int has_match;
};

struct rc_regex *
rc_regex_compile(const char *pm, int casesens, char **error_r)
{
	struct rc_regex *re;
	int nocase, has_match, err;
	PCRE2_SIZE off;
	char *pat = rc_regex_translate(pm, &nocase, &has_match);
	uint32_t opts = PCRE2_MULTILINE;
	pcre2_code *code;

	if (!casesens || nocase)
		opts |= PCRE2_CASELESS;
	code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts,
	    &err, &off, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		*error_r = xasprintf("invalid regexp \"%s\": %s", pm, msg);
		free(pat);
		return NULL;
	}
	free(pat);
	re = xcalloc(1, sizeof(*re));
	re->code = code;
	re->md = pcre2_match_data_create_from_pattern(code, NULL);
	re->has_match = has_match;
	return re;
}

void
rc_regex_free(struct rc_regex **rep)
{
	struct rc_regex *re = *rep;

	if (re == NULL)
		return;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
	*rep = NULL;
}

int
rc_regex_search(struct rc_regex *re, const char *text, size_t len,
    unsigned long match_limit, char **match_r)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	int rc;

	if (match_r != NULL)
		*match_r = NULL;
	pcre2_set_match_limit(mc, (uint32_t)match_limit);
	pcre2_set_depth_limit(mc, (uint32_t)(match_limit / 10 + 100));
	rc = pcre2_match(re->code, (PCRE2_SPTR)text, len, 0, 0, re->md, mc);
	pcre2_match_context_free(mc);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1;
	if (re->has_match && match_r != NULL && rc >= 2) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
		if (ov[2] != PCRE2_UNSET) {
			size_t e = ov[3];
			/* procmail leaves a trailing newline out of MATCH */
			while (e > ov[2] && text[e - 1] == '\n')
				e--;
			*match_r = xstrndup(text + ov[2], e - ov[2]);
		}
	}
	return 1;
}

size_t
rc_regex_match_end(struct rc_regex *re)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);

	return ov[1];
}
