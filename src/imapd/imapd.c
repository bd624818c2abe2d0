/*
 * imapd.c - the IMAP server's processes: settings, connections,
 * collecting commands with their literals, dispatch by state, STARTTLS,
 * login, IDLE and change notification through one inotify descriptor per
 * process.  The same code runs on both sides of the login split:
 *   imap-login (imap_login_main): listeners, TLS, commands before login;
 *     chrooted into an empty directory as login_user; passwords go to
 *     the post-login master, an accepted session is handed over;
 *   imapd (imapd_main): the post-login master (lib-login, root, frames
 *     only) or, with "-- worker", a worker with one user uid serving the
 *     sessions handed to it (state AUTH on arrival).
 * What a connection does alike in POP3 (admission, plaintext policy,
 * hold after a failed login, hand-over, end) is lib-login's login_conn.
 *
 * Untrusted bytes: all client input.  Lines are read with a hard maximum
 * (imapd_max_line_length); literals are bounded (imapd_literal_size_limit,
 * message_size_limit for APPEND after login; before login the whole
 * command holds one literal limit) before they are read; the whole command
 * then goes through the pure parser in lib-imap.
 *
 * Privileges: imap-login holds no mail handle and no path to any store;
 * a worker runs with one user's uid/gid, and a session there reaches
 * only paths under that user's mail root (folder names are checked by
 * lib-storage).  See doc/imap.md "Processes and privileges".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "auth_client.h"
#include "imap_message.h"
#include "imap_parser.h"
#include "imapd.h"
#include "log.h"
#include "login_conn.h"
#include "login_master.h"
#include "login_plain.h"
#include "login_proto.h"
#include "maildir.h"
#include "mem.h"
#include "ossl.h"
#include "service.h"
#include "str.h"

static const struct cfg_param imapd_params[] = {
	{ "imapd_tls_wrappermode", CFG_BOOL, "no", 0, "Implicit TLS (IMAPS): the TLS handshake starts at connect" },
	{ "imapd_tls_cert_file", CFG_STR, "", 0, "PEM certificate chain of the IMAP and POP3 servers (empty: a self-signed one in $data_directory/tls/)" },
	{ "imapd_tls_key_file", CFG_STR, "", 0, "PEM private key for imapd_tls_cert_file (empty: $data_directory/tls/)" },
	{ "imapd_tls_session_cache_timeout", CFG_TIME, "3600s", 's', "Lifetime of resumable TLS sessions of the IMAP and POP3 servers (session cache and tickets, whose keys are shared by every login process and rotated); 0 disables resumption" },
	{ "imapd_disable_plaintext_auth", CFG_BOOL, "yes", 0, "Refuse LOGIN/AUTHENTICATE PLAIN before TLS, except from imapd_trusted_networks (Dovecot disable_plaintext_auth)" },
	{ "imapd_trusted_networks", CFG_LIST, "$mynetworks", 0, "Clients allowed plaintext authentication without TLS (loopback, mynetworks)" },
	{ "imapd_process_session_limit", CFG_INT, "5000", 0, "Concurrent connections one imap-login process serves (before login, and TLS sessions it relays); workers have no limit of their own" },
	{ "imapd_client_connection_limit", CFG_INT, "50", 0, "Concurrent IMAP connections from one client IP address, counted by the post-login master over all imap-login processes (0 = no limit)" },
	{ "imapd_user_connection_limit", CFG_INT, "20", 0, "Concurrent IMAP sessions of one user, over all processes (Dovecot mail_max_userip_connections; 0 = no limit)" },
	{ "imapd_post_login_service", CFG_STR, "imapd", 0, "master.cf name of the post-login service (private/NAME) imap-login hands sessions to" },
	{ "imapd_max_line_length", CFG_INT, "65536", 0, "Longest IMAP command line, literals excluded (Dovecot imap_max_line_length)" },
	{ "imapd_literal_size_limit", CFG_INT, "65536", 0, "Largest literal outside APPEND; APPEND literals are limited by message_size_limit" },
	{ "imapd_max_nesting", CFG_INT, "16", 0, "Deepest parenthesis nesting accepted in a command" },
	{ "imapd_max_bad_commands", CFG_INT, "20", 0, "Invalid commands after which the session is closed" },
	{ "imapd_login_timeout", CFG_TIME, "60s", 's', "Time a client has to log in, in total and for each read before login" },
	{ "imapd_timeout", CFG_TIME, "30m", 's', "Idle time after login (and in IDLE) before the session is closed" },
	{ "imapd_auth_failure_delay", CFG_TIME, "0s", 's', "Extra delay of imapd itself before a failed login is answered, growing with failures from the same address (the auth service already delays: auth_failure_delay)" },
	{ "imapd_auth_service", CFG_BOOL, "yes", 0, "Verify passwords through the auth service (smtpd_sasl_path: shared failure delay and lockout); no: the post-login master checks them against the user table" },
};
CONFIG_PARAMS(imapd_params);

struct imapd_settings imapd_set;
static struct login_settings login_set;
static SSL_CTX *tls_ctx;

/* The client behind a connection of login_conns. */
static struct client *
client_of(struct login_conn *lc)
{
	return lc->owner;
}

