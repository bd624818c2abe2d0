/*
 * alias.c - expansion of a local recipient through aliases(5) and
 * ~/.forward, and delivery to what they name:
 *
 *   address         re-submitted to the queue (one new message for all
 *                   addresses of one expansion, with "Delivered-To:"
 *                   prepended so that a loop ends in a bounce)
 *   |command        run with the message on stdin
 *   /file, /dir/    appended in mbox form, or a Maildir
 *   :include:/path  more targets from a file (mailing lists)
 *   \user, user     the user's own mailbox (self-reference)
 *
 * When one target of a recipient defers, the targets it did reach are
 * remembered in defer/ID.done (one line per message arrival, recipient
 * record and target), so that the retry delivers only to the targets
 * still missing (doc/aliases.md).
 *
 * Commands and files run with default_privs for aliases, the rights of
 * the include file's owner for :include: lists (default_privs when root
 * owns it), and the user's rights for .forward.  The .forward itself, and
 * an :include: file named
 * by a .forward or by a user-owned list is opened with those rights too
 * (only the administrator's alias tables and root-owned lists they name
 * open files as root).  When an "owner-NAME"
 * alias exists, list mail goes out with owner-NAME as envelope sender.
 *
 * Input: administrator-owned alias tables, user-owned .forward and
 * include files (bounded: 1 MB per file, 1000 targets, depth 10), and
 * the queued message (copied, not parsed).
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alias_parse.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "deliver_proto.h"
#include "forward.h"
#include "local.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "queue_file.h"
#include "service.h"
#include "smtp_parse.h"
#include "str.h"

#define EXPAND_DEPTH_MAX 10
#define TARGETS_MAX 1000
#define LIST_FILE_MAX (1024 * 1024)

static const struct cfg_param forward_params[] = {
	{ "forward_path", CFG_STR, "$home/.forward", 0, "Files searched for a system user's forwarding list ($home, $user; first existing one wins)" },
	{ "allow_mail_to_commands", CFG_LIST, "alias, forward", 0, "Where |command targets are allowed: alias, forward, include" },
	{ "allow_mail_to_files", CFG_LIST, "alias, forward", 0, "Where /file targets are allowed: alias, forward, include" },
	{ "command_time_limit", CFG_TIME, "1000s", 's', "Time limit of a |command delivery" },
	{ "owner_request_special", CFG_BOOL, "yes", 0, "Send list mail with owner-NAME as sender when an owner-NAME alias exists" },
};
CONFIG_PARAMS(forward_params);

enum xclass { X_ALIAS, X_FORWARD, X_INCLUDE };

struct privs {
	long uid, gid;          /* -1: do not change */
	char *home;
	char *name;
};

struct xctx {
	const struct delivery *d;
	const char *user;       /* the local recipient being expanded */
	enum xclass klass;
	struct privs pv;
	char **addrs;           /* to re-submit */
	size_t naddrs;
	int self;               /* deliver to the user's mailbox too */
	int status;             /* worst: SENT < BOUNCE < DEFER */
	struct buf *text;
	int ntargets;
	int nfinal;             /* commands and files named */
	int dsn_total;          /* targets of all kinds (finish) */
	int is_list;            /* copies go out with an owner- sender */
	int depth;
	int trusted;            /* an administrator's list: files open as root */
};

static struct maplist *alias_maps;

void
forward_init(void)
{
	char *err = NULL;

	maplist_free(&alias_maps);
	alias_maps = maplist_open(config_str("alias_maps"), &err);
	if (alias_maps == NULL) {
		log_warn("alias_maps: %s", err);
		free(err);
	}
	signal(SIGPIPE, SIG_IGN);
}

static void
privs_set(struct privs *p, const struct passwd *pw)
{
	free(p->home);
	free(p->name);
	p->uid = (long)pw->pw_uid;
	p->gid = (long)pw->pw_gid;
	p->home = xstrdup(pw->pw_dir);
	p->name = xstrdup(pw->pw_name);
}

static void
privs_default(struct privs *p)
{
	struct passwd *pw = getpwnam(config_str("default_privs"));

	if (pw != NULL)
		privs_set(p, pw);
	else {
		p->uid = p->gid = 65534;
		p->home = xstrdup("/");
		p->name = xstrdup("nobody");
	}
}

static void
privs_free(struct privs *p)
{
	FREE(p->home);
	FREE(p->name);
}

