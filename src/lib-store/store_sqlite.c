/*
 * store_sqlite.c - the SQLite driver of the store (the embedded
 * default).  One file holds every table; WAL mode so readers (the
 * filter) and a writer (learn, quarantine) work at once; a busy timeout
 * so concurrent processes wait instead of failing.  Values from mail are
 * only ever bound as parameters.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "store-private.h"

enum {
	Q_TOK_GET, Q_TOK_UPD, Q_TOK_GC, Q_TOT_GET, Q_TOT_ADD, Q_SEEN_GET,
	Q_SEEN_SET, Q_SEEN_DEL, Q_NTOK, Q_QPUT, Q_QLIST, Q_QGET, Q_QDEL, Q_QEXP,
	Q_LGET, Q_LSET, Q_LDEL, Q_LRS_PUT, Q_LRS_DEL, Q_LRS_ALL, Q_LRM_CHG,
	Q_LRM_INFO, Q_LRM_GET, Q_LRM_PUT, Q_LRW_PUT, Q_LRS_NTH, Q_LRS_TRIM, Q_TOK_EXP, Q_TOK_ALL, Q_TOK_PUT,
	Q_SEEN_ALL, Q_USERS, Q_LLIST, Q_LRS_KIND, Q_GEN_BUMP, Q_CLAIM_GET, Q_CLAIM_PUT, Q_CLAIM_DEL, Q_MAX
};

static const char *const sql_text[Q_MAX] = {
	[Q_TOK_GET] = "SELECT spam, ham FROM bayes_token WHERE user = ?1 AND token = ?2",
	[Q_TOK_UPD] = "INSERT INTO bayes_token (user, token, spam, ham, atime) "
	    "VALUES (?1, ?2, max(0, ?3), max(0, ?4), ?5) "
	    "ON CONFLICT (user, token) DO UPDATE SET spam = max(0, spam + ?3), "
	    "ham = max(0, ham + ?4), atime = ?5",
	[Q_TOK_GC] = "DELETE FROM bayes_token WHERE user = ?1 AND token = ?2 AND spam = 0 AND ham = 0",
	[Q_TOT_GET] = "SELECT (SELECT nspam FROM bayes_total WHERE user = ?1), "
	    "(SELECT nham FROM bayes_total WHERE user = ?1), "
	    "(SELECT gen FROM bayes_gen WHERE user = ?1)",
	[Q_GEN_BUMP] = "INSERT INTO bayes_gen (user, gen) VALUES (?1, 1) "
	    "ON CONFLICT (user) DO UPDATE SET gen = gen + 1",
	[Q_TOT_ADD] = "INSERT INTO bayes_total (user, nspam, nham) VALUES (?1, max(0, ?2), max(0, ?3)) "
	    "ON CONFLICT (user) DO UPDATE SET nspam = max(0, nspam + ?2), nham = max(0, nham + ?3)",
	[Q_SEEN_GET] = "SELECT kind FROM bayes_seen WHERE user = ?1 AND msgkey = ?2",
	[Q_SEEN_SET] = "INSERT OR REPLACE INTO bayes_seen (user, msgkey, kind) VALUES (?1, ?2, ?3)",
	[Q_SEEN_DEL] = "DELETE FROM bayes_seen WHERE user = ?1 AND msgkey = ?2",
	[Q_NTOK] = "SELECT count(*) FROM bayes_token WHERE user = ?1",
	[Q_TOK_ALL] = "SELECT token, spam, ham, atime FROM bayes_token WHERE user = ?1",
	[Q_TOK_PUT] = "INSERT INTO bayes_token (user, token, spam, ham, atime) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) "
	    "ON CONFLICT (user, token) DO UPDATE SET spam = ?3, ham = ?4, atime = ?5",
	[Q_SEEN_ALL] = "SELECT msgkey, kind FROM bayes_seen WHERE user = ?1",
	[Q_USERS] = "SELECT user FROM bayes_total UNION SELECT user FROM lr_model ORDER BY 1",
	[Q_LLIST] = "SELECT recipient, tag_level, spam_level, quarantine_level, reject_level "
	    "FROM spam_levels ORDER BY recipient",
	[Q_TOK_EXP] = "DELETE FROM bayes_token WHERE user = ?1 AND token IN "
	    "(SELECT token FROM bayes_token WHERE user = ?1 ORDER BY atime / 86400, spam + ham, atime LIMIT ?2)",
	[Q_QPUT] = "INSERT INTO quarantine (id, created, sender, recipients, subject, score, tests, message, envelope) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_QLIST] = "SELECT id, created, sender, recipients, subject, score, tests FROM quarantine ORDER BY created, id",
	[Q_QGET] = "SELECT id, created, sender, recipients, subject, score, tests, message, envelope FROM quarantine WHERE id = ?1",
	[Q_QDEL] = "DELETE FROM quarantine WHERE id = ?1",
	[Q_QEXP] = "DELETE FROM quarantine WHERE created < ?1",
	[Q_LGET] = "SELECT tag_level, spam_level, quarantine_level, reject_level FROM spam_levels WHERE recipient = ?1",
	[Q_LSET] = "INSERT OR REPLACE INTO spam_levels (recipient, tag_level, spam_level, quarantine_level, reject_level) "
	    "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_LDEL] = "DELETE FROM spam_levels WHERE recipient = ?1",
	[Q_LRS_PUT] = "INSERT OR REPLACE INTO lr_sample (user, msgkey, kind, feat) VALUES (?1, ?2, ?3, ?4)",
	[Q_LRS_KIND] = "SELECT kind FROM lr_sample WHERE user = ?1 AND msgkey = ?2",
	[Q_LRS_DEL] = "DELETE FROM lr_sample WHERE user = ?1 AND msgkey = ?2",
	[Q_LRS_ALL] = "SELECT msgkey, kind, feat FROM lr_sample WHERE user = ?1",
	[Q_LRM_CHG] = "INSERT INTO lr_model (user, gen, nspam, nham, changes) VALUES (?1, 0, 0, 0, 1) "
	    "ON CONFLICT (user) DO UPDATE SET changes = changes + 1",
	[Q_LRM_INFO] = "SELECT gen, nspam, nham, changes FROM lr_model WHERE user = ?1",
	[Q_LRM_GET] = "SELECT m.gen, m.nspam, m.nham, m.changes, w.rowid, length(w.weights) FROM lr_model m "
	    "JOIN lr_weights w ON w.user = m.user WHERE m.user = ?1",
	[Q_LRM_PUT] = "INSERT INTO lr_model (user, gen, nspam, nham, changes) "
	    "VALUES (?1, 1, ?2, ?3, 0) ON CONFLICT (user) DO UPDATE SET gen = gen + 1, "
	    "nspam = ?2, nham = ?3, changes = max(changes - ?4, 0)",
	/* INSERT OR REPLACE gives a replaced row a new rowid: rowid order is
	 * the order samples were last stored */
	[Q_LRS_NTH] = "SELECT rowid FROM lr_sample WHERE user = ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
	[Q_LRS_TRIM] = "DELETE FROM lr_sample WHERE user = ?1 AND rowid <= ?2",
	[Q_LRW_PUT] = "INSERT OR REPLACE INTO lr_weights (user, weights) VALUES (?1, ?2)",
	[Q_CLAIM_GET] = "SELECT expires FROM lr_claim WHERE user = ?1",
	[Q_CLAIM_PUT] = "INSERT OR REPLACE INTO lr_claim (user, expires) VALUES (?1, ?2)",
	[Q_CLAIM_DEL] = "DELETE FROM lr_claim WHERE user = ?1",
};

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA mmap_size = 268435456;"
    "PRAGMA cache_size = -16384;"
    "CREATE TABLE IF NOT EXISTS bayes_token (user TEXT NOT NULL, token INTEGER NOT NULL,"
    " spam INTEGER NOT NULL, ham INTEGER NOT NULL, atime INTEGER NOT NULL,"
    " PRIMARY KEY (user, token)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS bayes_total (user TEXT PRIMARY KEY, nspam INTEGER NOT NULL, nham INTEGER NOT NULL);"
    /* raised by every write of a user's tokens, for the token caches
     * of other handles (token_cache.h); created when missing */
    "CREATE TABLE IF NOT EXISTS bayes_gen (user TEXT PRIMARY KEY, gen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS bayes_seen (user TEXT NOT NULL, msgkey TEXT NOT NULL, kind TEXT NOT NULL,"
    " PRIMARY KEY (user, msgkey)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS quarantine (id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    " sender TEXT NOT NULL, recipients TEXT NOT NULL, subject TEXT NOT NULL, score REAL NOT NULL,"
    " tests TEXT NOT NULL, message BLOB NOT NULL, envelope TEXT);"
    "CREATE INDEX IF NOT EXISTS quarantine_created ON quarantine (created);"
    "CREATE TABLE IF NOT EXISTS spam_levels (recipient TEXT PRIMARY KEY, tag_level REAL,"
    " spam_level REAL, quarantine_level REAL, reject_level REAL);"
    /* the logistic regression (lr.h); created when missing, so a
     * database of an older version gains them on its next open */
    "CREATE TABLE IF NOT EXISTS lr_sample (user TEXT NOT NULL, msgkey TEXT NOT NULL,"
    " kind TEXT NOT NULL, feat BLOB NOT NULL, UNIQUE (user, msgkey));"
    "CREATE TABLE IF NOT EXISTS lr_model (user TEXT PRIMARY KEY, gen INTEGER NOT NULL,"
    " nspam INTEGER NOT NULL, nham INTEGER NOT NULL, changes INTEGER NOT NULL);"
    /* the 4 MiB of weights in a table of their own: counting a change
     * must not rewrite them */
    "CREATE TABLE IF NOT EXISTS lr_weights (user TEXT PRIMARY KEY, weights BLOB NOT NULL);"
    /* who computes the next training (store_lr_claim_get) */
    "CREATE TABLE IF NOT EXISTS lr_claim (user TEXT PRIMARY KEY, expires INTEGER NOT NULL);";

