/*
 * master.c - the resident process: binds the listeners of master.cf,
 * starts and supervises the services, and applies reload/stop.
 *
 * Input: main.cf/master.cf (administrator), signals, and one status byte
 * at a time from each child ('A' available, 'B' busy).  No network bytes
 * are read here.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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
#include "master.h"
#include "master_cf.h"
#include "mem.h"
#include "netaddr.h"
#include "ossl.h"
#include "queue_file.h"
#include "roles.h"
#include "str.h"

#define MAX_FDS 16

struct svc {
	struct master_svc cf;   /* owned copy of the master.cf entry */
	int fds[MAX_FDS];
	int nfds;
	int generation;
	int nproc;              /* live children */
	int nbusy;
	time_t backoff_until;
	int backoff;            /* seconds */
	int keep;               /* still in master.cf after reload */
	struct svc *from;       /* during a reload: the old entry whose
	                         * listeners this one took over */
};

struct child {
	pid_t pid;
	struct svc *svc;
	int status_fd;
	struct event *ev;
	int busy;
	int old;                /* from a previous generation: draining */
	struct child *next;
};

static struct svc **svcs;
static size_t nsvcs;
static struct child *children;
static int generation, stopping;
static uid_t owner_uid = (uid_t)-1;
static gid_t owner_gid = (gid_t)-1;
static struct event *respawn_timer;

static void spawn(struct svc *s);

static int
bind_inet(const char *name, int *fds, int *nfds, char **error_r)
{
	char *host = NULL, *port = NULL;
	struct addrinfo hints, *res = NULL, *ai;
	char **ifaces = NULL;
	int r = -1, i;

	if (netaddr_split_hostport(name, &host, &port) < 0) {
		*error_r = xasprintf("bad inet service name: %s", name);
		goto out;
	}
	if (*host == '\0') {
		ifaces = str_split(config_str("inet_interfaces"), STR_LIST_SEPS, NULL);
	} else {
		ifaces = xcalloc(2, sizeof(char *));
		ifaces[0] = xstrdup(host);
	}
	for (i = 0; ifaces[i] != NULL; i++) {
		const char *h = ifaces[i];
		int err;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		/* the port may be a name of /etc/services ("smtp",
		 * "submission"), as in Postfix; hosts must be numeric */
		hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
		if (strcmp(h, "all") == 0)
			h = NULL;
		else if (strcmp(h, "localhost") == 0 || strcmp(h, "loopback-only") == 0)
			h = "127.0.0.1";
		err = getaddrinfo(h, port, &hints, &res);
		if (err != 0) {
			*error_r = xasprintf("%s: a numeric address and a port "
			    "number or /etc/services name are required (no "
			    "DNS): %s", name, gai_strerror(err));
			goto out;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			int fd, on = 1;
			if (*nfds >= MAX_FDS)
				break;
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd < 0)
				continue;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
			if (ai->ai_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
			/* a killed predecessor may still hold the port for a
			 * moment (exiting from an fsync): retry briefly */
			int b = -1;
			for (int t = 0; t < 20; t++) {
				if ((b = bind(fd, ai->ai_addr, ai->ai_addrlen)) == 0 ||
				    errno != EADDRINUSE)
					break;
				usleep(250000);
			}
			if (b < 0 || listen(fd, 512) < 0) {
				*error_r = xasprintf("bind %s: %s", name,
				    strerror(errno));
				close(fd);
				freeaddrinfo(res);
				goto out;
			}
			fds[(*nfds)++] = fd;
		}
		freeaddrinfo(res);
		res = NULL;
	}
	r = 0;
out:
	free(host);
	free(port);
	str_split_free(&ifaces);
	return r;
}

