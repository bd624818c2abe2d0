/* test-relays.c - Received: lines into relays (the layouts of the
 * common MTAs, lines that are no handover, the fields' clean-up), and
 * the X-Spam-Relays-* strings of a message with the trust boundary
 * inferred.  The expected strings are what SpamAssassin 4.0's parser
 * makes of the same lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "mime.h"
#include "msg_date.h"
#include "netaddr.h"
#include "relays.h"
#include "test.h"

static const char *
parsed(const char *line)
{
	static char out[4096];
	struct relay r;
	struct buf b;
	int rc = relay_parse(line, strlen(line), &r);

	if (rc != RELAY_OK) {
		snprintf(out, sizeof(out), "rc=%d", rc);
		return out;
	}
	buf_init(&b, BUF_UNLIMITED);
	relay_string(&r, 0, &b);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_free(&b);
	return out;
}

static void
test_layouts(void)
{
	/* Postfix, with and without a reverse name */
	T_STREQ(parsed("from mail.example.com (mail.example.com [192.0.2.1])\n"
	    "\tby mx.example.org (Postfix) with ESMTP id 4ABC12345\n"
	    "\tfor <u@example.org>; Mon, 30 Nov 2026 12:00:00 +0000 (UTC)"),
	    "[ ip=192.0.2.1 rdns=mail.example.com helo=mail.example.com by=mx.example.org ident= envfrom= intl=0 id=4ABC12345 auth= msa=0 ]");
	T_STREQ(parsed("from bogus.helo (unknown [198.51.100.7]) by mx.example.org (Postfix) with SMTP id 99ZZ; Mon, 30 Nov 2026 12:00:00 +0000"),
	    "[ ip=198.51.100.7 rdns= helo=bogus.helo by=mx.example.org ident= envfrom= intl=0 id=99ZZ auth= msa=0 ]");
	/* Postfix with SASL */
	T_STREQ(parsed("from [10.0.0.5] (laptop [10.0.0.5]) (Authenticated sender: joe) by smtp.example.org (Postfix) with ESMTPSA id 1A2B3C; Mon, 30 Nov 2026 12:00:00 +0000"),
	    "[ ip=10.0.0.5 rdns=laptop helo=!10.0.0.5! by=smtp.example.org ident= envfrom= intl=0 id=1A2B3C auth=ESMTPSA msa=0 ]");
	/* sendmail, with an ident and "may be forged" */
	T_STREQ(parsed("from helo.example (root@host.example [192.0.2.33] (may be forged)) by relay.example.net (8.11.6/8.11.6) with ESMTP id g7TKk1x12345 for <a@example.net>; Thu, 29 Aug 2002 21:46:01 +0100"),
	    "[ ip=192.0.2.33 rdns=host.example helo=helo.example by=relay.example.net ident=root envfrom= intl=0 id=g7TKk1x12345 auth= msa=0 ]");
	/* qmail: the HELO only when it differs, "unknown" for no name */
	T_STREQ(parsed("from unknown (HELO bogus) (198.51.100.7) by mx.example.net with SMTP; 30 Nov 2026 12:00:00 -0000"),
	    "[ ip=198.51.100.7 rdns= helo=bogus by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]");
	T_STREQ(parsed("from mail.example.com (192.0.2.8) by mx.example.net with SMTP; 30 Nov 2026 12:00:00 -0000"),
	    "[ ip=192.0.2.8 rdns=mail.example.com helo=mail.example.com by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]");
	/* Exim */
	T_STREQ(parsed("from [203.0.113.5] (helo=host.example) by exim.example.org with esmtp (Exim 4.96) id 1abcde-000123-AB; Mon, 30 Nov 2026 12:00:00 +0000"),
	    "[ ip=203.0.113.5 rdns= helo=host.example by=exim.example.org ident= envfrom= intl=0 id=1abcde-000123-AB auth= msa=0 ]");
	T_STREQ(parsed("from mail.example.com ([203.0.113.6] helo=smtp.example.com) by exim.example.org with esmtp (Exim 4.96) id 1abcdf-000123-AB"),
	    "[ ip=203.0.113.6 rdns=mail.example.com helo=smtp.example.com by=exim.example.org ident= envfrom= intl=0 id=1abcdf-000123-AB auth= msa=0 ]");
	/* Microsoft IIS */
	T_STREQ(parsed("from tthompson ([217.35.105.172] unverified) by mail.example.com with Microsoft SMTPSVC(5.0.2195.5329); Tue, 11 Mar 2003 13:23:01 +0000"),
	    "[ ip=217.35.105.172 rdns= helo=tthompson by=mail.example.com ident= envfrom= intl=0 id= auth= msa=0 ]");
	/* IPv6 */
	T_STREQ(parsed("from a.example (a.example [IPv6:2001:db8::1]) by b.example (Postfix) with ESMTP id 77AB; Mon, 30 Nov 2026 12:00:00 +0000"),
	    "[ ip=2001:db8::1 rdns=a.example helo=a.example by=b.example ident= envfrom= intl=0 id=77AB auth= msa=0 ]");
	/* no handover between hosts */
	T_STREQ(parsed("(qmail 27981 invoked by uid 225); 14 Mar 2003 07:24:34 -0000"), "rc=0");
	T_STREQ(parsed("by oak.example (Postfix, from userid 1002) id DABBD1BED3; Thu, 13 Feb 2003 14:02:21 +0100"), "rc=0");
	T_STREQ(parsed("from andrew by trinity.example with local (Exim 4.12) id 18xeL6-000Dn1-00; Tue, 25 Mar 2003 02:39:00 +0000"), "rc=0");
	T_STREQ(parsed("from virtual-access.org by bolero.example ; Thu, 20 Feb 2003 23:32:58 +0100"), "rc=0");
	/* a mail fetcher */
	T_STREQ(parsed("from pop.example.net [192.0.2.50] by localhost with POP3 (fetchmail-5.9.0) for jm@localhost (single-drop); Thu, 13 Mar 2003 20:39:56 -0800 (PST)"), "rc=2");
	/* nothing to read */
	T_STREQ(parsed("from somewhere over the rainbow"), "rc=-1");
	T_STREQ(parsed(""), "rc=0");
}

