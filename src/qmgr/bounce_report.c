/*
 * bounce_report.c - the text of a delivery status notification (see
 * bounce_report.h).  Input: qmgr's report lines, whose texts come from
 * delivery agents and, through the smtp client, from remote servers'
 * replies (control characters already masked by the smtp client); they
 * are copied into the notice, never interpreted beyond the patterns
 * below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_report.h"
#include "mem.h"

/* "x.y.z text": the status code (default def) and the text after it. */
static void
split_status(const char *text, const char *def, char *status, size_t size,
    const char **human_r)
{
	size_t n = strcspn(text, " ");
	const char *sp = strchr(text, ' ');

	if (n > 0 && n < size && text[0] >= '2' && text[0] <= '5' &&
	    text[1] == '.') {
		memcpy(status, text, n);
		status[n] = '\0';
		*human_r = sp != NULL ? sp + 1 : "";
		return;
	}
	snprintf(status, size, "%s", def);
	*human_r = text;
}

/*
 * The per-recipient diagnostic fields.  A remote server's reply, as the
 * smtp client words it ("host NAME[ADDR] said: REPLY (in reply to CMD
 * command)" for a refusal, "delivered via NAME[ADDR]:PORT: REPLY" for an
 * acceptance), becomes "Remote-MTA: dns; NAME" and "Diagnostic-Code:
 * smtp; REPLY" (RFC 3464 2.3.5, 2.3.6, as Postfix writes them, so that
 * report processors find the SMTP reply); any other text stays an
 * X-Tempest diagnostic.
 */
static void
put_diagnostic(struct buf *out, const char *text)
{
	const char *said, *br, *end, *reply, *name = NULL;
	size_t nlen = 0;

	if (strncmp(text, "host ", 5) == 0 &&
	    (said = strstr(text, "] said: ")) != NULL &&
	    (br = memchr(text + 5, '[', (size_t)(said - text - 5))) != NULL &&
	    br > text + 5) {
		name = text + 5;
		nlen = (size_t)(br - name);
		reply = said + 8;
		end = strstr(reply, " (in reply to ");
		if (end == NULL)
			end = reply + strlen(reply);
	} else if (strncmp(text, "delivered via ", 14) == 0 &&
	    (br = strchr(text + 14, '[')) != NULL && br > text + 14 &&
	    (said = strstr(br, "]:")) != NULL &&
	    (reply = strstr(said, ": ")) != NULL) {
		name = text + 14;
		nlen = (size_t)(br - name);
		reply += 2;
		end = reply + strlen(reply);
	}
	if (name != NULL && memchr(name, ' ', nlen) == NULL) {
		buf_printf(out, "Remote-MTA: dns; %.*s\n", (int)nlen, name);
		buf_printf(out, "Diagnostic-Code: smtp; %.*s\n",
		    (int)(end - reply), reply);
		return;
	}
	buf_printf(out, "Diagnostic-Code: X-Tempest; %s\n", text);
}

static const char *
subject(const struct dsn_report *r)
{
	switch (r->kind) {
	case DSN_KIND_DELAY:
		return "Delayed Mail (still being retried)";
	case DSN_KIND_SUCCESS:
		return "Successful Mail Delivery Report";
	default:
		return r->postmaster ? "Postmaster Copy: Undelivered Mail" :
		    "Undelivered Mail Returned to Sender";
	}
}

static void
human_intro(const struct dsn_report *r, struct buf *out)
{
	buf_printf(out, "This is the mail system at host %s.\n\n", r->host);
	switch (r->kind) {
	case DSN_KIND_DELAY:
		buf_printf(out, "####### THIS IS A WARNING ONLY.  YOU DO NOT "
		    "NEED TO RESEND YOUR MESSAGE. #######\n\n"
		    "Your message could not be delivered for %lld hour(s).\n"
		    "It will be retried until it is %lld day(s) old.\n",
		    r->delay_hours, r->lifetime_days);
		break;
	case DSN_KIND_SUCCESS:
		buf_appends(out, "Your message was successfully delivered to "
		    "the destination(s)\nlisted below. If the message was "
		    "delivered to a mailbox you will\nreceive no further "
		    "notifications. Otherwise you may still receive\n"
		    "notifications of mail delivery errors from other "
		    "systems.\n");
		break;
	default:
		buf_appends(out, "I'm sorry to have to inform you that your "
		    "message could not\nbe delivered to one or more "
		    "recipients. It's attached below.\n\n"
		    "For further assistance, please send mail to "
		    "postmaster.\n");
		break;
	}
	buf_appends(out, "\n                   The mail system\n\n");
}

