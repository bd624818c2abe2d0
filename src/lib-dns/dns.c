/*
 * dns.c - asynchronous MX/A/AAAA lookups on c-ares, driven by the
 * process's libevent base (see dns.h).
 *
 * Untrusted input: DNS answers from the network, parsed by c-ares'
 * ares_parse_*_reply(); we copy at most DNS_MAX_* records and names of at
 * most DNS_NAME_MAX bytes.  The channel is set up so that c-ares never
 * reads resolv.conf or /etc/hosts: every option that resolv.conf could
 * provide is given explicitly (servers, lookups "b", empty sort list and
 * search domains, ndots, timeout, tries, rotate).
 *
 * Event loop: c-ares tells us through its socket-state callback which
 * UDP/TCP sockets it wants watched; each gets a persistent libevent
 * event, plus one timer for c-ares' retransmission/timeout clock.  Every
 * result reaches the caller through a zero-delay event, so a callback
 * never runs inside dns_*_start() or inside c-ares.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <event2/event.h>

#include "config.h"
#include "dl.h"
#include "dns.h"
#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "str.h"

static const struct cfg_param dns_params[] = {
	{ "dns_timeout", CFG_TIME, "2s", 's', "Time to wait for one DNS answer before asking again (per try)" },
	{ "dns_tries", CFG_INT, "2", 0, "How many times one DNS question is sent before the lookup fails temporarily" },
};
CONFIG_PARAMS(dns_params);

#define MAX_SOCKS 16

static ares_channel chan;
static int chan_ok;             /* a resolver is configured */
static struct event *timer;
static size_t npending;
static struct {
	ares_socket_t fd;
	struct event *ev;
	short what;
} socks[MAX_SOCKS];

enum qkind { Q_MX, Q_ADDR };

struct dns_query {
	enum qkind kind;
	dns_mx_fn mx_fn;
	dns_addr_fn addr_fn;
	void *ctx;
	int cancelled;
	int subs;               /* c-ares queries still running */
	int port;
	enum dns_status st;
	const char *error;
	/* answers */
	struct dns_mx mx[DNS_MAX_MX];
	size_t nmx;
	struct dns_addr a4[DNS_MAX_ADDR], a6[DNS_MAX_ADDR], all[DNS_MAX_ADDR];
	size_t na4, na6;
	enum dns_status st4, st6;
	const char *e4, *e6;
	int want4, want6;
	struct event *done_ev;
};

struct sub {
	struct dns_query *q;
	int type;               /* 15 MX, 1 A, 28 AAAA */
};

/*
 * c-ares is loaded with dlopen() by the first dns_init() that has a
 * resolver to set up (dl.h): the processes that never look anything up
 * (every command, and the whole of an instance without
 * dns_resolver_address) do not map it.
 */
static struct {
	__typeof__(ares_timeout) *timeout;
	__typeof__(ares_process_fd) *process_fd;
	__typeof__(ares_destroy) *destroy;
	__typeof__(ares_library_init) *library_init;
	__typeof__(ares_strerror) *strerror;
	__typeof__(ares_init_options) *init_options;
	__typeof__(ares_set_servers_ports_csv) *set_servers_ports_csv;
	__typeof__(ares_parse_mx_reply) *parse_mx_reply;
	__typeof__(ares_free_data) *free_data;
	__typeof__(ares_parse_a_reply) *parse_a_reply;
	__typeof__(ares_free_hostent) *free_hostent;
	__typeof__(ares_parse_aaaa_reply) *parse_aaaa_reply;
	__typeof__(ares_query) *query;
} ca;

static int
ca_load(char **error_r)
{
#define S(n) { "ares_" #n, (void **)&ca.n }
	const struct dl_sym syms[] = {
		S(timeout), S(process_fd), S(destroy), S(library_init), S(strerror),
		S(init_options), S(set_servers_ports_csv), S(parse_mx_reply),
		S(free_data), S(parse_a_reply), S(free_hostent), S(parse_aaaa_reply),
		S(query),
	};
#undef S
	char *err = NULL;

	if (ca.query != NULL)
		return 0;
	if (dl_load(CARES_SONAME, syms, NELEM(syms), NULL, &err) < 0) {
		*error_r = xasprintf("c-ares: %s", err);
		free(err);
		return -1;
	}
	return 0;
}

