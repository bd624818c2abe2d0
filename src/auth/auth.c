/*
 * auth.c - the auth service: verifies passwords for smtpd (SMTP AUTH)
 * and, later, imapd, pop3d and the web console, over lib/ipc frames on a
 * UNIX socket (master.cf: `auth unix - n n - 1 auth`).
 *
 * Requests come from Tempest processes but carry names and passwords
 * typed by network clients: fields are bounded (lib/ipc, sasl.h), the
 * password is never logged and is cleansed after use.  Hardening: every
 * failure is answered only after auth_failure_delay (a timer, the
 * process keeps serving others), and a client with auth_failure_limit
 * failures within auth_failure_window is refused without a password
 * check until they age out.  The process keeps root only when a backend
 * needs it (shadow, PAM); otherwise it runs as mail_owner.  It is not
 * dumpable (no core files with passwords).
 */
#include <sys/prctl.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "auth_client.h"
#include "config.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "passdb.h"
#include "roles.h"
#include "sasl.h"
#include "service.h"
#include "str.h"

#define AUTH_MAX_CLIENTS 4096   /* failure records kept */
#define AUTH_MAX_DELAY 5        /* hard cap on auth_failure_delay */

static const struct cfg_param auth_params[] = {
	{ "auth_passdb_tables", CFG_LIST, "", 0, "Password tables the auth service asks in order: passwd-file:/path, sqlite:/path, shadow, pam[:service], saslauthd[:/socket] (empty: the passwd-file: tables of virtual_mailbox_maps)" },
	{ "auth_failure_delay", CFG_TIME, "2s", 's', "Delay before a failed authentication is answered (at most 5s)" },
	{ "auth_failure_limit", CFG_INT, "10", 0, "Failed authentications from one client within auth_failure_window after which it is refused (0 = never)" },
	{ "auth_failure_window", CFG_TIME, "10m", 's', "Time window of auth_failure_limit; a refused client is accepted again once its failures are older than this" },
	{ "smtpd_sasl_path", CFG_STR, "private/auth", 0, "The auth service socket, relative to queue_directory (or absolute)" },
};

CONFIG_PARAMS(auth_params);

struct client_failures {
	char addr[64];
	time_t times[64];       /* ring of failure times */
	unsigned n, next;
	time_t last;
};

struct auth_conn {
	struct io *io;
	struct event *delay_ev;
	struct ipc_msg reply;   /* delayed reply */
	int busy;
};

static struct passdb **passdbs;
static size_t npassdbs;
static struct client_failures *failures;
static size_t nfailures;
static int delay_secs, fail_limit;
static long long fail_window;

/* ---- failure accounting ---- */

static struct client_failures *
failures_find(const char *addr, int create)
{
	size_t i, oldest = 0;

	for (i = 0; i < nfailures; i++) {
		if (strcmp(failures[i].addr, addr) == 0)
			return &failures[i];
		if (failures[i].last < failures[oldest].last)
			oldest = i;
	}
	if (!create)
		return NULL;
	if (nfailures < AUTH_MAX_CLIENTS) {
		failures = xreallocarray(failures, nfailures + 1,
		    sizeof(*failures));
		i = nfailures++;
	} else
		i = oldest;
	memset(&failures[i], 0, sizeof(failures[i]));
	snprintf(failures[i].addr, sizeof(failures[i].addr), "%s", addr);
	return &failures[i];
}

static unsigned
failures_recent(const struct client_failures *f, time_t now)
{
	unsigned i, n = 0, cap = NELEM(f->times);

	for (i = 0; i < f->n && i < cap; i++)
		if (now - f->times[i] < fail_window)
			n++;
	return n;
}

static void
failures_add(struct client_failures *f, time_t now)
{
	f->times[f->next] = now;
	f->next = (f->next + 1) % NELEM(f->times);
	if (f->n < NELEM(f->times))
		f->n++;
	f->last = now;
}

/* ---- requests ---- */

static void
send_reply(struct auth_conn *c)
{
	ipc_io_send(c->io, &c->reply);
	ipc_msg_free(&c->reply);
	c->busy = 0;
	io_resume(c->io);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_reply(arg);
}

static const char *
loggable(const char *user)
{
	return sasl_name_ok(user, strlen(user)) ? user : "(invalid)";
}

/* Answer one request (now or after the failure delay); -1 if it is
 * malformed (the caller closes the connection). */
