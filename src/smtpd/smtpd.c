/*
 * smtpd.c - the SMTP server: session state machine, ESMTP extensions,
 * limits, DATA/BDAT reception into the queue with group commit.
 *
 * Every byte read here comes from an untrusted SMTP client.  Command
 * lines are bounded by line_length_limit (io_getline), parsed by the pure
 * functions of lib-smtp, and checked (check_*) before any action (do_*).
 * Message content streams into the queue file through cleanup; nothing
 * larger than one line is held in memory.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "netaddr.h"
#include "queue_commit.h"
#include "queue_file.h"
#include "resolve.h"
#include "roles.h"
#include "service.h"
#include "smtp_parse.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_filter.h"
#include "str.h"

#define BARE_LF_NORMALIZE 0
#define BARE_LF_REJECT 1
#define BARE_LF_NO 2
/* smtpd_reserved_queue_files: each one holds a descriptor */
#define SMTPD_RESERVE_MAX 1024

/* Settings read once per process (a reload starts new processes). */
static struct {
	const char *hostname;
	const char *banner;
	int helo_required;
	long long size_limit;
	long long rcpt_limit;
	size_t line_limit;
	int timeout;
	int per_request_deadline;
	long long min_data_rate;
	int soft_errors, hard_errors, junk_limit;
	int error_sleep;
	int disable_vrfy;
	int bare_lf;
	int smtputf8;
	int strict;
	int reject_unlisted;
	long long hop_limit;
	long long reserve;      /* smtpd_reserved_queue_files */
	char **sender_restrictions;
	char **relay_restrictions;
	char **rcpt_restrictions;
	struct netlist *mynetworks;
	struct netlist *bare_lf_exclusions;
	char **ehlo_discard;    /* smtpd_discard_ehlo_keywords */
	int dsn_discarded;      /* ... names dsn */
} cfg;

static const char *
class_table(const char *addr)
{
	switch (resolve_class(addr)) {
	case ADDR_LOCAL: return "local recipient table";
	case ADDR_VIRTUAL: return "virtual mailbox table";
	case ADDR_VIRTUAL_ALIAS: return "virtual alias table";
	default: return "recipient table";
	}
}

/* ---- replies and logging ---- */

void
smtpd_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	if (line[0] == '4' || line[0] == '5')
		s->errors++;
	memcpy(line + n, "\r\n", 2);
	io_write(s->io, line, (size_t)n + 2);
}

static void
log_reject(struct session *s, const char *stage, const char *reply,
    const char *rcpt)
{
	log_info("NOQUEUE: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>",
	    stage, s->client, reply, s->sender ? s->sender : "",
	    rcpt ? " to=<" : "", rcpt ? rcpt : "", rcpt ? ">" : "",
	    s->esmtp ? "ESMTP" : "SMTP", s->helo ? s->helo : "");
}

/* ---- session lifecycle ---- */

static void session_process(struct session *s);

static void
reset_transaction(struct session *s)
{
	size_t i;

	FREE(s->sender);
	for (i = 0; i < s->nrcpt; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].orcpt);
	}
	FREE(s->rcpts);
	s->nrcpt = 0;
	s->rcpt_bytes = 0;
	s->has_mail = 0;
	memset(&s->mp, 0, sizeof(s->mp));
	smtpd_filter_cancel(s);
	cleanup_abort(&s->cl);
	for (i = 0; i < s->nextra; i++)
		cleanup_abort(&s->extra[i]);
	FREE(s->extra);
	s->nextra = 0;
	s->msg_size = 0;
	s->too_big = 0;
	s->bdat_failed = 0;
	s->bdat_active = 0;
	buf_reset(&s->pending_line);
}

/* A new request begins (a command line, message content, or input after
 * smtpd waited for the auth service, the filter, the commit or a tarpit):
 * smtpd_per_request_deadline counts from now.  Seconds of the coarse
 * monotonic clock: a few ns per command. */
static void
request_start(struct session *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	s->req_start = ts.tv_sec;
}

/* Sessions of this process (counted in on_accept and session_free). */
static int live_sessions;

static const struct cfg_param smtpd_queue_params[] = {
	{ "smtpd_reserved_queue_files", CFG_INT, "32", 0, "Queue files each smtpd process claims in incoming/ ahead of time, whose names one fsync of incoming/ per batch makes durable, so that a message's commit is the fsync of its own file (doc/queue-format.md, Reserved files); 0: a file is created per message and incoming/ is fsync'ed with its commit" },
	{ "smtpd_per_request_deadline", CFG_BOOL, "yes", 0, "smtpd_timeout limits the time to receive a whole command (counted from the end of the previous one, or from when smtpd went back to reading) rather than each read, and message content must arrive at smtpd_min_data_rate, so a client that trickles bytes cannot hold a session forever (Postfix's default is no outside stress mode)" },
	{ "smtpd_min_data_rate", CFG_INT, "500", 0, "With smtpd_per_request_deadline: the time to receive the content of DATA or of one BDAT chunk is smtpd_timeout plus one second per this many bytes received (bytes/s; 0 = content has no deadline)" },
};
CONFIG_PARAMS(smtpd_queue_params);

static void
session_free(struct session *s)
{
	if (s->processing) {
		/* inside session_process(): it frees on the way out */
		s->free_pending = 1;
		return;
	}
	if (s->committing) {
		/* the commit callback frees it */
		s->dead = 1;
		return;
	}
	log_info("disconnect from %s%s", s->client, buf_cstr(&s->counts));
	reset_transaction(s);
	smtpd_session_end_hook(s);
	io_free(&s->io);
	if (s->delay_ev != NULL)
		event_free(s->delay_ev);
	if (s->deadline_ev != NULL)
		event_free(s->deadline_ev);
	free(s->helo);
	buf_free(&s->line);
	buf_free(&s->pending_line);
	buf_free(&s->counts);
	smtpd_anvil_disconnect(s);
	free(s);
	live_sessions--;
	service_session_end();
}

static void
session_close(struct session *s)
{
	s->closing = 1;
	io_pause(s->io);
	if (io_outlen(s->io) == 0)
		session_free(s);
}