/* Turn "a:53 [::1]:5353, b" into c-ares' "a:53,[::1]:5353,b". */
static char *
servers_csv(const char *value)
{
	char **v = str_split(value, STR_LIST_SEPS, NULL);
	size_t i, len = 1;
	char *out;

	for (i = 0; v[i] != NULL; i++)
		len += strlen(v[i]) + 1;
	out = xcalloc(1, len);
	for (i = 0; v[i] != NULL; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	str_split_free(&v);
	return out;
}

/* ---- the event loop glue ---- */

static void
timer_update(void)
{
	struct timeval tv, *tvp;

	if (!chan_ok)
		return;
	if (timer == NULL)
		return;
	tvp = ca.timeout(chan, NULL, &tv);
	if (tvp == NULL)
		event_del(timer);
	else
		event_add(timer, tvp);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ca.process_fd(chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	timer_update();
}

static void
on_sock(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	ca.process_fd(chan, what & EV_READ ? fd : ARES_SOCKET_BAD,
	    what & EV_WRITE ? fd : ARES_SOCKET_BAD);
	timer_update();
}

/* c-ares: start/stop watching fd. */
static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	short what = (short)((readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0));
	int i, slot = -1;

	(void)data;
	for (i = 0; i < MAX_SOCKS; i++)
		if (socks[i].ev != NULL && socks[i].fd == fd) {
			slot = i;
			break;
		}
	if (slot >= 0 && (what == 0 || what != socks[slot].what)) {
		event_free(socks[slot].ev);
		socks[slot].ev = NULL;
	}
	if (what == 0)
		return;
	if (slot >= 0 && socks[slot].ev != NULL)
		return;
	for (i = 0; slot < 0 && i < MAX_SOCKS; i++)
		if (socks[i].ev == NULL)
			slot = i;
	if (slot < 0) {
		/* c-ares uses one socket per server and protocol; with a
		 * sane dns_resolver_address this cannot happen */
		log_warn("dns: too many resolver sockets");
		return;
	}
	socks[slot].fd = fd;
	socks[slot].what = what;
	socks[slot].ev = event_new(io_base(), fd, what | EV_PERSIST, on_sock,
	    NULL);
	event_add(socks[slot].ev, NULL);
}

int
dns_init(const char *servers, char **error_r)
{
	struct ares_options o;
	int mask, r;
	long long tries;
	char *csv;
	static char lookups[] = "b";

	if (servers == NULL)
		servers = config_str("dns_resolver_address");
	if (chan_ok) {
		chan_ok = 0;
		ca.destroy(chan);     /* pending queries end: EDESTRUCTION */
	}
	csv = servers_csv(servers);
	if (*csv == '\0') {
		free(csv);
		return 0;       /* no resolver: every lookup fails temporarily */
	}
	if (ca_load(error_r) < 0) {
		free(csv);
		return -1;
	}
	r = ca.library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("c-ares: %s", ca.strerror(r));
		free(csv);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	mask = ARES_OPT_SERVERS | ARES_OPT_LOOKUPS | ARES_OPT_SORTLIST |
	    ARES_OPT_DOMAINS | ARES_OPT_NDOTS | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_NOROTATE | ARES_OPT_FLAGS |
	    ARES_OPT_SOCK_STATE_CB;
	o.nservers = 0;
	o.servers = NULL;
	o.lookups = lookups;
	o.nsort = 0;
	o.sortlist = NULL;
	o.ndomains = 0;
	o.domains = NULL;
	o.ndots = 1;
	o.timeout = (int)(config_time("dns_timeout") * 1000);
	if (o.timeout <= 0)
		o.timeout = 2000;
	tries = config_int("dns_tries");
	o.tries = tries > 0 && tries < 20 ? (int)tries : 2;
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = NULL;
	r = ca.init_options(&chan, &o, mask);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("c-ares init: %s", ca.strerror(r));
		free(csv);
		return -1;
	}
	r = ca.set_servers_ports_csv(chan, csv);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("dns_resolver_address = %s: %s", servers,
		    ca.strerror(r));
		ca.destroy(chan);
		free(csv);
		return -1;
	}
	free(csv);
	if (timer == NULL)
		timer = evtimer_new(io_base(), on_timer, NULL);
	chan_ok = 1;
	return 0;
}