static int
bind_unix(const struct master_svc *cf, int *fds, int *nfds, char **error_r)
{
	struct sockaddr_un sun;
	int fd, dgram = cf->type == SVC_FIFO;
	const char *sub = dgram || !cf->private_ ? "public" : "private";

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s/%s",
	    config_str("queue_directory"), sub, cf->name) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("socket path too long for %s", cf->name);
		return -1;
	}
	unlink(sun.sun_path);
	fd = socket(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    (!dgram && listen(fd, 512) < 0)) {
		*error_r = xasprintf("bind %s: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	chmod(sun.sun_path, dgram ? 0622 : 0660);
	if (owner_uid != (uid_t)-1)
		(void)!chown(sun.sun_path, owner_uid, owner_gid);
	fds[(*nfds)++] = fd;
	return 0;
}

static void
svc_free(struct svc *s)
{
	int i;

	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	master_svc_free(&s->cf);
	free(s);
}

static int
same_listener(const struct master_svc *a, const struct master_svc *b)
{
	return strcmp(a->name, b->name) == 0 && a->type == b->type &&
	    a->private_ == b->private_;
}

/*
 * Postfix daemons whose work Tempest does inside other processes (cleanup
 * in smtpd and pickup, bounce/defer/trace in qmgr, TLS session caching
 * in the TLS library, ...) or does not need (proxymap: tables are opened
 * before the chroot).  A master.cf copied from Postfix names them; they
 * are skipped with a note instead of being started and failing.
 */
static const char *const postfix_builtin[] = {
	"bounce", "cleanup", "defer", "discard", "error", "flush",
	"postlog", "proxymap", "proxywrite", "retry", "scache", "showq",
	"tlsmgr", "trace", "trivial-rewrite", "verify", NULL
};

/* 1 when master.cf entry e names a daemon this binary can run; 0 (and a
 * log line naming the master.cf line) for one that is skipped. */
static int
service_known(const struct master_svc *e)
{
	if (ctl_role_exists(e->command))
		return 1;
	for (size_t k = 0; postfix_builtin[k] != NULL; k++)
		if (strcmp(e->command, postfix_builtin[k]) == 0) {
			log_info("master.cf:%d: service %s: Postfix's %s is "
			    "built into Tempest; not started", e->line, e->name,
			    e->command);
			return 0;
		}
	log_warn("master.cf:%d: service %s: %s is not a Tempest daemon; "
	    "not started", e->line, e->name, e->command);
	return 0;
}

/*
 * master.cf's chroot column (y: chroot to queue_directory once started):
 * the daemons that need nothing outside the queue directory afterwards
 * (doc/tables.md).  imap-login and pop3-login chroot themselves into
 * login_chroot_directory whatever the column says.  The others read or
 * write outside the queue, so y for them is refused with the reason
 * rather than letting them fail at their first file.
 */
static const char *const chroot_capable[] = {
	"smtpd", "pickup", "qmgr", "smtp", "anvil", "imap-login", "pop3-login", NULL
};
static const struct { const char *command, *why; } chroot_refused[] = {
	{ "local", "it delivers to mailboxes outside the queue directory" },
	{ "virtual", "it delivers to mailboxes outside the queue directory" },
	{ "auth", "it reads the password tables and PAM outside the queue directory" },
	{ "filter", "it reads the spam rules and the spam store outside the queue directory" },
	{ "imapd", "it serves mailboxes outside the queue directory" },
	{ "pop3d", "it serves mailboxes outside the queue directory" },
};

/* NULL when master.cf entry e may be chrooted as it asks; else why not. */
static const char *
chroot_problem(const struct master_svc *e)
{
	if (!e->chroot)
		return NULL;
	for (size_t k = 0; chroot_capable[k] != NULL; k++)
		if (strcmp(e->command, chroot_capable[k]) == 0)
			return NULL;
	for (size_t k = 0; k < NELEM(chroot_refused); k++)
		if (strcmp(e->command, chroot_refused[k].command) == 0)
			return chroot_refused[k].why;
	return "it is not known to work inside the queue directory";
}

/* master.cf as master runs it: the entries of Tempest daemons (the
 * others said and dropped), none chrooted that cannot be.  0, or -1
 * with *error_r and nothing in cf. */
static int
read_services(struct master_cf *cf, char **error_r)
{
	char *path = xasprintf("%s/master.cf", config_dir());
	size_t i, j;

	if (master_cf_load(path, (int)config_int("default_process_limit"),
	    cf, error_r) < 0) {
		free(path);
		return -1;
	}
	free(path);
	for (i = j = 0; i < cf->n; i++) {
		if (service_known(&cf->v[i]))
			cf->v[j++] = cf->v[i];
		else
			master_svc_free(&cf->v[i]);
	}
	cf->n = j;
	for (i = 0; i < cf->n; i++) {
		const char *why = chroot_problem(&cf->v[i]);
		if (why == NULL)
			continue;
		*error_r = xasprintf("master.cf:%d: service %s: %s cannot run "
		    "chrooted (%s); set its chroot column to n", cf->v[i].line,
		    cf->v[i].name, cf->v[i].command, why);
		master_cf_free(cf);
		return -1;
	}
	return 0;
}

int
master_check_services(char **error_r)
{
	struct master_cf cf;

	if (read_services(&cf, error_r) < 0)
		return -1;
	master_cf_free(&cf);
	return 0;
}

/* Load master.cf; reuse the listeners of services that stay. */
static int
load_services(char **error_r)
{
	struct master_cf cf;
	struct svc **nv;
	size_t i, j;

	if (read_services(&cf, error_r) < 0)
		return -1;
	nv = xcalloc(cf.n + 1, sizeof(*nv));
	for (i = 0; i < nsvcs; i++)
		svcs[i]->keep = 0;
	for (i = 0; i < cf.n; i++) {
		struct svc *s = xcalloc(1, sizeof(*s));
		s->cf = cf.v[i];
		for (j = 0; j < nsvcs; j++)
			if (svcs[j]->nfds > 0 && same_listener(&svcs[j]->cf, &s->cf)) {
				memcpy(s->fds, svcs[j]->fds, sizeof(s->fds));
				s->nfds = svcs[j]->nfds;
				svcs[j]->nfds = 0;      /* moved */
				s->from = svcs[j];
				break;
			}
		if (s->nfds == 0) {
			int r = s->cf.type == SVC_INET ?
			    bind_inet(s->cf.name, s->fds, &s->nfds, error_r) :
			    bind_unix(&s->cf, s->fds, &s->nfds, error_r);
			if (r < 0) {
				char *e = *error_r;
				*error_r = xasprintf("master.cf:%d: %s",
				    s->cf.line, e);
				free(e);
				/* the running configuration stays: listeners
				 * taken over go back to their old entries */
				for (j = 0; j < i; j++) {
					struct svc *n = nv[j];
					if (n->from != NULL) {
						memcpy(n->from->fds, n->fds,
						    sizeof(n->fds));
						n->from->nfds = n->nfds;
						n->nfds = 0;
					}
					svc_free(n);
				}
				svc_free(s);    /* closes what it bound */
				for (j = i + 1; j < cf.n; j++)
					master_svc_free(&cf.v[j]);
				free(cf.v);
				free(nv);
				return -1;
			}
		}
		s->generation = generation;
		nv[i] = s;
	}
	for (i = 0; i < cf.n; i++)
		nv[i]->from = NULL;
	free(cf.v);
	for (i = 0; i < nsvcs; i++) {
		struct child *c;
		for (c = children; c != NULL; c = c->next)
			if (c->svc == svcs[i])
				c->svc = NULL;
		svc_free(svcs[i]);
	}
	free(svcs);
	svcs = nv;
	nsvcs = cf.n;
	return 0;
}

static void
on_status(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	char buf[64];
	ssize_t n, i;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		event_del(c->ev);
		return;
	}
	for (i = 0; i < n; i++) {
		int busy = buf[i] == 'B';
		if (c->svc != NULL && !c->old && busy != c->busy)
			c->svc->nbusy += busy ? 1 : -1;
		c->busy = busy;
	}
	if (c->svc != NULL && !c->old && !stopping &&
	    c->svc->nbusy >= c->svc->nproc && c->svc->nproc < c->svc->cf.maxproc)
		spawn(c->svc);
}

