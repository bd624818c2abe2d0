/*
 * cleanup.h - turn an envelope and a stream of message lines into a
 * queue file: header checks (hop count, missing Message-ID/Date), virtual
 * alias expansion of recipients, and the durable write.  Used by smtpd and
 * pickup, so every way into the queue applies the same rules.
 *
 * Message lines come from SMTP clients or local users; each call gets one
 * line or part of a long line (bounded by the caller's line buffer).
 */
#ifndef TEMPEST_CLEANUP_H
#define TEMPEST_CLEANUP_H

#include <stddef.h>
#include <sys/types.h>

struct cleanup;

struct cleanup_rcpt {
	const char *addr;       /* as received (before alias expansion) */
	const char *orcpt;      /* DSN ORCPT or NULL */
	int notify;
};

/* Create the queue file and write the envelope.  Recipients are expanded
 * through virtual_alias_maps; ORCPT keeps the original address.  NULL
 * with *error_r (a "4.x.x text" or "5.x.x text" reply) on failure. */
struct cleanup *cleanup_open(const char *qdir, const char *sender,
    const struct cleanup_rcpt *rcpts, size_t nrcpt, const char *envid,
    int ret, char *const *attrs, char **error_r);
const char *cleanup_id(const struct cleanup *c);
/* Start of the content: optional Received header text (no final LF). */
void cleanup_received(struct cleanup *c, const char *received);
/* One line of content (eol = 1) or a chunk of a long line (eol = 0). */
void cleanup_line(struct cleanup *c, const char *p, size_t n, int eol);
/* Copy len bytes of message content from fd at offset off (e.g. another
 * queue file's content) line by line; with headers_only, only the header
 * (up to the blank line, which is not copied).  0, or -1 when fewer
 * could be read (what was read is copied). */
int cleanup_copy_fd(struct cleanup *c, int fd, off_t off, size_t len,
    int headers_only);
size_t cleanup_size(const struct cleanup *c);
/* For a content filter before cleanup_finish(): flush the content written
 * so far to the queue file (queue_directory/incoming/ID) and give its
 * offset and length there.  0, or -1 after a write error. */
int cleanup_flush_content(struct cleanup *c, off_t *off_r, size_t *len_r);
int cleanup_hops(const struct cleanup *c);
/* Finish the file; with sync also fsync it (never its directory).
 * Without sync, take the descriptor with cleanup_take_fd() and commit it
 * with queue_commit.  0, or -1 with *error_r. */
int cleanup_finish(struct cleanup *c, int sync, char **error_r);
int cleanup_take_fd(struct cleanup *c);
/* 1 when the file's name in incoming/ is already durable (a reserved
 * file, see qwriter_pool_init): no directory fsync needed to commit. */
int cleanup_entry_durable(const struct cleanup *c);
/* Number of final recipients written. */
size_t cleanup_nrcpt(const struct cleanup *c);
void cleanup_free(struct cleanup **c);
/* Drop the half-written file. */
void cleanup_abort(struct cleanup **c);

#endif
