/*
 * anvil_table.h - per-client connection counts and event rates (the
 * state of the anvil service; pure: no I/O, time passed in).
 *
 * A key is "SERVICE:ADDRESS" as smtpd sends it (untrusted only in the
 * sense that a compromised smtpd chooses it; bounded by ANVIL_KEY_MAX).
 * Each key has the number of sessions open now and, per kind of event
 * (connections, MAIL, RCPT, new TLS sessions, AUTH), the number within
 * the current rate window.  One window per key for all kinds: it starts
 * at the first event after the previous window ended, and every rate
 * starts again from zero then (Postfix anvil(8): a fixed window of
 * anvil_rate_time_unit per client).  Entries with no session whose
 * window has ended are dropped by anvil_table_expire(); the table holds
 * at most `max` entries.
 */
#ifndef TEMPEST_ANVIL_TABLE_H
#define TEMPEST_ANVIL_TABLE_H

#include <stddef.h>
#include <time.h>

struct anvil_table;

/* Kinds of events with a rate. */
enum anvil_event {
	ANVIL_EV_CONN,          /* connections (anvil_table_connect) */
	ANVIL_EV_MAIL,          /* MAIL FROM commands */
	ANVIL_EV_RCPT,          /* RCPT TO commands */
	ANVIL_EV_NEWTLS,        /* TLS handshakes that made a new session */
	ANVIL_EV_AUTH,          /* AUTH commands */
	ANVIL_EV_COUNT
};

struct anvil_table *anvil_table_new(size_t max, time_t unit);
void anvil_table_free(struct anvil_table **t);
/* One more session of key at now.  0 with the session count and the
 * connection rate in this window (both including this one), or -1 when
 * the table is full even after dropping expired entries (nothing
 * counted). */
int anvil_table_connect(struct anvil_table *t, const char *key, time_t now,
    unsigned *count_r, unsigned *rate_r);
/* One event of kind ev (not ANVIL_EV_CONN) of key at now: 0 with that
 * kind's rate in the key's window (this one included) and the sessions
 * open now, or -1 when the table is full even after dropping expired
 * entries (nothing counted).  An unknown key gets an entry without
 * sessions, kept until its window ends. */
int anvil_table_event(struct anvil_table *t, const char *key,
    enum anvil_event ev, time_t now, unsigned *count_r, unsigned *rate_r);
/* The rate of kind ev of key at now without counting anything: 0 when
 * the key is unknown or its window has ended. */
unsigned anvil_table_rate(const struct anvil_table *t, const char *key,
    enum anvil_event ev, time_t now);
/* One session of key ended: 0, or -1 when key has no open session. */
int anvil_table_disconnect(struct anvil_table *t, const char *key);
/* Open sessions of key now (0 when unknown). */
unsigned anvil_table_count(const struct anvil_table *t, const char *key);
/* Drop the entries without sessions whose rate window ended by now. */
void anvil_table_expire(struct anvil_table *t, time_t now);
/* Entries held. */
size_t anvil_table_size(const struct anvil_table *t);

#endif