static int
check_errors(struct session *s)
{
	if (s->errors >= cfg.hard_errors || s->junk > cfg.junk_limit) {
		log_warn("%s: too many errors after %s", s->client,
		    s->last_cmd);
		smtpd_reply(s, "421 4.7.0 %s Error: too many errors",
		    cfg.hostname);
		session_close(s);
		return -1;
	}
	return 0;
}

static void
count_cmd(struct session *s, const char *name)
{
	/* "ehlo=1 mail=1 ..." as Postfix logs at disconnect */
	char key[32], *p;
	const char *c = buf_cstr(&s->counts);

	snprintf(key, sizeof(key), " %s=", name);
	str_lower(key);
	p = strstr(c, key);
	if (p == NULL)
		buf_printf(&s->counts, "%s1", key);
	else {
		/* increment the number in place (rebuild) */
		struct buf nb;
		char *num = p + strlen(key);
		long v = strtol(num, NULL, 10) + 1;
		buf_init(&nb, 4096);
		buf_append(&nb, c, (size_t)(num - c));
		buf_printf(&nb, "%ld", v);
		while (*num >= '0' && *num <= '9')
			num++;
		buf_appends(&nb, num);
		buf_set(&s->counts, buf_cstr(&nb));
		buf_free(&nb);
	}
}

/* ---- restrictions ---- */

enum verdict { V_DUNNO, V_PERMIT, V_REJECT };

static enum verdict
eval_restrictions(struct session *s, char **list, const char *rcpt,
    char *reply, size_t rlen)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++) {
		const char *r = list[i];
		enum addr_class c;
		int hk;

		if (strcmp(r, "permit_mynetworks") == 0) {
			if (s->trusted)
				return V_PERMIT;
		} else if (strcmp(r, "permit_sasl_authenticated") == 0) {
			if (s->auth_user != NULL)
				return V_PERMIT;
		} else if (strcmp(r, "reject_unauth_destination") == 0 ||
		    strcmp(r, "defer_unauth_destination") == 0) {
			int defer = r[0] == 'd';
			if (resolve_class_r(rcpt, &c) < 0) {
				snprintf(reply, rlen, "451 4.3.0 <%s>: Temporary "
				    "lookup failure", rcpt);
				return V_REJECT;
			}
			if (c == ADDR_REMOTE || resolve_has_routing(rcpt)) {
				snprintf(reply, rlen, defer ?
				    "454 4.7.1 <%s>: Relay access denied" :
				    "554 5.7.1 <%s>: Relay access denied", rcpt);
				return V_REJECT;
			}
		} else if (strcmp(r, "reject_unlisted_recipient") == 0) {
			int k = resolve_known_recipient(rcpt);
			if (k == 0) {
				snprintf(reply, rlen, "550 5.1.1 <%s>: Recipient "
				    "address rejected: User unknown in %s", rcpt,
				    class_table(rcpt));
				return V_REJECT;
			}
			if (k < 0) {
				snprintf(reply, rlen, "451 4.3.0 <%s>: Temporary "
				    "lookup failure", rcpt);
				return V_REJECT;
			}
		} else if (strcmp(r, "permit") == 0) {
			return V_PERMIT;
		} else if (strcmp(r, "reject") == 0) {
			snprintf(reply, rlen, "554 5.7.1 <%s>: Recipient address "
			    "rejected: Access denied", rcpt);
			return V_REJECT;
		} else if (strcmp(r, "defer") == 0) {
			snprintf(reply, rlen, "450 4.7.1 <%s>: Recipient address "
			    "rejected: Try again later", rcpt);
			return V_REJECT;
		} else if ((hk = smtpd_restriction_hook(s, r, reply, rlen)) >= 0) {
			if (hk > 0)
				return V_REJECT;
		} else {
			log_warn("unknown restriction \"%s\" (ignored as a "
			    "server configuration error)", r);
			snprintf(reply, rlen, "451 4.3.5 Server configuration error");
			return V_REJECT;
		}
	}
	return V_DUNNO;
}

/* ---- commands: check_<cmd> validates, do_<cmd> acts ---- */

static const struct cfg_param smtpd_ehlo_params[] = {
	{ "smtpd_discard_ehlo_keywords", CFG_LIST, "", 0, "EHLO keywords (case-insensitive: pipelining, size, vrfy, enhancedstatuscodes, 8bitmime, dsn, smtputf8, chunking) that smtpd does not announce (with dsn, the DSN parameters of MAIL and RCPT get 555 too); STARTTLS and AUTH are not affected here (Postfix's parameter; e.g. dsn makes clients send no DSN parameters, so that NOTIFY=SUCCESS gets a \"relayed\" notice from them)" },
};
CONFIG_PARAMS(smtpd_ehlo_params);

/* Whether smtpd_discard_ehlo_keywords names the keyword kw. */
static int
ehlo_discarded(const char *kw)
{
	size_t i;

	for (i = 0; cfg.ehlo_discard != NULL && cfg.ehlo_discard[i] != NULL; i++)
		if (strcasecmp(cfg.ehlo_discard[i], kw) == 0)
			return 1;
	return 0;
}

static void
do_ehlo(struct session *s, const char *arg, int esmtp)
{
	char size[64];
	const char *kw[8], *all[8];
	size_t n = 0, i;

	reset_transaction(s);
	free(s->helo);
	s->helo = xstrndup(arg, 255);
	/* it goes into Received: and the log: no control characters (a
	 * bare CR is a line break to some readers), as Postfix does */
	str_mask_controls(s->helo);
	s->esmtp = esmtp;
	if (!esmtp) {
		smtpd_reply(s, "250 %s", cfg.hostname);
		return;
	}
	snprintf(size, sizeof(size), "SIZE %lld", cfg.size_limit);
	all[0] = "PIPELINING";
	all[1] = size;
	all[2] = cfg.disable_vrfy ? NULL : "VRFY";
	all[3] = "ENHANCEDSTATUSCODES";        /* after the extensions */
	all[4] = "8BITMIME";
	all[5] = "DSN";
	all[6] = cfg.smtputf8 ? "SMTPUTF8" : NULL;
	all[7] = "CHUNKING";
	io_printf(s->io, "250-%s\r\n", cfg.hostname);
	for (i = 0; i < 8; i++) {
		char name[32];
		if (i == 3)
			smtpd_ehlo_extensions(s);
		if (all[i] == NULL)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(all[i], " "),
		    all[i]);
		if (ehlo_discarded(name))
			continue;
		if (i < 3)
			io_printf(s->io, "250-%s\r\n", all[i]);
		else
			kw[n++] = all[i];
	}
	/* the last line needs a keyword: HELP when every one is discarded */
	if (n == 0)
		kw[n++] = "HELP";
	for (i = 0; i < n; i++)
		io_printf(s->io, "250%c%s\r\n", i + 1 < n ? '-' : ' ', kw[i]);
}

