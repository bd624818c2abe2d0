/*
 * service.c - daemon skeleton (see service.h).  Reads only what master
 * passes (argv, environment, inherited descriptors) and configuration.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ioev.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "ossl.h"
#include "service.h"

#define LISTEN_FD_BASE 3
#define MAX_LISTENERS 16

static char *svc_name;
static int svc_unpriv = 1, svc_chroot, svc_wakeup_secs;
static int nlisten;
static struct event *listen_ev[MAX_LISTENERS];
static int listen_fd[MAX_LISTENERS];
static int status_fd = -1;
static int sessions, session_limit = 1, accepting, draining;
static service_accept_fn accept_fn;
static void *accept_arg;
static service_trigger_fn trigger_fn;
static void *trigger_arg;
static void (*drain_fn)(void *);
static void *drain_arg;
static void (*stop_fn)(void *);
static void *stop_arg;
static char *queue_dir;
static int chrooted;

static pid_t master_pid;        /* the parent at the start */

static void start_drain(void);
static void report(char c);

void
service_watch_master(void)
{
	/* SIGTERM when the master ends; the kernel clears this at every
	 * change of the process's user or group (prctl(2)), so it is set
	 * again after each, and a master that ended meanwhile is noticed
	 * by the parent having changed */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (master_pid != 0 && getppid() != master_pid &&
	    getenv("TEMPEST_STATUS_FD") != NULL)
		exit(0);
}

static void
usage(const char *role)
{
	fatal("usage: tempest daemon %s -n service [-o name=value]... "
	    "[-u] [-c] [-w seconds] [args]", role);
}

int
service_init(int argc, char **argv, const char *role)
{
	const char *dir = getenv("TEMPEST_CONFIG_DIR"), *e;
	char **overrides = xcalloc((size_t)argc + 1, sizeof(char *));
	int i, no = 0, argi;
	char *err = NULL;
	const char *logf;

	/* Die with master: a killed master must not leave orphans. */
	master_pid = getppid();
	service_watch_master();
	if (master_pid == 1 && getenv("TEMPEST_STATUS_FD") != NULL)
		exit(0);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			svc_name = xstrdup(argv[++i]);
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			overrides[no++] = argv[++i];
		else if (strcmp(argv[i], "-u") == 0)
			svc_unpriv = 0;         /* privileged service */
		else if (strcmp(argv[i], "-c") == 0)
			svc_chroot = 1;
		else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
			svc_wakeup_secs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-')
			usage(role);
		else
			break;
	}
	argi = i;
	if (svc_name == NULL)
		svc_name = xstrdup(role);
	config_load_or_die(dir != NULL ? dir : CONFIG_DEFAULT_DIR);
	for (no = 0; overrides[no] != NULL; no++) {
		char *kv = xstrdup(overrides[no]), *eq = strchr(kv, '=');
		if (eq == NULL)
			fatal("-o %s: expected name=value", kv);
		*eq = '\0';
		if (config_override(kv, eq + 1, &err) < 0)
			fatal("service %s: %s", svc_name, err);
		free(kv);
	}
	free(overrides);
	logf = config_str("maillog_file");
	if (*logf != '\0' && strcmp(logf, "/dev/stderr") != 0) {
		int fd = open(logf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
	}
	log_init(role, *logf != '\0' ? LOG_DEST_STDERR : LOG_DEST_SYSLOG,
	    log_verbose() || getenv("TEMPEST_VERBOSE") != NULL);
	queue_dir = xstrdup(config_str("queue_directory"));
	if ((e = getenv("TEMPEST_LISTEN_FDS")) != NULL)
		nlisten = atoi(e);
	if (nlisten < 0 || nlisten > MAX_LISTENERS)
		fatal("bad TEMPEST_LISTEN_FDS");
	for (i = 0; i < nlisten; i++) {
		listen_fd[i] = LISTEN_FD_BASE + i;
		fcntl(listen_fd[i], F_SETFD, FD_CLOEXEC);
	}
	if ((e = getenv("TEMPEST_STATUS_FD")) != NULL) {
		status_fd = atoi(e);
		fcntl(status_fd, F_SETFD, FD_CLOEXEC);
	}
	signal(SIGPIPE, SIG_IGN);
	return argi;
}

const char *
service_name(void)
{
	return svc_name;
}

const char *
service_queue_dir(void)
{
	return queue_dir;
}

