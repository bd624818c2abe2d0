/*
 * login_client.c - the login process's side of the post-login protocol,
 * its privilege drop, and the TLS relay (see login_client.h).
 *
 * Untrusted bytes: frames from the master (trusted: root) and, in the
 * relay, client bytes that are only copied, never parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "login_client.h"
#include "login_conn.h"
#include "login_proto.h"
#include "mem.h"
#include "ossl.h"
#include "service.h"

static const struct cfg_param login_params[] = {
	{ "login_user", CFG_STR, "tempest-login", 0, "User the IMAP and POP3 login processes (imap-login, pop3-login) run as before authentication (Dovecot default_login_user): a user that owns no files, created by master when missing; they are also chrooted into login_chroot_directory, so they reach no mail store" },
	{ "login_chroot_directory", CFG_STR, "$queue_directory/empty", 0, "Empty root-owned directory the login processes chroot into (created if missing)" },
};
CONFIG_PARAMS(login_params);

#define RELAY_AHEAD (256 * 1024)

struct pending {
	int64_t sid;
	uint32_t type;          /* the reply awaited */
	login_connect_cb ccb;
	login_auth_cb acb;
	void *arg;
	struct pending *next;
};

static int master_fd = -1;
static struct event *master_ev;
static struct pending *pendings;

/* The post-login master has gone: at a stop it exits before this
 * process gets its signal, after a crash master reports it and starts
 * both again.  Either way the sessions here cannot go on: exit quietly. */
static void __attribute__((noreturn))
master_lost(void)
{
	log_debug("the post-login service has gone; exiting");
	exit(0);
}

static void
master_send(struct ipc_msg *m)
{
	if (ipc_send(master_fd, m) < 0)
		master_lost();
	ipc_msg_free(m);
}

static struct pending *
pending_take(int64_t sid, uint32_t type)
{
	for (struct pending **pp = &pendings; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->sid == sid && (*pp)->type == type) {
			struct pending *p = *pp;
			*pp = p->next;
			return p;
		}
	return NULL;
}

static void
master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	struct pending *p;
	int64_t sid, v;
	const char *user = "", *reason = "";

	(void)what;
	(void)arg;
	ipc_msg_init(&m, 0);
	if (ipc_recv(fd, &m) <= 0 || ipc_get_int(&m, &sid) < 0 ||
	    ipc_get_int(&m, &v) < 0)
		master_lost();
	if (m.type == LOGIN_AUTHED && (ipc_get_str(&m, &user) < 0 ||
	    ipc_get_str(&m, &reason) < 0))
		master_lost();
	p = pending_take(sid, m.type);
	if (p != NULL) {
		if (p->ccb != NULL)
			p->ccb(v != 0, p->arg);
		else if (p->acb != NULL)
			p->acb((int)v, user, reason, p->arg);
		free(p);
	}
	if (m.fd >= 0)
		close(m.fd);
	ipc_msg_free(&m);
}