/* Fields are cut at their size; characters that would break the
 * "[ k=v ]" form are replaced. */
static void
test_bounds(void)
{
	struct buf line;
	struct relay r;

	buf_init(&line, BUF_UNLIMITED);
	(void)buf_appends(&line, "from ");
	for (int i = 0; i < 5000; i++)
		(void)buf_appendc(&line, 'h');
	(void)buf_appends(&line, " (x.example [192.0.2.1]) by y.example (Postfix) with SMTP id 1XY");
	/* the line is cut before its relay part: nothing taken from it */
	T_INTEQ(relay_parse(line.data, line.len, &r), RELAY_UNPARSEABLE);
	buf_reset(&line);
	(void)buf_appends(&line, "from ");
	for (int i = 0; i < 600; i++)
		(void)buf_appendc(&line, 'h');
	(void)buf_appends(&line, " (x.example [192.0.2.1]) by y.example (Postfix) with SMTP id 1XY");
	T_INTEQ(relay_parse(line.data, line.len, &r), RELAY_OK);
	T_INTEQ(strlen(r.helo), RELAY_FIELD_MAX - 1);
	T_STREQ(r.ip, "192.0.2.1");
	buf_free(&line);
	T_STREQ(parsed("from he|lo#x (n<a>me [192.0.2.1]) by y.example (Postfix) with SMTP id 1XY"),
	    "[ ip=192.0.2.1 rdns=n!a!me helo=he!lo!x by=y.example ident= envfrom= intl=0 id=1XY auth= msa=0 ]");
}

/* The qmail layouts read "by host (comment) with SMTP" past any number
 * of comments: a line whose "with SMTP" comes after the first of 30 is
 * still qmail's (no reverse name written as "unknown", so no lookup is
 * implied), where the backtracking over the comments used to run into
 * PCRE2's match limit and leave the line to a later layout. */
