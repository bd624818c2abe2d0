/*
 * smtp.c - the outbound SMTP delivery agent (`tempest daemon smtp`):
 * takes delivery requests from qmgr over private/smtp, finds the hosts
 * of the next hop (relayhost/transport nexthop "[host]:port" without MX
 * lookup, otherwise MX records in preference order, or the domain's own
 * address as implicit MX), tries them in turn, and keeps the last
 * connection open for the next request to the same next hop.
 *
 * Input: ipc requests from qmgr (checked field by field), the queue file
 * (content copied, scanned only for 8-bit bytes), DNS answers (lib-dns)
 * and SMTP replies (smtp_session.c).
 */
#include <sys/stat.h>
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
	{ "transport_maps", CFG_LIST, "", 0, "Recipient domain (or address) -> transport:nexthop, e.g. smtp:[host]:port, local:, error:text" },
};
CONFIG_PARAMS(smtp_params);

struct qconn {
	struct io *io;
	struct ipc_msg req;
	int busy;
};

static struct qconn *current;
static struct smtp_sess *cached;        /* idle connection for reuse */
static SSL_CTX *tls_ctx;
static int tls_ctx_failed;

/* the request in progress */
static struct smtp_req *req;
static struct smtp_target targets[MAX_TARGETS];
static size_t ntargets, next_target;
static char *last_error;
static int last_retry_notls;
static struct smtp_sess *active;

static void handle_next(void);

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

