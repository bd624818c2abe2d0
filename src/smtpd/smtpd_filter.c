/*
 * smtpd_filter.c - the content filter call of smtpd, made once the queue
 * file is written but before it is committed and before the final reply
 * to DATA/BDAT (so spam over the reject level is refused with 550 rather
 * than bounced).  The finished queue file is passed to the `filter`
 * service by descriptor (filter_proto.h); its answer decides:
 *   accept      commit the file as is;
 *   tag         write a copy with the X-Spam-* headers (and subject tag)
 *               through cleanup, drop the original, commit the copy;
 *   quarantine  the filter stored it: reply 250, drop the file;
 *   reject      reply 550 (or 451 on a filter-side failure), drop it.
 * A filter that is down or slower than spam_filter_timeout gives
 * 451 4.7.1 unless spam_filter_failure_action = accept.
 *
 * Note: the call blocks this smtpd process's event loop while the filter
 * works (a few ms per message); the timeout bounds the worst case.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "filter_proto.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "service.h"
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
static int
retag(struct session *s, struct qfile *qf, const struct filter_reply *rep)
{
	struct buf content, out;
	struct cleanup_rcpt *r;
	struct cleanup *c;
	char *err = NULL;
	const char *oldid = cleanup_id(s->cl);
	size_t i;
	off_t off = qf->content_off;

	buf_init(&content, qf->content_len + 1);
	while (content.len < qf->content_len) {
		char chunk[65536];
		size_t want = qf->content_len - content.len;
		ssize_t n = pread(qf->fd, chunk, want < sizeof(chunk) ? want : sizeof(chunk), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_free(&content);
			return -1;
		}
		(void)buf_append(&content, chunk, (size_t)n);
		off += n;
	}
	buf_init(&out, BUF_UNLIMITED);
	spam_rewrite_text(content.data ? content.data : "", content.len,
	    rep->headers, rep->subject_tag, &out);
	buf_free(&content);

	r = xcalloc(s->nrcpt ? s->nrcpt : 1, sizeof(*r));
	for (i = 0; i < s->nrcpt; i++) {
		r[i].addr = s->rcpts[i].addr;
		r[i].orcpt = s->rcpts[i].orcpt;
		r[i].notify = s->rcpts[i].notify;
	}
	c = cleanup_open(service_queue_dir(), s->sender, r, s->nrcpt,
	    s->mp.envid, s->mp.ret, qf->attrs, &err);
	free(r);
	if (c == NULL) {
		log_warn("%s: tagged copy: %s", oldid, err);
		free(err);
		buf_free(&out);
		return -1;
	}
	for (i = 0; i < out.len; ) {
		const char *nl = memchr(out.data + i, '\n', out.len - i);
		size_t e = nl ? (size_t)(nl - out.data) : out.len;
		cleanup_line(c, out.data + i, e - i, nl != NULL);
		i = nl ? e + 1 : e;
	}
	buf_free(&out);
	if (cleanup_finish(c, 0, &err) < 0) {
		log_warn("%s: tagged copy: %s", oldid, err);
		free(err);
		cleanup_abort(&c);
		return -1;
	}
	log_info("%s: tagged by the content filter: queued as %s", oldid, cleanup_id(c));
	cleanup_abort(&s->cl);
	s->cl = c;
	return 0;
}

int
smtpd_filter_message(struct session *s)
{
	const char *svc = config_str("spam_filter_service"), *why = NULL;
	struct filter_request req;
	struct filter_reply rep;
	struct qfile qf;
	struct buf rcpts;
	char *path, *sock, *err = NULL;
	const char *id = cleanup_id(s->cl);
	int ret = 0;

	if (svc[0] == '\0')
		return 0;
	path = xasprintf("%s/%s/%s", service_queue_dir(), QUEUE_INCOMING, id);
	if (qfile_open(path, 0, &qf, &err) < 0) {
		log_err("%s: content filter: %s", id, err);
		free(err);
		free(path);
		smtpd_reply(s, "451 4.3.0 Error: queue file read error");
		return 1;
	}
	free(path);
	buf_init(&rcpts, BUF_UNLIMITED);
	for (size_t i = 0; i < qf.nrcpt; i++)
		(void)buf_printf(&rcpts, "%s%s", i ? "\n" : "", qf.rcpts[i].addr);
	memset(&req, 0, sizeof(req));
	req.queue_id = id;
	req.sender = qf.sender ? qf.sender : "";
	req.recipients = buf_cstr(&rcpts);
	req.client = s->client;
	req.fd = qf.fd;
	req.offset = (long long)qf.content_off;
	req.length = (long long)qf.content_len;
	sock = xasprintf("%s/private/%s", service_queue_dir(), svc);
	if (filter_call(sock, &req, (int)config_time("spam_filter_timeout") * 1000,
	    &rep, &why) < 0) {
		if (strcasecmp(config_str("spam_filter_failure_action"), "accept") == 0) {
			log_warn("%s: content filter: %s: queued unscanned", id, why);
		} else {
			log_warn("%s: content filter: %s: tempfail", id, why);
			smtpd_reply(s, "451 4.7.1 Error: content filter unavailable, try again later");
			ret = 1;
		}
		goto out;
	}
	switch (rep.action) {
	case FILTER_ACCEPT:
		break;
	case FILTER_TAG:
		if ((rep.headers[0] != '\0' || rep.subject_tag[0] != '\0') &&
		    retag(s, &qf, &rep) < 0) {
			smtpd_reply(s, "451 4.3.0 Error: queue file write error");
			ret = 1;
		}
		break;
	case FILTER_QUARANTINE:
		log_info("%s: quarantined as %s (score %s)", id, rep.quarantine_id, rep.score);
		smtpd_reply(s, "%s", rep.reply);
		ret = 1;
		break;
	default:
		log_info("%s: reject: content filter: %s; from=<%s>", id, rep.reply,
		    req.sender);
		smtpd_reply(s, "%s", rep.reply[0] ? rep.reply : "451 4.7.1 Error: content filter failure");
		ret = 1;
		break;
	}
	filter_reply_free(&rep);
out:
	free(sock);
	buf_free(&rcpts);
	qfile_close(&qf);
	return ret;
}
