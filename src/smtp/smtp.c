/*
 * smtp.c - the outbound SMTP delivery agent (`tempest daemon smtp`):
 * takes delivery requests from qmgr over private/smtp, finds the hosts
 * of the next hop (relayhost/transport nexthop "[host]:port" without MX
 * lookup, otherwise MX records in preference order, or the domain's own
 * address as implicit MX), tries them in turn, and keeps the last
 * connection open for the next request to the same next hop.
 *
 * One process serves up to smtp_process_session_limit qmgr connections
 * at once; DNS (lib-dns, c-ares on the event loop) and the SMTP sessions
 * of different requests interleave, so a slow name server delays only
 * the requests that wait for it.
 *
 * Input: ipc requests from qmgr (checked field by field), the queue file
 * (content copied, scanned only for 8-bit bytes), DNS answers (lib-dns)
 * and SMTP replies (smtp_session.c).
 */
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>

#include "buf.h"
#include "config.h"
#include "deliver_proto.h"
#include "dns.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "roles.h"
#include "service.h"
#include "smtp.h"
#include "str.h"
#include "tls.h"

#define MAX_TARGETS 32

static const struct cfg_param smtp_params[] = {
	{ "smtp_helo_name", CFG_STR, "$myhostname", 0, "Host name sent in the SMTP client's EHLO/HELO" },
	{ "smtp_tcp_port", CFG_INT, "25", 0, "TCP port of remote SMTP servers when the next hop names none (tests use another)" },
	{ "smtp_connect_timeout", CFG_TIME, "30s", 's', "Time allowed for the TCP connection and the greeting" },
	{ "smtp_helo_timeout", CFG_TIME, "300s", 's', "Time allowed for each reply to EHLO, STARTTLS, MAIL, RCPT and DATA" },
	{ "smtp_data_done_timeout", CFG_TIME, "600s", 's', "Time allowed to send the content and for the reply to the final dot" },
	{ "smtp_connection_cache_time_limit", CFG_TIME, "2s", 's', "How long an idle connection is kept for the next message to the same next hop" },
	{ "smtp_tls_security_level", CFG_STR, "may", 0, "Outbound TLS: none, may (STARTTLS when offered), encrypt (required), verify (required, certificate and name checked against smtp_tls_CAfile)" },
	{ "smtp_tls_CAfile", CFG_STR, "", 0, "PEM file of CA certificates that verify server certificates (verify level)" },
	{ "smtp_tls_CApath", CFG_STR, "", 0, "Directory of hashed CA certificates (verify level)" },
	{ "smtp_tls_ciphers", CFG_STR, "medium", 0, "Cipher grade of outbound TLS: high or medium" },
	{ "smtp_destination_concurrency_limit", CFG_INT, "$default_destination_concurrency_limit", 0, "Parallel connections qmgr opens to one SMTP next hop" },
	{ "smtp_destination_recipient_limit", CFG_INT, "50", 0, "Most recipients sent in one SMTP transaction" },
	{ "smtp_bind_address", CFG_STR, "", 0, "Local IPv4 address of outgoing SMTP connections (empty: chosen by the system)" },
	{ "smtp_bind_address6", CFG_STR, "", 0, "Local IPv6 address of outgoing SMTP connections (empty: chosen by the system)" },
	{ "smtp_process_session_limit", CFG_INT, "20", 0, "Delivery requests one smtp process works on at once (event-driven: DNS lookups and SMTP sessions interleave)" },
	{ "transport_maps", CFG_LIST, "", 0, "Recipient domain (or address) -> transport:nexthop, e.g. smtp:[host]:port, local:, error:text" },
};
CONFIG_PARAMS(smtp_params);

/* One connection from qmgr; it carries one delivery request at a time,
 * and the process serves many such connections at once (event-driven:
 * DNS lookups and SMTP sessions of different requests interleave). */
