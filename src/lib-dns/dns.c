/*
 * dns.c - synchronous MX/A/AAAA lookups on c-ares (see dns.h).
 *
 * Untrusted input: DNS answers from the network, parsed by c-ares'
 * ares_parse_*_reply(); we copy at most DNS_MAX_* records and names of at
 * most DNS_NAME_MAX bytes.  The channel is set up so that c-ares never
 * reads resolv.conf or /etc/hosts: every option that resolv.conf could
 * provide is given explicitly (servers, lookups "b", empty sort list and
 * search domains, ndots, timeout, tries, rotate).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "mem.h"
#include "str.h"

static ares_channel chan;
static int chan_ok;             /* a resolver is configured */

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

int
dns_init(const char *servers, char **error_r)
{
	struct ares_options o;
	int mask, r;
	char *csv;
	static char lookups[] = "b";

	if (servers == NULL)
		servers = config_str("dns_resolver_address");
	if (chan_ok) {
		ares_destroy(chan);
		chan_ok = 0;
	}
	csv = servers_csv(servers);
	if (*csv == '\0') {
		free(csv);
		return 0;       /* no resolver: every lookup fails temporarily */
	}
	r = ares_library_init(ARES_LIB_INIT_ALL);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("c-ares: %s", ares_strerror(r));
		free(csv);
		return -1;
	}
	memset(&o, 0, sizeof(o));
	mask = ARES_OPT_SERVERS | ARES_OPT_LOOKUPS | ARES_OPT_SORTLIST |
	    ARES_OPT_DOMAINS | ARES_OPT_NDOTS | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_NOROTATE | ARES_OPT_FLAGS;
	o.nservers = 0;
	o.servers = NULL;
	o.lookups = lookups;
	o.nsort = 0;
	o.sortlist = NULL;
	o.ndomains = 0;
	o.domains = NULL;
	o.ndots = 1;
	o.timeout = 2000;
	o.tries = 2;
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	r = ares_init_options(&chan, &o, mask);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("c-ares init: %s", ares_strerror(r));
		free(csv);
		return -1;
	}
	r = ares_set_servers_ports_csv(chan, csv);
	if (r != ARES_SUCCESS) {
		*error_r = xasprintf("dns_resolver_address = %s: %s", servers,
		    ares_strerror(r));
		ares_destroy(chan);
		free(csv);
		return -1;
	}
	free(csv);
	chan_ok = 1;
	return 0;
}

struct query {
	int done;
	int status;             /* ares status */
	unsigned char *abuf;
	int alen;
};

static void
query_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct query *q = arg;

	(void)timeouts;
	q->done = 1;
	q->status = status;
	if (status == ARES_SUCCESS && abuf != NULL && alen > 0) {
		q->abuf = (unsigned char *)xmemdup(abuf, (size_t)alen);
		q->alen = alen;
	}
}

