/*
 * vacation.c - `tempest vacation [-a address]... [-t interval] [-f db]
 * [-m msgfile] [-F from] [-S sendmail] [-j] [-I]`: an RFC 3834
 * auto-responder, used from a recipe (`| tempest vacation -a me@x`).
 *
 * It reads the message on stdin, decides with rc_vacation_check() (no
 * reply to the null sender, daemons, lists, bulk, auto-submitted mail or
 * mail not addressed to the user), replies at most once per sender per
 * interval (default 7 days; remembered in a file the user owns,
 * ~/.vacation.db) and sends the reply with the null envelope sender
 * through $SENDMAIL (default: this binary's sendmail command).
 *
 * Untrusted bytes: the message (header fields, bounded) and the db file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "recipe-vacation.h"
#include "roles.h"
#include "str.h"

#define VAC_MSG_MAX (64 * 1024 * 1024)
#define VAC_DB_MAX (16 * 1024 * 1024)
#define EX_USAGE_ 64
#define EX_TEMPFAIL_ 75

static int
read_fd(int fd, size_t max, struct buf *b)
{
	char tmp[65536];
	ssize_t r;

	buf_init(b, max);
	buf_appends(b, "");
	while ((r = read(fd, tmp, sizeof(tmp))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (buf_append(b, tmp, (size_t)r) < 0)
			return 0;       /* the header is what matters: keep the start */
	}
	return 0;
}

/* Look sender up in the db; 1 = replied within interval.  Rewrites the
 * db (dropping expired entries, adding sender with now) when update. */
