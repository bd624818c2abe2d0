/*
 * passdb.c - password verification backends (see passdb.h): passwd-file,
 * SQLite, /etc/shadow, PAM and Cyrus saslauthd.  User names and passwords
 * come from network clients through the auth service; they are compared,
 * hashed or forwarded to the backend, never logged.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>
#ifdef HAVE_PAM
#include <security/pam_appl.h>
#endif

#include "dl.h"
#include "log.h"
#include "mem.h"
#include "passdb.h"
#include "sasl.h"
#include "scram.h"
#include "userdb.h"

#ifdef HAVE_PAM
static int pam_load(char **error_r);
#endif

#define SASLAUTHD_DEFAULT_PATH "/var/run/saslauthd/mux"
#define SASLAUTHD_TIMEOUT 10    /* seconds */
#define PASSWD_FILE_MAX (64 * 1024 * 1024)

enum passdb_kind { PDB_PASSWD_FILE, PDB_SQLITE, PDB_SHADOW, PDB_PAM,
    PDB_SASLAUTHD };

struct passdb {
	enum passdb_kind kind;
	char *spec;
	char *arg;              /* path or PAM service */
	struct userdb *udb;
	char error[256];
};

struct passdb *
passdb_open(const char *spec, char **error_r)
{
	struct passdb *p = xcalloc(1, sizeof(*p));
	const char *colon = strchr(spec, ':');
	size_t tlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	const char *arg = colon != NULL ? colon + 1 : "";

#define IS(t) (tlen == strlen(t) && strncasecmp(spec, t, tlen) == 0)
	if (IS("passwd-file")) {
		p->kind = PDB_PASSWD_FILE;
		p->udb = userdb_open(spec, error_r);
		if (p->udb == NULL)
			goto fail;
	} else if (IS("sqlite")) {
		p->kind = PDB_SQLITE;
		if (*arg != '/')
			goto badarg;
	} else if (IS("shadow")) {
		p->kind = PDB_SHADOW;
	} else if (IS("pam")) {
#ifdef HAVE_PAM
		p->kind = PDB_PAM;
		if (*arg == '\0')
			arg = "tempest";
		/* now, before the process is confined: not at the first login */
		if (pam_load(error_r) < 0)
			goto fail;
#else
		*error_r = xstrdup("pam: this build has no PAM support");
		goto fail;
#endif
	} else if (IS("saslauthd")) {
		p->kind = PDB_SASLAUTHD;
		if (*arg == '\0')
			arg = SASLAUTHD_DEFAULT_PATH;
		if (*arg != '/' || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			goto badarg;
	} else {
		*error_r = xasprintf("unknown password table type in \"%s\" "
		    "(passwd-file, sqlite, shadow, pam or saslauthd)", spec);
		goto fail;
	}
#undef IS
	p->spec = xstrdup(spec);
	p->arg = xstrdup(arg);
	return p;
badarg:
	*error_r = xasprintf("%s: expected an absolute path", spec);
fail:
	free(p);
	return NULL;
}

void
passdb_free(struct passdb **pdb)
{
	if (*pdb == NULL)
		return;
	userdb_free(&(*pdb)->udb);
	free((*pdb)->spec);
	free((*pdb)->arg);
	FREE(*pdb);
}

const char *
passdb_name(const struct passdb *pdb)
{
	return pdb->spec;
}

int
passdb_needs_root(const struct passdb *pdb)
{
	return pdb->kind == PDB_SHADOW || pdb->kind == PDB_PAM;
}

/* ---- sqlite ---- */

static int
sqlite_verify(struct passdb *p, const char *user, const char *password,
    const char **error_r)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r = -1, rc;

	if (sqlite3_open_v2(p->arg, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(p->error, sizeof(p->error), "%s: %s", p->arg,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, 2000);
	if (sqlite3_prepare_v2(db, "SELECT password FROM users WHERE name = ?1 "
	    "COLLATE NOCASE LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
		snprintf(p->error, sizeof(p->error), "%s: %s", p->arg,
		    sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		r = h != NULL && userdb_password_match(h, password);
	} else if (rc == SQLITE_DONE) {
		userdb_dummy_verify(password);
		r = 0;
	} else
		snprintf(p->error, sizeof(p->error), "%s: %s", p->arg,
		    sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (r < 0)
		*error_r = p->error;
	return r;
}

static int
sqlite_set(struct passdb *p, const char *user, const char *hash,
    char **error_r)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	sqlite3_stmt *st = NULL;
	int r = -1;

	if (sqlite3_open_v2(p->arg, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		*error_r = xasprintf("%s: %s", p->arg, db != NULL ?
		    sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS users ("
	    "name TEXT PRIMARY KEY COLLATE NOCASE, password TEXT NOT NULL, "
	    "uid INTEGER, gid INTEGER, mailbox TEXT)", NULL, NULL, &err) !=
	    SQLITE_OK) {
		*error_r = xasprintf("%s: %s", p->arg, err);
		sqlite3_free(err);
		goto out;
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO users (name, password) "
	    "VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET "
	    "password = excluded.password", -1, &st, NULL) != SQLITE_OK) {
		*error_r = xasprintf("%s: %s", p->arg, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		*error_r = xasprintf("%s: %s", p->arg, sqlite3_errmsg(db));
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

/* ---- /etc/shadow ---- */

static int
shadow_verify(struct passdb *p, const char *user, const char *password,
    const char **error_r)
{
	struct spwd sp, *res = NULL;
	char *tmp = xmalloc(16384);
	int r, e;

	e = getspnam_r(user, &sp, tmp, 16384, &res);
	if (res == NULL) {
		userdb_dummy_verify(password);
		explicit_bzero(tmp, 16384);
		free(tmp);
		if (e != 0 && e != ENOENT) {
			snprintf(p->error, sizeof(p->error), "shadow: %s",
			    strerror(e));
			*error_r = p->error;
			return -1;
		}
		return 0;
	}
	r = userdb_password_match(sp.sp_pwdp, password);
	explicit_bzero(tmp, 16384);
	free(tmp);
	return r;
}

/* ---- PAM ---- */

#ifdef HAVE_PAM
/*
 * libpam is loaded with dlopen() when a pam passdb is opened, not linked:
 * every Tempest process would otherwise map it (and libaudit, libcap-ng)
 * at start (dl.h; PAM_SONAME comes from meson).
 */
static struct {
	int (*start)(const char *, const char *, const struct pam_conv *, pam_handle_t **);
	int (*end)(pam_handle_t *, int);
	int (*authenticate)(pam_handle_t *, int);
	int (*acct_mgmt)(pam_handle_t *, int);
	int (*set_item)(pam_handle_t *, int, const void *);
	const char *(*strerror)(pam_handle_t *, int);
} pam;

static int
pam_load(char **error_r)
{
	const struct dl_sym syms[] = {
		{ "pam_start", (void **)&pam.start },
		{ "pam_end", (void **)&pam.end },
		{ "pam_authenticate", (void **)&pam.authenticate },
		{ "pam_acct_mgmt", (void **)&pam.acct_mgmt },
		{ "pam_set_item", (void **)&pam.set_item },
		{ "pam_strerror", (void **)&pam.strerror },
	};
	char *err;

	if (pam.start != NULL)
		return 0;
	if (dl_load(PAM_SONAME, syms, NELEM(syms), NULL, &err) < 0) {
		*error_r = xasprintf("pam: the PAM library: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

struct pam_data {
	const char *user, *password;
};

static int
pam_conv_fn(int n, const struct pam_message **msg, struct pam_response **resp,
    void *appdata)
{
	struct pam_data *d = appdata;
	struct pam_response *r;
	int i;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = xcalloc((size_t)n, sizeof(*r));
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = xstrdup(d->password);
			break;
		case PAM_PROMPT_ECHO_ON:
			r[i].resp = xstrdup(d->user);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			break;
		default:
			for (; i >= 0; i--)
				free(r[i].resp);
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* The auth service delays failures itself, without blocking. */
static void
pam_no_delay(int retval, unsigned usec, void *arg)
{
	(void)retval;
	(void)usec;
	(void)arg;
}

static int
pam_verify(struct passdb *p, const char *user, const char *password,
    const char *service, const char **error_r)
{
	struct pam_data d = { user, password };
	struct pam_conv conv = { pam_conv_fn, &d };
	pam_handle_t *h = NULL;
	int rc, r;

	(void)service;
	rc = pam.start(p->arg, user, &conv, &h);
	if (rc != PAM_SUCCESS) {
		snprintf(p->error, sizeof(p->error), "pam_start: %s",
		    pam.strerror(h, rc));
		*error_r = p->error;
		return -1;
	}
	pam.set_item(h, PAM_FAIL_DELAY, (const void *)pam_no_delay);
	rc = pam.authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rc == PAM_SUCCESS)
		rc = pam.acct_mgmt(h, PAM_SILENT);
	switch (rc) {
	case PAM_SUCCESS:
		r = 1;
		break;
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_PERM_DENIED:
	case PAM_CRED_INSUFFICIENT:
		r = 0;
		break;
	default:
		snprintf(p->error, sizeof(p->error), "pam: %s",
		    pam.strerror(h, rc));
		*error_r = p->error;
		r = -1;
	}
	pam.end(h, rc);
	return r;
}
#endif

/* ---- saslauthd ---- */

long
passdb_saslauthd_request(char *out, size_t max, const char *login,
    const char *password, const char *service, const char *realm)
{
	const char *f[4] = { login, password, service, realm };
	size_t pos = 0, i;

	for (i = 0; i < 4; i++) {
		size_t n = strlen(f[i]);
		if (n > 65535 || pos + 2 + n > max)
			return -1;
		out[pos++] = (char)(n >> 8);
		out[pos++] = (char)(n & 0xff);
		memcpy(out + pos, f[i], n);
		pos += n;
	}
	return (long)pos;
}

static int
io_full(int fd, void *p, size_t n, int wr)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = wr ? write(fd, (char *)p + done, n - done) :
		    read(fd, (char *)p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int
saslauthd_verify(struct passdb *p, const char *user, const char *password,
    const char *service, const char **error_r)
{
	struct sockaddr_un sun;
	struct timeval tv = { SASLAUTHD_TIMEOUT, 0 };
	char req[4 * (SASL_FIELD_MAX + 2) + 64], reply[1024], *login;
	const char *at = strrchr(user, '@');
	unsigned char lenb[2];
	size_t rlen;
	long n;
	int fd, r = -1;

	login = at != NULL ? xstrndup(user, (size_t)(at - user)) : xstrdup(user);
	n = passdb_saslauthd_request(req, sizeof(req), login, password,
	    service != NULL ? service : "tempest", at != NULL ? at + 1 : "");
	free(login);
	if (n < 0) {
		snprintf(p->error, sizeof(p->error), "saslauthd: request too long");
		goto out_noclose;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p->arg);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(p->error, sizeof(p->error), "socket: %s", strerror(errno));
		goto out_noclose;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(p->error, sizeof(p->error), "saslauthd %s: %s", p->arg,
		    strerror(errno));
		goto out;
	}
	if (io_full(fd, req, (size_t)n, 1) < 0 || io_full(fd, lenb, 2, 0) < 0) {
		snprintf(p->error, sizeof(p->error), "saslauthd %s: %s", p->arg,
		    errno ? strerror(errno) : "connection closed");
		goto out;
	}
	rlen = (size_t)lenb[0] << 8 | lenb[1];
	if (rlen >= sizeof(reply) || io_full(fd, reply, rlen, 0) < 0) {
		snprintf(p->error, sizeof(p->error), "saslauthd %s: bad reply",
		    p->arg);
		goto out;
	}
	reply[rlen] = '\0';
	if (strncmp(reply, "OK", 2) == 0)
		r = 1;
	else if (strncmp(reply, "NO", 2) == 0)
		r = 0;
	else
		snprintf(p->error, sizeof(p->error), "saslauthd %s: unexpected "
		    "reply", p->arg);
out:
	close(fd);
out_noclose:
	explicit_bzero(req, sizeof(req));
	if (r < 0)
		*error_r = p->error;
	return r;
}

/* ---- passwd-file update ---- */

static int
passwd_file_set(struct passdb *p, const char *user, const char *hash,
    char **error_r)
{
	const char *path = p->arg;
	FILE *in, *out;
	char *tmp, *line = NULL;
	size_t cap = 0, ulen = strlen(user);
	ssize_t len;
	struct stat st;
	int fd, found = 0, r = -1;

	in = fopen(path, "r");
	if (in == NULL && errno != ENOENT) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (in != NULL && fstat(fileno(in), &st) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		fclose(in);
		return -1;
	}
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
		*error_r = xasprintf("%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out_tmp;
	}
	if (in != NULL) {
		(void)!fchown(fd, st.st_uid, st.st_gid);
		fchmod(fd, st.st_mode & 07777);
	}
	while (in != NULL && (len = getline(&line, &cap, in)) >= 0) {
		char *colon = strchr(line, ':');
		if (line[0] != '#' && colon != NULL &&
		    (size_t)(colon - line) == ulen &&
		    strncasecmp(line, user, ulen) == 0 && !found) {
			/* replace field 2, keep the rest of the line */
			char *rest = strchr(colon + 1, ':');
			found = 1;
			fprintf(out, "%.*s:%s%s", (int)ulen, line, hash,
			    rest != NULL ? rest : "\n");
			continue;
		}
		fputs(line, out);
		if (len > 0 && line[len - 1] != '\n')
			fputc('\n', out);
	}
	if (!found) {
		/* a new virtual user: Maildir domain/user/ under
		 * virtual_mailbox_base */
		const char *at = strrchr(user, '@');
		if (at != NULL)
			fprintf(out, "%s:%s::::%s/%.*s/::\n", user, hash, at + 1,
			    (int)(at - user), user);
		else
			fprintf(out, "%s:%s::::::\n", user, hash);
	}
	if (fflush(out) != 0 || fsync(fd) != 0 || ferror(out)) {
		*error_r = xasprintf("%s: %s", tmp, strerror(errno));
		fclose(out);
		goto out_unlink;
	}
	fclose(out);
	if (rename(tmp, path) < 0) {
		*error_r = xasprintf("rename %s: %s", path, strerror(errno));
		goto out_unlink;
	}
	r = 0;
	goto out_tmp;
out_unlink:
	unlink(tmp);
out_tmp:
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	if (in != NULL)
		fclose(in);
	free(tmp);
	return r;
}

/* ---- SCRAM secrets ---- */

static int
secret_from(const char *stored, struct scram_secret *s)
{
	if (strncasecmp(stored, "{SCRAM-SHA-256}", 15) != 0)
		return 0;
	return scram_secret_parse(stored + 15, s) == 0 ? 1 : 0;
}

int
passdb_scram_secret(struct passdb *pdb, const char *user,
    struct scram_secret *s, const char **error_r)
{
	int r = 0;

	if (!sasl_name_ok(user, strlen(user)))
		return 0;
	if (pdb->kind == PDB_PASSWD_FILE) {
		struct user u;
		r = userdb_lookup(pdb->udb, user, &u);
		if (r < 0)
			*error_r = "user table not readable";
		if (r > 0) {
			r = secret_from(u.password, s);
			user_free(&u);
		}
	} else if (pdb->kind == PDB_SQLITE) {
		sqlite3 *db = NULL;
		sqlite3_stmt *st = NULL;
		r = -1;
		if (sqlite3_open_v2(pdb->arg, &db, SQLITE_OPEN_READONLY, NULL) ==
		    SQLITE_OK && sqlite3_prepare_v2(db, "SELECT password FROM "
		    "users WHERE name = ?1 COLLATE NOCASE LIMIT 1", -1, &st,
		    NULL) == SQLITE_OK) {
			int rc;
			sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW) {
				const char *h = (const char *)
				    sqlite3_column_text(st, 0);
				r = h != NULL ? secret_from(h, s) : 0;
			} else if (rc == SQLITE_DONE)
				r = 0;
		}
		if (r < 0) {
			snprintf(pdb->error, sizeof(pdb->error), "%s: %s",
			    pdb->arg, db != NULL ? sqlite3_errmsg(db) :
			    "cannot open");
			*error_r = pdb->error;
		}
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
	return r;
}

/* ---- dispatch ---- */

int
passdb_verify(struct passdb *pdb, const char *user, const char *password,
    const char *service, const char **error_r)
{
	int r;

	if (!sasl_name_ok(user, strlen(user)) ||
	    strlen(password) > SASL_FIELD_MAX)
		return 0;
	switch (pdb->kind) {
	case PDB_PASSWD_FILE:
		r = userdb_verify(pdb->udb, user, password);
		if (r < 0)
			*error_r = "user table not readable";
		return r;
	case PDB_SQLITE:
		return sqlite_verify(pdb, user, password, error_r);
	case PDB_SHADOW:
		return shadow_verify(pdb, user, password, error_r);
#ifdef HAVE_PAM
	case PDB_PAM:
		return pam_verify(pdb, user, password, service, error_r);
#endif
	case PDB_SASLAUTHD:
		return saslauthd_verify(pdb, user, password, service, error_r);
	default:
		panic("passdb_verify: kind %d", (int)pdb->kind);
	}
}

int
passdb_set_password(struct passdb *pdb, const char *user, const char *hash,
    char **error_r)
{
	if (!sasl_name_ok(user, strlen(user))) {
		*error_r = xasprintf("invalid user name");
		return -1;
	}
	switch (pdb->kind) {
	case PDB_PASSWD_FILE:
		return passwd_file_set(pdb, user, hash, error_r);
	case PDB_SQLITE:
		return sqlite_set(pdb, user, hash, error_r);
	default:
		*error_r = xasprintf("%s: passwords are not set through Tempest "
		    "(use passwd(1) or saslpasswd2(8))", pdb->spec);
		return -1;
	}
}