struct qconn {
	struct io *io;          /* NULL once qmgr went away */
	struct ipc_msg msg;
	struct smtp_req *req;   /* in progress, or NULL */
	struct smtp_target targets[MAX_TARGETS];
	size_t ntargets, next_target;
	char *last_error;
	int retry_notls;
	struct smtp_sess *active;
	/* resolution of the next hop */
	struct dns_query *dq;
	char host[DNS_NAME_MAX + 1];
	int port;
	int use_mx;
	struct dns_mx mx[DNS_MAX_MX];
	size_t nmx, mx_next;
	enum dns_status worst;
	char *dns_err;
	struct qconn *next;
};

#define CACHE_MAX 32

static struct qconn *qconns;
static struct smtp_sess *cache[CACHE_MAX];      /* idle, for reuse */
static size_t ncache;
static SSL_CTX *tls_ctx;
static int tls_ctx_failed;

static void handle_next(struct qconn *qc);

SSL_CTX *
smtp_tls_ctx(void)
{
	const char *capath;
	char *err = NULL;

	if (tls_ctx != NULL || tls_ctx_failed)
		return tls_ctx;
	tls_ctx = tls_client_ctx(config_str("smtp_tls_CAfile"),
	    config_str("smtp_tls_ciphers"), &err);
	if (tls_ctx == NULL) {
		tls_ctx_failed = 1;
		log_warn("cannot create the client TLS context: %s", err);
		free(err);
		return NULL;
	}
	capath = config_str("smtp_tls_CApath");
	if (*capath == '\0' && *config_str("smtp_tls_CAfile") == '\0')
		SSL_CTX_set_default_verify_paths(tls_ctx);
	if (*capath != '\0' &&
	    SSL_CTX_load_verify_locations(tls_ctx, NULL, capath) != 1)
		log_warn("smtp_tls_CApath: cannot load %s", capath);
	return tls_ctx;
}

/* ---- requests ---- */

static void
req_free(struct smtp_req **rp)
{
	struct smtp_req *r = *rp;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrcpt; i++) {
		free(r->rcpts[i].addr);
		free(r->rcpts[i].orcpt);
		free(r->rcpts[i].text);
	}
	free(r->rcpts);
	free(r->id);
	free(r->path);
	free(r->sender);
	free(r->envid);
	free(r->nexthop);
	if (r->fd >= 0)
		close(r->fd);
	FREE(*rp);
}

/* qfile_read_range callback: 1 at the first byte with the high bit. */
static int
chunk_8bit(const char *data, size_t n, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)data[i] & 0x80)
			return 1;
	return 0;
}

/* Does the content have bytes with the high bit set?  (A read error
 * counts as no: the delivery then fails on reading the content.) */
static int
scan_8bit(int fd, off_t off, size_t len)
{
	return qfile_read_range(fd, off, len, chunk_8bit, NULL) == 1;
}

