/*
 * report.h - the X-Spam-* header block and the human-readable report.
 *
 * amavisd-new form (default), one unfolded line per header:
 *   X-Spam-Flag: YES                       (only when spam)
 *   X-Spam-Status: Yes|No, hits=6.069 tagged_above=3 required=6.3 tests=[A=1, B=-0.001]
 *   X-Spam-Level: ******                   (one * per whole point, at most 64)
 * Numbers are printed with 3 decimals and trailing zeros removed, tests
 * sorted by name.  SpamAssassin form (option):
 *   X-Spam-Flag: YES
 *   X-Spam-Status: Yes, score=6.1 required=6.3 tests=A,B autolearn=no version=Tempest-0.1
 *   X-Spam-Level: ******
 */
#ifndef TEMPEST_REPORT_H
#define TEMPEST_REPORT_H

#include "buf.h"
#include "rules.h"

enum report_style { REPORT_AMAVIS, REPORT_SPAMASSASSIN };

/* "%.3f" without trailing zeros ("6.069", "3", "-0.001", "0"). */
void report_num(char *dst, size_t len, double v);
/* Append the header block (lines ending in "\n") to out. */
void report_headers(struct buf *out, const struct spam_result *res,
    enum report_style style, double tag_level, double spam_level,
    const char *autolearn);
/* Append SpamAssassin's "Content analysis details" table to out. */
void report_text(struct buf *out, const struct spam_result *res);
/* 1 if name is one of the headers Tempest writes (X-Spam-Flag, -Status,
 * -Level, -Score, -Report, -Checker-Version, X-Quarantine-Id). */
int report_is_own_header(const char *name);
/* 1 if incoming mail must lose a header of this name before delivery:
 * any X-Spam-* (another filter's or a forger's verdict: X-Spam-Bar,
 * X-Spam-Tests, ...) and X-Quarantine-Id. */
int report_is_spam_header(const char *name);
/* The same for a name of n bytes (not NUL-terminated: a header block's
 * field name as mail_header_next() finds it). */
int report_is_spam_field(const char *name, size_t n);
/* 1 if the header block of data[0..len) (after a leading mbox "From "
 * line) has a header report_is_spam_header() names, however many
 * headers come before it.  Pure. */
int report_has_spam_header(const char *data, size_t len);

#endif