void
dsn_report_build(const struct dsn_report *r, struct buf *out)
{
	const char *def = r->kind == DSN_KIND_SUCCESS ? "2.0.0" :
	    r->kind == DSN_KIND_DELAY ? "4.0.0" : "5.0.0";
	const char *dflt = r->kind == DSN_KIND_SUCCESS ? "delivered" :
	    r->kind == DSN_KIND_DELAY ? "delayed" : "delivery failed";
	char status[16];
	const char *human;
	size_t i;

	buf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\n",
	    r->host);
	buf_printf(out, "To: %s\n", r->to);
	buf_printf(out, "Subject: %s\n", subject(r));
	buf_appends(out, "Auto-Submitted: auto-replied\n"
	    "MIME-Version: 1.0\n");
	buf_printf(out, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\n\tboundary=\"%s\"\n", r->boundary);
	buf_appends(out, "Content-Transfer-Encoding: 8bit\n\n"
	    "This is a MIME-encapsulated message.\n\n");
	buf_printf(out, "--%s\n", r->boundary);
	buf_appends(out, "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=us-ascii\n\n");
	human_intro(r, out);
	for (i = 0; i < r->nrcpt; i++) {
		split_status(r->rcpts[i].text, def, status, sizeof(status),
		    &human);
		buf_printf(out, "<%s>: %s\n", r->rcpts[i].addr,
		    *human ? human : dflt);
	}
	buf_appends(out, "\n");
	buf_printf(out, "--%s\n", r->boundary);
	buf_appends(out, "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n");
	buf_printf(out, "Reporting-MTA: dns; %s\n", r->host);
	buf_printf(out, "X-Tempest-Queue-ID: %s\n", r->queue_id);
	if (r->envid != NULL && *r->envid)
		buf_printf(out, "Original-Envelope-Id: %s\n", r->envid);
	if (r->sender != NULL && *r->sender)
		buf_printf(out, "X-Tempest-Sender: rfc822; %s\n", r->sender);
	buf_printf(out, "Arrival-Date: %s\n", r->arrival);
	for (i = 0; i < r->nrcpt; i++) {
		const struct dsn_rcpt *d = &r->rcpts[i];
		split_status(d->text, def, status, sizeof(status), &human);
		/* a temporary error that ends a message's life is final */
		if (r->kind == DSN_KIND_FAILURE && status[0] != '5')
			snprintf(status, sizeof(status), "5.4.7");
		if (r->kind == DSN_KIND_SUCCESS && status[0] != '2')
			snprintf(status, sizeof(status), "2.0.0");
		buf_appends(out, "\n");
		buf_printf(out, "Final-Recipient: rfc822; %s\n", d->addr);
		if (d->orcpt != NULL && *d->orcpt)
			buf_printf(out, "Original-Recipient: %s\n", d->orcpt);
		buf_printf(out, "Action: %s\n", d->action);
		buf_printf(out, "Status: %s\n", status);
		put_diagnostic(out, *human ? human : dflt);
	}
	buf_appends(out, "\n");
	buf_printf(out, "--%s\n", r->boundary);
	if (r->full)
		buf_printf(out, "Content-Description: %s Message\n"
		    "Content-Type: message/rfc822\n\n",
		    r->kind == DSN_KIND_SUCCESS ? "Delivered" :
		    r->kind == DSN_KIND_DELAY ? "Delayed" : "Undelivered");
	else
		buf_printf(out, "Content-Description: %s Message Headers\n"
		    "Content-Type: text/rfc822-headers\n\n",
		    r->kind == DSN_KIND_SUCCESS ? "Delivered" :
		    r->kind == DSN_KIND_DELAY ? "Delayed" : "Undelivered");
}

struct dsn_rcpt *
dsn_lines_parse(char *lines, int with_action, const char *default_action,
    size_t *n_r)
{
	struct dsn_rcpt *v = NULL;
	size_t n = 0;
	char *p = lines;

	while (p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n'), *f[4] = { NULL }, *t;
		int k, want = with_action ? 4 : 3;
		if (nl != NULL)
			*nl++ = '\0';
		f[0] = p;
		for (k = 1; k < want; k++) {
			t = strchr(f[k - 1], '\t');
			if (t == NULL)
				break;
			*t = '\0';
			f[k] = t + 1;
		}
		p = nl;
		if (k < 2)
			continue;       /* no tab: not a report line */
		v = xreallocarray(v, n + 1, sizeof(*v));
		if (with_action) {
			v[n].action = f[0];
			v[n].addr = f[1];
			v[n].orcpt = f[2] != NULL ? f[2] : "";
			v[n].text = f[3] != NULL ? f[3] : "";
		} else {
			v[n].action = default_action;
			v[n].addr = f[0];
			v[n].orcpt = f[1];
			v[n].text = f[2] != NULL ? f[2] : "";
		}
		n++;
	}
	*n_r = n;
	return v;
}