static void
cmd_helo(struct session *s, const char *arg, int esmtp)
{
	if (*arg == '\0') {
		smtpd_reply(s, "501 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	do_ehlo(s, arg, esmtp);
}

static int
check_mail(struct session *s, const char *args, struct smtp_path *p,
    struct smtp_mail_params *mp)
{
	const char *params, *err;
	int flags = SMTP_PATH_ALLOW_NULL | (cfg.strict ? SMTP_PATH_STRICT : 0);

	if (cfg.helo_required && s->helo == NULL) {
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return -1;
	}
	if (s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: nested MAIL command");
		return -1;
	}
	if (smtpd_check_mail_hook(s) < 0)
		return -1;
	if (smtpd_anvil_limits.mail > 0 && smtpd_anvil_mail(s) < 0)
		return -1;
	if (smtp_parse_path_arg(args, "FROM", flags, p, &params, &err) < 0) {
		smtpd_reply(s, "501 %s", err);
		return -1;
	}
	if (smtp_parse_mail_params(params, mp, &err) < 0) {
		smtpd_reply(s, "555 %s", err);
		return -1;
	}
	if ((mp->ret != 0 || mp->envid[0] != '\0') && cfg.dsn_discarded) {
		/* DSN not announced: its parameters are unknown (Postfix) */
		smtpd_reply(s, "555 5.5.4 Unsupported option: %s",
		    mp->ret != 0 ? "RET" : "ENVID");
		return -1;
	}
	if (mp->smtputf8 && !cfg.smtputf8) {
		smtpd_reply(s, "555 5.5.4 Unsupported option: SMTPUTF8");
		return -1;
	}
	if (p->utf8 && !mp->smtputf8) {
		smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address");
		return -1;
	}
	if (mp->size >= 0 && mp->size > cfg.size_limit) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return -1;
	}
	return 0;
}

static void
cmd_mail(struct session *s, const char *args)
{
	struct smtp_path p;
	struct smtp_mail_params mp;

	smtp_path_init(&p);
	if (check_mail(s, args, &p, &mp) == 0) {
		s->sender = xstrdup(buf_cstr(&p.addr));
		resolve_fold_domain(s->sender);
		s->mp = mp;
		s->has_mail = 1;
		smtpd_reply(s, "250 2.1.0 Ok");
	}
	smtp_path_free(&p);
}

static int
check_rcpt(struct session *s, const char *args, struct smtp_path *p,
    struct smtp_rcpt_params *rp)
{
	const char *params, *err;
	char reply[700];
	const char *rcpt;
	int flags = SMTP_PATH_ALLOW_BARE | (cfg.strict ? SMTP_PATH_STRICT : 0);
	enum verdict v;

	if (!s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if ((long long)s->nrcpt >= cfg.rcpt_limit) {
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	if (smtpd_anvil_limits.rcpt > 0 && smtpd_anvil_rcpt(s) < 0)
		return -1;
	if (smtp_parse_path_arg(args, "TO", flags, p, &params, &err) < 0) {
		smtpd_reply(s, "501 %s", err);
		return -1;
	}
	if (smtp_parse_rcpt_params(params, rp, &err) < 0) {
		smtpd_reply(s, "555 %s", err);
		return -1;
	}
	if ((rp->notify != 0 || rp->orcpt[0] != '\0') && cfg.dsn_discarded) {
		/* DSN not announced: its parameters are unknown (Postfix) */
		smtpd_reply(s, "555 5.5.4 Unsupported option: %s",
		    rp->notify != 0 ? "NOTIFY" : "ORCPT");
		return -1;
	}
	if (p->utf8 && !s->mp.smtputf8) {
		smtpd_reply(s, "553 5.6.7 Must declare SMTPUTF8 to send unicode "
		    "address");
		return -1;
	}
	if (p->at == 0) {
		/* bare local part (RFC 5321 requires <Postmaster>) */
		if (strcasecmp(buf_cstr(&p->addr), "postmaster") != 0) {
			smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
			return -1;
		}
		buf_printf(&p->addr, "@%s", config_str("myorigin"));
		p->at = 10;
	}
	if (!smtpd_filter_rcpt_fits(s, smtpd_filter_rcpt_size(p->addr.len, rp))) {
		/* the content filter takes the recipients in one request */
		smtpd_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	rcpt = buf_cstr(&p->addr);
	resolve_fold_domain((char *)p->addr.data);
	v = eval_restrictions(s, cfg.sender_restrictions, rcpt, reply,
	    sizeof(reply));
	if (v != V_REJECT)
		v = eval_restrictions(s, cfg.relay_restrictions, rcpt, reply,
		    sizeof(reply));
	if (v != V_REJECT)
		v = eval_restrictions(s, cfg.rcpt_restrictions, rcpt, reply,
		    sizeof(reply));
	if (v != V_REJECT && cfg.reject_unlisted) {
		int k = resolve_known_recipient(rcpt);
		if (k == 0) {
			snprintf(reply, sizeof(reply), "550 5.1.1 <%s>: Recipient "
			    "address rejected: User unknown in %s", rcpt,
			    class_table(rcpt));
			v = V_REJECT;
		} else if (k < 0) {
			snprintf(reply, sizeof(reply), "451 4.3.0 <%s>: Temporary "
			    "lookup failure", rcpt);
			v = V_REJECT;
		}
	}
	if (v == V_REJECT) {
		log_reject(s, "RCPT", reply, rcpt);
		smtpd_reply(s, "%s", reply);
		return -1;
	}
	return 0;
}

static void
cmd_rcpt(struct session *s, const char *args)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;

	smtp_path_init(&p);
	if (check_rcpt(s, args, &p, &rp) == 0) {
		s->rcpts = xreallocarray(s->rcpts, s->nrcpt + 1,
		    sizeof(*s->rcpts));
		s->rcpts[s->nrcpt].addr = xstrdup(buf_cstr(&p.addr));
		s->rcpts[s->nrcpt].orcpt = xstrdup(rp.orcpt);
		s->rcpts[s->nrcpt].notify = rp.notify;
		s->nrcpt++;
		s->rcpt_bytes += smtpd_filter_rcpt_size(p.addr.len, &rp);
		smtpd_reply(s, "250 2.1.5 Ok");
	}
	smtp_path_free(&p);
}

/* Create the queue file and write the envelope + Received header. */
static int
open_message(struct session *s)
{
	struct cleanup_rcpt *r = xcalloc(s->nrcpt, sizeof(*r));
	char *attrs[8], *err = NULL, date[64], *received;
	size_t i;
	int na = 0;
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;

	for (i = 0; i < s->nrcpt; i++) {
		r[i].addr = s->rcpts[i].addr;
		r[i].orcpt = s->rcpts[i].orcpt;
		r[i].notify = s->rcpts[i].notify;
	}
	attrs[na++] = xasprintf("client_address=%s", s->addr);
	attrs[na++] = xasprintf("helo_name=%s", s->helo ? s->helo : "");
	proto = s->mp.smtputf8 ? "UTF8SMTP" : s->esmtp ? "ESMTP" : "SMTP";
	attrs[na++] = xasprintf("protocol=%s", proto);
	if (s->auth_user != NULL)
		attrs[na++] = xasprintf("sasl_username=%s", s->auth_user);
	/* what MAIL FROM asked for, for the smtp client and a release
	 * from the quarantine */
	if (s->mp.smtputf8)
		attrs[na++] = xstrdup("smtputf8=yes");
	if (s->mp.body_8bit)
		attrs[na++] = xstrdup("body=8BITMIME");
	attrs[na] = NULL;
	s->cl = cleanup_open(service_queue_dir(), s->sender, r, s->nrcpt,
	    s->mp.envid, s->mp.ret, attrs, &err);
	for (i = 0; i < (size_t)na; i++)
		free(attrs[i]);
	free(r);
	if (s->cl == NULL) {
		smtpd_reply(s, "%s %s", err[0] == '4' ? "451" : "554", err);
		free(err);
		return -1;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	received = xasprintf("Received: from %s (unknown [%s])%s\n"
	    "\tby %s (%s) with %s%s id %s%s%s%s;\n\t%s",
	    s->helo ? s->helo : s->addr, s->addr, smtpd_received_clauses(s),
	    cfg.hostname,
	    config_str("mail_name"), proto, smtpd_proto_suffix(s),
	    cleanup_id(s->cl), s->nrcpt == 1 ? "\n\tfor <" : "",
	    s->nrcpt == 1 ? s->rcpts[0].addr : "", s->nrcpt == 1 ? ">" : "",
	    date);
	cleanup_received(s->cl, received);
	free(received);
	log_info("%s: client=%s%s", cleanup_id(s->cl), s->client,
	    smtpd_client_log_suffix(s));
	return 0;
}

static int
check_data(struct session *s, const char *args)
{
	if (*args != '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: DATA");
		return -1;
	}
	if (!s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if (s->nrcpt == 0) {
		smtpd_reply(s, "503 5.5.1 Error: need RCPT command");
		return -1;
	}
	if (s->bdat_active) {
		smtpd_reply(s, "503 5.5.1 Error: DATA after BDAT");
		return -1;
	}
	return 0;
}

static void
cmd_data(struct session *s, const char *args)
{
	if (check_data(s, args) < 0 || open_message(s) < 0)
		return;
	smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	s->state = S_DATA;
	s->data_line_start = 1;
	s->prev_crlf = 1;
}

/*
 * Send a trigger to qmgr over a datagram socket connected once to
 * public/qmgr (service_trigger_send() looks the path up per datagram);
 * a qmgr started anew since (ECONNREFUSED) gets a new connection.
 * 0, or -1 (not sent: qmgr's queue is full or it is not there).
 */
static int
trigger_send_qmgr(const char *data, size_t len)
{
	static int fd = -1;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (fd < 0) {
			struct sockaddr_un sun;
			memset(&sun, 0, sizeof(sun));
			sun.sun_family = AF_UNIX;
			if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
			    "%s/public/qmgr", service_queue_dir()) >=
			    sizeof(sun.sun_path))
				return service_trigger_send("qmgr", data, len);
			fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, 0);
			if (fd < 0)
				return -1;
			if (connect(fd, (struct sockaddr *)&sun,
			    sizeof(sun)) < 0) {
				close(fd);
				fd = -1;
				return -1;
			}
		}
		if (send(fd, data, len, 0) == (ssize_t)len)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		close(fd);              /* qmgr restarted: connect again */
		fd = -1;
	}
	return -1;
}

/* Tell qmgr about a committed message: "N<id>" takes just that file. */
static void
trigger_qmgr(const char *id)
{
	char trig[1 + QUEUE_ID_LEN + 1];

	if (service_trigger_wake_pending("qmgr"))
		return;         /* a scan is coming: it will find this file */
	snprintf(trig, sizeof(trig), "N%s", id);
	/* lost (qmgr's socket was full): a scan of incoming/ instead */
	if (trigger_send_qmgr(trig, strlen(trig)) < 0)
		service_trigger_wake("qmgr");
}

/* The queue files are durable (error 0) or not: reply, end the
 * transaction.  (After an error the files stay: one may be durable, and
 * a duplicate when the client sends again is better than a loss.) */
static void
commit_finish(struct session *s, int error)
{
	const char *id = cleanup_id(s->cl);
	size_t i;

	if (error != 0) {
		log_err("%s: queue file fsync: %s", id, strerror(error));
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
	} else {
		smtpd_reply(s, "250 2.0.0 Ok: queued as %s", id);
		for (i = 0; i < s->nextra; i++)
			trigger_qmgr(cleanup_id(s->extra[i]));
		trigger_qmgr(id);
	}
	for (i = 0; i < s->nextra; i++)
		cleanup_free(&s->extra[i]);
	FREE(s->extra);
	s->nextra = 0;
	cleanup_free(&s->cl);
	reset_transaction(s);
	s->state = S_CMD;
}

static void
commit_done(void *arg, int error)
{
	struct session *s = arg;

	if (error != 0 && s->commit_error == 0)
		s->commit_error = error;
	if (--s->commit_pending > 0)
		return;
	s->committing = 0;
	commit_finish(s, s->commit_error);
	if (s->dead) {
		session_free(s);
		return;
	}
	request_start(s);
	io_resume(s->io);
	session_process(s);
}

/* Finish the queue file (and the extra copies of a split) and hand them
 * to the committer: 0 (the 250 follows from commit_done once all are
 * durable), 1 (committed here and answered: the only session of this
 * process has no one to share a group commit with, so the worker thread
 * round trip is skipped), or -1 after an error reply. */
static int
commit_message(struct session *s)
{
	struct cleanup *c;
	char *err = NULL;
	size_t i;

	for (i = 0; i <= s->nextra; i++) {
		c = i < s->nextra ? s->extra[i] : s->cl;
		if (cleanup_finish(c, 0, &err) < 0) {
			log_err("%s: %s", cleanup_id(c), err);
			free(err);
			smtpd_reply(s, "451 4.3.0 Error: queue file write error");
			reset_transaction(s);       /* drops them all */
			s->state = S_CMD;
			return -1;
		}
	}
	if (live_sessions == 1 && queue_commit_idle()) {
		int e = 0, need_dir, fd = -1;
		for (i = 0; i <= s->nextra; i++) {
			c = i < s->nextra ? s->extra[i] : s->cl;
			need_dir = !cleanup_entry_durable(c);
			fd = cleanup_take_fd(c);
			if (e == 0)
				e = queue_commit_now(fd, need_dir);
			if (i < s->nextra)
				close(fd);
		}
		/* the reply first: the close can wait */
		commit_finish(s, e);
		close(fd);
		return 1;
	}
	s->state = S_COMMIT;
	s->committing = 1;
	io_pause(s->io);
	s->commit_pending = (int)s->nextra + 1;
	s->commit_error = 0;
	for (i = 0; i <= s->nextra; i++) {
		c = i < s->nextra ? s->extra[i] : s->cl;
		queue_commit_submit(cleanup_take_fd(c), !cleanup_entry_durable(c),
		    commit_done, s);
	}
	return 0;
}

/* End of DATA or BDAT LAST: filter, finish the queue file, commit it. */
static void
finish_message(struct session *s)
{

	if (s->too_big) {
		smtpd_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		log_info("%s: reject: message size %zu exceeds limit %lld",
		    cleanup_id(s->cl), s->msg_size, cfg.size_limit);
		reset_transaction(s);
		s->state = S_CMD;
		return;
	}
	if (cleanup_hops(s->cl) > cfg.hop_limit) {
		smtpd_reply(s, "554 5.4.0 Error: too many hops");
		log_info("%s: reject: too many hops", cleanup_id(s->cl));
		reset_transaction(s);
		s->state = S_CMD;
		return;
	}
	if (smtpd_content_hook(s) < 0) {
		reset_transaction(s);
		s->state = S_CMD;
		return;
	}
	/* content filter (smtpd_filter.c): before the file is complete, so
	 * qmgr never sees an unscanned original; asynchronous */
	switch (smtpd_filter_start(s)) {
	case 0:
		break;
	case 1:
		s->state = S_FILTER;
		s->committing = 1;
		io_pause(s->io);
		return;
	default:
		reset_transaction(s);
		s->state = S_CMD;
		return;
	}
	commit_message(s);
}

void
smtpd_filter_done(struct session *s, int queue_it)
{
	s->committing = 0;
	if (s->dead) {
		reset_transaction(s);
		session_free(s);
		return;
	}
	if (queue_it && commit_message(s) == 0)
		return;
	if (!queue_it)
		reset_transaction(s);
	s->state = S_CMD;
	request_start(s);
	io_resume(s->io);
	session_process(s);
}

/* One content line (or part of a long line) after dot-unstuffing. */
static void
data_content(struct session *s, const char *p, size_t n, int eol)
{
	s->msg_size += n + (eol ? 2 : 0);
	if (s->too_big)
		return;
	if ((long long)s->msg_size > cfg.size_limit) {
		s->too_big = 1;
		return;
	}
	cleanup_line(s->cl, p, n, eol);
}

/* Process DATA input; returns 0 to continue, 1 when paused/closed. */
static int
data_input(struct session *s)
{
	for (;;) {
		int cr = 0, r;
		const char *p;
		size_t n;

		r = io_getline(s->io, &s->line, cfg.line_limit, &cr);
		if (r == 0)
			return 1;
		p = s->line.data != NULL ? s->line.data : "";
		n = s->line.len;
		if (r == 1 && !cr) {
			if (cfg.bare_lf == BARE_LF_REJECT &&
			    !netlist_match(cfg.bare_lf_exclusions,
			    (struct sockaddr *)&s->sa)) {
				log_info("%s: reject: bare <LF> received from %s",
				    cleanup_id(s->cl), s->client);
				smtpd_reply(s, "521 5.5.2 %s Error: bare <LF> "
				    "received", cfg.hostname);
				reset_transaction(s);
				session_close(s);
				return 1;
			}
		}
		if (s->data_line_start && r == 1 && cr && s->prev_crlf &&
		    n == 1 && p[0] == '.') {
			s->state = S_CMD;
			finish_message(s);
			return s->state == S_COMMIT || s->state == S_FILTER;
		}
		if (s->data_line_start && n > 0 && p[0] == '.') {
			p++;
			n--;
		}
		data_content(s, p, n, r == 1);
		s->data_line_start = r == 1;
		s->prev_crlf = r == 1 && cr;
	}
}

/* BDAT: take chunk bytes, split into lines. */
static int
bdat_input(struct session *s)
{
	while (s->bdat_remaining > 0) {
		struct buf chunk;
		long got;
		size_t i, start = 0;

		buf_init(&chunk, 65536);
		got = io_read_into(s->io, &chunk,
		    s->bdat_remaining < 65536 ? s->bdat_remaining : 65536);
		if (got <= 0) {
			buf_free(&chunk);
			return 1;
		}
		s->bdat_remaining -= (size_t)got;
		if (s->bdat_failed || s->cl == NULL) {
			buf_free(&chunk);
			continue;
		}
		for (i = 0; i < chunk.len; i++) {
			if (chunk.data[i] != '\n')
				continue;
			buf_append(&s->pending_line, chunk.data + start, i - start);
			{
				size_t l = s->pending_line.len;
				if (l > 0 && s->pending_line.data[l - 1] == '\r')
					l--;
				data_content(s, buf_cstr(&s->pending_line), l, 1);
			}
			buf_reset(&s->pending_line);
			start = i + 1;
		}
		if (start < chunk.len) {
			size_t rest = chunk.len - start;
			if (s->pending_line.len + rest > cfg.line_limit) {
				/* flush a long line in parts */
				data_content(s, buf_cstr(&s->pending_line),
				    s->pending_line.len, 0);
				buf_reset(&s->pending_line);
			}
			buf_append(&s->pending_line, chunk.data + start, rest);
		}
		buf_free(&chunk);
	}
	/* chunk complete */
	s->state = S_CMD;
	if (s->bdat_failed) {
		smtpd_reply(s, "%s", s->bdat_error);
		if (s->bdat_last)
			reset_transaction(s);
		return 0;
	}
	if (!s->bdat_last) {
		smtpd_reply(s, "250 2.0.0 Ok: %zu bytes", s->bdat_size);
		return 0;
	}
	if (s->pending_line.len > 0) {
		data_content(s, buf_cstr(&s->pending_line), s->pending_line.len, 1);
		buf_reset(&s->pending_line);
	}
	finish_message(s);
	return s->state == S_COMMIT || s->state == S_FILTER;
}

static void
cmd_bdat(struct session *s, const char *args)
{
	char *end;
	unsigned long long size;
	const char *p = args;

	if (*p < '0' || *p > '9') {
		smtpd_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		return;
	}
	size = strtoull(p, &end, 10);
	while (*end == ' ')
		end++;
	if (*end != '\0' && strcasecmp(end, "LAST") != 0) {
		smtpd_reply(s, "501 5.5.4 Syntax: BDAT count [LAST]");
		return;
	}
	s->bdat_size = (size_t)size;
	s->bdat_remaining = (size_t)size;
	s->bdat_last = *end != '\0';
	s->state = S_BDAT;
	if (!s->bdat_failed) {
		if (!s->has_mail || s->nrcpt == 0) {
			s->bdat_failed = 1;
			snprintf(s->bdat_error, sizeof(s->bdat_error),
			    "503 5.5.1 Error: need %s command",
			    s->has_mail ? "RCPT" : "MAIL");
		} else if (!s->bdat_active) {
			s->bdat_active = 1;
			if (open_message(s) < 0) {
				s->bdat_failed = 1;
				snprintf(s->bdat_error, sizeof(s->bdat_error),
				    "451 4.3.0 Error: queue file write error");
				s->errors--;   /* counted once, below */
			}
		}
	}
	if (size > (unsigned long long)cfg.size_limit + 1024 * 1024 &&
	    !s->bdat_failed) {
		s->too_big = 1;
	}
}

static void
cmd_vrfy(struct session *s, const char *args)
{
	struct smtp_path p;
	const char *err;

	s->junk++;
	if (cfg.disable_vrfy) {
		smtpd_reply(s, "502 5.5.1 VRFY command is disabled");
		return;
	}
	smtp_path_init(&p);
	if (*args == '\0') {
		smtpd_reply(s, "501 5.5.4 Syntax: VRFY address");
	} else {
		char tmp[SMTP_PATH_MAX + 2];
		const char *a = args;
		size_t l = strlen(args);
		if (a[0] == '<' && l >= 2 && a[l - 1] == '>') {
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(l - 2), a + 1);
			a = tmp;
		}
		int k = 1;
		if (smtp_parse_address(a, SMTP_PATH_ALLOW_BARE, &p, &err) < 0)
			smtpd_reply(s, "501 5.1.3 Bad recipient address syntax");
		else if ((k = resolve_known_recipient(buf_cstr(&p.addr))) < 0)
			smtpd_reply(s, "451 4.3.0 <%s>: Temporary lookup failure",
			    buf_cstr(&p.addr));
		else if (k == 0)
			smtpd_reply(s, "550 5.1.1 <%s>: Recipient address "
			    "rejected: User unknown in %s", buf_cstr(&p.addr),
			    class_table(buf_cstr(&p.addr)));
		else
			smtpd_reply(s, "252 2.0.0 %s", buf_cstr(&p.addr));
	}
	smtp_path_free(&p);
}