/* Does the content have bytes with the high bit set? */
static int
scan_8bit(int fd, off_t off, size_t len)
{
	char b[65536];
	size_t done = 0, i;

	while (done < len) {
		size_t want = len - done;
		ssize_t n;
		if (want > sizeof(b))
			want = sizeof(b);
		n = pread(fd, b, want, off + (off_t)done);
		if (n <= 0)
			return 0;
		for (i = 0; i < (size_t)n; i++)
			if ((unsigned char)b[i] & 0x80)
				return 1;
		done += (size_t)n;
	}
	return 0;
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
	r->path = xstrdup(path);
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
	if (qfile_open(path, 0, &qf, &err) == 0) {
		r->envid = xstrdup(qf.envid != NULL ? qf.envid : "");
		r->ret = qf.ret;
		qfile_close(&qf);
	} else
		free(err);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
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

static void
req_reply(void)
{
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
	if (current != NULL && current->io != NULL)
		ipc_io_send(current->io, &reply);
	ipc_msg_free(&reply);
	req_free(&req);
	FREE(last_error);
	if (current != NULL)
		current->busy = 0;
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

static void
add_targets(const char *host, int port, enum dns_status *worst,
    const char **err_r)
{
	struct dns_addr a[DNS_MAX_ADDR];
	size_t n = 0, i;
	const char *err = NULL;
	enum dns_status st = dns_lookup_addr(host, port, a, DNS_MAX_ADDR, &n,
	    &err);

	if (st != DNS_OK) {
		if (st == DNS_TEMPFAIL || *worst != DNS_TEMPFAIL) {
			*worst = st;
			*err_r = err;
		}
		return;
	}
	for (i = 0; i < n && ntargets < MAX_TARGETS; i++) {
		snprintf(targets[ntargets].host, sizeof(targets[0].host), "%s",
		    host);
		targets[ntargets].addr = a[i];
		ntargets++;
	}
}

/* Fill targets[] for the next hop; on failure set last_error and
 * return the DELIVER_* status for every recipient. */
static int
find_targets(const char *nexthop)
{
	char host[DNS_NAME_MAX + 1];
	int port, mx;
	struct dns_mx mxs[DNS_MAX_MX];
	size_t n = 0, i;
	const char *err = "Host not found";
	enum dns_status st, worst = DNS_NOTFOUND;

	ntargets = next_target = 0;
	nexthop_parse(nexthop, host, sizeof(host), &port, &mx);
	if (*host == '\0') {
		last_error = xstrdup("5.1.2 empty next hop");
		return DELIVER_BOUNCE;
	}
	if (mx) {
		st = dns_lookup_mx(host, mxs, DNS_MAX_MX, &n, &err);
		if (st == DNS_TEMPFAIL) {
			last_error = xasprintf("4.4.3 Host or domain name not "
			    "found. Name service error for name=%s type=MX: %s",
			    host, err);
			return DELIVER_DEFER;
		}
		if (st == DNS_OK) {
			for (i = 0; i < n; i++)
				add_targets(mxs[i].host, port, &worst, &err);
			if (ntargets > 0)
				return DELIVER_SENT;
			last_error = xasprintf("%s MX host lookup for %s failed: "
			    "%s", worst == DNS_TEMPFAIL ? "4.4.3" : "5.4.4",
			    host, err);
			return worst == DNS_TEMPFAIL ? DELIVER_DEFER :
			    DELIVER_BOUNCE;
		}
		/* no MX: the domain itself is the implicit MX */
	}
	add_targets(host, port, &worst, &err);
	if (ntargets > 0)
		return DELIVER_SENT;
	last_error = xasprintf("%s Host or domain name not found. Name "
	    "service error for name=%s type=A: %s", worst == DNS_TEMPFAIL ?
	    "4.4.3" : "5.4.4", host, err);
	return worst == DNS_TEMPFAIL ? DELIVER_DEFER : DELIVER_BOUNCE;
}

static void try_next(void);

static void
on_cached_closed(struct smtp_sess *s)
{
	if (s == cached)
		smtp_sess_close(&cached);
}

static void
on_sess_done(struct smtp_sess *s, int ok, const char *why)
{
	if (s != active)
		panic("smtp: completion from an unknown session");
	if (ok) {
		active = NULL;
		if (smtp_sess_idle(s)) {
			cached = s;
			smtp_sess_park(s, on_cached_closed);
		} else
			smtp_sess_close(&s);
		req_reply();
		handle_next();
		return;
	}
	free(last_error);
	last_error = xstrdup(why);
	log_info("%s: %s", req->id, why);
	last_retry_notls = smtp_sess_tls_failed(s) &&
	    strcmp(config_str("smtp_tls_security_level"), "may") == 0;
	if (smtp_sess_reused(s)) {
		/* a stale cached connection: start over on a fresh one */
		last_retry_notls = 0;
		next_target = 0;
		if (ntargets == 0 && find_targets(req->nexthop) != DELIVER_SENT) {
			active = NULL;
			smtp_sess_close(&s);
			req_fail_all(req, *last_error == '5' ? DELIVER_BOUNCE :
			    DELIVER_DEFER, last_error);
			req_reply();
			handle_next();
			return;
		}
	} else if (last_retry_notls) {
		/* opportunistic TLS failed: same host again in the clear */
		next_target--;
	}
	active = NULL;
	smtp_sess_close(&s);
	try_next();
}

static void
try_next(void)
{
	int notls = last_retry_notls;

	last_retry_notls = 0;
	while (next_target < ntargets) {
		struct smtp_target *t = &targets[next_target++];
		active = smtp_sess_connect(t, req->nexthop, req, notls,
		    on_sess_done);
		return;
	}
	req_fail_all(req, last_error != NULL && *last_error == '5' ?
	    DELIVER_BOUNCE : DELIVER_DEFER, last_error != NULL ? last_error :
	    "4.4.1 no host to connect to");
	req_reply();
	handle_next();
}

static void
start_request(struct smtp_req *r)
{
	int st;

	req = r;
	ntargets = next_target = 0;
	if (r->fd < 0) {
		req_fail_all(r, DELIVER_DEFER, "4.3.0 cannot open queue file");
		req_reply();
		return;
	}
	if (cached != NULL && smtp_sess_idle(cached) &&
	    strcasecmp(smtp_sess_nexthop(cached), r->nexthop) == 0) {
		active = cached;
		cached = NULL;
		log_debug("%s: reusing the connection to %s", r->id, r->nexthop);
		smtp_sess_reuse(active, r, on_sess_done);
		return;
	}
	smtp_sess_close(&cached);
	st = find_targets(r->nexthop);
	if (st != DELIVER_SENT) {
		req_fail_all(r, st, last_error);
		req_reply();
		return;
	}
	try_next();
}

/* ---- the qmgr connection ---- */

static void
conn_end(struct qconn *c)
{
	io_free(&c->io);
	ipc_msg_free(&c->req);
	if (current == c)
		current = NULL;
	free(c);
	smtp_sess_close(&cached);
	service_session_end();
}

static void
handle_next(void)
{
	struct qconn *c = current;
	int r;

	if (c != NULL && c->io == NULL && !c->busy) {
		/* qmgr went away while we were delivering */
		conn_end(c);
		return;
	}
	while (c != NULL && c->io != NULL && !c->busy && req == NULL &&
	    (r = ipc_io_take(c->io, &c->req)) != 0) {
		struct smtp_req *rq;
		if (r < 0 || (rq = req_parse(&c->req)) == NULL) {
			log_warn("malformed delivery request from qmgr");
			conn_end(c);
			return;
		}
		c->busy = 1;
		start_request(rq);
	}
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct qconn *c = arg;

	(void)io;
	switch (evt) {
	case IO_IN:
		handle_next();
		break;
	case IO_LOWAT:
		if (service_draining() && !c->busy)
			conn_end(c);
		break;
	default:
		if (c->busy) {
			/* finish the delivery; the reply has nowhere to go */
			io_free(&c->io);
			return;
		}
		conn_end(c);
		break;
	}
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct qconn *c = xcalloc(1, sizeof(*c));

	(void)sa;
	(void)salen;
	(void)arg;
	ipc_msg_init(&c->req, 0);
	c->io = io_new(fd, on_io, c);
	current = c;
}

static void
on_drain(void *arg)
{
	(void)arg;
	if (current != NULL && !current->busy)
		conn_end(current);
}

int
smtp_main(int argc, char **argv)
{
	char *err = NULL;
	const char *lvl;

	service_init(argc, argv, "smtp");
	lvl = config_str("smtp_tls_security_level");
	if (*lvl != '\0' && strcmp(lvl, "none") != 0 && strcmp(lvl, "may") != 0
	    && strcmp(lvl, "encrypt") != 0 && strcmp(lvl, "verify") != 0 &&
	    strcmp(lvl, "secure") != 0)
		fatal("smtp_tls_security_level: unknown level \"%s\"", lvl);
	if (dns_init(NULL, &err) < 0)
		fatal("%s", err);
	service_drop_privileges();
	service_on_drain(on_drain, NULL);
	service_listen(on_accept, NULL, 1);
	return service_run();
}
