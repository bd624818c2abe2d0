/*
 * login_master.c - the post-login master and the worker side of its
 * protocol (see login_master.h, login_proto.h).
 *
 * Untrusted bytes: lib/ipc frames from login processes (which parse
 * client input and may be compromised) and from workers (which run with a
 * user's rights).  Every field is read with the bounded ipc_get_*; a
 * malformed frame closes that peer.  A peer that stalls inside a frame
 * is cut off by the socket timeouts (the master's reads are blocking).
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <event2/event.h>

#include "auth_client.h"
#include "config.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "login_conn.h"
#include "login_master.h"
#include "login_proto.h"
#include "mem.h"
#include "roles.h"
#include "service.h"
#include "str.h"
#include "userdb.h"

#define PEER_TIMEOUT 10         /* seconds inside one frame */
#define WORKER_IDLE 60          /* an unused worker is stopped after this */

struct lconn;
struct worker;

struct msess {
	struct msess *next, *prev;
	struct lconn *lc;       /* login connection (NULL once handed over) */
	int64_t sid;            /* the login process's number */
	int64_t gsid;           /* ours, known to the worker */
	char ip[64];
	char *user;             /* set once authenticated */
	char *mailbox;
	uid_t uid;
	gid_t gid;
	struct worker *w;       /* set once handed over */
	struct auth_request *req;
	char *mech;
};

struct lconn {
	int fd;
	struct event *ev;
	struct lconn *next, *prev;
};

struct worker {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int fd;
	struct event *ev;
	unsigned nsess;
	time_t idle_since;
	struct worker *next, *prev;
};

static const struct login_settings *mset;
static const char *auth_service_name; /* "imap", "pop3" */
static struct msess *sessions;
static struct lconn *lconns;
static struct worker *workers;
static struct userdb *udb;
static char *auth_path;
static int64_t gsid_counter;
static int worker_argc;
static char **worker_argv;
static unsigned pending_ends;   /* login connections gone while draining */

/* ---- sessions ---- */

static void
peer_timeouts(int fd)
{
	struct timeval tv = { PEER_TIMEOUT, 0 };
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static unsigned
count_ip(const char *ip)
{
	unsigned n = 0;

	for (struct msess *s = sessions; s != NULL; s = s->next)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

static unsigned
count_user(const char *user)
{
	unsigned n = 0;

	for (struct msess *s = sessions; s != NULL; s = s->next)
		if (s->user != NULL && strcmp(s->user, user) == 0)
			n++;
	return n;
}

static struct msess *
find_sess(struct lconn *lc, int64_t sid)
{
	for (struct msess *s = sessions; s != NULL; s = s->next)
		if (s->lc == lc && s->sid == sid)
			return s;
	return NULL;
}

static void
sess_free(struct msess *s)
{
	if (s->req != NULL)
		auth_request_cancel(&s->req);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s->user);
	free(s->mailbox);
	free(s->mech);
	free(s);
}

static void
reply(struct lconn *lc, struct ipc_msg *m)
{
	if (ipc_send(lc->fd, m) < 0)
		log_warn("post-login: reply to login process: %s",
		    strerror(errno));
	ipc_msg_free(m);
}

static void
reply_authed(struct lconn *lc, int64_t sid, int status, const char *user,
    const char *reason)
{
	struct ipc_msg m;

	ipc_msg_init(&m, LOGIN_AUTHED);
	ipc_put_int(&m, sid);
	ipc_put_int(&m, status);
	ipc_put_str(&m, user != NULL ? user : "");
	ipc_put_str(&m, reason != NULL ? reason : "");
	reply(lc, &m);
}

/* The password was right: look the user up, check the per-user limit. */
static void
auth_accepted(struct msess *s, const char *canon)
{
	struct user u;

	if (userdb_lookup(udb, canon, &u) != 1) {
		log_warn("post-login: %s: user lookup failed", canon);
		reply_authed(s->lc, s->sid, AUTH_TEMPFAIL, canon, "user lookup failed");
		return;
	}
	if (u.uid == 0 || u.gid == 0) {
		log_warn("post-login: %s: mailbox owned by root: refused", u.name);
		reply_authed(s->lc, s->sid, AUTH_TEMPFAIL, u.name, "root mailbox");
		user_free(&u);
		return;
	}
	if (mset->user_limit > 0 &&
	    count_user(u.name) >= (unsigned long long)mset->user_limit) {
		log_warn("post-login: too many sessions for %s", u.name);
		reply_authed(s->lc, s->sid, LOGIN_STATUS_LIMIT, u.name,
		    "too many sessions");
		user_free(&u);
		return;
	}
	s->user = xstrdup(u.name);
	s->mailbox = xstrdup(u.mailbox);
	s->uid = u.uid;
	s->gid = u.gid;
	user_free(&u);
	reply_authed(s->lc, s->sid, AUTH_OK, s->user, "");
}

static void
auth_done(enum auth_status st, const char *user, const char *reason,
    void *arg)
{
	struct msess *s = arg;

	s->req = NULL;
	if (st == AUTH_OK)
		auth_accepted(s, user);
	else
		reply_authed(s->lc, s->sid, st, user, reason);
}

/* ---- workers ---- */

static void worker_read(evutil_socket_t fd, short what, void *arg);

static void
worker_free(struct worker *w)
{
	for (struct msess *s = sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->w == w)
			sess_free(s);
	}
	event_free(w->ev);
	close(w->fd);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		workers = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	free(w);
}

