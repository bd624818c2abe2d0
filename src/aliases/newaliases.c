/*
 * newaliases.c - `tempest newaliases`: compile each hash: table of
 * alias_database (aliases(5) text: "name: target, target", continuation
 * lines starting with white space, # comments) into NAME.db, an SQLite
 * table map(key, value) that the hash: lookup type reads (the modern
 * equivalent of Postfix's hash: files).  The new file replaces the old
 * one atomically.  Warns when there is no postmaster alias.  The same
 * compile serves `tempest postmap` for "key value" tables
 * (table_compile.h).
 *
 * Input: the administrator's alias or table file (bounded lines and
 * entries).
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "str.h"
#include "table_compile.h"

#define ENTRY_MAX (1024 * 1024)

struct compile {
	const char *src;
	const char *tool;       /* newaliases, postmap: for the messages */
	int aliases;            /* "name: value", else "key value" */
	sqlite3 *db;
	sqlite3_stmt *ins;
	size_t n;
	int have_postmaster;
	int errors;
};

static void
entry_add(struct compile *c, const char *key, const char *value, int line)
{
	char *k = xstrdup(key);

	str_lower(k);
	if (*value == '\0' && c->aliases)
		fprintf(stderr, "tempest: %s: warning: %s:%d: empty "
		    "alias \"%s\"\n", c->tool, c->src, line, key);
	sqlite3_reset(c->ins);
	sqlite3_bind_text(c->ins, 1, k, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->ins, 2, value, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(c->ins) != SQLITE_DONE) {
		fprintf(stderr, "tempest: %s: %s: %s\n", c->tool, c->src,
		    sqlite3_errmsg(c->db));
		c->errors++;
	} else if (sqlite3_changes(c->db) == 0)
		fprintf(stderr, "tempest: %s: warning: %s:%d: duplicate "
		    "%s \"%s\" ignored (the first one counts)\n", c->tool,
		    c->src, line, c->aliases ? "alias" : "key", key);
	else
		c->n++;
	if (strcmp(k, "postmaster") == 0)
		c->have_postmaster = 1;
	free(k);
}

/* Parse the text and insert every entry. */
static int
parse(struct compile *c, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, start = 0;
	struct buf key, value;

	buf_init(&key, 1024);
	buf_init(&value, ENTRY_MAX);
	while ((len = getline(&line, &cap, fp)) >= 0) {
		char *p = line, *colon;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (*p == '#')
			continue;
		if (isspace((unsigned char)*p)) {
			p = str_trim(p);
			if (*p == '\0' || *p == '#')
				continue;
			if (key.len == 0) {
				fprintf(stderr, "tempest: %s: warning: "
				    "%s:%d: continuation line without a key: "
				    "ignored\n", c->tool, c->src, lineno);
				continue;
			}
			if (buf_printf(&value, "%s%s", value.len ? " " : "", p) < 0) {
				fprintf(stderr, "tempest: %s: %s:%d: "
				    "entry too long\n", c->tool, c->src, lineno);
				c->errors++;
			}
			continue;
		}
		if (key.len > 0)
			entry_add(c, buf_cstr(&key), buf_cstr(&value), start);
		buf_reset(&key);
		buf_reset(&value);
		if (*p == '\0')
			continue;
		if (!c->aliases) {
			/* "key value": the key ends at white space */
			char *v = p + strcspn(p, " \t");
			if (*v == '\0') {
				fprintf(stderr, "tempest: %s: warning: %s:%d: "
				    "need \"key value\": ignored\n", c->tool,
				    c->src, lineno);
				continue;
			}
			*v++ = '\0';
			buf_set(&key, p);
			buf_set(&value, str_trim(v));
			start = lineno;
			continue;
		}
		colon = strchr(p, ':');
		if (colon == NULL || colon == p) {
			fprintf(stderr, "tempest: %s: warning: %s:%d: "
			    "need \"name: value\": ignored\n", c->tool, c->src,
			    lineno);
			continue;
		}
		*colon = '\0';
		p = str_trim(p);
		if (*p == '"') {
			/* "quoted name": strip the quotes */
			size_t n = strlen(p);
			if (n >= 2 && p[n - 1] == '"') {
				p[n - 1] = '\0';
				p++;
			}
		}
		if (buf_set(&key, p) < 0 || strpbrk(p, " \t") != NULL) {
			fprintf(stderr, "tempest: %s: warning: %s:%d: bad "
			    "alias name: ignored\n", c->tool, c->src, lineno);
			buf_reset(&key);
			continue;
		}
		start = lineno;
		buf_set(&value, str_trim(colon + 1));
	}
	if (key.len > 0)
		entry_add(c, buf_cstr(&key), buf_cstr(&value), start);
	free(line);
	buf_free(&key);
	buf_free(&value);
	return c->errors > 0 ? -1 : 0;
}

