/*
 * filter_client.c - smtpd's side of the content filter protocol
 * (filter_proto.h): the request on a fresh connection (filter_send), the
 * reply's parser (filter_parse_reply), and a blocking call for commands
 * (filter_call).  The reply comes from the filter process and is
 * read through lib/ipc's bounds-checked field readers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "filter_proto.h"
#include "ipc.h"
#include "mem.h"

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
filter_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
filter_send(const char *socket_path, const struct filter_request *req,
    int timeout_ms, int *fd_r, const char **error_r)
{
	struct sockaddr_un sun;
	struct ipc_msg m;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		*error_r = "filter socket path too long";
		return -1;
	}
	strcpy(sun.sun_path, socket_path);
	if (ipc_str_size(req->queue_id) + ipc_str_size(req->sender) +
	    ipc_str_size(req->recipients) + ipc_str_size(req->client) +
	    ipc_str_size(req->envelope ? req->envelope : "") +
	    3 * IPC_INT_SIZE > IPC_MAX) {
		/* (smtpd keeps the recipients within FILTER_RCPTS_MAX) */
		*error_r = "filter request too large";
		return -1;
	}
	/* a UNIX connect() waits while the listen queue is full: not in
	 * smtpd's event loop (every session of the process would wait) */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r = fd >= 0 && errno == EAGAIN ? "filter service busy" :
		    "filter service not reachable";
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	{
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	ipc_msg_init(&m, FILTER_REQ);
	ipc_put_str(&m, req->queue_id);
	ipc_put_str(&m, req->sender);
	ipc_put_str(&m, req->recipients);
	ipc_put_str(&m, req->client);
	ipc_put_int(&m, req->offset);
	ipc_put_int(&m, req->length);
	ipc_put_int(&m, timeout_ms > 0 ? filter_clock_ms() + timeout_ms : 0);
	ipc_put_str(&m, req->envelope ? req->envelope : "");
	m.fd = req->fd;
	if (ipc_send(fd, &m) < 0) {
		ipc_msg_free(&m);
		close(fd);
		*error_r = "filter request failed";
		return -1;
	}
	ipc_msg_free(&m);
	*fd_r = fd;
	return 0;
}

int
filter_parse_reply(struct ipc_msg *m, struct filter_reply *rep,
    const char **error_r)
{
	int64_t action, ng;
	const char *h, *t, *rp, *sc, *q;

	memset(rep, 0, sizeof(*rep));
	if (m->type != FILTER_REPLY ||
	    ipc_get_int(m, &action) < 0 || ipc_get_str(m, &h) < 0 ||
	    ipc_get_str(m, &t) < 0 || ipc_get_str(m, &rp) < 0 ||
	    ipc_get_str(m, &sc) < 0 || ipc_get_str(m, &q) < 0 ||
	    ipc_get_int(m, &ng) < 0 ||
	    action < FILTER_ACCEPT || action > FILTER_SPLIT ||
	    (action == FILTER_SPLIT) != (ng > 0) || ng < 0 || ng > FILTER_MAX_GROUPS) {
		*error_r = "filter gave no valid reply";
		return -1;
	}
	rep->action = (int)action;
	rep->headers = xstrdup(h);
	rep->subject_tag = xstrdup(t);
	rep->reply = xstrdup(rp);
	rep->score = xstrdup(sc);
	rep->quarantine_id = xstrdup(q);
	if (ng > 0)
		rep->groups = xcalloc((size_t)ng, sizeof(*rep->groups));
	for (; rep->ngroups < (size_t)ng; rep->ngroups++) {
		struct filter_group *g = &rep->groups[rep->ngroups];
		const char *r;
		if (ipc_get_int(m, &action) < 0 || ipc_get_str(m, &h) < 0 ||
		    ipc_get_str(m, &t) < 0 || ipc_get_str(m, &q) < 0 ||
		    ipc_get_str(m, &r) < 0 ||
		    (action != FILTER_TAG && action != FILTER_QUARANTINE)) {
			filter_reply_free(rep);
			*error_r = "filter gave no valid reply";
			return -1;
		}
		g->action = (int)action;
		g->headers = xstrdup(h);
		g->subject_tag = xstrdup(t);
		g->quarantine_id = xstrdup(q);
		g->recipients = xstrdup(r);
	}
	return 0;
}

int
filter_call(const char *socket_path, const struct filter_request *req,
    int timeout_ms, struct filter_reply *rep, const char **error_r)
{
	struct ipc_msg m;
	int fd, r = -1;
	long long deadline = now_ms() + timeout_ms;

	memset(rep, 0, sizeof(*rep));
	if (filter_send(socket_path, req, timeout_ms, &fd, error_r) < 0)
		return -1;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long long left = deadline - now_ms();
		int pr;
		if (left <= 0) {
			*error_r = "filter timed out";
			close(fd);
			return -1;
		}
		pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			*error_r = pr == 0 ? "filter timed out" : "filter poll failed";
			close(fd);
			return -1;
		}
		break;
	}
	{
		struct timeval tv = { 5, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	ipc_msg_init(&m, 0);
	if (ipc_recv(fd, &m) != 1) {
		*error_r = "filter gave no valid reply";
	} else
		r = filter_parse_reply(&m, rep, error_r);
	if (m.fd >= 0)
		close(m.fd);
	ipc_msg_free(&m);
	close(fd);
	return r;
}

void
filter_reply_free(struct filter_reply *rep)
{
	FREE(rep->headers);
	FREE(rep->subject_tag);
	FREE(rep->reply);
	FREE(rep->score);
	FREE(rep->quarantine_id);
	for (size_t i = 0; i < rep->ngroups; i++) {
		FREE(rep->groups[i].headers);
		FREE(rep->groups[i].subject_tag);
		FREE(rep->groups[i].quarantine_id);
		FREE(rep->groups[i].recipients);
	}
	FREE(rep->groups);
	rep->ngroups = 0;
}

int
filter_split_check(const char *const *rcpts, size_t n,
    const struct filter_reply *rep, size_t *group_r, const char **error_r)
{
	size_t i;

	if (rep->action != FILTER_SPLIT || rep->ngroups == 0 || rep->ngroups > n) {
		*error_r = "not a split of these recipients";
		return -1;
	}
	for (i = 0; i < n; i++)
		group_r[i] = SIZE_MAX;
	for (size_t g = 0; g < rep->ngroups; g++) {
		const char *list = rep->groups[g].recipients;
		size_t named = 0;

		while (*list != '\0') {
			size_t len = strcspn(list, "\n");
			for (i = 0; i < n; i++)
				if (group_r[i] == SIZE_MAX &&
				    strncmp(rcpts[i], list, len) == 0 && rcpts[i][len] == '\0')
					break;
			if (i == n) {
				*error_r = "a group names an address that is not a "
				    "recipient, or one twice";
				return -1;
			}
			group_r[i] = g;
			named++;
			list += len;
			if (*list == '\n')
				list++;
		}
		if (named == 0) {
			*error_r = "a group names no recipient";
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		if (group_r[i] == SIZE_MAX) {
			*error_r = "a recipient is in no group";
			return -1;
		}
	return 0;
}
