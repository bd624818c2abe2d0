/*
 * recipe_eval.c - the procmail interpreter: runs parsed rcfiles against
 * one message and delivers it (folders, pipes, forwards, filters), with
 * procmail's variables, flags, exit codes and termination (DEFAULT, then
 * ORGMAIL, TRAP, EXITCODE).
 *
 * Untrusted bytes: the message (matched, piped, written) and the rcfile
 * (the recipient's program).  Resource limits - regex steps, number of
 * forks, nesting of blocks and INCLUDERC - end rcfile processing with a
 * logged "file:line:" error; the message then goes to DEFAULT, so it is
 * never lost.  Variables live in the process environment, as in procmail,
 * so programs see them.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "recipe-deliver.h"
#include "recipe-private.h"

#define EX_OK_ 0
#define EX_CANTCREAT_ 73
#define EX_TEMPFAIL_ 75
#define MAX32 2147483647.0
#define MIN32 (-2147483647.0)
#define RC_OUTPUT_MAX (64 * 1024 * 1024)
#define RC_INCLUDE_MAX 32

enum { ST_OK, ST_STOP_FILE, ST_DELIVERED, ST_ABORT, ST_HOSTSTOP };

struct ev {
	const struct rc_config *cfg;
	struct rc_msg *msg;
	char *hdr_concat;       /* header with continuation newlines as spaces */
	int logfd;
	int forks;
	int in_trap;
	int include_depth;
	int lastsucc, lastcond, prevcond;
	double lastscore;
	int lexitcode;
	int setxit;
	char *globlock;
	const char *curfile;
	int curline;
	char *switchrc;
	int switched;
	int is_clone;
	char **args;
	int nargs;
	int abort;
};

static void
logs(struct ev *ev, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(ev->logfd, s, n);
		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
}

static void logf_(struct ev *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
logf_(struct ev *ev, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	logs(ev, "procmail: ");
	logs(ev, s);
	free(s);
}

static void
limit_error(struct ev *ev, int line, const char *what)
{
	logf_(ev, "%s:%d: %s; delivering to DEFAULT\n",
	    ev->curfile != NULL ? ev->curfile : "(none)", line, what);
	ev->abort = 1;
}

static const char *
var(const char *name)
{
	return getenv(name);
}

static const char *
var_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v != NULL ? v : def;
}

static long
renvint(long def, const char *v)
{
	char *e;
	long t;

	if (v == NULL)
		return def;
	t = strtol(v, &e, 10);
	if (e != v)
		return t;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, "a", 1) == 0)
		return 2;
	if (strncasecmp(v, "on", 2) == 0 || strchr("yYtTeE", *v) != NULL)
		return *v ? 1 : def;
	if (strncasecmp(v, "off", 3) == 0 || strchr("nNfFdD", *v) != NULL)
		return *v ? 0 : def;
	return def;
}