static void
master_connect(const char *service)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/private/%s",
	    config_str("queue_directory"), service) >= sizeof(sun.sun_path))
		fatal("post-login socket path too long");
	master_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (master_fd < 0)
		fatal("socket: %s", strerror(errno));
	for (int tries = 0; ; tries++) {
		if (connect(master_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		/* master may still be starting the post-login service */
		if (tries >= 50)
			fatal("connect %s: %s", sun.sun_path, strerror(errno));
		usleep(100000);
	}
	master_ev = event_new(io_base(), master_fd, EV_READ | EV_PERSIST,
	    master_read, NULL);
	event_add(master_ev, NULL);
}

static void
drop_privileges(const char *role)
{
	const char *dir = config_str("login_chroot_directory");
	const char *name = config_str("login_user");
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0) {
		log_info("%s: not started as root: no chroot, uid %d", role,
		    (int)geteuid());
		prctl(PR_SET_DUMPABLE, 0);
		return;
	}
	pw = getpwnam(name);
	if (pw == NULL)
		fatal("login_user %s: no such user", name);
	if (pw->pw_uid == 0)
		fatal("login_user %s: must not be root", name);
	if (mkdir(dir, 0555) < 0 && errno != EEXIST)
		fatal("mkdir %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		fatal("login_chroot_directory %s: not a directory", dir);
	if (st.st_uid != 0 || (st.st_mode & 0222) != 0) {
		/* it must stay empty: nobody but root may write there */
		if (chown(dir, 0, 0) < 0 || chmod(dir, 0555) < 0)
			fatal("%s: %s", dir, strerror(errno));
	}
	ossl_require();
	if (chroot(dir) < 0 || chdir("/") < 0)
		fatal("chroot %s: %s", dir, strerror(errno));
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("%s: drop privileges to %s: %s", role, name, strerror(errno));
	if (setuid(0) == 0)
		fatal("%s: privileges not dropped", role);
	service_watch_master();
	prctl(PR_SET_DUMPABLE, 0);
}

int
login_client_run(const char *role, const struct login_settings *set,
    service_accept_fn accept)
{
	master_connect(set->post_login_service);
	/* from here on: no mail store, no key files, no root */
	drop_privileges(role);
	service_listen(accept, NULL, (int)set->session_limit);
	return service_run();
}

static void
pending_add(int64_t sid, uint32_t type, login_connect_cb ccb,
    login_auth_cb acb, void *arg)
{
	struct pending *p = xcalloc(1, sizeof(*p));

	p->sid = sid;
	p->type = type;
	p->ccb = ccb;
	p->acb = acb;
	p->arg = arg;
	p->next = pendings;
	pendings = p;
}

void
login_client_connect(int64_t sid, const char *ip, login_connect_cb cb,
    void *arg)
{
	struct ipc_msg m;

	pending_add(sid, LOGIN_CONNECTED, cb, NULL, arg);
	ipc_msg_init(&m, LOGIN_CONNECT);
	ipc_put_int(&m, sid);
	ipc_put_str(&m, ip);
	master_send(&m);
}

void
login_client_auth(int64_t sid, const char *mech, const char *user,
    const char *password, login_auth_cb cb, void *arg)
{
	struct ipc_msg m;

	pending_add(sid, LOGIN_AUTHED, NULL, cb, arg);
	ipc_msg_init(&m, LOGIN_AUTH);
	ipc_put_int(&m, sid);
	ipc_put_str(&m, mech);
	ipc_put_str(&m, user);
	ipc_put_str(&m, password);
	if (ipc_send(master_fd, &m) < 0)
		master_lost();
	explicit_bzero(m.body.data, m.body.len);
	ipc_msg_free(&m);
}

static void
pending_drop(int64_t sid)
{
	struct pending *p;

	while ((p = pending_take(sid, LOGIN_CONNECTED)) != NULL ||
	    (p = pending_take(sid, LOGIN_AUTHED)) != NULL)
		free(p);
}

void
login_client_close(int64_t sid)
{
	struct ipc_msg m;

	pending_drop(sid);
	ipc_msg_init(&m, LOGIN_CLOSE);
	ipc_put_int(&m, sid);
	master_send(&m);
}

/* ---- handoff ---- */

struct relay {
	struct io *client, *pair;
	int draining;           /* one side gone: flush the other, then end */
};

static void
relay_end(struct relay *r)
{
	io_free(&r->client);
	io_free(&r->pair);
	free(r);
	service_session_end();
}

/* Copy what one side has read to the other, pausing on a full buffer. */
static void
relay_move(struct io *from, struct io *to)
{
	struct buf b;
	size_t n = io_inlen(from);

	if (n == 0)
		return;
	buf_init(&b, n);
	if (io_read_into(from, &b, n) > 0)
		io_write(to, b.data, b.len);
	buf_free(&b);
	if (io_outlen(to) > RELAY_AHEAD)
		io_pause(from);
}

static void
relay_io(struct io *io, enum io_evt evt, void *arg)
{
	struct relay *r = arg;
	struct io *other = io == r->client ? r->pair : r->client;

	if (r->draining) {
		/* only the surviving side is left: end once it is flushed */
		if (evt == IO_IN)
			io_drain_input(io);
		else if (evt != IO_TLSREADY && (evt != IO_LOWAT ||
		    io_outlen(io) == 0))
			relay_end(r);
		return;
	}
	switch (evt) {
	case IO_IN:
		relay_move(io, other);
		break;
	case IO_LOWAT:
		io_resume(other);
		relay_move(other, io);
		break;
	case IO_TLSREADY:
	case IO_TIMEOUT:
		break;
	case IO_EOF:
	case IO_ERROR:
		/* pass on what this side still had, flush it, then end */
		relay_move(io, other);
		if (io == r->client)
			io_free(&r->client);
		else
			io_free(&r->pair);
		if (io_outlen(other) == 0) {
			relay_end(r);
			break;
		}
		r->draining = 1;
		io_set_timeout(other, 30);
		break;
	}
}

struct handoff_wait {
	int64_t sid;
	char *id, *tag;
	struct io *io;
};

/* The session has left this process (handed over or gone). */
static void
handoff_wait_end(struct handoff_wait *h)
{
	io_free(&h->io);
	free(h->id);
	free(h->tag);
	free(h);
	service_session_end();
}

static void
handoff_plain(struct handoff_wait *h)
{
	struct ipc_msg m;
	struct buf in, hex;
	size_t n = io_inlen(h->io);
	int fd = dup(io_fd(h->io));

	buf_init(&in, LOGIN_INPUT_MAX);
	buf_init(&hex, 2 * LOGIN_INPUT_MAX + 1);
	if (fd < 0 || n > LOGIN_INPUT_MAX ||
	    (n > 0 && io_read_into(h->io, &in, n) != (long)n)) {
		log_warn("%s: cannot hand the session over", h->id);
		if (fd >= 0)
			close(fd);
		login_client_close(h->sid);
	} else {
		if (buf_append_hex(&hex, in.data, in.len) < 0)
			panic("handoff: pending input does not fit");
		ipc_msg_init(&m, LOGIN_HANDOFF);
		ipc_put_int(&m, h->sid);
		ipc_put_int(&m, 0);
		ipc_put_str(&m, h->id);
		ipc_put_str(&m, h->tag);
		ipc_put_str(&m, buf_cstr(&hex));
		m.fd = fd;
		master_send(&m);
		close(fd);
	}
	buf_free(&in);
	buf_free(&hex);
	handoff_wait_end(h);
}

static void
handoff_wait_io(struct io *io, enum io_evt evt, void *arg)
{
	struct handoff_wait *h = arg;

	(void)io;
	if (evt == IO_LOWAT) {
		handoff_plain(h);
	} else if (evt == IO_EOF || evt == IO_ERROR || evt == IO_TIMEOUT) {
		login_client_close(h->sid);
		handoff_wait_end(h);
	}
}

static void
handoff_tls(int64_t sid, struct io **iop, const char *id, const char *tag)
{
	struct ipc_msg m;
	struct relay *r;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("%s: socketpair: %s", id, strerror(errno));
		login_client_close(sid);
		io_free(iop);
		service_session_end();
		return;
	}
	ipc_msg_init(&m, LOGIN_HANDOFF);
	ipc_put_int(&m, sid);
	ipc_put_int(&m, 1);
	ipc_put_str(&m, id);
	ipc_put_str(&m, tag);
	ipc_put_str(&m, "");
	m.fd = sv[1];
	master_send(&m);
	close(sv[1]);
	evutil_make_socket_nonblocking(sv[0]);
	r = xcalloc(1, sizeof(*r));
	r->client = *iop;
	*iop = NULL;
	r->pair = io_new(sv[0], relay_io, r);
	io_set_callback(r->client, relay_io, r);
	/* the worker owns the session's timeouts; it closes its end */
	io_set_timeout(r->client, 0);
	io_resume(r->client);
	relay_move(r->client, r->pair);
}

void
login_client_handoff(int64_t sid, struct io **iop, const char *id,
    const char *tag)
{
	struct handoff_wait *h;

	pending_drop(sid);
	if (io_is_tls(*iop)) {
		handoff_tls(sid, iop, id, tag);
		return;
	}
	h = xcalloc(1, sizeof(*h));
	h->sid = sid;
	h->id = xstrdup(id);
	h->tag = xstrdup(tag);
	h->io = *iop;
	*iop = NULL;
	io_pause(h->io);
	if (io_outlen(h->io) > 0) {
		/* our last replies must reach the client before the worker's */
		io_set_callback(h->io, handoff_wait_io, h);
		return;
	}
	handoff_plain(h);
}
