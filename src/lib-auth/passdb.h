/*
 * passdb.h - password verification backends of the auth service.
 *
 * A backend is named like a lookup table:
 *   passwd-file:/path    Dovecot-style user table (userdb.h), crypt(3)
 *                        hashes (yescrypt, SHA512-CRYPT, bcrypt, ...)
 *   sqlite:/path.db      table `users(name, password, ...)` of the store
 *   shadow               system users from /etc/shadow (needs root)
 *   pam[:service]        system users through PAM (default service
 *                        "tempest"; PAM falls back to "other")
 *   saslauthd[:/path]    Cyrus saslauthd over its UNIX socket (default
 *                        /var/run/saslauthd/mux); user@realm is sent as
 *                        login "user" and realm "realm"
 * The auth service asks the backends of auth_passdb_tables in order; the
 * first that accepts the password wins.  Names and passwords come from
 * network clients: they are bounded, never logged, and cleansed from
 * memory after use.
 */
#ifndef TEMPEST_PASSDB_H
#define TEMPEST_PASSDB_H

struct passdb;

/* Open one backend.  NULL with a malloc'ed *error_r on a bad spec. */
struct passdb *passdb_open(const char *spec, char **error_r);
void passdb_free(struct passdb **pdb);
/* The spec it was opened with (for logs). */
const char *passdb_name(const struct passdb *pdb);
/* Whether the backend needs root to work (shadow, pam). */
int passdb_needs_root(const struct passdb *pdb);
/*
 * Verify a password.  service is the protocol asking ("smtp", "imap").
 * 1 accepted, 0 rejected or unknown user, -1 temporary failure (the
 * backend could not be asked) with *error_r (static or malloc'ed into
 * a per-call buffer: valid until the next call).
 */
int passdb_verify(struct passdb *pdb, const char *user, const char *password,
    const char *service, const char **error_r);

/* The SCRAM-SHA-256 secret of user, if its stored password is one
 * (passwd-file and sqlite tables): 1 found, 0 unknown user or another
 * scheme, -1 temporary failure. */
struct scram_secret;
int passdb_scram_secret(struct passdb *pdb, const char *user,
    struct scram_secret *s, const char **error_r);

/*
 * Set (or add) a user's password in a writable backend (passwd-file or
 * sqlite).  The hash comes from userdb_hash_password().  0, or -1 with a
 * malloc'ed *error_r.
 */
int passdb_set_password(struct passdb *pdb, const char *user,
    const char *hash, char **error_r);

/* Pure helper for saslauthd: encode a request (counted strings: login,
 * password, service, realm) into out (max bytes).  Returns its length,
 * or -1 if a field is longer than 65535 bytes or out is too small. */
long passdb_saslauthd_request(char *out, size_t max, const char *login,
    const char *password, const char *service, const char *realm);

#endif
