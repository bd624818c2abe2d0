/* relays.h - the relays a message passed through, read from its
 * Received: headers, in the form of SpamAssassin's X-Spam-Relays-*
 * pseudo-headers ("[ ip=… rdns=… helo=… by=… ident=… envfrom= intl=0
 * id=… auth= msa=0 ]" per relay, newest first), which some hundred of
 * its rules match on (RDNS_NONE, the HELO and dynamic-host tests).
 *
 * relay_parse() is a function of one header line alone: the line is cut
 * at RELAY_LINE_MAX bytes and every field at its buffer's size.  Its
 * patterns and match data are compiled once per process (not for use
 * from several threads). */
#ifndef TEMPEST_RELAYS_H
#define TEMPEST_RELAYS_H

#include <stddef.h>

#include "buf.h"

struct mime_msg;

#define RELAY_LINE_MAX 2048
#define RELAY_FIELD_MAX 256

struct relay {
	char ip[64];
	char rdns[RELAY_FIELD_MAX];
	char helo[RELAY_FIELD_MAX];
	char by[RELAY_FIELD_MAX];
	char ident[RELAY_FIELD_MAX];
	char envfrom[RELAY_FIELD_MAX];
	char id[RELAY_FIELD_MAX];
	char auth[RELAY_FIELD_MAX];     /* how the client authenticated, or "" */
	int no_rdns;            /* no name, and the MTA writes one when it
	                           finds one (SpamAssassin's no_reverse_dns) */
};

enum {
	RELAY_UNPARSEABLE = -1,
	RELAY_SKIP = 0,         /* no handover between hosts (local, BSMTP…) */
	RELAY_OK = 1,
	RELAY_FETCH = 2,        /* a POP3/IMAP fetch (fetchmail, getmail) */
};

/* One Received: value (unfolded or not) into *r; a RELAY_* value. */
int relay_parse(const char *line, size_t n, struct relay *r);

/* The relay in the pseudo-header form, appended to out. */
void relay_string(const struct relay *r, int internal, struct buf *out);

/* 1 when ip (as relay_parse leaves it) is loopback, private, link-local
 * or shared address space. */
int relay_ip_private(const char *ip);
/* 1 when ip (as relay_parse leaves it) is in net ("192.0.2.0/24",
 * "2001:db8::/32", an address alone). */
int relay_ip_in_net(const char *net, const char *ip);

/* The four pseudo-header values of a message.  Relays are trusted, and
 * internal, from the newest down as long as the connecting host is in
 * the trusted networks (SpamAssassin's trusted_networks; 127.0.0.0/8 and
 * ::1 always are) or authenticated; with no trusted networks (NULL) as
 * long as it has a private address or authenticated, which is how
 * SpamAssassin infers it.  A fetch marker inside the trusted part
 * starts over. */
struct relays {
	char *trusted, *untrusted, *internal, *external;
	/* the envelope sender the relays give, as SpamAssassin reads it for
	 * EnvelopeFrom: the newest untrusted relay's, with none the oldest
	 * trusted one's; "" when that one has none with an '@' (a null
	 * sender's "<>" included, which SpamAssassin would take as "") */
	char *envfrom;
	/* the relays themselves, newest first: v[0..ntrusted) the trusted
	 * ones, then the untrusted; at most RELAYS_KEPT are kept, the
	 * counts go on; and the Received: lines that did not parse */
	struct relay *v;
	size_t ntrusted, nuntrusted;
	unsigned nunparseable;
	/* the index (0 = the first from the top) of the last Received:
	 * line read while still trusted, and internal, whether it gave a
	 * relay or not; -1 none (SpamAssassin's last_trusted_relay_index
	 * and last_internal_relay_index, for its ALL-TRUSTED, ALL-INTERNAL,
	 * ALL-UNTRUSTED and ALL-EXTERNAL pseudo-headers) */
	int last_trusted, last_internal;
};
#define RELAYS_KEPT 64

struct netlist;
void relays_of_message(const struct mime_msg *m, const struct netlist *trusted,
    struct relays *out);
void relays_free(struct relays *rl);

/* EnvelopeFrom as SpamAssassin guesses it without an
 * envelope_sender_header, malloc'ed, or NULL when there is none: rl's
 * envfrom, else the first address with an '@' of X-Envelope-From,
 * Envelope-Sender or Return-Path while no Received: line precedes it
 * (X-Envelope-From below one: none at all); none when an X-Sender
 * address and a fetchmail Received: line say a fetcher may have guessed
 * it. */
char *relays_envelope_from(const struct mime_msg *m, const struct relays *rl);

#endif
