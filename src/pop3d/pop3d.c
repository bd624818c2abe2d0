/*
 * pop3d.c - the POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS,
 * RFC 5034 SASL PLAIN) over the user's Maildir INBOX.
 *
 * Untrusted bytes: client command lines, read with a hard line limit and
 * tokenised by lib-pop3.  As for IMAP (imapd.c), the code runs on both
 * sides of the login split: pop3-login (pop3_login_main: chrooted, as
 * login_user, TLS and the AUTHORIZATION state) and pop3d (pop3d_main:
 * the post-login master of lib-login, or with "-- worker" a worker with
 * one user's uid serving the TRANSACTION state).  Each process serves
 * many sessions through the event loop.  What a connection does alike
 * in IMAP (admission, plaintext policy, hold after a failed login,
 * hand-over, end) is lib-login's login_conn; this file keeps POP3's
 * commands, replies and states.  UIDL values are the
 * folder's persistent UID and UIDVALIDITY ("%08X%08X"), so they stay
 * stable across sessions and are shared with IMAP.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth_client.h"
#include "buf.h"
#include "config.h"
#include "ioev.h"
#include "log.h"
#include "login_conn.h"
#include "login_master.h"
#include "login_plain.h"
#include "login_proto.h"
#include "maildir.h"
#include "mem.h"
#include "ossl.h"
#include "pop3_parser.h"
#include "service.h"

static const struct cfg_param pop3d_params[] = {
	{ "pop3d_tls_wrappermode", CFG_BOOL, "no", 0, "Implicit TLS (POP3S): the TLS handshake starts at connect" },
	{ "pop3d_disable_plaintext_auth", CFG_BOOL, "yes", 0, "Refuse USER/PASS and AUTH PLAIN before TLS, except from pop3d_trusted_networks" },
	{ "pop3d_trusted_networks", CFG_LIST, "$mynetworks", 0, "Clients allowed plaintext authentication without TLS" },
	{ "pop3d_process_session_limit", CFG_INT, "1000", 0, "Concurrent connections one pop3-login process serves (before login, and TLS sessions it relays)" },
	{ "pop3d_client_connection_limit", CFG_INT, "50", 0, "Concurrent POP3 connections from one client IP address, counted by the post-login master over all pop3-login processes (0 = no limit)" },
	{ "pop3d_user_connection_limit", CFG_INT, "10", 0, "Concurrent POP3 sessions of one user, over all processes (0 = no limit)" },
	{ "pop3d_post_login_service", CFG_STR, "pop3d", 0, "master.cf name of the post-login service (private/NAME) pop3-login hands sessions to" },
	{ "pop3d_timeout", CFG_TIME, "10m", 's', "Idle time before a POP3 session is closed (RFC 1939: at least 10 minutes)" },
	{ "pop3d_login_timeout", CFG_TIME, "3m", 's', "Time a client has to log in in total, however it trickles its input (Dovecot's login processes allow 3 minutes); 0 = no limit" },
	{ "pop3d_auth_failure_delay", CFG_TIME, "0s", 's', "Extra delay of pop3d itself after a failed login, growing with failures from the same address (the auth service already delays: auth_failure_delay)" },
	{ "pop3d_auth_service", CFG_BOOL, "yes", 0, "Verify passwords through the auth service (smtpd_sasl_path); no: the post-login master checks them against the user table" },
};
CONFIG_PARAMS(pop3d_params);

#define LINE_MAX_POP3 1024
#define OUT_AHEAD (256 * 1024)

struct pmsg {
	unsigned idx;           /* view index */
	int deleted;
};

struct pclient {
	struct login_conn conn; /* io, ids, admission, login, end */
	int bad;
	int authed;
	char *user_arg;         /* USER given, waiting for PASS */
	char *user;
	int auth_wait;          /* AUTH PLAIN waiting for the response */
	struct buf line;
	struct mail_user *mu;
	struct mailbox *box;
	struct pmsg *msgs;
	unsigned nmsgs;
	/* RETR/TOP in progress */
	char *out_data;
	size_t out_len, out_pos;
};

static struct login_settings set;
static SSL_CTX *tls_ctx;

static void
out(struct pclient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct pclient *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	login_vreply(c->conn.io, NULL, fmt, ap);
	va_end(ap);
}

static void
pclient_free(struct pclient *c)
{
	buf_free(&c->line);
	free(c->user_arg);
	free(c->user);
	free(c->msgs);
	free(c->out_data);
	maildir_close(&c->box);
	maildir_user_free(&c->mu);
	login_conn_free(&c->conn);
	free(c);
}

