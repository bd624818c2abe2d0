/*
 * uri.h - URI extraction and canonicalisation for `uri` rules and Bayes.
 *
 * Finds URIs in plain text (scheme://, www., mailto:, and obfuscated
 * forms such as hxxp:// or h t t p ://) and takes URIs from HTML
 * attributes.  Each is canonicalised: scheme and host lower case,
 * %-escapes in the host decoded, user@ part removed, numeric hosts
 * (dotted, decimal, hex) rewritten as dotted quads.  Input is untrusted
 * text; each URI is capped at URI_MAX bytes and the list at its max.
 */
#ifndef TEMPEST_URI_H
#define TEMPEST_URI_H

#include <stddef.h>
#include <stdint.h>

struct mime_stats;

/* A URI longer than this is cut to it and counted in
 * mime_stats.uri_truncated (SpamAssassin's MAX_URI_LENGTH) */
#define URI_MAX 8192

struct uri_list {
	char **v;
	size_t n;
	size_t max;
	/* the other forms SpamAssassin's uri rules also see (a URI as
	 * written, with its port, an address in text as mailto:), kept apart
	 * so the other users of the canonical list (Bayes) do not; NULL:
	 * into this list, after the canonical form */
	struct uri_list *also;
	/* per v[i], 1: a canonical form SpamAssassin's uri rules do not see
	 * (a URI written with another port than its scheme's own: they see
	 * it with the port, in the other forms); NULL: none */
	unsigned char *hide;
	/* Body-text URIs.  SpamAssassin's uri rules see a URI found in the
	 * text only when one of its forms has a domain with a known TLD, and
	 * also take "example.com/x" written without a scheme when its last
	 * label is a known TLD; both depend on the rule set's util_rb_tld
	 * list, so the parse keeps what the scan decides on.  text: the
	 * list is being fed a part's text (uri_extract_text numbers each
	 * URI it finds there: groups, cur); grp: per v[i] the number of the
	 * text URI that added it, 0 for one also found elsewhere (HTML),
	 * NULL when all are 0; sl: where the schemeless candidates go (as
	 * "http://" + the text; NULL: not looked for). */
	int text;
	/* SpamAssassin's reading (mime_limits.sa_text): a URI written in
	 * text runs on through bytes outside ASCII, as its pattern takes
	 * them ("www.example.edu.去查询。" is one URI, whose last label is
	 * then no TLD); in Tempest's own it ends at the first one */
	int sa;
	uint32_t groups, cur;
	uint32_t *grp;
	struct uri_list *sl;
	size_t cap;             /* elements allocated in v */
};

/* Add one URI as found (canonicalised, de-duplicated). */
void uri_add(struct uri_list *l, const char *s, size_t n, struct mime_stats *st);
/* An HTML attribute's URI without a scheme ("images/a.gif", "304704"),
 * as SpamAssassin's uri rules see it ("http://images/a.gif"): into the
 * other forms only (not a URI Bayes or the URI counts should see). */
void uri_add_relative(struct uri_list *l, const char *s, size_t n);
/* ref resolved against base as SpamAssassin's HTML parser does for a
 * <base href> (its target_uri(): RFC 2396bis, a reference with the base's
 * own scheme taken as relative; no base, "": as written, a www. or ftp.
 * authority given its scheme), malloc'ed. */
char *uri_resolve(const char *base, const char *ref);
/* The target a redirector_pattern found in a URI, as SpamAssassin takes
 * it: backslashes as slashes, %-escapes of printable characters decoded,
 * http:// before it when it has no scheme; then as uri_add(). */
void uri_add_target(struct uri_list *l, const char *s, size_t n);
/* Find URIs in text and add them. */
void uri_extract_text(struct uri_list *l, const char *s, size_t n,
    struct mime_stats *st);
/* A host name with bytes outside ASCII in its ASCII-compatible form
 * (IDNA, as SpamAssassin's idn_to_ascii() makes it with libidn2:
 * UTF-8, else ISO-8859-1 when its bytes are all Latin-1 letters; the
 * other full stops U+3002, U+FF0E, U+FF61, U+FE52 and U+2024 read as
 * '.'; NFC, nontransitional): host[0..*n) rewritten in place within cap
 * bytes.  1 rewritten, 0 left as it was (ASCII already, or no valid
 * IDN: what SpamAssassin then keeps, lower case; or libidn2, loaded at
 * the first call that needs it, cannot be loaded: logged once). */
int uri_idn_ascii(char *host, size_t *n, size_t cap);
/* The host part of a canonical URI, malloc'ed ("" if none). */
char *uri_host(const char *uri);
void uri_list_free(struct uri_list *l);

#endif