int
service_chrooted(void)
{
	return chrooted || (svc_chroot && geteuid() == 0);
}

char *
service_queue_path(const char *path)
{
	const char *q = config_str("queue_directory");
	size_t n = strlen(q);

	while (n > 1 && q[n - 1] == '/')
		n--;
	if (chrooted && strncmp(path, q, n) == 0 && path[n] == '/')
		return xstrdup(path + n);
	return xstrdup(path);
}

int
service_check_tables(void)
{
	const char *t;
	int unavailable = 0;

	if (draining)
		return 1;
	if ((t = maps_changed(&unavailable)) == NULL)
		return 0;
	if (unavailable)
		log_warn("table %s is unavailable -- restarting", t);
	else
		log_info("table %s has changed -- restarting", t);
	/* master starts a fresh process (it opens the tables outside the
	 * chroot); tell it now, so clients need not wait for our sessions */
	report('B');
	start_drain();
	return 1;
}

void
service_restart(const char *why)
{
	if (draining)
		return;
	log_warn("%s -- restarting", why);
	report('B');
	start_drain();
}

void
service_drop_privileges(void)
{
	struct passwd *pw;
	const char *owner = config_str("mail_owner");

	if (geteuid() != 0)
		return;
	pw = getpwnam(owner);
	if (pw == NULL)
		fatal("mail_owner %s: no such user", owner);
	if (svc_chroot) {
		/* what the process needs from outside the queue directory:
		 * the time zone, its lookup tables (kept open; a change
		 * restarts the process, see service_check_tables()) and
		 * OpenSSL (ossl.h) */
		tzset();
		maps_prepare_chroot();
		ossl_require();
		if (chroot(queue_dir) < 0 || chdir("/") < 0)
			fatal("chroot %s: %s", queue_dir, strerror(errno));
		free(queue_dir);
		queue_dir = xstrdup("/");
		chrooted = 1;
	}
	if (!svc_unpriv)
		return;
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		fatal("drop privileges to %s: %s", owner, strerror(errno));
	if (setuid(0) == 0)
		fatal("privileges not dropped");
	service_watch_master();
}

static void
report(char c)
{
	if (status_fd >= 0)
		(void)!write(status_fd, &c, 1);
}

static void
listeners_enable(int on)
{
	int i;

	if (on == accepting)
		return;
	accepting = on;
	for (i = 0; i < nlisten; i++)
		if (listen_ev[i] != NULL) {
			if (on)
				event_add(listen_ev[i], NULL);
			else
				event_del(listen_ev[i]);
		}
	report(on ? 'A' : 'B');
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	/* Postfix's pre-accept check: a process whose tables changed
	 * leaves the connection to its fresh successor */
	if (service_check_tables())
		return;
	while (accepting) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		sessions++;
		if (sessions >= session_limit)
			listeners_enable(0);
		accept_fn(fd, (struct sockaddr *)&ss, len, accept_arg);
	}
}

static void
on_trigger(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];
	ssize_t n;

	(void)what;
	(void)arg;
	/* a trigger stays queued for the successor */
	if (service_check_tables())
		return;
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (trigger_fn != NULL)
			trigger_fn(trigger_arg, buf, (size_t)n);
}

void
service_require_unix(const char *hint)
{
	for (int i = 0; i < nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(listen_fd[i], (struct sockaddr *)&ss, &len) == 0 &&
		    ss.ss_family != AF_UNIX)
			fatal("master.cf service %s: a network listener for a "
			    "private service: %s", service_name(), hint);
	}
}

void
service_listen(service_accept_fn fn, void *arg, int limit)
{
	int i;

	accept_fn = fn;
	accept_arg = arg;
	session_limit = limit > 0 ? limit : 1;
	for (i = 0; i < nlisten; i++) {
		evutil_make_socket_nonblocking(listen_fd[i]);
		listen_ev[i] = event_new(io_base(), listen_fd[i],
		    EV_READ | EV_PERSIST, on_accept, NULL);
	}
	listeners_enable(1);
}

void
service_triggers(service_trigger_fn fn, void *arg)
{
	int i;

	trigger_fn = fn;
	trigger_arg = arg;
	for (i = 0; i < nlisten; i++) {
		struct event *ev = event_new(io_base(), listen_fd[i],
		    EV_READ | EV_PERSIST, on_trigger, NULL);
		event_add(ev, NULL);
	}
}

