/*
 * smtpd_filter.c - the content filter call of smtpd, made once the whole
 * message is in the queue file but before that file is complete (so no
 * other process can see it) and before the final reply to DATA/BDAT (so
 * spam over the reject level is refused with 550 rather than bounced).
 * The queue file is passed to the `filter` service by a read-only
 * descriptor with the content's offset and length (filter_proto.h); its
 * answer decides:
 *   accept      finish and commit the file as is;
 *   tag         write a copy with the X-Spam-* headers (and subject tag)
 *               through cleanup, drop the original, finish the copy;
 *   quarantine  the filter stored it: reply 250, drop the file;
 *   reject      reply 550 (or 451 on a filter-side failure), drop it;
 *   split       per group of recipients (each of the message's in
 *               exactly one, checked here): a tagged copy for each group
 *               to deliver, nothing for a quarantined group.
 * A filter that is down or slower than spam_filter_timeout gives
 * 451 4.7.1 unless spam_filter_failure_action = accept.
 *
 * The exchange runs on the event loop: while the filter works, the other
 * sessions of this smtpd process go on; the session waits, paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "filter_proto.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "service.h"
#include "smtp_reply_check.h"
#include "smtpd.h"
#include "smtpd_filter.h"
#include "spam_engine.h"

static const struct cfg_param smtpd_filter_params[] = {
	{ "spam_filter_service", CFG_STR, "", 0, "master.cf unix service (e.g. filter) that scans each message before the final reply to DATA/BDAT; empty = no scanning" },
	{ "spam_filter_timeout", CFG_TIME, "30s", 's', "Time smtpd waits for the content filter before giving up" },
	{ "spam_filter_failure_action", CFG_STR, "tempfail", 0, "When the filter is down or times out: tempfail (451 4.7.1) or accept (queue the message unscanned)" },
};
CONFIG_PARAMS(smtpd_filter_params);

/* Replace s->cl by a copy of the message with the filter's headers. */
/* qfile_read_range callback: collect the content. */
static int
append_chunk(const char *data, size_t n, void *arg)
{
	return buf_append(arg, data, n) < 0 ? 1 : 0;
}

/* A copy of the message through cleanup with the filter's headers
 * prepended (incoming X-Spam-* headers removed, the subject tagged), for
 * the session's recipients or those of them marked in only[]. */
static struct cleanup *
tagged_copy(struct session *s, int fd, off_t off, size_t len, const char *headers,
    const char *subject_tag, const unsigned char *only)
{
	struct buf content, out;
	struct cleanup_rcpt *r;
	struct cleanup *c;
	char *err = NULL, *attrs[8];
	size_t i, nr = 0;
	int na = 0;

	buf_init(&content, len + 1);
	if (qfile_read_range(fd, off, len, append_chunk, &content) != 0) {
		buf_free(&content);
		return NULL;
	}
	buf_init(&out, BUF_UNLIMITED);
	spam_rewrite_text(content.data ? content.data : "", content.len,
	    headers, subject_tag, &out);
	buf_free(&content);

	r = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*r));
	for (i = 0; i < s->nrcpt; i++) {
		if (only != NULL && !only[i])
			continue;
		r[nr].addr = s->rcpts[i].addr;
		r[nr].orcpt = s->rcpts[i].orcpt;
		r[nr++].notify = s->rcpts[i].notify;
	}
	/* the same attributes as open_message() in smtpd.c */
	attrs[na++] = xasprintf("client_address=%s", s->addr);
	attrs[na++] = xasprintf("helo_name=%s", s->helo ? s->helo : "");
	attrs[na++] = xasprintf("protocol=%s", s->mp.smtputf8 ? "UTF8SMTP" :
	    s->esmtp ? "ESMTP" : "SMTP");
	if (s->auth_user != NULL)
		attrs[na++] = xasprintf("sasl_username=%s", s->auth_user);
	/* what MAIL FROM asked for, for the smtp client and a release
	 * from the quarantine */
	if (s->mp.smtputf8)
		attrs[na++] = xstrdup("smtputf8=yes");
	if (s->mp.body_8bit)
		attrs[na++] = xstrdup("body=8BITMIME");
	attrs[na] = NULL;
	c = cleanup_open(service_queue_dir(), s->sender, r, nr,
	    s->mp.envid, s->mp.ret, attrs, &err);
	for (i = 0; i < (size_t)na; i++)
		free(attrs[i]);
	free(r);
	if (c == NULL) {
		log_warn("%s: tagged copy: %s", cleanup_id(s->cl), err);
		free(err);
		buf_free(&out);
		return NULL;
	}
	for (i = 0; i < out.len; ) {
		const char *nl = memchr(out.data + i, '\n', out.len - i);
		size_t e = nl ? (size_t)(nl - out.data) : out.len;
		cleanup_line(c, out.data + i, e - i, nl != NULL);
		i = nl ? e + 1 : e;
	}
	buf_free(&out);
	return c;
}

