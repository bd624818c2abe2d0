/*
 * store_mysql.c - the MariaDB/MySQL driver of the store (MariaDB
 * Connector/C), for sites where several Tempest nodes share one Bayes
 * database and quarantine.  Spec: "mysql:key=value;key=value..." with
 * host, port, socket, user, password, database.  Values from mail are
 * escaped with mysql_real_escape_string() (numbers are formatted by us);
 * Bayes lookups are batched with IN lists.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dl.h"
#include "mem.h"
#include "store-private.h"

/*
 * Connector/C is loaded with dlopen() when a mysql: store is opened, not
 * linked: every Tempest process (sendmail, each daemon) would otherwise
 * map it and its dependencies at start, about 2 ms of each start on a
 * virtual machine, for the few sites that share a MariaDB store (dl.h;
 * MARIADB_SONAME comes from meson).
 */
static struct {
	MYSQL *(*init)(MYSQL *);
	MYSQL *(*real_connect)(MYSQL *, const char *, const char *, const char *,
	    const char *, unsigned int, const char *, unsigned long);
	void (*close)(MYSQL *);
	const char *(*error)(MYSQL *);
	unsigned int (*errnum)(MYSQL *);
	int (*set_character_set)(MYSQL *, const char *);
	int (*real_query)(MYSQL *, const char *, unsigned long);
	MYSQL_RES *(*store_result)(MYSQL *);
	MYSQL_RES *(*use_result)(MYSQL *);
	void (*free_result)(MYSQL_RES *);
	MYSQL_ROW (*fetch_row)(MYSQL_RES *);
	unsigned long *(*fetch_lengths)(MYSQL_RES *);
	my_ulonglong (*affected_rows)(MYSQL *);
	unsigned long (*real_escape_string)(MYSQL *, char *, const char *, unsigned long);
} my;
static char *my_load_error;
static pthread_once_t my_once = PTHREAD_ONCE_INIT;

static void
my_load(void)
{
	const struct dl_sym syms[] = {
		{ "mysql_init", (void **)&my.init },
		{ "mysql_real_connect", (void **)&my.real_connect },
		{ "mysql_close", (void **)&my.close },
		{ "mysql_error", (void **)&my.error },
		{ "mysql_errno", (void **)&my.errnum },
		{ "mysql_set_character_set", (void **)&my.set_character_set },
		{ "mysql_real_query", (void **)&my.real_query },
		{ "mysql_store_result", (void **)&my.store_result },
		{ "mysql_use_result", (void **)&my.use_result },
		{ "mysql_free_result", (void **)&my.free_result },
		{ "mysql_fetch_row", (void **)&my.fetch_row },
		{ "mysql_fetch_lengths", (void **)&my.fetch_lengths },
		{ "mysql_affected_rows", (void **)&my.affected_rows },
		{ "mysql_real_escape_string", (void **)&my.real_escape_string },
	};

	(void)dl_load(MARIADB_SONAME, syms, NELEM(syms), NULL, &my_load_error);
}

struct mysql_store {
	struct store base;
	MYSQL *db;
};

#define MY(st) (((struct mysql_store *)(st))->db)
#define IN_BATCH 500

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS bayes_token (user VARBINARY(255) NOT NULL,"
	" token BIGINT NOT NULL, spam BIGINT NOT NULL, ham BIGINT NOT NULL,"
	" atime BIGINT NOT NULL, PRIMARY KEY (user, token))",
	"CREATE TABLE IF NOT EXISTS bayes_total (user VARBINARY(255) PRIMARY KEY,"
	" nspam BIGINT NOT NULL, nham BIGINT NOT NULL)",
	/* raised by every write of a user's tokens, for the token caches
	 * of other handles (token_cache.h); created when missing */
	"CREATE TABLE IF NOT EXISTS bayes_gen (user VARBINARY(255) PRIMARY KEY,"
	" gen BIGINT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS bayes_seen (user VARBINARY(255) NOT NULL,"
	" msgkey VARBINARY(1024) NOT NULL, kind CHAR(1) NOT NULL,"
	" PRIMARY KEY (user, msgkey(255)))",
	"CREATE TABLE IF NOT EXISTS quarantine (id VARCHAR(64) PRIMARY KEY,"
	" created BIGINT NOT NULL, sender VARBINARY(1024) NOT NULL,"
	" recipients MEDIUMBLOB NOT NULL, subject BLOB NOT NULL, score DOUBLE NOT NULL,"
	" tests BLOB NOT NULL, message LONGBLOB NOT NULL, envelope MEDIUMBLOB NULL,"
	" INDEX (created))",
	"CREATE TABLE IF NOT EXISTS spam_levels (recipient VARBINARY(512) PRIMARY KEY,"
	" tag_level DOUBLE, spam_level DOUBLE, quarantine_level DOUBLE, reject_level DOUBLE)",
	/* the logistic regression (lr.h): created when missing, so an
	 * older database gains them on its next open */
	/* seq: REPLACE gives a replaced row a new one, so seq order is the
	 * order samples were last stored (for trimming to the newest) */
	"CREATE TABLE IF NOT EXISTS lr_sample (user VARBINARY(255) NOT NULL,"
	" msgkey VARBINARY(1024) NOT NULL, kind CHAR(1) NOT NULL, feat MEDIUMBLOB NOT NULL,"
	" seq BIGINT NOT NULL AUTO_INCREMENT, PRIMARY KEY (user, msgkey(255)), KEY (seq))",
	"CREATE TABLE IF NOT EXISTS lr_model (user VARBINARY(255) PRIMARY KEY,"
	" gen BIGINT NOT NULL, nspam BIGINT NOT NULL, nham BIGINT NOT NULL,"
	" changes BIGINT NOT NULL)",
	"CREATE TABLE IF NOT EXISTS lr_weights (user VARBINARY(255) PRIMARY KEY,"
	" weights LONGBLOB NOT NULL)",
	/* who computes the next training (store_lr_claim_get) */
	"CREATE TABLE IF NOT EXISTS lr_claim (user VARBINARY(255) PRIMARY KEY,"
	" expires BIGINT NOT NULL)",
};