/* Parse a DELIVER_REQUEST; NULL if malformed. */
static struct smtp_req *
req_parse(struct ipc_msg *m)
{
	struct smtp_req *r = xcalloc(1, sizeof(*r));
	const char *id, *path, *sender, *attrs, *nexthop;
	int64_t off, len, arrival, n, i;
	struct qfile qf;
	char *err = NULL;

	r->fd = -1;
	if (m->type != DELIVER_REQUEST || ipc_get_str(m, &id) < 0 ||
	    ipc_get_str(m, &path) < 0 || ipc_get_int(m, &off) < 0 ||
	    ipc_get_int(m, &len) < 0 || ipc_get_int(m, &arrival) < 0 ||
	    ipc_get_str(m, &sender) < 0 || ipc_get_int(m, &n) < 0 ||
	    n < 1 || n > 1000 || off < 0 || len < 0) {
		free(r);
		return NULL;
	}
	r->id = xstrdup(id);
	/* qmgr names the file outside any chroot */
	r->path = service_queue_path(path);
	r->content_off = (off_t)off;
	r->content_len = (size_t)len;
	r->sender = xstrdup(sender);
	r->rcpts = xcalloc((size_t)n, sizeof(*r->rcpts));
	for (i = 0; i < n; i++) {
		const char *a, *o;
		int64_t notify, roff;
		if (ipc_get_str(m, &a) < 0 || ipc_get_str(m, &o) < 0 ||
		    ipc_get_int(m, &notify) < 0 || ipc_get_int(m, &roff) < 0) {
			req_free(&r);
			return NULL;
		}
		r->rcpts[i].addr = xstrdup(a);
		r->rcpts[i].orcpt = xstrdup(o);
		r->rcpts[i].notify = (int)notify;
		r->rcpts[i].status = -1;
		r->nrcpt++;
	}
	if (ipc_get_str(m, &attrs) < 0 || ipc_get_str(m, &nexthop) < 0) {
		/* no next hop: the recipient domain */
		const char *at = strrchr(r->rcpts[0].addr, '@');
		nexthop = at != NULL ? at + 1 : "";
	}
	r->nexthop = xstrdup(nexthop);
	/* DSN ENVID and RET live in the queue file */
	if (qfile_open(r->path, 0, &qf, &err) == 0) {
		r->envid = xstrdup(qf.envid != NULL ? qf.envid : "");
		r->ret = qf.ret;
		qfile_close(&qf);
	} else
		free(err);
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (r->fd >= 0)
		r->eightbit = scan_8bit(r->fd, r->content_off, r->content_len);
	return r;
}

static void
req_fail_all(struct smtp_req *r, int status, const char *text)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++)
		if (r->rcpts[i].status < 0) {
			r->rcpts[i].status = status;
			free(r->rcpts[i].text);
			r->rcpts[i].text = xstrdup(text);
		}
}

/* Answer qmgr (if still there) and forget the request; the caller then
 * runs handle_next(qc), which may free qc. */
static void
req_reply(struct qconn *qc)
{
	struct smtp_req *req = qc->req;
	struct ipc_msg reply;
	size_t i;

	ipc_msg_init(&reply, DELIVER_REPLY);
	ipc_put_int(&reply, (int64_t)req->nrcpt);
	for (i = 0; i < req->nrcpt; i++) {
		struct smtp_rcpt *rc = &req->rcpts[i];
		if (rc->status < 0) {
			rc->status = DELIVER_DEFER;
			rc->text = xstrdup("4.3.0 internal error");
		}
		ipc_put_int(&reply, rc->status);
		ipc_put_str(&reply, rc->text);
	}
	if (qc->io != NULL)
		ipc_io_send(qc->io, &reply);
	ipc_msg_free(&reply);
	req_free(&qc->req);
	FREE(qc->last_error);
	FREE(qc->dns_err);
	qc->ntargets = qc->next_target = 0;
}

/* Every recipient still open gets status/text; reply; next request. */
static void
req_finish(struct qconn *qc, int status, const char *text)
{
	req_fail_all(qc->req, status, text);
	req_reply(qc);
	handle_next(qc);
}

/* ---- the connection cache ---- */

static void
cache_remove(struct smtp_sess *s)
{
	size_t i;

	for (i = 0; i < ncache; i++)
		if (cache[i] == s) {
			memmove(&cache[i], &cache[i + 1],
			    (ncache - i - 1) * sizeof(cache[0]));
			ncache--;
			return;
		}
}

static void
on_cached_closed(struct smtp_sess *s)
{
	cache_remove(s);
	smtp_sess_close(&s);
}

static void
cache_put(struct smtp_sess *s)
{
	if (ncache == CACHE_MAX) {
		struct smtp_sess *old = cache[0];
		cache_remove(old);
		smtp_sess_close(&old);
	}
	cache[ncache++] = s;
	smtp_sess_park(s, on_cached_closed);
}