static void
verbose(struct ev *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
verbose(struct ev *ev, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (renvint(0, var("VERBOSE")) <= 0)
		return;
	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	logf_(ev, "%s\n", s);
	free(s);
}

/* ---- message ------------------------------------------------------- */

/* As procmail: a Content-Length header is rewritten to the real body
 * length, right-aligned in the width the field had. */
static void
fix_content_length(struct rc_msg *m)
{
	size_t i = 0, body = m->len - m->hlen;
	static const char key[] = "Content-Length:";

	if (body > 0)
		body--;
	while (i < m->hlen) {
		if (m->hlen - i > sizeof(key) &&
		    strncasecmp(m->data + i, key, sizeof(key) - 1) == 0) {
			size_t vs = i + sizeof(key) - 1, ve = vs, w;
			char num[32];
			int nl;
			while (ve < m->hlen && m->data[ve] != '\n')
				ve++;
			w = ve - vs;
			nl = snprintf(num, sizeof(num), "%zu", body);
			if ((size_t)nl <= w) {
				memset(m->data + vs, ' ', w - (size_t)nl);
				memcpy(m->data + ve - nl, num, (size_t)nl);
			} else {
				size_t grow = (size_t)nl - w;
				m->data = xrealloc(m->data, m->len + grow + 1);
				memmove(m->data + ve + grow, m->data + ve, m->len - ve + 1);
				memcpy(m->data + vs, num, (size_t)nl);
				m->len += grow;
				m->hlen += grow;
			}
			return;
		}
		while (i < m->hlen && m->data[i] != '\n')
			i++;
		i++;
	}
}

static void
msg_set(struct rc_msg *m, char *data, size_t len, int normalise)
{
	const char *p;

	data = xrealloc(data, len + 2);
	m->added_nl = 0;
	if (normalise && (len < 2 || data[len - 1] != '\n' ||
	    data[len - 2] != '\n')) {
		data[len++] = '\n';
		m->added_nl = 1;
	}
	data[len] = '\0';
	m->data = data;
	m->len = len;
	if (len > 1 && data[0] == '\n')
		m->hlen = 1;
	else {
		p = memmem(data, len, "\n\n", 2);
		m->hlen = p != NULL ? (size_t)(p - data) + 2 : len;
	}
	fix_content_length(m);
}

void
rc_msg_set(struct rc_msg *m, char *data, size_t len)
{
	msg_set(m, data, len, 1);
}

void
rc_msg_free(struct rc_msg *m)
{
	FREE(m->data);
	m->len = m->hlen = 0;
}

static void
msg_changed(struct ev *ev)
{
	FREE(ev->hdr_concat);
}

static const char *
header_concat(struct ev *ev)
{
	size_t i;

	if (ev->hdr_concat == NULL) {
		ev->hdr_concat = xmemdup(ev->msg->data, ev->msg->hlen + 1);
		ev->hdr_concat[ev->msg->hlen] = '\0';
		for (i = 0; i + 1 < ev->msg->hlen; i++)
			if (ev->hdr_concat[i] == '\n' &&
			    (ev->hdr_concat[i + 1] == ' ' || ev->hdr_concat[i + 1] == '\t'))
				ev->hdr_concat[i] = ' ';
	}
	return ev->hdr_concat;
}

/* ---- programs ------------------------------------------------------ */

/* programs started for this message, shared with clones (c on blocks) */
static int *shared_forks;

static int
count_fork(struct ev *ev, int line)
{
	int n;

	if (ev->in_trap)
		return 0;
	n = shared_forks != NULL ?
	    __atomic_add_fetch(shared_forks, 1, __ATOMIC_SEQ_CST) : ++ev->forks;
	if (n > ev->cfg->max_forks) {
		limit_error(ev, line, "too many programs started (fork limit)");
		return -1;
	}
	return 0;
}

static const char *
x_getvar(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static char *
x_special(void *ctx, char c)
{
	struct ev *ev = ctx;

	switch (c) {
	case '$': return xasprintf("%ld", (long)getpid());
	case '?': return xasprintf("%d", ev->lexitcode);
	case '_': return xstrdup(ev->curfile != NULL ? ev->curfile : "");
	case '-': return xstrdup(var_or("LASTFOLDER", ""));
	case '=': return xasprintf("%ld", (long)ev->lastscore);
	case '#': return xasprintf("%d", ev->nargs);
	default:
		if (c >= '1' && c <= '9' && c - '1' < ev->nargs)
			return xstrdup(ev->args[c - '1']);
		if (c == '0')
			return xstrdup(ev->curfile != NULL ? ev->curfile : "");
		return xstrdup("");
	}
}

static char *x_command(void *ctx, const char *cmd);

static struct rc_expand_ops xops = { NULL, x_getvar, x_special, x_command };

static struct rc_expand_ops *
ops(struct ev *ev)
{
	xops.ctx = ev;
	return &xops;
}

/* Wait for pid until deadline: 1 = exited (*st set), 0 = still running. */
static int
wait_deadline(pid_t pid, time_t deadline, int *st)
{
	useconds_t pause = 1000;

	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return 1;
		if (time(NULL) >= deadline)
			return 0;
		usleep(pause);
		if (pause < 50000)
			pause *= 2;
	}
}

/*
 * Run a command line: with $SHELLMETAS in it through $SHELL $SHELLFLAGS,
 * else split by procmail itself.  in/inlen go to stdin; output (if out
 * is not NULL) is collected, else stdout goes to the log.  wait: collect
 * the exit status.  Returns 0 ok, -1 fork/limit failure, -2 write error.
 */
static int
run_program(struct ev *ev, int line, const char *cmd, const char *in,
    size_t inlen, struct buf *out, int wait, int *status_r)
{
	const char *metas = var_or("SHELLMETAS", "&|<>~;?*[");
	char **argv = NULL;
	size_t nargv = 0;
	int inp[2], outp[2] = { -1, -1 }, wr_err = 0;
	pid_t pid;

	*status_r = 0;
	if (count_fork(ev, line) < 0)
		return -1;
	if (strpbrk(cmd, metas) != NULL) {
		argv = xcalloc(4, sizeof(char *));
		argv[0] = xstrdup(var_or("SHELL", "/bin/sh"));
		argv[1] = xstrdup(var_or("SHELLFLAGS", "-c"));
		argv[2] = xstrdup(cmd);
		nargv = 3;
	} else {
		rc_expand(ops(ev), cmd, RC_X_WORDS, &argv, &nargv);
		if (nargv == 0) {
			rc_words_free(&argv, nargv);
			return -1;
		}
	}
	if (pipe(inp) < 0 || (out != NULL && pipe(outp) < 0)) {
		rc_words_free(&argv, nargv);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		logf_(ev, "Failed forking \"%s\"\n", cmd);
		close(inp[0]), close(inp[1]);
		if (out != NULL)
			close(outp[0]), close(outp[1]);
		rc_words_free(&argv, nargv);
		return -1;
	}
	if (pid == 0) {
		dup2(inp[0], 0);
		close(inp[0]);
		close(inp[1]);
		if (out != NULL) {
			dup2(outp[1], 1);
			close(outp[0]);
			close(outp[1]);
		} else
			dup2(ev->logfd, 1);
		if (ev->logfd != 2)
			dup2(ev->logfd, 2);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		if (errno == ENOENT || errno == ENOEXEC) {
			/* as procmail: let the shell have a go at it */
			char **sv = xcalloc(nargv + 2, sizeof(char *));
			size_t i;
			sv[0] = (char *)var_or("SHELL", "/bin/sh");
			for (i = 0; i < nargv; i++)
				sv[i + 1] = argv[i];
			execv(sv[0], sv);
		}
		_exit(127);
	}
	rc_words_free(&argv, nargv);
	close(inp[0]);
	if (out != NULL)
		close(outp[1]);
	size_t off = 0;
	int infd = inp[1], outfd = out != NULL ? outp[0] : -1, timed_out = 0;
	time_t deadline = time(NULL) + renvint(960, var("TIMEOUT"));
	{
		if (inlen == 0) {
			close(infd);
			infd = -1;
		}
		while (infd >= 0 || outfd >= 0) {
			struct pollfd pf[2];
			int np = 0;
			if (infd >= 0) {
				pf[np].fd = infd, pf[np].events = POLLOUT, np++;
			}
			if (outfd >= 0) {
				pf[np].fd = outfd, pf[np].events = POLLIN, np++;
			}
			{
				long left = (long)(deadline - time(NULL));
				int pr;
				if (left <= 0) {
					timed_out = 1;
					break;
				}
				pr = poll(pf, (nfds_t)np, (int)(left > 3600 ? 3600000 : left * 1000));
				if (pr < 0) {
					if (errno == EINTR)
						continue;
					break;
				}
				if (pr == 0)
					continue;
			}
			for (int k = 0; k < np; k++) {
				if (pf[k].revents == 0)
					continue;
				if (pf[k].fd == infd) {
					size_t chunk = inlen - off > 65536 ? 65536 : inlen - off;
					ssize_t w = write(infd, in + off, chunk);
					if (w < 0 && errno != EINTR && errno != EAGAIN) {
						wr_err = 1;
						close(infd);
						infd = -1;
					} else if (w > 0) {
						off += (size_t)w;
						if (off == inlen) {
							close(infd);
							infd = -1;
						}
					}
				} else {
					char b[65536];
					ssize_t r = read(outfd, b, sizeof(b));
					if (r <= 0) {
						close(outfd);
						outfd = -1;
					} else if (buf_append(out, b, (size_t)r) < 0) {
						close(outfd);
						outfd = -1;
						wr_err = 1;
					}
				}
			}
		}
	}
	if (timed_out) {
		if (infd >= 0)
			close(infd);
		if (outfd >= 0)
			close(outfd);
	}
	if (wait || out != NULL || timed_out) {
		int st = 0;
		if (!wait_deadline(pid, deadline, &st)) {
			logf_(ev, "Timeout, terminating \"%s\"\n", cmd);
			kill(pid, SIGTERM);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			timed_out = 1;
		}
		*status_r = WIFEXITED(st) ? WEXITSTATUS(st) :
		    WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
		if (timed_out && *status_r == 0)
			*status_r = 1;
		ev->lexitcode = *status_r;
	}
	return wr_err ? -2 : 0;
}

static char *
x_command(void *ctx, const char *cmd)
{
	struct ev *ev = ctx;
	struct buf out;
	int st;

	if (ev->abort)
		return xstrdup("");
	buf_init(&out, RC_OUTPUT_MAX);
	buf_appends(&out, "");
	run_program(ev, ev->curline, cmd, ev->msg->data, ev->msg->len, &out, 1,
	    &st);
	while (out.len > 0 && out.data[out.len - 1] == '\n')
		out.len--;
	if (out.data != NULL)
		out.data[out.len] = '\0';
	return buf_steal(&out);
}

/* ---- locks --------------------------------------------------------- */

static char *
lock_take(struct ev *ev, const char *name)
{
	char *err = NULL;
	long tmo = renvint(1024, var("LOCKTIMEOUT"));

	if (rc_lock_create(name, (int)tmo, &err) < 0) {
		logf_(ev, "%s\n", err);
		free(err);
		return NULL;
	}
	return xstrdup(name);
}

static void
lock_drop(char **lk)
{
	if (*lk != NULL) {
		rc_lock_remove(*lk);
		FREE(*lk);
	}
}

/* ---- variables with side effects ------------------------------------ */

static int run_file(struct ev *ev, const char *path, int include);

static char *
hostname_(void)
{
	char h[256];

	if (gethostname(h, sizeof(h) - 1) < 0)
		strcpy(h, "localhost");
	h[sizeof(h) - 1] = '\0';
	return xstrdup(h);
}

static void
open_log(struct ev *ev, const char *path)
{
	int fd;

	if (*path == '\0')
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0666);
	if (fd < 0) {
		logf_(ev, "Couldn't open logfile \"%s\"\n", path);
		return;
	}
	if (ev->logfd != 2)
		close(ev->logfd);
	ev->logfd = fd;
}