static void
spawn(struct svc *s)
{
	int sp[2], i, argc = 0;
	pid_t pid;
	char **argv;
	struct child *c;

	if (pipe2(sp, O_CLOEXEC) < 0) {
		log_warn("pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return;
	}
	if (pid == 0) {
		char env[64];
		int status = 3 + s->nfds;
		/* listeners at 3.., status pipe right after */
		int tmp[MAX_FDS + 1];
		for (i = 0; i < s->nfds; i++)
			tmp[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, 64);
		tmp[s->nfds] = fcntl(sp[1], F_DUPFD_CLOEXEC, 64);
		for (i = 0; i <= s->nfds; i++) {
			dup2(tmp[i], 3 + i);
			close(tmp[i]);
		}
		snprintf(env, sizeof(env), "%d", s->nfds);
		setenv("TEMPEST_LISTEN_FDS", env, 1);
		snprintf(env, sizeof(env), "%d", status);
		setenv("TEMPEST_STATUS_FD", env, 1);
		setenv("TEMPEST_CONFIG_DIR", config_dir(), 1);
		argv = xcalloc(20 + 2 * 64, sizeof(char *));
		argv[argc++] = (char *)"tempest";
		argv[argc++] = (char *)"daemon";
		argv[argc++] = s->cf.command;
		argv[argc++] = (char *)"-n";
		argv[argc++] = s->cf.name;
		if (!s->cf.unpriv)
			argv[argc++] = (char *)"-u";
		if (s->cf.chroot)
			argv[argc++] = (char *)"-c";
		if (s->cf.wakeup > 0) {
			argv[argc++] = (char *)"-w";
			argv[argc++] = xasprintf("%d", s->cf.wakeup);
		}
		for (i = 0; s->cf.overrides[i] != NULL && i < 60; i++) {
			argv[argc++] = (char *)"-o";
			argv[argc++] = s->cf.overrides[i];
		}
		argv[argc++] = (char *)"--";
		for (i = 0; s->cf.argv[i] != NULL && i < 10; i++)
			argv[argc++] = s->cf.argv[i];
		argv[argc] = NULL;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		{
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
		}
		execv(ctl_self_path(), argv);
		fprintf(stderr, "exec %s: %s\n", ctl_self_path(), strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->svc = s;
	c->status_fd = sp[0];
	c->ev = event_new(io_base(), sp[0], EV_READ | EV_PERSIST, on_status, c);
	event_add(c->ev, NULL);
	c->next = children;
	children = c;
	s->nproc++;
	log_debug("started %s (%s) pid %ld", s->cf.name, s->cf.command,
	    (long)pid);
}

static void
child_free(struct child *c)
{
	event_free(c->ev);
	close(c->status_fd);
	free(c);
}

static void
ensure_running(void)
{
	size_t i;
	time_t now = time(NULL);
	int later = 0;

	if (stopping)
		return;
	for (i = 0; i < nsvcs; i++) {
		struct svc *s = svcs[i];
		int want = 1;
		/* event-driven network services start one process per CPU so
		 * a busy machine still gives them their share (they share
		 * the listening socket); others start one and grow on demand */
		if (s->cf.type == SVC_INET) {
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			want = ncpu > 1 ? (int)ncpu : 1;
			if (s->cf.maxproc > 0 && want > s->cf.maxproc)
				want = s->cf.maxproc;
		}
		if (s->nproc >= want)
			continue;
		if (now < s->backoff_until) {
			later = 1;
			continue;
		}
		while (s->nproc < want)
			spawn(s);
	}
	if (later) {
		struct timeval tv = { 1, 0 };
		evtimer_add(respawn_timer, &tv);
	}
}

static void
on_respawn_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ensure_running();
}

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	pid_t pid;
	int status;

	(void)sig;
	(void)what;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child **pp, *c;
		for (pp = &children; (c = *pp) != NULL; pp = &c->next)
			if (c->pid == pid)
				break;
		if (c == NULL)
			continue;
		*pp = c->next;
		if (c->svc != NULL && !c->old) {
			struct svc *s = c->svc;
			s->nproc--;
			if (c->busy)
				s->nbusy--;
			if (!stopping && (WIFSIGNALED(status) ||
			    (WIFEXITED(status) && WEXITSTATUS(status) != 0))) {
				if (WIFSIGNALED(status))
					log_warn("process %s pid %ld killed by "
					    "signal %d", s->cf.command,
					    (long)pid, WTERMSIG(status));
				else
					log_warn("process %s pid %ld exit status "
					    "%d", s->cf.command, (long)pid,
					    WEXITSTATUS(status));
				/* back-off: 0s first, then doubling to 10s */
				s->backoff_until = time(NULL) + s->backoff;
				s->backoff = s->backoff == 0 ? 1 :
				    s->backoff * 2 > 10 ? 10 : s->backoff * 2;
			} else
				s->backoff = 0;
		}
		child_free(c);
	}
	if (stopping && children == NULL)
		io_loop_exit();
	ensure_running();
}

