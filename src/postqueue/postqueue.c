/*
 * postqueue.c - the queue tools with Postfix's names: `tempest mailq` /
 * `postqueue -p` (listing with deferral reasons, maildrop/ included as
 * Postfix's showq does), `postqueue -j` (one JSON object per message),
 * `postqueue -f` (flush), `postqueue -i ID` (that deferred message
 * now), `postsuper -d (delete), -h (hold), -H (release), -r (requeue
 * through cleanup again) ID|ALL [queue...]` (queue names after the
 * options limit it to those queues), and `postcat
 * [-ehb] -q ID` (or a queue file's path): its envelope and content.
 *
 * A message in active/ belongs to qmgr: `-h` asks qmgr (trigger "H<id>")
 * to put it on hold when its current delivery attempt ends, and moves it
 * itself only when qmgr cannot be reached.
 *
 * Input: command-line arguments of a local administrator, queue files
 * (parsed by lib-queue, which checks every length), maildrop files
 * written by any local user (parsed by lib-queue's maildrop_read, which
 * treats them as hostile) and defer/ID logs written by qmgr (printed
 * with control characters escaped).
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "mem.h"
#include "queue_file.h"
#include "roles.h"
#include "service.h"
#include "smtp_parse.h"
#include "str.h"

/* The queues a message can be in, in mailq order. */
static const char *const queues[] = {
	QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD,
};

static const char *qdir;
/* a queue directory this user may not list: no listing is complete */
static int unreadable;

static int in_queue(const char *queue, const char *id);

static void
tool_init(void)
{
	config_load_or_die(ctl_config_dir());
	qdir = config_str("queue_directory");
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids in one queue directory, sorted. */
static char **
queue_ids(const char *queue, size_t *n_r)
{
	char *dir = xasprintf("%s/%s", qdir, queue);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;

	if (d == NULL && errno != ENOENT) {
		fprintf(stderr, "tempest: %s: %s\n", dir, strerror(errno));
		unreadable = 1;
	}
	free(dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (!queue_valid_id(e->d_name))
				continue;
			v = xreallocarray(v, n + 2, sizeof(*v));
			v[n++] = xstrdup(e->d_name);
			v[n] = NULL;
		}
		closedir(d);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), id_cmp);
	*n_r = n;
	return v;
}

/* The recorded deferral reason of rcpt (malloc'ed) or NULL. */
static char *
defer_reason(const char *id, const char *rcpt)
{
	char *path = xasprintf("%s/defer/%s", qdir, id), *line = NULL, *r = NULL;
	size_t cap = 0, n = strlen(rcpt);
	FILE *fp = fopen(path, "r");

	free(path);
	if (fp == NULL)
		return NULL;
	while (getline(&line, &cap, fp) > 0) {
		char *t;
		if (strncmp(line, rcpt, n) != 0 || line[n] != '\t')
			continue;
		t = strchr(line + n + 1, '\t');
		if (t == NULL)
			continue;
		t++;
		t[strcspn(t, "\n")] = '\0';
		/* drop the DSN code, as Postfix shows only the text */
		if (strchr(t, ' ') != NULL && t[1] == '.')
			t = strchr(t, ' ') + 1;
		r = xstrdup(t);
		break;
	}
	free(line);
	fclose(fp);
	return r;
}

