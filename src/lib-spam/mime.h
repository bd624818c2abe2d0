/*
 * mime.h - message analysis for the spam engine: a pure, bounded parser
 * of one RFC 5322 message (untrusted bytes from any sender on the
 * Internet) into what the rules and the Bayes tokenizer look at.
 *
 *  - headers, unfolded, with RFC 2047 encoded words decoded to UTF-8;
 *  - the MIME tree (flattened; its structure is lib-mail's mail_mime)
 *    with transfer decoding (base64, quoted-printable) and charset
 *    conversion to UTF-8 (iconv);
 *  - the "body" text (Subject + text parts, HTML rendered to text) and
 *    the "rawbody" text (decoded, HTML not rendered);
 *  - URIs from text and HTML, canonicalised (see uri.h);
 *  - counters of anomalies and obfuscation tricks (struct mime_stats).
 *
 * Limits (struct mime_limits) bound everything: bytes looked at, MIME
 * depth, number of parts, headers and URIs, and every decoded buffer.
 * Whatever is beyond a limit is ignored and counted in stats.truncated.
 * mime_parse() never fails: any byte string is a (possibly odd) message.
 */
#ifndef TEMPEST_MIME_H
#define TEMPEST_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "uri.h"

struct mime_limits {
	size_t max_size;        /* bytes of the message analysed */
	unsigned max_depth;     /* multipart / message nesting */
	unsigned max_parts;     /* MIME parts (leaves and containers) */
	unsigned max_headers;   /* headers kept per header block */
	size_t max_text;        /* bytes of body / rawbody text */
	unsigned max_uris;
	/* and one choice: 1 makes body (and all the rules measure of the
	 * text, and the URIs written in it) SpamAssassin's reading, for its
	 * rule set: each text part decoded as it decodes them
	 * (mime_to_utf8_sa()), HTML with hidden text in and images' alt
	 * text left out (html.h); Bayes then reads bayes_body, Tempest's own
	 * reading, so that a trained model hardly depends on the rule set
	 * (only the URIs written in hidden or alt text do) */
	int sa_text;
};

/* 512 KiB, depth 20, 200 parts, 500 headers, 1 MiB text, 500 URIs. */
extern const struct mime_limits mime_default_limits;

struct mime_header {
	char *name;             /* as written */
	char *raw;              /* value, folding kept, leading blanks removed */
	char *value;            /* unfolded, RFC 2047 decoded to UTF-8 */
	/* with lim.sa_text, a value with raw 8-bit bytes that are not all
	 * UTF-8 is read as SpamAssassin reads it (the whole value as
	 * Windows-1252), and a message's header value (of the message or
	 * one inside it) longer than SpamAssassin keeps is cut as it cuts
	 * it (8,192 bytes from after the ':'; raw too); then Tempest's own
	 * reading (UTF-8 where valid, each other byte Windows-1252, the
	 * whole value), which Bayes reads; else NULL */
	char *own_value;
	/* with lim.sa_text, when SpamAssassin's reading cut raw: the value
	 * as written, whole (its pristine header, which ALL:raw reads);
	 * else NULL */
	char *raw_whole;
};

/* h's value in Tempest's own reading (what a reader sees, what Bayes
 * reads): own_value where it differs, else value. */
static inline const char *
mime_header_own(const struct mime_header *h)
{
	return h->own_value != NULL ? h->own_value : h->value;
}

/* h's value as written, whole: raw_whole where the SpamAssassin reading
 * cut raw, else raw. */
static inline const char *
mime_header_raw_whole(const struct mime_header *h)
{
	return h->raw_whole != NULL ? h->raw_whole : h->raw;
}