/* Returns a status (ST_*) */
static int
assign(struct ev *ev, const char *name, const char *value)
{
	if (value == NULL) {
		unsetenv(name);
		value = "";
	} else
		setenv(name, value, 1);
	if (strcmp(name, "MAILDIR") == 0) {
		if (chdir(value) < 0)
			logf_(ev, "Couldn't chdir to \"%s\"\n", value);
	} else if (strcmp(name, "LOGFILE") == 0)
		open_log(ev, value);
	else if (strcmp(name, "LOG") == 0)
		logs(ev, value);
	else if (strcmp(name, "EXITCODE") == 0)
		ev->setxit = 1;
	else if (strcmp(name, "LOCKFILE") == 0) {
		lock_drop(&ev->globlock);
		if (*value != '\0')
			ev->globlock = lock_take(ev, value);
	} else if (strcmp(name, "UMASK") == 0)
		umask((mode_t)strtol(value, NULL, 8) & 0777);
	else if (strcmp(name, "INCLUDERC") == 0) {
		if (ev->include_depth >= RC_INCLUDE_MAX) {
			limit_error(ev, ev->curline, "INCLUDERC nested too deep");
			return ST_ABORT;
		}
		return run_file(ev, value, 1);
	} else if (strcmp(name, "SWITCHRC") == 0) {
		free(ev->switchrc);
		ev->switchrc = xstrdup(value);
		return ST_STOP_FILE;
	} else if (strcmp(name, "HOST") == 0) {
		char *h = hostname_();
		int mism = strcmp(h, value) != 0;
		free(h);
		if (mism) {
			verbose(ev, "HOST mismatched");
			return ST_HOSTSTOP;
		}
	}
	return ST_OK;
}

/* ---- conditions ---------------------------------------------------- */

