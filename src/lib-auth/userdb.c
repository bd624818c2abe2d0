/*
 * userdb.c - passwd-file user table.  The file is administrator-owned;
 * names and passwords come from clients (SMTP AUTH, IMAP, POP3) and are
 * only compared, hashed and looked up, never logged.
 */
#include <sys/stat.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "ossl.h"
#include "sasl.h"
#include "scram.h"
#include "str.h"
#include "userdb.h"

#define USERDB_LINE_MAX 4096

struct userdb {
	char *path;
};

struct userdb *
userdb_open(const char *spec, char **error_r)
{
	struct userdb *db;

	if (strncmp(spec, "passwd-file:", 12) != 0 || spec[12] == '\0') {
		*error_r = xasprintf("unsupported user table: %s "
		    "(expected passwd-file:/path)", spec);
		return NULL;
	}
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(spec + 12);
	return db;
}

struct userdb *
userdb_open_config(char **error_r)
{
	char **v = str_split(config_str("virtual_mailbox_maps"), STR_LIST_SEPS,
	    NULL);
	struct userdb *db = NULL;
	size_t i;

	for (i = 0; v[i] != NULL && db == NULL; i++)
		if (strncmp(v[i], "passwd-file:", 12) == 0)
			db = userdb_open(v[i], error_r);
	if (db == NULL && v[0] == NULL)
		*error_r = xstrdup("no passwd-file: table in virtual_mailbox_maps");
	else if (db == NULL && *error_r == NULL)
		*error_r = xstrdup("no passwd-file: table in virtual_mailbox_maps");
	str_split_free(&v);
	return db;
}

void
userdb_free(struct userdb **db)
{
	if (*db == NULL)
		return;
	free((*db)->path);
	FREE(*db);
}

void
user_free(struct user *u)
{
	free(u->name);
	if (u->password != NULL)
		explicit_bzero(u->password, strlen(u->password));
	free(u->password);
	free(u->mailbox);
	memset(u, 0, sizeof(*u));
}

int
userdb_lookup(struct userdb *db, const char *name, struct user *u)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int found = 0;

	memset(u, 0, sizeof(*u));
	if (strlen(name) > 512 || strchr(name, ':') != NULL)
		return 0;
	fp = fopen(db->path, "r");
	if (fp == NULL) {
		log_warn("user table %s: %s", db->path, strerror(errno));
		return -1;
	}
	while (!found && (len = getline(&line, &cap, fp)) >= 0) {
		char *f[8] = { 0 }, *s = line, *colon;
		int i = 0;
		if (len > USERDB_LINE_MAX)
			continue;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		while (i < 8 && s != NULL) {
			f[i++] = s;
			colon = strchr(s, ':');
			if (colon != NULL)
				*colon++ = '\0';
			s = colon;
		}
		if (strcasecmp(f[0], name) != 0)
			continue;
		found = 1;
		u->name = xstrdup(f[0]);
		u->password = xstrdup(f[1] != NULL ? f[1] : "");
		u->uid = f[2] != NULL && *f[2] ? (uid_t)strtoul(f[2], NULL, 10) : (uid_t)-1;
		u->gid = f[3] != NULL && *f[3] ? (gid_t)strtoul(f[3], NULL, 10) : (gid_t)-1;
		if (f[5] != NULL && f[5][0] == '/')
			u->mailbox = xstrdup(f[5]);
		else
			u->mailbox = xasprintf("%s/%s",
			    config_str("virtual_mailbox_base"),
			    f[5] != NULL ? f[5] : "");
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	fclose(fp);
	return found;
}

static int
verify_hash(const char *stored, const char *password)
{
	const char *scheme_end, *hash = stored;
	struct crypt_data *cd;
	const char *out;
	int ok;

	if (stored[0] == '{' && (scheme_end = strchr(stored, '}')) != NULL) {
		size_t n = (size_t)(scheme_end - stored - 1);
		hash = scheme_end + 1;
		if (n == 5 && strncasecmp(stored + 1, "PLAIN", 5) == 0) {
			size_t a = strlen(hash), b = strlen(password);
			return a == b && CRYPTO_memcmp(hash, password, a) == 0;
		}
		if (n == 13 && strncasecmp(stored + 1, "SCRAM-SHA-256", 13) == 0) {
			struct scram_secret sec;
			int match = scram_secret_parse(hash, &sec) == 0 &&
			    scram_secret_match(&sec, password);
			explicit_bzero(&sec, sizeof(sec));
			return match;
		}
	}
	if (*hash == '\0' || *hash == '!' || *hash == '*')
		return 0;
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_r(password, hash, cd);
	ok = out != NULL && out[0] != '*' && strlen(out) == strlen(hash) &&
	    CRYPTO_memcmp(out, hash, strlen(hash)) == 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

int
userdb_password_match(const char *stored, const char *password)
{
	return verify_hash(stored, password);
}

void
userdb_dummy_verify(const char *password)
{
	(void)verify_hash("$6$rounds=5000$tempestdummysalt$"
	    "0000000000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000", password);
}

int
userdb_verify(struct userdb *db, const char *name, const char *password)
{
	struct user u;
	int r;

	/* as passdb_verify(): no hashing of an oversized password (the
	 * post-login master calls this directly for a login process) */
	if (strlen(password) > SASL_FIELD_MAX)
		return 0;
	r = userdb_lookup(db, name, &u);
	if (r <= 0) {
		/* spend the same time as for a real user */
		(void)verify_hash("$6$rounds=5000$tempestdummysalt$"
		    "0000000000000000000000000000000000000000000000000000000"
		    "000000000000000000000000000000", password);
		return r;
	}
	r = verify_hash(u.password, password);
	user_free(&u);
	return r;
}

char *
userdb_hash_password(const char *password)
{
	char *salt, *out;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *h;

	salt = crypt_gensalt_ra("$6$", 0, NULL, 0);
	if (salt == NULL)
		fatal("crypt_gensalt: %s", strerror(errno));
	h = crypt_r(password, salt, cd);
	if (h == NULL || h[0] == '*')
		fatal("crypt failed");
	out = xasprintf("{SHA512-CRYPT}%s", h);
	free(salt);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}