static int
fail(struct store *st)
{
	unsigned int e = my.errnum(MY(st));

	/* ER_LOCK_DEADLOCK (InnoDB rolled the transaction back) and
	 * ER_LOCK_WAIT_TIMEOUT */
	st->conflict = e == 1213 || e == 1205;
	store_set_error(st, "mysql: %s", my.error(MY(st)));
	return -1;
}

static int
exec(struct store *st, const char *sql)
{
	return my.real_query(MY(st), sql, strlen(sql)) == 0 ? 0 : fail(st);
}

/* Append s (n bytes) quoted and escaped. */
static void
q_str(struct store *st, struct buf *b, const char *s, size_t n)
{
	char *tmp = xmalloc(2 * n + 1);
	unsigned long l = my.real_escape_string(MY(st), tmp, s, (unsigned long)n);

	(void)buf_appendc(b, '\'');
	(void)buf_append(b, tmp, l);
	(void)buf_appendc(b, '\'');
	free(tmp);
}

static void
q_cstr(struct store *st, struct buf *b, const char *s)
{
	q_str(st, b, s ? s : "", strlen(s ? s : ""));
}

static int
run(struct store *st, struct buf *b)
{
	int r = my.real_query(MY(st), b->data ? b->data : "", b->len) == 0 ? 0 : fail(st);
	buf_free(b);
	return r;
}

static void my_close(struct store *st);

static struct store *
my_open(const char *arg, char **error_r)
{
	struct mysql_store *s;
	char *host = NULL, *user = NULL, *pass = NULL, *dbname = NULL, *sock = NULL;
	unsigned port = 0;
	char *spec, *save = NULL;

	(void)pthread_once(&my_once, my_load);
	if (my.init == NULL) {
		*error_r = xasprintf("mysql: the MariaDB client library: %s", my_load_error);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	spec = xstrdup(arg);

	s->base.drv = &store_driver_mysql;
	for (char *kv = strtok_r(spec, ";,", &save); kv; kv = strtok_r(NULL, ";,", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(kv, "host") == 0) host = eq;
		else if (strcmp(kv, "port") == 0) port = (unsigned)atoi(eq);
		else if (strcmp(kv, "socket") == 0) sock = eq;
		else if (strcmp(kv, "user") == 0) user = eq;
		else if (strcmp(kv, "password") == 0) pass = eq;
		else if (strcmp(kv, "database") == 0 || strcmp(kv, "dbname") == 0) dbname = eq;
	}
	s->db = my.init(NULL);
	if (s->db == NULL || my.real_connect(s->db, host, user, pass, dbname, port,
	    sock, 0) == NULL) {
		*error_r = xasprintf("mysql:%s: %s", dbname ? dbname : "",
		    s->db ? my.error(s->db) : "out of memory");
		free(spec);
		my_close(&s->base);
		return NULL;
	}
	free(spec);
	my.set_character_set(s->db, "binary");
	for (size_t i = 0; i < NELEM(schema); i++)
		if (my.real_query(s->db, schema[i], strlen(schema[i])) != 0) {
			*error_r = xasprintf("mysql: schema: %s", my.error(s->db));
			my_close(&s->base);
			return NULL;
		}
	/* a quarantine table of an earlier version gains the envelope
	 * column (its rows read as ""); 1060 (duplicate column): another
	 * process added it meanwhile.  Not ADD COLUMN IF NOT EXISTS, which
	 * MySQL lacks. */
	{
		static const char has[] = "SELECT 1 FROM information_schema.COLUMNS"
		    " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'quarantine'"
		    " AND COLUMN_NAME = 'envelope'";
		static const char add[] = "ALTER TABLE quarantine ADD COLUMN envelope"
		    " MEDIUMBLOB NULL";
		MYSQL_RES *res;
		int found = 0;

		if (my.real_query(s->db, has, strlen(has)) == 0 &&
		    (res = my.store_result(s->db)) != NULL) {
			found = my.fetch_row(res) != NULL;
			my.free_result(res);
		}
		if (!found && my.real_query(s->db, add, strlen(add)) != 0 &&
		    my.errnum(s->db) != 1060) {
			*error_r = xasprintf("mysql: adding quarantine.envelope: %s",
			    my.error(s->db));
			my_close(&s->base);
			return NULL;
		}
	}
	return &s->base;
}

static void
my_close(struct store *st)
{
	if (MY(st) != NULL)
		my.close(MY(st));
	free(st);
}

/* One-row query: fills up to n columns as strings; 1 row, 0 none, -1. */
static int
row1(struct store *st, struct buf *b, char **cols, int n)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int r = 0;

	if (run(st, b) < 0)
		return -1;
	if ((res = my.store_result(MY(st))) == NULL)
		return fail(st);
	if ((row = my.fetch_row(res)) != NULL) {
		for (int i = 0; i < n; i++)
			cols[i] = xstrdup(row[i] ? row[i] : "");
		r = 1;
	}
	my.free_result(res);
	return r;
}