static void
pclient_close(struct pclient *c)
{
	if (login_conn_stop(&c->conn))
		pclient_free(c);
}

static void pclient_input(struct pclient *c);

/* ---- message data ---- */

/* The message with CRLF line ends (malloc'ed). */
static char *
load_crlf(struct pclient *c, unsigned idx, size_t *len_r)
{
	char *raw, *d;
	size_t len, o = 0;

	if (maildir_read(c->box, idx, &raw, &len) < 0)
		return NULL;
	d = xmalloc(len * 2 + 1);
	for (size_t k = 0; k < len; k++) {
		if (raw[k] == '\n' && (k == 0 || raw[k - 1] != '\r'))
			d[o++] = '\r';
		d[o++] = raw[k];
	}
	free(raw);
	d[o] = '\0';
	*len_r = o;
	c->box->mails[idx].vsize = o;
	return d;
}

static uint64_t
msg_size(struct pclient *c, unsigned n)
{
	unsigned idx = c->msgs[n].idx;
	size_t len;
	char *d;

	if (c->box->mails[idx].vsize == 0 && (d = load_crlf(c, idx, &len)) != NULL)
		free(d);
	return c->box->mails[idx].vsize;
}

/* Queue data[0..len) dot-stuffed, then ".\r\n"; continues on LOWAT. */
static void
send_more(struct pclient *c)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	while (c->out_pos < c->out_len && io_outlen(c->conn.io) + b.len < OUT_AHEAD) {
		const char *p = c->out_data + c->out_pos;
		const char *nl = memchr(p, '\n', c->out_len - c->out_pos);
		size_t n = nl ? (size_t)(nl - p) + 1 : c->out_len - c->out_pos;
		if (*p == '.')
			buf_appendc(&b, '.');
		buf_append(&b, p, n);
		c->out_pos += n;
	}
	if (c->out_pos >= c->out_len) {
		if (c->out_len > 0 && c->out_data[c->out_len - 1] != '\n')
			buf_appends(&b, "\r\n");
		buf_appends(&b, ".\r\n");
		FREE(c->out_data);
		c->out_len = c->out_pos = 0;
	}
	io_write(c->conn.io, b.data, b.len);
	buf_free(&b);
}

/* ---- login ---- */

static void
delay_done(void *arg)
{
	struct pclient *c = arg;

	if (c->conn.failures >= LOGIN_FAILURES_MAX) {
		out(c, "-ERR Too many authentication failures.");
		pclient_close(c);
		return;
	}
	if (login_conn_resume(&c->conn))
		pclient_input(c);
}

/* Reply msg, then hold the session (login_conn_failed). */
static void
auth_failed(struct pclient *c, const char *msg)
{
	out(c, "%s", msg);
	login_conn_failed(&c->conn, set.auth_delay, delay_done);
}

static void
login_auth_done(int st, const char *user, const char *reason, void *arg)
{
	struct pclient *c = arg;
	char *asked = c->conn.login_user;

	c->conn.login_user = NULL;
	c->conn.paused = 0;
	io_resume(c->conn.io);
	if (st == AUTH_OK) {
		/* to a worker with the user's rights; c is done here */
		login_conn_handoff(&c->conn, user && *user ? user : asked, "");
		pclient_free(c);
		free(asked);
		return;
	} else if (st == LOGIN_STATUS_LIMIT) {
		log_warn("%s: too many sessions for %s", c->conn.id, user);
		out(c, "-ERR [IN-USE] Too many sessions for this user.");
	} else if (st == AUTH_TEMPFAIL)
		out(c, "-ERR [SYS/TEMP] Temporary authentication failure.");
	else {
		log_info("%s: authentication failed for user=<%s> [%s]%s%s", c->conn.id,
		    asked, c->conn.ip, reason ? ": " : "", reason ? reason : "");
		auth_failed(c, st == AUTH_LOCKED ?
		    "-ERR [SYS/TEMP] Too many authentication failures, try later." :
		    "-ERR [AUTH] Authentication failed.");
	}
	free(asked);
	if (!c->conn.paused && !c->conn.closing)
		pclient_input(c);
}

static void
do_login(struct pclient *c, const char *user, const char *pass)
{
	if (login_conn_auth(&c->conn, user, pass, login_auth_done) < 0)
		auth_failed(c, "-ERR [AUTH] Authentication failed.");
}

