/*
 * anvil_table.c - the anvil service's per-client table: a chained hash
 * of "SERVICE:ADDRESS" keys (sent by smtpd processes) with a session
 * count and fixed-window rates of connections, MAIL, RCPT, new TLS
 * sessions and AUTH.  Bounded: at most `max`
 * entries, keys of at most ANVIL_KEY_MAX bytes are the caller's check.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anvil_table.h"
#include "mem.h"

#define BUCKETS 4096

struct entry {
	struct entry *next;
	unsigned count;         /* sessions open now */
	unsigned rate[ANVIL_EV_COUNT];  /* events of each kind since start */
	time_t start;           /* start of the rate window */
	char key[];
};

struct anvil_table {
	struct entry *b[BUCKETS];
	size_t n, max;
	time_t unit;
};

static size_t
hash(const char *s)
{
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

struct anvil_table *
anvil_table_new(size_t max, time_t unit)
{
	struct anvil_table *t = xcalloc(1, sizeof(*t));

	t->max = max;
	t->unit = unit > 0 ? unit : 1;
	return t;
}

void
anvil_table_free(struct anvil_table **tp)
{
	struct anvil_table *t = *tp;
	struct entry *e, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < BUCKETS; i++)
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t);
	*tp = NULL;
}

static struct entry *
find(const struct anvil_table *t, const char *key)
{
	struct entry *e;

	for (e = t->b[hash(key)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static int
expired(const struct anvil_table *t, const struct entry *e, time_t now)
{
	return now - e->start >= t->unit || now < e->start;
}

/* key's entry, created (without sessions) when unknown, with its window
 * started afresh when the previous one ended; NULL when the table is
 * full. */
static struct entry *
get(struct anvil_table *t, const char *key, time_t now)
{
	struct entry *e = find(t, key);
	size_t len;

	if (e == NULL) {
		if (t->n >= t->max)
			anvil_table_expire(t, now);
		if (t->n >= t->max)
			return NULL;
		len = strlen(key);
		e = xcalloc(1, sizeof(*e) + len + 1);
		memcpy(e->key, key, len + 1);
		e->start = now;
		e->next = t->b[hash(key)];
		t->b[hash(key)] = e;
		t->n++;
	} else if (expired(t, e, now)) {
		/* a new window starts with this event, for every kind */
		e->start = now;
		memset(e->rate, 0, sizeof(e->rate));
	}
	return e;
}

int
anvil_table_connect(struct anvil_table *t, const char *key, time_t now,
    unsigned *count_r, unsigned *rate_r)
{
	struct entry *e = get(t, key, now);

	if (e == NULL)
		return -1;
	if (e->count < UINT_MAX)
		e->count++;
	if (e->rate[ANVIL_EV_CONN] < UINT_MAX)
		e->rate[ANVIL_EV_CONN]++;
	*count_r = e->count;
	*rate_r = e->rate[ANVIL_EV_CONN];
	return 0;
}

int
anvil_table_event(struct anvil_table *t, const char *key,
    enum anvil_event ev, time_t now, unsigned *count_r, unsigned *rate_r)
{
	struct entry *e;

	if ((unsigned)ev >= ANVIL_EV_COUNT || ev == ANVIL_EV_CONN)
		return -1;
	if ((e = get(t, key, now)) == NULL)
		return -1;
	if (e->rate[ev] < UINT_MAX)
		e->rate[ev]++;
	*count_r = e->count;
	*rate_r = e->rate[ev];
	return 0;
}

unsigned
anvil_table_rate(const struct anvil_table *t, const char *key,
    enum anvil_event ev, time_t now)
{
	const struct entry *e = find(t, key);

	if (e == NULL || (unsigned)ev >= ANVIL_EV_COUNT || expired(t, e, now))
		return 0;
	return e->rate[ev];
}

int
anvil_table_disconnect(struct anvil_table *t, const char *key)
{
	struct entry *e = find(t, key);

	if (e == NULL || e->count == 0)
		return -1;
	e->count--;
	return 0;
}

unsigned
anvil_table_count(const struct anvil_table *t, const char *key)
{
	const struct entry *e = find(t, key);

	return e != NULL ? e->count : 0;
}

void
anvil_table_expire(struct anvil_table *t, time_t now)
{
	struct entry **pp, *e;
	size_t i;

	for (i = 0; i < BUCKETS; i++)
		for (pp = &t->b[i]; (e = *pp) != NULL;) {
			if (e->count == 0 && expired(t, e, now)) {
				*pp = e->next;
				free(e);
				t->n--;
			} else
				pp = &e->next;
		}
}

size_t
anvil_table_size(const struct anvil_table *t)
{
	return t->n;
}
