/*
 * local.h - local delivery internals: one recipient's copy of a queued
 * message, and the mailbox writers.
 */
#ifndef TEMPEST_LOCAL_H
#define TEMPEST_LOCAL_H

#include <sys/types.h>
#include <stddef.h>

#include "buf.h"

struct delivery {
	const char *queue_id;
	int fd;                 /* queue file, read-only */
	off_t content_off;
	size_t content_len;
	long long arrival_us;
	const char *sender;
	const char *rcpt;
	const char *orcpt;
	int notify;             /* DSN NOTIFY bits (smtp_parse.h) */
	const char *qpath;      /* the queue file (ENVID, RET), or NULL */
	long long rcpt_offset;  /* queue record offset: unique per recipient */
};

/* Writers return DELIVER_SENT/DEFER/BOUNCE and put "x.y.z text" in text. */
int maildir_deliver(const struct delivery *d, const char *dir, struct buf *text);
int mbox_deliver(const struct delivery *d, const char *path, struct buf *text);
/* mbox_deliver to a user's own mailbox: refused (5.2.0) when the file
 * exists with another owner than the user we run as (non-root). */
int mbox_deliver_mailbox(const struct delivery *d, const char *path,
    struct buf *text);
/* maildir_deliver without the fsync of new/: on success *sync_dir_r is
 * that directory (malloc'ed), which the caller must fsync (with
 * maildir_fsync_dir: 0 or -1 with errno) before reporting the delivery. */
int maildir_deliver_nosync(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r);
int maildir_fsync_dir(const char *dir);

/* A Maildir copy written but neither fsync'ed nor named yet: a delivery
 * agent stages every copy of a batch, starts their writeback together
 * (maildir_stage_start), waits for each one's data (maildir_stage_write),
 * links each into new/ (maildir_stage_link), fsyncs the new/ directories
 * (on ext4 the one journal commit of the batch: the copies' blocks and
 * sizes and their names), then fsyncs each copy (maildir_stage_sync:
 * nothing left to commit on ext4) and only then reports.  These return 0,
 * or -1 with *error_r "x.y.z text".  A crash before the fsyncs can leave
 * a name for an incomplete copy: the retry's duplicate check compares
 * the file with the copy it would write and replaces it (maildir.c).
 * Freeing an unnamed one leaves no trace. */
struct maildir_stage {
	int fd;                 /* the unnamed file */
	int dirfd;              /* new/, opened as the recipient */
	int linked;             /* the name in new/ is this attempt's */
	char *name;
	char *path;             /* new/name, for messages */
};
/* maildir_deliver_nosync that may stage the copy (*stage_r set, result
 * DELIVER_SENT provisionally) instead of syncing and naming it. */
int maildir_deliver_stage(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r, struct maildir_stage **stage_r);
void maildir_stage_start(struct maildir_stage *st);
int maildir_stage_write(struct maildir_stage *st, char **error_r);
int maildir_stage_link(struct maildir_stage *st, char **error_r);
int maildir_stage_sync(struct maildir_stage *st, char **error_r);
void maildir_stage_free(struct maildir_stage **st);

/* Copy the message to fd with Return-Path and Delivered-To prepended;
 * mbox_quote adds the From_ line and >From quoting.  0 or -1 (errno). */
int local_copy_message(const struct delivery *d, int fd, int mbox_quote);
/* Whether fd holds exactly what local_copy_message(d, fd, 0) writes: 1
 * yes, 0 no (another size, other bytes), -1 a read failed (errno). */
int local_copy_compare(const struct delivery *d, int fd);

/* Delivery for system users before the default mailbox (aliases,
 * .forward, mailbox_command, recipes): -1 = not handled here. */
void local_hook_init(void);
int local_hook(const struct delivery *d, const char *user, struct buf *text);
/* Recipes of a virtual user (a recipe file in the mailbox directory):
 * -1 = none, else a DELIVER_* status. */
int local_hook_virtual(const struct delivery *d, const char *mailbox,
    long uid, long gid, struct buf *text);

#endif