static void
reap(void)
{
	int st;

	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

static struct worker *
worker_get(uid_t uid, gid_t gid)
{
	struct worker *w;
	int sv[2];
	pid_t pid;

	for (w = workers; w != NULL; w = w->next)
		if (w->uid == uid && w->gid == gid)
			return w;
	if (geteuid() != 0 && uid != geteuid()) {
		log_warn("post-login: not root: cannot serve uid %d",
		    (int)uid);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("post-login: socketpair: %s", strerror(errno));
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("post-login: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		char **argv = xcalloc((size_t)worker_argc + 8, sizeof(char *));
		int n = 0, fd = dup(sv[1]);     /* without close-on-exec */
		char env[32];

		if (fd < 0)
			_exit(127);
		snprintf(env, sizeof(env), "%d", fd);
		setenv("TEMPEST_LOGIN_WORKER_FD", env, 1);
		unsetenv("TEMPEST_LISTEN_FDS");
		unsetenv("TEMPEST_STATUS_FD");
		setenv("TEMPEST_CONFIG_DIR", ctl_config_dir(), 1);
		if (geteuid() == 0 && (setgroups(1, &gid) < 0 ||
		    setgid(gid) < 0 || setuid(uid) < 0 || setuid(0) == 0)) {
			fprintf(stderr, "worker: cannot become %d: %s\n",
			    (int)uid, strerror(errno));
			_exit(127);
		}
		argv[n++] = (char *)"tempest";
		argv[n++] = (char *)"daemon";
		for (int i = 0; i < worker_argc; i++)
			argv[n++] = worker_argv[i];
		argv[n++] = (char *)"--";
		argv[n++] = (char *)"worker";
		argv[n] = NULL;
		execv(ctl_self_path(), argv);
		fprintf(stderr, "exec %s: %s\n", ctl_self_path(), strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	peer_timeouts(sv[0]);
	w = xcalloc(1, sizeof(*w));
	w->uid = uid;
	w->gid = gid;
	w->pid = pid;
	w->fd = sv[0];
	w->idle_since = time(NULL);
	w->ev = event_new(io_base(), w->fd, EV_READ | EV_PERSIST, worker_read, w);
	event_add(w->ev, NULL);
	w->next = workers;
	if (workers != NULL)
		workers->prev = w;
	workers = w;
	log_info("post-login: worker %d started for uid %d", (int)pid, (int)uid);
	return w;
}

static void
session_gone(void)
{
	unsigned live = 0;

	for (struct worker *w = workers; w != NULL; w = w->next)
		live += w->nsess;
	if (live == 0)
		for (; pending_ends > 0; pending_ends--)
			service_session_end();
}

static void
worker_read(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct ipc_msg m;
	int64_t gsid;
	int r;

	(void)what;
	ipc_msg_init(&m, 0);
	r = ipc_recv(fd, &m);
	if (r > 0 && m.type == LOGIN_END && ipc_get_int(&m, &gsid) == 0) {
		for (struct msess *s = sessions; s != NULL; s = s->next)
			if (s->w == w && s->gsid == gsid) {
				sess_free(s);
				w->nsess--;
				if (w->nsess == 0)
					w->idle_since = time(NULL);
				break;
			}
		ipc_msg_free(&m);
		if (m.fd >= 0)
			close(m.fd);
		session_gone();
		return;
	}
	if (m.fd >= 0)
		close(m.fd);
	ipc_msg_free(&m);
	if (r != 0)
		log_warn("post-login: worker %d: bad frame", (int)w->pid);
	worker_free(w);
	reap();
	session_gone();
}

/* Hand an authenticated session's descriptor to the user's worker. */
static void
handoff(struct lconn *lc, int64_t sid, struct ipc_msg *m)
{
	int64_t secured;
	const char *id, *tag, *input;
	struct msess *s;
	struct worker *w;
	struct ipc_msg f;

	if (ipc_get_int(m, &secured) < 0 ||
	    ipc_get_str(m, &id) < 0 || ipc_get_str(m, &tag) < 0 ||
	    ipc_get_str(m, &input) < 0 || m->fd < 0 ||
	    strlen(input) > 2 * LOGIN_INPUT_MAX) {
		log_warn("post-login: malformed handoff");
		return;
	}
	s = find_sess(lc, sid);
	if (s == NULL || s->user == NULL || s->w != NULL) {
		log_warn("post-login: handoff of a session not authenticated here");
		return;
	}
	w = worker_get(s->uid, s->gid);
	if (w == NULL) {
		sess_free(s);
		return;
	}
	s->gsid = ++gsid_counter;
	ipc_msg_init(&f, LOGIN_SESSION);
	ipc_put_int(&f, s->gsid);
	ipc_put_str(&f, s->user);
	ipc_put_str(&f, s->mailbox);
	ipc_put_str(&f, s->ip);
	ipc_put_int(&f, secured != 0);
	ipc_put_str(&f, id);
	ipc_put_str(&f, tag);
	ipc_put_str(&f, input);
	f.fd = m->fd;
	if (ipc_send(w->fd, &f) < 0) {
		log_warn("post-login: worker %d: %s", (int)w->pid, strerror(errno));
		ipc_msg_free(&f);
		sess_free(s);
		return;
	}
	ipc_msg_free(&f);
	s->lc = NULL;
	s->w = w;
	w->nsess++;
}

static void lconn_free(struct lconn *lc);

static void
lconn_read(evutil_socket_t fd, short what, void *arg)
{
	struct lconn *lc = arg;
	struct ipc_msg m, r;
	int64_t sid;
	const char *ip, *mech, *user, *pass;
	struct msess *s;
	int rc;

	(void)what;
	ipc_msg_init(&m, 0);
	rc = ipc_recv(fd, &m);
	if (rc <= 0 || ipc_get_int(&m, &sid) < 0) {
		if (rc != 0)
			log_warn("post-login: login process: bad frame");
		goto drop;
	}
	switch (m.type) {
	case LOGIN_CONNECT:
		if (ipc_get_str(&m, &ip) < 0 || strlen(ip) >= sizeof(s->ip) ||
		    find_sess(lc, sid) != NULL)
			goto drop;
		ipc_msg_init(&r, LOGIN_CONNECTED);
		ipc_put_int(&r, sid);
		if (mset->ip_limit > 0 &&
		    count_ip(ip) >= (unsigned long long)mset->ip_limit) {
			log_warn("post-login: too many connections from %s", ip);
			ipc_put_int(&r, 0);
		} else {
			s = xcalloc(1, sizeof(*s));
			s->lc = lc;
			s->sid = sid;
			snprintf(s->ip, sizeof(s->ip), "%s", ip);
			s->next = sessions;
			if (sessions != NULL)
				sessions->prev = s;
			sessions = s;
			ipc_put_int(&r, 1);
		}
		reply(lc, &r);
		break;
	case LOGIN_AUTH:
		if (ipc_get_str(&m, &mech) < 0 || ipc_get_str(&m, &user) < 0 ||
		    ipc_get_str(&m, &pass) < 0)
			goto drop;
		s = find_sess(lc, sid);
		if (s == NULL || s->user != NULL || s->req != NULL) {
			reply_authed(lc, sid, AUTH_TEMPFAIL, user, "no such session");
			break;
		}
		if (mset->use_auth_service) {
			s->req = auth_request_start(auth_path, auth_service_name,
			    s->ip, mech, user, pass, auth_done, s);
		} else {
			int v = userdb_verify(udb, user, pass);
			auth_done(v < 0 ? AUTH_TEMPFAIL : v == 0 ? AUTH_FAIL :
			    AUTH_OK, user, NULL, s);
		}
		break;
	case LOGIN_HANDOFF:
		handoff(lc, sid, &m);
		break;
	case LOGIN_CLOSE:
		s = find_sess(lc, sid);
		if (s != NULL && s->w == NULL)
			sess_free(s);
		break;
	default:
		goto drop;
	}
	if (m.fd >= 0)
		close(m.fd);
	ipc_msg_free(&m);
	return;
drop:
	if (m.fd >= 0)
		close(m.fd);
	ipc_msg_free(&m);
	lconn_free(lc);
}

static void
lconn_free(struct lconn *lc)
{
	unsigned live = 0;

	for (struct msess *s = sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->lc == lc)
			sess_free(s);
	}
	event_free(lc->ev);
	close(lc->fd);
	if (lc->prev != NULL)
		lc->prev->next = lc->next;
	else
		lconns = lc->next;
	if (lc->next != NULL)
		lc->next->prev = lc->prev;
	free(lc);
	/* while draining, stay up as long as workers serve sessions */
	for (struct worker *w = workers; w != NULL; w = w->next)
		live += w->nsess;
	if (service_draining() && live > 0 && lconns == NULL)
		pending_ends++;
	else
		service_session_end();
}

static void
lconn_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct lconn *lc = xcalloc(1, sizeof(*lc));

	(void)sa;
	(void)salen;
	(void)arg;
	peer_timeouts(fd);
	lc->fd = fd;
	lc->ev = event_new(io_base(), fd, EV_READ | EV_PERSIST, lconn_read, lc);
	event_add(lc->ev, NULL);
	lc->next = lconns;
	if (lconns != NULL)
		lconns->prev = lc;
	lconns = lc;
}

/* Stop workers that served nobody for a while; reap exited ones. */
static void
master_wakeup(void *arg)
{
	time_t now = time(NULL);

	(void)arg;
	for (struct worker *w = workers, *next; w != NULL; w = next) {
		next = w->next;
		if (w->nsess == 0 && now - w->idle_since >= WORKER_IDLE) {
			log_info("post-login: stopping idle worker %d", (int)w->pid);
			worker_free(w);
		}
	}
	reap();
}

int
login_master_run(const char *service, const struct login_settings *set,
    int argc, char **argv)
{
	char *err = NULL;
	char hint[160];

	/* an instance made before the login split ran imapd/pop3d on the
	 * network port itself: say so rather than drop every client */
	snprintf(hint, sizeof(hint), "run %s-login on the network port and "
	    "this service as \"%sd unix - n n - 1 %sd\"", service, service,
	    service);
	service_require_unix(hint);
	auth_service_name = service;
	mset = set;
	/* argv[0] is the role; keep its options for the workers */
	worker_argv = xcalloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-u") == 0)
			continue;
		worker_argv[worker_argc++] = argv[i];
	}
	udb = userdb_open_config(&err);
	if (udb == NULL)
		fatal("user table: %s", err);
	auth_path = auth_socket_path(config_str("queue_directory"),
	    config_str("smtpd_sasl_path"));
	service_wakeup(master_wakeup, NULL, 20);
	service_listen(lconn_accept, NULL, 100000);
	return service_run();
}

/* ---- worker side ---- */

static login_session_fn worker_fn;
static int worker_fd = -1;
static struct event *worker_ev;
static unsigned worker_sessions;
static int worker_orphan;

static void
worker_recv(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	struct login_session s;
	struct buf in;
	int64_t secured;
	const char *hex;
	int r;

	(void)what;
	(void)arg;
	ipc_msg_init(&m, 0);
	r = ipc_recv(fd, &m);
	if (r <= 0) {
		ipc_msg_free(&m);
		/* the master stopped us (idle) or is gone */
		event_del(worker_ev);
		worker_orphan = 1;
		if (worker_sessions == 0)
			exit(0);
		return;
	}
	memset(&s, 0, sizeof(s));
	buf_init(&in, LOGIN_INPUT_MAX);
	if (m.type != LOGIN_SESSION || m.fd < 0 ||
	    ipc_get_int(&m, &s.gsid) < 0 || ipc_get_str(&m, &s.user) < 0 ||
	    ipc_get_str(&m, &s.mailbox) < 0 || ipc_get_str(&m, &s.ip) < 0 ||
	    ipc_get_int(&m, &secured) < 0 || ipc_get_str(&m, &s.id) < 0 ||
	    ipc_get_str(&m, &s.tag) < 0 || ipc_get_str(&m, &hex) < 0 ||
	    buf_append_unhex(&in, hex, strlen(hex)) < 0)
		fatal("worker: malformed frame from the post-login master");
	s.secured = secured != 0;
	s.input = in.data != NULL ? in.data : "";
	s.input_len = in.len;
	worker_sessions++;
	evutil_make_socket_nonblocking(m.fd);
	worker_fn(m.fd, &s);
	buf_free(&in);
	ipc_msg_free(&m);
}

int
login_worker_mode(int argc, char **argv, int argi)
{
	return argi < argc && strcmp(argv[argi], "worker") == 0 &&
	    getenv("TEMPEST_LOGIN_WORKER_FD") != NULL;
}

void
login_worker_init(login_session_fn fn)
{
	const char *e = getenv("TEMPEST_LOGIN_WORKER_FD");

	worker_fn = fn;
	worker_fd = e != NULL ? atoi(e) : -1;
	if (worker_fd < 3)
		fatal("worker: no connection to the post-login master");
	fcntl(worker_fd, F_SETFD, FD_CLOEXEC);
	unsetenv("TEMPEST_LOGIN_WORKER_FD");
	/* another process of this uid must not ptrace or read our memory */
	prctl(PR_SET_DUMPABLE, 0);
	worker_ev = event_new(io_base(), worker_fd, EV_READ | EV_PERSIST,
	    worker_recv, NULL);
	event_add(worker_ev, NULL);
}

void
login_worker_end(int64_t gsid)
{
	struct ipc_msg m;

	if (worker_sessions > 0)
		worker_sessions--;
	if (worker_orphan) {
		if (worker_sessions == 0)
			exit(0);
		return;
	}
	ipc_msg_init(&m, LOGIN_END);
	ipc_put_int(&m, gsid);
	if (ipc_send(worker_fd, &m) < 0)
		log_warn("worker: tell the master: %s", strerror(errno));
	ipc_msg_free(&m);
}