static void
kill_children(int sig, int only_old)
{
	struct child *c;

	for (c = children; c != NULL; c = c->next)
		if (!only_old || c->old)
			kill(c->pid, sig);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { 4, 0 };

	(void)what;
	(void)arg;
	if (stopping) {
		kill_children(SIGKILL, 0);
		return;
	}
	log_info("terminating on signal %d", (int)sig);
	stopping = 1;
	kill_children(SIGTERM, 0);
	if (children == NULL) {
		io_loop_exit();
		return;
	}
	/* Hard stop if a child lingers. */
	event_base_once(io_base(), -1, EV_TIMEOUT,
	    (event_callback_fn)on_stop_signal, NULL, &tv);
}

static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	char *err = NULL;
	struct child *c;
	size_t i;

	(void)sig;
	(void)what;
	(void)arg;
	if (config_load(config_dir(), &err) < 0) {
		log_err("reload: %s (configuration not changed)", err);
		free(err);
		return;
	}
	generation++;
	if (load_services(&err) < 0) {
		/* the services keep running as they are */
		generation--;
		log_err("reload: %s (services not changed)", err);
		free(err);
		return;
	}
	for (c = children; c != NULL; c = c->next)
		c->old = 1;
	for (i = 0; i < nsvcs; i++)
		svcs[i]->nproc = svcs[i]->nbusy = 0;
	log_info("reload -- version %s, configuration %s",
	    config_str("mail_version"), config_dir());
	kill_children(SIGUSR1, 1);      /* finish sessions, then exit */
	ensure_running();
}