struct sqlite_store {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *q[Q_MAX];
};

#define SQ(st) ((struct sqlite_store *)(st))

static int
fail(struct store *st)
{
	int c = sqlite3_errcode(SQ(st)->db) & 0xff;

	st->conflict = c == SQLITE_BUSY || c == SQLITE_LOCKED;
	store_set_error(st, "sqlite: %s", sqlite3_errmsg(SQ(st)->db));
	return -1;
}

static sqlite3_stmt *
stmt(struct store *st, int which)
{
	struct sqlite_store *s = SQ(st);

	if (s->q[which] == NULL &&
	    sqlite3_prepare_v3(s->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
	    &s->q[which], NULL) != SQLITE_OK) {
		(void)fail(st);
		return NULL;
	}
	sqlite3_reset(s->q[which]);
	sqlite3_clear_bindings(s->q[which]);
	return s->q[which];
}

static int
step_done(struct store *st, sqlite3_stmt *q)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(st);
}

static void sqlite_close(struct store *st);

#define BUSY_MS 10000

static void
sqlite_set_wait(struct store *st, int ms)
{
	if (ms < 0)
		ms = st->patience_ms > 0 ? st->patience_ms : BUSY_MS;
	sqlite3_busy_timeout(SQ(st)->db, ms);
}


