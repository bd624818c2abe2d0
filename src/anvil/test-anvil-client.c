/* test-anvil-client.c - smtpd's anvil client against fake services: the
 * numbers of a reply, the frame of each rate event, tokens across a
 * reconnect, and failing open (no socket, no reply within the short
 * bound, a malformed reply) with the back-off. */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "anvil_proto.h"
#include "ipc.h"
#include "test.h"

static char sock_path[108];

static int
listen_at(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 8) < 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

/* mode 0: answer count = n-th connect, rate = 7, a rate event of type T
 * with count 0 and rate 100 * T + its key's length, log disconnects to
 * the pipe; 1: never answer; 2: answer with a frame of the wrong type;
 * 3: answer the first question of each connection as 0, then never */
static pid_t
fake_anvil(int mode, int report_fd)
{
	int lfd = listen_at(sock_path);
	pid_t pid = fork();

	if (pid != 0) {
		close(lfd);
		return pid;
	}
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		struct ipc_msg m, r;
		const char *key;
		unsigned n = 0, asked = 0;

		ipc_msg_init(&m, 0);
		while (c >= 0 && ipc_recv(c, &m) == 1) {
			if (mode == 1 || (mode == 3 && asked++ > 0))
				continue;
			ipc_msg_init(&r, mode == 2 ? ANVIL_CONNECT : ANVIL_REPLY);
			if (m.type == ANVIL_CONNECT) {
				ipc_put_int(&r, ANVIL_OK);
				ipc_put_int(&r, ++n);
				ipc_put_int(&r, 7);
				ipc_send(c, &r);
			} else if (m.type != ANVIL_DISCONNECT &&
			    ipc_get_str(&m, &key) == 0) {
				ipc_put_int(&r, ANVIL_OK);
				ipc_put_int(&r, 0);
				ipc_put_int(&r, 100 * m.type + (int)strlen(key));
				ipc_send(c, &r);
			} else if (ipc_get_str(&m, &key) == 0)
				(void)!write(report_fd, key, strlen(key) + 1);
			ipc_msg_free(&r);
		}
		ipc_msg_free(&m);
		if (c >= 0)
			close(c);
	}
}

static void
stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void
test_reply_and_tokens(void)
{
	int p[2];
	unsigned count = 0, rate = 0;
	unsigned long t1 = 0, t2 = 0;
	char got[128];
	pid_t pid;

	T_INTEQ(pipe(p), 0);
	pid = fake_anvil(0, p[1]);
	anvil_client_init(sock_path);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t1), 0);
	T_INTEQ(count, 1); T_INTEQ(rate, 7);
	T_OK(t1 != 0);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t2), 0);
	T_INTEQ(count, 2);
	T_INTEQ(t2, t1);        /* same connection, same token */
	anvil_client_disconnect("smtp", "192.0.2.1", t1);
	T_OK(read(p[0], got, sizeof(got)) > 0);
	T_STREQ(got, "smtp:192.0.2.1");
	/* token 0: never counted, nothing sent */
	anvil_client_disconnect("smtp", "192.0.2.1", 0);
	stop(pid);
	close(p[0]);
	close(p[1]);
}

static void
test_events(void)
{
	int p[2];
	unsigned rate = 0;
	pid_t pid;

	T_INTEQ(pipe(p), 0);
	pid = fake_anvil(0, p[1]);
	anvil_client_init(sock_path);
	/* "smtp:192.0.2.1" is 14 bytes */
	T_INTEQ(anvil_client_event(ANVIL_MAIL, "smtp", "192.0.2.1", &rate), 0);
	T_INTEQ(rate, 100 * ANVIL_MAIL + 14);
	T_INTEQ(anvil_client_event(ANVIL_RCPT, "smtp", "192.0.2.1", &rate), 0);
	T_INTEQ(rate, 100 * ANVIL_RCPT + 14);
	T_INTEQ(anvil_client_event(ANVIL_NEWTLS, "smtp", "192.0.2.1", &rate), 0);
	T_INTEQ(rate, 100 * ANVIL_NEWTLS + 14);
	T_INTEQ(anvil_client_event(ANVIL_NEWTLS_STATUS, "smtp", "192.0.2.1",
	    &rate), 0);
	T_INTEQ(rate, 100 * ANVIL_NEWTLS_STATUS + 14);
	T_INTEQ(anvil_client_event(ANVIL_AUTH, "smtps", "192.0.2.1", &rate), 0);
	T_INTEQ(rate, 100 * ANVIL_AUTH + 15);
	/* not an event: refused without asking (and without a back-off) */
	T_INTEQ(anvil_client_event(ANVIL_CONNECT, "smtp", "192.0.2.1", &rate),
	    -1);
	T_INTEQ(anvil_client_event(ANVIL_REPLY, "smtp", "192.0.2.1", &rate),
	    -1);
	T_INTEQ(anvil_client_event(ANVIL_MAIL, "smtp", "192.0.2.1", &rate), 0);
	stop(pid);
	close(p[0]);
	close(p[1]);
}