/* An idle session to nexthop, taken out of the cache, or NULL. */
static struct smtp_sess *
cache_take(const char *nexthop)
{
	size_t i = ncache;

	while (i-- > 0) {
		struct smtp_sess *s = cache[i];
		if (smtp_sess_idle(s) &&
		    strcasecmp(smtp_sess_nexthop(s), nexthop) == 0) {
			cache_remove(s);
			return s;
		}
	}
	return NULL;
}

/* ---- destinations ---- */

/* Split a next hop into host, port and whether to look up MX. */
static void
nexthop_parse(const char *nh, char *host, size_t hostlen, int *port_r,
    int *mx_r)
{
	const char *end;

	*port_r = (int)config_int("smtp_tcp_port");
	*mx_r = 1;
	if (*nh == '[' && (end = strchr(nh, ']')) != NULL) {
		snprintf(host, hostlen, "%.*s", (int)(end - nh - 1), nh + 1);
		*mx_r = 0;
		if (end[1] == ':' && atoi(end + 2) > 0)
			*port_r = atoi(end + 2);
		return;
	}
	end = strrchr(nh, ':');
	if (end != NULL && strchr(nh, ':') == end && atoi(end + 1) > 0) {
		snprintf(host, hostlen, "%.*s", (int)(end - nh), nh);
		*port_r = atoi(end + 1);
	} else
		snprintf(host, hostlen, "%s", nh);
}

static void try_next(struct qconn *qc);
static void resolve_next_mx(struct qconn *qc);

/* All hosts of the next hop are resolved: connect, or give up. */
static void
resolved(struct qconn *qc)
{
	int tmp = qc->worst == DNS_TEMPFAIL;
	char *why;

	if (qc->ntargets > 0) {
		try_next(qc);
		return;
	}
	if (qc->use_mx && qc->nmx > 0)
		why = xasprintf("%s MX host lookup for %s failed: %s",
		    tmp ? "4.4.3" : "5.4.4", qc->host, qc->dns_err);
	else
		why = xasprintf("%s Host or domain name not found. Name "
		    "service error for name=%s type=A: %s", tmp ? "4.4.3" :
		    "5.4.4", qc->host, qc->dns_err);
	req_finish(qc, tmp ? DELIVER_DEFER : DELIVER_BOUNCE, why);
	free(why);
}

/* Addresses of one host (an MX host, or the domain as implicit MX). */
static void
on_addr(void *ctx, enum dns_status st, const struct dns_addr *a, size_t n,
    const char *err)
{
	struct qconn *qc = ctx;
	const char *host = qc->nmx > 0 ? qc->mx[qc->mx_next - 1].host :
	    qc->host;
	size_t i;

	qc->dq = NULL;
	if (st != DNS_OK) {
		if (st == DNS_TEMPFAIL || qc->worst != DNS_TEMPFAIL) {
			qc->worst = st;
			free(qc->dns_err);
			qc->dns_err = xstrdup(err);
		}
	}
	for (i = 0; i < n && qc->ntargets < MAX_TARGETS; i++) {
		struct smtp_target *t = &qc->targets[qc->ntargets++];
		snprintf(t->host, sizeof(t->host), "%s", host);
		t->addr = a[i];
	}
	if (qc->nmx > 0)
		resolve_next_mx(qc);
	else
		resolved(qc);
}

static void
resolve_next_mx(struct qconn *qc)
{
	if (qc->mx_next < qc->nmx && qc->ntargets < MAX_TARGETS) {
		const char *h = qc->mx[qc->mx_next++].host;
		qc->dq = dns_addr_start(h, qc->port, on_addr, qc);
		return;
	}
	resolved(qc);
}

