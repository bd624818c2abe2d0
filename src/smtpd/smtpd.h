/*
 * smtpd.h - the SMTP server session and the hooks that extensions
 * (STARTTLS/AUTH in smtpd_ext.c, the content filter) plug into.
 */
#ifndef TEMPEST_SMTPD_H
#define TEMPEST_SMTPD_H

#include <sys/socket.h>
#include <stddef.h>

#include "buf.h"
#include "smtp_parse.h"

struct io;
struct cleanup;
struct event;

enum smtpd_state { S_CMD, S_DATA, S_BDAT, S_FILTER, S_COMMIT };

struct smtpd_rcpt {
	char *addr;
	char *orcpt;
	int notify;
};

struct session {
	struct io *io;
	struct sockaddr_storage sa;
	char addr[64];                  /* client IP */
	char client[96];                /* "unknown[IP]" for logs */
	int trusted;                    /* in mynetworks */
	enum smtpd_state state;
	char last_cmd[16];
	struct buf line;                /* current command/data line */
	struct buf counts;              /* per-command counters for the log */
	int errors, junk;
	int closing, committing, dead, delayed, slept;
	int processing, free_pending;   /* session_free() inside session_process() */
	int skip_long, long_reported;
	struct event *delay_ev;
	struct event *deadline_ev;      /* smtpd_per_request_deadline */
	long long req_start;            /* when the current request began (s) */

	char *helo;
	int esmtp;
	int has_mail;
	char *sender;
	struct smtp_mail_params mp;
	struct smtpd_rcpt *rcpts;
	size_t nrcpt;
	size_t rcpt_bytes;              /* their addresses, each + 1 */

	struct cleanup *cl;             /* message being received */
	struct cleanup **extra;         /* more copies to commit with cl (a
					 * split by the content filter) */
	size_t nextra;
	int commit_pending, commit_error; /* files in the group commit */
	size_t msg_size;
	int too_big;
	int data_line_start, prev_crlf;

	int bdat_active, bdat_last, bdat_failed;
	size_t bdat_size, bdat_remaining;
	char bdat_error[128];
	struct buf pending_line;        /* BDAT line split across chunks */

	/* extensions (smtpd_ext.c) */
	int tls;
	char *auth_user;
	void *ext;
	void *filter;                   /* content filter exchange (smtpd_filter.c) */
	unsigned long anvil_token;      /* counted by anvil (0: not) */
};

/* Queue a reply line (CRLF added); 4xx/5xx count as errors. */
void smtpd_reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stop reading commands (e.g. while the auth service answers) and
 * continue later; smtpd_session_resume() processes pipelined input. */
void smtpd_session_pause(struct session *s);
void smtpd_session_resume(struct session *s);

/* Extension hooks, defined in smtpd_ext.c. */
void smtpd_tls_init(void);
/* The session begins: 0 greet now; 1 the hook greets later (SMTPS with
 * a new TLS session rate: after the handshake); -1 it ended the session. */
int smtpd_connect_hook(struct session *s);
void smtpd_ehlo_extensions(struct session *s);
/* Return 1 if the extension handled the command. */
int smtpd_command_hook(struct session *s, int verb, const char *args);
int smtpd_check_mail_hook(struct session *s);
/* After a TLS handshake: -1 when the session must end (reply queued). */
int smtpd_tls_ready(struct session *s);
/* "S" / "A" / "SA" suffix of the protocol name in Received:. */
const char *smtpd_proto_suffix(struct session *s);
const char *smtpd_client_log_suffix(struct session *s);
/* Received: clauses after "from ... ([addr])" ("\n\t(using ...)"), or "". */
const char *smtpd_received_clauses(struct session *s);
/* Restrictions owned by extensions: -1 unknown name, 0 no objection,
 * 1 reject with reply filled in. */
int smtpd_restriction_hook(struct session *s, const char *name, char *reply,
    size_t rlen);
/* The session is being freed: release extension state. */
void smtpd_session_end_hook(struct session *s);
/* Content filter before the final reply: 0 accept, -1 replied already. */
int smtpd_content_hook(struct session *s);

#endif
