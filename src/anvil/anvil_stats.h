/*
 * anvil_stats.h - the anvil service's peak values between two reports
 * (pure: no I/O, times passed in), logged every anvil_status_update_time
 * and at exit in Postfix anvil(8)'s words:
 *
 *   statistics: max connection rate 3/60s for (smtp:192.0.2.1) at Nov 29 10:03:43
 *   statistics: max connection count 2 for (smtp:192.0.2.1) at Nov 29 10:03:40
 *   statistics: max message rate 5/60s for (...) at ...
 *   statistics: max recipient rate 9/60s ...   max newtls rate ...
 *   statistics: max auth rate 4/60s ...        max cache size 12 at ...
 *
 * A peak is reported once: a report resets what it logged.  Keys are
 * the "SERVICE:ADDRESS" strings of anvil_table.h (at most ANVIL_KEY_MAX
 * bytes; longer ones are cut).
 */
#ifndef TEMPEST_ANVIL_STATS_H
#define TEMPEST_ANVIL_STATS_H

#include <stddef.h>
#include <time.h>

#include "anvil_table.h"

struct anvil_stats;

struct anvil_stats *anvil_stats_new(void);
void anvil_stats_free(struct anvil_stats **st);
/* A rate of kind ev reached value for key at wall-clock time when. */
void anvil_stats_rate(struct anvil_stats *st, enum anvil_event ev,
    unsigned value, const char *key, time_t when);
/* key had count sessions open at when. */
void anvil_stats_count(struct anvil_stats *st, unsigned count,
    const char *key, time_t when);
/* The table held size entries at when. */
void anvil_stats_size(struct anvil_stats *st, size_t size, time_t when);
/* Call fn with each "statistics: ..." line (peaks above zero since the
 * last report, in Postfix's order; times in local time) and reset them.
 * unit is anvil_rate_time_unit in seconds.  Returns the number of lines. */
int anvil_stats_report(struct anvil_stats *st, long long unit,
    void (*fn)(const char *line, void *arg), void *arg);

#endif