static void
on_mx(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
    const char *err)
{
	struct qconn *qc = ctx;

	qc->dq = NULL;
	if (st == DNS_TEMPFAIL) {
		char *why = xasprintf("4.4.3 Host or domain name not found. "
		    "Name service error for name=%s type=MX: %s", qc->host,
		    err);
		req_finish(qc, DELIVER_DEFER, why);
		free(why);
		return;
	}
	if (st == DNS_OK && n > 0) {
		qc->nmx = n < DNS_MAX_MX ? n : DNS_MAX_MX;
		memcpy(qc->mx, mx, qc->nmx * sizeof(mx[0]));
		qc->mx_next = 0;
		resolve_next_mx(qc);
		return;
	}
	/* no MX: the domain itself is the implicit MX */
	qc->nmx = 0;
	qc->dq = dns_addr_start(qc->host, qc->port, on_addr, qc);
}

/* Find the hosts of the request's next hop (asynchronously), then try
 * them in turn. */
static void
resolve(struct qconn *qc)
{
	qc->ntargets = qc->next_target = 0;
	qc->nmx = qc->mx_next = 0;
	qc->worst = DNS_NOTFOUND;
	FREE(qc->dns_err);
	qc->dns_err = xstrdup("Host not found");
	nexthop_parse(qc->req->nexthop, qc->host, sizeof(qc->host), &qc->port,
	    &qc->use_mx);
	if (*qc->host == '\0') {
		req_finish(qc, DELIVER_BOUNCE, "5.1.2 empty next hop");
		return;
	}
	if (qc->use_mx)
		qc->dq = dns_mx_start(qc->host, on_mx, qc);
	else
		qc->dq = dns_addr_start(qc->host, qc->port, on_addr, qc);
}

static void
on_sess_done(struct smtp_sess *s, int ok, const char *why)
{
	struct qconn *qc = smtp_sess_ctx(s);

	if (qc == NULL || s != qc->active)
		panic("smtp: completion from an unknown session");
	qc->active = NULL;
	if (ok) {
		if (smtp_sess_idle(s))
			cache_put(s);
		else
			smtp_sess_close(&s);
		req_reply(qc);
		handle_next(qc);
		return;
	}
	free(qc->last_error);
	qc->last_error = xstrdup(why);
	log_info("%s: %s", qc->req->id, why);
	qc->retry_notls = smtp_sess_tls_failed(s) &&
	    strcmp(config_str("smtp_tls_security_level"), "may") == 0;
	if (smtp_sess_reused(s)) {
		/* a stale cached connection: start over on a fresh one */
		smtp_sess_close(&s);
		qc->retry_notls = 0;
		qc->next_target = 0;
		if (qc->ntargets == 0) {
			resolve(qc);
			return;
		}
	} else {
		if (qc->retry_notls)    /* same host again in the clear */
			qc->next_target--;
		smtp_sess_close(&s);
	}
	try_next(qc);
}

static void
try_next(struct qconn *qc)
{
	int notls = qc->retry_notls;
	const char *e = qc->last_error;

	qc->retry_notls = 0;
	if (qc->next_target < qc->ntargets) {
		struct smtp_target *t = &qc->targets[qc->next_target++];
		qc->active = smtp_sess_connect(t, qc->req->nexthop, qc->req,
		    notls, on_sess_done, qc);
		return;
	}
	req_finish(qc, e != NULL && *e == '5' ? DELIVER_BOUNCE : DELIVER_DEFER,
	    e != NULL ? e : "4.4.1 no host to connect to");
}

static void
start_request(struct qconn *qc, struct smtp_req *r)
{
	struct smtp_sess *s;

	qc->req = r;
	qc->ntargets = qc->next_target = 0;
	if (r->fd < 0) {
		req_finish(qc, DELIVER_DEFER, "4.3.0 cannot open queue file");
		return;
	}
	if ((s = cache_take(r->nexthop)) != NULL) {
		qc->active = s;
		log_debug("%s: reusing the connection to %s", r->id, r->nexthop);
		smtp_sess_reuse(s, r, on_sess_done, qc);
		return;
	}
	resolve(qc);
}