/*
 * A system user the services run as: created (no home, no shell) when
 * missing, as a package's postinst would.  Only when master runs as root.
 */
static struct passwd *
ensure_system_user(const char *param)
{
	const char *name = config_str(param);
	struct passwd *pw = getpwnam(name);

	if (pw == NULL) {
		char *cmd = xasprintf("useradd --system --no-create-home "
		    "--home-dir /nonexistent --shell /usr/sbin/nologin '%s' "
		    ">/dev/null 2>&1", name);
		if (*name == '\0' || strspn(name,
		    "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name) ||
		    system(cmd) != 0)
			fatal("%s %s does not exist and could not be created",
			    param, name);
		free(cmd);
		pw = getpwnam(name);
		if (pw == NULL)
			fatal("%s %s: no such user", param, name);
		log_info("created system user %s", name);
	}
	if (pw->pw_uid == 0)
		fatal("%s must not be root", param);
	return pw;
}

static void
setup_owner(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	/* the IMAP/POP3 login processes get a user of their own (they
	 * hold no files; Dovecot's dovenull) */
	if (strcmp(config_str("login_user"), config_str("mail_owner")) != 0)
		(void)ensure_system_user("login_user");
	pw = ensure_system_user("mail_owner");
	owner_uid = pw->pw_uid;
	owner_gid = pw->pw_gid;
}

static void
chown_tree(const char *dir)
{
	const char *subs[] = { "", "/incoming", "/active", "/deferred",
	    "/hold", "/corrupt", "/maildrop", "/private", "/public", "/pid",
	    "/defer", "/spare" };
	size_t i;

	if (owner_uid == (uid_t)-1)
		return;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		char *p = xasprintf("%s%s", dir, subs[i]);
		(void)!chown(p, owner_uid, owner_gid);
		free(p);
	}
}

/*
 * At start nobody else writes the queue: a file in incoming/ that is not
 * complete was never acknowledged (250 comes after its data, with the
 * checksummed end record, was fdatasync'ed), so it is removed, as its
 * client will retry; a complete one whose mode 0700 a power failure lost
 * gets it back (queue_incoming_check, doc/queue-format.md).
 */
static void
clean_incoming(const char *qdir)
{
	char *dir = xasprintf("%s/%s", qdir, QUEUE_INCOMING);
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			const char *why;
			char *p;
			int act;
			if (e->d_name[0] == '.')
				continue;
			p = xasprintf("%s/%s", dir, e->d_name);
			act = queue_incoming_check(p, e->d_name, &why);
			if (act == QUEUE_CHECK_REMOVE) {
				log_info("%s: %s: removed", e->d_name, why);
				unlink(p);
			} else if (act == QUEUE_CHECK_CORRUPT) {
				char *c = xasprintf("%s/%s/%s", qdir,
				    QUEUE_CORRUPT, e->d_name);
				log_warn("%s: %s: moved to %s", e->d_name, why,
				    QUEUE_CORRUPT);
				if (rename(p, c) < 0)
					unlink(p);
				free(c);
			} else if (why != NULL) {
				log_info("%s: %s", e->d_name, why);
			}
			free(p);
		}
		closedir(d);
	}
	free(dir);
}