static int
db_check(const char *path, const char *sender, long long interval,
    int update, char **err_r)
{
	char *lockpath = xasprintf("%s.lock", path), *tmp;
	int lfd, fd, seen = 0;
	struct buf db, out;
	time_t now = time(NULL);
	char *line, *save = NULL;

	lfd = open(lockpath, O_RDWR | O_CREAT, 0600);
	free(lockpath);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		*err_r = xasprintf("cannot lock %s: %s", path, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	buf_init(&db, VAC_DB_MAX);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		read_fd(fd, VAC_DB_MAX, &db);
		close(fd);
	}
	buf_init(&out, VAC_DB_MAX);
	buf_appends(&out, "");
	if (db.data != NULL) {
		for (line = strtok_r(db.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			char *sp = strchr(line, ' ');
			long long t;
			if (sp == NULL)
				continue;
			*sp = '\0';
			t = strtoll(line, NULL, 10);
			if (now - t >= interval && interval > 0)
				continue;       /* expired */
			if (strcasecmp(sp + 1, sender) == 0) {
				if (interval > 0)
					seen = 1;
				continue;
			}
			buf_printf(&out, "%s %s\n", line, sp + 1);
		}
	}
	if (update && !seen) {
		buf_printf(&out, "%lld %s\n", (long long)now, sender);
		tmp = xasprintf("%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, out.data, out.len) != (ssize_t)out.len ||
		    fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
			*err_r = xasprintf("cannot write %s: %s", path, strerror(errno));
			unlink(tmp);
			free(tmp);
			buf_free(&db), buf_free(&out);
			close(lfd);
			return -1;
		}
		free(tmp);
	}
	buf_free(&db);
	buf_free(&out);
	close(lfd);
	return seen;
}

static char *
replace_all(const char *s, const char *what, const char *with)
{
	struct buf b;
	const char *p;
	size_t wl = strlen(what);

	buf_init(&b, BUF_UNLIMITED);
	buf_appends(&b, "");
	while ((p = strstr(s, what)) != NULL) {
		buf_append(&b, s, (size_t)(p - s));
		buf_appends(&b, with);
		s = p + wl;
	}
	buf_appends(&b, s);
	return buf_steal(&b);
}

static int
send_reply(const char *sendmail, const char *to, const char *text, size_t len)
{
	int p[2], st;
	pid_t pid;
	size_t off = 0;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[] = { (char *)sendmail, "-oi", "-f", "<>", "--",
		    (char *)to, NULL };
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		if (strcmp(sendmail, ctl_self_path()) == 0) {
			argv[0] = "sendmail";
			execv(ctl_self_path(), argv);
		} else
			execvp(sendmail, argv);
		_exit(127);
	}
	close(p[0]);
	while (off < len) {
		ssize_t w = write(p[1], text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return off == len && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
usage(void)
{
	ctl_usage("vacation");
	exit(EX_USAGE_);
}

int
vacation_main(int argc, char **argv)
{
	const char **addrs = NULL, *dbpath = NULL, *msgpath = NULL;
	const char *from = NULL, *sendmail = NULL, *why;
	const char *home = getenv("HOME"), *login = getenv("LOGNAME");
	size_t naddrs = 0;
	long long interval = 7 * 86400;
	int nocheck = 0, init = 0, c;
	struct buf msg, reply, tmpl;
	char *to = NULL, *subj, *msgid, *refs, *err = NULL, host[256];
	char *subject_line = NULL, *body, *dbdef = NULL, *msgdef = NULL;

	if (home == NULL)
		home = "/";
	if (login == NULL)
		login = getenv("USER");
	optind = 1;
	while ((c = getopt(argc, argv, "a:t:r:f:m:F:S:jI")) != -1) {
		switch (c) {
		case 'a':
			addrs = xreallocarray(addrs, naddrs + 1, sizeof(*addrs));
			addrs[naddrs++] = optarg;
			break;
		case 't': case 'r':
			if (str_parse_time(optarg, 'd', &interval) < 0)
				usage();
			break;
		case 'f': dbpath = optarg; break;
		case 'm': msgpath = optarg; break;
		case 'F': from = optarg; break;
		case 'S': sendmail = optarg; break;
		case 'j': nocheck = 1; break;
		case 'I': init = 1; break;
		default: usage();
		}
	}
	if (dbpath == NULL)
		dbpath = dbdef = xasprintf("%s/.vacation.db", home);
	if (msgpath == NULL)
		msgpath = msgdef = xasprintf("%s/.vacation.msg", home);
	if (init) {
		if (unlink(dbpath) < 0 && errno != ENOENT) {
			fprintf(stderr, "vacation: %s: %s\n", dbpath, strerror(errno));
			return 1;
		}
		return 0;
	}
	if (sendmail == NULL)
		sendmail = getenv("SENDMAIL");
	if (sendmail == NULL || *sendmail == '\0')
		sendmail = ctl_self_path();
	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if (read_fd(0, VAC_MSG_MAX, &msg) < 0) {
		fprintf(stderr, "vacation: cannot read the message\n");
		return EX_TEMPFAIL_;
	}
	if (msg.data == NULL)
		buf_appends(&msg, "");
	if (!rc_vacation_check(msg.data, msg.len, addrs, naddrs,
	    nocheck ? NULL : login, &to, &why)) {
		fprintf(stderr, "vacation: no reply: %s\n", why);
		return 0;
	}
	/* check and record under one lock: two deliveries of mail from the
	 * same sender running at once must not both reply */
	switch (db_check(dbpath, to, interval, 1, &err)) {
	case -1:
		fprintf(stderr, "vacation: %s\n", err);
		return EX_TEMPFAIL_;
	case 1:
		fprintf(stderr, "vacation: already replied to %s\n", to);
		return 0;
	}
	subj = rc_vac_header(msg.data, msg.len, "Subject");
	msgid = rc_vac_header(msg.data, msg.len, "Message-ID");
	refs = rc_vac_header(msg.data, msg.len, "References");
	/* the reply text: optional header lines, empty line, body */
	{
		int fd = open(msgpath, O_RDONLY);
		buf_init(&tmpl, 1024 * 1024);
		if (fd >= 0) {
			read_fd(fd, 1024 * 1024, &tmpl);
			close(fd);
		}
		if (tmpl.data == NULL || tmpl.len == 0)
			buf_set(&tmpl, "I am away and will read your message "
			    "when I return.\n");
	}
	body = replace_all(tmpl.data, "$SUBJECT", subj != NULL ? subj : "");
	{
		/* leading "Name: value" lines followed by an empty line */
		const char *p = body, *colon = strchr(body, ':'), *blank = strstr(body, "\n\n");
		const char *nl = strchr(body, '\n');
		if (colon != NULL && nl != NULL && colon < nl && blank != NULL &&
		    strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") ==
		    (size_t)(colon - body)) {
			char *hdrs = xstrndup(body, (size_t)(blank - body) + 1);
			char *s = rc_vac_header(hdrs, strlen(hdrs), "Subject");
			char *f = rc_vac_header(hdrs, strlen(hdrs), "From");
			if (s != NULL)
				subject_line = s;
			if (f != NULL && from == NULL)
				from = f;       /* leaked on purpose: lives until exit */
			else
				free(f);
			free(hdrs);
			p = blank + 2;
		}
		buf_init(&reply, BUF_UNLIMITED);
		buf_appends(&reply, "");
		if (from == NULL)
			from = naddrs > 0 ? addrs[0] : xasprintf("%s@%s",
			    login != NULL ? login : "nobody", host);
		{
			char date[64];
			time_t now = time(NULL);
			struct tm tm;
			localtime_r(&now, &tm);
			strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
			buf_printf(&reply, "From: %s\nTo: %s\nDate: %s\n", from, to, date);
			buf_printf(&reply, "Message-ID: <vacation.%lld.%ld@%s>\n",
			    (long long)now, (long)getpid(), host);
		}
		if (subject_line != NULL)
			buf_printf(&reply, "Subject: %s\n", subject_line);
		else
			buf_printf(&reply, "Subject: Auto: %s\n",
			    subj != NULL && *subj != '\0' ? subj : "away");
		if (msgid != NULL) {
			buf_printf(&reply, "In-Reply-To: %s\n", msgid);
			buf_printf(&reply, "References: %s%s%s\n",
			    refs != NULL ? refs : "", refs != NULL ? " " : "", msgid);
		}
		buf_appends(&reply, "Auto-Submitted: auto-replied\n"
		    "MIME-Version: 1.0\n"
		    "Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n");
		buf_appends(&reply, p);
		if (reply.len > 0 && reply.data[reply.len - 1] != '\n')
			buf_appendc(&reply, '\n');
	}
	if (send_reply(sendmail, to, reply.data, reply.len) < 0) {
		fprintf(stderr, "vacation: sending the reply to %s failed\n", to);
		return EX_TEMPFAIL_;
	}
	fprintf(stderr, "vacation: replied to %s\n", to);
	free(to), free(subj), free(msgid), free(refs), free(body);
	free(subject_line), free(dbdef), free(msgdef);
	buf_free(&msg), buf_free(&reply), buf_free(&tmpl);
	return 0;
}
