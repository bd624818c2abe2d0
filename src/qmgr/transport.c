/*
 * transport.c - where a recipient goes: transport_maps (Postfix
 * transport(5): "transport:nexthop" per address, domain, .parent domain
 * or "*"), then the address class (local, virtual, remote) with
 * relayhost / default_transport.  Input: recipient addresses from queue
 * files (bounded by the SMTP parser) and administrator-owned tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "qmgr.h"
#include "resolve.h"

static struct maplist *tmaps;
static int tmaps_open;

void
qmgr_route_init(void)
{
	char *err = NULL;

	maplist_free(&tmaps);
	tmaps = maplist_open(config_str("transport_maps"), &err);
	if (tmaps == NULL)
		fatal("transport_maps: %s", err);
	tmaps_open = 1;
}

/* transport_maps lookup: 1 found, 0 not, -1 temporary error. */
static int
tmap_lookup(const char *addr, const char **value_r)
{
	const char *at = strrchr(addr, '@'), *d;
	char key[600];
	int r;

	if (!tmaps_open)
		qmgr_route_init();
	if (maplist_empty(tmaps))
		return 0;
	if ((r = maplist_lookup(tmaps, addr, value_r)) != 0)
		return r;
	if (at != NULL) {
		d = at + 1;
		if ((r = maplist_lookup(tmaps, d, value_r)) != 0)
			return r;
		/* parent domains: ".example.com" matches sub.example.com */
		while ((d = strchr(d, '.')) != NULL) {
			snprintf(key, sizeof(key), "%s", d);
			if ((r = maplist_lookup(tmaps, key, value_r)) != 0)
				return r;
			d++;
		}
	}
	return maplist_lookup(tmaps, "*", value_r);
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

/* Split "transport:nexthop" (either part may be empty). */
static void
split_tn(const char *v, char **t_r, char **n_r)
{
	const char *colon = strchr(v, ':');

	if (colon == NULL) {
		*t_r = xstrdup(v);
		*n_r = xstrdup("");
	} else {
		*t_r = xstrndup(v, (size_t)(colon - v));
		*n_r = xstrdup(colon + 1);
	}
}

int
qmgr_route(const char *addr, char **transport_r, char **nexthop_r,
    char **error_r)
{
	const char *v;
	char *t = NULL, *n = NULL;
	enum addr_class c;
	int r = tmap_lookup(addr, &v);

	if (r < 0) {
		*error_r = xstrdup("4.3.0 transport_maps lookup failed");
		return -1;
	}
	if (resolve_class_r(addr, &c) < 0) {
		*error_r = xstrdup("4.3.0 address resolver failure: a domain "
		    "table is unavailable");
		return -1;
	}
	if (r > 0)
		split_tn(v, &t, &n);
	if (t == NULL || *t == '\0') {
		free(t);
		switch (c) {
		case ADDR_LOCAL:
			t = xstrdup("local");
			break;
		case ADDR_VIRTUAL:
		case ADDR_VIRTUAL_ALIAS:
			t = xstrdup("virtual");
			break;
		default: {
			char *dt, *dn;
			split_tn(config_str("default_transport"), &dt, &dn);
			t = dt;
			if (n == NULL || *n == '\0') {
				free(n);
				n = dn;
			} else
				free(dn);
			if (*n == '\0' && *config_str("relayhost") != '\0') {
				free(n);
				n = xstrdup(config_str("relayhost"));
			}
			break;
		}
		}
	}
	if (strcmp(t, "error") == 0) {
		*error_r = *n != '\0' ? (n[0] >= '4' && n[0] <= '5' &&
		    n[1] == '.' ? xstrdup(n) : xasprintf("5.0.0 %s", n)) :
		    xstrdup("5.0.0 mail for this destination is refused");
		free(t);
		free(n);
		return 1;
	}
	if (n == NULL || *n == '\0') {
		free(n);
		n = xstrdup(domain_of(addr));
	}
	*transport_r = t;
	*nexthop_r = n;
	return 0;
}
