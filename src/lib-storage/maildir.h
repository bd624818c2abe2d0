/*
 * maildir.h - Maildir++ mailbox access for the IMAP and POP3 servers.
 *
 * Layout (Dovecot-compatible in spirit):
 *   ROOT/{new,cur,tmp}          INBOX
 *   ROOT/.Name/{new,cur,tmp}    folder "Name"; "." separates levels
 *   ROOT/.Name/tempest-uidlist  per-folder UID list (see doc/imap.md):
 *       "T1 V<uidvalidity> N<uidnext> M<highestmodseq>"
 *       then one line per message "<uid> <modseq> <info|-> <kw|-> <basename>"
 *       where kw lists the message's keywords beyond the 26th (indices
 *       into tempest-keywords, ascending, comma-separated); "T1" lists
 *       (no kw field) are still read
 *   ROOT/tempest-keywords       keyword names, one a line; the first 26
 *                               are the letters a..z of the file names
 *   ROOT/subscriptions          subscribed folder names
 * Flags live in the file names ("base:2,FRS" + keyword letters); the UID
 * list and its lock file are rewritten under an fcntl lock, so several
 * processes can share a Maildir.
 *
 * Untrusted bytes: folder names from clients (checked by
 * maildir_name_check before any path is built: no '/', no empty or dot
 * components, valid modified UTF-7) and file names in the Maildir
 * (anyone who can deliver mail chooses none of them, but they are
 * parsed defensively anyway).
 */
#ifndef TEMPEST_MAILDIR_H
#define TEMPEST_MAILDIR_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Keywords per user (the tempest-keywords list); the first 26 are the
 * letters of the file names, the rest live in the UID list. */
#define MAILDIR_MAX_KEYWORDS 1024
#define MAILDIR_FILE_KEYWORDS 26
#define MAILDIR_KEYWORD_MAX_LEN 100

/* A set of keyword indices (bit i = user->keywords[i]). */
struct maildir_kw {
	uint64_t w[MAILDIR_MAX_KEYWORDS / 64];
};

struct mail_user {
	char *root;                     /* no trailing slash */
	char **keywords;                /* nkeywords of them */
	unsigned nkeywords;
};

struct mail {
	uint32_t uid;
	uint8_t flags;                  /* IMAP_FLAG_* (RECENT is per session) */
	uint8_t expunged;               /* gone on disk, not yet reported */
	uint8_t xkw_dirty;              /* xkw changed, not yet committed */
	uint32_t keywords;              /* bit i = user->keywords[i], i < 26 */
	char *xkw;                      /* keywords >= 26: "26,40" or NULL */
	uint64_t modseq;
	uint64_t vsize;                 /* size with CRLF, 0 = not known yet */
	char *fname;                    /* "cur/base:2,FS" relative to folder */
};

struct mailbox {
	struct mail_user *user;
	char *name;                     /* IMAP name ("INBOX", "Sent") */
	char *path;
	int readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	struct mail *mails;             /* the session's view, by uid */
	unsigned count, cap;
	/* stat cache: nothing changed on disk since the last sync */
	struct timespec st_list, st_new, st_cur;
	off_t size_list;
	ino_t ino_list;
};

/* Callbacks of a sync (any may be NULL). */
struct maildir_sync_cb {
	void (*expunge)(void *ctx, unsigned seq, uint32_t uid);  /* 1-based */
	void (*flags)(void *ctx, unsigned seq);
	void (*recent)(void *ctx, unsigned seq);        /* newly \Recent */
	void *ctx;
};

/* The user's mail root; created (with Sent, Drafts, Trash, Junk
 * subscribed) on first use.  NULL with *error_r (malloc'ed). */
struct mail_user *maildir_user_open(const char *root, char **error_r);
void maildir_user_free(struct mail_user **u);

/* 0 if name is an acceptable folder name, else -1 with *error_r. */
int maildir_name_check(const char *name, const char **error_r);
/* "INBOX" for any case of inbox, else a copy. */
char *maildir_name_normalize(const char *name);

struct maildir_folder {
	char *name;
	const char *special;            /* "\\Sent" etc. or NULL */
	int children;
};
/* Every folder, INBOX first.  Free with maildir_list_free(). */
int maildir_list(struct mail_user *u, struct maildir_folder **v_r,
    unsigned *n_r);
void maildir_list_free(struct maildir_folder *v, unsigned n);
int maildir_exists(struct mail_user *u, const char *name);
int maildir_create(struct mail_user *u, const char *name, const char **error_r);
int maildir_delete(struct mail_user *u, const char *name, const char **error_r);
int maildir_rename(struct mail_user *u, const char *from, const char *to,
    const char **error_r);