static void
test_qmail_comments(void)
{
	static const char *const heads[] = {
		"from unknown (HELO bogus) (198.51.100.7) by mx.example.net (a) with SMTP",
		"from unknown (198.51.100.7) by mx.example.net (a) with SMTP",
	};
	static const char *const want[] = {
		"[ ip=198.51.100.7 rdns= helo=bogus by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]",
		"[ ip=198.51.100.7 rdns= helo=unknown by=mx.example.net ident= envfrom= intl=0 id= auth= msa=0 ]",
	};
	struct buf line;
	struct relay r;

	buf_init(&line, BUF_UNLIMITED);
	for (size_t i = 0; i < NELEM(heads); i++) {
		buf_reset(&line);
		(void)buf_appends(&line, heads[i]);
		for (int k = 0; k < 30; k++)
			(void)buf_appends(&line, " (b)");
		(void)buf_appends(&line, "x; 30 Nov 2026 12:00:00 -0000");
		T_STREQ(parsed(buf_cstr(&line)), want[i]);
		T_INTEQ(relay_parse(line.data, line.len, &r), RELAY_OK);
		T_INTEQ(r.no_rdns, 0);
	}
	/* 30 comments and no "with": no qmail line, and no long search */
	buf_reset(&line);
	(void)buf_appends(&line, "from x (192.0.2.4) by y");
	for (int k = 0; k < 30; k++)
		(void)buf_appends(&line, " (a)");
	T_STREQ(parsed(buf_cstr(&line)),
	    "[ ip=192.0.2.4 rdns=x helo=x by=y ident= envfrom= intl=0 id= auth= msa=0 ]");
	buf_free(&line);
}

static void
test_private(void)
{
	T_OK(relay_ip_private("127.0.0.1"));
	T_OK(relay_ip_private("10.1.2.3"));
	T_OK(relay_ip_private("172.16.0.1"));
	T_OK(relay_ip_private("172.31.255.1"));
	T_OK(!relay_ip_private("172.32.0.1"));
	T_OK(relay_ip_private("192.168.1.1"));
	T_OK(relay_ip_private("169.254.1.1"));
	T_OK(relay_ip_private("100.64.0.1"));
	T_OK(!relay_ip_private("100.128.0.1"));
	T_OK(!relay_ip_private("192.0.2.1"));
	T_OK(relay_ip_private("::1"));
	T_OK(relay_ip_private("fe80::1"));
	T_OK(relay_ip_private("fd00::1"));
	T_OK(!relay_ip_private("2001:db8::1"));
	T_OK(!relay_ip_private(""));
}

/* The trust boundary: private or authenticated relays from the newest
 * down are trusted and internal, the first public one and all older
 * are not; a fetcher's line inside the trusted part starts over. */
