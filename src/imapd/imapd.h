/*
 * imapd.h - the IMAP server's session state, shared by its files:
 *   imapd.c          process, connections, command collection, login
 *   imapd_mailbox.c  folder commands (SELECT, LIST, STATUS, APPEND, ...)
 *                    and the untagged updates of a selected folder
 *   imapd_fetch.c    FETCH, STORE, SEARCH, COPY/MOVE, EXPUNGE
 *
 * Untrusted bytes: everything the client sends; it reaches the command
 * handlers only as a parsed struct imap_command.
 */
#ifndef TEMPEST_IMAPD_H
#define TEMPEST_IMAPD_H

#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "imap_parser.h"
#include "imap_seqset.h"
#include "ioev.h"
#include "login_conn.h"

struct mail_user;
struct mailbox;
struct maildir_kw;
struct event;
struct fetch_ctx;

enum client_state { ST_NOAUTH, ST_AUTH, ST_SELECTED, ST_LOGOUT };

struct client {
	struct login_conn conn; /* io, ids, admission, login, end (lib-login) */
	enum client_state state;
	struct buf cmd;         /* command being collected (with literals) */
	struct buf line;
	uint64_t literal_left;
	int discard_line;       /* skipping the rest of an overlong line */
	int bad_count;
	char *auth_tag;         /* AUTHENTICATE waiting for the response */
	char *idle_tag;         /* IDLE in progress */
	char *user;
	struct mail_user *mu;
	struct mailbox *box;
	int condstore;
	int qresync;            /* ENABLE QRESYNC: VANISHED instead of EXPUNGE */
	int utf8;               /* ENABLE UTF8=ACCEPT: names in UTF-8 */
	int compressed;         /* COMPRESS=DEFLATE active */
	uint32_t *saved;        /* SEARCHRES "$": UIDs, ascending */
	unsigned nsaved;
	int wd[3];              /* change notification watches (-1 = none) */
	unsigned exists_sent, recent;
	struct fetch_ctx *fetch;
	char *login_tag;        /* LOGIN/AUTHENTICATE the master is checking */
};

/* The IMAP-only settings (imapd.c); the ones pop3d has too are in
 * struct login_settings. */
struct imapd_settings {
	long long line_max, literal_max, append_max, max_bad;
	long long timeout_noauth, timeout_auth;
	unsigned max_depth;
};
extern struct imapd_settings imapd_set;

/* Replies. */
void client_send(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void client_tagged(struct client *c, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void client_write_buf(struct client *c, struct buf *b);
void client_close(struct client *c, const char *bye);

/* Mailbox commands (imapd_mailbox.c). */
void cmd_select(struct client *c, struct imap_command *cmd, int readonly);
void cmd_create(struct client *c, struct imap_command *cmd);
void cmd_delete(struct client *c, struct imap_command *cmd);
void cmd_rename(struct client *c, struct imap_command *cmd);
void cmd_subscribe(struct client *c, struct imap_command *cmd, int on);
void cmd_list(struct client *c, struct imap_command *cmd, int lsub);
void cmd_namespace(struct client *c, struct imap_command *cmd);
void cmd_status(struct client *c, struct imap_command *cmd);
void cmd_append(struct client *c, struct imap_command *cmd);
void cmd_close(struct client *c, struct imap_command *cmd, int expunge);
/* Send EXISTS/RECENT/EXPUNGE/FETCH for changes on disk. */
void client_sync(struct client *c, int allow_expunge);
void client_unselect(struct client *c);
/* SEARCHRES: whether uid is in the saved result. */
int client_saved_has(const struct client *c, uint32_t uid);
/* Write "(\Seen \Flagged kw)" for a message of the selected folder. */
void client_write_flags(struct client *c, struct buf *b, unsigned i);
/* Write a stored (modified UTF-7) name as the client wants it: as is,
 * or decoded to UTF-8 after ENABLE UTF8=ACCEPT. */
void client_write_mailbox(struct client *c, struct buf *b, const char *name);
/* UTF8=ACCEPT: replace a client's UTF-8 name argument in place by its
 * modified UTF-7 form.  0, or -1 (invalid UTF-8). */
int client_utf8_arg(struct client *c, struct imap_arg *a);
/* Mailbox name argument -> normalised, checked name (malloc'ed), or NULL
 * after a BAD/NO reply has been sent. */
char *client_mailbox_arg(struct client *c, const char *tag,
    const struct imap_arg *a);

/* "1:3,7" from a list of numbers (runs of consecutive ones joined). */
void client_write_numbers(struct buf *b, const uint32_t *v, unsigned n);
/* Write "* VANISHED (EARLIER) set" for the UIDs of set (resolved, at most
 * uidnext - 1) that are not in the selected folder, as ranges. */
void client_vanished_earlier(struct client *c, struct buf *b,
    const struct seqset *set);

/* Flag list (or flag atoms) -> flags and keywords; keywords are created
 * when create.  0, or -1 with *error_r. */
int client_parse_flags(struct client *c, const struct imap_arg *v,
    unsigned n, int create, unsigned *flags_r, struct maildir_kw *kw_r,
    const char **error_r);

/* Message commands (imapd_fetch.c). */
void cmd_fetch(struct client *c, struct imap_command *cmd, int uid,
    unsigned argi);
void cmd_store(struct client *c, struct imap_command *cmd, int uid,
    unsigned argi);
void cmd_search(struct client *c, struct imap_command *cmd, int uid,
    unsigned argi);
void cmd_copy(struct client *c, struct imap_command *cmd, int uid,
    unsigned argi, int move);
void cmd_expunge(struct client *c, struct imap_command *cmd, int uid,
    unsigned argi);
/* COMPRESS DEFLATE (imapd_compress.c). */
void cmd_compress(struct client *c, struct imap_command *cmd);

/* Continue a FETCH that paused on a full output buffer: 1 when done. */
int fetch_continue(struct client *c);
void fetch_free(struct client *c);

/* Change notification (imapd.c): watch/unwatch the selected folder. */
void notify_watch(struct client *c);
void notify_unwatch(struct client *c);

/* Resume reading commands (after a delay or a long FETCH). */
void client_resume(struct client *c);

#endif
