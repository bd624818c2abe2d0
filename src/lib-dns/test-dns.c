/*
 * test-dns.c - lib-dns without a network: MX ordering, address literals,
 * and the "no resolver configured" rule.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "config.h"
#include "ioev.h"
#include "dns.h"
#include "test.h"

static void
test_sort(void)
{
	struct dns_mx mx[4] = { { "c", 20 }, { "a", 10 }, { "d", 20 }, { "b", 5 } };

	dns_sort_mx(mx, 4);
	T_STREQ(mx[0].host, "b");
	T_STREQ(mx[1].host, "a");
	T_STREQ(mx[2].host, "c");       /* stable among equal preferences */
	T_STREQ(mx[3].host, "d");
}

static void
test_no_resolver(void)
{
	struct dns_mx mx[4];
	struct dns_addr a[4];
	size_t n = 99;
	const char *err = NULL;
	char *e = NULL;

	T_INTEQ(dns_init("", &e), 0);
	T_INTEQ(dns_lookup_mx("example.com", mx, 4, &n, &err), DNS_TEMPFAIL);
	T_INTEQ(n, 0);
	T_OK(err != NULL);
	T_INTEQ(dns_lookup_addr("mx.example.com", 25, a, 4, &n, &err),
	    DNS_TEMPFAIL);
	/* literals never need DNS */
	T_INTEQ(dns_lookup_addr("127.0.0.2", 2525, a, 4, &n, &err), DNS_OK);
	T_INTEQ(n, 1);
	T_INTEQ(a[0].ss.ss_family, AF_INET);
	T_INTEQ(ntohs(((struct sockaddr_in *)&a[0].ss)->sin_port), 2525);
	T_INTEQ(dns_lookup_addr("::1", 25, a, 4, &n, &err), DNS_OK);
	T_INTEQ(a[0].ss.ss_family, AF_INET6);
}

static int calls;

static void
count_addr(void *ctx, enum dns_status st, const struct dns_addr *a, size_t n,
    const char *error)
{
	(void)a;
	(void)error;
	calls++;
	*(int *)ctx = st == DNS_OK ? (int)n : -1;
}

/* Results arrive from the event loop, never inside the start call, and
 * a cancelled lookup is never answered. */
static void
test_async(void)
{
	int r1 = 0, r2 = 0;
	struct dns_query *q1, *q2;
	char *e = NULL;

	T_INTEQ(dns_init("", &e), 0);
	calls = 0;
	q1 = dns_addr_start("192.0.2.1", 25, count_addr, &r1);
	q2 = dns_addr_start("no.resolver.example", 25, count_addr, &r2);
	T_OK(q1 != NULL && q2 != NULL);
	T_INTEQ(calls, 0);
	T_INTEQ(dns_pending(), 2);
	dns_query_cancel(&q2);
	T_OK(q2 == NULL);
	while (dns_pending() > 0)
		event_base_loop(io_base(), EVLOOP_ONCE);
	T_INTEQ(calls, 1);
	T_INTEQ(r1, 1);
	T_INTEQ(r2, 0);
}

static void
test_bad_server(void)
{
	char *e = NULL;

	T_OK(dns_init("not-an-address", &e) < 0);
	T_OK(e != NULL);
	free(e);
	e = NULL;
	T_INTEQ(dns_init("127.0.0.1:5300 [::1]:5300", &e), 0);
}

/* With TEMPEST_TEST_DNS=addr:port and TEMPEST_TEST_MX=domain, look the
 * domain up for real (tests/test_outbound_dns.py runs this under strace
 * to show that only the configured server is used). */
static int
live(const char *server, const char *domain)
{
	struct dns_mx mx[8];
	struct dns_addr a[8];
	size_t n = 0, na = 0, i;
	const char *err = "";
	char *e = NULL;

	if (dns_init(server, &e) < 0) {
		fprintf(stderr, "%s\n", e);
		return 1;
	}
	if (dns_lookup_mx(domain, mx, 8, &n, &err) != DNS_OK) {
		fprintf(stderr, "MX %s: %s\n", domain, err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		printf("MX %d %s\n", mx[i].pref, mx[i].host);
		if (dns_lookup_addr(mx[i].host, 25, a, 8, &na, &err) == DNS_OK)
			printf("A %s %zu\n", mx[i].host, na);
	}
	return 0;
}

int
main(void)
{
	char *err = NULL;

	if (config_load("/nonexistent-tempest-test", &err) < 0)
		return 1;
	if (getenv("TEMPEST_TEST_DNS") != NULL && getenv("TEMPEST_TEST_MX"))
		return live(getenv("TEMPEST_TEST_DNS"), getenv("TEMPEST_TEST_MX"));
	T_RUN(test_sort);
	T_RUN(test_no_resolver);
	T_RUN(test_async);
	T_RUN(test_bad_server);
	return t_done();
}