/* A quarantine table of an earlier version gains the nullable envelope
 * column (its rows read as ""); another process adding it at the same
 * time is fine.  0, or -1 with *error_r. */
static int
add_envelope_column(sqlite3 *db, char **error_r)
{
	sqlite3_stmt *q;
	int found = 0, rc;
	char *err = NULL;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('quarantine') "
	    "WHERE name = 'envelope'", -1, &q, NULL) != SQLITE_OK) {
		*error_r = xstrdup(sqlite3_errmsg(db));
		return -1;
	}
	rc = sqlite3_step(q);
	found = rc == SQLITE_ROW;
	sqlite3_finalize(q);
	if (found)
		return 0;
	rc = sqlite3_exec(db, "ALTER TABLE quarantine ADD COLUMN envelope TEXT", NULL, NULL, &err);
	if (rc != SQLITE_OK && (err == NULL || strstr(err, "duplicate column") == NULL)) {
		*error_r = xasprintf("adding quarantine.envelope: %s", err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	sqlite3_free(err);
	return 0;
}

static struct store *
sqlite_open(const char *path, char **error_r)
{
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	char *err = NULL;

	s->base.drv = &store_driver_sqlite;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*error_r = xasprintf("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sqlite_close(&s->base);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, BUSY_MS);
	/* switching a new database to WAL while another process opens it
	 * too can fail at once ("database is locked") without waiting in
	 * the busy handler: the schema is idempotent, so run it again for
	 * up to the busy timeout */
	for (int attempt = 0;; attempt++) {
		int rc = sqlite3_exec(s->db, schema, NULL, NULL, &err);
		if (rc == SQLITE_OK)
			break;
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && attempt < 100) {
			sqlite3_free(err);
			err = NULL;
			usleep(100000);
			continue;
		}
		*error_r = xasprintf("%s: %s", path, err ? err : "schema");
		sqlite3_free(err);
		sqlite_close(&s->base);
		return NULL;
	}
	if (add_envelope_column(s->db, &err) < 0) {
		*error_r = xasprintf("%s: %s", path, err);
		free(err);
		sqlite_close(&s->base);
		return NULL;
	}
	return &s->base;
}

static void
sqlite_close(struct store *st)
{
	struct sqlite_store *s = SQ(st);

	for (int i = 0; i < Q_MAX; i++)
		if (s->q[i] != NULL)
			sqlite3_finalize(s->q[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

/* Statement `which` for a loop over its rows with next_row(), ?1 bound
 * to user unless NULL. */
static sqlite3_stmt *
rows(struct store *st, int which, const char *user)
{
	sqlite3_stmt *q = stmt(st, which);

	if (q != NULL && user != NULL)
		sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	return q;
}

/* 1 with the next row in q; at the end 0 (or -1 after an error), q reset. */
static int
next_row(struct store *st, sqlite3_stmt *q)
{
	int rc;

	if (q == NULL)
		return -1;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		return 1;
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

static int
sqlite_exec(struct store *st, const char *sql)
{
	return sqlite3_exec(SQ(st)->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(st);
}

static int
bayes_totals(struct store *st, const char *user, struct bayes_counts *r,
    int64_t *gen_r)
{
	sqlite3_stmt *q = stmt(st, Q_TOT_GET);
	int rc;

	r->spam = r->ham = 0;
	*gen_r = 0;
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {         /* NULL (no row) reads as 0 */
		r->spam = sqlite3_column_int64(q, 0);
		r->ham = sqlite3_column_int64(q, 1);
		*gen_r = sqlite3_column_int64(q, 2);
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(st);
}

static int
bayes_bump(struct store *st, const char *user)
{
	sqlite3_stmt *q = stmt(st, Q_GEN_BUMP);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	return step_done(st, q);
}

static int
bayes_add_totals(struct store *st, const char *user, int64_t ds, int64_t dh)
{
	sqlite3_stmt *q = stmt(st, Q_TOT_ADD);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, ds);
	sqlite3_bind_int64(q, 3, dh);
	return step_done(st, q);
}

static int
bayes_get(struct store *st, const char *user, const uint64_t *tok, size_t n,
    struct bayes_counts *out)
{
	sqlite3_stmt *q = stmt(st, Q_TOK_GET);

	int own_tx;

	if (q == NULL)
		return -1;
	/* one read transaction for all the lookups: one lock, not n */
	own_tx = sqlite3_get_autocommit(SQ(st)->db) &&
	    sqlite3_exec(SQ(st)->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		int rc;
		sqlite3_bind_int64(q, 2, (sqlite3_int64)tok[i]);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			out[i].spam = sqlite3_column_int64(q, 0);
			out[i].ham = sqlite3_column_int64(q, 1);
		} else if (rc == SQLITE_DONE) {
			out[i].spam = out[i].ham = 0;
		} else {
			sqlite3_reset(q);
			if (own_tx)
				sqlite3_exec(SQ(st)->db, "ROLLBACK", NULL, NULL, NULL);
			return fail(st);
		}
		sqlite3_reset(q);
	}
	if (own_tx)
		sqlite3_exec(SQ(st)->db, "COMMIT", NULL, NULL, NULL);
	return 0;
}

static int
bayes_update(struct store *st, const char *user, const uint64_t *tok, size_t n,
    int ds, int dh)
{
	sqlite3_stmt *q = stmt(st, Q_TOK_UPD), *gc;
	sqlite3_int64 now = (sqlite3_int64)time(NULL);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, ds);
	sqlite3_bind_int(q, 4, dh);
	sqlite3_bind_int64(q, 5, now);
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(q, 2, (sqlite3_int64)tok[i]);
		if (step_done(st, q) < 0)
			return -1;
	}
	if (ds >= 0 && dh >= 0)
		return 0;
	if ((gc = stmt(st, Q_TOK_GC)) == NULL)
		return -1;
	sqlite3_bind_text(gc, 1, user, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(gc, 2, (sqlite3_int64)tok[i]);
		if (step_done(st, gc) < 0)
			return -1;
	}
	return 0;
}

static int
bayes_seen(struct store *st, const char *user, const char *key, char *kind_r)
{
	sqlite3_stmt *q = stmt(st, Q_SEEN_GET);
	int rc;

	*kind_r = 0;
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(q, 0);
		*kind_r = k ? (char)k[0] : 0;
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(st);
}

static int
bayes_set_seen(struct store *st, const char *user, const char *key, char kind)
{
	sqlite3_stmt *q = stmt(st, kind ? Q_SEEN_SET : Q_SEEN_DEL);
	char k[2] = { kind, 0 };

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	if (kind)
		sqlite3_bind_text(q, 3, k, -1, SQLITE_TRANSIENT);
	return step_done(st, q);
}

static int64_t
bayes_ntokens(struct store *st, const char *user)
{
	sqlite3_stmt *q = stmt(st, Q_NTOK);
	int64_t n = -1;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	return n < 0 ? fail(st) : n;
}

static int
lr_changed(struct store *st, const char *user)
{
	sqlite3_stmt *q = stmt(st, Q_LRM_CHG);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	return step_done(st, q);
}

static int
lr_sample_put(struct store *st, const char *user, const char *key, char kind,
    const void *feat, size_t len)
{
	sqlite3_stmt *q = stmt(st, Q_LRS_PUT);
	char k[2] = { kind, 0 };

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, k, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(q, 4, len ? feat : "", (int)len, SQLITE_STATIC);
	if (step_done(st, q) < 0)
		return -1;
	return lr_changed(st, user);
}

static int
lr_sample_kind(struct store *st, const char *user, const char *key, char *kind_r)
{
	sqlite3_stmt *q = stmt(st, Q_LRS_KIND);
	int rc;

	*kind_r = 0;
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(q, 0);
		*kind_r = k ? (char)k[0] : 0;
	}
	sqlite3_reset(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(st);
}

static int
lr_sample_delete(struct store *st, const char *user, const char *key)
{
	sqlite3_stmt *q = stmt(st, Q_LRS_DEL);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, key, -1, SQLITE_STATIC);
	if (step_done(st, q) < 0)
		return -1;
	if (sqlite3_changes(SQ(st)->db) == 0)
		return 0;
	return lr_changed(st, user) < 0 ? -1 : 1;
}

static int64_t
bayes_expire(struct store *st, const char *user, int64_t n)
{
	sqlite3_stmt *q = stmt(st, Q_TOK_EXP);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, n);
	if (step_done(st, q) < 0)
		return -1;
	return sqlite3_changes64(SQ(st)->db);
}

static int
bayes_tokens(struct store *st, const char *user,
    void (*fn)(const struct bayes_token_row *, void *), void *arg)
{
	sqlite3_stmt *q = rows(st, Q_TOK_ALL, user);
	int r;

	while ((r = next_row(st, q)) == 1) {
		struct bayes_token_row t = {
			(uint64_t)sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
			sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3),
		};
		fn(&t, arg);
	}
	return r;
}

