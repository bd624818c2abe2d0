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
 * many sessions through the event loop.  UIDL values are the
 * folder's persistent UID and UIDVALIDITY ("%08X%08X"), so they stay
 * stable across sessions and are shared with IMAP.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_client.h"
#include "buf.h"
#include "login_client.h"
#include "login_master.h"
#include "login_proto.h"
#include "config.h"
#include "imap_message.h"
#include "ioev.h"
#include "log.h"
#include "maildir.h"
#include "mem.h"
#include "netaddr.h"
#include "pop3_parser.h"
#include "service.h"
#include "tls.h"

static const struct cfg_param pop3d_params[] = {
	{ "pop3d_tls_wrappermode", CFG_BOOL, "no", 0, "Implicit TLS (POP3S): the TLS handshake starts at connect" },
	{ "pop3d_disable_plaintext_auth", CFG_BOOL, "yes", 0, "Refuse USER/PASS and AUTH PLAIN before TLS, except from pop3d_trusted_networks" },
	{ "pop3d_trusted_networks", CFG_LIST, "$mynetworks", 0, "Clients allowed plaintext authentication without TLS" },
	{ "pop3d_process_session_limit", CFG_INT, "1000", 0, "Concurrent connections one pop3-login process serves (before login, and TLS sessions it relays)" },
	{ "pop3d_client_connection_limit", CFG_INT, "50", 0, "Concurrent POP3 connections from one client IP address, counted by the post-login master over all pop3-login processes (0 = no limit)" },
	{ "pop3d_user_connection_limit", CFG_INT, "10", 0, "Concurrent POP3 sessions of one user, over all processes (0 = no limit)" },
	{ "pop3d_post_login_service", CFG_STR, "pop3d", 0, "master.cf name of the post-login service (private/NAME) pop3-login hands sessions to" },
	{ "pop3d_timeout", CFG_TIME, "10m", 's', "Idle time before a POP3 session is closed (RFC 1939: at least 10 minutes)" },
	{ "pop3d_auth_failure_delay", CFG_TIME, "0s", 's', "Extra delay of pop3d itself before a failed login is answered (the auth service already delays: auth_failure_delay)" },
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
	struct io *io;
	char id[20], ip[64];
	int trusted, closing, paused, failures, bad;
	struct login_greeting greet; /* POP3S: greeting or -ERR after TLS */
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
	struct event *delay_ev;
	char *login_user;
	int64_t sid;            /* login: ours at the master; worker: master's */
	int secured;            /* worker: TLS relayed by pop3-login */
	struct pclient *next, *prev;
};

static struct pclient *clients;
static SSL_CTX *tls_ctx;
static struct netlist *trusted_nets;
static int wrappermode, plaintext_disabled, use_auth_service, worker_mode;
static long long ip_limit, user_limit, auth_delay;
static unsigned counter;

