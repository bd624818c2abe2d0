/* test-anvil-table.c - counts, fixed rate windows (connections and the
 * other events, one window per key), expiry and the size bound of the
 * anvil service's table. */
#include <stdio.h>
#include "anvil_table.h"
#include "test.h"

static void
test_counts(void)
{
	struct anvil_table *t = anvil_table_new(100, 60);
	unsigned c = 0, r = 0;

	T_INTEQ(anvil_table_connect(t, "smtp:192.0.2.1", 1000, &c, &r), 0);
	T_INTEQ(c, 1); T_INTEQ(r, 1);
	T_INTEQ(anvil_table_connect(t, "smtp:192.0.2.1", 1001, &c, &r), 0);
	T_INTEQ(c, 2); T_INTEQ(r, 2);
	/* another address, and the same address on another service */
	T_INTEQ(anvil_table_connect(t, "smtp:192.0.2.2", 1001, &c, &r), 0);
	T_INTEQ(c, 1); T_INTEQ(r, 1);
	T_INTEQ(anvil_table_connect(t, "submission:192.0.2.1", 1001, &c, &r), 0);
	T_INTEQ(c, 1);
	T_INTEQ(anvil_table_count(t, "smtp:192.0.2.1"), 2);
	T_INTEQ(anvil_table_disconnect(t, "smtp:192.0.2.1"), 0);
	T_INTEQ(anvil_table_count(t, "smtp:192.0.2.1"), 1);
	/* the rate counts connections, not open sessions */
	T_INTEQ(anvil_table_connect(t, "smtp:192.0.2.1", 1002, &c, &r), 0);
	T_INTEQ(c, 2); T_INTEQ(r, 3);
	T_INTEQ(anvil_table_disconnect(t, "smtp:192.0.2.1"), 0);
	T_INTEQ(anvil_table_disconnect(t, "smtp:192.0.2.1"), 0);
	/* never below zero */
	T_INTEQ(anvil_table_disconnect(t, "smtp:192.0.2.1"), -1);
	T_INTEQ(anvil_table_disconnect(t, "smtp:unknown"), -1);
	T_INTEQ(anvil_table_count(t, "smtp:192.0.2.1"), 0);
	anvil_table_free(&t);
	T_OK(t == NULL);
}

static void
test_rate_window(void)
{
	struct anvil_table *t = anvil_table_new(100, 60);
	unsigned c = 0, r = 0;
	int i;

	for (i = 0; i < 5; i++) {
		T_INTEQ(anvil_table_connect(t, "k", 1000 + i * 10, &c, &r), 0);
		anvil_table_disconnect(t, "k");
	}
	T_INTEQ(r, 5);
	/* 1059 is still in the window that started at 1000 */
	T_INTEQ(anvil_table_connect(t, "k", 1059, &c, &r), 0);
	T_INTEQ(r, 6);
	anvil_table_disconnect(t, "k");
	/* 1060: a new window starts with this connection */
	T_INTEQ(anvil_table_connect(t, "k", 1060, &c, &r), 0);
	T_INTEQ(r, 1); T_INTEQ(c, 1);
	/* a clock that went back also starts a new window */
	T_INTEQ(anvil_table_connect(t, "k", 500, &c, &r), 0);
	T_INTEQ(r, 1); T_INTEQ(c, 2);
	anvil_table_free(&t);
}

static void
test_expire_and_bound(void)
{
	struct anvil_table *t = anvil_table_new(3, 60);
	unsigned c = 0, r = 0;

	T_INTEQ(anvil_table_connect(t, "a", 1000, &c, &r), 0);
	T_INTEQ(anvil_table_connect(t, "b", 1000, &c, &r), 0);
	T_INTEQ(anvil_table_connect(t, "c", 1030, &c, &r), 0);
	anvil_table_disconnect(t, "b");
	anvil_table_disconnect(t, "c");
	T_INTEQ(anvil_table_size(t), 3);
	/* full: nothing expired yet at 1050 */
	T_INTEQ(anvil_table_connect(t, "d", 1050, &c, &r), -1);
	T_INTEQ(anvil_table_count(t, "d"), 0);
	/* a known key is still counted when the table is full */
	T_INTEQ(anvil_table_connect(t, "a", 1050, &c, &r), 0);
	T_INTEQ(c, 2);
	/* at 1060 b's window ended and it has no session: dropped to make
	 * room; a keeps its sessions, c its window */
	T_INTEQ(anvil_table_connect(t, "d", 1060, &c, &r), 0);
	T_INTEQ(anvil_table_size(t), 3);
	T_INTEQ(anvil_table_count(t, "a"), 2);
	anvil_table_expire(t, 1200);
	T_INTEQ(anvil_table_size(t), 2);       /* a and d: sessions open */
	anvil_table_disconnect(t, "a");
	anvil_table_disconnect(t, "a");
	anvil_table_disconnect(t, "d");
	anvil_table_expire(t, 1200);
	T_INTEQ(anvil_table_size(t), 0);
	anvil_table_free(&t);
}