static void
auth_plain(struct pclient *c, const char *resp)
{
	struct buf d;
	const char *user, *pass;

	buf_init(&d, 2048);
	switch (login_plain_decode(resp, &d, &user, &pass)) {
	case LOGIN_PLAIN_OK:
		do_login(c, user, pass);
		break;
	case LOGIN_PLAIN_ABORTED:
		out(c, "-ERR Authentication aborted.");
		break;
	case LOGIN_PLAIN_BAD_BASE64:
		out(c, "-ERR Invalid base64 data.");
		break;
	case LOGIN_PLAIN_MALFORMED:
	case LOGIN_PLAIN_REFUSED:
		auth_failed(c, "-ERR [AUTH] Authentication failed.");
		break;
	}
	buf_free(&d);
}

/* ---- commands ---- */

static void
cmd_capa(struct pclient *c)
{
	struct buf b;

	buf_init(&b, 1024);
	buf_appends(&b, "+OK Capability list follows\r\nTOP\r\nUIDL\r\n"
	    "RESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n");
	if (!c->authed) {
		if (login_conn_plaintext_ok(&c->conn, &set))
			buf_appends(&b, "USER\r\nSASL PLAIN\r\n");
		if (tls_ctx != NULL && !io_is_tls(c->conn.io))
			buf_appends(&b, "STLS\r\n");
	}
	buf_appends(&b, "IMPLEMENTATION Tempest\r\n.\r\n");
	io_write(c->conn.io, b.data, b.len);
	buf_free(&b);
}

/* Message number argument -> index into c->msgs, or -1 after -ERR. */
static int
msg_arg(struct pclient *c, const char *s)
{
	unsigned n;

	if (s == NULL || pop3_msgnum(s, c->nmsgs, &n) < 0 || c->msgs[n - 1].deleted) {
		out(c, "-ERR No such message.");
		return -1;
	}
	return (int)n - 1;
}

static void
cmd_transaction(struct pclient *c, struct pop3_cmd *cmd)
{
	const char *n = cmd->name;
	int k;

	if (!strcmp(n, "STAT")) {
		unsigned cnt = 0;
		uint64_t size = 0;
		for (unsigned i = 0; i < c->nmsgs; i++)
			if (!c->msgs[i].deleted) {
				cnt++;
				size += msg_size(c, i);
			}
		out(c, "+OK %u %llu", cnt, (unsigned long long)size);
	} else if (!strcmp(n, "LIST") || !strcmp(n, "UIDL")) {
		int uidl = n[0] == 'U';
		if (cmd->nargs == 1) {
			if ((k = msg_arg(c, cmd->args[0])) < 0)
				return;
			if (uidl)
				out(c, "+OK %d %08X%08X", k + 1,
				    c->box->mails[c->msgs[k].idx].uid, c->box->uidvalidity);
			else
				out(c, "+OK %d %llu", k + 1,
				    (unsigned long long)msg_size(c, (unsigned)k));
			return;
		}
		struct buf b;
		buf_init(&b, BUF_UNLIMITED);
		buf_appends(&b, "+OK\r\n");
		for (unsigned i = 0; i < c->nmsgs; i++) {
			if (c->msgs[i].deleted)
				continue;
			if (uidl)
				buf_printf(&b, "%u %08X%08X\r\n", i + 1,
				    c->box->mails[c->msgs[i].idx].uid, c->box->uidvalidity);
			else
				buf_printf(&b, "%u %llu\r\n", i + 1,
				    (unsigned long long)msg_size(c, i));
		}
		buf_appends(&b, ".\r\n");
		io_write(c->conn.io, b.data, b.len);
		buf_free(&b);
	} else if (!strcmp(n, "RETR") || !strcmp(n, "TOP")) {
		int top = n[0] == 'T';
		unsigned long lines = 0;
		size_t len;
		char *d, *e;
		if (cmd->nargs != (top ? 2u : 1u)) {
			out(c, "-ERR Invalid arguments.");
			return;
		}
		if ((k = msg_arg(c, cmd->args[0])) < 0)
			return;
		if (top) {
			lines = strtoul(cmd->args[1], &e, 10);
			if (*e != '\0' || cmd->args[1][0] == '-') {
				out(c, "-ERR Invalid line count.");
				return;
			}
		}
		d = load_crlf(c, c->msgs[k].idx, &len);
		if (d == NULL) {
			out(c, "-ERR [SYS/TEMP] Message vanished.");
			return;
		}
		if (top) {
			const char *h = strstr(d, "\r\n\r\n");
			size_t cut = h ? (size_t)(h - d) + 4 : len;
			while (cut < len && lines > 0) {
				const char *nl = memchr(d + cut, '\n', len - cut);
				cut = nl ? (size_t)(nl - d) + 1 : len;
				lines--;
			}
			len = cut;
		}
		out(c, "+OK %zu octets", len);
		c->out_data = d;
		c->out_len = len;
		c->out_pos = 0;
		send_more(c);
	} else if (!strcmp(n, "DELE")) {
		if ((k = msg_arg(c, cmd->nargs ? cmd->args[0] : NULL)) < 0)
			return;
		c->msgs[k].deleted = 1;
		out(c, "+OK Marked to be deleted.");
	} else if (!strcmp(n, "RSET")) {
		for (unsigned i = 0; i < c->nmsgs; i++)
			c->msgs[i].deleted = 0;
		out(c, "+OK");
	} else if (!strcmp(n, "NOOP")) {
		out(c, "+OK");
	} else if (!strcmp(n, "QUIT")) {
		unsigned del = 0;
		/* UPDATE state */
		for (unsigned i = 0; i < c->nmsgs; i++)
			if (c->msgs[i].deleted && maildir_expunge(c->box, c->msgs[i].idx) == 0)
				del++;
		if (del > 0)
			maildir_sync(c->box, 1, NULL);
		out(c, "+OK Logging out, %u messages deleted.", del);
		pclient_close(c);
	} else if (!strcmp(n, "CAPA")) {
		cmd_capa(c);
	} else {
		out(c, "-ERR Unknown command.");
		c->bad++;
	}
}