static long
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

static void
test_fail_open(void)
{
	unsigned count = 0, rate = 0;
	unsigned long t = 1;
	struct timespec a, b;
	pid_t pid;
	int p[2];

	/* a lost connection (the service of the last test is gone) */
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	T_INTEQ(t, 0);
	/* no socket at all */
	unlink(sock_path);
	anvil_client_init(sock_path);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	T_INTEQ(t, 0);
	/* within the back-off, not even tried (a service there now is not
	 * asked) */
	T_INTEQ(pipe(p), 0);
	pid = fake_anvil(0, p[1]);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	stop(pid);
	/* a service that accepts but never answers: -1 after the timeout;
	 * the first question of the process (init) waits longer: anvil may
	 * still be starting */
	pid = fake_anvil(1, p[1]);
	anvil_client_init(sock_path);
	clock_gettime(CLOCK_MONOTONIC, &a);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	T_OK(ms_between(&a, &b) >= ANVIL_CLIENT_START_TIMEOUT_MS - 20);
	T_OK(ms_between(&a, &b) < ANVIL_CLIENT_START_TIMEOUT_MS + 2000);
	/* and then backs off: the next question returns at once */
	clock_gettime(CLOCK_MONOTONIC, &a);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	T_INTEQ(anvil_client_event(ANVIL_MAIL, "smtp", "192.0.2.1", &rate), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	T_OK(ms_between(&a, &b) < ANVIL_CLIENT_TIMEOUT_MS);
	stop(pid);
	/* once anvil answered, the bound is short: well under a second
	 * (slack for a slow, loaded build) */
	pid = fake_anvil(3, p[1]);
	anvil_client_init(sock_path);
	T_INTEQ(anvil_client_event(ANVIL_MAIL, "smtp", "192.0.2.1", &rate), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	T_OK(ms_between(&a, &b) >= ANVIL_CLIENT_TIMEOUT_MS - 20);
	T_OK(ms_between(&a, &b) < ANVIL_CLIENT_TIMEOUT_MS + 2000);
	T_OK(ANVIL_CLIENT_TIMEOUT_MS <= 500);
	stop(pid);
	/* an event that gets no answer in time fails open the same way */
	pid = fake_anvil(3, p[1]);
	anvil_client_init(sock_path);
	T_INTEQ(anvil_client_event(ANVIL_MAIL, "smtp", "192.0.2.1", &rate), 0);
	T_INTEQ(anvil_client_event(ANVIL_RCPT, "smtp", "192.0.2.1", &rate), -1);
	stop(pid);
	/* a malformed reply */
	pid = fake_anvil(2, p[1]);
	anvil_client_init(sock_path);
	T_INTEQ(anvil_client_connect("smtp", "192.0.2.1", &count, &rate, &t), -1);
	stop(pid);
	close(p[0]);
	close(p[1]);
	unlink(sock_path);
}

static void
test_key_bound(void)
{
	char addr[ANVIL_KEY_MAX + 2];
	unsigned count = 0, rate = 0;
	unsigned long t = 1;

	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	T_INTEQ(anvil_client_connect("smtp", addr, &count, &rate, &t), -1);
	T_INTEQ(t, 0);
}

int
main(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/test-anvil-%d",
	    (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	alarm(120);
	T_RUN(test_reply_and_tokens);
	T_RUN(test_events);
	T_RUN(test_key_bound);
	T_RUN(test_fail_open);
	return t_done();
}