static void
test_many_keys(void)
{
	struct anvil_table *t = anvil_table_new(20000, 60);
	unsigned c = 0, r = 0;
	char key[64];
	int i, ok = 1;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "smtp:10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		if (anvil_table_connect(t, key, 1000, &c, &r) < 0 || c != 1)
			ok = 0;
	}
	T_OK(ok);
	T_INTEQ(anvil_table_size(t), 20000);
	T_INTEQ(anvil_table_count(t, "smtp:10.0.1.2"), 1);
	T_INTEQ(anvil_table_connect(t, "smtp:one-more", 1000, &c, &r), -1);
	anvil_table_free(&t);
}

static void
test_events(void)
{
	struct anvil_table *t = anvil_table_new(100, 60);
	unsigned c = 9, r = 0;
	int i;

	/* an event of an unknown key: an entry without sessions */
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_MAIL, 1000, &c, &r), 0);
	T_INTEQ(r, 1); T_INTEQ(c, 0);
	T_INTEQ(anvil_table_size(t), 1);
	for (i = 0; i < 4; i++)
		T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_MAIL, 1001 + i,
		    &c, &r), 0);
	T_INTEQ(r, 5);
	/* each kind has its own count, in the same window */
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_RCPT, 1010, &c, &r), 0);
	T_INTEQ(r, 1);
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_AUTH, 1010, &c, &r), 0);
	T_INTEQ(r, 1);
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_NEWTLS, 1010, &c, &r), 0);
	T_INTEQ(r, 1);
	T_INTEQ(anvil_table_connect(t, "smtp:a", 1020, &c, &r), 0);
	T_INTEQ(c, 1); T_INTEQ(r, 1);
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_MAIL, 1030, &c, &r), 0);
	T_INTEQ(r, 6); T_INTEQ(c, 1);
	/* asking does not count */
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_NEWTLS, 1040), 1);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_NEWTLS, 1040), 1);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_MAIL, 1059), 6);
	T_INTEQ(anvil_table_rate(t, "smtp:unknown", ANVIL_EV_MAIL, 1040), 0);
	/* the window of 1000 has ended at 1060: asking sees 0 ... */
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_MAIL, 1060), 0);
	/* ... and the next event starts a new one, for every kind */
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_RCPT, 1061, &c, &r), 0);
	T_INTEQ(r, 1);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_MAIL, 1061), 0);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_RCPT, 1061), 1);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_CONN, 1061), 0);
	/* the session survives the window */
	T_INTEQ(anvil_table_count(t, "smtp:a"), 1);
	/* connections are not events; unknown kinds are refused */
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_CONN, 1061, &c, &r), -1);
	T_INTEQ(anvil_table_event(t, "smtp:a", ANVIL_EV_COUNT, 1061, &c, &r), -1);
	T_INTEQ(anvil_table_rate(t, "smtp:a", ANVIL_EV_COUNT, 1061), 0);
	anvil_table_free(&t);
}

static void
test_event_entries_expire(void)
{
	struct anvil_table *t = anvil_table_new(2, 60);
	unsigned c = 0, r = 0;

	T_INTEQ(anvil_table_event(t, "a", ANVIL_EV_RCPT, 1000, &c, &r), 0);
	T_INTEQ(anvil_table_event(t, "b", ANVIL_EV_AUTH, 1010, &c, &r), 0);
	/* full, nothing expired: not counted */
	T_INTEQ(anvil_table_event(t, "c", ANVIL_EV_MAIL, 1020, &c, &r), -1);
	/* a's window ended (no sessions): it makes room */
	T_INTEQ(anvil_table_event(t, "c", ANVIL_EV_MAIL, 1060, &c, &r), 0);
	T_INTEQ(r, 1);
	T_INTEQ(anvil_table_rate(t, "a", ANVIL_EV_RCPT, 1060), 0);
	anvil_table_expire(t, 1070);
	T_INTEQ(anvil_table_size(t), 1);       /* c: its window runs */
	anvil_table_expire(t, 1120);
	T_INTEQ(anvil_table_size(t), 0);
	anvil_table_free(&t);
}

int
main(void)
{
	T_RUN(test_events);
	T_RUN(test_event_entries_expire);
	T_RUN(test_counts);
	T_RUN(test_rate_window);
	T_RUN(test_expire_and_bound);
	T_RUN(test_many_keys);
	return t_done();
}