static void
rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* 1 true, 0 false; scoring in *score */
static int
eval_conditions(struct ev *ev, struct rc_recipe *r, int i)
{
	const char *area;
	size_t arealen;
	double score = 0;
	int scored = 0;
	size_t k;

	if (r->flags[RCF_B] && !r->flags[RCF_H]) {
		area = ev->msg->data + ev->msg->hlen;
		arealen = ev->msg->len - ev->msg->hlen;
	} else if (r->flags[RCF_B]) {
		area = NULL;            /* whole message, header concatenated */
		arealen = ev->msg->len;
	} else {
		area = header_concat(ev);
		arealen = ev->msg->hlen;
	}
	for (k = 0; k < r->nconds && i && !ev->abort; k++) {
		char *text = xstrdup(r->conds[k].text), *c;
		int negate = 0, scoreany = 0;
		double weight = 0, xponent = 0;
		const char *lstart = area;
		size_t llen = arealen, sizecheck = ev->msg->len;
		char *wholebuf = NULL;

		ev->curline = r->conds[k].line;
		rtrim(text);
		c = text;
		if (lstart == NULL) {
			wholebuf = xmalloc(ev->msg->len + 1);
			memcpy(wholebuf, header_concat(ev), ev->msg->hlen);
			memcpy(wholebuf + ev->msg->hlen, ev->msg->data + ev->msg->hlen,
			    ev->msg->len - ev->msg->hlen + 1);
			lstart = wholebuf;
		}
		/* weight^exponent */
		if (strchr("0123456789-+.,", *c) != NULL) {
			char *e;
			double w = strtod(c, &e);
			if (e > c) {
				char *q = e;
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q == '^') {
					char *e2;
					double xx = strtod(q + 1, &e2);
					if (e2 > q + 1) {
						weight = w, xponent = xx;
						scored = scoreany = 1;
						c = e2;
						while (*c == ' ' || *c == '\t')
							c++;
					}
				}
			}
		}
		for (;;) {
			if (*c == '!') {
				negate ^= 1;
				c++;
				while (*c == ' ' || *c == '\t')
					c++;
				continue;
			}
			if (*c == '$') {
				char *x = rc_expand1(ops(ev), c + 1, RC_X_DQUOTE);
				char *y = x;
				while (*y == ' ' || *y == '\t')
					y++;
				y = xstrdup(y);
				free(x);
				free(text);
				text = c = y;
				continue;
			}
			break;
		}
		/* VAR ?? regex */
		if (isalpha((unsigned char)*c) || *c == '_') {
			char *q = c, *p2;
			while (isalnum((unsigned char)*q) || *q == '_')
				q++;
			p2 = q;
			while (*p2 == ' ' || *p2 == '\t')
				p2++;
			if (p2[0] == '?' && p2[1] == '?') {
				char nm[256];
				size_t nl = (size_t)(q - c) < sizeof(nm) - 1 ?
				    (size_t)(q - c) : sizeof(nm) - 1;
				memcpy(nm, c, nl);
				nm[nl] = '\0';
				if (strcmp(nm, "B") == 0) {
					lstart = ev->msg->data + ev->msg->hlen;
					llen = ev->msg->len - ev->msg->hlen;
				} else if (strcmp(nm, "H") == 0) {
					lstart = header_concat(ev);
					llen = ev->msg->hlen;
				} else if (strcmp(nm, "HB") == 0 || strcmp(nm, "BH") == 0) {
					if (wholebuf == NULL) {
						wholebuf = xmalloc(ev->msg->len + 1);
						memcpy(wholebuf, header_concat(ev), ev->msg->hlen);
						memcpy(wholebuf + ev->msg->hlen,
						    ev->msg->data + ev->msg->hlen,
						    ev->msg->len - ev->msg->hlen + 1);
					}
					lstart = wholebuf;
					llen = ev->msg->len;
				} else {
					lstart = var_or(nm, "");
					llen = strlen(lstart);
				}
				sizecheck = llen;
				c = p2 + 2;
				while (*c == ' ' || *c == '\t')
					c++;
				while (*c == '!') {
					negate ^= 1;
					c++;
					while (*c == ' ' || *c == '\t')
						c++;
				}
			}
		}
		if (*c == '?') {
			int st = 0, rc;
			rc = run_program(ev, r->conds[k].line, c + 1, lstart, llen,
			    NULL, 1, &st);
			if (rc == -1 && ev->abort) {
				free(text), free(wholebuf);
				return 0;
			}
			if (scoreany && rc != -1) {
				int j = st;
				if (negate) {
					while (--j >= 0 && (score += weight) < MAX32 &&
					    score > MIN32)
						weight *= xponent;
				} else
					score += j ? xponent : weight;
			} else if ((st != 0) ^ negate)
				i = 0;
		} else if (*c == '<' || *c == '>') {
			long pivot = strtol(c + 1, NULL, 10);
			if (scoreany) {
				double f;
				if ((*c == '<') ^ negate) {
					if (sizecheck)
						f = (double)pivot / (double)sizecheck;
					else
						f = pivot > 0 ? MAX32 : 0;
				} else
					f = pivot ? (double)sizecheck / (double)pivot : MAX32;
				score += weight * pow(f, xponent);
			} else if (!((*c == '<' ? (long)sizecheck < pivot :
			    (long)sizecheck > pivot) ^ negate))
				i = 0;
		} else {
			char *err = NULL, *match = NULL;
			int casesens = r->flags[RCF_D];
			struct rc_regex *re;
			if (*c == '\\' && (c[1] == '!' || c[1] == '$' || c[1] == '?' ||
			    c[1] == '<' || c[1] == '>' || isdigit((unsigned char)c[1])))
				c++;
			re = rc_regex_compile(c, casesens, &err);
			if (re == NULL) {
				logf_(ev, "%s:%d: %s\n", ev->curfile, r->conds[k].line, err);
				free(err);
				i = 0;
			} else if (scoreany) {
				if (negate) {
					int m = rc_regex_search(re, lstart, llen,
					    ev->cfg->regex_steps, NULL);
					if (m < 0)
						limit_error(ev, r->conds[k].line,
						    "regular expression too expensive (match limit)");
					else if (weight != 0 && m == 0)
						score += weight;
				} else {
					double oweight = weight * weight;
					size_t pos = 0;
					int guard = 0;
					while (weight != 0 && MIN32 < score && score < MAX32 &&
					    pos <= llen && guard++ < 100000) {
						char *mm = NULL;
						int m;
						struct rc_regex *r2 = re;
						size_t end;
						m = rc_regex_search(r2, lstart + pos, llen - pos,
						    ev->cfg->regex_steps, NULL);
						if (m < 0) {
							limit_error(ev, r->conds[k].line,
							    "regular expression too expensive (match limit)");
							break;
						}
						if (m == 0)
							break;
						end = rc_regex_match_end(r2);
						free(mm);
						score += weight;
						weight *= xponent;
						if (end == 0) {
							if (0 < xponent && xponent < 1)
								score += weight / (1 - xponent);
							else if (xponent >= 1 && weight != 0)
								score += weight < 0 ? MIN32 : MAX32;
							break;
						}
						{
							double nweight = weight * weight;
							if (nweight < oweight && oweight < 1)
								break;
							oweight = nweight;
						}
						pos += end;
					}
				}
				rc_regex_free(&re);
			} else {
				int m = rc_regex_search(re, lstart, llen,
				    ev->cfg->regex_steps, &match);
				if (m < 0) {
					limit_error(ev, r->conds[k].line,
					    "regular expression too expensive (match limit)");
					i = 0;
				} else {
					if (m == 1 && match != NULL)
						setenv("MATCH", match, 1);
					i = (m == 1) ^ negate;
				}
				free(match);
				rc_regex_free(&re);
			}
			verbose(ev, "%s on%s \"%s\"", i ? "Match" : "No match",
			    negate ? " !" : "", c);
		}
		if (score > MAX32)
			score = MAX32;
		if (score <= MIN32) {
			score = MIN32;
			i = 0;
		}
		free(text);
		free(wholebuf);
	}
	ev->lastscore = score;
	if (score == 0 && score > 0)
		ev->lastscore = 1;
	if (scored && i && score <= 0)
		i = 0;
	return i;
}