/* ---- queries ---- */

static enum dns_status
map_status(int status, const char **error_r)
{
	switch (status) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENOTFOUND:
		*error_r = "Host not found";
		return DNS_NOTFOUND;
	case ARES_ENODATA:
		*error_r = "No address associated with name";
		return DNS_NOTFOUND;
	default:
		*error_r = ca.strerror(status);
		return DNS_TEMPFAIL;
	}
}

static int
name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= DNS_NAME_MAX && strpbrk(name, " \t\r\n\\") == NULL;
}

void
dns_sort_mx(struct dns_mx *mx, size_t n)
{
	size_t i, j;

	/* insertion sort: stable, n <= DNS_MAX_MX */
	for (i = 1; i < n; i++) {
		struct dns_mx t = mx[i];
		for (j = i; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
}

static int
want_family(int family)
{
	const char *p = config_str("inet_protocols");

	if (strstr(p, "all") != NULL)
		return 1;
	return strstr(p, family == AF_INET ? "ipv4" : "ipv6") != NULL;
}

static void
add_addr(struct dns_addr *out, size_t max, size_t *n, int family,
    const void *a, int port)
{
	struct dns_addr *d;

	if (*n >= max)
		return;
	d = &out[(*n)++];
	memset(d, 0, sizeof(*d));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&d->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a, sizeof(sin->sin_addr));
		d->len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a, sizeof(sin6->sin6_addr));
		d->len = sizeof(*sin6);
	}
}

/* Deliver the result (from the zero-delay event) and free the query. */
static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	(void)fd;
	(void)what;
	npending--;
	if (!q->cancelled) {
		if (q->kind == Q_MX)
			q->mx_fn(q->ctx, q->st, q->mx, q->nmx, q->error);
		else {
			size_t n = 0, i;
			/* IPv4 first: loopback test setups and most of the
			 * world agree */
			for (i = 0; i < q->na4 && n < DNS_MAX_ADDR; i++)
				q->all[n++] = q->a4[i];
			for (i = 0; i < q->na6 && n < DNS_MAX_ADDR; i++)
				q->all[n++] = q->a6[i];
			q->addr_fn(q->ctx, q->st, q->all, n, q->error);
		}
	}
	event_free(q->done_ev);
	free(q);
}

static void
finish(struct dns_query *q)
{
	if (q->kind == Q_ADDR) {
		if (q->na4 + q->na6 > 0)
			q->st = DNS_OK;
		else if (q->st4 == DNS_TEMPFAIL || q->st6 == DNS_TEMPFAIL) {
			q->st = DNS_TEMPFAIL;
			q->error = q->st4 == DNS_TEMPFAIL ? q->e4 : q->e6;
		} else {
			q->st = DNS_NOTFOUND;
			if (q->error == NULL)
				q->error = "Host not found";
		}
	}
	event_active(q->done_ev, EV_TIMEOUT, 0);
}

