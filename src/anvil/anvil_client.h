/*
 * anvil_client.h - smtpd's side of the anvil service (private/anvil):
 * tell it about each client connection and disconnection and each MAIL,
 * RCPT, new TLS session and AUTH; learn how many sessions that client
 * address has open and how many of those events it caused in the current
 * anvil_rate_time_unit across all smtpd processes.  doc/anvil.md has the
 * protocol.
 *
 * Fail open (as Postfix's smtpd): when the service is not reachable or
 * does not answer within ANVIL_CLIENT_TIMEOUT_MS, the caller gets -1,
 * must not refuse the client, and the client logs one warning and leaves
 * the service alone for ANVIL_CLIENT_BACKOFF seconds (so an absent
 * service costs a connection nothing but the check of a clock).
 *
 * One blocking round trip on a UNIX socket per question (anvil answers
 * from memory, in microseconds; the bound only matters when anvil hangs);
 * the connection to anvil is kept for the process's life.  smtpd asks
 * only about what a limit is configured for.  The first question of a
 * process may wait up to ANVIL_CLIENT_START_TIMEOUT_MS: master starts
 * anvil together with the first smtpd processes (at start and reload),
 * and a client may connect before anvil has loaded its settings.
 */
#ifndef TEMPEST_ANVIL_CLIENT_H
#define TEMPEST_ANVIL_CLIENT_H

#define ANVIL_CLIENT_TIMEOUT_MS 250
#define ANVIL_CLIENT_START_TIMEOUT_MS 5000
#define ANVIL_CLIENT_BACKOFF 10

/* Socket path (as this process sees it, e.g. after a chroot); starts
 * afresh (no connection, no back-off). */
void anvil_client_init(const char *path);
/* A client of `service` at `addr` connected: 0 with its session count
 * and connection rate (this connection included) and a token for
 * anvil_client_disconnect(); -1 when anvil could not tell (fail open;
 * *token_r is 0 then). */
int anvil_client_connect(const char *service, const char *addr,
    unsigned *count_r, unsigned *rate_r, unsigned long *token_r);
/* An event of that client: type is ANVIL_MAIL, ANVIL_RCPT, ANVIL_NEWTLS,
 * ANVIL_AUTH (counted) or ANVIL_NEWTLS_STATUS (only asked).  0 with the
 * event's rate in the current window (this one included), -1 when anvil
 * could not tell (fail open). */
int anvil_client_event(int type, const char *service, const char *addr,
    unsigned *rate_r);
/* That client's session ended (token from anvil_client_connect; 0 is a
 * no-op, and so is a token of an anvil connection that has been lost
 * since: anvil forgot that connection's sessions already). */
void anvil_client_disconnect(const char *service, const char *addr,
    unsigned long token);

#endif
