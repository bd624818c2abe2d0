/*
 * msg_date.c - a message's Date: against its Received: times, as
 * SpamAssassin reads them (msg_date.h).  Input: untrusted header values;
 * a date is read from its first MSG_DATE_MAX bytes.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "mem.h"
#include "mime.h"
#include "msg_date.h"
#include "spam_jit.h"

#define MONTHS "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

enum {
	D_DMY, D_CTIME, D_DMY2, D_TIME, D_NUMZONE, D_NAMEZONE, D_RCVD,
	D_FETCH_LOCAL, D_FETCH_QMAIL, D_FETCHMAIL, D_COUNT
};
static const struct {
	const char *pat;
	uint32_t opts;
} pats[D_COUNT] = {
	[D_DMY] = { " (\\d+) " MONTHS " (\\d{4}) ", PCRE2_CASELESS },
	[D_CTIME] = { " " MONTHS " +(\\d+) \\d+:\\d+:\\d+ (\\d{4}) ", PCRE2_CASELESS },
	[D_DMY2] = { " (\\d+) " MONTHS " (\\d{2,3}) ", PCRE2_CASELESS },
	[D_TIME] = { " (\\d?\\d):(\\d\\d)(:(\\d\\d))? ", 0 },
	[D_NUMZONE] = { " ([-+]\\d{4}) ", 0 },
	[D_NAMEZONE] = { "\\b([A-Z]{2,4}(?:-DST)?)\\b", 0 },
	[D_RCVD] = { "(\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+)", 0 },
	[D_FETCH_LOCAL] = { "\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*\\b127\\.0\\.0\\.1\\b)", 0 },
	[D_FETCH_QMAIL] = { "qmail \\d+ invoked by uid \\d+", 0 },
	[D_FETCHMAIL] = { "\\bby localhost with \\w+ \\(fetchmail-[\\d.]+", 0 },
};
static pcre2_code *re[D_COUNT];
static pcre2_match_data *md;

/* The zones SpamAssassin knows by name; any other is -0000. */
static const struct {
	const char *name, *off;
} zones[] = {
	{ "UT", "+0000" }, { "UTC", "+0000" }, { "NDT", "-0230" }, { "AST", "-0400" },
	{ "ADT", "-0300" }, { "NST", "-0330" }, { "EST", "-0500" }, { "EDT", "-0400" },
	{ "CST", "-0600" }, { "CDT", "-0500" }, { "MST", "-0700" }, { "MDT", "-0600" },
	{ "PST", "-0800" }, { "PDT", "-0700" }, { "HST", "-1000" }, { "AKST", "-0900" },
	{ "AKDT", "-0800" }, { "HADT", "-0900" }, { "HAST", "-1000" }, { "GMT", "+0000" },
	{ "BST", "+0100" }, { "IST", "+0100" }, { "WET", "+0000" }, { "WEST", "+0100" },
	{ "CET", "+0100" }, { "CEST", "+0200" }, { "EET", "+0200" }, { "EEST", "+0300" },
	{ "MSK", "+0300" }, { "MSD", "+0400" }, { "MET", "+0100" }, { "MEZ", "+0100" },
	{ "MEST", "+0200" }, { "MESZ", "+0200" }, { "BRST", "-0200" }, { "BRT", "-0300" },
	{ "AEST", "+1000" }, { "AEDT", "+1100" }, { "ACST", "+0930" }, { "ACDT", "+1030" },
	{ "AWST", "+0800" }, { "NZST", "+1200" }, { "NZDT", "+1300" }, { "JST", "+0900" },
	{ "KST", "+0900" }, { "HKT", "+0800" }, { "SGT", "+0800" }, { "PHT", "+0800" },
	{ "IDT", "+0300" },
};