static int
handle_verify(struct auth_conn *c, struct ipc_msg *m)
{
	const char *service, *client, *mech, *user, *password, *err = NULL;
	struct client_failures *f;
	time_t now = time(NULL);
	enum auth_status st = AUTH_FAIL;
	const char *reason = "authentication failure";
	size_t i;
	int delay = 0;

	if (ipc_get_str(m, &service) < 0 || ipc_get_str(m, &client) < 0 ||
	    ipc_get_str(m, &mech) < 0 || ipc_get_str(m, &user) < 0 ||
	    ipc_get_str(m, &password) < 0) {
		return -1;
	}
	if (*client == '\0')
		client = "unknown";
	f = failures_find(client, 0);
	if (fail_limit > 0 && f != NULL &&
	    failures_recent(f, now) >= (unsigned)fail_limit) {
		st = AUTH_LOCKED;
		reason = "too many authentication failures";
		delay = 1;
		log_warn("%s: refused %s %s authentication for user=<%s>: %u "
		    "failures in %llds", client, service, mech, loggable(user),
		    failures_recent(f, now), fail_window);
	} else {
		int r = 0, temp = 0;
		for (i = 0; i < npassdbs && r != 1; i++) {
			r = passdb_verify(passdbs[i], user, password, service,
			    &err);
			if (r < 0) {
				temp = 1;
				log_warn("%s: %s: %s", client,
				    passdb_name(passdbs[i]), err);
			}
		}
		if (r == 1) {
			st = AUTH_OK;
			reason = "ok";
			if (f != NULL)
				f->n = f->next = 0;
			log_info("%s: %s %s authentication succeeded for "
			    "user=<%s>", client, service, mech, user);
		} else {
			st = temp ? AUTH_TEMPFAIL : AUTH_FAIL;
			reason = temp ? "temporary authentication failure" :
			    "authentication failure";
			if (!temp) {
				f = failures_find(client, 1);
				failures_add(f, now);
			}
			delay = 1;
			log_warn("%s: %s %s authentication failed for user=<%s>"
			    "%s (%u recent failures)", client, service, mech,
			    loggable(user), temp ? " (temporary)" : "",
			    f != NULL ? failures_recent(f, now) : 0);
		}
	}
	ipc_msg_init(&c->reply, AUTH_RESULT);
	ipc_put_int(&c->reply, st);
	ipc_put_str(&c->reply, st == AUTH_OK ? user : "");
	ipc_put_str(&c->reply, reason);
	c->busy = 1;
	io_pause(c->io);
	if (delay && delay_secs > 0) {
		struct timeval tv = { delay_secs, 0 };
		if (c->delay_ev == NULL)
			c->delay_ev = evtimer_new(io_base(), on_delay, c);
		evtimer_add(c->delay_ev, &tv);
	} else
		send_reply(c);
	return 0;
}

static void
conn_free(struct auth_conn *c)
{
	io_free(&c->io);
	if (c->delay_ev != NULL)
		event_free(c->delay_ev);
	if (c->busy)
		ipc_msg_free(&c->reply);
	free(c);
	service_session_end();
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct auth_conn *c = arg;
	struct ipc_msg m;
	int k;

	switch (evt) {
	case IO_IN:
		while (!c->busy) {
			ipc_msg_init(&m, 0);
			k = ipc_io_take(io, &m);
			if (k == 1 && m.type == AUTH_VERIFY &&
			    handle_verify(c, &m) == 0) {
				OPENSSL_cleanse(m.body.data, m.body.cap);
				ipc_msg_free(&m);
				continue;
			}
			if (m.body.data != NULL)
				OPENSSL_cleanse(m.body.data, m.body.cap);
			ipc_msg_free(&m);
			if (k == 0)
				return;
			log_warn("malformed request: closing the connection");
			conn_free(c);
			return;
		}
		break;
	case IO_LOWAT:
	case IO_TLSREADY:
		break;
	case IO_TIMEOUT:
	case IO_EOF:
	case IO_ERROR:
		conn_free(c);
		break;
	}
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct auth_conn *c = xcalloc(1, sizeof(*c));

	(void)sa;
	(void)salen;
	(void)arg;
	c->io = io_new(fd, on_io, c);
	io_set_timeout(c->io, 300);
}

static void
open_tables(void)
{
	char **specs, *err = NULL;
	size_t i, n;
	const char *v = config_str("auth_passdb_tables");

	if (*v == '\0') {
		char **vm = str_split(config_str("virtual_mailbox_maps"),
		    STR_LIST_SEPS, NULL);
		struct buf b;
		buf_init(&b, 65536);
		for (i = 0; vm[i] != NULL; i++)
			if (strncmp(vm[i], "passwd-file:", 12) == 0)
				buf_printf(&b, "%s ", vm[i]);
		str_split_free(&vm);
		specs = str_split(buf_cstr(&b), STR_LIST_SEPS, &n);
		buf_free(&b);
	} else
		specs = str_split(v, STR_LIST_SEPS, &n);
	if (n == 0)
		fatal("auth_passdb_tables is empty and virtual_mailbox_maps has "
		    "no passwd-file: table: no users can log in");
	passdbs = xcalloc(n, sizeof(*passdbs));
	for (i = 0; i < n; i++) {
		passdbs[i] = passdb_open(specs[i], &err);
		if (passdbs[i] == NULL)
			fatal("auth_passdb_tables: %s", err);
	}
	npassdbs = n;
	str_split_free(&specs);
}

/* Keep root only when a backend needs it. */
static void
drop_privileges(void)
{
	const char *owner = config_str("mail_owner");
	struct passwd *pw;
	size_t i;

	for (i = 0; i < npassdbs; i++)
		if (passdb_needs_root(passdbs[i])) {
			log_debug("keeping root for %s", passdb_name(passdbs[i]));
			service_drop_privileges();
			return;
		}
	service_drop_privileges();
	if (geteuid() != 0)
		return;
	pw = getpwnam(owner);
	if (pw == NULL)
		fatal("mail_owner %s: no such user", owner);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("drop privileges to %s: %s", owner, strerror(errno));
	if (setuid(0) == 0)
		fatal("privileges not dropped");
}

int
auth_main(int argc, char **argv)
{
	service_init(argc, argv, "auth");
	prctl(PR_SET_DUMPABLE, 0);
	delay_secs = (int)config_time("auth_failure_delay");
	if (delay_secs > AUTH_MAX_DELAY)
		delay_secs = AUTH_MAX_DELAY;
	fail_limit = (int)config_int("auth_failure_limit");
	if (fail_limit > 64)
		fail_limit = 64;
	fail_window = config_time("auth_failure_window");
	open_tables();
	drop_privileges();
	service_listen(on_accept, NULL, 1000);
	return service_run();
}
