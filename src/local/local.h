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
 * (maildir_stage_start), then commits each (fsync, link into new/: 0, or
 * -1 with *error_r "x.y.z text"), fsyncs the new/ directories and only
 * then reports.  Freeing an uncommitted one leaves no trace. */
struct maildir_stage {
	int fd;                 /* the unnamed file */
	int dirfd;              /* new/, opened as the recipient */
	char *name;
	char *path;             /* new/name, for messages */
};
/* maildir_deliver_nosync that may stage the copy (*stage_r set, result
 * DELIVER_SENT provisionally) instead of syncing and naming it. */
int maildir_deliver_stage(const struct delivery *d, const char *dir,
    struct buf *text, char **sync_dir_r, struct maildir_stage **stage_r);
void maildir_stage_start(struct maildir_stage *st);
int maildir_stage_commit(struct maildir_stage *st, char **error_r);
void maildir_stage_free(struct maildir_stage **st);

/* Copy the message to fd with Return-Path and Delivered-To prepended;
 * mbox_quote adds the From_ line and >From quoting.  0 or -1 (errno). */
int local_copy_message(const struct delivery *d, int fd, int mbox_quote);

/* Delivery for system users before the default mailbox (aliases,
 * .forward, mailbox_command, recipes): -1 = not handled here. */
void local_hook_init(void);
int local_hook(const struct delivery *d, const char *user, struct buf *text);
/* Recipes of a virtual user (a recipe file in the mailbox directory):
 * -1 = none, else a DELIVER_* status. */
int local_hook_virtual(const struct delivery *d, const char *mailbox,
    long uid, long gid, struct buf *text);

#endif