static void
command(struct session *s, const char *line, size_t len)
{
	const char *args;
	enum smtp_verb v = smtp_parse_verb(line, len, &args);

	snprintf(s->last_cmd, sizeof(s->last_cmd), "%s", smtp_verb_name(v));
	if (v != SMTP_UNKNOWN && v != SMTP_XNONSMTP)
		count_cmd(s, smtp_verb_name(v));
	else
		count_cmd(s, "unknown");
	if (smtpd_command_hook(s, v, args))
		return;
	switch (v) {
	case SMTP_HELO:
		cmd_helo(s, args, 0);
		break;
	case SMTP_EHLO:
		cmd_helo(s, args, 1);
		break;
	case SMTP_MAIL:
		cmd_mail(s, args);
		break;
	case SMTP_RCPT:
		cmd_rcpt(s, args);
		break;
	case SMTP_DATA:
		cmd_data(s, args);
		break;
	case SMTP_BDAT:
		cmd_bdat(s, args);
		break;
	case SMTP_RSET:
		s->junk++;
		reset_transaction(s);
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_NOOP:
		s->junk++;
		smtpd_reply(s, "250 2.0.0 Ok");
		break;
	case SMTP_QUIT:
		smtpd_reply(s, "221 2.0.0 Bye");
		session_close(s);
		break;
	case SMTP_VRFY:
		cmd_vrfy(s, args);
		break;
	case SMTP_HELP:
		s->junk++;
		smtpd_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA "
		    "BDAT RSET NOOP QUIT VRFY HELP");
		break;
	case SMTP_XNONSMTP:
		log_warn("non-SMTP command from %s: %.100s", s->client, line);
		smtpd_reply(s, "221 2.7.0 Error: I can break rules, too. Goodbye.");
		session_close(s);
		break;
	default:
		s->junk++;
		smtpd_reply(s, "502 5.5.2 Error: command not recognized");
		break;
	}
}

