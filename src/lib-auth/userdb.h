/*
 * userdb.h - the one user table shared by SMTP AUTH, IMAP, POP3 and the
 * web console, and by local delivery for virtual mailboxes.
 *
 * Backend today: a Dovecot-style passwd-file
 *     user@domain:{SCHEME}hash:uid:gid:gecos:mailbox:shell:extra
 * where {SCHEME} is one of SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT,
 * YESCRYPT, CRYPT (all verified with crypt(3)) or PLAIN, and mailbox is
 * relative to virtual_mailbox_base (a trailing / means Maildir).  The file
 * is named by `virtual_mailbox_maps = passwd-file:/path` (the first such
 * table) so delivery and login read the same users.
 */
#ifndef TEMPEST_USERDB_H
#define TEMPEST_USERDB_H

#include <sys/types.h>

struct userdb;

struct user {
	char *name;             /* as stored: user@domain */
	char *password;         /* "{SCHEME}hash" */
	uid_t uid;
	gid_t gid;
	char *mailbox;          /* absolute path (ends in / for Maildir) */
};

/* Open "passwd-file:/path".  NULL with *error_r on a bad spec. */
struct userdb *userdb_open(const char *spec, char **error_r);
/* The table the configuration names (virtual_mailbox_maps'
 * passwd-file:), or NULL with *error_r. */
struct userdb *userdb_open_config(char **error_r);
void userdb_free(struct userdb **db);
/* 1 found (*u filled; free with user_free), 0 unknown, -1 error. */
int userdb_lookup(struct userdb *db, const char *name, struct user *u);
void user_free(struct user *u);
/* 1 password matches, 0 no (or unknown user, or a password longer than
 * SASL_FIELD_MAX: refused before any hashing), -1 temporary failure.
 * Constant-time compare; the password is never logged. */
int userdb_verify(struct userdb *db, const char *name, const char *password);
/* Compare password with a stored "{SCHEME}hash" (or a bare crypt(3)
 * hash): 1 match, 0 not.  Locked hashes ("!", "*", empty) never match. */
int userdb_password_match(const char *stored, const char *password);
/* Spend the time of one hash verification (for unknown users). */
void userdb_dummy_verify(const char *password);
/* Hash a password for storing: "{SHA512-CRYPT}$6$..." (malloc'ed). */
char *userdb_hash_password(const char *password);

#endif
