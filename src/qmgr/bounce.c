/*
 * bounce.c - non-delivery reports (RFC 3464 multipart/report) and the
 * deferral log read by mailq.  Input: the queue file of the failed
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

static void
putf(struct cleanup *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct cleanup *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	put(c, s);
	free(s);
}

static void report(struct qfile *qf, const char *lines, int delayed);

/* The per-recipient diagnostic fields.  A remote server's reply, as the
 * smtp client words it ("host NAME[ADDR] said: REPLY (in reply to CMD
 * command)"), becomes "Remote-MTA: dns; NAME" and "Diagnostic-Code:
 * smtp; REPLY" (RFC 3464 2.3.5, 2.3.6, as Postfix writes them, so that
 * bounce processors find the SMTP reply); any other text stays an
 * X-Tempest diagnostic. */
static void
put_diagnostic(struct cleanup *c, const char *text)
{
	const char *said, *br, *end;

	if (strncmp(text, "host ", 5) == 0 &&
	    (said = strstr(text, "] said: ")) != NULL &&
	    (br = memchr(text + 5, '[', (size_t)(said - text - 5))) != NULL &&
	    br > text + 5) {
		const char *reply = said + 8;
		end = strstr(reply, " (in reply to ");
		if (end == NULL)
			end = reply + strlen(reply);
		putf(c, "Remote-MTA: dns; %.*s", (int)(br - text - 5), text + 5);
		putf(c, "Diagnostic-Code: smtp; %.*s", (int)(end - reply), reply);
		return;
	}
	putf(c, "Diagnostic-Code: X-Tempest; %s", text);
}

void
qmgr_bounce(struct qfile *qf, const char *lines)
{
	report(qf, lines, 0);
}

void
qmgr_delay_warn(struct qfile *qf, const char *lines)
{
	if (*qf->sender == '\0')
		return;         /* never warn the null sender */
	report(qf, lines, 1);
}