int
service_trigger_send(const char *service, const char *data, size_t len)
{
	static int fd = -1;     /* one unbound datagram socket per process */
	struct sockaddr_un sun;
	int r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* a chrooted service finds public/ under its new root */
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/%s",
	    queue_dir != NULL ? queue_dir : config_str("queue_directory"),
	    service) >= sizeof(sun.sun_path))
		return -1;
	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	r = (int)sendto(fd, data, len, 0, (struct sockaddr *)&sun, sizeof(sun));
	return r < 0 ? -1 : 0;
}

/* Pending wake-ups, one per service name (a process wakes one or two). */
struct wake {
	char *service;
	struct event *ev;
	struct wake *next;
};
static struct wake *wakes;

static void
wake_retry(evutil_socket_t fd, short what, void *arg)
{
	struct wake *w = arg;
	struct timeval tv = { 0, 50000 };

	(void)fd;
	(void)what;
	if (service_trigger_send(w->service, "I", 1) < 0)
		evtimer_add(w->ev, &tv);
}

void
service_trigger_wake(const char *service)
{
	struct wake *w;

	for (w = wakes; w != NULL; w = w->next)
		if (strcmp(w->service, service) == 0)
			break;
	if (w != NULL && evtimer_pending(w->ev, NULL))
		return;
	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		w->service = xstrdup(service);
		w->ev = evtimer_new(io_base(), wake_retry, w);
		w->next = wakes;
		wakes = w;
	}
	wake_retry(-1, 0, w);
}

/* Whether a wake-up for service is waiting to be retried. */
int
service_trigger_wake_pending(const char *service)
{
	struct wake *w;

	for (w = wakes; w != NULL; w = w->next)
		if (strcmp(w->service, service) == 0)
			return evtimer_pending(w->ev, NULL) != 0;
	return 0;
}

struct wakeup {
	service_wakeup_fn fn;
	void *arg;
};

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct wakeup *w = arg;

	(void)fd;
	(void)what;
	/* sessions still running (draining) keep their timers: IMAP IDLE
	 * polls, ...; a process about to exit skips the work */
	if (service_check_tables() && sessions == 0)
		return;
	w->fn(w->arg);
}

void
service_wakeup(service_wakeup_fn fn, void *arg, int seconds)
{
	struct wakeup *w;
	struct event *ev;
	struct timeval tv;

	if (seconds <= 0)
		seconds = svc_wakeup_secs;
	if (seconds <= 0)
		return;
	w = xcalloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	ev = event_new(io_base(), -1, EV_PERSIST, on_wakeup, w);
	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	event_add(ev, &tv);
}

void
service_session_end(void)
{
	if (sessions > 0)
		sessions--;
	(void)service_check_tables();
	if (draining) {
		if (sessions == 0)
			io_loop_exit();
		return;
	}
	if (sessions < session_limit)
		listeners_enable(1);
}

int
service_draining(void)
{
	return draining;
}

void
service_on_drain(void (*fn)(void *), void *arg)
{
	drain_fn = fn;
	drain_arg = arg;
}

void
service_on_stop(void (*fn)(void *), void *arg)
{
	stop_fn = fn;
	stop_arg = arg;
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (stop_fn != NULL)
		stop_fn(stop_arg);
	exit(0);
}

static void
on_drain(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	start_drain();
}

/* Stop accepting, let the sessions finish, then exit (reload: master
 * already runs the new generation; table change: master starts a fresh
 * process when this one exits). */
static void
start_drain(void)
{
	int i;

	if (draining)
		return;
	draining = 1;
	log_debug("draining: %d sessions left", sessions);
	for (i = 0; i < nlisten; i++) {
		if (listen_ev[i] != NULL)
			event_del(listen_ev[i]);
		close(listen_fd[i]);
	}
	accepting = 0;
	if (drain_fn != NULL)
		drain_fn(drain_arg);
	if (sessions == 0)
		io_loop_exit();
}

int
service_run(void)
{
	struct event *e1 = evsignal_new(io_base(), SIGTERM, on_stop, NULL);
	struct event *e2 = evsignal_new(io_base(), SIGINT, on_stop, NULL);
	struct event *e3 = evsignal_new(io_base(), SIGUSR1, on_drain, NULL);
	struct event *e4 = evsignal_new(io_base(), SIGHUP, on_drain, NULL);

	event_add(e1, NULL);
	event_add(e2, NULL);
	event_add(e3, NULL);
	event_add(e4, NULL);
	io_loop();
	return 0;
}