static void
cmd_authorization(struct pclient *c, struct pop3_cmd *cmd)
{
	const char *n = cmd->name;

	if (!strcmp(n, "CAPA")) {
		cmd_capa(c);
	} else if (!strcmp(n, "QUIT")) {
		out(c, "+OK Bye.");
		pclient_close(c);
	} else if (!strcmp(n, "NOOP")) {
		out(c, "+OK");
	} else if (!strcmp(n, "STLS")) {
		if (tls_ctx == NULL || io_is_tls(c->conn.io)) {
			out(c, "-ERR TLS not available.");
			return;
		}
		out(c, "+OK Begin TLS negotiation now.");
		/* RFC 2595: a USER from before TLS does not count after it */
		FREE(c->user_arg);
		io_start_tls(c->conn.io, SSL_new(tls_ctx), 1);
	} else if (!strcmp(n, "USER") || !strcmp(n, "PASS") || !strcmp(n, "AUTH")) {
		if (!strcmp(n, "AUTH") && cmd->nargs == 0) {
			out(c, "+OK\r\nPLAIN\r\n.");
			return;
		}
		if (!login_conn_plaintext_ok(&c->conn, &set)) {
			out(c, "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.");
			return;
		}
		if (!strcmp(n, "USER")) {
			if (cmd->nargs != 1) {
				out(c, "-ERR Invalid arguments.");
				return;
			}
			free(c->user_arg);
			c->user_arg = xstrdup(cmd->args[0]);
			out(c, "+OK");
		} else if (!strcmp(n, "PASS")) {
			if (c->user_arg == NULL || cmd->nargs != 1) {
				out(c, "-ERR No USER given.");
				return;
			}
			char *u = c->user_arg;
			c->user_arg = NULL;
			do_login(c, u, cmd->args[0]);
			free(u);
		} else {
			if (strcasecmp(cmd->args[0], "PLAIN") != 0) {
				out(c, "-ERR Unsupported authentication mechanism.");
				return;
			}
			if (cmd->nargs == 2) {
				auth_plain(c, strcmp(cmd->args[1], "=") == 0 ? "" : cmd->args[1]);
				return;
			}
			c->auth_wait = 1;
			out(c, "+ ");
		}
	} else {
		out(c, "-ERR Unknown command or not valid before login.");
		c->bad++;
	}
}