/* ---- replies ---- */

void
client_send(struct client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	login_vreply(c->conn.io, NULL, fmt, ap);
	va_end(ap);
}

void
client_tagged(struct client *c, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	login_vreply(c->conn.io, tag, fmt, ap);
	va_end(ap);
}

void
client_write_buf(struct client *c, struct buf *b)
{
	if (b->len > 0)
		io_write(c->conn.io, b->data, b->len);
	buf_reset(b);
}

/* ---- capabilities ---- */

static void
capability_string(struct client *c, struct buf *b)
{
	buf_appends(b, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE");
	if (c->state == ST_NOAUTH) {
		if (tls_ctx != NULL && !io_is_tls(c->conn.io))
			buf_appends(b, " STARTTLS");
		if (login_conn_plaintext_ok(&c->conn, &login_set))
			buf_appends(b, " AUTH=PLAIN");
		else
			buf_appends(b, " LOGINDISABLED");
		return;
	}
	buf_appends(b, " NAMESPACE UNSELECT UIDPLUS MOVE CONDSTORE QRESYNC CHILDREN"
	    " SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH MULTIAPPEND"
	    " BINARY UTF8=ACCEPT SEARCHRES");
	if (!c->compressed)
		buf_appends(b, " COMPRESS=DEFLATE");
}

static void
send_greeting(struct client *c)
{
	struct buf b;

	buf_init(&b, 4096);
	capability_string(c, &b);
	client_send(c, "* OK [CAPABILITY %s] %s IMAP ready.", buf_cstr(&b),
	    config_str("mail_name"));
	buf_free(&b);
}

/* ---- sessions ---- */

/* A client with its buffers; the caller sets up the connection. */
static struct client *
client_new(void)
{
	struct client *c = xcalloc(1, sizeof(*c));

	c->wd[0] = c->wd[1] = c->wd[2] = -1;
	buf_init(&c->cmd, (size_t)(imapd_set.line_max + imapd_set.append_max +
	    imapd_set.literal_max));
	buf_init(&c->line, (size_t)imapd_set.line_max + 2);
	return c;
}

static void
client_free(struct client *c)
{
	free(c->login_tag);
	fetch_free(c);
	client_unselect(c);
	buf_free(&c->cmd);
	buf_free(&c->line);
	free(c->auth_tag);
	free(c->idle_tag);
	free(c->user);
	free(c->saved);
	maildir_user_free(&c->mu);
	login_conn_free(&c->conn);
	free(c);
}

void
client_close(struct client *c, const char *bye)
{
	if (c->conn.closing)
		return;
	if (bye != NULL)
		client_send(c, "* BYE %s", bye);
	if (login_conn_stop(&c->conn))
		client_free(c);
}

static void client_input(struct client *c);

void
client_resume(struct client *c)
{
	if (login_conn_resume(&c->conn))
		client_input(c);
}

/* The greeting, or the refusal of a client over the per-address limit. */
static void
client_greet(struct client *c, enum login_greet g)
{
	if (g == LOGIN_GREET_REFUSE)
		client_close(c, "[UNAVAILABLE] Too many connections from your address.");
	else if (g == LOGIN_GREET_NOW)
		send_greeting(c);
}

static void
client_io(struct io *io, enum io_evt evt, void *arg)
{
	struct client *c = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		if (!c->conn.paused)
			client_input(c);
		break;
	case IO_LOWAT:
		if (c->conn.closing) {
			client_free(c);
			return;
		}
		if (c->fetch != NULL && fetch_continue(c))
			client_resume(c);
		break;
	case IO_TLSREADY: {
		enum login_greet g = login_conn_tls_ready(&c->conn);
		client_greet(c, g);
		if (g == LOGIN_GREET_REFUSE)
			return;
		log_info("%s: TLS established: %s", c->conn.id, io_tls_summary(c->conn.io));
		break;
	}
	case IO_TIMEOUT:
		client_close(c, "Disconnected for inactivity.");
		if (!c->conn.closing)
			break;
		/* output may never drain to a dead peer: do not wait */
		client_free(c);
		break;
	case IO_EOF:
	case IO_ERROR:
		client_free(c);
		break;
	}
}