/* ---- the qmgr connections ---- */

static void
conn_end(struct qconn *qc)
{
	struct qconn **pp;

	for (pp = &qconns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == qc) {
			*pp = qc->next;
			break;
		}
	io_free(&qc->io);
	ipc_msg_free(&qc->msg);
	free(qc);
	service_session_end();
}

static void
handle_next(struct qconn *qc)
{
	int r;

	if (qc->req != NULL)
		return;
	if (qc->io == NULL || (service_draining() && io_outlen(qc->io) == 0 &&
	    io_inlen(qc->io) == 0)) {
		/* qmgr went away while we were delivering, or we stop */
		conn_end(qc);
		return;
	}
	while (qc->io != NULL && qc->req == NULL &&
	    (r = ipc_io_take(qc->io, &qc->msg)) != 0) {
		struct smtp_req *rq;
		if (r < 0 || (rq = req_parse(&qc->msg)) == NULL) {
			log_warn("malformed delivery request from qmgr");
			conn_end(qc);
			return;
		}
		/* one request at a time per connection; when it is
		 * answered, req_finish/on_sess_done call handle_next again
		 * (qc may be gone after this call) */
		start_request(qc, rq);
		return;
	}
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct qconn *qc = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		handle_next(qc);
		break;
	case IO_LOWAT:
		if (service_draining() && qc->req == NULL)
			conn_end(qc);
		break;
	default:
		if (qc->req != NULL) {
			/* finish the delivery; the reply has nowhere to go */
			io_free(&qc->io);
			return;
		}
		conn_end(qc);
		break;
	}
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct qconn *qc = xcalloc(1, sizeof(*qc));

	(void)sa;
	(void)salen;
	(void)arg;
	ipc_msg_init(&qc->msg, 0);
	qc->io = io_new(fd, on_io, qc);
	qc->next = qconns;
	qconns = qc;
}

static void
on_drain(void *arg)
{
	struct qconn *qc, *next;

	(void)arg;
	for (qc = qconns; qc != NULL; qc = next) {
		next = qc->next;
		if (qc->req == NULL)
			conn_end(qc);
	}
	while (ncache > 0) {
		struct smtp_sess *s = cache[ncache - 1];
		cache_remove(s);
		smtp_sess_close(&s);
	}
}

int
smtp_main(int argc, char **argv)
{
	char *err = NULL;
	const char *lvl;
	long long limit;

	service_init(argc, argv, "smtp");
	lvl = config_str("smtp_tls_security_level");
	if (*lvl != '\0' && strcmp(lvl, "none") != 0 && strcmp(lvl, "may") != 0
	    && strcmp(lvl, "encrypt") != 0 && strcmp(lvl, "verify") != 0 &&
	    strcmp(lvl, "secure") != 0)
		fatal("smtp_tls_security_level: unknown level \"%s\"", lvl);
	{
		unsigned char a[16];
		const char *b4 = config_str("smtp_bind_address");
		const char *b6 = config_str("smtp_bind_address6");
		if (*b4 != '\0' && inet_pton(AF_INET, b4, a) != 1)
			fatal("smtp_bind_address: not an IPv4 address: %s", b4);
		if (*b6 != '\0' && inet_pton(AF_INET6, b6, a) != 1)
			fatal("smtp_bind_address6: not an IPv6 address: %s", b6);
	}
	if (dns_init(NULL, &err) < 0)
		fatal("%s", err);
	/* chrooted: the CA files are not visible afterwards */
	if (service_chrooted() && strcmp(lvl, "none") != 0)
		(void)smtp_tls_ctx();
	service_drop_privileges();
	service_on_drain(on_drain, NULL);
	limit = config_int("smtp_process_session_limit");
	service_listen(on_accept, NULL, limit > 0 && limit < 10000 ?
	    (int)limit : 1);
	return service_run();
}
