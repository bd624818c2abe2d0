/*
 * dns.h - DNS lookups for the SMTP client: MX, A and AAAA, with c-ares.
 *
 * The resolver is ONLY the one named by dns_resolver_address (a list of
 * addr or addr:port, [v6]:port); /etc/resolv.conf, /etc/hosts and the
 * search list are never used.  With an empty dns_resolver_address every
 * lookup fails temporarily, so a system without a configured resolver
 * never sends a DNS packet.
 *
 * Lookups are synchronous (bounded by the c-ares timeout and tries): the
 * smtp delivery agent handles one request at a time per process.  The
 * answers are parsed by c-ares; names and counts are bounded here.
 */
#ifndef TEMPEST_DNS_H
#define TEMPEST_DNS_H

#include <sys/socket.h>
#include <stddef.h>

enum dns_status {
	DNS_OK = 0,
	DNS_NOTFOUND = 1,       /* NXDOMAIN or no records of that type */
	DNS_TEMPFAIL = 2,       /* timeout, SERVFAIL, no resolver */
};

#define DNS_MAX_MX 32
#define DNS_MAX_ADDR 32
#define DNS_NAME_MAX 255

struct dns_mx {
	char host[DNS_NAME_MAX + 1];
	int pref;
};

struct dns_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Configure the resolver from a dns_resolver_address value (NULL: read
 * the parameter).  0, or -1 with *error_r (bad address list). */
int dns_init(const char *servers, char **error_r);
/* MX records sorted by preference (ties keep answer order).  *n_r = 0
 * with DNS_NOTFOUND when the domain exists but has no MX. */
enum dns_status dns_lookup_mx(const char *domain, struct dns_mx *mx,
    size_t max, size_t *n_r, const char **error_r);
/* A and/or AAAA addresses of host (per inet_protocols), port filled in. */
enum dns_status dns_lookup_addr(const char *host, int port,
    struct dns_addr *out, size_t max, size_t *n_r, const char **error_r);
/* Sort MX records by preference, stable (exposed for unit tests). */
void dns_sort_mx(struct dns_mx *mx, size_t n);

#endif
