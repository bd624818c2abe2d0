/*
 * maildrop.h - the file format of local submissions (queue_directory/
 * maildrop/), written by `tempest sendmail` (any local user) and read by
 * the pickup service (doc/queue-format.md).
 *
 *   "TEMPEST-MAILDROP 1\n"
 *   records "<type><length>:<data>\n": S sender, R recipient (repeated),
 *   F full name (optional), then M with the message up to end of file
 *   (LF line ends).  Optional envelope parameters (sendmail -N/-R/-V/-B/
 *   -SMTPUTF8, `quarantine release`): V DSN ENVID (xtext-decoded), Z RET
 *   (1 FULL, 2 HDRS), U SMTPUTF8 ("1"), B body type ("8BITMIME"), and
 *   per recipient, before its R: N NOTIFY (DSN_NOTIFY_* bits, decimal)
 *   and O ORCPT ("type;address", decoded), as Postfix puts its dsn_*
 *   attributes before the recipient record.  Readers of the first
 *   version skip these records.
 * A file is complete when its mode is 0644 (written as 0600).  The reader
 * treats the file as hostile: the submitting user controls every byte.
 */
#ifndef TEMPEST_MAILDROP_H
#define TEMPEST_MAILDROP_H

#include <stddef.h>
#include <sys/types.h>

#define MAILDROP_MAGIC "TEMPEST-MAILDROP 1\n"
#define MAILDROP_RCPT_MAX 1000
#define MAILDROP_FIELD_MAX 1024

struct maildrop {
	char *sender;
	char *fullname;
	char **rcpts;           /* NULL-terminated */
	size_t nrcpt;
	off_t content_off;      /* message starts here, runs to EOF */
	/* envelope parameters (0 / NULL: not given) */
	char *envid;            /* DSN ENVID, xtext-decoded */
	int ret;                /* 1 FULL, 2 HDRS */
	int smtputf8;
	int body_8bit;          /* BODY=8BITMIME */
	int *notify;            /* per recipient: DSN_NOTIFY_* bits */
	char **orcpt;           /* per recipient: "type;address" or NULL */
};

/* Whether a value may be a DSN ENVID (printable ASCII, at most 100
 * bytes), a NOTIFY bit set (NEVER alone, or SUCCESS/FAILURE/DELAY), an
 * ORCPT ("addr-type;address", no controls, bounded). */
int maildrop_envid_ok(const char *s);
int maildrop_notify_ok(int notify);
int maildrop_orcpt_ok(const char *s);

/* Parse the envelope of an open maildrop file.  0, or -1 with a static
 * reason in *error_r. */
int maildrop_read(int fd, struct maildrop *md, const char **error_r);
void maildrop_free(struct maildrop *md);

/*
 * Write md (content_off unused; notify and orcpt may be NULL) and the
 * message content[0..len) to qdir/maildrop/ as a new file, complete
 * (mode 0644) and fsync'ed with its directory.  0, or -1 with *error_r
 * (allocated).  The caller pokes pickup.
 */
int maildrop_write(const char *qdir, const struct maildrop *md,
    const char *content, size_t len, char **error_r);

#endif
