/*
 * master_cf.c - master.cf parser.  Administrator input, bounded by the
 * line and field limits below.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "master_cf.h"
#include "mem.h"
#include "str.h"

#define MASTER_CF_LINE_MAX 65536

static int
parse_yn(const char *field, int def, int *r)
{
	if (strcmp(field, "-") == 0) {
		*r = def;
		return 0;
	}
	if (strcmp(field, "y") == 0 || strcmp(field, "n") == 0) {
		*r = field[0] == 'y';
		return 0;
	}
	return -1;
}

static int
num(const char *field, int def, int *r, int allow_q)
{
	char *end;
	long v;

	if (strcmp(field, "-") == 0) {
		*r = def;
		return 0;
	}
	v = strtol(field, &end, 10);
	if (end == field || v < 0 || v > 1000000 ||
	    (*end != '\0' && !(allow_q && strcmp(end, "?") == 0)))
		return -1;
	*r = (int)v;
	return 0;
}

static int
parse_entry(char *text, int line, int default_maxproc, struct master_svc *s,
    const char *path, char **error_r)
{
	char **f = str_split(text, " \t", NULL);
	size_t n, i, na = 0, no = 0;
	const char *what = NULL;

	for (n = 0; f[n] != NULL; n++)
		;
	memset(s, 0, sizeof(*s));
	s->line = line;
	if (n < 8) {
		*error_r = xasprintf("%s:%d: expected at least 8 fields, found %zu",
		    path, line, n);
		str_split_free(&f);
		return -1;
	}
	s->name = xstrdup(f[0]);
	if (strcmp(f[1], "inet") == 0)
		s->type = SVC_INET;
	else if (strcmp(f[1], "unix") == 0)
		s->type = SVC_UNIX;
	else if (strcmp(f[1], "fifo") == 0)
		s->type = SVC_FIFO;
	else if (strcmp(f[1], "pass") == 0)
		s->type = SVC_PASS;
	else
		what = "bad transport type (inet, unix, fifo or pass)";
	if (what == NULL && parse_yn(f[2], s->type != SVC_INET, &s->private_) < 0)
		what = "bad private field (y, n or -)";
	if (what == NULL && parse_yn(f[3], 1, &s->unpriv) < 0)
		what = "bad unprivileged field (y, n or -)";
	if (what == NULL && parse_yn(f[4], 0, &s->chroot) < 0)
		what = "bad chroot field (y, n or -)";
	if (what == NULL && num(f[5], 0, &s->wakeup, 1) < 0)
		what = "bad wakeup time";
	if (what == NULL && num(f[6], default_maxproc, &s->maxproc, 0) < 0)
		what = "bad process limit";
	if (what != NULL) {
		*error_r = xasprintf("%s:%d: %s", path, line, what);
		str_split_free(&f);
		free(s->name);
		return -1;
	}
	s->command = xstrdup(f[7]);
	s->argv = xcalloc(n, sizeof(char *));
	s->overrides = xcalloc(n, sizeof(char *));
	for (i = 8; i < n; i++) {
		if (strcmp(f[i], "-o") == 0 || strncmp(f[i], "-o", 2) == 0) {
			const char *kv = f[i][2] ? f[i] + 2 : f[i + 1];
			if (kv == NULL || strchr(kv, '=') == NULL) {
				*error_r = xasprintf("%s:%d: -o needs name=value",
				    path, line);
				str_split_free(&f);
				return -1;
			}
			s->overrides[no++] = xstrdup(kv);
			if (!f[i][2])
				i++;
			continue;
		}
		s->argv[na++] = xstrdup(f[i]);
	}
	str_split_free(&f);
	return 0;
}

int
master_cf_load(const char *path, int default_maxproc, struct master_cf *cf,
    char **error_r)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, start = 0, r = 0;
	struct buf logical;

	cf->v = NULL;
	cf->n = 0;
	if (fp == NULL) {
		*error_r = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&logical, MASTER_CF_LINE_MAX);
	for (;;) {
		len = getline(&line, &cap, fp);
		if (len >= 0) {
			lineno++;
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				line[--len] = '\0';
			{
				char *p = line;
				while (isspace((unsigned char)*p))
					p++;
				if (*p == '#' || *p == '\0')
					continue;
				if (p != line && logical.len > 0) {
					if (buf_appendc(&logical, ' ') < 0 ||
					    buf_appends(&logical, p) < 0) {
						*error_r = xasprintf("%s:%d: entry "
						    "too long", path, lineno);
						r = -1;
						break;
					}
					continue;
				}
			}
		}
		if (logical.len > 0) {
			struct master_svc s;
			size_t i;
			if (parse_entry((char *)logical.data, start,
			    default_maxproc, &s, path, error_r) < 0) {
				r = -1;
				break;
			}
			for (i = 0; i < cf->n; i++)
				if (strcmp(cf->v[i].name, s.name) == 0 &&
				    cf->v[i].type == s.type) {
					*error_r = xasprintf("%s:%d: duplicate "
					    "service %s (first at line %d)", path,
					    start, s.name, cf->v[i].line);
					r = -1;
				}
			cf->v = xreallocarray(cf->v, cf->n + 1, sizeof(*cf->v));
			cf->v[cf->n++] = s;
			if (r < 0)
				break;
		}
		if (len < 0)
			break;
		buf_set(&logical, line);
		start = lineno;
	}
	buf_free(&logical);
	free(line);
	fclose(fp);
	if (r < 0)
		master_cf_free(cf);
	return r;
}

void
master_svc_free(struct master_svc *s)
{
	FREE(s->name);
	FREE(s->command);
	str_split_free(&s->argv);
	str_split_free(&s->overrides);
}

void
master_cf_free(struct master_cf *cf)
{
	for (size_t i = 0; i < cf->n; i++)
		master_svc_free(&cf->v[i]);
	FREE(cf->v);
	cf->n = 0;
}