int
table_compile(const char *src, int aliases)
{
	struct compile c;
	char *dst = xasprintf("%s.db", src), *tmp = xasprintf("%s.db.%ld",
	    src, (long)getpid());
	FILE *fp = fopen(src, "r");
	struct stat st;
	int r = -1;

	memset(&c, 0, sizeof(c));
	c.src = src;
	c.tool = aliases ? "newaliases" : "postmap";
	c.aliases = aliases;
	if (fp == NULL) {
		fprintf(stderr, "tempest: %s: %s: %s\n", c.tool, src,
		    strerror(errno));
		goto out;
	}
	(void)unlink(tmp);
	if (sqlite3_open(tmp, &c.db) != SQLITE_OK ||
	    sqlite3_exec(c.db, "PRAGMA journal_mode=OFF; BEGIN; CREATE TABLE "
	    "map (key TEXT PRIMARY KEY COLLATE NOCASE, value TEXT NOT NULL)",
	    NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c.db, "INSERT OR IGNORE INTO map VALUES (?1, ?2)",
	    -1, &c.ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "tempest: %s: %s: %s\n", c.tool, tmp,
		    c.db != NULL ? sqlite3_errmsg(c.db) : "cannot create");
		goto out;
	}
	if (parse(&c, fp) < 0)
		goto out;
	sqlite3_finalize(c.ins);
	c.ins = NULL;
	if (sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "tempest: %s: %s: %s\n", c.tool, tmp,
		    sqlite3_errmsg(c.db));
		goto out;
	}
	sqlite3_close(c.db);
	c.db = NULL;
	/* readable by the services, like the source */
	if (fstat(fileno(fp), &st) == 0) {
		(void)!chown(tmp, st.st_uid, st.st_gid);
		(void)chmod(tmp, (st.st_mode & 0644) | 0444);
	}
	if (rename(tmp, dst) < 0) {
		fprintf(stderr, "tempest: %s: rename %s: %s\n", c.tool, dst,
		    strerror(errno));
		goto out;
	}
	if (aliases && !c.have_postmaster)
		fprintf(stderr, "tempest: newaliases: warning: %s: no "
		    "\"postmaster\" alias (RFC 5321 requires one)\n", src);
	if (aliases)
		printf("tempest: newaliases: %s: %zu alias%s\n", dst, c.n,
		    c.n == 1 ? "" : "es");
	else
		printf("tempest: postmap: %s: %zu entr%s\n", dst, c.n,
		    c.n == 1 ? "y" : "ies");
	r = 0;
out:
	if (c.ins != NULL)
		sqlite3_finalize(c.ins);
	if (c.db != NULL)
		sqlite3_close(c.db);
	if (r < 0)
		(void)unlink(tmp);
	if (fp != NULL)
		fclose(fp);
	free(dst);
	free(tmp);
	return r;
}

int
newaliases_main(int argc, char **argv)
{
	char **v;
	size_t i;
	int r = 0, n = 0;

	(void)argc;
	(void)argv;
	config_load_or_die(ctl_config_dir());
	v = str_split(config_str("alias_database"), STR_LIST_SEPS, NULL);
	for (i = 0; v[i] != NULL; i++) {
		const char *spec = v[i];
		while (strncmp(spec, "proxy:", 6) == 0)
			spec += 6;
		if (strncmp(spec, "hash:", 5) != 0) {
			fprintf(stderr, "tempest: newaliases: %s: only hash: "
			    "tables are compiled (others are read as they are)\n",
			    spec);
			continue;
		}
		n++;
		if (table_compile(spec + 5, 1) < 0)
			r = 1;
	}
	str_split_free(&v);
	if (n == 0)
		fprintf(stderr, "tempest: newaliases: alias_database names no "
		    "hash: table\n");
	return r;
}