/* Replace s->cl by a copy of the message with the filter's headers. */
static int
retag(struct session *s, int fd, off_t off, size_t len, const struct filter_reply *rep)
{
	struct cleanup *c = tagged_copy(s, fd, off, len, rep->headers,
	    rep->subject_tag, NULL);

	if (c == NULL)
		return -1;
	log_info("%s: tagged by the content filter: queued as %s", cleanup_id(s->cl),
	    cleanup_id(c));
	cleanup_abort(&s->cl);
	s->cl = c;
	return 0;
}

struct filter_state {
	struct io *io;          /* connection to the filter service */
	struct ipc_msg msg;     /* its reply */
	int qfd;                /* the queue file, read-only */
	off_t off;
	size_t len;
};

static void
filter_state_free(struct session *s)
{
	struct filter_state *f = s->filter;

	if (f == NULL)
		return;
	io_free(&f->io);
	ipc_msg_free(&f->msg);
	if (f->qfd >= 0)
		close(f->qfd);
	free(f);
	s->filter = NULL;
}

/* The filter is down, slow or confused: accept unscanned or tempfail.
 * Returns whether to queue the message. */
static int
filter_failed(struct session *s, const char *why)
{
	const char *id = cleanup_id(s->cl);

	if (strcasecmp(config_str("spam_filter_failure_action"), "accept") == 0) {
		log_warn("%s: content filter: %s: queued unscanned", id, why);
		return 1;
	}
	log_warn("%s: content filter: %s: tempfail", id, why);
	smtpd_reply(s, "451 4.7.1 Error: content filter unavailable, try again later");
	return 0;
}

static const char *
action_name(int action)
{
	return action == FILTER_QUARANTINE ? "quarantine" :
	    action == FILTER_REJECT ? "reject" : "tempfail";
}

/* The quarantine id the filter gave, if it is a plain token. */
static const char *
quarantine_id_ok(const char *qid)
{
	size_t n = strlen(qid);

	return n > 0 && n <= 64 && strspn(qid, "0123456789abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") == n ? qid : NULL;
}

/* FILTER_SPLIT: a tagged copy for each group to deliver (the first
 * becomes s->cl, the others s->extra: commit_message() commits them
 * together, so all are durable before the 250 and none is queued after
 * an error), nothing for the quarantined groups (the filter stored
 * them).  Returns whether to queue s->cl. */
static int
apply_split(struct session *s, const struct filter_reply *rep)
{
	struct filter_state *f = s->filter;
	const char *id = cleanup_id(s->cl), *why = NULL;
	const char **addrs = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*addrs));
	size_t *mark = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*mark));
	struct cleanup **copies;
	unsigned char *only;
	size_t i, g, ncopies = 0;
	struct buf quarantined;
	int ok;

	for (i = 0; i < s->nrcpt; i++)
		addrs[i] = s->rcpts[i].addr;
	ok = filter_split_check(addrs, s->nrcpt, rep, mark, &why) == 0;
	free(addrs);
	if (!ok) {
		log_warn("%s: content filter: invalid split: %s: tempfail", id, why);
		smtpd_reply(s, "451 4.3.0 Error: content filter failure, try again later");
		free(mark);
		return 0;
	}
	copies = xcalloc(rep->ngroups, sizeof(*copies));
	only = xcalloc(s->nrcpt ? s->nrcpt : 1, 1);
	buf_init(&quarantined, BUF_UNLIMITED);
	for (g = 0; g < rep->ngroups; g++) {
		const struct filter_group *gr = &rep->groups[g];
		size_t n = 0;
		for (i = 0; i < s->nrcpt; i++)
			n += only[i] = mark[i] == g;
		if (gr->action == FILTER_QUARANTINE) {
			const char *qid = quarantine_id_ok(gr->quarantine_id);
			log_info("%s: quarantined as %s (score %s) for %zu recipient(s)",
			    id, qid ? qid : "?", rep->score, n);
			(void)buf_printf(&quarantined, "%s%s", quarantined.len ? " " : "",
			    qid ? qid : "?");
			continue;
		}
		if ((copies[ncopies] = tagged_copy(s, f->qfd, f->off, f->len,
		    gr->headers, gr->subject_tag, only)) == NULL)
			break;
		ncopies++;
	}
	free(only);
	free(mark);
	if (g < rep->ngroups) {
		for (i = 0; i < ncopies; i++)
			cleanup_abort(&copies[i]);
		free(copies);
		buf_free(&quarantined);
		smtpd_reply(s, "451 4.3.0 Error: queue file write error");
		return 0;
	}
	for (i = 0; i < ncopies; i++)
		log_info("%s: tagged by the content filter: queued as %s for %zu "
		    "recipient(s)", id, cleanup_id(copies[i]), cleanup_nrcpt(copies[i]));
	if (ncopies == 0) {
		smtpd_reply(s, "250 2.7.0 Ok: quarantined as %s", buf_cstr(&quarantined));
		buf_free(&quarantined);
		free(copies);
		return 0;
	}
	cleanup_abort(&s->cl);
	s->cl = copies[0];
	s->nextra = ncopies - 1;
	memmove(copies, copies + 1, s->nextra * sizeof(*copies));
	s->extra = copies;
	buf_free(&quarantined);
	return 1;
}