static int
bayes_totals(struct store *st, const char *user, struct bayes_counts *r,
    int64_t *gen_r)
{
	struct buf b;
	char *c[3];
	int k;

	r->spam = r->ham = 0;
	*gen_r = 0;
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT COALESCE(t.nspam, 0), COALESCE(t.nham, 0), "
	    "COALESCE((SELECT gen FROM bayes_gen WHERE user = u.user), 0) FROM (SELECT ");
	q_cstr(st, &b, user);
	(void)buf_appends(&b, " AS user) u LEFT JOIN bayes_total t ON t.user = u.user");
	if ((k = row1(st, &b, c, 3)) == 1) {
		r->spam = atoll(c[0]);
		r->ham = atoll(c[1]);
		*gen_r = atoll(c[2]);
		free(c[0]);
		free(c[1]);
		free(c[2]);
	}
	return k < 0 ? -1 : 0;
}

static int
bayes_bump(struct store *st, const char *user)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "INSERT INTO bayes_gen (user, gen) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_appends(&b, ", 1) ON DUPLICATE KEY UPDATE gen = gen + 1");
	return run(st, &b);
}

static int
bayes_add_totals(struct store *st, const char *user, int64_t ds, int64_t dh)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "INSERT INTO bayes_total (user, nspam, nham) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_printf(&b, ", GREATEST(0, %lld), GREATEST(0, %lld)) ON DUPLICATE KEY UPDATE "
	    "nspam = GREATEST(0, nspam + %lld), nham = GREATEST(0, nham + %lld)",
	    (long long)ds, (long long)dh, (long long)ds, (long long)dh);
	return run(st, &b);
}

static int
bayes_get(struct store *st, const char *user, const uint64_t *tok, size_t n,
    struct bayes_counts *out)
{
	for (size_t i = 0; i < n; i++)
		out[i].spam = out[i].ham = 0;
	for (size_t start = 0; start < n; start += IN_BATCH) {
		size_t end = start + IN_BATCH < n ? start + IN_BATCH : n;
		struct buf b;
		MYSQL_RES *res;
		MYSQL_ROW row;

		buf_init(&b, BUF_UNLIMITED);
		(void)buf_appends(&b, "SELECT token, spam, ham FROM bayes_token WHERE user = ");
		q_cstr(st, &b, user);
		(void)buf_appends(&b, " AND token IN (");
		for (size_t i = start; i < end; i++)
			(void)buf_printf(&b, "%s%lld", i > start ? "," : "", (long long)(int64_t)tok[i]);
		(void)buf_appendc(&b, ')');
		if (run(st, &b) < 0)
			return -1;
		if ((res = my.store_result(MY(st))) == NULL)
			return fail(st);
		while ((row = my.fetch_row(res)) != NULL) {
			uint64_t t = (uint64_t)atoll(row[0]);
			for (size_t i = start; i < end; i++)
				if (tok[i] == t) {
					out[i].spam = atoll(row[1]);
					out[i].ham = atoll(row[2]);
				}
		}
		my.free_result(res);
	}
	return 0;
}

