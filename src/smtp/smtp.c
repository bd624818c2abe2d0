/*
 * smtp.c - the outbound SMTP delivery agent (`tempest daemon smtp`):
 * for each delivery request from qmgr (private/smtp; the qmgr side is
 * the skeleton in lib-queue/deliver_agent.c) finds the hosts
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
 * Input: requests from qmgr (checked by the skeleton), the queue file
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
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "ossl.h"
#include "queue_file.h"
#include "roles.h"
#include "service.h"
#include "smtp.h"
#include "smtp_sasl.h"
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
	{ "smtp_sasl_auth_enable", CFG_BOOL, "no", 0, "Authenticate to remote SMTP servers (SMTP AUTH, PLAIN or LOGIN) with a user:password from smtp_sasl_password_maps" },
	{ "smtp_sasl_password_maps", CFG_LIST, "", 0, "Tables of user:password keyed by the server host name, the next hop as written (e.g. [smtp.provider]:587), [host]:port or [host]; with smtp_sender_dependent_authentication, first the sender address and @domain.  Opened as root before privileges are dropped: make the file readable by root only" },
	{ "smtp_sasl_security_options", CFG_LIST, "noplaintext, noanonymous", 0, "SASL security options of the SMTP client without TLS: noplaintext (no PLAIN/LOGIN), noanonymous, noactive, nodictionary, mutual_auth" },
	{ "smtp_sasl_tls_security_options", CFG_LIST, "$smtp_sasl_security_options", 0, "SASL security options of the SMTP client inside a TLS session" },
	{ "smtp_sasl_mechanism_filter", CFG_LIST, "", 0, "If set, only these offered SASL mechanisms are considered (e.g. plain, login); a server left with none gets the mail without AUTH" },
	{ "smtp_sender_dependent_authentication", CFG_BOOL, "no", 0, "Look up smtp_sasl_password_maps by the sender address (then @domain) first; authenticated connections are then not reused" },
	{ "transport_maps", CFG_LIST, "", 0, "Recipient domain (or address) -> transport:nexthop, e.g. smtp:[host]:port, local:, error:text" },
};
CONFIG_PARAMS(smtp_params);

/* The state of one request (the skeleton's req->ctx): the hosts of its
 * next hop and the session it runs on.  qmgr sends one request at a
 * time per connection; the process works on many connections at once
 * (event-driven: DNS lookups and SMTP sessions of different requests
 * interleave). */
struct smtp_job {
	struct smtp_req req;
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
};

#define CACHE_MAX 32

static struct smtp_sess *cache[CACHE_MAX];      /* idle, for reuse */
static size_t ncache;
static SSL_CTX *tls_ctx;
static int tls_ctx_failed;
static struct maplist *sasl_maps;       /* smtp_sasl_password_maps */
static unsigned sasl_sec, sasl_tls_sec; /* security options */

/* ---- SASL (smtp_sasl_*) ---- */

int
smtp_sasl_enabled(void)
{
	return sasl_maps != NULL;
}

unsigned
smtp_sasl_secflags(int tls)
{
	return tls ? sasl_tls_sec : sasl_sec;
}

static int
sasl_find(const char *key, char **secret_r)
{
	const char *v;
	int r;

	if (*key == '\0')
		return 0;
	r = maplist_lookup(sasl_maps, key, &v);
	if (r == 1)
		*secret_r = xstrdup(v);
	if (r < 0)
		/* the table was opened as root; once it changes, this
		 * process (mail_owner, or chrooted) may not read it again:
		 * a fresh process opens it (Postfix: "table has changed
		 * -- restarting") and the deferred mail goes next run */
		service_restart("smtp_sasl_password_maps is unavailable");
	return r;
}

