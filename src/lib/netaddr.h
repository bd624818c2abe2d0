/*
 * netaddr.h - network address lists (mynetworks and friends).
 *
 * A list holds CIDR blocks written as 127.0.0.0/8, 10.1.2.3, [::1]/128 or
 * ::1/128.  Matching is against a sockaddr of the client.
 */
#ifndef TEMPEST_NETADDR_H
#define TEMPEST_NETADDR_H

#include <sys/socket.h>
#include <stddef.h>

struct netlist;

/* Parse a Postfix list value.  NULL with *error_r set on a bad entry. */
struct netlist *netlist_parse(const char *value, char **error_r);
void netlist_free(struct netlist **nl);
int netlist_match(const struct netlist *nl, const struct sockaddr *sa);
/* Printable address without port ("127.0.0.1", "::1"). */
void netaddr_ntop(const struct sockaddr *sa, char *dst, size_t len);
/* Parse "host:port", "[v6]:port" or ":port"/"port"; host may be empty. */
int netaddr_split_hostport(const char *s, char **host_r, char **port_r);

#endif
