/*
 * bounce.c - delivery status notifications to the sender (RFC 3464
 * multipart/report: failure, delay and success notices, whose text
 * bounce_report.c builds; doc/dsn.md) and the deferral log read by
 * mailq.  Input: the queue file of the failed
 * message (its content is copied, never interpreted beyond finding the
 * end of the header for RET=HDRS).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bounce_report.h"
#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "qmgr.h"
#include "queue_file.h"
#include "service.h"
#include "smtp_parse.h"
#include "str.h"

static void
put(struct cleanup *c, const char *text)
{
	/* split multi-line text into content lines ("" is one empty line) */
	if (*text == '\0')
		cleanup_line(c, "", 0, 1);
	while (*text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t n = nl != NULL ? (size_t)(nl - text) : strlen(text);
		cleanup_line(c, text, n, 1);
		text += n + (nl != NULL);
	}
}

static void report(struct qfile *qf, char *lines, enum dsn_kind kind);

void
qmgr_bounce(struct qfile *qf, const char *lines)
{
	char *v = xstrdup(lines);

	report(qf, v, DSN_KIND_FAILURE);
	free(v);
}

void
qmgr_delay_warn(struct qfile *qf, const char *lines)
{
	char *v;

	if (*qf->sender == '\0')
		return;         /* never warn the null sender */
	v = xstrdup(lines);
	report(qf, v, DSN_KIND_DELAY);
	free(v);
}

void
qmgr_success(struct qfile *qf, const char *lines)
{
	char *v;

	if (*qf->sender == '\0' || qfile_attr(qf, "double_bounce") != NULL)
		return;         /* never notify the null sender */
	v = xstrdup(lines);
	report(qf, v, DSN_KIND_SUCCESS);
	free(v);
}

/* Whether the recipient of a report line asked (NOTIFY) for this kind. */
static int
wanted(const struct qfile *qf, const char *addr, enum dsn_kind kind)
{
	size_t k;

	if (kind == DSN_KIND_SUCCESS)
		return 1;       /* qmgr picks those lines by NOTIFY itself */
	for (k = 0; k < qf->nrcpt; k++)
		if (strcmp(qf->rcpts[k].addr, addr) == 0)
			break;
	return k == qf->nrcpt || qf->rcpts[k].notify == 0 ||
	    (qf->rcpts[k].notify & (kind == DSN_KIND_DELAY ?
	    DSN_NOTIFY_DELAY : DSN_NOTIFY_FAILURE)) != 0;
}

/* A failure, delay or success notice to the sender (a failure of a
 * message from the null sender goes to postmaster). */
static void
report(struct qfile *qf, char *lines, enum dsn_kind kind)
{
	const char *host = config_str("myhostname");
	struct dsn_rcpt *v;
	struct dsn_report r;
	struct cleanup_rcpt to;
	struct cleanup *c;
	struct buf text;
	char boundary[128], date[64], *rcpt_addr, *err = NULL;
	time_t arrival = (time_t)(qf->arrival_us / 1000000);
	struct tm tm;
	size_t i, n, k;
	int dbl = qfile_attr(qf, "double_bounce") != NULL;
	char *attrs[2] = { NULL, NULL };

	v = dsn_lines_parse(lines, kind == DSN_KIND_SUCCESS,
	    kind == DSN_KIND_DELAY ? "delayed" : "failed", &n);
	/* DSN NOTIFY: drop recipients that asked for no such report */
	for (i = k = 0; i < n; i++)
		if (wanted(qf, v[i].addr, kind))
			v[k++] = v[i];
	n = k;
	if (n == 0 || dbl) {
		if (dbl && n > 0)
			log_info("%s: undeliverable postmaster notification "
			    "discarded", qf->id);
		free(v);
		return;
	}
	if (*qf->sender == '\0') {
		/* a bounce of a bounce: tell postmaster, never the null sender */
		rcpt_addr = xasprintf("postmaster@%s", config_str("myorigin"));
		attrs[0] = xstrdup("double_bounce=1");
	} else
		rcpt_addr = xstrdup(qf->sender);
	to.addr = rcpt_addr;
	to.orcpt = NULL;
	to.notify = 0;
	c = cleanup_open(service_queue_dir(), "", &to, 1, NULL, 0, attrs, &err);
	if (c == NULL) {
		log_warn("%s: cannot create %s notice: %s", qf->id,
		    kind == DSN_KIND_SUCCESS ? "success" : "bounce", err);
		free(err);
		free(rcpt_addr);
		free(attrs[0]);
		free(v);
		return;
	}
	snprintf(boundary, sizeof(boundary), "%s.%ld/%s", qf->id,
	    (long)time(NULL), host);
	localtime_r(&arrival, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.postmaster = *qf->sender == '\0';
	r.host = host;
	r.to = rcpt_addr;
	r.queue_id = qf->id;
	r.envid = qf->envid;
	r.sender = qf->sender;
	r.arrival = date;
	r.boundary = boundary;
	/* RET=FULL returns the message; RET=HDRS, a delay warning and a
	 * success notice without RET its header only (RFC 3461 4.3, as
	 * Postfix) */
	r.full = kind == DSN_KIND_FAILURE ? qf->ret != 2 :
	    kind == DSN_KIND_SUCCESS && qf->ret == 1;
	r.delay_hours = config_time("delay_warning_time") / 3600;
	r.lifetime_days = config_time("maximal_queue_lifetime") / 86400;
	r.rcpts = v;
	r.nrcpt = n;
	buf_init(&text, BUF_UNLIMITED);
	dsn_report_build(&r, &text);
	put(c, buf_cstr(&text));
	buf_free(&text);
	/* a read error ends the copy where it happened, as a short file */
	(void)cleanup_copy_fd(c, qf->fd, qf->content_off, qf->content_len,
	    !r.full);
	put(c, "");
	{
		char *close_line = xasprintf("--%s--", boundary);
		put(c, close_line);
		free(close_line);
	}
	if (cleanup_finish(c, 1, &err) < 0 ||
	    queue_fsync_dir(service_queue_dir(), QUEUE_INCOMING) < 0) {
		log_warn("%s: cannot write %s notice: %s", qf->id,
		    kind == DSN_KIND_SUCCESS ? "success" : "bounce",
		    err ? err : strerror(errno));
		free(err);
		cleanup_abort(&c);
	} else {
		log_info("%s: sender %s notification: %s", qf->id,
		    kind == DSN_KIND_DELAY ? "delay" :
		    kind == DSN_KIND_SUCCESS ? "delivery status" :
		    "non-delivery", cleanup_id(c));
		cleanup_free(&c);
		service_trigger_send("qmgr", "I", 1);
	}
	free(rcpt_addr);
	free(attrs[0]);
	free(v);
}

void
qmgr_defer_log(struct qfile *qf, const char *lines)
{
	char *path = xasprintf("%s/defer/%s", service_queue_dir(), qf->id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0) {
		(void)!write(fd, lines, strlen(lines));
		close(fd);
	}
	free(path);
}
