/*
 * cleanup.c - the cleanup step (see cleanup.h).  Header names are
 * matched on bounded prefixes of each line; nothing is buffered beyond
 * the queue writer's own bounded buffer.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "resolve.h"
#include "smtp_parse.h"
#include "str.h"

struct cleanup {
	struct qwriter *w;
	int in_headers;
	int at_line_start;
	int cur_is_header;
	size_t header_bytes;
	size_t header_limit;
	int have_msgid, have_date;
	int hops;
	size_t nrcpt;
};

struct cleanup *
cleanup_open(const char *qdir, const char *sender,
    const struct cleanup_rcpt *rcpts, size_t nrcpt, const char *envid,
    int ret, char *const *attrs, char **error_r)
{
	struct cleanup *c;
	char *err = NULL;
	size_t i, j, k, nseen = 0;
	char **seen = NULL;

	c = xcalloc(1, sizeof(*c));
	c->w = qwriter_create(qdir, &err);
	if (c->w == NULL) {
		log_warn("%s", err);
		free(err);
		*error_r = xstrdup("4.3.0 Error: queue file write error");
		free(c);
		return NULL;
	}
	qwriter_record(c->w, 'S', sender, strlen(sender));
	if (envid != NULL && *envid != '\0')
		qwriter_record(c->w, 'V', envid, strlen(envid));
	if (ret) {
		char r[4];
		snprintf(r, sizeof(r), "%d", ret);
		qwriter_record(c->w, 'Z', r, strlen(r));
	}
	for (i = 0; attrs != NULL && attrs[i] != NULL; i++)
		qwriter_record(c->w, 'A', attrs[i], strlen(attrs[i]));
	for (i = 0; i < nrcpt; i++) {
		char **final = resolve_virtual_alias(rcpts[i].addr, &err);
		if (final == NULL) {
			if (err[0] == '4') {
				/* a table is unavailable: not accepted now
				 * (smtpd 451, pickup keeps the file), as
				 * Postfix's cleanup */
				log_warn("%s: %s -- message not accepted, try "
				    "again later", qwriter_id(c->w), err + 6);
				*error_r = xstrdup("4.3.0 Error: queue file "
				    "write error");
			} else {
				log_warn("%s: %s", qwriter_id(c->w), err);
				*error_r = xstrdup("5.4.6 Error: alias "
				    "expansion loop or limit exceeded");
			}
			free(err);
			cleanup_abort(&c);
			return NULL;
		}
		/* DSN: a recipient with NOTIFY=SUCCESS that virtual aliases
		 * expand into several gets an "expanded" notice (qmgr sends
		 * it, doc/dsn.md) and its new recipients NOTIFY less SUCCESS,
		 * as Postfix's cleanup; a 1:1 rewrite keeps NOTIFY */
		int notify = rcpts[i].notify;
		if ((notify & DSN_NOTIFY_SUCCESS) && final[0] != NULL &&
		    final[1] != NULL) {
			char *a = xasprintf("dsn_expanded=%s\t%s%s",
			    rcpts[i].addr, rcpts[i].orcpt != NULL &&
			    *rcpts[i].orcpt ? "" : "rfc822;",
			    rcpts[i].orcpt != NULL && *rcpts[i].orcpt ?
			    rcpts[i].orcpt : rcpts[i].addr);
			qwriter_record(c->w, 'A', a, strlen(a));
			free(a);
			notify = notify == DSN_NOTIFY_SUCCESS ?
			    DSN_NOTIFY_NEVER : notify & ~DSN_NOTIFY_SUCCESS;
		}
		for (j = 0; final[j] != NULL; j++) {
			char *rec;
			/* one copy per final recipient, as Postfix's
			 * duplicate filter */
			for (k = 0; k < nseen; k++)
				if (strcasecmp(seen[k], final[j]) == 0)
					break;
			if (k < nseen)
				continue;
			seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
			seen[nseen++] = xstrdup(final[j]);
			rec = xasprintf("%s\t%s\t%d", final[j],
			    rcpts[i].orcpt != NULL && *rcpts[i].orcpt ?
			    rcpts[i].orcpt : "", notify);
			char *orcpt = NULL;
			/* keep the original address for DSN when rewritten */
			if ((rcpts[i].orcpt == NULL || !*rcpts[i].orcpt) &&
			    strcasecmp(final[j], rcpts[i].addr) != 0) {
				orcpt = xasprintf("rfc822;%s", rcpts[i].addr);
				free(rec);
				rec = xasprintf("%s\t%s\t%d", final[j], orcpt,
				    notify);
			}
			qwriter_record(c->w, 'R', rec, strlen(rec));
			free(rec);
			free(orcpt);
			c->nrcpt++;
		}
		str_split_free(&final);
	}
	for (k = 0; k < nseen; k++)
		free(seen[k]);
	free(seen);
	if (c->nrcpt == 0) {
		*error_r = xstrdup("5.1.1 Error: no valid recipients");
		cleanup_abort(&c);
		return NULL;
	}
	qwriter_begin_content(c->w);
	c->in_headers = 1;
	c->at_line_start = 1;
	c->header_limit = (size_t)config_int("header_size_limit");
	return c;
}

const char *
cleanup_id(const struct cleanup *c)
{
	return qwriter_id(c->w);
}

size_t
cleanup_nrcpt(const struct cleanup *c)
{
	return c->nrcpt;
}