static void
parse_mx(struct dns_query *q, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *reply = NULL, *p;
	int r = ca.parse_mx_reply(abuf, alen, &reply);

	if (r == ARES_ENODATA) {
		q->st = DNS_NOTFOUND;
		q->error = "no MX record";
		return;
	}
	if (r != ARES_SUCCESS) {
		q->st = DNS_TEMPFAIL;
		q->error = "malformed MX reply";
		return;
	}
	for (p = reply; p != NULL && q->nmx < DNS_MAX_MX; p = p->next) {
		if (p->host == NULL || !name_ok(p->host))
			continue;
		snprintf(q->mx[q->nmx].host, sizeof(q->mx[0].host), "%s",
		    p->host);
		q->mx[q->nmx].pref = p->priority;
		q->nmx++;
	}
	ca.free_data(reply);
	if (q->nmx == 0) {
		q->st = DNS_NOTFOUND;
		q->error = "no usable MX record";
		return;
	}
	dns_sort_mx(q->mx, q->nmx);
	q->st = DNS_OK;
}

static void
parse_a(struct dns_query *q, const unsigned char *abuf, int alen)
{
	struct ares_addrttl t[DNS_MAX_ADDR];
	int nt = DNS_MAX_ADDR, i;
	struct hostent *he = NULL;

	if (ca.parse_a_reply(abuf, alen, &he, t, &nt) == ARES_SUCCESS)
		for (i = 0; i < nt; i++)
			add_addr(q->a4, DNS_MAX_ADDR, &q->na4, AF_INET,
			    &t[i].ipaddr, q->port);
	if (he != NULL)
		ca.free_hostent(he);
}

static void
parse_aaaa(struct dns_query *q, const unsigned char *abuf, int alen)
{
	struct ares_addr6ttl t[DNS_MAX_ADDR];
	int nt = DNS_MAX_ADDR, i;
	struct hostent *he = NULL;

	if (ca.parse_aaaa_reply(abuf, alen, &he, t, &nt) == ARES_SUCCESS)
		for (i = 0; i < nt; i++)
			add_addr(q->a6, DNS_MAX_ADDR, &q->na6, AF_INET6,
			    &t[i].ip6addr, q->port);
	if (he != NULL)
		ca.free_hostent(he);
}

/* c-ares: one question answered (or failed, or the channel destroyed). */
static void
sub_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct sub *s = arg;
	struct dns_query *q = s->q;
	int ok = status == ARES_SUCCESS && abuf != NULL && alen > 0;
	/* a "success" without an answer is a bad response */
	int rc = ok || status != ARES_SUCCESS ? status : ARES_EBADRESP;

	(void)timeouts;
	switch (s->type) {
	case 15:
		q->st = map_status(rc, &q->error);
		if (ok)
			parse_mx(q, abuf, alen);
		break;
	case 1:
		q->st4 = map_status(rc, &q->e4);
		if (ok)
			parse_a(q, abuf, alen);
		break;
	default:
		q->st6 = map_status(rc, &q->e6);
		if (ok)
			parse_aaaa(q, abuf, alen);
		break;
	}
	free(s);
	if (--q->subs == 0)
		finish(q);
}

static struct dns_query *
query_new(enum qkind kind, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->kind = kind;
	q->ctx = ctx;
	q->st = q->st4 = q->st6 = DNS_NOTFOUND;
	q->error = q->e4 = q->e6 = "Host not found";
	q->done_ev = event_new(io_base(), -1, 0, on_done, q);
	npending++;
	return q;
}

static void
sub_start(struct dns_query *q, const char *name, int type)
{
	struct sub *s = xcalloc(1, sizeof(*s));

	s->q = q;
	s->type = type;
	q->subs++;
	ca.query(chan, name, 1 /* C_IN */, type, sub_cb, s);
}

/* Start the questions; the last sub_start may answer at once (bad name
 * etc.), so subs is held at 1 until all are sent. */
static void
run_subs(struct dns_query *q, const char *name, const int *types, int n)
{
	int i;

	q->subs++;
	for (i = 0; i < n; i++)
		sub_start(q, name, types[i]);
	if (--q->subs == 0)
		finish(q);
	timer_update();
}