int
smtp_sasl_secret(const char *host, int port, const char *nexthop,
    const char *sender, char **secret_r)
{
	char *k;
	int r;

	*secret_r = NULL;
	if (sasl_maps == NULL)
		return 0;
	if (config_bool("smtp_sender_dependent_authentication") &&
	    *sender != '\0') {
		const char *at = strrchr(sender, '@');
		if ((r = sasl_find(sender, secret_r)) != 0)
			return r;
		if (at != NULL && (r = sasl_find(at, secret_r)) != 0)
			return r;
	}
	/* as Postfix: the server host name, then the next hop as written */
	if ((r = sasl_find(host, secret_r)) != 0 ||
	    (r = sasl_find(nexthop, secret_r)) != 0)
		return r;
	k = xasprintf("[%s]:%d", host, port);
	r = sasl_find(k, secret_r);
	free(k);
	if (r != 0)
		return r;
	k = xasprintf("[%s]", host);
	r = sasl_find(k, secret_r);
	free(k);
	return r;
}

static void
sasl_setup(void)
{
	const char *err = NULL;
	char *merr = NULL;

	if (smtp_sasl_sec_options(config_str("smtp_sasl_security_options"),
	    &sasl_sec, &err) < 0)
		fatal("smtp_sasl_security_options: %s: %s", err,
		    config_str("smtp_sasl_security_options"));
	if (smtp_sasl_sec_options(config_str("smtp_sasl_tls_security_options"),
	    &sasl_tls_sec, &err) < 0)
		fatal("smtp_sasl_tls_security_options: %s: %s", err,
		    config_str("smtp_sasl_tls_security_options"));
	if (!config_bool("smtp_sasl_auth_enable"))
		return;
	/* opened here, as root and before chroot (as Postfix does): the
	 * file may be readable by root only */
	sasl_maps = maplist_open(config_str("smtp_sasl_password_maps"), &merr);
	if (sasl_maps == NULL)
		fatal("smtp_sasl_password_maps: %s", merr);
	if (maplist_empty(sasl_maps))
		log_warn("smtp_sasl_auth_enable = yes, but "
		    "smtp_sasl_password_maps is empty: no authentication");
}

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

/* The request is answered: forget its state and let the skeleton reply
 * (job and req are gone afterwards). */
static void
job_done(struct smtp_job *job)
{
	struct deliver_req *d = job->req.d;

	free(job->req.envid);
	free(job->req.nexthop);
	free(job->last_error);
	free(job->dns_err);
	free(job);
	d->ctx = NULL;
	deliver_req_done(d);
}

