/*
 * anvil_stats.c - peak counts and rates of the anvil service between two
 * "statistics:" reports (anvil_stats.h).  The keys come from smtpd
 * processes (bounded: cut at ANVIL_KEY_MAX bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anvil_proto.h"
#include "anvil_stats.h"
#include "mem.h"

struct peak {
	unsigned value;
	time_t when;
	char key[ANVIL_KEY_MAX + 1];
};

struct anvil_stats {
	struct peak rate[ANVIL_EV_COUNT];
	struct peak count;
	size_t size;
	time_t size_when;
};

/* Postfix's names of the rates, in its order of reporting. */
static const char *const rate_name[ANVIL_EV_COUNT] = {
	[ANVIL_EV_CONN] = "connection",
	[ANVIL_EV_MAIL] = "message",
	[ANVIL_EV_RCPT] = "recipient",
	[ANVIL_EV_NEWTLS] = "newtls",
	[ANVIL_EV_AUTH] = "auth",
};

struct anvil_stats *
anvil_stats_new(void)
{
	return xcalloc(1, sizeof(struct anvil_stats));
}

void
anvil_stats_free(struct anvil_stats **st)
{
	free(*st);
	*st = NULL;
}

static void
note(struct peak *p, unsigned value, const char *key, time_t when)
{
	if (value <= p->value)
		return;
	p->value = value;
	p->when = when;
	snprintf(p->key, sizeof(p->key), "%s", key);
}

void
anvil_stats_rate(struct anvil_stats *st, enum anvil_event ev,
    unsigned value, const char *key, time_t when)
{
	if ((unsigned)ev < ANVIL_EV_COUNT)
		note(&st->rate[ev], value, key, when);
}

void
anvil_stats_count(struct anvil_stats *st, unsigned count, const char *key,
    time_t when)
{
	note(&st->count, count, key, when);
}

void
anvil_stats_size(struct anvil_stats *st, size_t size, time_t when)
{
	if (size > st->size) {
		st->size = size;
		st->size_when = when;
	}
}

/* "Nov 29 10:03:43" (ctime's month, day and time) */
static const char *
stamp(time_t when, char *out, size_t len)
{
	struct tm tm;

	if (localtime_r(&when, &tm) == NULL ||
	    strftime(out, len, "%b %e %H:%M:%S", &tm) == 0)
		snprintf(out, len, "?");
	return out;
}

int
anvil_stats_report(struct anvil_stats *st, long long unit,
    void (*fn)(const char *line, void *arg), void *arg)
{
	/* Postfix: connection rate, connection count, then the others */
	static const enum anvil_event order[] = { ANVIL_EV_MAIL,
	    ANVIL_EV_RCPT, ANVIL_EV_NEWTLS, ANVIL_EV_AUTH };
	char line[ANVIL_KEY_MAX + 128], when[64];
	struct peak *p;
	size_t i;
	int n = 0;

	for (i = 0; i < 2 + sizeof(order) / sizeof(order[0]); i++) {
		p = i == 0 ? &st->rate[ANVIL_EV_CONN] : i == 1 ? &st->count :
		    &st->rate[order[i - 2]];
		if (p->value == 0)
			continue;
		if (i == 1)
			snprintf(line, sizeof(line), "statistics: max "
			    "connection count %u for (%s) at %s", p->value,
			    p->key, stamp(p->when, when, sizeof(when)));
		else
			snprintf(line, sizeof(line), "statistics: max %s rate "
			    "%u/%llds for (%s) at %s", rate_name[i == 0 ?
			    ANVIL_EV_CONN : order[i - 2]], p->value, unit,
			    p->key, stamp(p->when, when, sizeof(when)));
		p->value = 0;
		fn(line, arg);
		n++;
	}
	if (st->size > 0) {
		snprintf(line, sizeof(line), "statistics: max cache size %zu "
		    "at %s", st->size, stamp(st->size_when, when, sizeof(when)));
		st->size = 0;
		fn(line, arg);
		n++;
	}
	return n;
}