void
smtpd_session_pause(struct session *s)
{
	s->delayed = 1;
	io_pause(s->io);
}

void
smtpd_session_resume(struct session *s)
{
	s->delayed = 0;
	request_start(s);
	io_resume(s->io);
	session_process(s);
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	smtpd_session_resume(arg);
}

static void session_process_input(struct session *s);

static void
session_process(struct session *s)
{
	s->processing++;
	session_process_input(s);
	if (--s->processing == 0 && s->free_pending)
		session_free(s);
}

static void
session_process_input(struct session *s)
{
	while (!s->closing && !s->delayed) {
		int r, cr = 0;

		if (s->state == S_DATA) {
			if (data_input(s))
				return;
			continue;
		}
		if (s->state == S_BDAT) {
			if (bdat_input(s))
				return;
			continue;
		}
		if (s->state != S_CMD)
			return;
		if (check_errors(s) < 0)
			return;
		if (s->errors > cfg.soft_errors && cfg.error_sleep > 0 &&
		    !s->slept && io_inlen(s->io) > 0) {
			/* tarpit: delay the next command */
			struct timeval tv = { cfg.error_sleep, 0 };
			s->slept = 1;
			s->delayed = 1;
			io_pause(s->io);
			if (s->delay_ev == NULL)
				s->delay_ev = evtimer_new(io_base(), on_delay, s);
			evtimer_add(s->delay_ev, &tv);
			return;
		}
		r = io_getline(s->io, &s->line, cfg.line_limit, &cr);
		if (r == 0)
			return;
		if (r == 1)
			request_start(s);
		s->slept = 0;
		if (r == 2 || s->skip_long) {
			/* overlong command: discard up to its end */
			s->skip_long = r == 2;
			if (r == 1 || !s->long_reported) {
				if (!s->long_reported)
					smtpd_reply(s, "500 5.5.2 Error: command "
					    "line too long");
				s->long_reported = r == 2;
			}
			continue;
		}
		if (!cr && cfg.bare_lf == BARE_LF_REJECT &&
		    !netlist_match(cfg.bare_lf_exclusions,
		    (struct sockaddr *)&s->sa)) {
			smtpd_reply(s, "521 5.5.2 %s Error: bare <LF> received",
			    cfg.hostname);
			session_close(s);
			return;
		}
		if (memchr(s->line.data ? s->line.data : "", '\0', s->line.len)) {
			smtpd_reply(s, "500 5.5.2 Error: bad syntax");
			continue;
		}
		command(s, buf_cstr(&s->line), s->line.len);
	}
}

