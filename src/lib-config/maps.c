/*
 * maps.c - lookup tables.  Table files are administrator-owned; lookup
 * keys come from SMTP envelopes and are bounded by the SMTP parser.
 */
#include <sys/stat.h>
#include <fcntl.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

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
	char *spec;             /* "type:name", for the log */
	char *path;
	struct kv *kv;          /* sorted by key */
	size_t n;
	/* the loaded file: kept open so a chrooted process sees changes */
	int fd;
	struct stat st;
	char *error;            /* unavailable: why (NULL while loaded) */
	int error_hit;          /* a lookup failed because of it */
	time_t checked;         /* last stat(), at most once a second */
	uint64_t checked_ns;    /* the same, monotonic (miss re-checks) */
	int snapshot;           /* unix: users copied before chroot */
	char *result;
	/* hash: tables compiled by newaliases into PATH.db (SQLite) */
	int hashdb;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	struct timespec db_mtime;
	time_t db_checked;
	uint64_t db_checked_ns;
	int db_fd;              /* chroot: the database file, for fstat() */
	struct stat db_st;
	struct map *next_all;
};

struct maplist {
	struct map **v;
	size_t n;
};

/*
 * A key not found is looked up again after a fresh stat() of its file
 * (a user added a moment ago must not bounce), unless that file was
 * stat()ed less than this long ago: the lookups of one command (an
 * address and its @domain, the RCPT check and the same expansion at
 * DATA) share one check instead of one stat() each.
 */
#define MAP_MISS_RECHECK_NS 1000000ULL          /* 1 ms */

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* every open table, for maps_prepare_chroot() and maps_changed() */
static struct map *all_maps;
static int maps_chrooted;

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

/* The table cannot be read: no entries, lookups fail until it can. */
static void
map_fail(struct map *m, char *why)
{
	map_clear(m);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	memset(&m->st, 0, sizeof(m->st));
	if (m->error == NULL || strcmp(m->error, why) != 0)
		log_warn("table %s is unavailable: %s%s", m->spec, why,
		    maps_chrooted ? " (opened inside the chroot)" : "");
	free(m->error);
	m->error = why;
}

/* Same file, same contents as when it was loaded (as far as stat says). */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Parse one line of a "key value" file or a passwd-file into m. */
static void
map_parse_line(struct map *m, char *line, ssize_t len)
{
	char *p = line, *k;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '#' || *p == '\0')
		return;
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
			return;
		map_add(m, f[0], strlen(f[0]), f[5] != NULL ? f[5] : "");
		return;
	}
	if (p != line && m->n > 0) {
		/* continuation line */
		char *nv = xasprintf("%s %s", m->kv[m->n - 1].value, p);
		free(m->kv[m->n - 1].value);
		m->kv[m->n - 1].value = nv;
		return;
	}
	k = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
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

/* Load a "key value" file with continuation lines, or a passwd-file.
 * 0 loaded; -1 unavailable (m->error says why, logged). */
static int
map_load_file(struct map *m)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct stat st;
	int fd, dfd, rerr;

	fd = open(m->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		map_fail(m, xasprintf("open %s: %s", m->path, strerror(errno)));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		map_fail(m, xasprintf("fstat %s: %s", m->path, strerror(errno)));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		map_fail(m, xasprintf("read %s: %s", m->path, strerror(EISDIR)));
		close(fd);
		return -1;
	}
	/* read through a second descriptor: fd stays open, at offset 0 */
	if ((dfd = dup(fd)) < 0 || (fp = fdopen(dfd, "r")) == NULL) {
		map_fail(m, xasprintf("read %s: %s", m->path, strerror(errno)));
		if (dfd >= 0)
			close(dfd);
		close(fd);
		return -1;
	}
	map_clear(m);
	while ((len = getline(&line, &cap, fp)) >= 0)
		map_parse_line(m, line, len);
	rerr = ferror(fp) ? errno : 0;
	free(line);
	fclose(fp);
	if (rerr != 0) {
		map_fail(m, xasprintf("read %s: %s", m->path, strerror(rerr)));
		close(fd);
		return -1;
	}
	map_sort(m);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	m->st = st;
	if (m->error != NULL) {
		log_info("table %s is available again", m->spec);
		FREE(m->error);
	}
	m->error_hit = 0;
	return 0;
}