/* Fold a result into the context: DEFER beats BOUNCE beats SENT. */
static void
result(struct xctx *x, int st, const char *text)
{
	int rank_new = st == DELIVER_DEFER ? 2 : st == DELIVER_BOUNCE ? 1 : 0;
	int rank_old = x->status == DELIVER_DEFER ? 2 :
	    x->status == DELIVER_BOUNCE ? 1 : 0;

	if (rank_new > rank_old || x->text->len == 0) {
		x->status = st;
		buf_set(x->text, text);
	}
}

static int
allowed(const char *param, enum xclass k)
{
	char **v = str_split(config_str(param), STR_LIST_SEPS, NULL);
	const char *want = k == X_ALIAS ? "alias" : k == X_FORWARD ?
	    "forward" : "include";
	size_t i;
	int ok = 0;

	for (i = 0; v[i] != NULL; i++)
		if (strcasecmp(v[i], want) == 0)
			ok = 1;
	str_split_free(&v);
	return ok;
}

/* ---- per-target memory: defer/ID.done ---- */

#define DONE_FILE_MAX (1024 * 1024)

/* The recipient being delivered: the targets it reached in an earlier
 * attempt (the file, read once) and those reached in this one (written
 * by forward_finish() only if the recipient is deferred: a recipient
 * that ends sent or bounced is never retried, so a message that is
 * done at its first attempt leaves no file behind). */
static struct {
	char qid[QUEUE_ID_LEN + 1];
	long long arrival, offset;
	struct buf prev, now;
} done;

static char *
done_path(const char *qid)
{
	const char *qdir = service_queue_dir() != NULL ? service_queue_dir() :
	    config_str("queue_directory");

	return xasprintf("%s/defer/%s.done", qdir, qid);
}

/* "ARRIVAL RECORD TARGET": arrival time and record offset make the key
 * unique per recipient of this message (a reused queue id does not
 * match); newlines cannot occur in targets (alias_parse.c). */
static char *
done_key(const struct delivery *d, const char *target)
{
	return xasprintf("%lld %lld %s", d->arrival_us, d->rcpt_offset, target);
}

/* Make `done` describe d's recipient (loading the file once). */
static void
done_select(const struct delivery *d)
{
	char *path;
	struct stat st;
	ssize_t n;
	int fd;

	if (done.prev.max != 0 && strcmp(done.qid, d->queue_id) == 0 &&
	    done.arrival == d->arrival_us && done.offset == d->rcpt_offset)
		return;
	buf_free(&done.prev);
	buf_free(&done.now);
	buf_init(&done.prev, DONE_FILE_MAX);
	buf_init(&done.now, DONE_FILE_MAX);
	snprintf(done.qid, sizeof(done.qid), "%s", d->queue_id);
	done.arrival = d->arrival_us;
	done.offset = d->rcpt_offset;
	path = done_path(d->queue_id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return;         /* first attempt: nothing delivered yet */
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    st.st_size <= DONE_FILE_MAX) {
		char *data = xmalloc((size_t)st.st_size);
		n = read(fd, data, (size_t)st.st_size);
		if (n > 0)
			buf_append(&done.prev, data, (size_t)n);
		free(data);
	}
	close(fd);
}

