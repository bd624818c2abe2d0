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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth_client.h"
#include "config.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "ossl.h"
#include "passdb.h"
#include "roles.h"
#include "sasl.h"
#include "scram.h"
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
	/* SCRAM-SHA-256 between its two messages */
	int scram_active;
	struct scram_server scram;
	char service[32], client[64];
};

static struct passdb **passdbs;
static size_t npassdbs;
static struct client_failures *failures;
static size_t nfailures;
static int delay_secs, fail_limit;
static unsigned char fake_salt_key[32];  /* salts for unknown SCRAM users */
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

/* Queue a reply, now or after the failure delay. */
static void
reply_later(struct auth_conn *c, int delay)
{
	c->busy = 1;
	io_pause(c->io);
	if (delay && delay_secs > 0) {
		struct timeval tv = { delay_secs, 0 };
		if (c->delay_ev == NULL)
			c->delay_ev = evtimer_new(io_base(), on_delay, c);
		evtimer_add(c->delay_ev, &tv);
	} else
		send_reply(c);
}

static void
result(struct auth_conn *c, enum auth_status st, const char *user,
    const char *reason, const char *data, int delay)
{
	ipc_msg_init(&c->reply, AUTH_RESULT);
	ipc_put_int(&c->reply, st);
	ipc_put_str(&c->reply, st == AUTH_OK ? user : "");
	ipc_put_str(&c->reply, reason);
	ipc_put_str(&c->reply, data);
	reply_later(c, delay);
}

/* Refused without a check while the client has too many failures. */
static int
locked_out(const char *client, const char *service, const char *mech,
    const char *user, time_t now)
{
	struct client_failures *f = failures_find(client, 0);

	if (fail_limit <= 0 || f == NULL ||
	    failures_recent(f, now) < (unsigned)fail_limit)
		return 0;
	log_warn("%s: refused %s %s authentication for user=<%s>: %u "
	    "failures in %llds", client, service, mech, loggable(user),
	    failures_recent(f, now), fail_window);
	return 1;
}

static void
failed(const char *client, const char *service, const char *mech,
    const char *user, const char *why, time_t now)
{
	struct client_failures *f = failures_find(client, 1);

	failures_add(f, now);
	log_warn("%s: %s %s authentication failed for user=<%s>%s%s (%u "
	    "recent failures)", client, service, mech, loggable(user),
	    why != NULL ? ": " : "", why != NULL ? why : "",
	    failures_recent(f, now));
}

static void
succeeded(const char *client, const char *service, const char *mech,
    const char *user)
{
	struct client_failures *f = failures_find(client, 0);

	if (f != NULL)
		f->n = f->next = 0;
	log_info("%s: %s %s authentication succeeded for user=<%s>", client,
	    service, mech, user);
}

/* SCRAM step 1: look up the secret (a fake one for unknown users, so
 * the exchange looks the same) and send the server-first message. */
