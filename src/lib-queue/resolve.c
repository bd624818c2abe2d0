/*
 * resolve.c - address classification and virtual alias expansion.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "resolve.h"
#include "str.h"

#define ALIAS_DEPTH_MAX 20
#define ALIAS_RESULT_MAX 1000

/* A domain list: literal names and lookup tables. */
struct domlist {
	char **names;
	struct maplist *maps;
};

static struct domlist mydest, valias_domains, vmbox_domains, relay_domains;
static struct maplist *valias_maps, *vmbox_maps, *vuid_maps, *vgid_maps,
    *local_rcpt_maps;
static int initialized;
static int routing_only;        /* resolve_init_routing(): no user tables */

static void
domlist_free(struct domlist *d)
{
	str_split_free(&d->names);
	maplist_free(&d->maps);
}

static void
domlist_open(struct domlist *d, const char *param)
{
	char **v = str_split(config_str(param), STR_LIST_SEPS, NULL);
	size_t i, nn = 0;
	struct buf specs;
	char *err = NULL;

	domlist_free(d);
	buf_init(&specs, BUF_UNLIMITED);
	d->names = xcalloc(1, sizeof(char *));
	for (i = 0; v[i] != NULL; i++) {
		if (strchr(v[i], ':') != NULL && v[i][0] != '[') {
			buf_printf(&specs, "%s ", v[i]);
			continue;
		}
		d->names = xreallocarray(d->names, nn + 2, sizeof(char *));
		d->names[nn] = xstrdup(v[i]);
		str_lower(d->names[nn]);
		d->names[++nn] = NULL;
	}
	d->maps = maplist_open(buf_cstr(&specs), &err);
	if (d->maps == NULL)
		fatal("%s: %s", param, err);
	buf_free(&specs);
	str_split_free(&v);
}

/* 1 listed, 0 not, -1 a table of the list is unavailable. */
static int
domlist_match(struct domlist *d, const char *domain)
{
	size_t i;
	const char *v;

	for (i = 0; d->names[i] != NULL; i++)
		if (strcasecmp(d->names[i], domain) == 0)
			return 1;
	return maplist_lookup(d->maps, domain, &v);
}

static struct maplist *
maps_open(const char *param)
{
	char *err = NULL;
	struct maplist *ml = maplist_open(config_str(param), &err);

	if (ml == NULL)
		fatal("%s: %s", param, err);
	return ml;
}

static void
init(int routing)
{
	domlist_open(&mydest, "mydestination");
	domlist_open(&valias_domains, "virtual_alias_domains");
	domlist_open(&vmbox_domains, "virtual_mailbox_domains");
	domlist_open(&relay_domains, "relay_domains");
	maplist_free(&valias_maps);
	maplist_free(&vmbox_maps);
	maplist_free(&vuid_maps);
	maplist_free(&vgid_maps);
	maplist_free(&local_rcpt_maps);
	valias_maps = maps_open("virtual_alias_maps");
	if (!routing) {
		vmbox_maps = maps_open("virtual_mailbox_maps");
		vuid_maps = maps_open("virtual_uid_maps");
		vgid_maps = maps_open("virtual_gid_maps");
		local_rcpt_maps = maps_open("local_recipient_maps");
	}
	routing_only = routing;
	initialized = 1;
}

void
resolve_init(void)
{
	init(0);
}

void
resolve_init_routing(void)
{
	init(1);
}

/* The user tables were not opened (resolve_init_routing). */
static void
need_user_tables(void)
{
	if (routing_only)
		panic("resolve: user tables needed after resolve_init_routing");
}

static void
need_init(void)
{
	if (!initialized)
		resolve_init();
}

static const char *
domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : "";
}

int
resolve_class_r(const char *addr, enum addr_class *class_r)
{
	static struct {
		struct domlist *list;
		enum addr_class c;
	} order[] = {
		{ &mydest, ADDR_LOCAL },
		/* virtual_alias_domains defaults to $virtual_alias_maps: only
		 * "@domain" style keys or domain keys make a domain match, so
		 * check mailbox domains first, as Postfix resolves them. */
		{ &vmbox_domains, ADDR_VIRTUAL },
		{ &valias_domains, ADDR_VIRTUAL_ALIAS },
		{ &relay_domains, ADDR_RELAY },
	};
	const char *d = domain_of(addr);
	size_t i;
	int r, failed = 0;

	need_init();
	*class_r = ADDR_REMOTE;
	if (*d == '\0') {
		*class_r = ADDR_LOCAL;
		return 0;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		r = domlist_match(order[i].list, d);
		if (r < 0)
			failed = 1;     /* it might have been listed there */
		else if (r > 0) {
			*class_r = order[i].c;
			break;
		}
	}
	return failed ? -1 : 0;
}

enum addr_class
resolve_class(const char *addr)
{
	enum addr_class c;

	(void)resolve_class_r(addr, &c);
	return c;
}

const char *
resolve_class_name(enum addr_class c)
{
	switch (c) {
	case ADDR_LOCAL: return "local";
	case ADDR_VIRTUAL_ALIAS: return "virtual-alias";
	case ADDR_VIRTUAL: return "virtual";
	case ADDR_RELAY: return "relay";
	case ADDR_REMOTE: return "remote";
	}
	return "?";
}

int
resolve_has_routing(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	return memchr(addr, '%', n) != NULL || memchr(addr, '!', n) != NULL ||
	    memchr(addr, '@', n) != NULL || memchr(addr, ':', n) != NULL;
}

void
resolve_fold_domain(char *addr)
{
	char *at = strrchr(addr, '@');

	if (at != NULL)
		str_lower(at + 1);
}