/* Special-use attribute of a folder name or NULL. */
const char *maildir_special_use(const char *name);

/* Subscriptions. */
char **maildir_subscriptions(struct mail_user *u, unsigned *n_r);
int maildir_subscribe(struct mail_user *u, const char *name, int on);

/* Open a folder and load its state (a first sync).  readonly: EXAMINE
 * (new/ is left alone).  -1 with *error_r for a missing folder. */
int maildir_open(struct mail_user *u, const char *name, int readonly,
    struct mailbox **box_r, const char **error_r);
void maildir_close(struct mailbox **box);
/*
 * Bring the view up to date: new messages are appended (new/ moved to
 * cur/ unless readonly, reported through cb->recent), flag changes
 * reported, vanished messages removed (cb->expunge) when allow_expunge,
 * otherwise marked expunged.  Returns 0 or -1 (I/O error, logged).
 */
int maildir_sync(struct mailbox *box, int allow_expunge,
    const struct maildir_sync_cb *cb);
/* Set flags and keywords of view entry i (rename + modseq bump).  0, or
 * -1 when the message has vanished. */
int maildir_set_flags(struct mailbox *box, unsigned i, unsigned flags,
    const struct maildir_kw *kw);
/* Write the UID list after a batch of maildir_set_flags. */
int maildir_commit(struct mailbox *box);
/* Remove the file of view entry i (the sync reports the expunge). */
int maildir_expunge(struct mailbox *box, unsigned i);
/* Absolute path of the file of view entry i (malloc'ed). */
char *maildir_mail_path(struct mailbox *box, unsigned i);
/* Read view entry i; retries once after a sync if it was renamed.
 * The data has LF line ends as stored.  0 or -1. */
int maildir_read(struct mailbox *box, unsigned i, char **data_r,
    size_t *len_r);
time_t maildir_internaldate(struct mailbox *box, unsigned i);
/* Physical size of the file (LF line ends). */
uint64_t maildir_psize(struct mailbox *box, unsigned i);

/*
 * Store a new message (LF or CRLF line ends; stored with LF) into folder
 * `name` with flags/keywords and internal date; returns the folder's
 * uidvalidity and the new UID.  0, or -1 with *error_r.
 */
int maildir_save(struct mail_user *u, const char *name, const char *data,
    size_t len, unsigned flags, const struct maildir_kw *kw, time_t date,
    uint32_t *uidvalidity_r, uint32_t *uid_r, const char **error_r);
/* Copy view entries idx[0..n) of box into folder `dest` (hard links when
 * possible); new UIDs in uids_r (n of them).  0 or -1. */
int maildir_copy(struct mailbox *box, const unsigned *idx, unsigned n,
    const char *dest, uint32_t *uidvalidity_r, uint32_t *uids_r,
    const char **error_r);

/* Keyword name -> bit index (added to tempest-keywords when create);
 * -1 when unknown (or I/O error), -2 when the list is full
 * (MAILDIR_MAX_KEYWORDS), -3 when name is longer than
 * MAILDIR_KEYWORD_MAX_LEN. */
int maildir_keyword(struct mail_user *u, const char *name, int create);

/* Keyword sets. */
static inline int
maildir_kw_has(const struct maildir_kw *kw, unsigned i)
{
	return i < MAILDIR_MAX_KEYWORDS && (kw->w[i / 64] >> (i % 64) & 1);
}
static inline void
maildir_kw_set(struct maildir_kw *kw, unsigned i)
{
	if (i < MAILDIR_MAX_KEYWORDS)
		kw->w[i / 64] |= (uint64_t)1 << (i % 64);
}
/* All keywords of a message (file letters and the UID list's). */
void maildir_mail_kw(const struct mail *m, struct maildir_kw *kw_r);
/*
 * Parse the UID list's kw field: s[0..len) holds ascending decimal
 * indices in [26, MAILDIR_MAX_KEYWORDS) separated by ',' (no empty
 * items, no signs, no leading zeros).  Bits are added to *kw.  0, or -1
 * for anything else (*kw is then unchanged).  Pure.
 */
int maildir_kw_parse(const char *s, size_t len, struct maildir_kw *kw);
/* The kw field for the indices >= 26 of kw (malloc'ed), NULL if none. */
char *maildir_kw_format(const struct maildir_kw *kw);

/* Directories a change notifier should watch for this folder (3 paths:
 * the folder, new/, cur/); malloc'ed strings into paths[]. */
void maildir_watch_paths(struct mailbox *box, char *paths[3]);

#endif
