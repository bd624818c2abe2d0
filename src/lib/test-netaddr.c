/* test-netaddr.c - CIDR lists. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "netaddr.h"
#include "test.h"

static int
m4(struct netlist *nl, const char *a)
{
	struct sockaddr_in s;
	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	inet_pton(AF_INET, a, &s.sin_addr);
	return netlist_match(nl, (struct sockaddr *)&s);
}

static int
m6(struct netlist *nl, const char *a)
{
	struct sockaddr_in6 s;
	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &s.sin6_addr);
	return netlist_match(nl, (struct sockaddr *)&s);
}

static void
test_match(void)
{
	char *err = NULL;
	struct netlist *nl = netlist_parse("127.0.0.0/8, [::1]/128 10.1.2.0/23", &err);

	T_OK(nl != NULL);
	T_OK(m4(nl, "127.1.2.3"));
	T_OK(!m4(nl, "128.0.0.1"));
	T_OK(m4(nl, "10.1.3.255"));
	T_OK(!m4(nl, "10.1.4.0"));
	T_OK(m6(nl, "::1"));
	T_OK(!m6(nl, "::2"));
	T_OK(m6(nl, "::ffff:127.0.0.1"));
	netlist_free(&nl);
	nl = netlist_parse("127.0.0.0/33", &err);
	T_OK(nl == NULL && err != NULL);
	free(err);
	nl = netlist_parse("", &err);
	T_OK(nl != NULL && !m4(nl, "127.0.0.1"));
	netlist_free(&nl);
}

static void
test_hostport(void)
{
	char *h, *p;
	T_INTEQ(netaddr_split_hostport("127.0.0.1:2525", &h, &p), 0);
	T_STREQ(h, "127.0.0.1"); T_STREQ(p, "2525"); free(h); free(p);
	T_INTEQ(netaddr_split_hostport("[::1]:25", &h, &p), 0);
	T_STREQ(h, "::1"); T_STREQ(p, "25"); free(h); free(p);
	T_INTEQ(netaddr_split_hostport("smtp", &h, &p), 0);
	T_STREQ(h, ""); T_STREQ(p, "smtp"); free(h); free(p);
}

int
main(void)
{
	T_RUN(test_match);
	T_RUN(test_hostport);
	return t_done();
}