static void
pclient_input(struct pclient *c)
{
	while (!c->conn.paused && !c->conn.closing && c->out_data == NULL) {
		struct pop3_cmd cmd;
		const char *err;
		int cr, r;

		r = io_getline(c->conn.io, &c->line, LINE_MAX_POP3, &cr);
		if (r == 0)
			return;
		if (r == 2) {
			out(c, "-ERR Line too long.");
			pclient_close(c);
			return;
		}
		if (c->auth_wait) {
			c->auth_wait = 0;
			auth_plain(c, buf_cstr(&c->line));
			continue;
		}
		if (pop3_parse(buf_cstr(&c->line), c->line.len, &cmd, &err) < 0) {
			out(c, "-ERR %s.", err);
			c->bad++;
		} else {
			if (c->authed)
				cmd_transaction(c, &cmd);
			else
				cmd_authorization(c, &cmd);
			pop3_cmd_free(&cmd);
		}
		if (c->bad >= 20 && !c->conn.closing) {
			out(c, "-ERR Too many invalid commands.");
			pclient_close(c);
		}
	}
}

/* The greeting, or the refusal of a client over the per-address limit. */
static void
greet(struct pclient *c, enum login_greet g)
{
	if (g == LOGIN_GREET_REFUSE) {
		out(c, "-ERR [SYS/TEMP] Too many connections from your address.");
		pclient_close(c);
	} else if (g == LOGIN_GREET_NOW)
		out(c, "+OK %s POP3 ready.", config_str("mail_name"));
}

static void
pclient_io(struct io *io, enum io_evt evt, void *arg)
{
	struct pclient *c = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		if (!c->conn.paused)
			pclient_input(c);
		break;
	case IO_LOWAT:
		if (c->conn.closing) {
			pclient_free(c);
			return;
		}
		if (c->out_data != NULL) {
			send_more(c);
			if (c->out_data == NULL)
				pclient_input(c);
		}
		break;
	case IO_TLSREADY:
		greet(c, login_conn_tls_ready(&c->conn));
		break;
	case IO_TIMEOUT:
	case IO_EOF:
	case IO_ERROR:
		pclient_free(c);
		break;
	}
}

static void
pclient_admitted(int allowed, void *arg)
{
	struct pclient *c = arg;

	greet(c, login_conn_admitted(&c->conn, allowed,
	    set.tls_wrappermode ? tls_ctx : NULL));
}

static void
pclient_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct pclient *c = xcalloc(1, sizeof(*c));

	(void)salen;
	(void)arg;
	buf_init(&c->line, LINE_MAX_POP3 + 2);
	login_conn_accept(&c->conn, "pop", fd, sa, &set,
	    config_time("pop3d_timeout"), pclient_io, pclient_admitted, c);
	login_conn_deadline(&c->conn, config_time("pop3d_login_timeout"));
}

/* Worker: a session authenticated by the post-login master arrives. */
static void
worker_session(int fd, const struct login_session *s)
{
	struct pclient *c = xcalloc(1, sizeof(*c));
	const char *err;
	char *e = NULL;

	buf_init(&c->line, LINE_MAX_POP3 + 2);
	login_conn_worker(&c->conn, fd, s, pclient_io, c);
	io_set_timeout(c->conn.io, (int)config_time("pop3d_timeout"));
	c->mu = maildir_user_open(s->mailbox, &e);
	if (c->mu == NULL || maildir_open(c->mu, "INBOX", 0, &c->box, &err) < 0) {
		log_warn("%s: %s: cannot open mailbox", c->conn.id, s->user);
		free(e);
		out(c, "-ERR [SYS/TEMP] Mailbox not accessible.");
		pclient_close(c);
		return;
	}
	c->user = xstrdup(s->user);
	c->nmsgs = c->box->count;
	c->msgs = xcalloc(c->nmsgs + 1, sizeof(*c->msgs));
	for (unsigned i = 0; i < c->nmsgs; i++)
		c->msgs[i].idx = i;
	c->authed = 1;
	out(c, "+OK Logged in.");
	/* then the commands the client pipelined after PASS */
	login_conn_session_open(&c->conn, s);
	pclient_input(c);
}

int
pop3_login_main(int argc, char **argv)
{
	service_init(argc, argv, "pop3-login");
	login_settings_load(&set, "pop3d");
	tls_ctx = login_tls_server_ctx("pop3-login");
	return login_client_run("pop3-login", &set, pclient_accept);
}

int
pop3d_main(int argc, char **argv)
{
	int argi = service_init(argc, argv, "pop3d");

	login_settings_load(&set, "pop3d");
	if (login_worker_mode(argc, argv, argi)) {
		/* exec'ed by the post-login master with the user's uid */
		login_worker_init(worker_session);
		return service_run();
	}
	return login_master_run("pop3", &set, argc, argv);
}
