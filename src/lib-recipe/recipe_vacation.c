/*
 * recipe_vacation.c - the RFC 3834 decision of the vacation responder:
 * should this message get an automatic reply, and to whom.
 *
 * Untrusted bytes: the whole message (only the header is read, through
 * lib-mail's header splitter, with a bound on its size and on each
 * unfolded field).  Pure: no I/O.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mail_header.h"
#include "mem.h"
#include "recipe-vacation.h"

#define VAC_HEADER_MAX (256 * 1024)
#define VAC_FIELD_MAX (16 * 1024)

/* The unfolded value of the first field called name (lib-mail's header
 * splitting, doc/mime.md), leading and trailing blanks removed, or NULL. */
char *
rc_vac_header(const char *msg, size_t len, const char *name)
{
	struct buf v;
	size_t skip = 0;
	char *r;

	if (len > VAC_HEADER_MAX)
		len = VAC_HEADER_MAX;
	buf_init(&v, VAC_FIELD_MAX);
	if (mail_header_get(msg, len, name, &v) < 0) {
		buf_free(&v);
		return NULL;
	}
	while (skip < v.len && (v.data[skip] == ' ' || v.data[skip] == '\t'))
		skip++;
	r = xstrndup(buf_cstr(&v) + skip, v.len - skip);
	buf_free(&v);
	return r;
}

/* The address in "Name <addr>", "<addr>" or "addr (comment)". */
char *
rc_vac_address(const char *v)
{
	const char *lt = strchr(v, '<'), *s, *e;

	if (lt != NULL) {
		s = lt + 1;
		e = strchr(s, '>');
		if (e == NULL)
			e = s + strlen(s);
	} else {
		s = v;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s;
		while (*e != '\0' && *e != ' ' && *e != '\t' && *e != '(' &&
		    *e != ',')
			e++;
	}
	return xstrndup(s, (size_t)(e - s));
}

static int
contains_address(const char *hay, const char *addr)
{
	size_t n = strlen(addr);
	const char *p = hay;

	if (n == 0)
		return 0;
	while ((p = strcasestr(p, addr)) != NULL) {
		char before = p == hay ? ' ' : p[-1];
		char after = p[n];
		if (!(isalnum((unsigned char)before) || strchr(".-_+=", before)) &&
		    (after == '\0' ||
		    !(isalnum((unsigned char)after) || strchr(".-_@", after))))
			return 1;
		p++;
	}
	return 0;
}

static int
localpart_is(const char *addr, const char *what)
{
	size_t n = strcspn(addr, "@");
	return strlen(what) == n && strncasecmp(addr, what, n) == 0;
}

int
rc_vacation_check(const char *msg, size_t len, const char *const *addrs,
    size_t naddrs, const char *login, char **to_r, const char **why_r)
{
	char *v, *sender = NULL;
	size_t i, n;
	int rc = 0;

	*to_r = NULL;
	*why_r = NULL;
	/* the envelope sender: Return-Path, else the From_ line */
	if ((v = rc_vac_header(msg, len, "Return-Path")) != NULL) {
		sender = rc_vac_address(v);
		free(v);
	} else if (len > 5 && strncmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);
		char *line = xstrndup(msg + 5, (nl != NULL ? (size_t)(nl - msg) : len) - 5);
		sender = rc_vac_address(line);
		free(line);
	} else if ((v = rc_vac_header(msg, len, "Sender")) != NULL ||
	    (v = rc_vac_header(msg, len, "From")) != NULL) {
		sender = rc_vac_address(v);
		free(v);
	}
	if (sender == NULL || *sender == '\0' || strcmp(sender, "<>") == 0) {
		*why_r = "null sender";
		goto out;
	}
	n = strcspn(sender, "@");
	if (localpart_is(sender, "MAILER-DAEMON") || localpart_is(sender, "postmaster") ||
	    localpart_is(sender, "listserv") || localpart_is(sender, "majordomo") ||
	    strncasecmp(sender, "owner-", 6) == 0 ||
	    (n >= 8 && strncasecmp(sender + n - 8, "-request", 8) == 0) ||
	    (n >= 6 && strncasecmp(sender + n - 6, "-owner", 6) == 0)) {
		*why_r = "sender is a daemon or a list";
		goto out;
	}
	if ((v = rc_vac_header(msg, len, "Auto-Submitted")) != NULL) {
		int no = strncasecmp(v, "no", 2) == 0 &&
		    (v[2] == '\0' || v[2] == ';' || v[2] == ' ' || v[2] == '(');
		free(v);
		if (!no) {
			*why_r = "Auto-Submitted";
			goto out;
		}
	}
	if ((v = rc_vac_header(msg, len, "Precedence")) != NULL) {
		int bulk = strncasecmp(v, "bulk", 4) == 0 ||
		    strncasecmp(v, "list", 4) == 0 || strncasecmp(v, "junk", 4) == 0;
		free(v);
		if (bulk) {
			*why_r = "Precedence bulk/list/junk";
			goto out;
		}
	}
	{
		static const char *const listh[] = { "List-Id", "List-Post",
		    "List-Unsubscribe", "Mailing-List", "X-Mailing-List" };
		for (i = 0; i < sizeof(listh) / sizeof(listh[0]); i++) {
			if ((v = rc_vac_header(msg, len, listh[i])) != NULL) {
				free(v);
				*why_r = "mailing list";
				goto out;
			}
		}
	}
	if ((v = rc_vac_header(msg, len, "X-Spam-Flag")) != NULL) {
		int spam = strncasecmp(v, "yes", 3) == 0;
		free(v);
		if (spam) {
			*why_r = "spam";
			goto out;
		}
	}
	/* addressed to one of the user's addresses? */
	if (naddrs > 0 || login != NULL) {
		static const char *const rh[] = { "To", "Cc", "Resent-To",
		    "Resent-Cc", "Delivered-To" };
		int found = 0;
		size_t k;
		for (k = 0; k < sizeof(rh) / sizeof(rh[0]) && !found; k++) {
			if ((v = rc_vac_header(msg, len, rh[k])) == NULL)
				continue;
			for (i = 0; i < naddrs && !found; i++)
				found = contains_address(v, addrs[i]);
			if (!found && login != NULL && naddrs == 0) {
				char *l = xasprintf("%s@", login);
				found = strcasestr(v, l) != NULL;
				free(l);
			}
			free(v);
		}
		if (!found) {
			*why_r = "not addressed to the user";
			goto out;
		}
	}
	*to_r = sender;
	sender = NULL;
	rc = 1;
out:
	free(sender);
	return rc;
}