static void
out(struct pclient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
out(struct pclient *c, const char *fmt, ...)
{
	va_list ap;
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_append(&b, "\r\n", 2);
	io_write(c->io, b.data, b.len);
	buf_free(&b);
}

static void
pclient_free(struct pclient *c)
{
	if (c->delay_ev != NULL)
		event_free(c->delay_ev);
	free(c->login_user);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	buf_free(&c->line);
	free(c->user_arg);
	free(c->user);
	free(c->msgs);
	free(c->out_data);
	maildir_close(&c->box);
	maildir_user_free(&c->mu);
	if (worker_mode) {
		io_free(&c->io);
		login_worker_end(c->sid);
	} else if (c->io != NULL) {
		/* handed over sessions (io == NULL) left our count already */
		io_free(&c->io);
		login_client_close(c->sid);
		log_info("%s: disconnect before login [%s]", c->id, c->ip);
		service_session_end();
	}
	free(c);
}

static void
pclient_close(struct pclient *c)
{
	c->closing = 1;
	io_pause(c->io);
	if (io_outlen(c->io) == 0)
		pclient_free(c);
}

static int
plaintext_ok(struct pclient *c)
{
	return !plaintext_disabled || c->secured || io_is_tls(c->io) ||
	    c->trusted;
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
	while (c->out_pos < c->out_len && io_outlen(c->io) + b.len < OUT_AHEAD) {
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
	io_write(c->io, b.data, b.len);
	buf_free(&b);
}

/* ---- login ---- */

static void
delay_done(evutil_socket_t fd, short what, void *arg)
{
	struct pclient *c = arg;

	(void)fd;
	(void)what;
	event_free(c->delay_ev);
	c->delay_ev = NULL;
	if (c->failures >= 3) {
		out(c, "-ERR Too many authentication failures.");
		pclient_close(c);
		return;
	}
	c->paused = 0;
	io_resume(c->io);
	pclient_input(c);
}

static void
auth_failed(struct pclient *c, const char *msg)
{
	struct timeval tv = { auth_delay * (c->failures + 1), 0 };

	out(c, "%s", msg);
	c->failures++;
	c->paused = 1;
	io_pause(c->io);
	c->delay_ev = evtimer_new(io_base(), delay_done, c);
	evtimer_add(c->delay_ev, &tv);
}

/* The password was right: hand the session to a worker with the user's
 * rights.  c is gone afterwards. */
static void
finish_login(struct pclient *c, const char *user)
{
	log_info("%s: login user=<%s> [%s]%s", c->id, user, c->ip,
	    io_is_tls(c->io) ? " TLS" : "");
	login_client_handoff(c->sid, &c->io, c->id, "");
	pclient_free(c);
}

static void
login_auth_done(int st, const char *user, const char *reason, void *arg)
{
	struct pclient *c = arg;
	char *asked = c->login_user;

	c->login_user = NULL;
	c->paused = 0;
	io_resume(c->io);
	if (st == AUTH_OK) {
		finish_login(c, user && *user ? user : asked);
		free(asked);
		return;
	} else if (st == LOGIN_STATUS_LIMIT) {
		log_warn("%s: too many sessions for %s", c->id, user);
		out(c, "-ERR [IN-USE] Too many sessions for this user.");
	} else if (st == AUTH_TEMPFAIL)
		out(c, "-ERR [SYS/TEMP] Temporary authentication failure.");
	else {
		log_info("%s: authentication failed for user=<%s> [%s]%s%s", c->id,
		    asked, c->ip, reason ? ": " : "", reason ? reason : "");
		auth_failed(c, st == AUTH_LOCKED ?
		    "-ERR [SYS/TEMP] Too many authentication failures, try later." :
		    "-ERR [AUTH] Authentication failed.");
	}
	free(asked);
	if (!c->paused && !c->closing)
		pclient_input(c);
}

static void
do_login(struct pclient *c, const char *user, const char *pass)
{
	if (strlen(user) > 256 || strlen(pass) > 1024) {
		auth_failed(c, "-ERR [AUTH] Authentication failed.");
		return;
	}
	/* the post-login master asks the auth service and counts sessions */
	c->login_user = xstrdup(user);
	c->paused = 1;
	io_pause(c->io);
	login_client_auth(c->sid, "PLAIN", user, pass, login_auth_done, c);
}

static void
auth_plain(struct pclient *c, const char *resp)
{
	struct buf d;
	size_t n1, n2;

	if (strcmp(resp, "*") == 0) {
		out(c, "-ERR Authentication aborted.");
		return;
	}
	buf_init(&d, 2048);
	if (imap_decode_base64_strict(resp, &d) < 0 || d.len == 0) {
		out(c, "-ERR Invalid base64 data.");
		buf_free(&d);
		return;
	}
	n1 = strnlen(d.data, d.len);
	n2 = n1 < d.len ? strnlen(d.data + n1 + 1, d.len - n1 - 1) : 0;
	if (n1 >= d.len || n1 + 1 + n2 >= d.len ||
	    (n1 > 0 && strcmp(d.data, d.data + n1 + 1) != 0)) {
		buf_free(&d);
		auth_failed(c, "-ERR [AUTH] Authentication failed.");
		return;
	}
	do_login(c, d.data + n1 + 1, d.data + n1 + n2 + 2);
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
		if (plaintext_ok(c))
			buf_appends(&b, "USER\r\nSASL PLAIN\r\n");
		if (tls_ctx != NULL && !io_is_tls(c->io))
			buf_appends(&b, "STLS\r\n");
	}
	buf_appends(&b, "IMPLEMENTATION Tempest\r\n.\r\n");
	io_write(c->io, b.data, b.len);
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
		io_write(c->io, b.data, b.len);
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
		if (tls_ctx == NULL || io_is_tls(c->io)) {
			out(c, "-ERR TLS not available.");
			return;
		}
		out(c, "+OK Begin TLS negotiation now.");
		io_start_tls(c->io, SSL_new(tls_ctx), 1);
	} else if (!strcmp(n, "USER") || !strcmp(n, "PASS") || !strcmp(n, "AUTH")) {
		if (!strcmp(n, "AUTH") && cmd->nargs == 0) {
			out(c, "+OK\r\nPLAIN\r\n.");
			return;
		}
		if (!plaintext_ok(c)) {
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
	while (!c->paused && !c->closing && c->out_data == NULL) {
		struct pop3_cmd cmd;
		const char *err;
		int cr, r;

		r = io_getline(c->io, &c->line, LINE_MAX_POP3, &cr);
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
		if (c->bad >= 20 && !c->closing) {
			out(c, "-ERR Too many invalid commands.");
			pclient_close(c);
		}
	}
}

static void
pclient_io(struct io *io, enum io_evt evt, void *arg)
{
	struct pclient *c = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		if (!c->paused)
			pclient_input(c);
		break;
	case IO_LOWAT:
		if (c->closing) {
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
		switch (login_client_tls_ready(&c->greet)) {
		case LOGIN_GREET_REFUSE:
			out(c, "-ERR [SYS/TEMP] Too many connections from your address.");
			pclient_close(c);
			break;
		case LOGIN_GREET_NOW:
			out(c, "+OK %s POP3 ready.", config_str("mail_name"));
			break;
		case LOGIN_GREET_WAIT:
			break;
		}
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

	if (allowed)
		c->paused = 0;
	switch (login_client_admitted(&c->greet, allowed, c->id, c->ip, c->io,
	    wrappermode ? tls_ctx : NULL)) {
	case LOGIN_GREET_REFUSE:
		out(c, "-ERR [SYS/TEMP] Too many connections from your address.");
		pclient_close(c);
		break;
	case LOGIN_GREET_NOW:
		out(c, "+OK %s POP3 ready.", config_str("mail_name"));
		break;
	case LOGIN_GREET_WAIT:
		break;
	}
}

static void
pclient_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct pclient *c = xcalloc(1, sizeof(*c));

	(void)salen;
	(void)arg;
	snprintf(c->id, sizeof(c->id), "pop%u.%d", ++counter, (int)getpid());
	netaddr_ntop(sa, c->ip, sizeof(c->ip));
	c->trusted = trusted_nets != NULL && netlist_match(trusted_nets, sa);
	buf_init(&c->line, LINE_MAX_POP3 + 2);
	/* replies are written whole: no Nagle delay on the last segment */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	c->io = io_new(fd, pclient_io, c);
	io_set_timeout(c->io, (int)config_time("pop3d_timeout"));
	c->next = clients;
	if (clients != NULL)
		clients->prev = c;
	clients = c;
	c->sid = (int64_t)counter;
	/* the post-login master counts connections per address over all
	 * login processes */
	c->paused = 1;
	io_pause(c->io);
	login_client_connect(c->sid, c->ip, pclient_admitted, c);
}

/* Worker: a session authenticated by the post-login master arrives. */
static void
worker_session(int fd, const struct login_session *s)
{
	struct pclient *c = xcalloc(1, sizeof(*c));
	const char *err;
	char *e = NULL;

	snprintf(c->id, sizeof(c->id), "%s", s->id);
	snprintf(c->ip, sizeof(c->ip), "%s", s->ip);
	c->sid = s->gsid;
	c->secured = s->secured;
	buf_init(&c->line, LINE_MAX_POP3 + 2);
	c->io = io_new(fd, pclient_io, c);
	io_set_timeout(c->io, (int)config_time("pop3d_timeout"));
	c->next = clients;
	if (clients != NULL)
		clients->prev = c;
	clients = c;
	c->mu = maildir_user_open(s->mailbox, &e);
	if (c->mu == NULL || maildir_open(c->mu, "INBOX", 0, &c->box, &err) < 0) {
		log_warn("%s: %s: cannot open mailbox", c->id, s->user);
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
	log_info("%s: session of user=<%s> [%s] in uid %d", c->id, c->user,
	    c->ip, (int)geteuid());
	out(c, "+OK Logged in.");
	/* commands the client pipelined after PASS */
	io_unread(c->io, s->input, s->input_len);
	pclient_input(c);
}

static void
pop3d_settings_load(void)
{
	char *err = NULL;

	wrappermode = config_bool("pop3d_tls_wrappermode");
	plaintext_disabled = config_bool("pop3d_disable_plaintext_auth");
	use_auth_service = config_bool("pop3d_auth_service");
	ip_limit = config_int("pop3d_client_connection_limit");
	user_limit = config_int("pop3d_user_connection_limit");
	auth_delay = config_time("pop3d_auth_failure_delay");
	trusted_nets = netlist_parse(config_str("pop3d_trusted_networks"), &err);
	if (trusted_nets == NULL)
		fatal("pop3d_trusted_networks: %s", err);
}

int
pop3_login_main(int argc, char **argv)
{
	char *err = NULL, *dir;

	service_init(argc, argv, "pop3-login");
	pop3d_settings_load();
	dir = xasprintf("%s/tls", config_str("data_directory"));
	tls_ctx = tls_server_ctx_auto(config_str("imapd_tls_cert_file"),
	    config_str("imapd_tls_key_file"), dir, config_str("myhostname"), &err);
	if (tls_ctx == NULL)
		fatal("TLS: %s", err);
	free(dir);
	login_client_init(config_str("pop3d_post_login_service"));
	/* from here on: no mail store, no key files, no root */
	login_client_drop_privileges("pop3-login");
	service_listen(pclient_accept, NULL,
	    (int)config_int("pop3d_process_session_limit"));
	return service_run();
}

int
pop3d_main(int argc, char **argv)
{
	int argi = service_init(argc, argv, "pop3d");
	struct login_master_settings set;

	pop3d_settings_load();
	if (login_worker_mode(argc, argv, argi)) {
		/* exec'ed by the post-login master with the user's uid */
		worker_mode = 1;
		login_worker_init(worker_session);
		return service_run();
	}
	memset(&set, 0, sizeof(set));
	set.role = "pop3d";
	set.service = "pop3";
	set.ip_limit = ip_limit;
	set.user_limit = user_limit;
	set.use_auth_service = use_auth_service;
	return login_master_run(&set, argc, argv);
}
