/*
 * smtpd_anvil.h - smtpd's per-client limits counted across all smtpd
 * processes by the anvil service (src/anvil, doc/anvil.md), with
 * Postfix's names, replies and log lines:
 *
 *   smtpd_client_connection_count_limit   421 4.7.0 at connect
 *   smtpd_client_connection_rate_limit    421 4.7.0 at connect
 *   smtpd_client_message_rate_limit       450 4.7.1 to MAIL
 *   smtpd_client_recipient_rate_limit     450 4.7.1 to RCPT
 *   smtpd_client_new_tls_session_rate_limit
 *                                         454 4.7.0 to STARTTLS, no
 *                                         handshake for SMTPS, 421 4.7.0
 *                                         after a new TLS session
 *   smtpd_client_auth_rate_limit          450 4.7.1 to AUTH
 *
 * Clients in smtpd_client_event_limit_exceptions are not counted.  A
 * limit of 0 (the default of all rates) costs nothing: the callers test
 * smtpd_anvil_limits first, and anvil is asked only about configured
 * limits.  Without an answer from anvil the client is served (fail open).
 */
#ifndef TEMPEST_SMTPD_ANVIL_H
#define TEMPEST_SMTPD_ANVIL_H

struct session;

/* 0 = no limit.  Read once per process by smtpd_anvil_settings(). */
struct smtpd_anvil_limits {
	long long conn_count, conn_rate;
	long long mail, rcpt, newtls, auth;
};
extern struct smtpd_anvil_limits smtpd_anvil_limits;

/* Read the limits (with the other settings, before privileges drop). */
void smtpd_anvil_settings(void);
/* Where anvil listens, as this process sees it (after a chroot). */
void smtpd_anvil_open(const char *queue_dir);
/* A new session (before the greeting): 0 to serve it; -1 when it is over
 * a connection limit (421 queued) or, in SMTPS mode, over the new TLS
 * session rate (nothing sent: no handshake): the caller closes it. */
int smtpd_anvil_connect(struct session *s);
/* The session ends: anvil forgets it. */
void smtpd_anvil_disconnect(struct session *s);
/* Call only when the limit is set: 0 go on; -1 refused, reply queued
 * (MAIL, RCPT, AUTH: 450 4.7.1; STARTTLS: 454 4.7.0; the session goes on).
 * smtpd_anvil_newtls() after a handshake: -1 when that new session was
 * over the rate, 421 queued, the caller closes the session. */
int smtpd_anvil_mail(struct session *s);
int smtpd_anvil_rcpt(struct session *s);
int smtpd_anvil_starttls(struct session *s);
int smtpd_anvil_newtls(struct session *s);
int smtpd_anvil_auth(struct session *s);

#endif
