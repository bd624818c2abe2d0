/*
 * html.h - HTML rendered to text for body rules and Bayes, with counts
 * of the obfuscation tricks spammers use (comments or empty tags inside
 * words, hidden text, letters as numeric entities, big fonts, image-only
 * mail).  The input is an untrusted HTML part (already transfer-decoded
 * and converted to UTF-8); the output is bounded by text->max.
 */
#ifndef TEMPEST_HTML_H
#define TEMPEST_HTML_H

#include <stddef.h>

#include "buf.h"

struct mime_stats;
struct uri_list;

/* Render s[0..n) as text appended to `text`; add counts to *st and the
 * URIs of href/src/action attributes to uris (may be NULL). */
void html_render(const char *s, size_t n, struct buf *text,
    struct mime_stats *st, struct uri_list *uris);

#endif