/* Apply the filter's verdict.  Returns whether to queue the message. */
static int
filter_apply(struct session *s, const struct filter_reply *rep)
{
	struct filter_state *f = s->filter;
	const char *id = cleanup_id(s->cl);
	char reply[SMTP_REPLY_CHECK_MAX + 1];
	const char *why = NULL, *qid;
	char want = rep->action == FILTER_QUARANTINE ? '2' :
	    rep->action == FILTER_REJECT ? '5' : '4';

	/* reject and tempfail without a reply text get a default below */
	if ((rep->action == FILTER_QUARANTINE ||
	    ((rep->action == FILTER_REJECT || rep->action == FILTER_TEMPFAIL) &&
	    rep->reply[0] != '\0')) &&
	    smtp_reply_check(want, rep->reply, reply, sizeof(reply), &why) < 0) {
		if (rep->action == FILTER_QUARANTINE) {
			/* the filter has stored the message already: a
			 * tempfail would make the client send it again and
			 * the filter store a second copy.  It is taken care
			 * of; say so in our own words. */
			qid = quarantine_id_ok(rep->quarantine_id);
			log_warn("%s: content filter: invalid reply for "
			    "quarantine: %s: default reply", id, why);
			snprintf(reply, sizeof(reply), "250 2.7.0 Ok: "
			    "quarantined%s%s", qid ? " as " : "", qid ? qid : "");
		} else {
			log_warn("%s: content filter: invalid reply for %s: "
			    "%s: tempfail", id, action_name(rep->action), why);
			smtpd_reply(s, "451 4.3.0 Error: content filter "
			    "failure, try again later");
			return 0;
		}
	}
	switch (rep->action) {
	case FILTER_ACCEPT:
		return 1;
	case FILTER_SPLIT:
		return apply_split(s, rep);
	case FILTER_TAG:
		/* a copy with the headers (possibly none: X-Spam-* headers
		 * that came with the message are removed either way) */
		if (retag(s, f->qfd, f->off, f->len, rep) < 0) {
			smtpd_reply(s, "451 4.3.0 Error: queue file write error");
			return 0;
		}
		return 1;
	case FILTER_QUARANTINE:
		log_info("%s: quarantined as %s (score %s)", id,
		    rep->quarantine_id, rep->score);
		smtpd_reply(s, "%s", reply);
		return 0;
	default:
		if (rep->reply[0] == '\0')
			strcpy(reply, "451 4.7.1 Error: content filter failure");
		log_info("%s: reject: content filter: %s; from=<%s>", id,
		    reply, s->sender ? s->sender : "");
		smtpd_reply(s, "%s", reply);
		return 0;
	}
}

static void
filter_io(struct io *io, enum io_evt evt, void *arg)
{
	struct session *s = arg;
	struct filter_state *f = s->filter;
	struct filter_reply rep;
	const char *why = NULL;
	int r, queue_it;

	(void)io;
	switch (evt) {
	case IO_IN:
		r = ipc_io_take(f->io, &f->msg);
		if (r == 0)
			return;
		/* the reply is all the filter has to say: its process is
		 * free for the next message while this one is written */
		io_free(&f->io);
		if (r < 0 || filter_parse_reply(&f->msg, &rep, &why) < 0) {
			queue_it = filter_failed(s, why ? why :
			    "filter gave no valid reply");
		} else {
			queue_it = filter_apply(s, &rep);
			filter_reply_free(&rep);
		}
		break;
	case IO_TIMEOUT:
		queue_it = filter_failed(s, "filter timed out");
		break;
	case IO_LOWAT:
		return;
	default:
		queue_it = filter_failed(s, "filter closed the connection");
		break;
	}
	filter_state_free(s);
	smtpd_filter_done(s, queue_it);
}

