/*
 * imap_date.c - date parsing and formatting for APPEND, SEARCH and
 * INTERNALDATE.
 *
 * Untrusted bytes: date strings from the client and from message headers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_date.h"

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int
month_num(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, months[i], 3) == 0)
			return i;
	return -1;
}

static int
read_int(const char **pp, int mindig, int maxdig, int *r)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (isdigit((unsigned char)*p) && n < maxdig) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n < mindig)
		return -1;
	*r = v;
	*pp = p;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m];
}

static int
make_time(int y, int mon, int d, int hh, int mm, int ss, int tzsec, time_t *r)
{
	struct tm tm;

	if (y < 1900 || y > 9999 || mon < 0 || mon > 11 || d < 1 ||
	    d > days_in_month(y, mon) || hh > 23 || mm > 59 || ss > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*r = timegm(&tm) - tzsec;
	return 0;
}

int
imap_date_parse(const char *s, time_t *r)
{
	int d, y, mon;

	if (read_int(&s, 1, 2, &d) < 0 || *s++ != '-')
		return -1;
	if ((mon = month_num(s)) < 0 || strlen(s) < 4)
		return -1;
	s += 3;
	if (*s++ != '-' || read_int(&s, 4, 4, &y) < 0 || *s != '\0')
		return -1;
	return make_time(y, mon, d, 0, 0, 0, 0, r);
}

int
imap_datetime_parse(const char *s, time_t *r)
{
	int d, y, mon, hh, mm, ss, tz, sign;

	if (*s == ' ')
		s++;
	if (read_int(&s, 1, 2, &d) < 0 || *s++ != '-')
		return -1;
	if (strlen(s) < 4 || (mon = month_num(s)) < 0)
		return -1;
	s += 3;
	if (*s++ != '-' || read_int(&s, 4, 4, &y) < 0 || *s++ != ' ' ||
	    read_int(&s, 2, 2, &hh) < 0 || *s++ != ':' ||
	    read_int(&s, 2, 2, &mm) < 0 || *s++ != ':' ||
	    read_int(&s, 2, 2, &ss) < 0 || *s++ != ' ')
		return -1;
	if (*s != '+' && *s != '-')
		return -1;
	sign = *s++ == '-' ? -1 : 1;
	if (read_int(&s, 4, 4, &tz) < 0 || *s != '\0' || tz % 100 > 59)
		return -1;
	return make_time(y, mon, d, hh, mm, ss,
	    sign * ((tz / 100) * 3600 + (tz % 100) * 60), r);
}

void
imap_datetime_format(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}

int
imap_rfc822_date_parse(const char *s, time_t *r)
{
	int d, y, mon, hh = 0, mm = 0, ss = 0, tz = 0, sign = 1;

	while (*s == ' ' || *s == '\t')
		s++;
	if (isalpha((unsigned char)*s)) {     /* day of week */
		while (isalpha((unsigned char)*s))
			s++;
		if (*s == ',')
			s++;
		while (*s == ' ')
			s++;
	}
	if (read_int(&s, 1, 2, &d) < 0)
		return -1;
	while (*s == ' ')
		s++;
	if (strlen(s) < 3 || (mon = month_num(s)) < 0)
		return -1;
	s += 3;
	while (*s == ' ')
		s++;
	if (read_int(&s, 2, 4, &y) < 0)
		return -1;
	if (y < 50)
		y += 2000;
	else if (y < 1000)
		y += 1900;
	while (*s == ' ')
		s++;
	if (read_int(&s, 1, 2, &hh) == 0) {
		if (*s++ != ':' || read_int(&s, 2, 2, &mm) < 0)
			return -1;
		if (*s == ':') {
			s++;
			if (read_int(&s, 2, 2, &ss) < 0)
				return -1;
		}
		while (*s == ' ')
			s++;
		if (*s == '+' || *s == '-') {
			sign = *s++ == '-' ? -1 : 1;
			if (read_int(&s, 4, 4, &tz) < 0)
				tz = 0;
		}
	}
	return make_time(y, mon, d, hh, mm, ss,
	    sign * ((tz / 100) * 3600 + (tz % 100) * 60), r);
}