/* A failure (or, with delayed, a delay warning) report to the sender. */
static void
report(struct qfile *qf, const char *lines, int delayed)
{
	const char *host = config_str("myhostname");
	char **v = str_split(lines, "\n", NULL), *err = NULL;
	struct cleanup_rcpt to;
	struct cleanup *c;
	char boundary[128], date[64], *rcpt_addr;
	time_t arrival = (time_t)(qf->arrival_us / 1000000);
	struct tm tm;
	size_t i;
	int any = 0, dbl = qfile_attr(qf, "double_bounce") != NULL;
	char *attrs[2] = { NULL, NULL };

	for (i = 0; v[i] != NULL; i++) {
		/* DSN NOTIFY: skip recipients that asked for no failure report */
		size_t k;
		char *tab = strchr(v[i], '\t');
		if (tab == NULL)
			continue;
		for (k = 0; k < qf->nrcpt; k++)
			if (strncmp(qf->rcpts[k].addr, v[i],
			    (size_t)(tab - v[i])) == 0 &&
			    qf->rcpts[k].addr[tab - v[i]] == '\0')
				break;
		if (k < qf->nrcpt && qf->rcpts[k].notify != 0 &&
		    !(qf->rcpts[k].notify & (delayed ? DSN_NOTIFY_DELAY :
		    DSN_NOTIFY_FAILURE))) {
			v[i][0] = '\0';
			continue;
		}
		any = 1;
	}
	if (!any || dbl) {
		if (dbl)
			log_info("%s: undeliverable postmaster notification "
			    "discarded", qf->id);
		str_split_free(&v);
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
		log_warn("%s: cannot create bounce: %s", qf->id, err);
		free(err);
		free(rcpt_addr);
		free(attrs[0]);
		str_split_free(&v);
		return;
	}
	snprintf(boundary, sizeof(boundary), "%s.%ld/%s", qf->id,
	    (long)time(NULL), host);
	localtime_r(&arrival, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	putf(c, "From: MAILER-DAEMON@%s (Mail Delivery System)", host);
	putf(c, "To: %s", rcpt_addr);
	putf(c, "Subject: %s", delayed ? "Delayed Mail (still being retried)" :
	    *qf->sender ? "Undelivered Mail Returned to Sender" :
	    "Postmaster Copy: Undelivered Mail");
	put(c, "Auto-Submitted: auto-replied");
	put(c, "MIME-Version: 1.0");
	putf(c, "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"", boundary);
	put(c, "Content-Transfer-Encoding: 8bit");
	put(c, "");
	put(c, "This is a MIME-encapsulated message.");
	put(c, "");
	putf(c, "--%s", boundary);
	put(c, "Content-Description: Notification");
	put(c, "Content-Type: text/plain; charset=us-ascii");
	put(c, "");
	if (delayed)
		putf(c, "This is the mail system at host %s.\n\n"
		    "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO "
		    "RESEND YOUR MESSAGE. #######\n\n"
		    "Your message could not be delivered for %lld hour(s).\n"
		    "It will be retried until it is %lld day(s) old.\n\n"
		    "                   The mail system\n", host,
		    config_time("delay_warning_time") / 3600,
		    config_time("maximal_queue_lifetime") / 86400);
	else
	putf(c, "This is the mail system at host %s.\n\n"
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients. It's attached below.\n\n"
	    "For further assistance, please send mail to postmaster.\n\n"
	    "                   The mail system\n", host);
	for (i = 0; v[i] != NULL; i++) {
		char *f[3] = { v[i], NULL, NULL }, *t;
		if (*v[i] == '\0')
			continue;
		if ((t = strchr(v[i], '\t')) != NULL) {
			*t++ = '\0';
			f[1] = t;
			if ((t = strchr(t, '\t')) != NULL) {
				*t++ = '\0';
				f[2] = t;
			}
		}
		putf(c, "<%s>: %s", f[0], f[2] ? (strchr(f[2], ' ') ?
		    strchr(f[2], ' ') + 1 : f[2]) : "delivery failed");
		if (t != NULL)
			t[-1] = '\t';
		if (f[1] != NULL)
			f[1][-1] = '\t';
	}
	put(c, "");
	putf(c, "--%s", boundary);
	put(c, "Content-Description: Delivery report");
	put(c, "Content-Type: message/delivery-status");
	put(c, "");
	putf(c, "Reporting-MTA: dns; %s", host);
	putf(c, "X-Tempest-Queue-ID: %s", qf->id);
	if (*qf->envid)
		putf(c, "Original-Envelope-Id: %s", qf->envid);
	if (*qf->sender)
		putf(c, "X-Tempest-Sender: rfc822; %s", qf->sender);
	putf(c, "Arrival-Date: %s", date);
	for (i = 0; v[i] != NULL; i++) {
		char *f[3] = { v[i], NULL, NULL }, *t, status[16] = "5.0.0";
		const char *diag;
		if (*v[i] == '\0')
			continue;
		if ((t = strchr(v[i], '\t')) != NULL) {
			*t++ = '\0';
			f[1] = t;
			if ((t = strchr(t, '\t')) != NULL) {
				*t++ = '\0';
				f[2] = t;
			}
		}
		diag = f[2] != NULL ? f[2] : "5.0.0 delivery failed";
		snprintf(status, sizeof(status), "%.*s",
		    (int)strcspn(diag, " "), diag);
		put(c, "");
		putf(c, "Final-Recipient: rfc822; %s", f[0]);
		if (f[1] != NULL && *f[1])
			putf(c, "Original-Recipient: %s", f[1]);
		put(c, delayed ? "Action: delayed" : "Action: failed");
		putf(c, "Status: %s", delayed || status[0] != '4' ? status :
		    "5.4.7");
		put_diagnostic(c, strchr(diag, ' ') ? strchr(diag, ' ') + 1 :
		    diag);
	}
	put(c, "");
	putf(c, "--%s", boundary);
	if (qf->ret == 2 || delayed) {
		put(c, delayed ? "Content-Description: Delayed Message Headers"
		    : "Content-Description: Undelivered Message Headers");
		put(c, "Content-Type: text/rfc822-headers");
	} else {
		put(c, "Content-Description: Undelivered Message");
		put(c, "Content-Type: message/rfc822");
	}
	put(c, "");
	/* a read error ends the copy where it happened, as a short file */
	(void)cleanup_copy_fd(c, qf->fd, qf->content_off, qf->content_len,
	    qf->ret == 2 || delayed);
	put(c, "");
	putf(c, "--%s--", boundary);
	if (cleanup_finish(c, 1, &err) < 0 ||
	    queue_fsync_dir(service_queue_dir(), QUEUE_INCOMING) < 0) {
		log_warn("%s: cannot write bounce: %s", qf->id,
		    err ? err : strerror(errno));
		free(err);
		cleanup_abort(&c);
	} else {
		log_info("%s: sender %s notification: %s", qf->id,
		    delayed ? "delay" : "non-delivery", cleanup_id(c));
		cleanup_free(&c);
		service_trigger_send("qmgr", "I", 1);
	}
	free(rcpt_addr);
	free(attrs[0]);
	str_split_free(&v);
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