char *
master_pid_path(void)
{
	return xasprintf("%s/pid/master.pid", config_str("queue_directory"));
}

int
master_run(int foreground)
{
	char *err = NULL, *pidpath;
	int pidfd;
	struct event *ev[6];
	const char *qdir;

	config_load_or_die(ctl_config_dir());
	/* OpenSSL is loaded by the daemons when they first use it (ossl.h):
	 * one that does not load is said here, on the terminal of `tempest
	 * start`, not by each smtpd the master would start in turn */
	ossl_require();
	{
		const char *logf = config_str("maillog_file");
		log_init("master", *logf != '\0' || foreground ?
		    LOG_DEST_STDERR : LOG_DEST_SYSLOG, log_verbose());
	}
	setup_owner();
	qdir = config_str("queue_directory");
	if (queue_mkdirs(qdir, &err) < 0)
		fatal("%s", err);
	{
		const char *ddir = config_str("data_directory");
		if (mkdir(ddir, 0700) < 0 && errno != EEXIST)
			fatal("mkdir %s: %s", ddir, strerror(errno));
		if (owner_uid != (uid_t)-1)
			(void)!chown(ddir, owner_uid, owner_gid);
	}
	chown_tree(qdir);
	pidpath = master_pid_path();
	pidfd = open(pidpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfd < 0 || flock(pidfd, LOCK_EX | LOCK_NB) < 0)
		fatal("the mail system is already running (%s locked)", pidpath);
	clean_incoming(qdir);
	queue_recover_modes(qdir);
	if (!foreground) {
		pid_t pid = fork();
		if (pid < 0)
			fatal("fork: %s", strerror(errno));
		if (pid > 0)
			_exit(0);
		setsid();
		{
			/* detach from the terminal; logs go to maillog_file
			 * (kept as stderr), or syslog when it is empty */
			const char *logf = config_str("maillog_file");
			int nfd = open("/dev/null", O_RDWR);
			dup2(nfd, 0);
			dup2(nfd, 1);
			if (strcmp(logf, "/dev/stderr") != 0) {
				int lfd = *logf != '\0' ? open(logf, O_WRONLY |
				    O_APPEND | O_CREAT | O_CLOEXEC, 0640) : -1;
				dup2(lfd >= 0 ? lfd : nfd, 2);
				if (lfd >= 0)
					close(lfd);
			}
			if (nfd > 2)
				close(nfd);
		}
	}
	{
		char pidbuf[32];
		int n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
		if (ftruncate(pidfd, 0) < 0 || pwrite(pidfd, pidbuf, (size_t)n, 0) != n)
			fatal("write %s: %s", pidpath, strerror(errno));
	}
	/* The signals are caught before the listeners are bound: a client
	 * that sees the ports open may stop the system at once, and a
	 * SIGINT or SIGQUIT that came while the inherited disposition was
	 * still "ignore" (a background job of a shell without job control)
	 * would be lost.  They are handled once the loop runs. */
	signal(SIGPIPE, SIG_IGN);
	ev[0] = evsignal_new(io_base(), SIGCHLD, on_sigchld, NULL);
	ev[1] = evsignal_new(io_base(), SIGTERM, on_stop_signal, NULL);
	ev[2] = evsignal_new(io_base(), SIGINT, on_stop_signal, NULL);
	ev[3] = evsignal_new(io_base(), SIGHUP, on_reload, NULL);
	ev[4] = evsignal_new(io_base(), SIGQUIT, on_stop_signal, NULL);
	respawn_timer = evtimer_new(io_base(), on_respawn_timer, NULL);
	for (int i = 0; i < 5; i++)
		event_add(ev[i], NULL);
	if (load_services(&err) < 0)
		fatal("%s", err);
	log_info("daemon started -- version %s, configuration %s",
	    config_str("mail_version"), config_dir());
	ensure_running();
	io_loop();
	kill_children(SIGKILL, 0);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	unlink(pidpath);
	log_info("stopped");
	return 0;
}