static int
bayes_update(struct store *st, const char *user, const uint64_t *tok, size_t n,
    int ds, int dh)
{
	long long now = (long long)time(NULL);

	for (size_t start = 0; start < n; start += IN_BATCH) {
		size_t end = start + IN_BATCH < n ? start + IN_BATCH : n;
		struct buf b;

		buf_init(&b, BUF_UNLIMITED);
		(void)buf_appends(&b, "INSERT INTO bayes_token (user, token, spam, ham, atime) VALUES ");
		for (size_t i = start; i < end; i++) {
			(void)buf_appends(&b, i > start ? ",(" : "(");
			q_cstr(st, &b, user);
			(void)buf_printf(&b, ",%lld,GREATEST(0,%d),GREATEST(0,%d),%lld)",
			    (long long)(int64_t)tok[i], ds, dh, now);
		}
		(void)buf_printf(&b, " ON DUPLICATE KEY UPDATE spam = GREATEST(0, spam + %d),"
		    " ham = GREATEST(0, ham + %d), atime = %lld", ds, dh, now);
		if (run(st, &b) < 0)
			return -1;
		if (ds < 0 || dh < 0) {
			buf_init(&b, BUF_UNLIMITED);
			(void)buf_appends(&b, "DELETE FROM bayes_token WHERE user = ");
			q_cstr(st, &b, user);
			(void)buf_appends(&b, " AND spam = 0 AND ham = 0 AND token IN (");
			for (size_t i = start; i < end; i++)
				(void)buf_printf(&b, "%s%lld", i > start ? "," : "",
				    (long long)(int64_t)tok[i]);
			(void)buf_appendc(&b, ')');
			if (run(st, &b) < 0)
				return -1;
		}
	}
	return 0;
}

/* The kind ('s'/'h') a message key has in table (bayes_seen or
 * lr_sample), 0 when it has none. */
static int
kind_of(struct store *st, const char *table, const char *user, const char *key,
    char *kind_r)
{
	struct buf b;
	char *c[1];
	int k;

	*kind_r = 0;
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_printf(&b, "SELECT kind FROM %s WHERE user = ", table);
	q_cstr(st, &b, user);
	(void)buf_appends(&b, " AND msgkey = ");
	q_cstr(st, &b, key);
	if ((k = row1(st, &b, c, 1)) == 1) {
		*kind_r = c[0][0];
		free(c[0]);
	}
	return k < 0 ? -1 : 0;
}

static int
bayes_seen(struct store *st, const char *user, const char *key, char *kind_r)
{
	return kind_of(st, "bayes_seen", user, key, kind_r);
}

static int
bayes_set_seen(struct store *st, const char *user, const char *key, char kind)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (kind) {
		(void)buf_appends(&b, "REPLACE INTO bayes_seen (user, msgkey, kind) VALUES (");
		q_cstr(st, &b, user);
		(void)buf_appendc(&b, ',');
		q_cstr(st, &b, key);
		(void)buf_printf(&b, ",'%c')", kind == 's' ? 's' : 'h');
	} else {
		(void)buf_appends(&b, "DELETE FROM bayes_seen WHERE user = ");
		q_cstr(st, &b, user);
		(void)buf_appends(&b, " AND msgkey = ");
		q_cstr(st, &b, key);
	}
	return run(st, &b);
}

/* INSERT, UPDATE or DELETE of the mark as it was read: InnoDB makes
 * each wait for another transaction's uncommitted change of the row and
 * then sees the committed one, which a consistent read did not. */
static int
bayes_move_seen(struct store *st, const char *user, const char *key, char from, char to)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (from == 0) {
		(void)buf_appends(&b, "INSERT INTO bayes_seen (user, msgkey, kind) VALUES (");
		q_cstr(st, &b, user);
		(void)buf_appendc(&b, ',');
		q_cstr(st, &b, key);
		(void)buf_printf(&b, ",'%c')", to == 's' ? 's' : 'h');
	} else {
		if (to != 0)
			(void)buf_printf(&b, "UPDATE bayes_seen SET kind = '%c' WHERE user = ",
			    to == 's' ? 's' : 'h');
		else
			(void)buf_appends(&b, "DELETE FROM bayes_seen WHERE user = ");
		q_cstr(st, &b, user);
		(void)buf_appends(&b, " AND msgkey = ");
		q_cstr(st, &b, key);
		(void)buf_printf(&b, " AND kind = '%c'", from == 's' ? 's' : 'h');
	}
	if (my.real_query(MY(st), b.data, b.len) != 0) {
		int dup = my.errnum(MY(st)) == 1062;     /* ER_DUP_ENTRY */
		char *c[1];
		int k;

		buf_free(&b);
		if (!dup)
			return fail(st);
		/* a key of another transaction's, or one longer than the
		 * index's 255 bytes that an earlier version stored (keys
		 * are shorter now, bayes_msgkey()): replaced as before */
		buf_init(&b, BUF_UNLIMITED);
		(void)buf_appends(&b, "SELECT kind FROM bayes_seen WHERE user = ");
		q_cstr(st, &b, user);
		(void)buf_appends(&b, " AND msgkey = ");
		q_cstr(st, &b, key);
		(void)buf_appends(&b, " LOCK IN SHARE MODE");
		if ((k = row1(st, &b, c, 1)) < 0)
			return -1;
		if (k == 0)
			return bayes_set_seen(st, user, key, to);
		free(c[0]);
		store_set_error(st, "mysql: a message learned by another transaction "
		    "meanwhile");
		st->conflict = 1;
		return -1;
	}
	buf_free(&b);
	if (from != 0 && my.affected_rows(MY(st)) != 1) {
		store_set_error(st, "mysql: a learned message changed by another "
		    "transaction meanwhile");
		st->conflict = 1;
		return -1;
	}
	return 0;
}

