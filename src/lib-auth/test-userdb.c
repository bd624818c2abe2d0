/* test-userdb.c - passwd-file lookups and crypt(3) verification. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sasl.h"
#include "userdb.h"
#include "test.h"

static void
test_verify(void)
{
	char path[] = "/tmp/test-userdb-XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	char *h = userdb_hash_password("s3cret"), *err = NULL;
	struct userdb *db;
	struct user u;
	char spec[256];

	T_OK(strncmp(h, "{SHA512-CRYPT}$6$", 17) == 0);
	fprintf(fp, "# comment\nalice@example.test:%s:1000:1000::/srv/alice/::\n"
	    "bob@example.test:{PLAIN}pw::::b/::\n"
	    "carl@example.test:$y$j9T$aBcD1234efgh5678ijkl/.$:::::\n", h);
	fclose(fp);
	snprintf(spec, sizeof(spec), "passwd-file:%s", path);
	db = userdb_open(spec, &err);
	T_OK(db != NULL);
	T_INTEQ(userdb_verify(db, "alice@example.test", "s3cret"), 1);
	T_INTEQ(userdb_verify(db, "ALICE@example.test", "s3cret"), 1);
	T_INTEQ(userdb_verify(db, "alice@example.test", "s3cre"), 0);
	T_INTEQ(userdb_verify(db, "bob@example.test", "pw"), 1);
	T_INTEQ(userdb_verify(db, "bob@example.test", "pwx"), 0);
	T_INTEQ(userdb_verify(db, "carl@example.test", "x"), 0);
	T_INTEQ(userdb_verify(db, "nobody@example.test", "pw"), 0);
	T_INTEQ(userdb_lookup(db, "alice@example.test", &u), 1);
	T_INTEQ(u.uid, 1000);
	T_STREQ(u.mailbox, "/srv/alice/");
	user_free(&u);
	T_OK(userdb_open("ldap:x", &err) == NULL);
	free(err);
	userdb_free(&db);
	free(h);
	unlink(path);
}

/* Passwords longer than SASL_FIELD_MAX are refused before any hashing
 * (the post-login master calls userdb_verify() directly when the auth
 * service is off: a 64 KiB password cost sha512-crypt time there). */
static void
test_verify_long_password(void)
{
	char path[] = "/tmp/test-userdb-XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	char *err = NULL, spec[256], at_max[SASL_FIELD_MAX + 1],
	    over[SASL_FIELD_MAX + 2];
	struct userdb *db;

	memset(at_max, 'y', SASL_FIELD_MAX);
	at_max[SASL_FIELD_MAX] = '\0';
	memset(over, 'x', SASL_FIELD_MAX + 1);
	over[SASL_FIELD_MAX + 1] = '\0';
	fprintf(fp, "max@example.test:{PLAIN}%s::::m/::\n"
	    "long@example.test:{PLAIN}%s::::l/::\n", at_max, over);
	fclose(fp);
	snprintf(spec, sizeof(spec), "passwd-file:%s", path);
	db = userdb_open(spec, &err);
	T_OK(db != NULL);
	T_INTEQ(userdb_verify(db, "max@example.test", at_max), 1);
	T_INTEQ(userdb_verify(db, "long@example.test", over), 0);
	userdb_free(&db);
	unlink(path);
}

int
main(void)
{
	T_RUN(test_verify);
	T_RUN(test_verify_long_password);
	return t_done();
}