static int
handle_scram_first(struct auth_conn *c, struct ipc_msg *m)
{
	const char *service, *client, *msg, *err = NULL;
	time_t now = time(NULL);
	unsigned char nonce[18];
	struct buf sn;
	size_t i;
	int r = 0;

	if (ipc_get_str(m, &service) < 0 || ipc_get_str(m, &client) < 0 ||
	    ipc_get_str(m, &msg) < 0)
		return -1;
	if (*client == '\0')
		client = "unknown";
	snprintf(c->service, sizeof(c->service), "%s", service);
	snprintf(c->client, sizeof(c->client), "%s", client);
	if (c->scram_active) {
		scram_server_free(&c->scram);
		c->scram_active = 0;
	}
	if (scram_client_first(&c->scram, msg, strlen(msg), &err) < 0) {
		failed(client, service, "SCRAM-SHA-256", "", err, now);
		result(c, AUTH_FAIL, "", err, "", 1);
		return 0;
	}
	if (locked_out(client, service, "SCRAM-SHA-256", c->scram.user, now)) {
		scram_server_free(&c->scram);
		result(c, AUTH_LOCKED, "", "too many authentication failures",
		    "", 1);
		return 0;
	}
	for (i = 0; i < npassdbs && r != 1; i++) {
		r = passdb_scram_secret(passdbs[i], c->scram.user,
		    &c->scram.secret, &err);
		if (r < 0) {
			log_warn("%s: %s: %s", client, passdb_name(passdbs[i]),
			    err);
			scram_server_free(&c->scram);
			result(c, AUTH_TEMPFAIL, "", "temporary authentication "
			    "failure", "", 1);
			return 0;
		}
	}
	c->scram.have_secret = r == 1;
	if (r != 1) {
		/* same shape as a real secret: salt from the user name */
		unsigned char h[32];
		unsigned int hl = sizeof(h);
		HMAC(EVP_sha256(), fake_salt_key, sizeof(fake_salt_key),
		    (const unsigned char *)c->scram.user,
		    strlen(c->scram.user), h, &hl);
		memcpy(c->scram.secret.salt, h, 16);
		c->scram.secret.salt_len = 16;
		c->scram.secret.iter = 4096;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		fatal("RAND_bytes failed");
	buf_init(&sn, 64);
	sasl_b64_encode(nonce, sizeof(nonce), &sn);
	c->scram_active = 1;
	ipc_msg_init(&c->reply, AUTH_CONTINUE);
	ipc_put_str(&c->reply, scram_server_first(&c->scram, buf_cstr(&sn)));
	buf_free(&sn);
	reply_later(c, 0);
	return 0;
}

/* SCRAM step 2: check the proof. */
static int
handle_scram_final(struct auth_conn *c, struct ipc_msg *m)
{
	const char *msg, *err = NULL;
	char *final = NULL;
	time_t now = time(NULL);
	int r;

	if (ipc_get_str(m, &msg) < 0 || !c->scram_active)
		return -1;
	r = scram_client_final(&c->scram, msg, strlen(msg), &final, &err);
	if (r == 1) {
		succeeded(c->client, c->service, "SCRAM-SHA-256", c->scram.user);
		result(c, AUTH_OK, c->scram.user, "ok", final, 0);
		free(final);
	} else {
		failed(c->client, c->service, "SCRAM-SHA-256", c->scram.user,
		    r < 0 ? err : NULL, now);
		result(c, AUTH_FAIL, "", r < 0 ? err : "authentication failure",
		    "", 1);
	}
	scram_server_free(&c->scram);
	c->scram_active = 0;
	return 0;
}

/* Answer one request (now or after the failure delay); -1 if it is
 * malformed (the caller closes the connection). */
static int
handle_verify(struct auth_conn *c, struct ipc_msg *m)
{
	const char *service, *client, *mech, *user, *password, *err = NULL;
	time_t now = time(NULL);
	size_t i;
	int r = 0, temp = 0;

	if (ipc_get_str(m, &service) < 0 || ipc_get_str(m, &client) < 0 ||
	    ipc_get_str(m, &mech) < 0 || ipc_get_str(m, &user) < 0 ||
	    ipc_get_str(m, &password) < 0) {
		return -1;
	}
	if (*client == '\0')
		client = "unknown";
	if (locked_out(client, service, mech, user, now)) {
		result(c, AUTH_LOCKED, "", "too many authentication failures",
		    "", 1);
		return 0;
	}
	for (i = 0; i < npassdbs && r != 1; i++) {
		r = passdb_verify(passdbs[i], user, password, service, &err);
		if (r < 0) {
			temp = 1;
			log_warn("%s: %s: %s", client, passdb_name(passdbs[i]),
			    err);
		}
	}
	if (r == 1) {
		succeeded(client, service, mech, user);
		result(c, AUTH_OK, user, "ok", "", 0);
	} else if (temp) {
		log_warn("%s: %s %s authentication failed for user=<%s> "
		    "(temporary)", client, service, mech, loggable(user));
		result(c, AUTH_TEMPFAIL, "", "temporary authentication failure",
		    "", 1);
	} else {
		failed(client, service, mech, user, NULL, now);
		result(c, AUTH_FAIL, "", "authentication failure", "", 1);
	}
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
	if (c->scram_active)
		scram_server_free(&c->scram);
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
			if (k == 1 && ((m.type == AUTH_VERIFY &&
			    handle_verify(c, &m) == 0) ||
			    (m.type == AUTH_SCRAM_FIRST &&
			    handle_scram_first(c, &m) == 0) ||
			    (m.type == AUTH_SCRAM_FINAL &&
			    handle_scram_final(c, &m) == 0))) {
				explicit_bzero(m.body.data, m.body.cap);
				ipc_msg_free(&m);
				continue;
			}
			if (m.body.data != NULL)
				explicit_bzero(m.body.data, m.body.cap);
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
	service_watch_master();
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
	if (RAND_bytes(fake_salt_key, sizeof(fake_salt_key)) != 1)
		fatal("RAND_bytes failed");
	open_tables();
	drop_privileges();
	service_listen(on_accept, NULL, 1000);
	return service_run();
}