/* Lookup in Postfix virtual(5) order: user@domain, user (local domains
 * only), @domain. */
static int
lookup_address(struct maplist *ml, const char *addr, int local,
    const char **value_r)
{
	const char *at = strrchr(addr, '@');
	char key[600];
	int r;

	if ((r = maplist_lookup(ml, addr, value_r)) != 0)
		return r;
	if (at == NULL)
		return 0;
	if (local) {
		snprintf(key, sizeof(key), "%.*s", (int)(at - addr), addr);
		if ((r = maplist_lookup(ml, key, value_r)) != 0)
			return r;
	}
	snprintf(key, sizeof(key), "%s", at);
	return maplist_lookup(ml, key, value_r);
}

/* 1 known, 0 unknown, -1 a table is unavailable */
static int
local_user_known(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char user[300];
	const char *v, *delim = config_str("recipient_delimiter");
	int r;

	snprintf(user, sizeof(user), "%.*s",
	    (int)(at != NULL ? (size_t)(at - addr) : strlen(addr)), addr);
	if (maplist_empty(local_rcpt_maps))
		return 1;
	if ((r = maplist_lookup(local_rcpt_maps, user, &v)) != 0)
		return r;
	if (*delim != '\0') {
		char *p = strpbrk(user, delim);
		if (p != NULL) {
			*p = '\0';
			if ((r = maplist_lookup(local_rcpt_maps, user, &v)) != 0)
				return r;
		}
	}
	return strcasecmp(user, "postmaster") == 0;
}

int
resolve_known_recipient(const char *addr)
{
	const char *v;
	enum addr_class c;
	int r;

	need_user_tables();
	if (resolve_class_r(addr, &c) < 0)
		return -1;
	if (resolve_has_routing(addr) && c != ADDR_REMOTE && c != ADDR_RELAY)
		return 0;
	if ((r = lookup_address(valias_maps, addr, c == ADDR_LOCAL, &v)) != 0)
		return r;
	switch (c) {
	case ADDR_LOCAL:
		return local_user_known(addr);
	case ADDR_VIRTUAL:
		return lookup_address(vmbox_maps, addr, 0, &v);
	case ADDR_VIRTUAL_ALIAS:
		return 0;
	default:
		return 1;
	}
}

static int
expand(const char *addr, int depth, char ***out, size_t *n, char **error_r)
{
	const char *v;
	char **targets;
	size_t i;
	int r;
	enum addr_class c;

	if (depth > ALIAS_DEPTH_MAX) {
		*error_r = xasprintf("5.4.6 virtual alias loop or nesting too "
		    "deep at %s", addr);
		return -1;
	}
	if (resolve_class_r(addr, &c) < 0 ||
	    (r = lookup_address(valias_maps, addr, c == ADDR_LOCAL, &v)) < 0) {
		/* Postfix's cleanup: the message is not accepted now */
		*error_r = xasprintf("4.3.0 virtual_alias_maps map lookup "
		    "problem for %s", addr);
		return -1;
	}
	if (r == 0) {
		/* final address (dedupe) */
		for (i = 0; i < *n; i++)
			if (strcasecmp((*out)[i], addr) == 0)
				return 0;
		if (*n >= ALIAS_RESULT_MAX) {
			*error_r = xstrdup("5.4.6 virtual alias expansion too "
			    "large");
			return -1;
		}
		*out = xreallocarray(*out, *n + 2, sizeof(char *));
		(*out)[(*n)++] = xstrdup(addr);
		(*out)[*n] = NULL;
		return 0;
	}
	targets = str_split(v, STR_LIST_SEPS, NULL);
	for (i = 0; targets[i] != NULL && r >= 0; i++) {
		char *t = targets[i];
		if (strchr(t, '@') == NULL) {
			char *q = xasprintf("%s@%s", t, config_str("myorigin"));
			free(targets[i]);
			targets[i] = t = q;
		}
		if (strcasecmp(t, addr) == 0) {
			/* maps to itself: deliver here */
			size_t j;
			int dup = 0;
			for (j = 0; j < *n; j++)
				if (strcasecmp((*out)[j], addr) == 0)
					dup = 1;
			if (!dup) {
				*out = xreallocarray(*out, *n + 2, sizeof(char *));
				(*out)[(*n)++] = xstrdup(addr);
				(*out)[*n] = NULL;
			}
			continue;
		}
		r = expand(t, depth + 1, out, n, error_r);
	}
	str_split_free(&targets);
	return r;
}

char **
resolve_virtual_alias(const char *addr, char **error_r)
{
	char **out = xcalloc(1, sizeof(char *));
	size_t n = 0;

	need_init();
	if (expand(addr, 0, &out, &n, error_r) < 0) {
		str_split_free(&out);
		return NULL;
	}
	return out;
}

int
resolve_virtual_mailbox(const char *addr, char **path_r, long *uid_r,
    long *gid_r)
{
	const char *v;
	int r;

	need_init();
	need_user_tables();
	r = lookup_address(vmbox_maps, addr, 0, &v);
	if (r <= 0)
		return r;
	if (v[0] == '/')
		*path_r = xstrdup(v);
	else
		*path_r = xasprintf("%s/%s", config_str("virtual_mailbox_base"), v);
	*uid_r = *gid_r = -1;
	if ((r = lookup_address(vuid_maps, addr, 0, &v)) == 1)
		*uid_r = atol(v);
	if (r >= 0 && (r = lookup_address(vgid_maps, addr, 0, &v)) == 1)
		*gid_r = atol(v);
	if (r < 0) {
		FREE(*path_r);
		return -1;
	}
	return 1;
}