static int
find(int k, const char *s, size_t n)
{
	int err;
	PCRE2_SIZE off;

	if (re[k] == NULL) {
		re[k] = pcre2_compile((PCRE2_SPTR)pats[k].pat, PCRE2_ZERO_TERMINATED,
		    pats[k].opts, &err, &off, NULL);
		if (re[k] == NULL)
			abort();        /* a fixed pattern: a build error */
		spam_jit_fixed(re[k]);
	}
	if (md == NULL)
		md = pcre2_match_data_create(8, NULL);
	return pcre2_match(re[k], (PCRE2_SPTR)s, n, 0, 0, md, NULL) >= 0;
}

/* Group g of the last match (digits) as a number, at most 999999999,
 * or -1 when unset. */
static long
num(const char *s, int g)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	long v = 0;

	if (ov[2 * g] == PCRE2_UNSET)
		return -1;
	for (size_t i = ov[2 * g]; i < ov[2 * g + 1]; i++)
		v = v < 100000000 ? v * 10 + (s[i] - '0') : 999999999;
	return v;
}

static size_t
glen(int g)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

	return ov[2 * g] == PCRE2_UNSET ? 0 : ov[2 * g + 1] - ov[2 * g];
}

/* Replace the last match by one blank (SpamAssassin's s/…/ /). */
static void
cut(struct buf *b)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	size_t s = ov[0], e = ov[1];

	b->data[s] = ' ';
	memmove(b->data + s + 1, b->data + e, b->len - e + 1);
	buf_truncate(b, b->len - (e - s) + 1);
}

static int
month(const char *s, int g)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

	for (int i = 0; i < 12; i++)
		if (strncasecmp(s + ov[2 * g], names + 3 * i, 3) == 0)
			return i + 1;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
msg_date_parse(const char *s, size_t n, int64_t *t)
{
	struct buf b;
	long yyyy, mon, dd, hh = 0, mm = 0, ss = 0, maxd;
	char tz[8] = "-0000";
	int64_t time;
	int rc = -1;

	if (n > MSG_DATE_MAX)
		n = MSG_DATE_MAX;
	/* " date ", ", *" as one blank, white space runs as one blank */
	buf_init(&b, 2 * MSG_DATE_MAX + 8);
	(void)buf_appendc(&b, ' ');
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == ',') {
			while (i + 1 < n && s[i + 1] == ' ')
				i++;
			c = ' ';
		}
		if (isspace((unsigned char)c) || c == '\0')
			c = ' ';
		if (c == ' ' && b.len > 0 && b.data[b.len - 1] == ' ')
			continue;
		(void)buf_appendc(&b, c);
	}
	if (b.data[b.len - 1] != ' ')
		(void)buf_appendc(&b, ' ');

	if (find(D_DMY, b.data, b.len)) {
		dd = num(b.data, 1), mon = month(b.data, 2), yyyy = num(b.data, 3);
	} else if (find(D_CTIME, b.data, b.len)) {
		dd = num(b.data, 2), mon = month(b.data, 1), yyyy = num(b.data, 3);
	} else if (find(D_DMY2, b.data, b.len)) {
		dd = num(b.data, 1), mon = month(b.data, 2), yyyy = num(b.data, 3);
		if (glen(3) == 2 && yyyy < 50)
			yyyy += 2000;
		else
			yyyy += 1900;
	} else {
		goto out;
	}
	cut(&b);
	if (find(D_TIME, b.data, b.len)) {
		hh = num(b.data, 1), mm = num(b.data, 2), ss = num(b.data, 4);
		if (ss < 0)
			ss = 0;
		cut(&b);
	}
	if (find(D_NUMZONE, b.data, b.len)) {
		memcpy(tz, b.data + pcre2_get_ovector_pointer(md)[2], 5);
	} else if (find(D_NAMEZONE, b.data, b.len)) {
		for (size_t i = 0; i < NELEM(zones); i++)
			if (strlen(zones[i].name) == glen(1) &&
			    strncmp(zones[i].name, b.data + pcre2_get_ovector_pointer(md)[2],
			    glen(1)) == 0)
				memcpy(tz, zones[i].off, 6);
	}
	/* out-of-range fields moved into range, as SpamAssassin does */
	if (ss > 59)
		ss = 59;
	if (mm > 59)
		mm = 59;
	if (hh > 23)
		hh = 23;
	maxd = mon == 4 || mon == 6 || mon == 9 || mon == 11 ? 30 :
	    mon == 2 ? (yyyy % 4 == 0 && (yyyy % 100 != 0 || yyyy % 400 == 0) ? 29 : 28) : 31;
	if (dd > maxd) {
		dd = 1;
		if (++mon > 12) {
			mon = 1;
			yyyy++;
		}
	}
	if (yyyy > 2037)
		yyyy = 2037;
	else if (yyyy < 1970)
		yyyy = 1970;
	if (dd < 1)             /* Time::Local refuses a day 0 */
		goto out;
	time = days_from_civil(yyyy, (int)mon, (int)dd) * 86400 + hh * 3600 + mm * 60 + ss;
	{
		int64_t off = ((tz[1] - '0') * 10 + (tz[2] - '0')) * 3600 +
		    ((tz[3] - '0') * 10 + (tz[4] - '0')) * 60;
		if (tz[0] == '-')
			time += off;
		else if (time < off)
			time = 0;
		else
			time -= off;
	}
	*t = time;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