static void
session_timeout(struct session *s)
{
	log_info("timeout after %s from %s", s->last_cmd, s->client);
	smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", cfg.hostname);
	session_close(s);
}

/*
 * smtpd_per_request_deadline: the io's timeout is per read, so a client
 * sending a byte now and then would never meet it.  This timer checks
 * the current request: a command must be complete smtpd_timeout after
 * it began, content smtpd_timeout plus one second per
 * smtpd_min_data_rate bytes after DATA or BDAT.  While smtpd itself
 * works (commit, filter, auth service, tarpit) nothing is due.  Lazy:
 * nothing is rearmed per command; when the timer fires early it sleeps
 * until the request's deadline.
 */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct timeval tv = { cfg.timeout, 0 };
	struct timespec ts;
	long long deadline = s->req_start + cfg.timeout, content = -1;

	(void)fd;
	(void)what;
	if (s->closing)
		return;
	if (s->delayed || s->committing || s->state == S_FILTER ||
	    s->state == S_COMMIT) {
		evtimer_add(s->deadline_ev, &tv);
		return;
	}
	if (s->state == S_DATA)
		content = (long long)s->msg_size;
	else if (s->state == S_BDAT)
		content = (long long)(s->bdat_size - s->bdat_remaining);
	if (content >= 0) {
		if (cfg.min_data_rate <= 0) {
			evtimer_add(s->deadline_ev, &tv);
			return;
		}
		deadline += content / cfg.min_data_rate;
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	if (ts.tv_sec < deadline) {
		tv.tv_sec = deadline - ts.tv_sec;
		evtimer_add(s->deadline_ev, &tv);
		return;
	}
	session_timeout(s);
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct session *s = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		session_process(s);
		break;
	case IO_LOWAT:
		if (s->closing)
			session_free(s);
		break;
	case IO_TIMEOUT:
		if (s->committing)
			return;
		session_timeout(s);
		break;
	case IO_TLSREADY:
		request_start(s);
		if (smtpd_tls_ready(s) < 0) {
			session_close(s);
			break;
		}
		session_process(s);
		break;
	case IO_EOF:
	case IO_ERROR:
		if (!s->closing && s->state != S_COMMIT)
			log_info("lost connection after %s from %s",
			    s->last_cmd, s->client);
		if (s->state == S_DATA || s->state == S_BDAT)
			reset_transaction(s);
		s->closing = 1;
		session_free(s);
		break;
	}
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct session *s = xcalloc(1, sizeof(*s));

	(void)arg;
	live_sessions++;
	memcpy(&s->sa, sa, salen < sizeof(s->sa) ? salen : sizeof(s->sa));
	netaddr_ntop(sa, s->addr, sizeof(s->addr));
	snprintf(s->client, sizeof(s->client), "unknown[%s]", s->addr);
	s->trusted = netlist_match(cfg.mynetworks, sa);
	s->state = S_CMD;
	snprintf(s->last_cmd, sizeof(s->last_cmd), "CONNECT");
	buf_init(&s->line, cfg.line_limit);
	/* bdat_input(): up to max(line_limit, one 64 KiB read) kept from
	 * earlier reads, plus the start of a line in the next read */
	buf_init(&s->pending_line, cfg.line_limit + 2 * 65536);
	buf_init(&s->counts, 4096);
	s->io = io_new(fd, on_io, s);
	io_set_timeout(s->io, cfg.timeout);
	request_start(s);
	if (cfg.per_request_deadline && cfg.timeout > 0) {
		struct timeval tv = { cfg.timeout, 0 };
		s->deadline_ev = evtimer_new(io_base(), on_deadline, s);
		evtimer_add(s->deadline_ev, &tv);
	}
	log_info("connect from %s", s->client);
	if (smtpd_anvil_connect(s) < 0) {
		/* before the hook: no TLS handshake (SMTPS) for it either */
		session_close(s);
		return;
	}
	if (smtpd_connect_hook(s) != 0)
		return;
	smtpd_reply(s, "220 %s", cfg.banner);
}

