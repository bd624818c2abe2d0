/*
 * maps.c - lookup tables.  Table files are administrator-owned; lookup
 * keys come from SMTP envelopes and are bounded by the SMTP parser.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "maps.h"
#include "mem.h"
#include "str.h"

enum map_type { MAP_TEXT, MAP_INLINE, MAP_STATIC, MAP_PASSWD_FILE, MAP_UNIX };

struct kv {
	char *key;
	char *value;
};

struct map {
	enum map_type type;
	char *path;
	struct kv *kv;          /* sorted by key */
	size_t n;
	struct timespec mtime;
	off_t size;
	time_t checked;         /* last stat(), at most once a second */
	char *result;
	/* hash: tables compiled by newaliases into PATH.db (SQLite) */
	int hashdb;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct timespec db_mtime;
	time_t db_checked;
};

struct maplist {
	struct map **v;
	size_t n;
};

static int
kv_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static void
map_clear(struct map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->kv[i].key);
		free(m->kv[i].value);
	}
	FREE(m->kv);
	m->n = 0;
}

static void
map_add(struct map *m, const char *k, size_t klen, const char *v)
{
	m->kv = xreallocarray(m->kv, m->n + 1, sizeof(*m->kv));
	m->kv[m->n].key = xstrndup(k, klen);
	m->kv[m->n].value = xstrdup(v);
	m->n++;
}

static void
map_sort(struct map *m)
{
	size_t i, j;

	qsort(m->kv, m->n, sizeof(*m->kv), kv_cmp);
	/* first definition wins, as with postmap */
	for (i = j = 0; i < m->n; i++) {
		if (j > 0 && strcasecmp(m->kv[j - 1].key, m->kv[i].key) == 0) {
			free(m->kv[i].key);
			free(m->kv[i].value);
			continue;
		}
		m->kv[j++] = m->kv[i];
	}
	m->n = j;
}

/* Load a "key value" file with continuation lines, or a passwd-file. */
static int
map_load_file(struct map *m, char **error_r)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct stat st;
	int lineno = 0;

	fp = fopen(m->path, "r");
	if (fp == NULL && errno == ENOENT) {
		/* a table that does not exist yet is empty */
		map_clear(m);
		m->size = -1;
		return 0;
	}
	if (fp == NULL) {
		*error_r = xasprintf("open %s: %s", m->path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == 0) {
		m->mtime = st.st_mtim;
		m->size = st.st_size;
	}
	map_clear(m);
	while ((len = getline(&line, &cap, fp)) >= 0) {
		char *p = line, *k;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if (m->type == MAP_PASSWD_FILE) {
			/* user:pass:uid:gid:gecos:home:shell:extra */
			char *f[8] = { 0 };
			int i = 0;
			char *s = p, *colon;
			while (i < 8 && s != NULL) {
				f[i++] = s;
				colon = strchr(s, ':');
				if (colon != NULL)
					*colon++ = '\0';
				s = colon;
			}
			if (f[0] == NULL || *f[0] == '\0')
				continue;
			map_add(m, f[0], strlen(f[0]), f[5] != NULL ? f[5] : "");
			continue;
		}
		if (p != line && m->n > 0) {
			/* continuation line */
			char *nv = xasprintf("%s %s", m->kv[m->n - 1].value, p);
			free(m->kv[m->n - 1].value);
			m->kv[m->n - 1].value = nv;
			continue;
		}
		k = p;
		while (*p != '\0' && !isspace((unsigned char)*p) &&
		    !(*p == ':' && m->type == MAP_TEXT && 0))
			p++;
		{
			size_t klen = (size_t)(p - k);
			/* aliases(5) syntax: "name: value" */
			if (klen > 0 && k[klen - 1] == ':')
				klen--;
			while (isspace((unsigned char)*p))
				p++;
			map_add(m, k, klen, p);
		}
	}
	(void)lineno;
	free(line);
	fclose(fp);
	map_sort(m);
	return 0;
}

static void
map_refresh(struct map *m)
{
	struct stat st;
	char *err = NULL;

	time_t now = time(NULL);

	if (m->path == NULL || m->checked == now)
		return;
	m->checked = now;
	if (stat(m->path, &st) != 0) {
		if (m->size != -1)
			map_clear(m);
		m->size = -1;
		return;
	}
	if (st.st_mtim.tv_sec == m->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == m->mtime.tv_nsec && st.st_size == m->size)
		return;
	if (map_load_file(m, &err) < 0) {
		log_warn("%s", err);
		free(err);
	}
}