static int64_t
bayes_ntokens(struct store *st, const char *user)
{
	struct buf b;
	char *c[1];
	int64_t n = -1;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT COUNT(*) FROM bayes_token WHERE user = ");
	q_cstr(st, &b, user);
	if (row1(st, &b, c, 1) == 1) {
		n = atoll(c[0]);
		free(c[0]);
	}
	return n;
}

static int64_t
bayes_expire(struct store *st, const char *user, int64_t n)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "DELETE FROM bayes_token WHERE user = ");
	q_cstr(st, &b, user);
	(void)buf_printf(&b, " ORDER BY atime DIV 86400, spam + ham, atime LIMIT %lld", (long long)n);
	if (run(st, &b) < 0)
		return -1;
	return (int64_t)my.affected_rows(MY(st));
}

/* Run the query `select` (followed by the quoted user unless NULL) and
 * call row_fn for each row, streamed (row_fn issues no query on this
 * connection meanwhile). */
static int
each_row(struct store *st, const char *select, const char *user,
    void (*row_fn)(MYSQL_ROW, unsigned long *, void *), void *arg)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	struct buf b;
	int r = 0;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, select);
	if (user != NULL)
		q_cstr(st, &b, user);
	if (run(st, &b) < 0)
		return -1;
	if ((res = my.use_result(MY(st))) == NULL)
		return fail(st);
	while ((row = my.fetch_row(res)) != NULL)
		row_fn(row, my.fetch_lengths(res), arg);
	if (my.errnum(MY(st)) != 0)
		r = fail(st);
	my.free_result(res);
	return r;
}

struct token_fn {
	void (*fn)(const struct bayes_token_row *, void *);
	void *arg;
};

static void
token_row(MYSQL_ROW row, unsigned long *len, void *arg)
{
	struct token_fn *t = arg;
	struct bayes_token_row r = {
		(uint64_t)atoll(row[0] ? row[0] : "0"), atoll(row[1] ? row[1] : "0"),
		atoll(row[2] ? row[2] : "0"), atoll(row[3] ? row[3] : "0"),
	};

	(void)len;
	t->fn(&r, t->arg);
}

static int
bayes_tokens(struct store *st, const char *user,
    void (*fn)(const struct bayes_token_row *, void *), void *arg)
{
	struct token_fn t = { fn, arg };

	return each_row(st, "SELECT token, spam, ham, atime FROM bayes_token"
	    " WHERE user = ",
	    user, token_row, &t);
}

static int
bayes_put(struct store *st, const char *user, const struct bayes_token_row *rows,
    size_t n)
{
	for (size_t start = 0; start < n; start += IN_BATCH) {
		size_t end = start + IN_BATCH < n ? start + IN_BATCH : n;
		struct buf b;

		buf_init(&b, BUF_UNLIMITED);
		(void)buf_appends(&b, "INSERT INTO bayes_token (user, token, spam, ham, atime) VALUES ");
		for (size_t i = start; i < end; i++) {
			(void)buf_appends(&b, i > start ? ",(" : "(");
			q_cstr(st, &b, user);
			(void)buf_printf(&b, ",%lld,%lld,%lld,%lld)", (long long)(int64_t)rows[i].token,
			    (long long)rows[i].spam, (long long)rows[i].ham,
			    (long long)rows[i].atime);
		}
		(void)buf_appends(&b, " ON DUPLICATE KEY UPDATE spam = VALUES(spam),"
		    " ham = VALUES(ham), atime = VALUES(atime)");
		if (run(st, &b) < 0)
			return -1;
	}
	return 0;
}

/* Column i of a streamed row as a C string (malloc'ed; the bytes may
 * hold anything). */
static char *
col_str(MYSQL_ROW row, unsigned long *len, int i)
{
	char *s = xmalloc(len[i] + 1);

	memcpy(s, row[i] ? row[i] : "", len[i]);
	s[len[i]] = '\0';
	return s;
}

struct seen_fn {
	void (*fn)(const char *, char, void *);
	void *arg;
};

static void
seen_row(MYSQL_ROW row, unsigned long *len, void *arg)
{
	struct seen_fn *t = arg;
	char *key = col_str(row, len, 0);

	t->fn(key, row[1] ? row[1][0] : 0, t->arg);
	free(key);
}

static int
bayes_seen_all(struct store *st, const char *user,
    void (*fn)(const char *, char, void *), void *arg)
{
	struct seen_fn t = { fn, arg };

	return each_row(st, "SELECT msgkey, kind FROM bayes_seen WHERE user = ",
	    user, seen_row, &t);
}

