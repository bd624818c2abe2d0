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
	/* a score past 1e15 (a rule scored 1e70) in exponent form: "%.3f"
	 * of it is longer than the callers' buffers, and cut it read as
	 * another number */
	if (!(fabs(v) < 1e15)) {
		snprintf(dst, len, "%g", v);
		return;
	}
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
	/* (compared before the conversion: past INT_MAX it overflowed) */
	int stars = score >= 64 ? 64 : score >= 1 ? (int)floor(score) : 0;

	(void)buf_appends(out, "X-Spam-Level: ");
	for (int i = 0; i < stars; i++)
		(void)buf_appendc(out, '*');
	(void)buf_appendc(out, '\n');
}

/* RFC 5322's limit of a line, without its CRLF */
#define LINE_MAX_BYTES 998

/* Append item after sep (", " or ","), folding before it when the line
 * (col bytes so far, then tail bytes after the item) would pass the
 * 998-byte limit: the list's usual form is one line. */
static void
append_item(struct buf *out, size_t *col, const char *sep, const char *item,
    size_t tail)
{
	size_t sl = strlen(sep), il = strlen(item);

	if (sl > 0 && *col + sl + il + tail > LINE_MAX_BYTES) {
		/* "A=1,\n B=2" unfolds to "A=1, B=2" */
		(void)buf_appendc(out, sep[0]);
		(void)buf_appends(out, sep[1] == ' ' ? "\n " : "\n\t");
		*col = 1;
	} else {
		(void)buf_appends(out, sep);
		*col += sl;
	}
	(void)buf_appends(out, item);
	*col += il;
}

void
report_headers(struct buf *out, const struct spam_result *res,
    enum report_style style, double tag_level, double spam_level,
    const char *autolearn)
{
	int spam = res->score >= spam_level;
	char a[64], b[64], c[64];
	size_t start, col, tail;
	struct buf item;

	if (spam)
		(void)buf_appends(out, "X-Spam-Flag: YES\n");
	buf_init(&item, BUF_UNLIMITED);
	start = out->len;
	if (style == REPORT_AMAVIS) {
		report_num(a, sizeof(a), res->score);
		report_num(b, sizeof(b), tag_level);
		report_num(c, sizeof(c), spam_level);
		(void)buf_printf(out, "X-Spam-Status: %s, hits=%s tagged_above=%s required=%s tests=[",
		    spam ? "Yes" : "No", a, b, c);
		col = out->len - start;
		for (size_t i = 0; i < res->nhits; i++) {
			report_num(a, sizeof(a), res->hits[i].score);
			buf_reset(&item);
			(void)buf_printf(&item, "%s=%s", res->hits[i].name, a);
			append_item(out, &col, i ? ", " : "", buf_cstr(&item),
			    i + 1 == res->nhits ? 1 : 0);
		}
		(void)buf_appends(out, "]\n");
	} else {
		(void)buf_printf(out, "X-Spam-Status: %s, score=%.1f required=%.1f tests=",
		    spam ? "Yes" : "No", res->score, spam_level);
		col = out->len - start;
		buf_reset(&item);
		(void)buf_printf(&item, " autolearn=%s version=Tempest-0.1",
		    autolearn ? autolearn : "no");
		tail = item.len;
		for (size_t i = 0; i < res->nhits; i++)
			append_item(out, &col, i ? "," : "", res->hits[i].name,
			    i + 1 == res->nhits ? tail : 0);
		if (res->nhits == 0)
			(void)buf_appends(out, "none");
		(void)buf_printf(out, " autolearn=%s version=Tempest-0.1\n",
		    autolearn ? autolearn : "no");
	}
	buf_free(&item);
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
report_is_spam_field(const char *name, size_t n)
{
	return (n >= 7 && strncasecmp(name, "X-Spam-", 7) == 0) ||
	    (n == 15 && strncasecmp(name, "X-Quarantine-Id", 15) == 0);
}

int
report_is_spam_header(const char *name)
{
	return report_is_spam_field(name, strlen(name));
}

int
report_has_spam_header(const char *data, size_t len)
{
	size_t pos = mail_mbox_from_len(data, len);
	struct mail_field f;

	/* the header block as spam_rewrite_text() reads it: to its empty
	 * line or to the first line that is no field */
	while (mail_header_next(data, len, &pos, &f) &&
	    !mail_field_is_body_line(data, &f))
		if (report_is_spam_field(data + f.start, f.name_len))
			return 1;
	return 0;
}
