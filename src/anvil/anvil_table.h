/*
 * anvil_table.h - per-client connection counts and rates (the state of
 * the anvil service; pure: no I/O, time passed in).
 *
 * A key is "SERVICE:ADDRESS" as smtpd sends it (untrusted only in the
 * sense that a compromised smtpd chooses it; bounded by ANVIL_KEY_MAX).
 * Each key has the number of sessions open now and the number of
 * connections within the current rate window, which starts at the first
 * connection after the previous window ended (Postfix anvil(8): a fixed
 * window of anvil_rate_time_unit per client).  Entries with no session
 * whose window has ended are dropped by anvil_table_expire(); the table
 * holds at most `max` entries.
 */
#ifndef TEMPEST_ANVIL_TABLE_H
#define TEMPEST_ANVIL_TABLE_H

#include <stddef.h>
#include <time.h>

struct anvil_table;

struct anvil_table *anvil_table_new(size_t max, time_t unit);
void anvil_table_free(struct anvil_table **t);
/* One more session of key at now.  0 with the session count and the
 * connection rate in this window (both including this one), or -1 when
 * the table is full even after dropping expired entries (nothing
 * counted). */
int anvil_table_connect(struct anvil_table *t, const char *key, time_t now,
    unsigned *count_r, unsigned *rate_r);
/* One session of key ended: 0, or -1 when key has no open session. */
int anvil_table_disconnect(struct anvil_table *t, const char *key);
/* Open sessions of key now (0 when unknown). */
unsigned anvil_table_count(const struct anvil_table *t, const char *key);
/* Drop the entries without sessions whose rate window ended by now. */
void anvil_table_expire(struct anvil_table *t, time_t now);
/* Entries held. */
size_t anvil_table_size(const struct anvil_table *t);

#endif