static void
map_db_close(struct map *m)
{
	if (m->stmt != NULL)
		sqlite3_finalize(m->stmt);
	if (m->db != NULL)
		sqlite3_close(m->db);
	m->stmt = NULL;
	m->db = NULL;
}

/* Lookup in PATH.db when it exists: 1 found, 0 not, -1 error, -2 no
 * compiled file (use the text).  The file is re-opened when it changes. */
static int
map_db_lookup(struct map *m, const char *key, const char **value_r)
{
	time_t now = time(NULL);
	int r;

	if (m->db_checked != now) {
		char *dbpath = xasprintf("%s.db", m->path);
		struct stat st;
		m->db_checked = now;
		if (stat(dbpath, &st) != 0) {
			map_db_close(m);
		} else if (m->db == NULL ||
		    st.st_mtim.tv_sec != m->db_mtime.tv_sec ||
		    st.st_mtim.tv_nsec != m->db_mtime.tv_nsec) {
			struct stat tst;
			map_db_close(m);
			m->db_mtime = st.st_mtim;
			if (stat(m->path, &tst) == 0 &&
			    tst.st_mtim.tv_sec > st.st_mtim.tv_sec)
				log_warn("%s.db is older than %s: the compiled "
				    "table is used (run tempest newaliases)",
				    m->path, m->path);
			if (sqlite3_open_v2(dbpath, &m->db, SQLITE_OPEN_READONLY,
			    NULL) != SQLITE_OK || sqlite3_prepare_v2(m->db,
			    "SELECT value FROM map WHERE key = ?1", -1,
			    &m->stmt, NULL) != SQLITE_OK) {
				log_warn("%s: %s", dbpath, m->db != NULL ?
				    sqlite3_errmsg(m->db) : "cannot open");
				map_db_close(m);
				free(dbpath);
				return -1;
			}
		}
		free(dbpath);
	}
	if (m->db == NULL)
		return -2;
	sqlite3_reset(m->stmt);
	sqlite3_bind_text(m->stmt, 1, key, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(m->stmt);
	if (r == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(m->stmt, 0);
		free(m->result);
		m->result = xstrdup(v != NULL ? (const char *)v : "");
		*value_r = m->result;
		sqlite3_reset(m->stmt);
		return 1;
	}
	sqlite3_reset(m->stmt);
	if (r == SQLITE_DONE)
		return 0;
	log_warn("%s.db: %s", m->path, sqlite3_errmsg(m->db));
	return -1;
}

static int
map_parse_inline(struct map *m, const char *spec, char **error_r)
{
	size_t len = strlen(spec);
	char *body, **items;
	size_t i;

	if (len < 2 || spec[0] != '{' || spec[len - 1] != '}') {
		*error_r = xasprintf("inline table must be {key=value, ...}: %s", spec);
		return -1;
	}
	body = xstrndup(spec + 1, len - 2);
	items = str_split(body, ", \t", NULL);
	for (i = 0; items[i] != NULL; i++) {
		char *eq = strchr(items[i], '=');
		if (eq == NULL) {
			*error_r = xasprintf("inline table entry needs key=value: %s",
			    items[i]);
			str_split_free(&items);
			free(body);
			return -1;
		}
		*eq = '\0';
		map_add(m, items[i], strlen(items[i]), eq + 1);
	}
	str_split_free(&items);
	free(body);
	map_sort(m);
	return 0;
}

struct map *
map_open(const char *spec, char **error_r)
{
	struct map *m = xcalloc(1, sizeof(*m));
	const char *colon;

	while (strncmp(spec, "proxy:", 6) == 0)
		spec += 6;
	colon = strchr(spec, ':');
	if (colon == NULL) {
		*error_r = xasprintf("lookup table needs type:name: %s", spec);
		free(m);
		return NULL;
	}
	if (strncmp(spec, "hash:", 5) == 0)
		m->hashdb = 1;
	if (strncmp(spec, "texthash:", 9) == 0 || strncmp(spec, "hash:", 5) == 0 ||
	    strncmp(spec, "btree:", 6) == 0 || strncmp(spec, "lmdb:", 5) == 0) {
		m->type = MAP_TEXT;
		m->path = xstrdup(colon + 1);
	} else if (strncmp(spec, "passwd-file:", 12) == 0) {
		m->type = MAP_PASSWD_FILE;
		m->path = xstrdup(colon + 1);
	} else if (strncmp(spec, "static:", 7) == 0) {
		m->type = MAP_STATIC;
		m->result = xstrdup(colon + 1);
		return m;
	} else if (strncmp(spec, "inline:", 7) == 0) {
		m->type = MAP_INLINE;
		if (map_parse_inline(m, colon + 1, error_r) < 0) {
			map_free(&m);
			return NULL;
		}
		return m;
	} else if (strcmp(spec, "unix:passwd.byname") == 0) {
		m->type = MAP_UNIX;
		return m;
	} else {
		*error_r = xasprintf("unsupported lookup table type: %s", spec);
		free(m);
		return NULL;
	}
	if (map_load_file(m, error_r) < 0) {
		map_free(&m);
		return NULL;
	}
	return m;
}

void
map_free(struct map **mp)
{
	struct map *m = *mp;

	if (m == NULL)
		return;
	map_clear(m);
	map_db_close(m);
	free(m->path);
	free(m->result);
	FREE(*mp);
}

int
map_lookup(struct map *m, const char *key, const char **value_r)
{
	struct kv k, *hit;

	switch (m->type) {
	case MAP_STATIC:
		*value_r = m->result;
		return 1;
	case MAP_UNIX: {
		struct passwd *pw;
		char lower[256];
		if (strlen(key) >= sizeof(lower) || strchr(key, '@') != NULL)
			return 0;
		snprintf(lower, sizeof(lower), "%s", key);
		pw = getpwnam(lower);
		if (pw == NULL) {
			str_lower(lower);
			pw = getpwnam(lower);
		}
		if (pw == NULL)
			return 0;
		free(m->result);
		m->result = xasprintf("%s:%ld:%ld:%s", pw->pw_name,
		    (long)pw->pw_uid, (long)pw->pw_gid, pw->pw_dir);
		*value_r = m->result;
		return 1;
	}
	case MAP_TEXT:
		if (m->hashdb) {
			int r = map_db_lookup(m, key, value_r);
			if (r != -2)
				return r;
		}
		map_refresh(m);
		break;
	case MAP_PASSWD_FILE:
		map_refresh(m);
		break;
	case MAP_INLINE:
		break;
	}
	k.key = (char *)key;
	hit = bsearch(&k, m->kv, m->n, sizeof(*m->kv), kv_cmp);
	if (hit == NULL)
		return 0;
	*value_r = hit->value;
	return 1;
}

struct maplist *
maplist_open(const char *value, char **error_r)
{
	struct maplist *ml = xcalloc(1, sizeof(*ml));
	char **specs;
	size_t i;

	/* inline:{a=b, c=d} contains separators: split, then re-join braces */
	specs = str_split(value, STR_LIST_SEPS, NULL);
	for (i = 0; specs[i] != NULL; i++) {
		struct map *m;
		char *spec = xstrdup(specs[i]);
		while (strchr(spec, '{') != NULL && strchr(spec, '}') == NULL &&
		    specs[i + 1] != NULL) {
			char *j = xasprintf("%s, %s", spec, specs[++i]);
			free(spec);
			spec = j;
		}
		m = map_open(spec, error_r);
		free(spec);
		if (m == NULL) {
			str_split_free(&specs);
			maplist_free(&ml);
			return NULL;
		}
		ml->v = xreallocarray(ml->v, ml->n + 1, sizeof(*ml->v));
		ml->v[ml->n++] = m;
	}
	str_split_free(&specs);
	return ml;
}

void
maplist_free(struct maplist **mlp)
{
	struct maplist *ml = *mlp;
	size_t i;

	if (ml == NULL)
		return;
	for (i = 0; i < ml->n; i++)
		map_free(&ml->v[i]);
	free(ml->v);
	FREE(*mlp);
}

int
maplist_lookup(struct maplist *ml, const char *key, const char **value_r)
{
	size_t i;
	int r;

	if (ml == NULL)
		return 0;
	for (i = 0; i < ml->n; i++)
		if ((r = map_lookup(ml->v[i], key, value_r)) != 0)
			return r;
	return 0;
}

int
maplist_empty(const struct maplist *ml)
{
	return ml == NULL || ml->n == 0;
}