/* ---- actions ------------------------------------------------------- */

static void
log_abstract(struct ev *ev, const char *folder, size_t len)
{
	const char *d = ev->msg->data, *s;
	long la = renvint(-1, var("LOGABSTRACT"));
	char *f;
	size_t fl;
	int tabs;

	if (la == 0 || (la < 0 && ev->logfd == 2))
		return;
	if (strncmp(d, "From ", 5) == 0) {
		s = strchr(d, '\n');
		logs(ev, "");
		if (s != NULL) {
			char *l = xstrndup(d, (size_t)(s - d) + 1);
			logs(ev, l);
			free(l);
		}
	}
	s = d;
	while (s < d + ev->msg->hlen) {
		if (strncasecmp(s, "Subject:", 8) == 0) {
			const char *e = strchr(s, '\n');
			char *l = xasprintf(" Subject:%.*s\n",
			    (int)(e != NULL ? e - s - 8 : 0), s + 8);
			logs(ev, l);
			free(l);
			break;
		}
		s = strchr(s, '\n');
		if (s == NULL)
			break;
		s++;
	}
	fl = strlen(folder);
	f = xasprintf("  Folder: %.*s", 45, folder);
	logs(ev, f);
	tabs = (int)((72 - 11 - (fl > 45 ? 45 : fl)) / 8);
	while (tabs-- > 0)
		logs(ev, "\t");
	free(f);
	f = xasprintf("%7zu\n", len);
	logs(ev, f);
	free(f);
}

/* The part of the message an action gets (h/b flags). */
static void
select_part(struct ev *ev, struct rc_recipe *r, const char **p, size_t *n,
    int *tail_r)
{
	*p = ev->msg->data;
	*n = ev->msg->len;
	*tail_r = ev->msg->added_nl;
	if (r->flags[RCF_h] && !r->flags[RCF_b]) {
		*n = ev->msg->hlen;
		*tail_r = 0;
	} else if (r->flags[RCF_b] && !r->flags[RCF_h]) {
		*p = ev->msg->data + ev->msg->hlen;
		*n = ev->msg->len - ev->msg->hlen;
	}
	/* raw mode: the message as it came, without procmail's newline */
	if (r->flags[RCF_r] && *tail_r && *n > 0) {
		(*n)--;
		*tail_r = 0;
	}
}

static const char *
skip_from_(const char *p, size_t *n)
{
	if (*n >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', *n);
		size_t skip = nl != NULL ? (size_t)(nl - p) + 1 : *n;
		*n -= skip;
		return p + skip;
	}
	return p;
}

static void
replace_part(struct ev *ev, struct rc_recipe *r, struct buf *out)
{
	struct buf nb;
	const char *d = ev->msg->data;
	int head = r->flags[RCF_h] || !r->flags[RCF_b];
	int body = r->flags[RCF_b] || !r->flags[RCF_h];

	buf_init(&nb, BUF_UNLIMITED);
	buf_appends(&nb, "");
	if (head && body)
		buf_append(&nb, out->data, out->len);
	else if (head) {
		buf_append(&nb, out->data, out->len);
		if (out->len > 0 && out->data[out->len - 1] != '\n')
			buf_appendc(&nb, '\n');
		if (out->len < 2 || memcmp(out->data + out->len - 2, "\n\n", 2) != 0)
			buf_appendc(&nb, '\n');
		buf_append(&nb, d + ev->msg->hlen, ev->msg->len - ev->msg->hlen);
	} else {
		buf_append(&nb, d, ev->msg->hlen);
		buf_append(&nb, out->data, out->len);
	}
	rc_msg_free(ev->msg);
	{
		size_t len = nb.len;
		/* as procmail: a filtered header is taken as it comes, a
		 * filtered body gets the trailing newline again */
		msg_set(ev->msg, buf_steal(&nb), len, !(head && !body));
	}
	msg_changed(ev);
}

static void
set_lastfolder(const char *s)
{
	setenv("LASTFOLDER", s, 1);
}