/* Whether target was delivered in an earlier attempt. */
static int
target_done(const struct delivery *d, const char *target)
{
	char *key;
	const char *p;
	size_t kl;
	int found = 0;

	done_select(d);
	if (done.prev.len == 0)
		return 0;
	key = done_key(d, target);
	kl = strlen(key);
	for (p = buf_cstr(&done.prev); p != NULL && *p != '\0' && !found;
	    p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
		found = strncmp(p, key, kl) == 0 &&
		    (p[kl] == '\n' || p[kl] == '\0');
	free(key);
	return found;
}

/* target got its copy in this attempt. */
static void
target_mark(const struct delivery *d, const char *target)
{
	char *key = done_key(d, target);

	done_select(d);
	if (buf_printf(&done.now, "%s\n", key) < 0)
		log_warn("%s: too many targets to remember", d->queue_id);
	free(key);
}

void
forward_finish(const struct delivery *d, int status)
{
	char *path;
	int fd;

	if (done.now.max == 0 || strcmp(done.qid, d->queue_id) != 0 ||
	    done.offset != d->rcpt_offset || done.arrival != d->arrival_us)
		return;
	if (status == DELIVER_DEFER && done.now.len > 0) {
		/* appended and synced: a crash before this line costs a
		 * duplicate on the retry, never a lost copy */
		path = done_path(d->queue_id);
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd < 0 || write(fd, done.now.data, done.now.len) !=
		    (ssize_t)done.now.len || fsync(fd) < 0)
			log_warn("%s: %s: %s", d->queue_id, path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
	}
	buf_free(&done.prev);
	buf_free(&done.now);
	done.qid[0] = '\0';
}

/* ---- running as someone else ---- */

typedef int (*priv_fn)(const struct delivery *d, void *arg, struct buf *text);

/* Run fn with the rights in p (in a child when we are root). */
static int
run_as(const struct privs *p, priv_fn fn, const struct delivery *d, void *arg,
    struct buf *text)
{
	int fds[2], status;
	pid_t pid;
	char rbuf[512];
	ssize_t n;

	if (geteuid() != 0 || p->uid < 0)
		return fn(d, arg, text);
	if (p->uid == 0) {
		buf_set(text, "4.3.0 refusing to run as root");
		return DELIVER_DEFER;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		buf_printf(text, "4.3.0 pipe: %s", strerror(errno));
		return DELIVER_DEFER;
	}
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		buf_printf(text, "4.3.0 fork: %s", strerror(errno));
		return DELIVER_DEFER;
	}
	if (pid == 0) {
		gid_t g = (gid_t)p->gid;
		int r;
		close(fds[0]);
		if (setgroups(1, &g) < 0 || setgid(g) < 0 ||
		    setuid((uid_t)p->uid) < 0) {
			dprintf(fds[1], "4.3.0 cannot set user id %ld: %s", p->uid,
			    strerror(errno));
			_exit(DELIVER_DEFER);
		}
		buf_reset(text);
		r = fn(d, arg, text);
		(void)!write(fds[1], buf_cstr(text), text->len);
		_exit(r);
	}
	close(fds[1]);
	buf_reset(text);
	while ((n = read(fds[0], rbuf, sizeof(rbuf))) > 0)
		buf_append(text, rbuf, (size_t)n);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > DELIVER_BOUNCE) {
		buf_set(text, "4.3.0 delivery process failed");
		return DELIVER_DEFER;
	}
	return WEXITSTATUS(status);
}

/* ---- targets ---- */

static int
write_file(const struct delivery *d, void *arg, struct buf *text)
{
	const char *path = arg;
	size_t n = strlen(path);

	if (n > 0 && path[n - 1] == '/')
		return maildir_deliver(d, path, text);
	return mbox_deliver(d, path, text);
}

struct cmd {
	const char *command;
	const struct privs *pv;
};

static int
run_command(const struct delivery *d, void *arg, struct buf *text)
{
	const struct cmd *c = arg;
	int in[2], out;
	pid_t pid;
	int status = 0, waited = 0;
	long long limit = config_time("command_time_limit");
	time_t start = time(NULL);
	const char *at = strrchr(d->rcpt, '@');
	char diag[256];
	ssize_t n;

	out = memfd_create("command-output", MFD_CLOEXEC);
	if (out < 0 || pipe2(in, O_CLOEXEC) < 0) {
		buf_printf(text, "4.3.0 pipe: %s", strerror(errno));
		if (out >= 0)
			close(out);
		return DELIVER_DEFER;
	}
	pid = fork();
	if (pid < 0) {
		buf_printf(text, "4.3.0 fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(out);
		return DELIVER_DEFER;
	}
	if (pid == 0) {
		char *local = xstrndup(d->rcpt, at != NULL ?
		    (size_t)(at - d->rcpt) : strlen(d->rcpt));
		dup2(in[0], 0);
		dup2(out, 1);
		dup2(out, 2);
		clearenv();
		setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
		setenv("SHELL", "/bin/sh", 1);
		if (c->pv->home != NULL) {
			setenv("HOME", c->pv->home, 1);
			if (chdir(c->pv->home) < 0 && chdir("/") < 0)
				_exit(75);
		} else if (chdir("/") < 0)
			_exit(75);
		if (c->pv->name != NULL) {
			setenv("USER", c->pv->name, 1);
			setenv("LOGNAME", c->pv->name, 1);
		}
		setenv("SENDER", d->sender, 1);
		setenv("RECIPIENT", d->rcpt, 1);
		setenv("LOCAL", local, 1);
		setenv("DOMAIN", at != NULL ? at + 1 : "", 1);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", c->command, (char *)NULL);
		_exit(75);
	}
	close(in[0]);
	(void)local_copy_message(d, in[1], 0);  /* EPIPE: the command did not read */
	close(in[1]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		if (w == pid) {
			waited = 1;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (time(NULL) - start > limit) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(out);
			buf_printf(text, "4.3.0 command time limit exceeded: %s",
			    c->command);
			return DELIVER_DEFER;
		}
		nanosleep(&ts, NULL);
	}
	n = pread(out, diag, sizeof(diag) - 1, 0);
	close(out);
	diag[n > 0 ? n : 0] = '\0';
	diag[strcspn(diag, "\n")] = '\0';
	if (!waited) {
		buf_set(text, "4.3.0 lost the command process");
		return DELIVER_DEFER;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		buf_printf(text, "2.0.0 delivered to command: %s", c->command);
		return DELIVER_SENT;
	}
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 75 ||
	    WEXITSTATUS(status) == 73)) {
		buf_printf(text, "4.3.0 command temporarily failed: %s%s%s",
		    c->command, *diag ? ": " : "", diag);
		return DELIVER_DEFER;
	}
	buf_printf(text, "5.3.0 command %s: %s%s%s", WIFEXITED(status) ?
	    "failed" : "was killed", c->command, *diag ? ": " : "", diag);
	return DELIVER_BOUNCE;
}