static int
bayes_put(struct store *st, const char *user, const struct bayes_token_row *rows,
    size_t n)
{
	sqlite3_stmt *q = stmt(st, Q_TOK_PUT);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(q, 2, (sqlite3_int64)rows[i].token);
		sqlite3_bind_int64(q, 3, rows[i].spam);
		sqlite3_bind_int64(q, 4, rows[i].ham);
		sqlite3_bind_int64(q, 5, rows[i].atime);
		if (step_done(st, q) < 0)
			return -1;
	}
	return 0;
}

static int
bayes_seen_all(struct store *st, const char *user,
    void (*fn)(const char *, char, void *), void *arg)
{
	sqlite3_stmt *q = rows(st, Q_SEEN_ALL, user);
	int r;

	while ((r = next_row(st, q)) == 1) {
		const unsigned char *key = sqlite3_column_text(q, 0);
		const unsigned char *kind = sqlite3_column_text(q, 1);
		fn(key ? (const char *)key : "", kind ? (char)kind[0] : 0, arg);
	}
	return r;
}

static int
bayes_users(struct store *st, void (*fn)(const char *, void *), void *arg)
{
	sqlite3_stmt *q = rows(st, Q_USERS, NULL);
	int r;

	while ((r = next_row(st, q)) == 1) {
		const unsigned char *u = sqlite3_column_text(q, 0);
		fn(u ? (const char *)u : "", arg);
	}
	return r;
}