static void
client_admitted(int allowed, void *arg)
{
	struct client *c = arg;

	client_greet(c, login_conn_admitted(&c->conn, allowed,
	    login_set.tls_wrappermode ? tls_ctx : NULL));
}

static void
client_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct client *c = client_new();

	(void)salen;
	(void)arg;
	login_conn_accept(&c->conn, "imap", fd, sa, &login_set,
	    imapd_set.timeout_noauth, client_io, client_admitted, c);
	/* per read above; in total here (a client trickling bytes) */
	login_conn_deadline(&c->conn, imapd_set.timeout_noauth);
}

/* ---- login ---- */

static void
login_delay_done(void *arg)
{
	struct client *c = arg;

	if (c->conn.failures >= LOGIN_FAILURES_MAX) {
		client_close(c, "Too many authentication failures.");
		return;
	}
	client_resume(c);
}

/* The reply for a failed login has been queued: hold the session
 * (login_conn_failed). */
static void
login_failed(struct client *c)
{
	login_conn_failed(&c->conn, login_set.auth_delay, login_delay_done);
}

/* 1 when c has been handed over (and freed). */
static int
login_result(struct client *c, const char *tag, int st,
    const char *user, const char *reason)
{
	switch (st) {
	case AUTH_OK:
		/* to a worker with the user's rights; c is done here */
		login_conn_handoff(&c->conn, user, tag);
		client_free(c);
		return 1;
	case LOGIN_STATUS_LIMIT:
		log_warn("%s: too many sessions for %s", c->conn.id, user);
		client_tagged(c, tag, "NO [LIMIT] Too many concurrent sessions for this user.");
		break;
	case AUTH_FAIL:
		log_info("%s: authentication failed for user=<%s> [%s]%s%s",
		    c->conn.id, user, c->conn.ip, reason ? ": " : "", reason ? reason : "");
		client_tagged(c, tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
		login_failed(c);
		break;
	case AUTH_LOCKED:
		log_warn("%s: [%s] locked out by the auth service", c->conn.id, c->conn.ip);
		client_tagged(c, tag, "NO [UNAVAILABLE] Too many authentication failures, try later.");
		login_failed(c);
		break;
	default:
		client_tagged(c, tag, "NO [UNAVAILABLE] Temporary authentication failure.");
		break;
	}
	return 0;
}

static void
login_auth_done(int st, const char *user, const char *reason, void *arg)
{
	struct client *c = arg;
	char *tag = c->login_tag, *asked = c->conn.login_user;
	int gone;

	c->login_tag = NULL;
	c->conn.login_user = NULL;
	gone = login_result(c, tag, st, user && *user ? user : asked, reason);
	free(tag);
	free(asked);
	if (!gone && c->conn.hold_ev == NULL && !c->conn.closing)
		client_resume(c);
}

static void
do_login(struct client *c, const char *tag, const char *user,
    const char *pass)
{
	if (*user == '\0' ||
	    login_conn_auth(&c->conn, user, pass, login_auth_done) < 0) {
		client_tagged(c, tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
		login_failed(c);
		return;
	}
	/* the answer comes later, from the post-login master */
	c->login_tag = xstrdup(tag);
}

/* SASL PLAIN: authzid NUL authcid NUL password */
static void
auth_plain(struct client *c, const char *tag, const char *resp)
{
	struct buf d;
	const char *user, *pass;

	buf_init(&d, 2048);
	switch (login_plain_decode(resp, &d, &user, &pass)) {
	case LOGIN_PLAIN_OK:
		do_login(c, tag, user, pass);
		break;
	case LOGIN_PLAIN_ABORTED:
		client_tagged(c, tag, "BAD Authentication aborted by client.");
		break;
	case LOGIN_PLAIN_BAD_BASE64:
		client_tagged(c, tag, "BAD Invalid base64 data in AUTHENTICATE response.");
		break;
	case LOGIN_PLAIN_MALFORMED:
		client_tagged(c, tag, "NO [AUTHENTICATIONFAILED] Invalid PLAIN data.");
		login_failed(c);
		break;
	case LOGIN_PLAIN_REFUSED:
		client_tagged(c, tag, "NO [AUTHENTICATIONFAILED] Authentication failed.");
		login_failed(c);
		break;
	}
	buf_free(&d);
}

/* ---- change notification: one inotify descriptor for the process ---- */

static int inotify_fd = -1;
static struct event *inotify_ev;
struct wref { int wd; unsigned refs; };
static struct wref *wrefs;
static unsigned nwrefs;

static void
notify_event(evutil_socket_t fd, short what, void *arg)
{
	char evbuf[16384] __attribute__((aligned(8)));
	int seen[64], nseen = 0, overflow = 0;
	ssize_t n;

	(void)what;
	(void)arg;
	while ((n = read(fd, evbuf, sizeof(evbuf))) > 0) {
		for (char *p = evbuf; p < evbuf + n; ) {
			struct inotify_event *e = (struct inotify_event *)p;
			int dup = 0;
			if (e->mask & IN_Q_OVERFLOW)
				overflow = 1;
			for (int i = 0; i < nseen; i++)
				if (seen[i] == e->wd)
					dup = 1;
			if (!dup && nseen < 64)
				seen[nseen++] = e->wd;
			else if (!dup)
				overflow = 1;
			p += sizeof(*e) + e->len;
		}
	}
	for (struct login_conn *lc = login_conns, *next; lc != NULL; lc = next) {
		struct client *c = client_of(lc);
		int hit = overflow;
		next = lc->next;
		if (c->idle_tag == NULL || c->box == NULL)
			continue;
		for (int i = 0; i < nseen && !hit; i++)
			for (int k = 0; k < 3; k++)
				if (c->wd[k] == seen[i])
					hit = 1;
		if (hit)
			client_sync(c, 1);
	}
}

static void
notify_init(void)
{
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd < 0) {
		log_warn("inotify_init1: %s (IDLE falls back to polling)",
		    strerror(errno));
		return;
	}
	inotify_ev = event_new(io_base(), inotify_fd, EV_READ | EV_PERSIST,
	    notify_event, NULL);
	event_add(inotify_ev, NULL);
}

void
notify_watch(struct client *c)
{
	char *paths[3];

	if (inotify_fd < 0 || c->box == NULL)
		return;
	maildir_watch_paths(c->box, paths);
	for (int k = 0; k < 3; k++) {
		int wd = inotify_add_watch(inotify_fd, paths[k], IN_CREATE |
		    IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB);
		free(paths[k]);
		c->wd[k] = wd;
		if (wd < 0)
			continue;
		unsigned i;
		for (i = 0; i < nwrefs; i++)
			if (wrefs[i].wd == wd)
				break;
		if (i == nwrefs) {
			wrefs = xreallocarray(wrefs, nwrefs + 1, sizeof(*wrefs));
			wrefs[nwrefs].wd = wd;
			wrefs[nwrefs++].refs = 0;
		}
		wrefs[i].refs++;
	}
}

void
notify_unwatch(struct client *c)
{
	for (int k = 0; k < 3; k++) {
		if (c->wd[k] < 0)
			continue;
		for (unsigned i = 0; i < nwrefs; i++) {
			if (wrefs[i].wd != c->wd[k])
				continue;
			if (--wrefs[i].refs == 0) {
				inotify_rm_watch(inotify_fd, wrefs[i].wd);
				wrefs[i] = wrefs[--nwrefs];
			}
			break;
		}
		c->wd[k] = -1;
	}
}

/* Fallback when inotify is unavailable: poll idling sessions. */
static void
idle_poll(void *arg)
{
	(void)arg;
	if (inotify_fd >= 0)
		return;
	for (struct login_conn *lc = login_conns, *next; lc != NULL; lc = next) {
		struct client *c = client_of(lc);
		next = lc->next;
		if (c->idle_tag != NULL && c->box != NULL)
			client_sync(c, 1);
	}
}

/* ---- commands ---- */

static void
cmd_capability(struct client *c, const char *tag)
{
	struct buf b;

	buf_init(&b, 4096);
	capability_string(c, &b);
	client_send(c, "* CAPABILITY %s", buf_cstr(&b));
	client_tagged(c, tag, "OK Capability completed.");
	buf_free(&b);
}

static void
cmd_id(struct client *c, const char *tag)
{
	client_send(c, "* ID (\"name\" \"Tempest\" \"version\" \"%s\")",
	    config_str("mail_version"));
	client_tagged(c, tag, "OK ID completed.");
}

static void
cmd_enable(struct client *c, struct imap_command *cmd)
{
	struct buf b;

	buf_init(&b, 1024);
	for (unsigned i = 0; i < cmd->count; i++) {
		if (imap_arg_atom_eq(&cmd->args[i], "CONDSTORE") && !c->condstore) {
			c->condstore = 1;
			buf_appends(&b, " CONDSTORE");
		} else if (imap_arg_atom_eq(&cmd->args[i], "UTF8=ACCEPT") &&
		    !c->utf8) {
			c->utf8 = 1;
			buf_appends(&b, " UTF8=ACCEPT");
		} else if (imap_arg_atom_eq(&cmd->args[i], "QRESYNC") &&
		    !c->qresync) {
			/* RFC 7162: QRESYNC implies CONDSTORE */
			c->qresync = c->condstore = 1;
			buf_appends(&b, " QRESYNC");
		}
	}
	client_send(c, "* ENABLED%s", buf_cstr(&b));
	client_tagged(c, cmd->tag, "OK Enabled.");
	buf_free(&b);
}

static void
cmd_starttls(struct client *c, const char *tag)
{
	if (tls_ctx == NULL) {
		client_tagged(c, tag, "BAD TLS support not configured.");
		return;
	}
	if (io_is_tls(c->conn.io)) {
		client_tagged(c, tag, "BAD TLS is already active.");
		return;
	}
	client_tagged(c, tag, "OK Begin TLS negotiation now.");
	/* input pipelined after STARTTLS is dropped by io_start_tls */
	buf_reset(&c->cmd);
	io_start_tls(c->conn.io, SSL_new(tls_ctx), 1);
}

/* Plaintext authentication is allowed here; else NO has been sent. */
static int
check_plaintext(struct client *c, const char *tag)
{
	if (login_conn_plaintext_ok(&c->conn, &login_set))
		return 1;
	client_tagged(c, tag, "NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.");
	return 0;
}

static void
cmd_login(struct client *c, struct imap_command *cmd)
{
	if (cmd->count != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    !imap_arg_is_astring(&cmd->args[1])) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (!check_plaintext(c, cmd->tag))
		return;
	do_login(c, cmd->tag, cmd->args[0].str, cmd->args[1].str);
}

static void
cmd_authenticate(struct client *c, struct imap_command *cmd)
{
	if (cmd->count < 1 || !imap_arg_is_string(&cmd->args[0]) ||
	    cmd->count > 2) {
		client_tagged(c, cmd->tag, "BAD Invalid arguments.");
		return;
	}
	if (strcasecmp(cmd->args[0].str, "PLAIN") != 0) {
		client_tagged(c, cmd->tag, "NO Unsupported authentication mechanism.");
		return;
	}
	if (!check_plaintext(c, cmd->tag))
		return;
	if (cmd->count == 2) {
		const char *ir = cmd->args[1].str;
		auth_plain(c, cmd->tag, strcmp(ir, "=") == 0 ? "" : ir);
		return;
	}
	c->auth_tag = xstrdup(cmd->tag);
	client_send(c, "+ ");
}

static void
cmd_idle(struct client *c, const char *tag)
{
	c->idle_tag = xstrdup(tag);
	client_send(c, "+ idling");
	if (c->box != NULL)
		client_sync(c, 1);
}

static void
cmd_logout(struct client *c, const char *tag)
{
	client_send(c, "* BYE Logging out");
	client_tagged(c, tag, "OK Logout completed.");
	c->state = ST_LOGOUT;
	client_close(c, NULL);
}

/* Which states a command is valid in. */
#define S_ANY 7
#define S_NOAUTH 1
#define S_AUTH 6        /* authenticated or selected */
#define S_SEL 4

static const struct {
	const char *name;
	unsigned states;
} commands[] = {
	{ "CAPABILITY", S_ANY }, { "NOOP", S_ANY }, { "LOGOUT", S_ANY },
	{ "ID", S_ANY }, { "STARTTLS", S_NOAUTH }, { "LOGIN", S_NOAUTH },
	{ "AUTHENTICATE", S_NOAUTH }, { "ENABLE", S_AUTH },
	{ "SELECT", S_AUTH }, { "EXAMINE", S_AUTH }, { "CREATE", S_AUTH },
	{ "DELETE", S_AUTH }, { "RENAME", S_AUTH }, { "SUBSCRIBE", S_AUTH },
	{ "UNSUBSCRIBE", S_AUTH }, { "LIST", S_AUTH }, { "LSUB", S_AUTH },
	{ "NAMESPACE", S_AUTH }, { "STATUS", S_AUTH }, { "APPEND", S_AUTH },
	{ "IDLE", S_AUTH }, { "CHECK", S_SEL }, { "CLOSE", S_SEL },
	{ "UNSELECT", S_SEL }, { "EXPUNGE", S_SEL }, { "SEARCH", S_SEL },
	{ "FETCH", S_SEL }, { "STORE", S_SEL }, { "COPY", S_SEL },
	{ "MOVE", S_SEL }, { "UID", S_SEL }, { "COMPRESS", S_AUTH },
};

static void
bad_command(struct client *c, const char *tag, const char *msg)
{
	client_tagged(c, tag, "BAD %s", msg);
	if (++c->bad_count >= imapd_set.max_bad)
		client_close(c, "Too many invalid commands.");
}

static void
dispatch(struct client *c, struct imap_command *cmd)
{
	const char *n = cmd->name;
	unsigned st = c->state == ST_NOAUTH ? 1 : c->state == ST_AUTH ? 2 : 4;
	unsigned i;

	for (i = 0; i < NELEM(commands); i++)
		if (strcmp(commands[i].name, n) == 0)
			break;
	if (i == NELEM(commands)) {
		bad_command(c, cmd->tag, "Unknown command.");
		return;
	}
	if (!(commands[i].states & st)) {
		bad_command(c, cmd->tag, c->state == ST_NOAUTH ?
		    "Command not valid before login." :
		    "Command not valid in this state.");
		return;
	}
	/* pick up deliveries and other sessions' changes (no expunges yet) */
	if (c->box != NULL && strcmp(n, "FETCH") && strcmp(n, "STORE") &&
	    strcmp(n, "SEARCH") && strcmp(n, "UID"))
		client_sync(c, 0);

	if (!strcmp(n, "CAPABILITY")) cmd_capability(c, cmd->tag);
	else if (!strcmp(n, "NOOP") || !strcmp(n, "CHECK")) {
		if (c->box != NULL)
			client_sync(c, 1);
		client_tagged(c, cmd->tag, "OK %s completed.", n);
	}
	else if (!strcmp(n, "LOGOUT")) cmd_logout(c, cmd->tag);
	else if (!strcmp(n, "ID")) cmd_id(c, cmd->tag);
	else if (!strcmp(n, "ENABLE")) cmd_enable(c, cmd);
	else if (!strcmp(n, "STARTTLS")) cmd_starttls(c, cmd->tag);
	else if (!strcmp(n, "LOGIN")) cmd_login(c, cmd);
	else if (!strcmp(n, "AUTHENTICATE")) cmd_authenticate(c, cmd);
	else if (!strcmp(n, "SELECT")) cmd_select(c, cmd, 0);
	else if (!strcmp(n, "EXAMINE")) cmd_select(c, cmd, 1);
	else if (!strcmp(n, "CREATE")) cmd_create(c, cmd);
	else if (!strcmp(n, "DELETE")) cmd_delete(c, cmd);
	else if (!strcmp(n, "RENAME")) cmd_rename(c, cmd);
	else if (!strcmp(n, "SUBSCRIBE")) cmd_subscribe(c, cmd, 1);
	else if (!strcmp(n, "UNSUBSCRIBE")) cmd_subscribe(c, cmd, 0);
	else if (!strcmp(n, "LIST")) cmd_list(c, cmd, 0);
	else if (!strcmp(n, "LSUB")) cmd_list(c, cmd, 1);
	else if (!strcmp(n, "NAMESPACE")) cmd_namespace(c, cmd);
	else if (!strcmp(n, "STATUS")) cmd_status(c, cmd);
	else if (!strcmp(n, "APPEND")) cmd_append(c, cmd);
	else if (!strcmp(n, "IDLE")) cmd_idle(c, cmd->tag);
	else if (!strcmp(n, "COMPRESS")) cmd_compress(c, cmd);
	else if (!strcmp(n, "CLOSE")) cmd_close(c, cmd, 1);
	else if (!strcmp(n, "UNSELECT")) cmd_close(c, cmd, 0);
	else if (!strcmp(n, "EXPUNGE")) cmd_expunge(c, cmd, 0, 0);
	else if (!strcmp(n, "SEARCH")) cmd_search(c, cmd, 0, 0);
	else if (!strcmp(n, "FETCH")) cmd_fetch(c, cmd, 0, 0);
	else if (!strcmp(n, "STORE")) cmd_store(c, cmd, 0, 0);
	else if (!strcmp(n, "COPY")) cmd_copy(c, cmd, 0, 0, 0);
	else if (!strcmp(n, "MOVE")) cmd_copy(c, cmd, 0, 0, 1);
	else if (!strcmp(n, "UID")) {
		const char *sub = cmd->count > 0 &&
		    cmd->args[0].type == IMAP_ARG_ATOM ? cmd->args[0].str : "";
		if (!strcasecmp(sub, "FETCH")) cmd_fetch(c, cmd, 1, 1);
		else if (!strcasecmp(sub, "STORE")) cmd_store(c, cmd, 1, 1);
		else if (!strcasecmp(sub, "SEARCH")) cmd_search(c, cmd, 1, 1);
		else if (!strcasecmp(sub, "COPY")) cmd_copy(c, cmd, 1, 1, 0);
		else if (!strcasecmp(sub, "MOVE")) cmd_copy(c, cmd, 1, 1, 1);
		else if (!strcasecmp(sub, "EXPUNGE")) cmd_expunge(c, cmd, 1, 1);
		else
			bad_command(c, cmd->tag, "Unknown UID command.");
	}
}

/* Tag and name of a partly collected command, for the literal limit. */
static int
command_is_append(const struct buf *cmd)
{
	const char *s = buf_cstr(cmd), *sp = memchr(s, ' ', cmd->len);

	if (sp == NULL)
		return 0;
	return strncasecmp(sp + 1, "APPEND ", 7) == 0;
}

static void
execute(struct client *c)
{
	struct imap_limits lim = { imapd_set.max_depth, 100000 };
	struct imap_command cmd;
	const char *err;
	char *tag;

	if (imap_parse_command(c->cmd.data ? c->cmd.data : "", c->cmd.len,
	    &lim, &cmd, &tag, &err) < 0) {
		bad_command(c, tag ? tag : "*", err);
		free(tag);
		buf_reset(&c->cmd);
		return;
	}
	free(tag);
	buf_reset(&c->cmd);
	dispatch(c, &cmd);
	imap_command_free(&cmd);
}

static void
client_input(struct client *c)
{
	while (!c->conn.paused && !c->conn.closing && c->fetch == NULL) {
		uint64_t lsize;
		int cr, nonsync, r;

		if (c->literal_left > 0) {
			long n = io_read_into(c->conn.io, &c->cmd, c->literal_left);
			if (n <= 0) {
				if (n < 0)
					client_close(c, "Command too long.");
				return;
			}
			c->literal_left -= (uint64_t)n;
			continue;
		}
		r = io_getline(c->conn.io, &c->line, (size_t)imapd_set.line_max, &cr);
		if (r == 0)
			return;
		if (r == 2) {
			if (!c->discard_line) {
				c->discard_line = 1;
				buf_reset(&c->cmd);
				bad_command(c, "*", "Line too long.");
			}
			continue;
		}
		if (c->discard_line) {
			c->discard_line = 0;
			continue;
		}
		if (c->idle_tag != NULL) {
			if (strcasecmp(buf_cstr(&c->line), "DONE") == 0) {
				client_tagged(c, c->idle_tag, "OK Idle completed.");
				FREE(c->idle_tag);
			} else {
				client_tagged(c, c->idle_tag, "BAD Expected DONE.");
				FREE(c->idle_tag);
			}
			continue;
		}
		if (c->auth_tag != NULL) {
			char *tag = c->auth_tag;
			c->auth_tag = NULL;
			auth_plain(c, tag, buf_cstr(&c->line));
			free(tag);
			continue;
		}
		if (buf_append(&c->cmd, c->line.data ? c->line.data : "",
		    c->line.len) < 0) {
			client_close(c, "Command too long.");
			return;
		}
		r = imap_line_literal(buf_cstr(&c->line), c->line.len, &lsize,
		    &nonsync);
		if (r < 0) {
			buf_reset(&c->cmd);
			bad_command(c, "*", "Invalid literal size.");
			continue;
		}
		if (r == 1) {
			/* before login: no APPEND, and one literal's worth
			 * for the whole command */
			int pre = c->state == ST_NOAUTH;
			uint64_t max = !pre && command_is_append(&c->cmd) ?
			    (uint64_t)imapd_set.append_max :
			    (uint64_t)imapd_set.literal_max;
			uint64_t cmd_max = pre ? (uint64_t)(imapd_set.line_max +
			    imapd_set.literal_max) : (uint64_t)c->cmd.max;
			if (lsize > max || c->cmd.len + lsize + 2 > cmd_max) {
				const char *sp = memchr(buf_cstr(&c->cmd), ' ', c->cmd.len);
				char *tag = xstrndup(buf_cstr(&c->cmd), sp ?
				    (size_t)(sp - c->cmd.data) : 1);
				buf_reset(&c->cmd);
				if (nonsync) {
					/* the data is on its way: no way to resync */
					client_tagged(c, tag, "NO [TOOBIG] Literal too large.");
					free(tag);
					client_close(c, "Literal too large.");
					return;
				}
				client_tagged(c, tag, "NO [TOOBIG] Literal too large.");
				free(tag);
				continue;
			}
			buf_append(&c->cmd, "\r\n", 2);
			c->literal_left = lsize;
			if (!nonsync)
				client_send(c, "+ OK");
			continue;
		}
		execute(c);
	}
}

/* ---- main ---- */

static void
imapd_settings_load(void)
{
	login_settings_load(&login_set, "imapd");
	imapd_set.line_max = config_int("imapd_max_line_length");
	if (imapd_set.line_max < 1024)
		imapd_set.line_max = 1024;
	imapd_set.literal_max = config_int("imapd_literal_size_limit");
	imapd_set.append_max = config_int("message_size_limit");
	imapd_set.max_bad = config_int("imapd_max_bad_commands");
	imapd_set.timeout_noauth = config_time("imapd_login_timeout");
	imapd_set.timeout_auth = config_time("imapd_timeout");
	imapd_set.max_depth = (unsigned)config_int("imapd_max_nesting");
}

/* Worker: a session authenticated by the post-login master arrives. */
static void
worker_session(int fd, const struct login_session *s)
{
	struct client *c = client_new();
	char *err = NULL;
	struct buf b;

	login_conn_worker(&c->conn, fd, s, client_io, c);
	c->mu = maildir_user_open(s->mailbox, &err);
	if (c->mu == NULL) {
		log_warn("%s: %s", c->conn.id, err);
		free(err);
		client_tagged(c, s->tag, "NO [SERVERBUG] Mailbox not accessible.");
		client_close(c, "Mailbox not accessible.");
		return;
	}
	c->user = xstrdup(s->user);
	c->state = ST_AUTH;
	io_set_timeout(c->conn.io, (int)imapd_set.timeout_auth);
	buf_init(&b, 4096);
	capability_string(c, &b);
	client_tagged(c, s->tag, "OK [CAPABILITY %s] Logged in", buf_cstr(&b));
	buf_free(&b);
	/* then the commands the client pipelined after LOGIN */
	login_conn_session_open(&c->conn, s);
	client_input(c);
}

int
imap_login_main(int argc, char **argv)
{
	service_init(argc, argv, "imap-login");
	imapd_settings_load();
	tls_ctx = login_tls_server_ctx("imap-login");
	return login_client_run("imap-login", &login_set, client_accept);
}

int
imapd_main(int argc, char **argv)
{
	int argi = service_init(argc, argv, "imapd");

	imapd_settings_load();
	if (login_worker_mode(argc, argv, argi)) {
		/* exec'ed by the post-login master with the user's uid */
		notify_init();
		service_wakeup(idle_poll, NULL, 2);
		login_worker_init(worker_session);
		return service_run();
	}
	return login_master_run("imap", &login_set, argc, argv);
}