static int
has_working_restriction(char **list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], "reject_unauth_destination") == 0 ||
		    strcmp(list[i], "defer_unauth_destination") == 0 ||
		    strcmp(list[i], "reject") == 0 || strcmp(list[i], "defer") == 0)
			return 1;
	return 0;
}

static void
load_settings(void)
{
	char *err = NULL;
	const char *bl = config_str("smtpd_forbid_bare_newline");

	cfg.hostname = config_str("myhostname");
	cfg.banner = config_str("smtpd_banner");
	cfg.helo_required = config_bool("smtpd_helo_required");
	cfg.size_limit = config_int("message_size_limit");
	if (cfg.size_limit == 0)
		cfg.size_limit = (long long)1 << 50;
	cfg.rcpt_limit = config_int("smtpd_recipient_limit");
	cfg.line_limit = (size_t)config_int("line_length_limit");
	if (cfg.line_limit < 512)
		cfg.line_limit = 512;
	cfg.timeout = (int)config_time("smtpd_timeout");
	cfg.per_request_deadline = config_bool("smtpd_per_request_deadline");
	cfg.min_data_rate = config_int("smtpd_min_data_rate");
	cfg.soft_errors = (int)config_int("smtpd_soft_error_limit");
	cfg.hard_errors = (int)config_int("smtpd_hard_error_limit");
	cfg.junk_limit = (int)config_int("smtpd_junk_command_limit");
	cfg.error_sleep = (int)config_time("smtpd_error_sleep_time");
	cfg.disable_vrfy = config_bool("disable_vrfy_command");
	cfg.smtputf8 = config_bool("smtputf8_enable");
	cfg.ehlo_discard = str_split(config_str("smtpd_discard_ehlo_keywords"),
	    STR_LIST_SEPS, NULL);
	cfg.dsn_discarded = ehlo_discarded("dsn");
	cfg.strict = config_bool("strict_rfc821_envelopes");
	cfg.reject_unlisted = config_bool("smtpd_reject_unlisted_recipient");
	cfg.hop_limit = config_int("hopcount_limit");
	cfg.reserve = config_int("smtpd_reserved_queue_files");
	if (cfg.reserve < 0 || cfg.reserve > SMTPD_RESERVE_MAX)
		fatal("smtpd_reserved_queue_files: %lld is not between 0 and %d",
		    cfg.reserve, SMTPD_RESERVE_MAX);
	if (strcmp(bl, "normalize") == 0 || strcmp(bl, "yes") == 0)
		cfg.bare_lf = BARE_LF_NORMALIZE;
	else if (strcmp(bl, "reject") == 0)
		cfg.bare_lf = BARE_LF_REJECT;
	else if (strcmp(bl, "no") == 0)
		cfg.bare_lf = BARE_LF_NO;
	else
		fatal("smtpd_forbid_bare_newline: bad value \"%s\" "
		    "(normalize, reject or no)", bl);
	cfg.sender_restrictions = str_split(
	    config_str("smtpd_sender_restrictions"), STR_LIST_SEPS, NULL);
	cfg.relay_restrictions = str_split(config_str("smtpd_relay_restrictions"),
	    STR_LIST_SEPS, NULL);
	cfg.rcpt_restrictions = str_split(
	    config_str("smtpd_recipient_restrictions"), STR_LIST_SEPS, NULL);
	if (!has_working_restriction(cfg.relay_restrictions) &&
	    !has_working_restriction(cfg.rcpt_restrictions))
		fatal("parameters smtpd_relay_restrictions and "
		    "smtpd_recipient_restrictions: specify at least one working "
		    "instance of: reject_unauth_destination, "
		    "defer_unauth_destination, reject or defer (refusing to run "
		    "as an open relay)");
	cfg.mynetworks = netlist_parse(config_str("mynetworks"), &err);
	if (cfg.mynetworks == NULL)
		fatal("mynetworks: %s", err);
	cfg.bare_lf_exclusions = netlist_parse(
	    config_str("smtpd_forbid_bare_newline_exclusions"), &err);
	if (cfg.bare_lf_exclusions == NULL)
		fatal("smtpd_forbid_bare_newline_exclusions: %s", err);
	smtpd_anvil_settings();
	resolve_init();
}

int
smtpd_main(int argc, char **argv)
{
#ifdef M_TRIM_THRESHOLD
	/* keep the heap a large message grew: otherwise glibc gives it
	 * back after every such message and the next one faults in (and
	 * zeroes) the same 100+ KiB again (2 brk + ~35 faults each) */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
	service_init(argc, argv, "smtpd");
	load_settings();
	smtpd_tls_init();
	service_drop_privileges();
	queue_commit_init(service_queue_dir());
	/* queue files claimed ahead, their names durable: a message's
	 * commit is then one fsync (of the file) instead of two */
	qwriter_pool_init(service_queue_dir(), (size_t)cfg.reserve);
	smtpd_anvil_open(service_queue_dir());
	service_listen(on_accept, NULL,
	    (int)config_int("smtpd_process_session_limit"));
	return service_run();
}