static int
lr_samples_trim(struct store *st, const char *user, int64_t keep)
{
	sqlite3_stmt *q = stmt(st, Q_LRS_NTH);
	sqlite3_int64 cut;
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, keep);
	rc = sqlite3_step(q);
	cut = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return 0;               /* no more than keep samples */
	if (rc != SQLITE_ROW)
		return fail(st);
	if ((q = stmt(st, Q_LRS_TRIM)) == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, cut);
	if (step_done(st, q) < 0)
		return -1;
	return sqlite3_changes(SQ(st)->db);
}

static int
lr_samples(struct store *st, const char *user,
    void (*fn)(const char *, char, const void *, size_t, void *), void *arg)
{
	sqlite3_stmt *q = rows(st, Q_LRS_ALL, user);
	int r;

	while ((r = next_row(st, q)) == 1) {
		const unsigned char *key = sqlite3_column_text(q, 0);
		const unsigned char *kind = sqlite3_column_text(q, 1);
		const void *feat = sqlite3_column_blob(q, 2);
		size_t len = (size_t)sqlite3_column_bytes(q, 2);
		fn(key ? (const char *)key : "", kind ? (char)kind[0] : 0, feat, len, arg);
	}
	return r;
}

/* The blob in pieces through SQLite's incremental I/O, which reads its
 * overflow pages straight into the piece (sqlite3_column_blob() would
 * first assemble all of it in a buffer of its own).  Called while the
 * statement that found rowid is active: the same read snapshot. */