struct dns_query *
dns_mx_start(const char *domain, dns_mx_fn fn, void *ctx)
{
	struct dns_query *q = query_new(Q_MX, ctx);
	static const int types[] = { 15 };

	q->mx_fn = fn;
	if (!chan_ok) {
		q->st = DNS_TEMPFAIL;
		q->error = "no DNS resolver configured (dns_resolver_address)";
		finish(q);
	} else if (!name_ok(domain)) {
		q->st = DNS_NOTFOUND;
		q->error = "malformed domain name";
		finish(q);
	} else
		run_subs(q, domain, types, 1);
	return q;
}

struct dns_query *
dns_addr_start(const char *host, int port, dns_addr_fn fn, void *ctx)
{
	struct dns_query *q = query_new(Q_ADDR, ctx);
	unsigned char a[16];
	int types[2], n = 0;

	q->addr_fn = fn;
	q->port = port;
	q->error = NULL;
	/* address literals need no DNS */
	if (inet_pton(AF_INET, host, a) == 1) {
		add_addr(q->a4, DNS_MAX_ADDR, &q->na4, AF_INET, a, port);
		finish(q);
		return q;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		add_addr(q->a6, DNS_MAX_ADDR, &q->na6, AF_INET6, a, port);
		finish(q);
		return q;
	}
	if (!chan_ok) {
		q->st4 = DNS_TEMPFAIL;
		q->e4 = "no DNS resolver configured (dns_resolver_address)";
		finish(q);
		return q;
	}
	if (!name_ok(host)) {
		q->error = "malformed host name";
		finish(q);
		return q;
	}
	if (want_family(AF_INET6))
		types[n++] = 28;
	if (want_family(AF_INET))
		types[n++] = 1;
	run_subs(q, host, types, n);
	return q;
}

void
dns_query_cancel(struct dns_query **qp)
{
	if (*qp == NULL)
		return;
	(*qp)->cancelled = 1;   /* freed when its answer or timeout comes */
	*qp = NULL;
}

size_t
dns_pending(void)
{
	return npending;
}

/* ---- synchronous wrappers ---- */

struct sync_res {
	int done;
	enum dns_status st;
	const char *error;
	void *out;
	size_t max, n;
};

static void
sync_mx(void *ctx, enum dns_status st, const struct dns_mx *mx, size_t n,
    const char *error)
{
	struct sync_res *r = ctx;

	r->done = 1;
	r->st = st;
	r->error = error;
	for (r->n = 0; r->n < n && r->n < r->max; r->n++)
		((struct dns_mx *)r->out)[r->n] = mx[r->n];
}

static void
sync_addr(void *ctx, enum dns_status st, const struct dns_addr *a, size_t n,
    const char *error)
{
	struct sync_res *r = ctx;

	r->done = 1;
	r->st = st;
	r->error = error;
	for (r->n = 0; r->n < n && r->n < r->max; r->n++)
		((struct dns_addr *)r->out)[r->n] = a[r->n];
}

static enum dns_status
sync_wait(struct sync_res *r, size_t *n_r, const char **error_r)
{
	while (!r->done)
		event_base_loop(io_base(), EVLOOP_ONCE);
	*n_r = r->n;
	if (r->st != DNS_OK)
		*error_r = r->error;
	return r->st;
}

enum dns_status
dns_lookup_mx(const char *domain, struct dns_mx *mx, size_t max,
    size_t *n_r, const char **error_r)
{
	struct sync_res r = { 0, DNS_TEMPFAIL, NULL, mx, max, 0 };

	(void)dns_mx_start(domain, sync_mx, &r);
	return sync_wait(&r, n_r, error_r);
}

enum dns_status
dns_lookup_addr(const char *host, int port, struct dns_addr *out,
    size_t max, size_t *n_r, const char **error_r)
{
	struct sync_res r = { 0, DNS_TEMPFAIL, NULL, out, max, 0 };

	(void)dns_addr_start(host, port, sync_addr, &r);
	return sync_wait(&r, n_r, error_r);
}
