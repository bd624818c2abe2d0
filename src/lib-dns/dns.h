/*
 * dns.h - DNS lookups for the SMTP client: MX, A and AAAA, with c-ares
 * running on the process's event loop (ioev's libevent base).
 *
 * The resolver is ONLY the one named by dns_resolver_address (a list of
 * addr or addr:port, [v6]:port); /etc/resolv.conf, /etc/hosts and the
 * search list are never used.  With an empty dns_resolver_address every
 * lookup fails temporarily, so a system without a configured resolver
 * never sends a DNS packet.
 *
 * Lookups are asynchronous: dns_mx_start()/dns_addr_start() return at
 * once and call back from the event loop (never from inside the start
 * call), so one process can have many lookups and SMTP sessions in
 * flight.  The synchronous dns_lookup_*() wrappers run the loop until
 * their answer is in (for tests and tools only).  The answers are parsed
 * by c-ares; names and counts are bounded here.
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

struct dns_query;

/* Results: st, the records (n of them, valid only during the call) and
 * a static or query-owned reason when st != DNS_OK. */
typedef void (*dns_mx_fn)(void *ctx, enum dns_status st,
    const struct dns_mx *mx, size_t n, const char *error);
typedef void (*dns_addr_fn)(void *ctx, enum dns_status st,
    const struct dns_addr *a, size_t n, const char *error);

/* Configure the resolver from a dns_resolver_address value (NULL: read
 * the parameter; dns_timeout and dns_tries bound each lookup).  0, or -1
 * with *error_r (bad address list). */
int dns_init(const char *servers, char **error_r);
/* Start an MX lookup; fn gets the records sorted by preference (ties
 * keep answer order), or DNS_NOTFOUND with n = 0 when the domain exists
 * but has no MX (implicit MX) or does not exist. */
struct dns_query *dns_mx_start(const char *domain, dns_mx_fn fn, void *ctx);
/* Start an A and/or AAAA lookup of host (per inet_protocols; IPv4
 * first), with port filled into each address.  Address literals are
 * answered without DNS. */
struct dns_query *dns_addr_start(const char *host, int port, dns_addr_fn fn,
    void *ctx);
/* Forget a pending lookup: its callback is never called.  *q = NULL. */
void dns_query_cancel(struct dns_query **q);
/* Lookups started and not yet answered (for tests and logs). */
size_t dns_pending(void);

/* Synchronous forms (run the event loop until the answer is in). */
enum dns_status dns_lookup_mx(const char *domain, struct dns_mx *mx,
    size_t max, size_t *n_r, const char **error_r);
enum dns_status dns_lookup_addr(const char *host, int port,
    struct dns_addr *out, size_t max, size_t *n_r, const char **error_r);
/* Sort MX records by preference, stable (exposed for unit tests). */
void dns_sort_mx(struct dns_mx *mx, size_t n);

#endif
