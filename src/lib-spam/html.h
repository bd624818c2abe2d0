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

/* The texts SpamAssassin's html_text_match() looks at, as its HTML
 * parser (HTML::Parser) reports them: each comment as written ("<!--
 * … -->", and the "<!…>" that are no declaration), the text of each
 * <a> (entities decoded, "<img>\n" for an image in it), the text of each
 * <title>; and (for the FreeMail plugin's reply tests) each <a href>
 * that is a mailto: URI, as written.  In texts[HTML_TEXT_*], each entry a
 * NUL and its bytes. */
enum { HTML_TEXT_COMMENT, HTML_TEXT_ANCHOR, HTML_TEXT_TITLE, HTML_TEXT_MAILTO,
	HTML_TEXT_HREF, HTML_TEXT_N };
/* HTML_TEXT_HREF: each <a> again, with its link, for the tests of an
 * anchor's text against its href (check_https_http_mismatch,
 * check_https_ip_mismatch): "P:L:" (the HTML part's number, counted from
 * 1 in the message, and the length of the href), the href (entities
 * decoded, white space around it dropped; empty without one), then the
 * anchor text as in HTML_TEXT_ANCHOR. */

/* mime_stats.html_part_*: parts kept, and the tags balanced */
#define HTML_PARTS_KEPT 8
extern const char *const html_balance_tags[4];   /* body head center NULL */

/* Render s[0..n) as text appended to `text`; add counts to *st, the
 * URIs of href/src/action attributes to uris (may be NULL) and the
 * texts above to texts[HTML_TEXT_N] (may be NULL; an entry that does
 * not fit ends that list).  The text is Tempest's own: what a reader
 * sees, hidden text (display:none, text in the background's colour, a
 * tiny font) left out and images' alt text in; with as_sa, the text
 * SpamAssassin's renderer makes, hidden text in, alt text left out,
 * white space only at the tags it spaces (the counts of the text itself, its size and the words markup splits,
 * are of the text made). */
void html_render(const char *s, size_t n, struct buf *text,
    struct mime_stats *st, struct uri_list *uris, struct buf *texts, int as_sa);

#endif