struct user_fn {
	void (*fn)(const char *, void *);
	void *arg;
};

static void
user_row(MYSQL_ROW row, unsigned long *len, void *arg)
{
	struct user_fn *t = arg;
	char *u = col_str(row, len, 0);

	t->fn(u, t->arg);
	free(u);
}

static int
bayes_users(struct store *st, void (*fn)(const char *, void *), void *arg)
{
	struct user_fn t = { fn, arg };

	return each_row(st, "SELECT user FROM bayes_total UNION SELECT user FROM lr_model"
	    " ORDER BY 1",
	    NULL, user_row, &t);
}

static int
lr_changed(struct store *st, const char *user)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "INSERT INTO lr_model (user, gen, nspam, nham, changes) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_appends(&b, ", 0, 0, 0, 1) ON DUPLICATE KEY UPDATE changes = changes + 1");
	return run(st, &b);
}

static int
lr_sample_put(struct store *st, const char *user, const char *key, char kind,
    const void *feat, size_t len)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "REPLACE INTO lr_sample (user, msgkey, kind, feat) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_appendc(&b, ',');
	q_cstr(st, &b, key);
	(void)buf_printf(&b, ",'%c',", kind == 's' ? 's' : 'h');
	q_str(st, &b, len ? feat : "", len);
	(void)buf_appendc(&b, ')');
	if (run(st, &b) < 0)
		return -1;
	return lr_changed(st, user);
}

static int
lr_sample_kind(struct store *st, const char *user, const char *key, char *kind_r)
{
	return kind_of(st, "lr_sample", user, key, kind_r);
}

static int
lr_sample_delete(struct store *st, const char *user, const char *key)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "DELETE FROM lr_sample WHERE user = ");
	q_cstr(st, &b, user);
	(void)buf_appends(&b, " AND msgkey = ");
	q_cstr(st, &b, key);
	if (run(st, &b) < 0)
		return -1;
	if (my.affected_rows(MY(st)) == 0)
		return 0;
	return lr_changed(st, user) < 0 ? -1 : 1;
}

static int
lr_samples_trim(struct store *st, const char *user, int64_t keep)
{
	struct buf b;
	char *c[1];
	long long cut;
	int k;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT seq FROM lr_sample WHERE user = ");
	q_cstr(st, &b, user);
	(void)buf_printf(&b, " ORDER BY seq DESC LIMIT 1 OFFSET %lld", (long long)keep);
	if ((k = row1(st, &b, c, 1)) <= 0)
		return k;               /* error, or no more than keep samples */
	cut = atoll(c[0]);
	free(c[0]);
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "DELETE FROM lr_sample WHERE user = ");
	q_cstr(st, &b, user);
	(void)buf_printf(&b, " AND seq <= %lld", cut);
	if (run(st, &b) < 0)
		return -1;
	return (int)my.affected_rows(MY(st));
}

struct sample_fn {
	void (*fn)(const char *, char, const void *, size_t, void *);
	void *arg;
};

static void
sample_row(MYSQL_ROW row, unsigned long *len, void *arg)
{
	struct sample_fn *t = arg;
	char *key = col_str(row, len, 0);

	t->fn(key, row[1] ? row[1][0] : 0, row[2] ? row[2] : "", len[2], t->arg);
	free(key);
}

static int
lr_samples(struct store *st, const char *user,
    void (*fn)(const char *, char, const void *, size_t, void *), void *arg)
{
	struct sample_fn t = { fn, arg };

	/* streamed: the samples of a big database need not fit in memory
	 * twice */
	return each_row(st, "SELECT msgkey, kind, feat FROM lr_sample WHERE user = ",
	    user, sample_row, &t);
}

static int
lr_model_row(struct store *st, const char *user, struct lr_model_info *r,
    store_piece_fn *fn, void *arg)
{
	struct buf b;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int found = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, fn != NULL ?
	    "SELECT m.gen, m.nspam, m.nham, m.changes, w.weights FROM lr_model m"
	    " JOIN lr_weights w ON w.user = m.user WHERE m.user = " :
	    "SELECT gen, nspam, nham, changes FROM lr_model WHERE user = ");
	q_cstr(st, &b, user);
	if (run(st, &b) < 0)
		return -1;
	if ((res = my.store_result(MY(st))) == NULL)
		return fail(st);
	if ((row = my.fetch_row(res)) != NULL) {
		unsigned long *len = my.fetch_lengths(res);
		r->gen = atoll(row[0] ? row[0] : "0");
		r->nspam = atoll(row[1] ? row[1] : "0");
		r->nham = atoll(row[2] ? row[2] : "0");
		r->changes = atoll(row[3] ? row[3] : "0");
		found = 1;
		if (fn != NULL) {
			found = row[4] != NULL && len[4] > 0;
			if (found)
				fn(row[4], 0, len[4], len[4], arg);
		}
	}
	my.free_result(res);
	return found;
}