static void expand_list(struct xctx *x, const char *list);

/* The sender for forwarded copies of alias NAME: owner-NAME if it exists. */
static char *
list_sender(const struct xctx *x)
{
	char *key;
	const char *v, *at;
	int r = 0;

	if (x->klass == X_FORWARD || !config_bool("owner_request_special") ||
	    *x->d->sender == '\0' || strncasecmp(x->user, "owner-", 6) == 0)
		return xstrdup(x->d->sender);
	key = xasprintf("owner-%s", x->user);
	if (alias_maps != NULL)
		r = maplist_lookup(alias_maps, key, &v);
	if (r != 1) {
		free(key);
		return xstrdup(x->d->sender);
	}
	at = strrchr(x->d->rcpt, '@');
	{
		char *s = xasprintf("%s@%s", key, at != NULL ? at + 1 :
		    config_str("myhostname"));
		free(key);
		return s;
	}
}

static int
is_self(const struct xctx *x, const char *t)
{
	const char *at = strrchr(t, '@');
	size_t n = at != NULL ? (size_t)(at - t) : strlen(t);

	if (*t == '\\')
		return 1;
	if (at != NULL) {
		/* only a local address of ours can be "the user itself" */
		const char *ra = strrchr(x->d->rcpt, '@');
		if (ra == NULL || strcasecmp(ra + 1, at + 1) != 0)
			return 0;
	}
	return strlen(x->user) == n && strncasecmp(t, x->user, n) == 0;
}

/* Open path for reading with p's rights when we are root (the effective
 * ids only, as as_user() in local.c): a .forward or a user's include file
 * may not name a file only root may read. */
static int
open_list_as(const struct privs *p, const char *path)
{
	gid_t g;
	int fd, e;

	if (geteuid() != 0 || p->uid <= 0)
		return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	g = (gid_t)(p->gid >= 0 ? p->gid : p->uid);
	if (setgroups(1, &g) < 0 || setegid(g) < 0 ||
	    seteuid((uid_t)p->uid) < 0) {
		e = errno;
		if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0)
			fatal("cannot restore root privileges: %s",
			    strerror(errno));
		service_watch_master();         /* (the changes cleared it) */
		errno = e;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	e = errno;
	if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0)
		fatal("cannot restore root privileges: %s", strerror(errno));
	service_watch_master();                 /* (the changes cleared it) */
	errno = e;
	return fd;
}

