/* test-anvil-stats.c - the peaks of the anvil service's "statistics:"
 * lines: which values are kept, the lines' words (Postfix's), and the
 * reset after a report. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anvil_stats.h"
#include "test.h"

static char lines[8][400];
static int nlines;

static void
collect(const char *line, void *arg)
{
	(void)arg;
	if (nlines < 8)
		snprintf(lines[nlines++], sizeof(lines[0]), "%s", line);
}

static int
report(struct anvil_stats *st, long long unit)
{
	nlines = 0;
	return anvil_stats_report(st, unit, collect, NULL);
}

static void
test_peaks_and_words(void)
{
	struct anvil_stats *st = anvil_stats_new();
	/* 2026-11-29 10:03:43 UTC */
	time_t t0 = 1795946623;

	T_INTEQ(report(st, 60), 0);     /* nothing seen: nothing logged */
	anvil_stats_rate(st, ANVIL_EV_CONN, 1, "smtp:192.0.2.1", t0);
	anvil_stats_rate(st, ANVIL_EV_CONN, 3, "smtp:192.0.2.2", t0 + 1);
	/* a lower value later does not replace the peak */
	anvil_stats_rate(st, ANVIL_EV_CONN, 2, "smtp:192.0.2.1", t0 + 2);
	anvil_stats_count(st, 2, "smtp:192.0.2.1", t0 + 3);
	anvil_stats_rate(st, ANVIL_EV_MAIL, 5, "smtp:192.0.2.3", t0);
	anvil_stats_rate(st, ANVIL_EV_RCPT, 9, "smtp:192.0.2.3", t0);
	anvil_stats_rate(st, ANVIL_EV_NEWTLS, 4, "smtps:192.0.2.4", t0);
	anvil_stats_rate(st, ANVIL_EV_AUTH, 7, "sub:192.0.2.5", t0);
	anvil_stats_size(st, 12, t0 + 4);
	anvil_stats_size(st, 3, t0 + 5);
	T_INTEQ(report(st, 60), 7);
	T_STREQ(lines[0], "statistics: max connection rate 3/60s for "
	    "(smtp:192.0.2.2) at Nov 29 10:03:44");
	T_STREQ(lines[1], "statistics: max connection count 2 for "
	    "(smtp:192.0.2.1) at Nov 29 10:03:46");
	T_STREQ(lines[2], "statistics: max message rate 5/60s for "
	    "(smtp:192.0.2.3) at Nov 29 10:03:43");
	T_STREQ(lines[3], "statistics: max recipient rate 9/60s for "
	    "(smtp:192.0.2.3) at Nov 29 10:03:43");
	T_STREQ(lines[4], "statistics: max newtls rate 4/60s for "
	    "(smtps:192.0.2.4) at Nov 29 10:03:43");
	T_STREQ(lines[5], "statistics: max auth rate 7/60s for "
	    "(sub:192.0.2.5) at Nov 29 10:03:43");
	T_STREQ(lines[6], "statistics: max cache size 12 at Nov 29 10:03:47");
	/* reported once: the next period starts from zero */
	T_INTEQ(report(st, 60), 0);
	anvil_stats_rate(st, ANVIL_EV_MAIL, 1, "smtp:192.0.2.9", t0 + 86400 * 3);
	T_INTEQ(report(st, 5), 1);
	/* ctime's day: padded with a space */
	T_STREQ(lines[0], "statistics: max message rate 1/5s for "
	    "(smtp:192.0.2.9) at Dec  2 10:03:43");
	anvil_stats_free(&st);
	T_OK(st == NULL);
}

static void
test_long_key_cut(void)
{
	struct anvil_stats *st = anvil_stats_new();
	char key[1000];

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	anvil_stats_count(st, 1, key, 0);
	T_INTEQ(report(st, 60), 1);
	T_OK(strlen(lines[0]) < 256 + 100);
	anvil_stats_free(&st);
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	T_RUN(test_peaks_and_words);
	T_RUN(test_long_key_cut);
	return t_done();
}