static int
lr_model_info(struct store *st, const char *user, struct lr_model_info *r)
{
	return lr_model_row(st, user, r, NULL, NULL);
}

static int
lr_model_get(struct store *st, const char *user, struct lr_model_info *r,
    store_piece_fn *fn, void *arg)
{
	return lr_model_row(st, user, r, fn, arg);
}

static int
lr_model_put(struct store *st, const char *user, int64_t nspam, int64_t nham,
    int64_t consumed, const void *blob, size_t len)
{
	struct buf b;

	/* the weights first: a reader that sees the new generation sees
	 * them */
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "REPLACE INTO lr_weights (user, weights) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_appendc(&b, ',');
	q_str(st, &b, blob, len);
	(void)buf_appendc(&b, ')');
	if (run(st, &b) < 0)
		return -1;
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "INSERT INTO lr_model (user, gen, nspam, nham, changes) VALUES (");
	q_cstr(st, &b, user);
	(void)buf_printf(&b, ", 1, %lld, %lld, 0) ON DUPLICATE KEY UPDATE gen = gen + 1,"
	    " nspam = VALUES(nspam), nham = VALUES(nham),"
	    " changes = GREATEST(changes - %lld, 0)",
	    (long long)nspam, (long long)nham, (long long)consumed);
	return run(st, &b);
}

static int
lr_claim_get(struct store *st, const char *user, int64_t *until_r)
{
	struct buf b;
	char *c[1];
	int k;

	*until_r = 0;
	buf_init(&b, BUF_UNLIMITED);
	/* in a transaction a locking read: two claimers see each other
	 * (outside one, a plain look, lr_training_read's first) */
	(void)buf_appends(&b, "SELECT expires FROM lr_claim WHERE user = ");
	q_cstr(st, &b, user);
	if (store_in_transaction(st))
		(void)buf_appends(&b, " FOR UPDATE");
	if ((k = row1(st, &b, c, 1)) == 1) {
		*until_r = atoll(c[0]);
		free(c[0]);
	}
	return k;
}

static int
lr_claim_put(struct store *st, const char *user, int64_t until)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, until > 0 ? "REPLACE INTO lr_claim (user, expires) VALUES (" :
	    "DELETE FROM lr_claim WHERE user = ");
	q_cstr(st, &b, user);
	if (until > 0)
		(void)buf_printf(&b, ", %lld)", (long long)until);
	return run(st, &b);
}

static int
q_put(struct store *st, const struct quarantine_item *q)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "INSERT INTO quarantine (id, created, sender, recipients, subject,"
	    " score, tests, message, envelope) VALUES (");
	q_cstr(st, &b, q->id);
	(void)buf_printf(&b, ",%lld,", (long long)q->created);
	q_cstr(st, &b, q->sender);
	(void)buf_appendc(&b, ',');
	q_cstr(st, &b, q->recipients);
	(void)buf_appendc(&b, ',');
	q_cstr(st, &b, q->subject);
	(void)buf_printf(&b, ",%.17g,", q->score);
	q_cstr(st, &b, q->tests);
	(void)buf_appendc(&b, ',');
	q_str(st, &b, q->message ? q->message : "", q->message_len);
	(void)buf_appendc(&b, ',');
	if (q->envelope != NULL && *q->envelope != '\0')
		q_cstr(st, &b, q->envelope);
	else
		(void)buf_appends(&b, "NULL");
	(void)buf_appendc(&b, ')');
	return run(st, &b);
}

static void
row_item(MYSQL_ROW row, unsigned long *len, struct quarantine_item *it, int with_msg)
{
	memset(it, 0, sizeof(*it));
	it->id = xstrdup(row[0] ? row[0] : "");
	it->created = (time_t)atoll(row[1] ? row[1] : "0");
	it->sender = xstrdup(row[2] ? row[2] : "");
	it->recipients = xstrdup(row[3] ? row[3] : "");
	it->subject = xstrdup(row[4] ? row[4] : "");
	it->score = strtod(row[5] ? row[5] : "0", NULL);
	it->tests = xstrdup(row[6] ? row[6] : "");
	if (with_msg) {
		it->message_len = len[7];
		it->message = xmalloc(len[7] + 1);
		if (len[7] > 0)
			memcpy(it->message, row[7], len[7]);
		it->message[len[7]] = '\0';
		it->envelope = xstrdup(row[8] ? row[8] : "");
	}
}

static int
q_list(struct store *st, void (*fn)(const struct quarantine_item *, void *), void *arg)
{
	struct buf b;
	MYSQL_RES *res;
	MYSQL_ROW row;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT id, created, sender, recipients, subject, score, tests"
	    " FROM quarantine ORDER BY created, id");
	if (run(st, &b) < 0)
		return -1;
	if ((res = my.store_result(MY(st))) == NULL)
		return fail(st);
	while ((row = my.fetch_row(res)) != NULL) {
		struct quarantine_item it;
		row_item(row, my.fetch_lengths(res), &it, 0);
		fn(&it, arg);
		quarantine_item_free(&it);
	}
	my.free_result(res);
	return 0;
}