/* Run the channel until every query given has completed. */
static void
wait_queries(struct query **qs, size_t n)
{
	for (;;) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *tvp;
		size_t i, np = 0, pending = 0;
		unsigned bits;
		int r, ms;

		for (i = 0; i < n; i++)
			pending += !qs[i]->done;
		if (pending == 0)
			return;
		/* unsigned shifts: c-ares' own macros shift into the sign bit */
		bits = (unsigned)ares_getsock(chan, socks, ARES_GETSOCK_MAXNUM);
		for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			int rd = (bits >> i) & 1u;
			int wr = (bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
			if (!rd && !wr)
				continue;
			pfd[np].fd = socks[i];
			pfd[np].events = (short)((rd ? POLLIN : 0) |
			    (wr ? POLLOUT : 0));
			pfd[np].revents = 0;
			np++;
		}
		tvp = ares_timeout(chan, NULL, &tv);
		ms = tvp != NULL ? (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000)
		    : 1000;
		r = poll(pfd, np, ms);
		if (r < 0 && errno != EINTR)
			fatal("poll: %s", strerror(errno));
		if (r <= 0) {
			ares_process_fd(chan, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (i = 0; i < np; i++)
			ares_process_fd(chan,
			    pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ?
			    pfd[i].fd : ARES_SOCKET_BAD,
			    pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

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
		*error_r = ares_strerror(status);
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

enum dns_status
dns_lookup_mx(const char *domain, struct dns_mx *mx, size_t max,
    size_t *n_r, const char **error_r)
{
	struct query q = { 0 }, *qs[1] = { &q };
	struct ares_mx_reply *reply = NULL, *p;
	enum dns_status st;
	size_t n = 0;
	int r;

	*n_r = 0;
	if (!chan_ok) {
		*error_r = "no DNS resolver configured (dns_resolver_address)";
		return DNS_TEMPFAIL;
	}
	if (!name_ok(domain)) {
		*error_r = "malformed domain name";
		return DNS_NOTFOUND;
	}
	ares_query(chan, domain, 1 /* C_IN */, 15 /* T_MX */, query_cb, &q);
	wait_queries(qs, 1);
	st = map_status(q.status, error_r);
	if (st != DNS_OK) {
		free(q.abuf);
		return st;
	}
	r = ares_parse_mx_reply(q.abuf, q.alen, &reply);
	free(q.abuf);
	if (r == ARES_ENODATA) {
		*error_r = "no MX record";
		return DNS_NOTFOUND;
	}
	if (r != ARES_SUCCESS) {
		*error_r = "malformed MX reply";
		return DNS_TEMPFAIL;
	}
	for (p = reply; p != NULL && n < max; p = p->next) {
		if (p->host == NULL || !name_ok(p->host))
			continue;
		snprintf(mx[n].host, sizeof(mx[n].host), "%s", p->host);
		mx[n].pref = p->priority;
		n++;
	}
	ares_free_data(reply);
	if (n == 0) {
		*error_r = "no usable MX record";
		return DNS_NOTFOUND;
	}
	dns_sort_mx(mx, n);
	*n_r = n;
	return DNS_OK;
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

enum dns_status
dns_lookup_addr(const char *host, int port, struct dns_addr *out,
    size_t max, size_t *n_r, const char **error_r)
{
	struct query q4 = { 0 }, q6 = { 0 }, *qs[2];
	unsigned char a[16];
	size_t n = 0, nq = 0;
	enum dns_status s4 = DNS_NOTFOUND, s6 = DNS_NOTFOUND;
	const char *e4 = "Host not found", *e6 = "Host not found";

	*n_r = 0;
	/* address literals need no DNS */
	if (inet_pton(AF_INET, host, a) == 1) {
		add_addr(out, max, n_r, AF_INET, a, port);
		return DNS_OK;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		add_addr(out, max, n_r, AF_INET6, a, port);
		return DNS_OK;
	}
	if (!chan_ok) {
		*error_r = "no DNS resolver configured (dns_resolver_address)";
		return DNS_TEMPFAIL;
	}
	if (!name_ok(host)) {
		*error_r = "malformed host name";
		return DNS_NOTFOUND;
	}
	if (want_family(AF_INET6)) {
		ares_query(chan, host, 1, 28 /* T_AAAA */, query_cb, &q6);
		qs[nq++] = &q6;
	}
	if (want_family(AF_INET)) {
		ares_query(chan, host, 1, 1 /* T_A */, query_cb, &q4);
		qs[nq++] = &q4;
	}
	wait_queries(qs, nq);
	/* IPv4 first: loopback test setups and most of the world agree */
	if (want_family(AF_INET) && (s4 = map_status(q4.status, &e4)) == DNS_OK) {
		struct ares_addrttl t[DNS_MAX_ADDR];
		int nt = DNS_MAX_ADDR, i;
		struct hostent *he = NULL;
		if (ares_parse_a_reply(q4.abuf, q4.alen, &he, t, &nt) ==
		    ARES_SUCCESS) {
			for (i = 0; i < nt; i++)
				add_addr(out, max, &n, AF_INET, &t[i].ipaddr, port);
		}
		if (he != NULL)
			ares_free_hostent(he);
	}
	if (want_family(AF_INET6) && (s6 = map_status(q6.status, &e6)) == DNS_OK) {
		struct ares_addr6ttl t[DNS_MAX_ADDR];
		int nt = DNS_MAX_ADDR, i;
		struct hostent *he = NULL;
		if (ares_parse_aaaa_reply(q6.abuf, q6.alen, &he, t, &nt) ==
		    ARES_SUCCESS) {
			for (i = 0; i < nt; i++)
				add_addr(out, max, &n, AF_INET6, &t[i].ip6addr,
				    port);
		}
		if (he != NULL)
			ares_free_hostent(he);
	}
	free(q4.abuf);
	free(q6.abuf);
	*n_r = n;
	if (n > 0)
		return DNS_OK;
	if (s4 == DNS_TEMPFAIL || s6 == DNS_TEMPFAIL) {
		*error_r = s4 == DNS_TEMPFAIL ? e4 : e6;
		return DNS_TEMPFAIL;
	}
	*error_r = "Host not found";
	return DNS_NOTFOUND;
}