/* 1 = succeeded, 0 = failed */
static int
do_action(struct ev *ev, struct rc_recipe *r)
{
	const char *part;
	size_t plen;
	char *lock = NULL;
	int succeed = 0, st = 0, rc, tail;
	int wait = r->flags[RCF_w] || r->flags[RCF_W];

	select_part(ev, r, &part, &plen, &tail);
	if (plen == 0 && r->action == RCA_PIPE && !r->flags[RCF_r]) {
		/* as procmail: an empty part reaches a program as one newline */
		part = "\n";
		plen = 1;
	}
	ev->curline = r->action_line;
	if (r->action == RCA_FORWARD) {
		char **w = NULL;
		size_t nw = 0, i, nf = 0;
		char **argv;
		const char *sm = var_or("SENDMAIL", "/usr/sbin/sendmail");
		char **flags = NULL;
		pid_t pid;
		int inp[2];

		if (part == ev->msg->data)
			part = skip_from_(part, &plen);
		rc_expand(ops(ev), r->action_text, RC_X_WORDS, &w, &nw);
		rc_expand(ops(ev), var_or("SENDMAILFLAGS", ""), RC_X_WORDS,
		    &flags, &nf);
		argv = xcalloc(nw + nf + 2, sizeof(char *));
		argv[0] = (char *)sm;
		for (i = 0; i < nf; i++)
			argv[1 + i] = flags[i];
		for (i = 0; i < nw; i++)
			argv[1 + nf + i] = w[i];
		if (r->has_lock && r->lockfile != NULL) {
			char *ln = rc_expand1(ops(ev), r->lockfile, RC_X_WORDS);
			lock = lock_take(ev, ln);
			free(ln);
		}
		if (count_fork(ev, r->action_line) < 0)
			goto fwd_done;
		if (pipe(inp) < 0 || (pid = fork()) < 0)
			goto fwd_done;
		if (pid == 0) {
			dup2(inp[0], 0);
			close(inp[0]);
			close(inp[1]);
			dup2(ev->logfd, 1);
			dup2(ev->logfd, 2);
			signal(SIGPIPE, SIG_DFL);
			if (ev->cfg->sendmail_self != NULL &&
			    strcmp(sm, ev->cfg->sendmail_self) == 0) {
				/* tempest itself: run as its sendmail command */
				argv[0] = (char *)"sendmail";
				execv(ev->cfg->sendmail_self, argv);
			} else
				execvp(sm, argv);
			_exit(127);
		}
		close(inp[0]);
		{
			size_t off = 0;
			int werr = 0;
			while (off < plen) {
				ssize_t n = write(inp[1], part + off, plen - off);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					werr = 1;
					break;
				}
				off += (size_t)n;
			}
			close(inp[1]);
			succeed = !werr || r->flags[RCF_i];
			if (wait) {
				int s;
				while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
					;
				st = WIFEXITED(s) ? WEXITSTATUS(s) : 1;
				ev->lexitcode = st;
				if (st != 0) {
					if (r->flags[RCF_w])
						logf_(ev, "Program failure (%d) of \"%s\"\n",
						    st, sm);
					succeed = 0;
				}
			}
		}
		if (succeed) {
			struct buf lf;
			buf_init(&lf, BUF_UNLIMITED);
			buf_appends(&lf, sm);
			for (i = 0; argv[1 + i] != NULL; i++)
				buf_printf(&lf, " %s", argv[1 + i]);
			set_lastfolder(buf_cstr(&lf));
			buf_free(&lf);
		}
fwd_done:
		free(argv);
		rc_words_free(&w, nw);
		rc_words_free(&flags, nf);
		lock_drop(&lock);
		return succeed;
	}
	if (r->action == RCA_PIPE) {
		const char *cmd = r->action_text;
		if (r->has_lock) {
			char *ln = NULL;
			if (r->lockfile != NULL)
				ln = rc_expand1(ops(ev), r->lockfile, RC_X_WORDS);
			else {
				const char *g = strstr(cmd, ">>");
				if (g != NULL) {
					char *t;
					g += 2;
					while (*g == ' ' || *g == '\t')
						g++;
					t = xstrndup(g, strcspn(g, " \t;|&<>\n"));
					ln = rc_expand1(ops(ev), t, RC_X_WORDS);
					free(t);
					if (*ln != '\0') {
						char *t2 = xasprintf("%s%s", ln,
						    var_or("LOCKEXT", ".lock"));
						free(ln);
						ln = t2;
					}
				} else
					logf_(ev, "Couldn't determine implicit lockfile from \"%s\"\n",
					    cmd);
			}
			if (ln != NULL && *ln != '\0')
				lock = lock_take(ev, ln);
			free(ln);
			if (!r->flags[RCF_w] && !r->flags[RCF_W])
				wait = 2;       /* procmail waits under a lock */
		}
		if (*cmd == '\0' && r->capture_var == NULL) {
			/* a lone '|': the message goes to stdout */
			size_t off = 0;
			while (off < plen) {
				ssize_t n = write(1, part + off, plen - off);
				if (n <= 0)
					break;
				off += (size_t)n;
			}
			succeed = off == plen;
			if (succeed)
				set_lastfolder("|");
		} else if (r->flags[RCF_f] || r->capture_var != NULL) {
			struct buf out;
			buf_init(&out, RC_OUTPUT_MAX);
			buf_appends(&out, "");
			rc = run_program(ev, r->action_line, cmd, part, plen, &out, 1, &st);
			if (rc == -2 && r->flags[RCF_i])
				rc = 0;
			if (rc == 0 && (st == 0 || !(r->flags[RCF_w] || r->flags[RCF_W]))) {
				succeed = 1;
				if (r->capture_var != NULL) {
					while (out.len > 0 && out.data[out.len - 1] == '\n')
						out.len--;
					out.data[out.len] = '\0';
					assign(ev, r->capture_var, buf_cstr(&out));
				} else
					replace_part(ev, r, &out);
			} else if (rc == 0 && r->flags[RCF_w])
				logf_(ev, "Program failure (%d) of \"%s\"\n", st, cmd);
			else if (rc == -2)
				logf_(ev, "Error while writing to \"%s\"\n", cmd);
			buf_free(&out);
		} else {
			rc = run_program(ev, r->action_line, cmd, part, plen, NULL, wait,
			    &st);
			if (rc == -2 && r->flags[RCF_i])
				rc = 0;
			if (rc == -2)
				logf_(ev, "Error while writing to \"%s\"\n", cmd);
			succeed = rc == 0 && (!wait || st == 0);
			if (rc == 0 && wait && st != 0 && r->flags[RCF_w])
				logf_(ev, "Program failure (%d) of \"%s\"\n", st, cmd);
			if (succeed)
				set_lastfolder(cmd);
		}
		lock_drop(&lock);
		return succeed;
	}
	/* folder */
	{
		char **w = NULL, *shown = NULL, *err = NULL;
		size_t nw = 0;

		if (r->flags[RCF_f]) {
			logf_(ev, "Extraneous filter-flag ignored\n");
			part = ev->msg->data;
			plen = ev->msg->len;
			tail = ev->msg->added_nl;
		}
		rc_expand(ops(ev), r->action_text, RC_X_WORDS, &w, &nw);
		if (nw == 0) {
			rc_words_free(&w, nw);
			return 0;
		}
		if (r->has_lock) {
			char *ln;
			if (r->lockfile != NULL)
				ln = rc_expand1(ops(ev), r->lockfile, RC_X_WORDS);
			else
				ln = xasprintf("%s%s", w[0], var_or("LOCKEXT", ".lock"));
			if (*ln != '\0')
				lock = lock_take(ev, ln);
			free(ln);
		}
		if (rc_deliver((const char *const *)w, nw, part, plen, tail,
		    r->flags[RCF_r], var_or("MSGPREFIX", "msg."), &shown, &err) == 0) {
			succeed = 1;
			set_lastfolder(shown);
			if (r->flags[RCF_c] && renvint(-1, var("LOGABSTRACT")) == 2)
				log_abstract(ev, shown, plen);
		} else {
			logf_(ev, "%s\n", err);
			free(err);
		}
		free(shown);
		rc_words_free(&w, nw);
		lock_drop(&lock);
		return succeed;
	}
}