size_t
smtpd_filter_rcpt_size(size_t addr_len, const struct smtp_rcpt_params *rp)
{
	struct buf b;
	size_t n = addr_len + 1;

	if (rp->notify != 0 || rp->orcpt[0] != '\0') {
		buf_init(&b, BUF_UNLIMITED);
		smtp_rcpt_params_format(&b, rp);
		n += strlen("TO:<>\n") + addr_len + b.len;
		buf_free(&b);
	}
	return n;
}

int
smtpd_filter_rcpt_fits(const struct session *s, size_t size)
{
	/* the setting is looked up only past the budget */
	return s->rcpt_bytes + size <= FILTER_RCPTS_MAX ||
	    config_str("spam_filter_service")[0] == '\0';
}

/* The envelope's parameters for the filter to keep with a quarantine
 * entry (filter_proto.h): "FROM:<sender> PARAMS" if MAIL FROM had any,
 * "TO:<rcpt> PARAMS" for each recipient that had some. */
static void
envelope_text(const struct session *s, struct buf *b)
{
	size_t mark;

	(void)buf_printf(b, "FROM:<%s>", s->sender ? s->sender : "");
	mark = b->len;
	smtp_mail_params_format(b, &s->mp);
	if (b->len == mark)
		buf_reset(b);
	else
		(void)buf_appendc(b, '\n');
	for (size_t i = 0; i < s->nrcpt; i++) {
		struct smtp_rcpt_params rp;
		memset(&rp, 0, sizeof(rp));
		rp.notify = s->rcpts[i].notify;
		if (strlen(s->rcpts[i].orcpt) < sizeof(rp.orcpt))
			strcpy(rp.orcpt, s->rcpts[i].orcpt);
		if (rp.notify == 0 && rp.orcpt[0] == '\0')
			continue;
		(void)buf_printf(b, "TO:<%s>", s->rcpts[i].addr);
		smtp_rcpt_params_format(b, &rp);
		(void)buf_appendc(b, '\n');
	}
}

int
smtpd_filter_start(struct session *s)
{
	const char *svc = config_str("spam_filter_service"), *why = NULL;
	struct filter_request req;
	struct filter_state *f;
	struct buf rcpts, env;
	char *path, *sock;
	const char *id = cleanup_id(s->cl);
	off_t off;
	size_t len;
	int fd, sfd, timeout = (int)config_time("spam_filter_timeout");

	if (svc[0] == '\0')
		return 0;
	if (timeout <= 0)
		timeout = 30;
	path = xasprintf("%s/%s/%s", service_queue_dir(), QUEUE_INCOMING, id);
	fd = cleanup_flush_content(s->cl, &off, &len) < 0 ? -1 :
	    open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("%s: content filter: cannot read %s: %s", id, path,
		    strerror(errno));
		free(path);
		smtpd_reply(s, "451 4.3.0 Error: queue file read error");
		return -1;
	}
	free(path);
	buf_init(&rcpts, BUF_UNLIMITED);
	for (size_t i = 0; i < s->nrcpt; i++)
		(void)buf_printf(&rcpts, "%s%s", i ? "\n" : "", s->rcpts[i].addr);
	buf_init(&env, BUF_UNLIMITED);
	envelope_text(s, &env);
	memset(&req, 0, sizeof(req));
	req.queue_id = id;
	req.sender = s->sender ? s->sender : "";
	req.recipients = buf_cstr(&rcpts);
	req.envelope = buf_cstr(&env);
	req.client = s->client;
	req.fd = fd;
	req.offset = (long long)off;
	req.length = (long long)len;
	sock = xasprintf("%s/private/%s", service_queue_dir(), svc);
	if (filter_send(sock, &req, timeout * 1000, &sfd, &why) < 0) {
		free(sock);
		buf_free(&rcpts);
		buf_free(&env);
		close(fd);
		return filter_failed(s, why) ? 0 : -1;
	}
	free(sock);
	buf_free(&rcpts);
	buf_free(&env);
	/* the reply arrives on the event loop; other sessions go on */
	f = xcalloc(1, sizeof(*f));
	f->qfd = fd;
	f->off = off;
	f->len = len;
	ipc_msg_init(&f->msg, 0);
	s->filter = f;
	f->io = io_new(sfd, filter_io, s);
	io_set_timeout(f->io, timeout);
	return 1;
}

void
smtpd_filter_cancel(struct session *s)
{
	filter_state_free(s);
}