/* Re-read a table whose file changed (only where its path is visible). */
static void
map_refresh(struct map *m)
{
	struct stat st;
	time_t now = time(NULL);

	/* a table in error is tried again at every lookup: mail flows
	 * again as soon as it is fixed */
	if (m->path == NULL || maps_chrooted ||
	    (m->checked == now && m->error == NULL))
		return;
	m->checked = now;
	m->checked_ns = mono_ns();
	if (stat(m->path, &st) != 0) {
		map_fail(m, xasprintf("open %s: %s", m->path, strerror(errno)));
		return;
	}
	if (m->error == NULL && same_file(&st, &m->st))
		return;
	(void)map_load_file(m);
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
	if (m->db_fd >= 0)
		close(m->db_fd);
	m->db_fd = -1;
}

/* Open PATH.db (read-only); 0 ok, -1 error (logged). */
static int
map_db_open(struct map *m, const char *dbpath)
{
	if (sqlite3_open_v2(dbpath, &m->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(m->db,
	    "SELECT value FROM map WHERE key = ?1", -1, &m->stmt, NULL) !=
	    SQLITE_OK) {
		log_warn("table %s is unavailable: %s: %s", m->spec, dbpath,
		    m->db != NULL ? sqlite3_errmsg(m->db) : "cannot open");
		map_db_close(m);
		return -1;
	}
	return 0;
}

/* Lookup in PATH.db when it exists: 1 found, 0 not, -1 error, -2 no
 * compiled file (use the text).  The file is re-opened when it changes
 * (not in a chroot: there it was opened by maps_prepare_chroot()). */
static int
map_db_lookup(struct map *m, const char *key, const char **value_r)
{
	time_t now = time(NULL);
	int r;

	if (!maps_chrooted && m->db_checked != now) {
		char *dbpath = xasprintf("%s.db", m->path);
		struct stat st;
		m->db_checked = now;
		m->db_checked_ns = mono_ns();
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
			if (map_db_open(m, dbpath) < 0) {
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
	log_warn("table %s: %s.db: %s", m->spec, m->path, sqlite3_errmsg(m->db));
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
	m->fd = m->db_fd = -1;
	m->spec = xstrdup(spec);
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
	} else if (strncmp(spec, "inline:", 7) == 0) {
		m->type = MAP_INLINE;
		if (map_parse_inline(m, colon + 1, error_r) < 0) {
			map_free(&m);
			return NULL;
		}
	} else if (strcmp(spec, "unix:passwd.byname") == 0) {
		m->type = MAP_UNIX;
	} else {
		*error_r = xasprintf("unsupported lookup table type: %s", spec);
		map_free(&m);
		return NULL;
	}
	if (m->path != NULL) {
		/* unreadable now: a temporary error for every lookup until
		 * it can be read (logged by map_load_file) */
		m->checked = time(NULL);
		m->checked_ns = mono_ns();
		(void)map_load_file(m);
	}
	m->next_all = all_maps;
	all_maps = m;
	return m;
}

void
map_free(struct map **mp)
{
	struct map *m = *mp, **pp;

	if (m == NULL)
		return;
	for (pp = &all_maps; *pp != NULL; pp = &(*pp)->next_all)
		if (*pp == m) {
			*pp = m->next_all;
			break;
		}
	map_clear(m);
	map_db_close(m);
	if (m->fd >= 0)
		close(m->fd);
	free(m->spec);
	free(m->path);
	free(m->result);
	free(m->error);
	FREE(*mp);
}

static int
map_unix_lookup(struct map *m, const char *key, const char **value_r)
{
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

int
map_lookup(struct map *m, const char *key, const char **value_r)
{
	struct kv k, *hit;

	switch (m->type) {
	case MAP_STATIC:
		*value_r = m->result;
		return 1;
	case MAP_UNIX:
		if (!m->snapshot)
			return map_unix_lookup(m, key, value_r);
		if (strchr(key, '@') != NULL)
			return 0;
		break;
	case MAP_TEXT:
		if (m->hashdb) {
			int r = map_db_lookup(m, key, value_r);
			if (r == 0 && m->db_checked == time(NULL) &&
			    !maps_chrooted && mono_ns() - m->db_checked_ns >=
			    MAP_MISS_RECHECK_NS) {
				/* "unknown" may bounce mail: not from a
				 * database that changed within this second */
				m->db_checked = 0;
				r = map_db_lookup(m, key, value_r);
			}
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
	if (m->error != NULL) {
		log_warn("%s: lookup of \"%s\" failed: %s", m->spec, key,
		    m->error);
		m->error_hit = 1;
		return -1;
	}
	k.key = (char *)key;
	hit = bsearch(&k, m->kv, m->n, sizeof(*m->kv), kv_cmp);
	if (hit == NULL && m->path != NULL && !maps_chrooted &&
	    m->checked == time(NULL) &&
	    mono_ns() - m->checked_ns >= MAP_MISS_RECHECK_NS) {
		/* not found, by a file last checked within this second
		 * (but not within the last millisecond): it may have changed
		 * since (a user just added must not bounce), so check it now */
		m->checked = 0;
		map_refresh(m);
		if (m->error != NULL)
			return map_lookup(m, key, value_r);
		hit = bsearch(&k, m->kv, m->n, sizeof(*m->kv), kv_cmp);
	}
	if (hit == NULL)
		return 0;
	*value_r = hit->value;
	return 1;
}

/* unix:passwd.byname in a chroot: a copy of the users, and /etc/passwd
 * kept open so that a change (useradd replaces it) restarts the process */
static void
map_unix_snapshot(struct map *m)
{
	struct passwd *pw;
	int fd;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		char *v = xasprintf("%s:%ld:%ld:%s", pw->pw_name,
		    (long)pw->pw_uid, (long)pw->pw_gid, pw->pw_dir);
		map_add(m, pw->pw_name, strlen(pw->pw_name), v);
		free(v);
	}
	endpwent();
	map_sort(m);
	m->snapshot = 1;
	if ((fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)) >= 0 &&
	    fstat(fd, &m->st) == 0)
		m->fd = fd;
	else if (fd >= 0)
		close(fd);
}

void
maps_prepare_chroot(void)
{
	struct map *m;

	for (m = all_maps; m != NULL; m = m->next_all) {
		if (m->type == MAP_UNIX && !m->snapshot) {
			map_unix_snapshot(m);
		} else if (m->hashdb && m->db_fd < 0) {
			char *dbpath = xasprintf("%s.db", m->path);
			int fd = open(dbpath, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &m->db_st) == 0 &&
			    (m->db != NULL || map_db_open(m, dbpath) == 0))
				m->db_fd = fd;
			else if (fd >= 0)
				close(fd);
			free(dbpath);
		}
	}
	maps_chrooted = 1;
}

/* Whether the open file fd no longer is what was loaded (st). */
static int
fd_changed(int fd, const struct stat *st)
{
	struct stat now;

	if (fd < 0)
		return 0;
	if (fstat(fd, &now) < 0)
		return 1;
	return now.st_nlink == 0 || !same_file(&now, st);
}

const char *
maps_changed(int *unavailable_r)
{
	static char *found;
	static int found_unavail;
	struct map *m;

	if (!maps_chrooted)
		return NULL;
	if (found != NULL) {
		*unavailable_r = found_unavail;
		return found;
	}
	/* one fstat() per table file: cheap enough before every accept */
	for (m = all_maps; m != NULL && found == NULL; m = m->next_all) {
		if (m->error != NULL && m->error_hit) {
			found_unavail = 1;
			found = xstrdup(m->spec);
		} else if (fd_changed(m->fd, &m->st) ||
		    fd_changed(m->db_fd, &m->db_st)) {
			found_unavail = 0;
			found = xstrdup(m->spec);
		}
	}
	if (found != NULL)
		*unavailable_r = found_unavail;
	return found;
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