static int
read_blob(struct store *st, const char *table, const char *column,
    sqlite3_int64 rowid, size_t total, store_piece_fn *fn, void *arg)
{
	unsigned char piece[32768];
	sqlite3_blob *bh;
	size_t off = 0;

	if (sqlite3_blob_open(SQ(st)->db, "main", table, column, rowid, 0, &bh) != SQLITE_OK)
		return fail(st);
	if ((size_t)sqlite3_blob_bytes(bh) != total) {
		(void)sqlite3_blob_close(bh);
		store_set_error(st, "sqlite: %s.%s changed size while read", table, column);
		return -1;
	}
	while (off < total) {
		size_t n = total - off < sizeof(piece) ? total - off : sizeof(piece);
		if (sqlite3_blob_read(bh, piece, (int)n, (int)off) != SQLITE_OK) {
			(void)fail(st);
			(void)sqlite3_blob_close(bh);
			return -1;
		}
		fn(piece, off, n, total, arg);
		off += n;
	}
	return sqlite3_blob_close(bh) == SQLITE_OK ? 0 : fail(st);
}

static int
lr_model_row(struct store *st, int which, const char *user, struct lr_model_info *r,
    store_piece_fn *fn, void *arg)
{
	sqlite3_stmt *q = stmt(st, which);
	int rc, found = 0;

	memset(r, 0, sizeof(*r));
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r->gen = sqlite3_column_int64(q, 0);
		r->nspam = sqlite3_column_int64(q, 1);
		r->nham = sqlite3_column_int64(q, 2);
		r->changes = sqlite3_column_int64(q, 3);
		found = 1;
		if (fn != NULL) {
			sqlite3_int64 n = sqlite3_column_int64(q, 5);
			found = n > 0;
			if (found && read_blob(st, "lr_weights", "weights",
			    sqlite3_column_int64(q, 4), (size_t)n, fn, arg) < 0) {
				sqlite3_reset(q);
				return -1;
			}
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return found;
}

static int
lr_model_info(struct store *st, const char *user, struct lr_model_info *r)
{
	return lr_model_row(st, Q_LRM_INFO, user, r, NULL, NULL);
}

static int
lr_model_get(struct store *st, const char *user, struct lr_model_info *r,
    store_piece_fn *fn, void *arg)
{
	return lr_model_row(st, Q_LRM_GET, user, r, fn, arg);
}

/* the weights first: a reader that sees the new generation sees them */
static int
lr_model_put(struct store *st, const char *user, int64_t nspam, int64_t nham,
    int64_t consumed, const void *blob, size_t len)
{
	sqlite3_stmt *q = stmt(st, Q_LRW_PUT);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, blob, (int)len, SQLITE_STATIC);
	if (step_done(st, q) < 0 || (q = stmt(st, Q_LRM_PUT)) == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, nspam);
	sqlite3_bind_int64(q, 3, nham);
	sqlite3_bind_int64(q, 4, consumed);
	return step_done(st, q);
}