/* Every recipient still open gets status/text; reply. */
static void
req_finish(struct smtp_job *job, int status, const char *text)
{
	deliver_req_fail(job->req.d, status, text);
	job_done(job);
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

static void try_next(struct smtp_job *job);
static void resolve_next_mx(struct smtp_job *job);

/* All hosts of the next hop are resolved: connect, or give up. */
static void
resolved(struct smtp_job *job)
{
	int tmp = job->worst == DNS_TEMPFAIL;
	char *why;

	if (job->ntargets > 0) {
		try_next(job);
		return;
	}
	if (job->use_mx && job->nmx > 0)
		why = xasprintf("%s MX host lookup for %s failed: %s",
		    tmp ? "4.4.3" : "5.4.4", job->host, job->dns_err);
	else
		why = xasprintf("%s Host or domain name not found. Name "
		    "service error for name=%s type=A: %s", tmp ? "4.4.3" :
		    "5.4.4", job->host, job->dns_err);
	req_finish(job, tmp ? DELIVER_DEFER : DELIVER_BOUNCE, why);
	free(why);
}

/* Addresses of one host (an MX host, or the domain as implicit MX). */
static void
on_addr(void *ctx, enum dns_status st, const struct dns_addr *a, size_t n,
    const char *err)
{
	struct smtp_job *job = ctx;
	const char *host = job->nmx > 0 ? job->mx[job->mx_next - 1].host :
	    job->host;
	size_t i;

	job->dq = NULL;
	if (st != DNS_OK) {
		if (st == DNS_TEMPFAIL || job->worst != DNS_TEMPFAIL) {
			job->worst = st;
			free(job->dns_err);
			job->dns_err = xstrdup(err);
		}
	}
	for (i = 0; i < n && job->ntargets < MAX_TARGETS; i++) {
		struct smtp_target *t = &job->targets[job->ntargets++];
		snprintf(t->host, sizeof(t->host), "%s", host);
		t->addr = a[i];
	}
	if (job->nmx > 0)
		resolve_next_mx(job);
	else
		resolved(job);
}

static void
resolve_next_mx(struct smtp_job *job)
{
	if (job->mx_next < job->nmx && job->ntargets < MAX_TARGETS) {
		const char *h = job->mx[job->mx_next++].host;
		job->dq = dns_addr_start(h, job->port, on_addr, job);
		return;
	}
	resolved(job);
}

static void
on_mx(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
    const char *err)
{
	struct smtp_job *job = ctx;

	job->dq = NULL;
	if (st == DNS_TEMPFAIL) {
		char *why = xasprintf("4.4.3 Host or domain name not found. "
		    "Name service error for name=%s type=MX: %s", job->host,
		    err);
		req_finish(job, DELIVER_DEFER, why);
		free(why);
		return;
	}
	if (st == DNS_OK && n > 0) {
		job->nmx = n < DNS_MAX_MX ? n : DNS_MAX_MX;
		memcpy(job->mx, mx, job->nmx * sizeof(mx[0]));
		job->mx_next = 0;
		resolve_next_mx(job);
		return;
	}
	/* no MX: the domain itself is the implicit MX */
	job->nmx = 0;
	job->dq = dns_addr_start(job->host, job->port, on_addr, job);
}

/* Find the hosts of the request's next hop (asynchronously), then try
 * them in turn. */
static void
resolve(struct smtp_job *job)
{
	job->ntargets = job->next_target = 0;
	job->nmx = job->mx_next = 0;
	job->worst = DNS_NOTFOUND;
	FREE(job->dns_err);
	job->dns_err = xstrdup("Host not found");
	nexthop_parse(job->req.nexthop, job->host, sizeof(job->host), &job->port,
	    &job->use_mx);
	if (*job->host == '\0') {
		req_finish(job, DELIVER_BOUNCE, "5.1.2 empty next hop");
		return;
	}
	if (job->use_mx)
		job->dq = dns_mx_start(job->host, on_mx, job);
	else
		job->dq = dns_addr_start(job->host, job->port, on_addr, job);
}

static void
on_sess_done(struct smtp_sess *s, int ok, const char *why)
{
	struct smtp_job *job = smtp_sess_ctx(s);

	if (job == NULL || s != job->active)
		panic("smtp: completion from an unknown session");
	job->active = NULL;
	if (ok) {
		/* sender-dependent credentials: a session logged in for one
		 * sender is not reused for another (as Postfix) */
		if (smtp_sess_idle(s) && !(smtp_sess_authed(s) &&
		    config_bool("smtp_sender_dependent_authentication")))
			cache_put(s);
		else
			smtp_sess_close(&s);
		job_done(job);
		return;
	}
	free(job->last_error);
	job->last_error = xstrdup(why);
	log_info("%s: %s", job->req.d->id, why);
	job->retry_notls = smtp_sess_tls_failed(s) &&
	    strcmp(config_str("smtp_tls_security_level"), "may") == 0;
	if (smtp_sess_reused(s)) {
		/* a stale cached connection: start over on a fresh one */
		smtp_sess_close(&s);
		job->retry_notls = 0;
		job->next_target = 0;
		if (job->ntargets == 0) {
			resolve(job);
			return;
		}
	} else {
		if (job->retry_notls)    /* same host again in the clear */
			job->next_target--;
		smtp_sess_close(&s);
	}
	try_next(job);
}

static void
try_next(struct smtp_job *job)
{
	int notls = job->retry_notls;
	const char *e = job->last_error;

	job->retry_notls = 0;
	if (job->next_target < job->ntargets) {
		struct smtp_target *t = &job->targets[job->next_target++];
		job->active = smtp_sess_connect(t, job->req.nexthop, &job->req,
		    notls, on_sess_done, job);
		return;
	}
	req_finish(job, e != NULL && *e == '5' ? DELIVER_BOUNCE : DELIVER_DEFER,
	    e != NULL ? e : "4.4.1 no host to connect to");
}

/* The skeleton's deliver callback: the next hop's cached connection,
 * or its hosts from DNS, then the SMTP transaction. */
static void
smtp_deliver(struct deliver_req *d)
{
	struct smtp_job *job = xcalloc(1, sizeof(*job));
	struct smtp_req *r = &job->req;
	struct smtp_sess *s;
	struct qfile qf;
	char *err = NULL;
	const char *at;

	d->ctx = job;
	r->d = d;
	if (d->nexthop != NULL)
		r->nexthop = xstrdup(d->nexthop);
	else {
		/* no next hop: the recipient domain */
		at = strrchr(d->rcpts[0].addr, '@');
		r->nexthop = xstrdup(at != NULL ? at + 1 : "");
	}
	/* DSN ENVID and RET, BODY and SMTPUTF8 live in the queue file */
	if (qfile_open(d->path, 0, &qf, &err) == 0) {
		r->envid = xstrdup(qf.envid != NULL ? qf.envid : "");
		r->ret = qf.ret;
		r->body_8bit = qfile_attr(&qf, "body") != NULL &&
		    strcmp(qfile_attr(&qf, "body"), "8BITMIME") == 0;
		r->smtputf8 = qfile_attr(&qf, "smtputf8") != NULL;
		qfile_close(&qf);
	} else
		free(err);
	r->eightbit = scan_8bit(d->fd, d->content_off, d->content_len);
	if ((s = cache_take(r->nexthop)) != NULL) {
		job->active = s;
		log_debug("%s: reusing the connection to %s", d->id, r->nexthop);
		smtp_sess_reuse(s, r, on_sess_done, job);
		return;
	}
	resolve(job);
}

static void
smtp_drain(void)
{
	while (ncache > 0) {
		struct smtp_sess *s = cache[ncache - 1];
		cache_remove(s);
		smtp_sess_close(&s);
	}
}

static void
smtp_setup(struct deliver_agent *a)
{
	char *err = NULL;
	const char *lvl;
	long long limit;

	lvl = config_str("smtp_tls_security_level");
	if (*lvl != '\0' && strcmp(lvl, "none") != 0 && strcmp(lvl, "may") != 0
	    && strcmp(lvl, "encrypt") != 0 && strcmp(lvl, "verify") != 0 &&
	    strcmp(lvl, "secure") != 0)
		fatal("smtp_tls_security_level: unknown level \"%s\"", lvl);
	{
		unsigned char a6[16];
		const char *b4 = config_str("smtp_bind_address");
		const char *b6 = config_str("smtp_bind_address6");
		if (*b4 != '\0' && inet_pton(AF_INET, b4, a6) != 1)
			fatal("smtp_bind_address: not an IPv4 address: %s", b4);
		if (*b6 != '\0' && inet_pton(AF_INET6, b6, a6) != 1)
			fatal("smtp_bind_address6: not an IPv6 address: %s", b6);
	}
	if (dns_init(NULL, &err) < 0)
		fatal("%s", err);
	sasl_setup();
	/* chrooted: the CA files are not visible afterwards */
	if (service_chrooted() && strcmp(lvl, "none") != 0)
		(void)smtp_tls_ctx();
	limit = config_int("smtp_process_session_limit");
	a->sessions = limit > 0 && limit < 10000 ? (int)limit : 1;
}

int
smtp_main(int argc, char **argv)
{
	struct deliver_agent a = {
		.role = "smtp",
		.setup = smtp_setup,
		.deliver = smtp_deliver,
		.drain = smtp_drain,
		.max_active = 1,        /* one request per connection at a time */
	};

	return deliver_agent_main(argc, argv, &a);
}
