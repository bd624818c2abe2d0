/*
 * anvil_client.c - smtpd's blocking client of the anvil service (with a
 * short bound on the wait).  Reads only anvil's replies (three
 * integers); all of it fails open.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "anvil_proto.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"

static char *sock_path;
static int sock_fd = -1;
static unsigned long sock_gen;  /* counts connections to anvil: the token */
static time_t retry_after;      /* monotonic seconds */
static int warm;                /* anvil answered (or failed) once */

static time_t
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

void
anvil_client_init(const char *path)
{
	free(sock_path);
	sock_path = xstrdup(path);
	if (sock_fd >= 0)
		close(sock_fd);
	sock_fd = -1;
	retry_after = 0;
	warm = 0;
}

static void
give_up(const char *what)
{
	log_warn("anvil service %s: %s: client connection limits are not "
	    "enforced for %d s", sock_path, what, ANVIL_CLIENT_BACKOFF);
	if (sock_fd >= 0)
		close(sock_fd);
	sock_fd = -1;
	retry_after = now_mono() + ANVIL_CLIENT_BACKOFF;
	warm = 1;
}

static int
set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ?
	    -1 : 0;
}

static int
open_socket(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, sock_path);
	/* non-blocking connect: a full listen queue is a failure, not a wait */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    set_timeout(fd, warm ? ANVIL_CLIENT_TIMEOUT_MS :
	    ANVIL_CLIENT_START_TIMEOUT_MS) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	sock_fd = fd;
	sock_gen++;
	return 0;
}

static char *
make_key(const char *service, const char *addr)
{
	char *key = xasprintf("%s:%s", service, addr);

	if (strlen(key) > ANVIL_KEY_MAX) {
		free(key);
		return NULL;
	}
	return key;
}

/* One question (type, key) and its answer: 0 with the numbers, -1 when
 * anvil could not tell (and the back-off started if it failed). */
static int
request(int type, const char *service, const char *addr, unsigned *count_r,
    unsigned *rate_r)
{
	struct ipc_msg m;
	int64_t st, count, rate;
	char *key;
	int r;

	if (sock_path == NULL || (sock_fd < 0 && now_mono() < retry_after))
		return -1;
	key = make_key(service, addr);
	if (key == NULL)
		return -1;
	if (sock_fd < 0 && open_socket() < 0) {
		free(key);
		give_up(strerror(errno));
		return -1;
	}
	ipc_msg_init(&m, type);
	ipc_put_str(&m, key);
	free(key);
	if (ipc_send(sock_fd, &m) < 0) {
		ipc_msg_free(&m);
		give_up(errno == EAGAIN ? "timeout" : strerror(errno));
		return -1;
	}
	r = ipc_recv(sock_fd, &m);
	if (r != 1 || m.type != ANVIL_REPLY || ipc_get_int(&m, &st) < 0 ||
	    ipc_get_int(&m, &count) < 0 || ipc_get_int(&m, &rate) < 0 ||
	    count < 0 || rate < 0 || count > (int64_t)0xffffffff ||
	    rate > (int64_t)0xffffffff) {
		int e = errno;
		ipc_msg_free(&m);
		/* a late answer must not be taken for the next question's:
		 * give_up() closes the connection */
		give_up(r < 0 && (e == EAGAIN || e == EWOULDBLOCK) ?
		    "no reply in time" : r == 0 ? "connection closed" :
		    "malformed reply");
		return -1;
	}
	ipc_msg_free(&m);
	if (!warm) {
		/* anvil runs: from now on the short bound */
		warm = 1;
		if (set_timeout(sock_fd, ANVIL_CLIENT_TIMEOUT_MS) < 0) {
			give_up(strerror(errno));
			return -1;
		}
	}
	if (st != ANVIL_OK) {
		log_warn("anvil service: table full: not counting %s", addr);
		return -1;
	}
	*count_r = (unsigned)count;
	*rate_r = (unsigned)rate;
	return 0;
}

int
anvil_client_connect(const char *service, const char *addr,
    unsigned *count_r, unsigned *rate_r, unsigned long *token_r)
{
	*token_r = 0;
	if (request(ANVIL_CONNECT, service, addr, count_r, rate_r) < 0)
		return -1;
	*token_r = sock_gen;
	return 0;
}

int
anvil_client_event(int type, const char *service, const char *addr,
    unsigned *rate_r)
{
	unsigned count;

	if (type != ANVIL_MAIL && type != ANVIL_RCPT && type != ANVIL_NEWTLS &&
	    type != ANVIL_NEWTLS_STATUS && type != ANVIL_AUTH)
		return -1;
	return request(type, service, addr, &count, rate_r);
}

void
anvil_client_disconnect(const char *service, const char *addr,
    unsigned long token)
{
	struct ipc_msg m;
	char *key;

	if (token == 0 || token != sock_gen || sock_fd < 0)
		return;
	key = make_key(service, addr);
	if (key == NULL)
		return;
	ipc_msg_init(&m, ANVIL_DISCONNECT);
	ipc_put_str(&m, key);
	free(key);
	if (ipc_send(sock_fd, &m) < 0)
		give_up(errno == EAGAIN ? "timeout" : strerror(errno));
	ipc_msg_free(&m);
}
