/*
 * netaddr.c - CIDR lists.  Input comes from configuration only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "netaddr.h"
#include "str.h"

struct netent {
	int family;
	unsigned char addr[16];
	int prefix;
};

struct netlist {
	struct netent *v;
	size_t n;
};

static int
netent_parse(const char *tok, struct netent *e)
{
	char tmp[128], *slash, *a = tmp;
	size_t len = strlen(tok);
	long prefix = -1;

	if (len >= sizeof(tmp))
		return -1;
	memcpy(tmp, tok, len + 1);
	slash = strchr(tmp, '/');
	if (slash != NULL) {
		char *end;
		*slash = '\0';
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0' || slash[1] == '\0' || prefix < 0)
			return -1;
	}
	if (*a == '[') {
		size_t al = strlen(a);
		if (al < 2 || a[al - 1] != ']')
			return -1;
		a[al - 1] = '\0';
		a++;
	}
	memset(e, 0, sizeof(*e));
	if (inet_pton(AF_INET, a, e->addr) == 1) {
		e->family = AF_INET;
		if (prefix > 32)
			return -1;
		e->prefix = prefix < 0 ? 32 : (int)prefix;
	} else if (inet_pton(AF_INET6, a, e->addr) == 1) {
		e->family = AF_INET6;
		if (prefix > 128)
			return -1;
		e->prefix = prefix < 0 ? 128 : (int)prefix;
	} else
		return -1;
	return 0;
}

struct netlist *
netlist_parse(const char *value, char **error_r)
{
	struct netlist *nl = xcalloc(1, sizeof(*nl));
	char **toks = str_split(value, STR_LIST_SEPS, NULL);
	size_t i;

	for (i = 0; toks[i] != NULL; i++) {
		struct netent e;
		if (netent_parse(toks[i], &e) < 0) {
			*error_r = xasprintf("bad network address: %s", toks[i]);
			str_split_free(&toks);
			netlist_free(&nl);
			return NULL;
		}
		nl->v = xreallocarray(nl->v, nl->n + 1, sizeof(*nl->v));
		nl->v[nl->n++] = e;
	}
	str_split_free(&toks);
	return nl;
}

void
netlist_free(struct netlist **nl)
{
	if (*nl == NULL)
		return;
	free((*nl)->v);
	FREE(*nl);
}

static int
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (rem == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rem))) == 0;
}

int
netlist_match(const struct netlist *nl, const struct sockaddr *sa)
{
	unsigned char a4[4], a6[16];
	size_t i;
	int fam = sa->sa_family;

	if (nl == NULL)
		return 0;
	if (fam == AF_INET)
		memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (fam == AF_INET6) {
		memcpy(a6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		/* v4-mapped v6 addresses match v4 entries */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a6)) {
			memcpy(a4, a6 + 12, 4);
			fam = AF_INET;
		}
	} else
		return 0;
	for (i = 0; i < nl->n; i++) {
		const struct netent *e = &nl->v[i];
		if (e->family != fam)
			continue;
		if (prefix_match(fam == AF_INET ? a4 : a6, e->addr, e->prefix))
			return 1;
	}
	return 0;
}

void
netaddr_ntop(const struct sockaddr *sa, char *dst, size_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(dst, len, "unknown");
		return;
	}
	if (inet_ntop(sa->sa_family, a, dst, (socklen_t)len) == NULL)
		snprintf(dst, len, "unknown");
}

int
netaddr_split_hostport(const char *s, char **host_r, char **port_r)
{
	const char *colon;

	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':' || rb[2] == '\0')
			return -1;
		*host_r = xstrndup(s + 1, (size_t)(rb - s - 1));
		*port_r = xstrdup(rb + 2);
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL) {
		*host_r = xstrdup("");
		*port_r = xstrdup(s);
		return 0;
	}
	*host_r = xstrndup(s, (size_t)(colon - s));
	*port_r = xstrdup(colon + 1);
	return **port_r ? 0 : -1;
}
