/*
 * report.c - X-Spam-* headers (amavisd-new or SpamAssassin form) and the
 * text report of `tempest spamc`.  Input: a scan result (rule names and
 * descriptions come from trusted rule files).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail_header.h"
#include "report.h"

void
report_num(char *dst, size_t len, double v)
{
	char *p;

	/* what would print as "-0.000" (-0.0 included) prints as 0 */
	if (v > -0.0005 && v < 0.0005)
		v = 0.0;
	snprintf(dst, len, "%.3f", v);
	p = dst + strlen(dst);
	while (p > dst && p[-1] == '0')
		*--p = '\0';
	if (p > dst && p[-1] == '.')
		*--p = '\0';
}

static void
level(struct buf *out, double score)
{
	int stars = score >= 1 ? (int)floor(score) : 0;

	if (stars > 64)
		stars = 64;
	(void)buf_appends(out, "X-Spam-Level: ");
	for (int i = 0; i < stars; i++)
		(void)buf_appendc(out, '*');
	(void)buf_appendc(out, '\n');
}

void
report_headers(struct buf *out, const struct spam_result *res,
    enum report_style style, double tag_level, double spam_level,
    const char *autolearn)
{
	int spam = res->score >= spam_level;
	char a[64], b[64], c[64];

	if (spam)
		(void)buf_appends(out, "X-Spam-Flag: YES\n");
	if (style == REPORT_AMAVIS) {
		report_num(a, sizeof(a), res->score);
		report_num(b, sizeof(b), tag_level);
		report_num(c, sizeof(c), spam_level);
		(void)buf_printf(out, "X-Spam-Status: %s, hits=%s tagged_above=%s required=%s tests=[",
		    spam ? "Yes" : "No", a, b, c);
		for (size_t i = 0; i < res->nhits; i++) {
			report_num(a, sizeof(a), res->hits[i].score);
			(void)buf_printf(out, "%s%s=%s", i ? ", " : "", res->hits[i].name, a);
		}
		(void)buf_appends(out, "]\n");
	} else {
		(void)buf_printf(out, "X-Spam-Status: %s, score=%.1f required=%.1f tests=",
		    spam ? "Yes" : "No", res->score, spam_level);
		for (size_t i = 0; i < res->nhits; i++)
			(void)buf_printf(out, "%s%s", i ? "," : "", res->hits[i].name);
		if (res->nhits == 0)
			(void)buf_appends(out, "none");
		(void)buf_printf(out, " autolearn=%s version=Tempest-0.1\n",
		    autolearn ? autolearn : "no");
	}
	level(out, res->score);
}

void
report_text(struct buf *out, const struct spam_result *res)
{
	(void)buf_printf(out, "Content analysis details:   (%.1f points, %.1f required)\n\n",
	    res->score, res->required);
	(void)buf_appends(out, " pts rule name              description\n"
	    "---- ---------------------- --------------------------------------------------\n");
	for (size_t i = 0; i < res->nhits; i++)
		(void)buf_printf(out, "%4.1f %-22s %s\n", res->hits[i].score,
		    res->hits[i].name, res->hits[i].describe);
	if (res->bayes >= 0)
		(void)buf_printf(out, "\nBayes probability: %.4f\n", res->bayes);
	if (res->lr >= 0)
		(void)buf_printf(out, "Logistic-regression probability: %.4f\n", res->lr);
}

int
report_is_own_header(const char *name)
{
	static const char *const h[] = {
		"X-Spam-Flag", "X-Spam-Status", "X-Spam-Level", "X-Spam-Score",
		"X-Spam-Report", "X-Spam-Checker-Version", "X-Quarantine-Id",
	};

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		if (strcasecmp(name, h[i]) == 0)
			return 1;
	return 0;
}

int
report_is_spam_header(const char *name)
{
	return strncasecmp(name, "X-Spam-", 7) == 0 ||
	    strcasecmp(name, "X-Quarantine-Id") == 0;
}

int
report_has_spam_header(const char *data, size_t len)
{
	size_t pos = 0;
	struct mail_field f;
	char name[64];

	if (len >= 5 && memcmp(data, "From ", 5) == 0) {
		const char *nl = memchr(data, '\n', len);
		pos = nl ? (size_t)(nl - data) + 1 : len;
	}
	data += pos;
	len -= pos;
	pos = 0;
	while (mail_header_next(data, len, &pos, &f)) {
		if (f.name_len == 0 || f.name_len >= sizeof(name))
			continue;
		memcpy(name, data + f.start, f.name_len);
		name[f.name_len] = '\0';
		if (report_is_spam_header(name))
			return 1;
	}
	return 0;
}