static void
test_message(void)
{
	const char *msg =
	    "Received: from localhost (localhost [127.0.0.1])\n"
	    "\tby home.example (Postfix) with ESMTP id 1; Mon, 30 Nov 2026 12:00:00 +0000\n"
	    "Received: from pop.example.net [192.0.2.50] by localhost with POP3 (fetchmail-6.4)\n"
	    "Received: from gw.example.net (gw.example.net [10.9.9.9])\n"
	    "\tby pop.example.net (Postfix) with ESMTP id Q22; Mon, 30 Nov 2026 11:00:00 +0000\n"
	    "Received: from spammer.example (unknown [198.51.100.7])\n"
	    "\tby gw.example.net (Postfix) with SMTP id Q33; Mon, 30 Nov 2026 10:00:00 +0000\n"
	    "Received: from inner (inner [10.0.0.2])\n"
	    "\tby spammer.example (Postfix) with SMTP id Q44; Mon, 30 Nov 2026 09:00:00 +0000\n"
	    "X-Originating-IP: [203.0.113.9]\n"
	    "Subject: s\n"
	    "\n"
	    "body\n";
	struct mime_msg m;
	struct relays rl;

	mime_parse(&m, msg, strlen(msg), NULL);
	relays_of_message(&m, NULL, &rl);
	T_STREQ(rl.trusted,
	    "[ ip=10.9.9.9 rdns=gw.example.net helo=gw.example.net by=pop.example.net ident= envfrom= intl=1 id=Q22 auth= msa=0 ]");
	T_STREQ(rl.untrusted,
	    "[ ip=198.51.100.7 rdns= helo=spammer.example by=gw.example.net ident= envfrom= intl=0 id=Q33 auth= msa=0 ] "
	    "[ ip=10.0.0.2 rdns=inner helo=inner by=spammer.example ident= envfrom= intl=0 id=Q44 auth= msa=0 ] "
	    "[ ip=203.0.113.9 rdns= helo= by= ident= envfrom= intl=0 id= auth= msa=0 ]");
	T_STREQ(rl.internal, rl.trusted);
	T_STREQ(rl.external, rl.untrusted);
	relays_free(&rl);
	mime_free(&m);

	mime_parse(&m, "Subject: none\n\nbody\n", 20, NULL);
	relays_of_message(&m, NULL, &rl);
	T_STREQ(rl.trusted, "");
	T_STREQ(rl.external, "");
	relays_free(&rl);
	mime_free(&m);
}

/* Configured trusted networks (SpamAssassin's trusted_networks): a
 * relay in them is trusted whatever its address, a private address
 * outside them is not, loopback always is. */
static void
test_trusted_networks(void)
{
	const char *msg =
	    "Received: from localhost (localhost [127.0.0.1])\n"
	    "\tby mx.example.org (Postfix) with ESMTP id Q11; Mon, 30 Nov 2026 12:00:00 +0000\n"
	    "Received: from backup.example.org (backup.example.org [192.0.2.25])\n"
	    "\tby mx.example.org (Postfix) with ESMTP id Q22; Mon, 30 Nov 2026 11:00:00 +0000\n"
	    "Received: from lan (lan [10.1.1.1])\n"
	    "\tby backup.example.org (Postfix) with SMTP id Q33; Mon, 30 Nov 2026 10:00:00 +0000\n"
	    "Subject: s\n\nbody\n";
	struct mime_msg m;
	struct relays rl;
	char *err = NULL;
	struct netlist *nl = netlist_parse("192.0.2.0/24", &err);

	T_OK(nl != NULL);
	mime_parse(&m, msg, strlen(msg), NULL);
	relays_of_message(&m, nl, &rl);
	T_OK(strstr(rl.trusted, "ip=127.0.0.1 ") != NULL);
	T_OK(strstr(rl.trusted, "ip=192.0.2.25 ") != NULL);
	T_OK(strncmp(rl.untrusted, "[ ip=10.1.1.1 ", 14) == 0);
	relays_free(&rl);
	/* inferred: the public backup MX ends the trusted part */
	relays_of_message(&m, NULL, &rl);
	T_OK(strstr(rl.trusted, "ip=192.0.2.25 ") == NULL);
	T_OK(strncmp(rl.untrusted, "[ ip=192.0.2.25 ", 16) == 0);
	relays_free(&rl);
	mime_free(&m);
	netlist_free(&nl);
}

/* Dates as SpamAssassin's parse_rfc822_date() reads them (each value
 * printed by it from the same string): its fudging of out-of-range
 * fields, its clamping of years, ctime's form (whose time it drops),
 * named and numeric zones. */