static int
q_get(struct store *st, const char *id, struct quarantine_item *it)
{
	struct buf b;
	MYSQL_RES *res;
	MYSQL_ROW row;
	int r = 0;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT id, created, sender, recipients, subject, score, tests,"
	    " message, envelope FROM quarantine WHERE id = ");
	q_cstr(st, &b, id);
	if (run(st, &b) < 0)
		return -1;
	if ((res = my.store_result(MY(st))) == NULL)
		return fail(st);
	if ((row = my.fetch_row(res)) != NULL) {
		row_item(row, my.fetch_lengths(res), it, 1);
		r = 1;
	}
	my.free_result(res);
	return r;
}

static int
q_delete(struct store *st, const char *id)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "DELETE FROM quarantine WHERE id = ");
	q_cstr(st, &b, id);
	if (run(st, &b) < 0)
		return -1;
	return my.affected_rows(MY(st)) > 0;
}

static int
q_expire(struct store *st, time_t before)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_printf(&b, "DELETE FROM quarantine WHERE created < %lld", (long long)before);
	if (run(st, &b) < 0)
		return -1;
	return (int)my.affected_rows(MY(st));
}

static int
levels_get(struct store *st, const char *rcpt, struct spam_levels *l)
{
	struct buf b;
	char *c[4];
	int k;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "SELECT tag_level, spam_level, quarantine_level, reject_level"
	    " FROM spam_levels WHERE recipient = ");
	q_cstr(st, &b, rcpt);
	if ((k = row1(st, &b, c, 4)) == 1) {
		l->tag = strtod(c[0], NULL);
		l->spam = strtod(c[1], NULL);
		l->quarantine = strtod(c[2], NULL);
		l->reject = strtod(c[3], NULL);
		for (int i = 0; i < 4; i++)
			free(c[i]);
	}
	return k;
}

struct levels_fn {
	void (*fn)(const char *, const struct spam_levels *, void *);
	void *arg;
};

static void
levels_row(MYSQL_ROW row, unsigned long *len, void *arg)
{
	struct levels_fn *t = arg;
	char *r = col_str(row, len, 0);
	struct spam_levels l = {
		strtod(row[1] ? row[1] : "0", NULL), strtod(row[2] ? row[2] : "0", NULL),
		strtod(row[3] ? row[3] : "0", NULL), strtod(row[4] ? row[4] : "0", NULL),
	};

	t->fn(r, &l, t->arg);
	free(r);
}

static int
levels_list(struct store *st,
    void (*fn)(const char *, const struct spam_levels *, void *), void *arg)
{
	struct levels_fn t = { fn, arg };

	return each_row(st, "SELECT recipient, tag_level, spam_level, quarantine_level,"
	    " reject_level FROM spam_levels ORDER BY recipient",
	    NULL, levels_row, &t);
}

static int
levels_set(struct store *st, const char *rcpt, const struct spam_levels *l)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "REPLACE INTO spam_levels (recipient, tag_level, spam_level,"
	    " quarantine_level, reject_level) VALUES (");
	q_cstr(st, &b, rcpt);
	(void)buf_printf(&b, ",%.17g,%.17g,%.17g,%.17g)", l->tag, l->spam, l->quarantine,
	    l->reject);
	return run(st, &b);
}

/* innodb_lock_wait_timeout of this session: whole seconds, at least 1 */
static int
set_lock_wait(struct store *st, int ms)
{
	char sql[96];

	if (ms <= 0)
		return exec(st, "SET SESSION innodb_lock_wait_timeout = DEFAULT");
	snprintf(sql, sizeof(sql), "SET SESSION innodb_lock_wait_timeout = %d",
	    (ms + 999) / 1000);
	return exec(st, sql);
}

static int
levels_delete(struct store *st, const char *rcpt)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "DELETE FROM spam_levels WHERE recipient = ");
	q_cstr(st, &b, rcpt);
	return run(st, &b);
}

const struct store_driver store_driver_mysql = {
	.name = "mysql",
	.begin = "START TRANSACTION",
	/* InnoDB's consistent read: one snapshot, no locks */
	.begin_read = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	.open = my_open,
	.close = my_close,
	.exec = exec,
	.set_lock_wait = set_lock_wait,
	.bayes_totals = bayes_totals,
	.bayes_add_totals = bayes_add_totals,
	.bayes_get = bayes_get,
	.bayes_update = bayes_update,
	.bayes_bump = bayes_bump,
	.bayes_seen = bayes_seen,
	.bayes_set_seen = bayes_set_seen,
	.bayes_move_seen = bayes_move_seen,
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