struct mime_part {
	unsigned depth;         /* 0 = the message itself */
	char *ctype;            /* lower case "text/html" ("text/plain" default) */
	char *charset;          /* lower case, "" when absent */
	char *encoding;         /* lower case Content-Transfer-Encoding or "" */
	char *filename;         /* from Content-Disposition or name=, or "" */
	char *disposition;      /* lower case Content-Disposition token or "" */
	size_t decoded_len;     /* bytes after transfer decoding */
	size_t raw_len;         /* its body's bytes as sent (a leaf's) */
	int ascii_illegal;      /* a leaf's body as sent has NUL, CR or 8-bit
	                           bytes (SpamAssassin's MIMEEval looks for
	                           them in text/plain in US-ASCII) */
	/* a base64 GIF, PNG or JPEG image's size in pixels from its header
	 * (SpamAssassin's ImageInfo plugin; 0 when not read) */
	unsigned long img_w, img_h;
	/* a text part's rendered text: where it is in the parser's text
	 * (while parsing), and an HTML part's <img> */
	size_t text_off, text_len;
	int html_img;
	int is_text, is_html, is_attachment;
	/* its header block (parts[0]: the message's own, msg->hdrs) */
	struct mime_header *hdrs;
	size_t nhdrs;
};

/* mime_stats.html_part_tags[k][...] */
enum { HTML_SA_TAGS, HTML_SA_ELEMENTS, HTML_SA_CLOSED_EXTRA, HTML_SA_OBFUSCATION,
	HTML_SA_NAMES, HTML_SA_ELEMENT_NAMES };

/* SpamAssassin's parser's notes (its check_msg_parse_flags names) */
#define MIME_SA_HB_SEP          0x01    /* missing_head_body_separator */
#define MIME_SA_TRUNC_HEADER    0x02    /* truncated_header */
#define MIME_SA_MIME_HEADERS    0x04    /* missing_mime_headers */
#define MIME_SA_MIME_HB_SEP     0x08    /* missing_mime_head_body_separator */
#define MIME_SA_EPILOGUE        0x10    /* mime_epilogue_exists */

struct mime_stats {
	/* headers */
	unsigned hdr_bad_lines;         /* header lines without "name:" */
	unsigned hdr_8bit;              /* headers with raw 8-bit bytes */
	unsigned hdr_bad_2047;          /* malformed encoded words */
	unsigned hdr_2047;              /* encoded words decoded */
	unsigned hdr_long_lines;        /* physical header lines > 998 bytes */
	unsigned hdr_dup_single;        /* repeated From/To/Subject/Date/Message-ID... */
	/* MIME */
	unsigned parts, text_parts, html_parts, plain_parts, attachments;
	unsigned html_rendered;         /* parts read as HTML (type or name) */
	unsigned max_depth_seen;
	unsigned missing_boundary;      /* multipart without boundary= or end */
	unsigned bad_base64;            /* invalid base64 characters/length */
	unsigned bad_qp;                /* malformed quoted-printable */
	unsigned charset_unknown;       /* iconv could not open the charset */
	unsigned charset_bad_bytes;     /* invalid sequences replaced */
	unsigned mime_missing_version;  /* Content-Type without MIME-Version */
	unsigned base64_text;           /* text parts sent in base64 */
	unsigned truncated;             /* a limit was hit */
	unsigned parts_limit;           /* 1: parts past max_parts not read */
	/* SpamAssassin's BodyEval multipart_alternative_difference(): of
	 * the distinct words (white-space separated, with a word character)
	 * of each multipart/alternative's HTML, the percentage its text
	 * parts do not have as often, the most of any (0..100); for the
	 * last with words, their HTML and text words */
	double madiff;
	unsigned madiff_html, madiff_text;
	unsigned uri_truncated;         /* URIs over URI_MAX bytes, cut */
	unsigned sa_flags;              /* MIME_SA_*: what SpamAssassin's parser
	                                   notes on the message (its header
	                                   block, its multiparts and those
	                                   of attached messages) */
	/* quoted-printable parts' encoded lines (SpamAssassin's MIMEEval) */
	size_t qp_bytes;                /* their bytes */
	unsigned qp_excess;             /* characters encoded that need not be
	                                   (=3D and the like, not =20/=09
	                                   ending a line) */
	unsigned qp_long_lines;         /* over 78 characters */
	size_t base64_max_line;         /* longest encoded line of a base64
	                                   part (not application/ics), with
	                                   its line end */
	/* HTML (summed over HTML parts) */
	unsigned html_tags, html_bad_tags, html_images, html_comments;
	unsigned long html_image_area;  /* sum of width*height of <img> */
	unsigned html_font_big;         /* <font size=+3..7 / 5..7> */
	unsigned html_font_face_bad;    /* <font face> not a list of font names */
	unsigned html_font_low_contrast; /* text nearly the colour of its background */
	unsigned html_font_max_size;    /* largest font size, 3 (default) or more */
	unsigned html_embeds;           /* <object> and <embed> */
	unsigned html_font_invalid_color; /* text in a colour SpamAssassin cannot read */
	unsigned html_form_mailto;      /* <form action="mailto:..."> */
	unsigned html_hidden;           /* runs of words hidden by style or colour */
	unsigned html_obfuscated_words; /* comments or empty tags inside words */
	unsigned html_entity_letters;   /* letters written as &#NN; */
	unsigned html_links, html_forms, html_scripts;
	unsigned html_iframe_src;       /* <iframe src> with a non-blank value */
	size_t html_bytes;              /* raw HTML size */
	/* the first HTML_PARTS_KEPT HTML parts each: its length in
	 * characters, and its <body>, <head>, <center> start tags less end
	 * tags (never below 0; -1 for a tag it lacks) at its end (SpamAssassin's
	 * html_eval('length') and html_tag_balance()) */
	unsigned html_parts_kept;
	size_t html_part_len[8];
	int html_part_balance[8][3];
	/* and its rendered characters that are not white space (alt text
	 * left out), and the area of its <img> with width and height, a
	 * percentage of 800x600, 200 for a size not a number (SpamAssassin's
	 * html_image_ratio()) */
	size_t html_part_nonspace[8];
	unsigned long html_part_image_area[8];
	/* and SpamAssassin's counts for its html_range() ratios: tag events,
	 * those of HTML 4 elements, end tags with none of the name open,
	 * text runs going on a word, tag names, element names
	 * (HTML_SA_TAGS ...) */
	unsigned html_part_tags[8][6];
	char html_tag_names[256];       /* " name" for each tag name seen,
	                                   start or end tag, lower case, as
	                                   long as it fits (html_tag_exists) */
	size_t html_text_bytes;         /* rendered text size */
	/* URIs */
	unsigned uri_obfuscated;        /* hxxp, %-encoded host, user@host tricks */
	unsigned uri_numeric_host;      /* any numeric host: 1.2.3.4, 3232235777, 0xc0a80101 */
	unsigned uri_numeric_encoded;   /* numeric hosts not written as a plain
	                                   dotted quad: one number, hex or octal
	                                   parts, fewer than four parts */
};