/* ---- the interpreter loop ------------------------------------------- */

static int run_items(struct ev *ev, struct rc_item *items, size_t n);

static int
run_recipe(struct ev *ev, struct rc_item *it)
{
	struct rc_recipe *r = it->recipe;
	int i = 1, succeed = 0;

	ev->curline = it->line;
	if (r->flags[RCF_e]) {
		i &= ev->prevcond && !ev->lastsucc;
		r->flags[RCF_E] = 0;
		r->flags[RCF_a] = 0;
	}
	if (r->flags[RCF_E])
		i &= !ev->prevcond;
	if (r->flags[RCF_a])
		i &= ev->lastcond && ev->lastsucc;
	if (r->flags[RCF_A])
		i = i && ev->lastcond;
	if (i)
		i = eval_conditions(ev, r, i);
	if (ev->abort)
		return ST_ABORT;
	if (!r->flags[RCF_A] && !r->flags[RCF_a])
		ev->lastcond = i;
	if (!ev->prevcond || !r->flags[RCF_E])
		ev->prevcond = i;
	if (!i || r->action == RCA_NONE)
		return ST_OK;
	if (r->action == RCA_BLOCK) {
		int spc = ev->prevcond, slc = ev->lastcond, st;
		if (r->flags[RCF_c]) {
			pid_t pid;
			if (count_fork(ev, it->line) < 0)
				return ST_ABORT;
			pid = fork();
			if (pid == 0) {
				/* the clone runs the block and goes on as usual */
				ev->is_clone = 1;
				ev->globlock = NULL;
				st = run_items(ev, r->block, r->nblock);
				ev->prevcond = spc, ev->lastcond = slc;
				return st;
			}
			succeed = pid > 0;
			if (pid > 0 && (r->flags[RCF_w] || r->flags[RCF_W])) {
				int s;
				while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
					;
				if (!WIFEXITED(s) || WEXITSTATUS(s) != 0)
					succeed = 0;
			}
			ev->lastsucc = succeed;
			return ST_OK;
		}
		{
			char *lock = NULL;
			if (r->has_lock && r->lockfile != NULL) {
				char *ln = rc_expand1(ops(ev), r->lockfile, RC_X_WORDS);
				if (*ln != '\0')
					lock = lock_take(ev, ln);
				free(ln);
			}
			ev->lastsucc = 1;
			st = run_items(ev, r->block, r->nblock);
			lock_drop(&lock);
		}
		ev->prevcond = spc, ev->lastcond = slc;
		return st;
	}
	succeed = do_action(ev, r);
	if (ev->abort)
		return ST_ABORT;
	ev->lastsucc = succeed;
	if (succeed && !r->flags[RCF_c] && !r->flags[RCF_f] &&
	    r->capture_var == NULL)
		return ST_DELIVERED;
	return ST_OK;
}

static int
run_items(struct ev *ev, struct rc_item *items, size_t n)
{
	size_t k;
	int st;

	for (k = 0; k < n; k++) {
		struct rc_item *it = &items[k];
		if (ev->abort)
			return ST_ABORT;
		ev->curline = it->line;
		if (it->kind == RCI_ASSIGN) {
			char *v = NULL;
			if (it->value != NULL)
				v = rc_expand1(ops(ev), it->value, RC_X_ASSIGN);
			st = assign(ev, it->name, v);
			free(v);
		} else
			st = run_recipe(ev, it);
		if (st != ST_OK)
			return st;
	}
	return ST_OK;
}

static int
read_file(const char *path, size_t max, char **data_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_NOCTTY);
	struct buf b;
	char tmp[8192];
	ssize_t r;

	if (fd < 0)
		return -1;
	buf_init(&b, max + 1);
	buf_appends(&b, "");
	while ((r = read(fd, tmp, sizeof(tmp))) > 0)
		if (buf_append(&b, tmp, (size_t)r) < 0)
			break;
	close(fd);
	*len_r = b.len;
	*data_r = buf_steal(&b);
	return 0;
}