/* Printable copy: control characters as '?'. */
static char *
clean(const char *s)
{
	char *r = xstrdup(s), *p;

	for (p = r; *p != '\0'; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
	return r;
}

static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 32 || c == 127)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* One message of the listing (Postfix's showq format or JSON). */
struct entry {
	const char *queue;
	const char *id;
	time_t arrival;
	size_t size;
	const char *sender;
	char *const *addrs;     /* pending recipients */
	size_t n;
	int reasons;            /* look up defer/ID */
};

static void
print_entry(int json, const struct entry *e, size_t nmsg)
{
	char *snd = clean(e->sender), date[64];
	size_t k;
	struct tm tm;

	if (json) {
		const char *sep = "";
		printf("{\"queue_name\": ");
		json_str(stdout, e->queue);
		printf(", \"queue_id\": ");
		json_str(stdout, e->id);
		printf(", \"arrival_time\": %lld, \"message_size\": "
		    "%zu, \"forced_expire\": false, \"sender\": ",
		    (long long)e->arrival, e->size);
		json_str(stdout, e->sender);
		printf(", \"recipients\": [");
		for (k = 0; k < e->n; k++) {
			char *why = e->reasons ? defer_reason(e->id,
			    e->addrs[k]) : NULL;
			printf("%s{\"address\": ", sep);
			json_str(stdout, e->addrs[k]);
			if (why != NULL) {
				printf(", \"delay_reason\": ");
				json_str(stdout, why);
				free(why);
			}
			printf("}");
			sep = ", ";
		}
		printf("]}\n");
	} else {
		char *last = NULL;
		if (nmsg == 0)
			printf("-Queue ID-  --Size-- ----Arrival "
			    "Time---- -Sender/Recipient-------\n");
		localtime_r(&e->arrival, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S", &tm);
		printf("%-12s%c%8zu %s  %s\n", e->id,
		    strcmp(e->queue, QUEUE_ACTIVE) == 0 ? '*' :
		    strcmp(e->queue, QUEUE_HOLD) == 0 ? '!' : ' ',
		    e->size, date, *snd ? snd : "MAILER-DAEMON");
		for (k = 0; k < e->n; k++) {
			char *why = e->reasons ? defer_reason(e->id,
			    e->addrs[k]) : NULL, *a;
			if (why != NULL && (last == NULL ||
			    strcmp(last, why) != 0)) {
				char *c = clean(why);
				printf("(%s)\n", c);
				free(c);
			}
			free(last);
			last = why;
			a = clean(e->addrs[k]);
			printf("%42s %s\n", "", a);
			free(a);
		}
		free(last);
		printf("\n");
	}
	free(snd);
}

/* A maildrop/ file name: what `tempest sendmail` creates (hex). */
static int
maildrop_name(const char *name)
{
	size_t n = strspn(name, "0123456789ABCDEF");

	return n >= 8 && n <= 32 && name[n] == '\0';
}

/* Local submissions not yet picked up (Postfix lists them too). */
static void
list_maildrop(int json, size_t *nmsg, size_t *total)
{
	char *dir = xasprintf("%s/%s", qdir, QUEUE_MAILDROP);
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = xcalloc(1, sizeof(char *));
	size_t n = 0, i;

	if (d == NULL && errno != ENOENT) {
		fprintf(stderr, "tempest: %s: %s\n", dir, strerror(errno));
		unreadable = 1;
	}
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!maildrop_name(de->d_name))
				continue;
			names = xreallocarray(names, n + 2, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
			names[n] = NULL;
		}
		closedir(d);
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), id_cmp);
	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct maildrop md;
		const char *err;
		struct stat st;
		struct entry e;

		free(path);
		if (fd < 0)
			continue;       /* picked up meanwhile */
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (st.st_mode & 0777) != 0644) {
			close(fd);      /* still being written */
			continue;
		}
		if (maildrop_read(fd, &md, &err) < 0) {
			/* pickup will set it aside; nothing to show */
			maildrop_free(&md);
			close(fd);
			continue;
		}
		close(fd);
		memset(&e, 0, sizeof(e));
		e.queue = QUEUE_MAILDROP;
		e.id = names[i];
		e.arrival = st.st_mtime;
		e.size = st.st_size > md.content_off ?
		    (size_t)(st.st_size - md.content_off) : 0;
		e.sender = md.sender != NULL ? md.sender : "";
		e.addrs = md.rcpts;
		e.n = md.nrcpt;
		print_entry(json, &e, *nmsg);
		*total += e.size;
		(*nmsg)++;
		maildrop_free(&md);
	}
	str_split_free(&names);
	free(dir);
}