/* Read an :include: file and expand it with its owner's rights. */
static void
expand_include(struct xctx *x, const char *path)
{
	struct stat st;
	int fd;
	char *data;
	ssize_t n;
	struct privs saved = x->pv;
	enum xclass saved_class = x->klass;
	int saved_trusted = x->trusted;
	char msg[600];

	if (x->klass == X_FORWARD && !allowed("allow_mail_to_files", X_FORWARD)
	    && 0) {
		/* (include from .forward is allowed, as in Postfix) */
	}
	/* from a .forward or a user's list: with the rights in effect */
	fd = x->trusted ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) :
	    open_list_as(&x->pv, path);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, sizeof(msg), "%s :include: %s: %s",
		    errno == ENOENT ? "5.1.1" : "4.3.0", path,
		    fd < 0 ? strerror(errno) : "not a regular file");
		result(x, errno == ENOENT ? DELIVER_BOUNCE : DELIVER_DEFER, msg);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_size > LIST_FILE_MAX) {
		close(fd);
		snprintf(msg, sizeof(msg), "5.3.4 :include: %s: file too large",
		    path);
		result(x, DELIVER_BOUNCE, msg);
		return;
	}
	data = xcalloc(1, (size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	if (n < 0)
		n = 0;
	data[n] = '\0';
	/* commands and files in the list run as the file's owner */
	x->pv.home = NULL;
	x->pv.name = NULL;
	if (st.st_uid != 0 && x->klass != X_FORWARD) {
		struct passwd *pw = getpwuid(st.st_uid);
		memset(&x->pv, 0, sizeof(x->pv));
		if (pw != NULL)
			privs_set(&x->pv, pw);
		else {
			x->pv.uid = (long)st.st_uid;
			x->pv.gid = (long)st.st_gid;
		}
	} else if (x->klass != X_FORWARD) {
		memset(&x->pv, 0, sizeof(x->pv));
		privs_default(&x->pv);
	} else {
		x->pv.home = saved.home != NULL ? xstrdup(saved.home) : NULL;
		x->pv.name = saved.name != NULL ? xstrdup(saved.name) : NULL;
	}
	x->klass = X_INCLUDE;
	/* only a root-owned list named by a trusted one stays trusted */
	x->trusted = saved_trusted && st.st_uid == 0;
	{
		/* one or more targets per line; # comments */
		char *list = alias_file_list(data, (size_t)n);
		expand_list(x, list);
		free(list);
	}
	free(data);
	privs_free(&x->pv);
	x->pv = saved;
	x->klass = saved_class;
	x->trusted = saved_trusted;
}

/* One target of an alias, .forward or include file. */
static void
expand_token(struct xctx *x, char *t)
{
	char msg[600];

	if (++x->ntargets > TARGETS_MAX) {
		if (x->ntargets == TARGETS_MAX + 1)
			result(x, DELIVER_BOUNCE, "5.3.0 too many targets");
		return;
	}
	if (*t == '|') {
		struct cmd c;
		x->nfinal++;
		struct delivery d2 = *x->d;
		struct buf out;
		int st;
		if (!allowed("allow_mail_to_commands", x->klass)) {
			snprintf(msg, sizeof(msg), "5.7.1 mail to command is "
			    "restricted here: %.400s", t + 1);
			result(x, DELIVER_BOUNCE, msg);
			return;
		}
		if (target_done(x->d, t)) {
			log_info("%s: to=<%s>, command=%s, already delivered",
			    x->d->queue_id, x->d->rcpt, t + 1);
			return;
		}
		c.command = t + 1;
		c.pv = &x->pv;
		buf_init(&out, 4096);
		st = run_as(&x->pv, run_command, &d2, &c, &out);
		if (st == DELIVER_SENT)
			target_mark(x->d, t);
		log_info("%s: to=<%s>, command=%s, status=%s (%s)", x->d->queue_id,
		    x->d->rcpt, t + 1, st == DELIVER_SENT ? "sent" :
		    st == DELIVER_DEFER ? "deferred" : "bounced", buf_cstr(&out));
		result(x, st, buf_cstr(&out));
		buf_free(&out);
		return;
	}
	if (*t == '/') {
		struct buf out;
		int st;
		x->nfinal++;
		if (!allowed("allow_mail_to_files", x->klass)) {
			snprintf(msg, sizeof(msg), "5.7.1 mail to file is "
			    "restricted here: %.400s", t);
			result(x, DELIVER_BOUNCE, msg);
			return;
		}
		if (target_done(x->d, t)) {
			log_info("%s: to=<%s>, file=%s, already delivered",
			    x->d->queue_id, x->d->rcpt, t);
			return;
		}
		buf_init(&out, 4096);
		st = run_as(&x->pv, write_file, x->d, t, &out);
		if (st == DELIVER_SENT)
			target_mark(x->d, t);
		log_info("%s: to=<%s>, file=%s, status=%s (%s)", x->d->queue_id,
		    x->d->rcpt, t, st == DELIVER_SENT ? "sent" :
		    st == DELIVER_DEFER ? "deferred" : "bounced", buf_cstr(&out));
		result(x, st, buf_cstr(&out));
		buf_free(&out);
		return;
	}
	if (strncasecmp(t, ":include:", 9) == 0) {
		const char *path = t + 9;
		while (*path == ' ')
			path++;
		if (x->depth >= EXPAND_DEPTH_MAX) {
			result(x, DELIVER_BOUNCE, "5.4.6 :include: nesting too deep");
			return;
		}
		if (*path != '/') {
			snprintf(msg, sizeof(msg), "5.3.0 :include: needs an "
			    "absolute path: %.400s", path);
			result(x, DELIVER_BOUNCE, msg);
			return;
		}
		x->depth++;
		expand_include(x, path);
		x->depth--;
		return;
	}
	if (is_self(x, t)) {
		x->self = 1;
		return;
	}
	/* an address: qualify, then re-submit */
	{
		char *a = strchr(t, '@') != NULL ? xstrdup(t) :
		    xasprintf("%s@%s", t, config_str("myorigin"));
		size_t i;
		for (i = 0; i < x->naddrs; i++)
			if (strcasecmp(x->addrs[i], a) == 0)
				break;
		if (i < x->naddrs) {
			free(a);
			return;
		}
		x->addrs = xreallocarray(x->addrs, x->naddrs + 1, sizeof(char *));
		x->addrs[x->naddrs++] = a;
	}
}

static int
expand_one(void *arg, char *t)
{
	expand_token(arg, t);
	return 0;
}

/* Expand every target of a list value (alias_parse.c). */
static void
expand_list(struct xctx *x, const char *list)
{
	if (alias_split(list, expand_one, x) < 0)
		result(x, DELIVER_BOUNCE, "5.3.0 alias entry too long");
}

/* ---- re-submission ---- */

struct resubmit {
	char **addrs;
	size_t n;
	const char *sender;
	/* DSN parameters of the new copy (RFC 3461 6.2.7.3) */
	int dsn;                /* pass ENVID, RET and ORCPT on */
	int notify;
	char id[QUEUE_ID_LEN + 1];
};

/* The DSN action of the recipient last expanded (forward_dsn_action). */
static int dsn_action = DELIVER_DSN_DELIVERED;

int
forward_dsn_action(void)
{
	int a = dsn_action;

	dsn_action = DELIVER_DSN_DELIVERED;
	return a;
}

static int
resubmit_fn(const struct delivery *d, void *arg, struct buf *text)
{
	struct resubmit *rs = arg;
	struct cleanup_rcpt *r = xcalloc(rs->n, sizeof(*r));
	struct cleanup *c;
	struct qfile qf;
	char *err = NULL, *dt, *orcpt = NULL, *envid = NULL;
	size_t i;
	int ret = 0;
	const char *qdir = service_queue_dir() != NULL ? service_queue_dir() :
	    config_str("queue_directory");

	if (rs->dsn) {
		/* an alias, not a list: ENVID, RET and ORCPT go with the
		 * copy (ENVID and RET live in the queue file) */
		orcpt = *d->orcpt ? xstrdup(d->orcpt) :
		    xasprintf("rfc822;%s", d->rcpt);
		if (d->qpath != NULL && qfile_open(d->qpath, 0, &qf, &err) == 0) {
			envid = qf.envid != NULL ? xstrdup(qf.envid) : NULL;
			ret = qf.ret;
			qfile_close(&qf);
		}
		free(err);
		err = NULL;
	}
	for (i = 0; i < rs->n; i++) {
		r[i].addr = rs->addrs[i];
		r[i].orcpt = orcpt;
		r[i].notify = rs->notify;
	}
	c = cleanup_open(qdir, rs->sender, r, rs->n, envid, ret, NULL, &err);
	free(r);
	free(orcpt);
	free(envid);
	if (c == NULL) {
		buf_printf(text, "%s", err);
		free(err);
		return *buf_cstr(text) == '5' ? DELIVER_BOUNCE : DELIVER_DEFER;
	}
	/* loop detection on the next hop through local delivery */
	dt = xasprintf("Delivered-To: %s", d->rcpt);
	cleanup_line(c, dt, strlen(dt), 1);
	free(dt);
	if (cleanup_copy_fd(c, d->fd, d->content_off, d->content_len, 0) < 0) {
		cleanup_abort(&c);
		buf_set(text, "4.3.0 cannot read the queue file");
		return DELIVER_DEFER;
	}
	if (cleanup_finish(c, 1, &err) < 0 ||
	    queue_fsync_dir(qdir, QUEUE_INCOMING) < 0) {
		buf_printf(text, "4.3.0 cannot queue the forwarded copy: %s",
		    err != NULL ? err : strerror(errno));
		free(err);
		cleanup_abort(&c);
		return DELIVER_DEFER;
	}
	buf_printf(text, "2.0.0 forwarded as %s", cleanup_id(c));
	cleanup_free(&c);
	service_trigger_wake("qmgr");
	return DELIVER_SENT;
}

static void
resubmit(struct xctx *x)
{
	struct resubmit rs;
	struct privs owner;
	struct passwd *pw;
	struct buf out;
	int st;
	char *sender;

	/* addresses forwarded in an earlier attempt are not sent again */
	{
		size_t i, k = 0;
		for (i = 0; i < x->naddrs; i++) {
			if (target_done(x->d, x->addrs[i])) {
				log_info("%s: to=<%s>, forward to %s already done",
				    x->d->queue_id, x->d->rcpt, x->addrs[i]);
				free(x->addrs[i]);
				continue;
			}
			x->addrs[k++] = x->addrs[i];
		}
		x->naddrs = k;
	}
	if (x->naddrs == 0)
		return;
	sender = list_sender(x);
	rs.addrs = x->addrs;
	rs.n = x->naddrs;
	rs.sender = sender;
	/* DSN (RFC 3461 6.2.7.3, as Postfix's local): a list (new sender)
	 * starts afresh; an alias passes NOTIFY on, less SUCCESS when it
	 * has several targets (the sender gets "expanded" now) */
	rs.dsn = !x->is_list;
	rs.notify = !rs.dsn ? 0 : x->dsn_total < 2 ? x->d->notify :
	    x->d->notify == DSN_NOTIFY_SUCCESS ? DSN_NOTIFY_NEVER :
	    x->d->notify & ~DSN_NOTIFY_SUCCESS;
	memset(&owner, 0, sizeof(owner));
	owner.uid = owner.gid = -1;
	/* the queue belongs to mail_owner */
	pw = getpwnam(config_str("mail_owner"));
	if (pw != NULL && geteuid() == 0)
		privs_set(&owner, pw);
	buf_init(&out, 4096);
	st = run_as(&owner, resubmit_fn, x->d, &rs, &out);
	log_info("%s: to=<%s>, forwarded to %zu address%s%s%s, status=%s (%s)",
	    x->d->queue_id, x->d->rcpt, x->naddrs, x->naddrs == 1 ? "" : "es",
	    strcmp(sender, x->d->sender) != 0 ? " from " : "",
	    strcmp(sender, x->d->sender) != 0 ? sender : "",
	    st == DELIVER_SENT ? "sent" : st == DELIVER_DEFER ? "deferred" :
	    "bounced", buf_cstr(&out));
	if (st == DELIVER_SENT) {
		size_t i;
		for (i = 0; i < x->naddrs; i++)
			target_mark(x->d, x->addrs[i]);
	}
	result(x, st, buf_cstr(&out));
	buf_free(&out);
	privs_free(&owner);
	free(sender);
}

static int
finish(struct xctx *x)
{
	size_t i;
	int r;

	/* the DSN action: "expanded" for several targets, none for one
	 * address that carries NOTIFY on, "delivered" otherwise (a list
	 * with its own sender, a file, a command, the user's mailbox) */
	x->dsn_total = x->nfinal + x->self + (int)x->naddrs;
	if (x->naddrs > 0) {
		char *ls = list_sender(x);
		x->is_list = strcmp(ls, x->d->sender) != 0;
		free(ls);
	}
	if (x->is_list)
		dsn_action = DELIVER_DSN_DELIVERED;
	else if (x->dsn_total >= 2)
		dsn_action = DELIVER_DSN_EXPANDED;
	else if (dsn_action != DELIVER_DSN_EXPANDED)
		dsn_action = x->naddrs == 1 ? DELIVER_DSN_QUIET :
		    DELIVER_DSN_DELIVERED;
	resubmit(x);
	for (i = 0; i < x->naddrs; i++)
		free(x->addrs[i]);
	free(x->addrs);
	privs_free(&x->pv);
	if (x->status != DELIVER_SENT)
		return x->status;
	if (x->self)
		return -1;      /* and the user's own mailbox */
	r = x->status;
	if (x->text->len == 0)
		buf_set(x->text, "2.0.0 alias expanded to nothing");
	else if (dsn_action == DELIVER_DSN_EXPANDED) {
		/* the notice's words, as Postfix's: "alias expanded" */
		const char *sp = strchr(buf_cstr(x->text), ' ');
		char *t = xasprintf("2.0.0 alias expanded (%s)",
		    sp != NULL ? sp + 1 : buf_cstr(x->text));
		buf_set(x->text, t);
		free(t);
	}
	return r;
}

/* ---- .forward ---- */

/* forward_path with $home and $user (also ${...}) substituted. */
static char *
forward_files(const struct passwd *pw)
{
	const char *raw = config_raw("forward_path");
	struct buf b;
	const char *p;
	char *r;

	buf_init(&b, 8192);
	for (p = raw; *p != '\0'; p++) {
		if (*p == '$') {
			const char *n = p + 1;
			int brace = *n == '{';
			size_t len;
			if (brace)
				n++;
			len = strspn(n, "abcdefghijklmnopqrstuvwxyz_");
			if (len == 4 && strncmp(n, "home", 4) == 0) {
				buf_appends(&b, pw->pw_dir);
				p = n + len + (brace && n[len] == '}') - 1;
				continue;
			}
			if (len == 4 && strncmp(n, "user", 4) == 0) {
				buf_appends(&b, pw->pw_name);
				p = n + len + (brace && n[len] == '}') - 1;
				continue;
			}
		}
		buf_appendc(&b, *p);
	}
	r = config_expand(buf_cstr(&b));
	buf_free(&b);
	return r;
}

static int
forward_user(const struct delivery *d, const char *user, struct buf *text)
{
	struct passwd *pw = getpwnam(user);
	char *files, **v;
	size_t i;
	int r = -1;

	if (pw == NULL)
		return -1;
	files = forward_files(pw);
	v = str_split(files, STR_LIST_SEPS, NULL);
	free(files);
	for (i = 0; v[i] != NULL; i++) {
		struct stat st;
		struct privs upv;
		int fd;
		char *data;
		ssize_t n;
		struct xctx x;
		/* with the user's rights: a .forward hard-linked to a file only
		 * root may read (or in a directory the user cannot search) is
		 * not read */
		memset(&upv, 0, sizeof(upv));
		upv.uid = (long)pw->pw_uid;
		upv.gid = (long)pw->pw_gid;
		fd = open_list_as(&upv, v[i]);
		if (fd < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				log_warn("%s: %s: cannot open as %s: %s: "
				    "ignored", d->queue_id, v[i], user,
				    strerror(errno));
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (st.st_uid != pw->pw_uid && st.st_uid != 0) ||
		    (st.st_mode & 022) || st.st_size > LIST_FILE_MAX) {
			log_warn("%s: %s: not owned by %s, writable by others, "
			    "or too large: ignored", d->queue_id, v[i], user);
			close(fd);
			continue;
		}
		data = xcalloc(1, (size_t)st.st_size + 1);
		n = read(fd, data, (size_t)st.st_size);
		close(fd);
		data[n > 0 ? n : 0] = '\0';
		{
			char *list = alias_file_list(data, n > 0 ? (size_t)n : 0);
			free(data);
			data = list;
		}
		memset(&x, 0, sizeof(x));
		x.d = d;
		x.user = user;
		x.klass = X_FORWARD;
		privs_set(&x.pv, pw);
		x.status = DELIVER_SENT;
		x.text = text;
		buf_reset(text);
		expand_list(&x, data);
		free(data);
		r = finish(&x);
		break;
	}
	str_split_free(&v);
	return r;
}

int
forward_deliver(const struct delivery *d, const char *user, struct buf *text)
{
	const char *v;
	int r = 0;

	if (alias_maps != NULL)
		r = maplist_lookup(alias_maps, user, &v);
	if (r < 0) {
		buf_set(text, "4.3.0 alias_maps lookup failed");
		return DELIVER_DEFER;
	}
	if (r == 1) {
		struct xctx x;
		char *list = xstrdup(v);
		memset(&x, 0, sizeof(x));
		x.d = d;
		x.user = user;
		x.klass = X_ALIAS;
		x.trusted = 1;
		privs_default(&x.pv);
		x.status = DELIVER_SENT;
		x.text = text;
		buf_reset(text);
		expand_list(&x, list);
		free(list);
		r = finish(&x);
		if (r != -1)
			return r;
		/* the alias names the user itself: .forward, then mailbox */
		buf_reset(text);
	}
	return forward_user(d, user, text);
}