static int
run_file(struct ev *ev, const char *path, int include)
{
	char *text, *err = NULL;
	size_t len, i;
	struct rc_file *f;
	const char *savefile = ev->curfile;
	int saveline = ev->curline, st;
	struct stat sb;

	if (*path == '\0')
		return ST_OK;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		logf_(ev, "Couldn't read \"%s\"\n", path);
		return ST_OK;
	}
	if (read_file(path, ev->cfg->limits.max_size, &text, &len) < 0) {
		logf_(ev, "Couldn't read \"%s\"\n", path);
		return ST_OK;
	}
	f = rc_parse(path, text, len, &ev->cfg->limits, &err);
	free(text);
	if (f == NULL) {
		logf_(ev, "%s; delivering to DEFAULT\n", err);
		free(err);
		ev->abort = 1;
		return ST_ABORT;
	}
	for (i = 0; i < f->nwarnings; i++)
		verbose(ev, "%s", f->warnings[i]);
	ev->curfile = f->path;
	if (include)
		ev->include_depth++;
	st = run_items(ev, f->items, f->nitems);
	if (include)
		ev->include_depth--;
	ev->curfile = savefile;
	ev->curline = saveline;
	rc_file_free(&f);
	if (st == ST_STOP_FILE && ev->switchrc != NULL) {
		char *sw = ev->switchrc;
		ev->switchrc = NULL;
		if (include)
			ev->include_depth++;
		if (ev->include_depth > RC_INCLUDE_MAX) {
			limit_error(ev, saveline, "SWITCHRC nested too deep");
			free(sw);
			return ST_ABORT;
		}
		st = run_file(ev, sw, 0);
		if (include)
			ev->include_depth--;
		free(sw);
		return st;
	}
	return st;
}

void
rc_config_defaults(struct rc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->regex_steps = 1000000;
	cfg->max_forks = 100;
	cfg->limits.max_size = RC_DEFAULT_MAX_SIZE;
	cfg->limits.max_depth = RC_DEFAULT_MAX_DEPTH;
	cfg->limits.max_items = RC_DEFAULT_MAX_ITEMS;
}

static int
deliver_default(struct ev *ev, const char *folder)
{
	char *shown = NULL, *err = NULL, *lock = NULL, *dir = NULL;
	const char *names[1] = { folder };
	int ok;

	struct stat sb;

	if (rc_folder_type(folder, &dir) == FT_FILE &&
	    !(stat(folder, &sb) == 0 && !S_ISREG(sb.st_mode))) {
		char *ln = xasprintf("%s%s", folder, var_or("LOCKEXT", ".lock"));
		lock = lock_take(ev, ln);
		free(ln);
	}
	free(dir);
	ok = rc_deliver(names, 1, ev->msg->data, ev->msg->len,
	    ev->msg->added_nl, 0, var_or("MSGPREFIX", "msg."), &shown,
	    &err) == 0;
	if (ok)
		set_lastfolder(shown);
	else {
		logf_(ev, "%s\n", err);
		free(err);
	}
	free(shown);
	lock_drop(&lock);
	return ok;
}

int
rc_run(const struct rc_config *cfg, struct rc_msg *msg, char **rcfiles,
    size_t nrcfiles)
{
	struct ev ev;
	int st = ST_OK, retval, delivered = 0;
	size_t k;

	memset(&ev, 0, sizeof(ev));
	ev.cfg = cfg;
	ev.msg = msg;
	ev.logfd = 2;
	ev.args = cfg->args;
	ev.nargs = (int)cfg->nargs;
	signal(SIGPIPE, SIG_IGN);
	if (shared_forks == NULL) {
		void *p = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		shared_forks = p != MAP_FAILED ? p : NULL;
	}
	if (shared_forks != NULL)
		*shared_forks = 0;
	retval = cfg->tempfail_on_error ? EX_TEMPFAIL_ : EX_CANTCREAT_;

	for (k = 0; k < cfg->nassigns; k++) {
		const char *eq = strchr(cfg->assigns[k], '=');
		char *name, *v;
		if (eq == NULL)
			continue;
		name = xstrndup(cfg->assigns[k], (size_t)(eq - cfg->assigns[k]));
		v = rc_expand1(ops(&ev), eq + 1, RC_X_DQUOTE);
		assign(&ev, name, v);
		free(name);
		free(v);
	}
	if (cfg->etc_rcfile != NULL && access(cfg->etc_rcfile, R_OK) == 0) {
		st = run_file(&ev, cfg->etc_rcfile, 0);
		if (st == ST_STOP_FILE || st == ST_HOSTSTOP)
			st = ST_OK;
		ev.lastsucc = ev.lastcond = ev.prevcond = 0;
	}
	for (k = 0; st == ST_OK && k < nrcfiles; k++) {
		st = run_file(&ev, rcfiles[k], 0);
		if (st == ST_STOP_FILE)
			st = ST_OK;
		if (st == ST_HOSTSTOP) {
			if (k + 1 < nrcfiles) {
				st = ST_OK;
				continue;
			}
			/* procmail: HOST mismatch with no rcfile left ends
			 * quietly, as a successful delivery */
			delivered = 1;
			retval = 0;
			break;
		}
		ev.lastsucc = ev.lastcond = ev.prevcond = 0;
	}
	if (st == ST_DELIVERED) {
		delivered = 1;
		retval = 0;
	}
	if (!delivered) {
		const char *def = var_or("DEFAULT", ""), *org = var_or("ORGMAIL", "");
		if (*def != '\0' && deliver_default(&ev, def))
			delivered = 1;
		if (!delivered && *org != '\0' && strcmp(def, org) != 0 &&
		    deliver_default(&ev, org))
			delivered = 1;
		if (delivered)
			retval = 0;
	}
	if (delivered)
		log_abstract(&ev, var_or("LASTFOLDER", ""), msg->len);
	else
		log_abstract(&ev, cfg->tempfail_on_error ? "**Requeued**" :
		    "**Bounced**", msg->len);
	lock_drop(&ev.globlock);
	{
		const char *trap = var("TRAP");
		if (trap != NULL && *trap != '\0') {
			int tst = 0;
			ev.abort = 0;
			ev.in_trap = 1;
			run_program(&ev, 0, trap, msg->data, msg->len, NULL, 1, &tst);
		}
	}
	if (ev.setxit) {
		const char *x = var_or("EXITCODE", "");
		if (*x == '\0')
			retval = ev.lexitcode;
		else if (retval == 0)
			retval = (int)renvint(0, x);
	}
	free(ev.hdr_concat);
	free(ev.switchrc);
	if (ev.logfd != 2)
		close(ev.logfd);
	if (ev.is_clone)
		_exit(retval);
	return retval;
}