void
cleanup_received(struct cleanup *c, const char *received)
{
	qwriter_content(c->w, received, strlen(received));
	qwriter_content(c->w, "\n", 1);
}

static void
add_missing_headers(struct cleanup *c)
{
	char buf[512];

	if (!c->have_msgid) {
		int n = snprintf(buf, sizeof(buf), "Message-Id: <%s@%s>\n",
		    qwriter_id(c->w), config_str("myhostname"));
		if (n > 0 && (size_t)n < sizeof(buf))
			qwriter_content(c->w, buf, (size_t)n);
	}
	if (!c->have_date) {
		time_t now = time(NULL);
		struct tm tm;
		char d[64];
		localtime_r(&now, &tm);
		strftime(d, sizeof(d), "%a, %d %b %Y %H:%M:%S %z", &tm);
		snprintf(buf, sizeof(buf), "Date: %s\n", d);
		qwriter_content(c->w, buf, strlen(buf));
	}
	c->have_msgid = c->have_date = 1;
}

static int
header_is(const char *p, size_t n, const char *name)
{
	size_t l = strlen(name);
	size_t i = l;

	if (n < l || strncasecmp(p, name, l) != 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

static int
looks_like_header(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == ':')
			return i > 0;
		if (ch <= ' ' || ch >= 0x7f)
			return 0;
	}
	return 0;
}

void
cleanup_line(struct cleanup *c, const char *p, size_t n, int eol)
{
	if (c->in_headers && c->at_line_start) {
		if (n == 0 && eol) {
			add_missing_headers(c);
			c->in_headers = 0;
		} else if (p[0] == ' ' || p[0] == '\t') {
			/* continuation of the previous header */
		} else if (looks_like_header(p, n)) {
			if (header_is(p, n, "Message-Id"))
				c->have_msgid = 1;
			else if (header_is(p, n, "Date"))
				c->have_date = 1;
			else if (header_is(p, n, "Received"))
				c->hops++;
		} else {
			/* body without the empty separator line */
			add_missing_headers(c);
			qwriter_content(c->w, "\n", 1);
			c->in_headers = 0;
		}
	}
	if (c->in_headers) {
		c->header_bytes += n + (eol ? 1 : 0);
		if (c->header_bytes > c->header_limit) {
			/* as Postfix: the rest is treated as body */
			add_missing_headers(c);
			c->in_headers = 0;
		}
	}
	qwriter_content(c->w, p, n);
	if (eol)
		qwriter_content(c->w, "\n", 1);
	c->at_line_start = eol;
}

size_t
cleanup_size(const struct cleanup *c)
{
	return qwriter_content_len(c->w);
}

int
cleanup_flush_content(struct cleanup *c, off_t *off_r, size_t *len_r)
{
	*len_r = qwriter_content_len(c->w);
	return qwriter_flush_content(c->w, off_r);
}

int
cleanup_hops(const struct cleanup *c)
{
	return c->hops + 1;     /* our own Received header */
}

int
cleanup_take_fd(struct cleanup *c)
{
	return qwriter_take_fd(c->w);
}

int
cleanup_entry_durable(const struct cleanup *c)
{
	return qwriter_entry_durable(c->w);
}

int
cleanup_finish(struct cleanup *c, int sync, char **error_r)
{
	if (c->in_headers) {
		if (!c->at_line_start)
			qwriter_content(c->w, "\n", 1);
		add_missing_headers(c);
	}
	return qwriter_finish(c->w, sync, error_r);
}

void
cleanup_free(struct cleanup **cp)
{
	if (*cp == NULL)
		return;
	qwriter_free(&(*cp)->w);
	FREE(*cp);
}

struct copy_fd {
	struct cleanup *c;
	struct buf line;
	int headers_only;
};

/* qfile_read_range callback: split a chunk into lines for cleanup; 1
 * (stop) at the blank line after the header with headers_only. */
static int
copy_fd_chunk(const char *data, size_t n, void *arg)
{
	struct copy_fd *cp = arg;

	for (size_t k = 0; k < n; k++) {
		if (data[k] == '\n') {
			if (cp->headers_only && cp->line.len == 0)
				return 1;
			cleanup_line(cp->c, buf_cstr(&cp->line), cp->line.len, 1);
			buf_reset(&cp->line);
		} else if (buf_appendc(&cp->line, data[k]) < 0) {
			/* longer than the line buffer: pass a chunk */
			cleanup_line(cp->c, buf_cstr(&cp->line), cp->line.len, 0);
			buf_reset(&cp->line);
			buf_appendc(&cp->line, data[k]);
		}
	}
	return 0;
}

int
cleanup_copy_fd(struct cleanup *c, int fd, off_t off, size_t len,
    int headers_only)
{
	struct copy_fd cp = { .c = c, .headers_only = headers_only };
	int r;

	buf_init(&cp.line, 65536);
	r = qfile_read_range(fd, off, len, copy_fd_chunk, &cp);
	if (cp.line.len > 0)
		cleanup_line(c, buf_cstr(&cp.line), cp.line.len, 1);
	buf_free(&cp.line);
	return r < 0 ? -1 : 0;
}

void
cleanup_abort(struct cleanup **cp)
{
	if (*cp == NULL)
		return;
	qwriter_abort(&(*cp)->w);
	FREE(*cp);
}