static void
test_msg_date_parse(void)
{
	static const struct {
		const char *s;
		long long t;    /* -1: no date */
	} t[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557 },
		{ "1 Jul 03 10:52 PDT", 1057081920 },
		{ "Jul  1 10:52:37 2003", 1057017600 },
		{ "Thu, 22 Aug 2002 08:14:47 -0700 (PDT)", 1030029287 },
		{ "31 Feb 2004 12:00:00 GMT", 1078142400 },
		{ "30 Apr 99 25:61:70 EST", 925534799 },
		{ "Mon, 7 Jan 2041 00:00:00 +0000", 2114899200 },
		{ "1 Jan 1969 00:00:00 +0100", 0 },
		{ "0 Jan 2002 00:00:00 +0000", -1 },
		{ "Sat, 32 Dec 2001 23:59:59 NZDT", 1009882799 },
		{ "12 Mar 102 01:02:03 -0230", 1015903923 },
		{ "no date here", -1 },
		{ "Wed,10 Oct 2001 9:05 CEST", 1002697500 },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		int64_t v = -1;
		int rc = msg_date_parse(t[i].s, strlen(t[i].s), &v);
		T_INTEQ(rc, t[i].t < 0 ? -1 : 0);
		if (rc == 0)
			T_INTEQ((long long)v, t[i].t);
	}
	/* a long value: read up to MSG_DATE_MAX bytes, no more */
	{
		char big[3 * MSG_DATE_MAX];
		int64_t v;
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memcpy(big + 10, " 1 Jul 2003 ", 12);
		T_INTEQ(msg_date_parse(big, strlen(big), &v), 0);
		memcpy(big + 10, "xxxxxxxxxxxx", 12);
		memcpy(big + 2 * MSG_DATE_MAX, " 1 Jul 2003 ", 12);
		T_INTEQ(msg_date_parse(big, strlen(big), &v), -1);
	}
}

/* Date: minus the closest Received: time, as SpamAssassin's
 * _check_date_diff (bench/spam/relays_compat.py compares it on the whole
 * corpus: 6,046 of 6,046 the same; each case here printed by it too):
 * the local and fetchmail lines at the top passed over, the oldest
 * Received: passed over when it equals Date:. */
static void
test_msg_date_diff(void)
{
	static const struct {
		const char *hdrs;
		long long diff;
	} t[] = {
		{ "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n"
		  "Received: from c by a; Thu, 22 Aug 2002 15:00:00 +0000\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", -1800 },
		/* fetchmail's two lines are not the mail's */
		{ "Received: from localhost (localhost [127.0.0.1]) by x; Thu, 22 Aug 2002 15:31:00 +0000\n"
		  "Received: from pop [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) "
		  "for u; Thu, 22 Aug 2002 15:31:00 +0000\n"
		  "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", -1800 },
		/* a fold and its indentation are one blank: the zone on the
		 * next line is read; a tab inside the line is not a blank to
		 * the pattern, and that line's date is not read */
		{ "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n"
		  "Received: from c by a; Thu, 22 Aug 2002 15:29:00\n    +0000\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", 60 },
		{ "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n"
		  "Received: from c by a; Thu, 22 Aug 2002 15:29:00\tGMT\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", -1800 },
		/* the oldest equal to Date: is passed over */
		{ "Received: from a by b; Thu, 22 Aug 2002 18:00:00 +0000\n"
		  "Received: from c by a; Thu, 22 Aug 2002 15:30:00 +0000\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", -9000 },
		/* Resent-Date: first; no Date: or no Received: gives 0 */
		{ "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n"
		  "Resent-Date: Fri, 23 Aug 2002 16:00:00 +0000\n"
		  "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", 86400 },
		{ "Received: from a by b; Thu, 22 Aug 2002 16:00:00 +0000\n", 0 },
		{ "Date: Thu, 22 Aug 2002 15:30:00 +0000\n", 0 },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		struct mime_msg m;
		char msg[1024];
		snprintf(msg, sizeof(msg), "%sSubject: s\n\nbody\n", t[i].hdrs);
		mime_parse(&m, msg, strlen(msg), NULL);
		T_INTEQ((long long)msg_date_diff(&m), t[i].diff);
		mime_free(&m);
	}
}

int
main(void)
{
	T_RUN(test_layouts);
	T_RUN(test_bounds);
	T_RUN(test_qmail_comments);
	T_RUN(test_private);
	T_RUN(test_message);
	T_RUN(test_trusted_networks);
	T_RUN(test_msg_date_parse);
	T_RUN(test_msg_date_diff);
	return t_done();
}
