/*
 * bounce_report.h - the text of a delivery status notification (RFC
 * 3464 multipart/report; report-type=delivery-status): the one builder
 * of failure, delay and success notices (bounce.c writes its output to
 * the queue and appends the original message).  Pure: no I/O, no
 * configuration, no clock.
 */
#ifndef TEMPEST_BOUNCE_REPORT_H
#define TEMPEST_BOUNCE_REPORT_H

#include <stddef.h>

#include "buf.h"

enum dsn_kind { DSN_KIND_FAILURE, DSN_KIND_DELAY, DSN_KIND_SUCCESS };

struct dsn_rcpt {
	const char *addr;       /* Final-Recipient */
	const char *orcpt;      /* "type;address" or "" */
	/* "failed", "delayed", "delivered", "relayed", "expanded" */
	const char *action;
	/* "x.y.z text": a failure as the smtp client words it ("host
	 * NAME[ADDR] said: REPLY (in reply to CMD command)") and a relay
	 * ("delivered via NAME[ADDR]:PORT: REPLY") give Remote-MTA and an
	 * smtp Diagnostic-Code, any other text an X-Tempest one */
	const char *text;
};

struct dsn_report {
	enum dsn_kind kind;
	int postmaster;         /* a failure copy for postmaster (null sender) */
	const char *host;       /* Reporting-MTA, From: MAILER-DAEMON@host */
	const char *to;         /* To: */
	const char *queue_id;
	const char *envid;      /* Original-Envelope-Id or "" */
	const char *sender;     /* of the original, "" for the null sender */
	const char *arrival;    /* Arrival-Date, RFC 5322 date */
	const char *boundary;
	int full;               /* message/rfc822, else text/rfc822-headers */
	long long delay_hours, lifetime_days;   /* the delay warning's text */
	const struct dsn_rcpt *rcpts;
	size_t nrcpt;
};

/* Append the notice to out, LF line ends: header, the human-readable
 * part, the message/delivery-status part, and the header of the third
 * part up to its blank line; the caller appends the original message
 * (or its header) and then the closing "\n--BOUNDARY--" line. */
void dsn_report_build(const struct dsn_report *r, struct buf *out);

/*
 * Split qmgr's report lines in place: each line is "rcpt\torcpt\ttext"
 * (with_action: "action\trcpt\torcpt\ttext"); action defaults to
 * default_action.  Lines without a tab and empty lines are skipped.
 * The array (malloc'ed, *n_r entries) points into lines.
 */
struct dsn_rcpt *dsn_lines_parse(char *lines, int with_action,
    const char *default_action, size_t *n_r);

#endif
