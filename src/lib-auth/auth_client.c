/*
 * auth_client.c - client side of the auth service protocol (see
 * auth_client.h).  Replies come from the auth service (a Tempest
 * process), still parsed with the bounds checks of lib/ipc.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_client.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"

#define AUTH_CLIENT_TIMEOUT 30

struct auth_request {
	struct io *io;
	struct event *fail_ev;
	auth_callback cb;               /* one round trip, or */
	auth_step_callback step_cb;     /* several */
	void *arg;
};

char *
auth_socket_path(const char *queue_dir, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", queue_dir, path);
}

static void
build_request(struct ipc_msg *m, const char *service, const char *client,
    const char *mech, const char *user, const char *password)
{
	ipc_msg_init(m, AUTH_VERIFY);
	ipc_put_str(m, service);
	ipc_put_str(m, client);
	ipc_put_str(m, mech);
	ipc_put_str(m, user);
	ipc_put_str(m, password);
}

static void
msg_cleanse_free(struct ipc_msg *m)
{
	if (m->body.data != NULL)
		explicit_bzero(m->body.data, m->body.cap);
	ipc_msg_free(m);
}

static int
parse_result(struct ipc_msg *m, int *st_r, const char **user_r,
    const char **reason_r, const char **data_r)
{
	int64_t st;

	*data_r = "";
	if (m->type == AUTH_CONTINUE) {
		*st_r = AUTH_STATUS_MORE;
		*user_r = *reason_r = "";
		return ipc_get_str(m, data_r);
	}
	if (m->type != AUTH_RESULT || ipc_get_int(m, &st) < 0 ||
	    ipc_get_str(m, user_r) < 0 || ipc_get_str(m, reason_r) < 0 ||
	    st < AUTH_OK || st > AUTH_LOCKED)
		return -1;
	if (m->rpos < m->body.len && ipc_get_str(m, data_r) < 0)
		return -1;
	*st_r = (int)st;
	return 0;
}

static int
connect_socket(const char *path, int nonblock)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
finish(struct auth_request *r, int st, const char *user,
    const char *reason, const char *data)
{
	auth_callback cb = r->cb;
	auth_step_callback step_cb = r->step_cb;
	void *arg = r->arg;

	if (st == AUTH_STATUS_MORE && step_cb != NULL) {
		step_cb(st, user, reason, data, arg);
		return;
	}
	if (st == AUTH_STATUS_MORE) {
		st = AUTH_TEMPFAIL;     /* unexpected for one round trip */
		reason = "unexpected auth service reply";
	}
	auth_request_cancel(&r);
	if (step_cb != NULL)
		step_cb(st, user, reason, data, arg);
	else
		cb((enum auth_status)st, user, reason, arg);
}

static void
on_fail_ev(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, AUTH_TEMPFAIL, "", "auth service not reachable", "");
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct auth_request *r = arg;
	struct ipc_msg m;
	int st;
	const char *user, *reason, *data;
	int k;

	switch (evt) {
	case IO_IN:
		ipc_msg_init(&m, 0);
		k = ipc_io_take(io, &m);
		if (k == 0) {
			ipc_msg_free(&m);
			return;
		}
		if (k < 0 || parse_result(&m, &st, &user, &reason, &data) < 0)
			finish(r, AUTH_TEMPFAIL, "", "malformed auth service "
			    "reply", "");
		else
			finish(r, st, user, reason, data);
		ipc_msg_free(&m);
		break;
	case IO_LOWAT:
	case IO_TLSREADY:
		break;
	case IO_TIMEOUT:
		finish(r, AUTH_TEMPFAIL, "", "auth service timeout", "");
		break;
	case IO_EOF:
	case IO_ERROR:
		finish(r, AUTH_TEMPFAIL, "", "auth service connection lost",
		    "");
		break;
	}
}

static struct auth_request *
request_open(const char *socket_path, struct ipc_msg *m, auth_callback cb,
    auth_step_callback step_cb, void *arg)
{
	struct auth_request *r = xcalloc(1, sizeof(*r));
	int fd;

	r->cb = cb;
	r->step_cb = step_cb;
	r->arg = arg;
	fd = connect_socket(socket_path, 1);
	if (fd < 0) {
		struct timeval tv = { 0, 0 };
		log_warn("connect to auth service %s: %s", socket_path,
		    strerror(errno));
		r->fail_ev = evtimer_new(io_base(), on_fail_ev, r);
		evtimer_add(r->fail_ev, &tv);
		return r;
	}
	r->io = io_new(fd, on_io, r);
	io_set_timeout(r->io, AUTH_CLIENT_TIMEOUT);
	ipc_io_send(r->io, m);
	return r;
}

struct auth_request *
auth_request_start(const char *socket_path, const char *service,
    const char *client, const char *mech, const char *user,
    const char *password, auth_callback cb, void *arg)
{
	struct auth_request *r;
	struct ipc_msg m;

	build_request(&m, service, client, mech, user, password);
	r = request_open(socket_path, &m, cb, NULL, arg);
	msg_cleanse_free(&m);
	return r;
}

struct auth_request *
auth_scram_start(const char *socket_path, const char *service,
    const char *client, const char *client_first, auth_step_callback cb,
    void *arg)
{
	struct auth_request *r;
	struct ipc_msg m;

	ipc_msg_init(&m, AUTH_SCRAM_FIRST);
	ipc_put_str(&m, service);
	ipc_put_str(&m, client);
	ipc_put_str(&m, client_first);
	r = request_open(socket_path, &m, NULL, cb, arg);
	msg_cleanse_free(&m);
	return r;
}

void
auth_scram_final(struct auth_request *r, const char *client_final)
{
	struct ipc_msg m;

	if (r->io == NULL)
		return;         /* the failure event reports */
	ipc_msg_init(&m, AUTH_SCRAM_FINAL);
	ipc_put_str(&m, client_final);
	ipc_io_send(r->io, &m);
	msg_cleanse_free(&m);
}

void
auth_request_cancel(struct auth_request **rp)
{
	struct auth_request *r = *rp;

	if (r == NULL)
		return;
	io_free(&r->io);
	if (r->fail_ev != NULL)
		event_free(r->fail_ev);
	FREE(*rp);
}

enum auth_status
auth_verify_blocking(const char *socket_path, const char *service,
    const char *client, const char *mech, const char *user,
    const char *password, char **user_r, char **reason_r)
{
	struct ipc_msg m;
	int st = AUTH_TEMPFAIL;
	const char *u = "", *reason = "auth service not reachable", *data;
	int fd = connect_socket(socket_path, 0);

	ipc_msg_init(&m, 0);
	if (fd >= 0) {
		struct ipc_msg req;
		struct timeval tv = { AUTH_CLIENT_TIMEOUT, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		build_request(&req, service, client, mech, user, password);
		if (ipc_send(fd, &req) < 0 || ipc_recv(fd, &m) != 1)
			reason = "auth service connection lost";
		else if (parse_result(&m, &st, &u, &reason, &data) < 0 ||
		    st == AUTH_STATUS_MORE) {
			st = AUTH_TEMPFAIL;
			u = "";
			reason = "malformed auth service reply";
		}
		msg_cleanse_free(&req);
		close(fd);
	}
	if (user_r != NULL)
		*user_r = st == AUTH_OK ? xstrdup(u) : NULL;
	if (reason_r != NULL)
		*reason_r = xstrdup(reason);
	ipc_msg_free(&m);
	return (enum auth_status)st;
}