#define RCVD_MAX 4096
char *
sa_unfold(const char *raw)
{
	struct buf b;

	buf_init(&b, RCVD_MAX + 1);
	mime_unfold(raw, strlen(raw), &b);
	return buf_steal(&b);
}

/* The Received: times, newest first, without the local lines a
 * fetchmail run adds at the top (SpamAssassin's
 * _get_received_header_times; its fetchmail time is not used here). */
static size_t
received_times(const struct mime_msg *m, int64_t **v_r)
{
	char **lines = NULL;
	size_t n = 0, first = 0, nt = 0;
	int64_t *v = NULL;

	for (size_t i = 0; i < m->nhdrs; i++) {
		const char *s = m->hdrs[i].value;
		if (strcasecmp(m->hdrs[i].name, "Received") != 0)
			continue;
		while (*s && isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		lines = xreallocarray(lines, n + 1, sizeof(*lines));
		lines[n++] = sa_unfold(m->hdrs[i].raw);
	}
	if (n > 0 && (find(D_FETCH_LOCAL, lines[0], strlen(lines[0])) ||
	    find(D_FETCH_QMAIL, lines[0], strlen(lines[0])))) {
		if (n > 1 && find(D_FETCHMAIL, lines[1], strlen(lines[1])))
			first = 2;
	} else if (n > 0 && find(D_FETCHMAIL, lines[0], strlen(lines[0]))) {
		first = 1;
	}
	for (size_t i = first; i < n; i++) {
		int64_t t;
		size_t len = strlen(lines[i]);
		if (!find(D_RCVD, lines[i], len))
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (msg_date_parse(lines[i] + ov[2], ov[3] - ov[2], &t) == 0) {
			v = xreallocarray(v, nt + 1, sizeof(*v));
			v[nt++] = t;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	*v_r = v;
	return nt;
}

int64_t
msg_date_diff(const struct mime_msg *m)
{
	static const char *const hdrs[] = { "Resent-Date", "Date" };
	int64_t date = 0, best, *v;
	int have = 0;
	size_t n;

	for (size_t h = 0; h < NELEM(hdrs) && !have; h++)
		for (size_t i = 0; i < m->nhdrs && !have; i++)
			if (strcasecmp(m->hdrs[i].name, hdrs[h]) == 0 &&
			    m->hdrs[i].value[0] != '\0' &&
			    msg_date_parse(m->hdrs[i].value, strlen(m->hdrs[i].value), &date) == 0)
				have = 1;
	if (!have)
		return 0;
	n = received_times(m, &v);
	if (n == 0)
		return 0;
	/* the oldest Received: with no difference is passed over */
	if (n > 1 && date - v[n - 1] == 0)
		n--;
	best = date - v[0];
	for (size_t i = 1; i < n; i++)
		if (llabs(date - v[i]) < llabs(best))
			best = date - v[i];
	free(v);
	return best;
}