/* What of one text part rules see (SpamAssassin's body_part_scan_size
 * for its rendered text, rawbody_part_scan_size for its decoded bytes);
 * a longer one is cut at a newline, a '>' (rawbody) or a space within 1
 * KiB past it, else there. */
#define BODY_PART_SCAN 50000
#define RAWBODY_PART_SCAN 500000

struct mime_msg {
	struct mime_header *hdrs;       /* top-level header block */
	size_t nhdrs;
	struct mime_part *parts;
	size_t nparts;
	struct buf body;                /* the Subject and a newline, then the
	                                   rendered text in paragraphs, each
	                                   but the last ending in a newline
	                                   (SpamAssassin's body text) */
	struct buf bayes_body;          /* with lim.sa_text: the same from
	                                   Tempest's own rendering (else
	                                   empty: body is that) */
	struct buf rawbody;             /* text parts as decoded (no charset
	                                   conversion), HTML as is, joined by
	                                   newlines; each at most
	                                   RAWBODY_PART_SCAN bytes */
	struct mime_span {              /* each part in it (up to max_parts) */
		size_t off, len;
	} *rawbody_parts;
	size_t nrawbody_parts;
	/* the message's URIs (uri.h): the canonical ones, unique, which
	 * Bayes and the URI counts read; the other forms uri rules also
	 * see; the schemeless ones of the body text, which a rule set with
	 * a TLD list sees.  Per list, hide marks a form uri rules do not
	 * see, grp the body-text URI that found each (uris.groups of them) */
	struct uri_list uris, uris_also, uris_sl;
	const char *full;               /* the analysed bytes (not owned) */
	size_t full_len;
	size_t body_offset;             /* offset of the top-level body in full */
	struct mime_stats st;
	struct mime_limits lim;
	/* the HTML parts' comments, anchor texts, titles, mailto: links and
	 * links with their anchor text (html.h HTML_TEXT_*; 64 KiB each) */
	struct buf html_texts[5];
	/* the labels of the first text/plain part's "label: value" lines,
	 * letters only, lower case, each after a NUL (SpamAssassin's
	 * check_stock_info reads them; 4 KiB) */
	struct buf labels;
};