static int
lr_claim_get(struct store *st, const char *user, int64_t *until_r)
{
	sqlite3_stmt *q = stmt(st, Q_CLAIM_GET);
	int rc;

	*until_r = 0;
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*until_r = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail(st);
	return rc == SQLITE_ROW;
}

static int
lr_claim_put(struct store *st, const char *user, int64_t until)
{
	sqlite3_stmt *q = stmt(st, until > 0 ? Q_CLAIM_PUT : Q_CLAIM_DEL);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, user, -1, SQLITE_STATIC);
	if (until > 0)
		sqlite3_bind_int64(q, 2, until);
	return step_done(st, q);
}

static char *
col_dup(sqlite3_stmt *q, int i)
{
	const unsigned char *t = sqlite3_column_text(q, i);
	return xstrdup(t ? (const char *)t : "");
}

static void
row_item(sqlite3_stmt *q, struct quarantine_item *it, int with_msg)
{
	memset(it, 0, sizeof(*it));
	it->id = col_dup(q, 0);
	it->created = (time_t)sqlite3_column_int64(q, 1);
	it->sender = col_dup(q, 2);
	it->recipients = col_dup(q, 3);
	it->subject = col_dup(q, 4);
	it->score = sqlite3_column_double(q, 5);
	it->tests = col_dup(q, 6);
	if (with_msg) {
		const void *b = sqlite3_column_blob(q, 7);
		it->message_len = (size_t)sqlite3_column_bytes(q, 7);
		it->message = xmalloc(it->message_len + 1);
		if (it->message_len > 0)
			memcpy(it->message, b, it->message_len);
		it->message[it->message_len] = '\0';
		it->envelope = col_dup(q, 8);   /* NULL (an older row): "" */
	}
}

static int
q_put(struct store *st, const struct quarantine_item *it)
{
	/* durable when the caller's transaction is (store_begin_durable()) */
	sqlite3_stmt *q;

	if ((q = stmt(st, Q_QPUT)) == NULL)
		return -1;
	sqlite3_bind_text(q, 1, it->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)it->created);
	sqlite3_bind_text(q, 3, it->sender ? it->sender : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, it->recipients ? it->recipients : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, it->subject ? it->subject : "", -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 6, it->score);
	sqlite3_bind_text(q, 7, it->tests ? it->tests : "", -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 8, it->message ? it->message : "", (int)it->message_len, SQLITE_STATIC);
	if (it->envelope != NULL && *it->envelope != '\0')
		sqlite3_bind_text(q, 9, it->envelope, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 9);
	return step_done(st, q);
}

static int
q_list(struct store *st, void (*fn)(const struct quarantine_item *, void *), void *arg)
{
	sqlite3_stmt *q = stmt(st, Q_QLIST);
	int rc;

	if (q == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct quarantine_item it;
		row_item(q, &it, 0);
		fn(&it, arg);
		quarantine_item_free(&it);
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : fail(st);
}

static int
q_get(struct store *st, const char *id, struct quarantine_item *it)
{
	sqlite3_stmt *q = stmt(st, Q_QGET);
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		row_item(q, it, 1);
	sqlite3_reset(q);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(st);
}

static int
q_delete(struct store *st, const char *id)
{
	sqlite3_stmt *q = stmt(st, Q_QDEL);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
	if (step_done(st, q) < 0)
		return -1;
	return sqlite3_changes(SQ(st)->db) > 0;
}

static int
q_expire(struct store *st, time_t before)
{
	sqlite3_stmt *q = stmt(st, Q_QEXP);

	if (q == NULL)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)before);
	if (step_done(st, q) < 0)
		return -1;
	return sqlite3_changes(SQ(st)->db);
}