static int
arrival_cmp(const void *a, const void *b)
{
	const struct qfile *x = a, *y = b;

	if (x->arrival_us != y->arrival_us)
		return x->arrival_us < y->arrival_us ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
list_queue(int json)
{
	size_t q, i, k, total = 0, nmsg = 0;

	list_maildrop(json, &nmsg, &total);
	for (q = 0; q < NELEM(queues); q++) {
		size_t n, nqf = 0;
		char **ids = queue_ids(queues[q], &n);
		struct qfile *qfs = xcalloc(n + 1, sizeof(*qfs));
		for (i = 0; i < n; i++) {
			char *path = xasprintf("%s/%s/%s", qdir, queues[q], ids[i]);
			char *err = NULL;
			if (qfile_open(path, 0, &qfs[nqf], &err) < 0) {
				/* being written, or gone meanwhile */
				free(err);
				free(path);
				continue;
			}
			free(path);
			/* only the envelope is listed: no descriptor kept
			 * for each message of a long queue while sorting */
			close(qfs[nqf].fd);
			qfs[nqf].fd = -1;
			nqf++;
		}
		str_split_free(&ids);
		/* oldest arrival first (an id tells the time its file was
		 * reserved, not when the message came) */
		if (nqf > 1)
			qsort(qfs, nqf, sizeof(*qfs), arrival_cmp);
		for (i = 0; i < nqf; i++) {
			struct qfile *qf = &qfs[i];
			char **addrs = xcalloc(qf->nrcpt + 1, sizeof(char *));
			struct entry e;
			memset(&e, 0, sizeof(e));
			for (k = 0; k < qf->nrcpt; k++)
				if (!qf->rcpts[k].done)
					addrs[e.n++] = qf->rcpts[k].addr;
			e.queue = queues[q];
			e.id = qf->id;
			e.arrival = (time_t)(qf->arrival_us / 1000000);
			e.size = qf->content_len;
			e.sender = qf->sender;
			e.addrs = addrs;
			e.reasons = 1;
			print_entry(json, &e, nmsg);
			free(addrs);
			total += qf->content_len;
			nmsg++;
			qfile_close(qf);
		}
		free(qfs);
	}
	if (unreadable) {
		fprintf(stderr, "tempest: the queue cannot be listed as this "
		    "user (run mailq as root or as mail_owner)\n");
		return 1;
	}
	if (!json) {
		if (nmsg == 0)
			printf("Mail queue is empty\n");
		else
			printf("-- %zu Kbytes in %zu Request%s.\n",
			    (total + 1023) / 1024, nmsg, nmsg == 1 ? "" : "s");
	}
	return 0;
}

static int
flush(void)
{
	if (service_trigger_send("qmgr", "F", 1) < 0) {
		fprintf(stderr, "tempest: flush: cannot reach qmgr (is the mail "
		    "system running?): %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int
mailq_main(int argc, char **argv)
{
	int json = argc > 1 && strcmp(argv[1], "-j") == 0;

	if (argc > 2 || (argc > 1 && !json)) {
		ctl_usage("mailq");
		return 2;
	}
	tool_init();
	return list_queue(json);
}

/* postqueue -i: one deferred message now (qmgr's trigger "Q<id>"). */
static int
deliver_now(const char *id)
{
	char trig[2 + QUEUE_ID_LEN];

	if (!queue_valid_id(id) || !in_queue(QUEUE_DEFERRED, id)) {
		fprintf(stderr, "tempest: postqueue: %s: not in the deferred "
		    "queue\n", id);
		return 1;
	}
	snprintf(trig, sizeof(trig), "Q%s", id);
	if (service_trigger_send("qmgr", trig, strlen(trig)) < 0) {
		fprintf(stderr, "tempest: postqueue: cannot reach qmgr (is the "
		    "mail system running?): %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int
postqueue_main(int argc, char **argv)
{
	struct { int c; const char *arg; } *acts;
	size_t nacts = 0;
	int c, r = 0;

	tool_init();
	acts = xcalloc((size_t)argc + 1, sizeof(*acts));
	optind = 1;
	while ((c = getopt(argc, argv, "c:pjfi:")) != -1) {
		if (c == 'c')
			continue;       /* the config dir is the global -c */
		if (c == '?')
			goto usage;
		acts[nacts].c = c;
		acts[nacts++].arg = optarg;
	}
	/* nothing is done before the whole command line is known good */
	if (nacts == 0 || optind != argc)
		goto usage;
	for (size_t i = 0; i < nacts; i++)
		r |= acts[i].c == 'p' ? list_queue(0) : acts[i].c == 'j' ?
		    list_queue(1) : acts[i].c == 'f' ? flush() :
		    deliver_now(acts[i].arg);
	free(acts);
	return r;
usage:
	free(acts);
	ctl_usage("postqueue");
	return 2;
}

/* ---- postsuper ---- */

enum op { OP_DELETE, OP_HOLD, OP_RELEASE, OP_REQUEUE };

static void
remove_logs(const char *id)
{
	char *p = xasprintf("%s/defer/%s", qdir, id);

	(void)unlink(p);
	free(p);
	p = xasprintf("%s/defer/%s.warned", qdir, id);
	(void)unlink(p);
	free(p);
	p = xasprintf("%s/defer/%s.done", qdir, id);
	(void)unlink(p);
	free(p);
}

/* An unfinished file in incoming/ (mode 0600): a message still being
 * written, or a file an smtpd process holds reserved for its next one
 * (doc/queue-format.md).  Not a message yet: postsuper leaves it to its
 * writer (or to qmgr's sweep when the writer is gone). */
static int
unfinished(const char *queue, const char *id)
{
	char *p;
	struct stat st;
	int r;

	if (strcmp(queue, QUEUE_INCOMING) != 0)
		return 0;
	p = xasprintf("%s/%s/%s", qdir, queue, id);
	r = lstat(p, &st) == 0 && (st.st_mode & 0777) != QUEUE_MODE_COMPLETE;
	free(p);
	return r;
}

static int
move(const char *from, const char *id, const char *to, int touch)
{
	char *src, *dst;
	int r;

	if (unfinished(from, id))
		return 0;
	src = xasprintf("%s/%s/%s", qdir, from, id);
	dst = xasprintf("%s/%s/%s", qdir, to, id);
	r = rename(src, dst);

	if (r == 0 && touch)
		(void)utimes(dst, NULL);        /* due now */
	if (r < 0 && errno != ENOENT)
		fprintf(stderr, "tempest: postsuper: %s: %s\n", src,
		    strerror(errno));
	free(src);
	free(dst);
	return r == 0;
}

/* Temporarily act as mail_owner (files we create belong to the queue
 * owner, as those written by the daemons).  on = 0 returns to root. */
static void
as_owner(int on)
{
	static struct passwd pw_saved;
	static int have;
	struct passwd *pw;

	if (getuid() != 0)
		return;
	if (!on) {
		if (have && (seteuid(0) < 0 || setegid(0) < 0))
			fatal("cannot return to root: %s", strerror(errno));
		return;
	}
	pw = getpwnam(config_str("mail_owner"));
	if (pw == NULL)
		fatal("mail_owner %s: no such user", config_str("mail_owner"));
	pw_saved.pw_uid = pw->pw_uid;
	pw_saved.pw_gid = pw->pw_gid;
	if (setegid(pw_saved.pw_gid) < 0 || seteuid(pw_saved.pw_uid) < 0)
		fatal("cannot become %s: %s", config_str("mail_owner"),
		    strerror(errno));
	have = 1;
}

/*
 * Requeue: run the message through cleanup again (virtual_alias_maps
 * and the header rules apply anew), as a new queue file in incoming/,
 * then remove the old one.  The old file is parked in hold/ meanwhile,
 * so neither qmgr nor a crash can lose or double it.  The new file gets
 * a new id and arrival time.  1 done, 0 not found, -1 error.
 */
static int
requeue(const char *from, const char *id)
{
	char *path, *err = NULL;
	struct cleanup_rcpt *r;
	struct cleanup *c;
	struct qfile qf;
	size_t i, n = 0;

	if (strcmp(from, QUEUE_HOLD) != 0 && !move(from, id, QUEUE_HOLD, 0))
		return 0;
	path = xasprintf("%s/%s/%s", qdir, QUEUE_HOLD, id);
	if (qfile_open(path, 0, &qf, &err) < 0) {
		fprintf(stderr, "tempest: postsuper: %s: %s\n", id, err);
		free(err);
		free(path);
		if (strcmp(from, QUEUE_HOLD) != 0)
			(void)move(QUEUE_HOLD, id, from, 0);
		return -1;
	}
	r = xcalloc(qf.nrcpt + 1, sizeof(*r));
	for (i = 0; i < qf.nrcpt; i++)
		if (!qf.rcpts[i].done) {
			r[n].addr = qf.rcpts[i].addr;
			r[n].orcpt = qf.rcpts[i].orcpt;
			r[n].notify = qf.rcpts[i].notify;
			n++;
		}
	as_owner(1);
	c = n > 0 ? cleanup_open(qdir, qf.sender, r, n, qf.envid, qf.ret,
	    qf.attrs, &err) : NULL;
	free(r);
	if (c != NULL) {
		if (cleanup_copy_fd(c, qf.fd, qf.content_off,
		    qf.content_len, 0) < 0) {
			err = xstrdup("cannot read the queue file");
			cleanup_abort(&c);
		} else if (cleanup_finish(c, 1, &err) < 0 ||
		    queue_fsync_dir(qdir, QUEUE_INCOMING) < 0) {
			if (err == NULL)
				err = xstrdup(strerror(errno));
			cleanup_abort(&c);
		}
	} else if (err == NULL)
		err = xstrdup("no recipient left");
	if (c == NULL) {
		as_owner(0);
		fprintf(stderr, "tempest: postsuper: %s: not requeued: %s\n", id,
		    err);
		free(err);
		qfile_close(&qf);
		free(path);
		if (strcmp(from, QUEUE_HOLD) != 0)
			(void)move(QUEUE_HOLD, id, from, 0);
		return -1;
	}
	if (unlink(path) < 0)
		fprintf(stderr, "tempest: postsuper: %s: %s\n", path,
		    strerror(errno));
	remove_logs(id);
	as_owner(0);
	printf("postsuper: %s: requeued as %s\n", id, cleanup_id(c));
	cleanup_free(&c);
	qfile_close(&qf);
	free(path);
	return 1;
}

/* Whether id is in queue. */
static int
in_queue(const char *queue, const char *id)
{
	char *p = xasprintf("%s/%s/%s", qdir, queue, id);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* The queues postsuper's operands name (bit i: queues[i]); all when
 * none is named. */
static unsigned only_queues = ~0u;

static int
allowed(const char *queue)
{
	for (size_t q = 0; q < NELEM(queues); q++)
		if (strcmp(queues[q], queue) == 0)
			return (only_queues >> q) & 1;
	return 0;
}

/* Apply op to id in the queues it may be in (of those allowed); 1 if
 * done, 0 not found, -1 failed (reported). */
static int
apply(enum op op, const char *id)
{
	size_t q;
	char trig[2 + QUEUE_ID_LEN];
	int r;

	switch (op) {
	case OP_DELETE:
		for (q = 0; q < NELEM(queues); q++) {
			char *p;
			int ok;
			if (!allowed(queues[q]) || unfinished(queues[q], id))
				continue;
			p = xasprintf("%s/%s/%s", qdir, queues[q], id);
			ok = unlink(p) == 0;
			free(p);
			if (ok) {
				remove_logs(id);
				printf("postsuper: %s: removed\n", id);
				return 1;
			}
		}
		return 0;
	case OP_HOLD:
		if ((allowed(QUEUE_INCOMING) && move(QUEUE_INCOMING, id, QUEUE_HOLD, 0)) ||
		    (allowed(QUEUE_DEFERRED) && move(QUEUE_DEFERRED, id, QUEUE_HOLD, 0))) {
			printf("postsuper: %s: placed on hold\n", id);
			return 1;
		}
		if (!allowed(QUEUE_ACTIVE) || !in_queue(QUEUE_ACTIVE, id))
			return 0;
		/* qmgr owns active messages: it puts this one on hold when
		 * its delivery attempt is over (at once if none runs) */
		snprintf(trig, sizeof(trig), "H%s", id);
		if (service_trigger_send("qmgr", trig, strlen(trig)) == 0) {
			printf("postsuper: %s: placed on hold (after the "
			    "current delivery attempt)\n", id);
			return 1;
		}
		/* no qmgr running: nobody works on it */
		if (move(QUEUE_ACTIVE, id, QUEUE_HOLD, 0)) {
			printf("postsuper: %s: placed on hold\n", id);
			return 1;
		}
		return 0;
	case OP_RELEASE:
		if (allowed(QUEUE_HOLD) && move(QUEUE_HOLD, id, QUEUE_DEFERRED, 1)) {
			printf("postsuper: %s: released from hold\n", id);
			return 1;
		}
		return 0;
	case OP_REQUEUE:
		/* (incoming/ is qmgr's to take: it has just been cleaned) */
		if ((allowed(QUEUE_DEFERRED) && (r = requeue(QUEUE_DEFERRED, id)) != 0) ||
		    (allowed(QUEUE_HOLD) && in_queue(QUEUE_HOLD, id) &&
		    (r = requeue(QUEUE_HOLD, id)) != 0))
			return r;
		return 0;
	}
	return 0;
}

static int
postsuper_run(enum op op, const char *arg)
{
	size_t q, i, n, count = 0;
	int r;
	static const char *const what[] = { "Deleted", "Placed on hold",
	    "Released from hold", "Requeued" };

	if (strcmp(arg, "ALL") == 0) {
		for (q = 0; q < NELEM(queues); q++) {
			char **ids;
			if (!allowed(queues[q]) ||
			    (strcmp(queues[q], QUEUE_ACTIVE) == 0 &&
			    op != OP_DELETE && op != OP_HOLD))
				continue;
			ids = queue_ids(queues[q], &n);
			for (i = 0; i < n; i++)
				count += apply(op, ids[i]) > 0;
			str_split_free(&ids);
		}
	} else if (!queue_valid_id(arg)) {
		fprintf(stderr, "tempest: postsuper: invalid queue id: %s\n", arg);
		return 1;
	} else if ((r = apply(op, arg)) < 0) {
		return 1;
	} else if (r == 0) {
		fprintf(stderr, "tempest: postsuper: %s: no such message%s\n",
		    arg, op == OP_REQUEUE ? " in deferred or hold "
		    "(active messages: try again after their delivery "
		    "attempt)" : "");
		return 1;
	}
	else
		count = 1;
	printf("postsuper: %s: %zu message%s\n", what[op], count,
	    count == 1 ? "" : "s");
	if (unreadable) {
		fprintf(stderr, "tempest: postsuper: a queue could not be "
		    "read as this user: ALL was not all\n");
		return 1;
	}
	if (count > 0 && op == OP_REQUEUE)
		(void)service_trigger_send("qmgr", "I", 1);
	if (count > 0 && op == OP_RELEASE)
		(void)service_trigger_send("qmgr", "D", 1);
	return 0;
}

int
postsuper_main(int argc, char **argv)
{
	struct { enum op op; const char *arg; } *ops;
	size_t nops = 0;
	int c, r = 0;

	tool_init();
	ops = xcalloc((size_t)argc + 1, sizeof(*ops));
	optind = 1;
	while ((c = getopt(argc, argv, "c:d:h:H:r:")) != -1) {
		enum op op;
		switch (c) {
		case 'c':
			continue;
		case 'd': op = OP_DELETE; break;
		case 'h': op = OP_HOLD; break;
		case 'H': op = OP_RELEASE; break;
		case 'r': op = OP_REQUEUE; break;
		default:
			goto usage;
		}
		ops[nops].op = op;
		ops[nops++].arg = optarg;
	}
	if (nops == 0)
		goto usage;
	/* operands: the queues to act in (Postfix's postsuper [queue...]) */
	if (optind < argc)
		only_queues = 0;
	for (int i = optind; i < argc; i++) {
		size_t q;
		for (q = 0; q < NELEM(queues) && strcmp(queues[q], argv[i]) != 0; q++)
			;
		if (q == NELEM(queues)) {
			fprintf(stderr, "tempest: postsuper: %s: not a queue "
			    "(incoming, active, deferred or hold); nothing "
			    "done\n", argv[i]);
			free(ops);
			return 2;
		}
		only_queues |= 1u << q;
	}
	for (size_t i = 0; i < nops; i++)
		r |= postsuper_run(ops[i].op, ops[i].arg);
	free(ops);
	return r;
usage:
	free(ops);
	ctl_usage("postsuper");
	return 2;
}

/* ---- postcat ---- */

enum { CAT_ENVELOPE = 1, CAT_HEADER = 2, CAT_BODY = 4 };

static void
cat_time(const char *name, long long us)
{
	time_t t = (time_t)(us / 1000000);
	char when[64];

	strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", localtime(&t));
	printf("%s: %s\n", name, when);
}

static void
cat_field(const char *name, const char *value)
{
	char *v = clean(value);

	printf("%s: %s\n", name, v);
	free(v);
}

static void
cat_envelope(const struct qfile *qf)
{
	static const char *const ret[] = { "", "FULL", "HDRS" };

	printf("message_size: %zu\n", qf->content_len);
	cat_time("message_arrival_time", qf->arrival_us);
	if (qf->envid != NULL && *qf->envid != '\0')
		cat_field("dsn_envid", qf->envid);
	if (qf->ret > 0 && qf->ret <= 2)
		cat_field("dsn_ret", ret[qf->ret]);
	for (char **a = qf->attrs; a != NULL && *a != NULL; a++)
		cat_field("named_attribute", *a);
	cat_field("sender", qf->sender);
	for (size_t i = 0; i < qf->nrcpt; i++) {
		const struct qrcpt *r = &qf->rcpts[i];
		if (r->orcpt != NULL && *r->orcpt != '\0')
			cat_field("dsn_orig_rcpt", r->orcpt);
		if (r->notify != 0) {
			static const char *const bit[] = {
				"NEVER", "SUCCESS", "FAILURE", "DELAY" };
			const char *sep = "";
			printf("dsn_notify: ");
			for (size_t b = 0; b < NELEM(bit); b++)
				if (r->notify & (1 << b)) {
					printf("%s%s", sep, bit[b]);
					sep = ",";
				}
			printf("\n");
		}
		cat_field(r->done ? "done_recipient" : "recipient", r->addr);
	}
}

/* The content of qf: the header (up to its blank line) when want has
 * CAT_HEADER, the body when CAT_BODY; 0 or -1 (read error, said). */
static int
cat_content(const struct qfile *qf, const char *where, int want)
{
	char chunk[65536];
	size_t done = 0;
	int in_header = 1, at_bol = 1;

	while (done < qf->content_len) {
		size_t n = qf->content_len - done, i, from = 0;
		ssize_t got;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		got = pread(qf->fd, chunk, n, qf->content_off + (off_t)done);
		if (got <= 0) {
			fprintf(stderr, "tempest: postcat: %s: %s\n", where,
			    got < 0 ? strerror(errno) : "cut short");
			return -1;
		}
		for (i = 0; in_header && i < (size_t)got; i++) {
			if (chunk[i] == '\n' && at_bol) {
				/* the blank line belongs to the header */
				if (want & CAT_HEADER)
					fwrite(chunk, 1, i + 1, stdout);
				from = i + 1;
				in_header = 0;
			}
			at_bol = chunk[i] == '\n';
		}
		if (in_header && (want & CAT_HEADER))
			fwrite(chunk, 1, (size_t)got, stdout);
		else if (!in_header && (want & CAT_BODY))
			fwrite(chunk + from, 1, (size_t)got - from, stdout);
		done += (size_t)got;
	}
	return 0;
}

/* Print the queue file at path (named where; flags for qfile_open():
 * QF_ANY_NAME for a file given by its path, perhaps a copy); 0, 1 not
 * readable. */
static int
cat_file(const char *path, const char *where, int flags, int want)
{
	struct qfile qf;
	char *err = NULL;
	int r = 0;

	if (qfile_open(path, flags, &qf, &err) < 0) {
		fprintf(stderr, "tempest: postcat: %s: %s\n", where, err);
		free(err);
		return 1;
	}
	if (want & CAT_ENVELOPE) {
		printf("*** ENVELOPE RECORDS %s ***\n", where);
		cat_envelope(&qf);
	}
	if (want & (CAT_HEADER | CAT_BODY)) {
		printf("*** MESSAGE CONTENTS %s ***\n", where);
		if (cat_content(&qf, where, want) < 0)
			r = 1;
	}
	printf("*** MESSAGE FILE END %s ***\n", where);
	qfile_close(&qf);
	return r;
}

int
postcat_main(int argc, char **argv)
{
	int c, want = 0, by_id = 0, r = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "c:qehb")) != -1) {
		switch (c) {
		case 'c': break;        /* the config dir is the global -c */
		case 'q': by_id = 1; break;
		case 'e': want |= CAT_ENVELOPE; break;
		case 'h': want |= CAT_HEADER; break;
		case 'b': want |= CAT_BODY; break;
		default:
			ctl_usage("postcat");
			return 2;
		}
	}
	if (optind == argc) {
		ctl_usage("postcat");
		return 2;
	}
	if (want == 0)
		want = CAT_ENVELOPE | CAT_HEADER | CAT_BODY;
	if (by_id)
		tool_init();
	for (int i = optind; i < argc; i++) {
		const char *id = argv[i];
		size_t q;
		if (!by_id) {
			r |= cat_file(id, id, QF_ANY_NAME, want);
			continue;
		}
		if (!queue_valid_id(id)) {
			fprintf(stderr, "tempest: postcat: %s: not a queue id\n", id);
			r = 1;
			continue;
		}
		for (q = 0; q < NELEM(queues) && !in_queue(queues[q], id); q++)
			;
		if (q == NELEM(queues)) {
			fprintf(stderr, "tempest: postcat: %s: not in the queue\n", id);
			r = 1;
			continue;
		}
		char *path = xasprintf("%s/%s/%s", qdir, queues[q], id);
		char *where = xasprintf("%s/%s", queues[q], id);
		r |= cat_file(path, where, 0, want);
		free(where);
		free(path);
	}
	return r;
}