/* Analyse data[0..len) (not copied: it must outlive msg->full use).
 * A leading mbox "From " line is skipped.  lim NULL = defaults. */
void mime_parse(struct mime_msg *msg, const char *data, size_t len,
    const struct mime_limits *lim);
void mime_free(struct mime_msg *msg);

/* The body text Bayes reads: Tempest's own rendering of the message. */
static inline const struct buf *
mime_bayes_body(const struct mime_msg *m)
{
	return m->lim.sa_text ? &m->bayes_body : &m->body;
}

/* The first header named `name` (case-insensitive) or NULL. */
const struct mime_header *mime_header_get(const struct mime_msg *msg,
    const char *name);
/* Count of headers named `name`. */
unsigned mime_header_count(const struct mime_msg *msg, const char *name);

/* Helpers shared with the rule engine and the tokenizer. */

/* The length of the white space at s[i] of UTF-8 text s[0..n) as
 * Perl's \s on characters sees it (a no-break space, U+2000-U+200A and
 * the like are blanks too), 0 if none. */
size_t mime_sa_space_at(const char *s, size_t i, size_t n);

/* Convert from charset to UTF-8 into out.  0 converted, -1 unknown
 * charset (bytes copied as is), 1 some invalid input (replaced by U+FFFD;
 * for no charset or US-ASCII, text that is not UTF-8 is read as
 * Windows-1252). */
int mime_to_utf8(const char *charset, const char *s, size_t n, struct buf *out);
/* The same as SpamAssassin reads a text part (Message::Node's _normalize
 * with normalize_charset on, its default, and without
 * Encode::Detect::Detector): bytes all ASCII or all valid UTF-8 as they
 * are, whatever the declared charset; else the declared charset when
 * every byte converts (ISO-8859-1 as Windows-1252, GB2312 strictly,
 * neither US-ASCII nor UTF-8 tried again); else the whole text as
 * Windows-1252 (U+FFFD for its five undefined bytes).  0, or 1 when it
 * came to that last reading. */
int mime_to_utf8_sa(const char *charset, const char *s, size_t n, struct buf *out);
/* s[0..n) is UTF-8 as RFC 3629 defines it (no overlong form, no
 * surrogate, nothing past U+10FFFF): Perl's strict decoder and
 * SpamAssassin's is_valid_utf_8() take it. */
int mime_utf8_valid(const unsigned char *s, size_t n);
/* base64 as SpamAssassin decodes a part (Util::base64_decode()): white
 * space removed; text of a length divisible by 4 and all of the
 * alphabet and '=' decoded as RFC 4648 says, a run of '=' inside read as
 * 'A's; any other text with every byte outside the alphabet and '='
 * dropped, the final '=' run too, the '='s left read as the digit 63,
 * a last lone digit dropped, and decoded on to its end (a footer a
 * mailing list appended after the padding included).  Appends what fits
 * to out. */
void mime_base64_sa(const char *s, size_t n, struct buf *out);
/* A header value unfolded as SpamAssassin's parser does (its header
 * rules see it so): a line end and the blanks after it one space, the
 * ends trimmed; appended to out. */
void mime_unfold(const char *s, size_t n, struct buf *out);
/* Decode RFC 2047 encoded words of a header value into UTF-8. */
void mime_decode_2047(const char *s, size_t n, struct buf *out,
    unsigned *decoded_r, unsigned *bad_r);
/* First address of an address header value (angle brackets removed,
 * lower case not applied), malloc'ed; "" if none. */
char *mime_addr(const char *value);
/* Display name of the first address, malloc'ed; "" if none. */
char *mime_addr_name(const char *value);

#endif