static int
levels_get(struct store *st, const char *rcpt, struct spam_levels *l)
{
	sqlite3_stmt *q = stmt(st, Q_LGET);
	int rc;

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, rcpt, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		l->tag = sqlite3_column_double(q, 0);
		l->spam = sqlite3_column_double(q, 1);
		l->quarantine = sqlite3_column_double(q, 2);
		l->reject = sqlite3_column_double(q, 3);
	}
	sqlite3_reset(q);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : fail(st);
}

static int
levels_list(struct store *st,
    void (*fn)(const char *, const struct spam_levels *, void *), void *arg)
{
	sqlite3_stmt *q = rows(st, Q_LLIST, NULL);
	int r;

	while ((r = next_row(st, q)) == 1) {
		const unsigned char *rcpt = sqlite3_column_text(q, 0);
		struct spam_levels l = {
			sqlite3_column_double(q, 1), sqlite3_column_double(q, 2),
			sqlite3_column_double(q, 3), sqlite3_column_double(q, 4),
		};
		fn(rcpt ? (const char *)rcpt : "", &l, arg);
	}
	return r;
}

static int
levels_set(struct store *st, const char *rcpt, const struct spam_levels *l)
{
	sqlite3_stmt *q = stmt(st, Q_LSET);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 2, l->tag);
	sqlite3_bind_double(q, 3, l->spam);
	sqlite3_bind_double(q, 4, l->quarantine);
	sqlite3_bind_double(q, 5, l->reject);
	return step_done(st, q);
}

static int
levels_delete(struct store *st, const char *rcpt)
{
	sqlite3_stmt *q = stmt(st, Q_LDEL);

	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, rcpt, -1, SQLITE_STATIC);
	return step_done(st, q);
}

const struct store_driver store_driver_sqlite = {
	.name = "sqlite",
	/* the write lock at once (waiting up to the busy timeout): a
	 * deferred transaction that has read fails at its first write
	 * (SQLITE_BUSY) if another process wrote in between */
	.begin = "BEGIN IMMEDIATE",
	/* in WAL mode a reader: it sees one snapshot and blocks no writer */
	.begin_read = "BEGIN DEFERRED",
	/* the store's commits are synchronous = NORMAL (in WAL mode: no
	 * sync at commit; a crash may roll back the last Bayes updates);
	 * the setting cannot change inside a transaction */
	.sync_on = "PRAGMA synchronous = FULL",
	.sync_off = "PRAGMA synchronous = NORMAL",
	.open = sqlite_open,
	.close = sqlite_close,
	.set_wait = sqlite_set_wait,
	.exec = sqlite_exec,
	.bayes_totals = bayes_totals,
	.bayes_add_totals = bayes_add_totals,
	.bayes_get = bayes_get,
	.bayes_update = bayes_update,
	.bayes_bump = bayes_bump,
	.bayes_seen = bayes_seen,
	.bayes_set_seen = bayes_set_seen,
	.bayes_ntokens = bayes_ntokens,
	.bayes_expire = bayes_expire,
	.bayes_tokens = bayes_tokens,
	.bayes_put = bayes_put,
	.bayes_seen_all = bayes_seen_all,
	.bayes_users = bayes_users,
	.levels_list = levels_list,
	.lr_sample_put = lr_sample_put,
	.lr_sample_kind = lr_sample_kind,
	.lr_sample_delete = lr_sample_delete,
	.lr_samples_trim = lr_samples_trim,
	.lr_samples = lr_samples,
	.lr_model_info = lr_model_info,
	.lr_model_get = lr_model_get,
	.lr_model_put = lr_model_put,
	.lr_claim_get = lr_claim_get,
	.lr_claim_put = lr_claim_put,
	.q_put = q_put,
	.q_list = q_list,
	.q_get = q_get,
	.q_delete = q_delete,
	.q_expire = q_expire,
	.levels_get = levels_get,
	.levels_set = levels_set,
	.levels_delete = levels_delete,
};
