/*
 * html_text.c - render an HTML part to text and count the tricks that
 * hide words from filters.  Input: one untrusted, decoded HTML part in
 * UTF-8.  A single linear pass; output bounded by text->max, attribute
 * and tag lengths bounded by the input itself.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html.h"
#include "mem.h"
#include "mime.h"
#include "str.h"
#include "uri.h"

struct attr {
	const char *n, *v;
	size_t nl, vl;
};

#define MAX_ATTRS 24
#define STACK_MAX 64            /* open elements tracked for colours */
#define CLASS_MAX 64            /* style sheet classes remembered */
#define COLOR_NONE (-1)         /* not known: never judged invisible */

static const char *const known_tags[] = {
	"a", "abbr", "address", "area", "article", "aside", "audio", "b",
	"base", "basefont", "bdi", "bdo", "big", "blink", "blockquote", "body",
	"br", "button", "caption", "center", "cite", "code", "col",
	"colgroup", "dd", "del", "dfn", "dir", "div", "dl", "dt", "em",
	"embed", "fieldset", "figcaption", "figure", "font", "footer", "form",
	"frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head",
	"header", "hr", "html", "i", "iframe", "img", "input", "ins", "kbd",
	"label", "legend", "li", "link", "main", "map", "mark", "marquee",
	"menu", "meta", "nav", "nobr", "noscript", "o:p", "object", "ol",
	"optgroup", "option", "p", "param", "pre", "q", "s", "samp", "script",
	"section", "select", "small", "source", "span", "strike", "strong",
	"style", "sub", "sup", "table", "tbody", "td", "textarea", "tfoot",
	"th", "thead", "title", "tr", "tt", "u", "ul", "var", "wbr", "xml",
};

/* Elements without content (never closed). */
static const char *const void_tags[] = {
	"area", "base", "basefont", "br", "col", "embed", "frame", "hr", "img",
	"input", "link", "meta", "param", "source", "wbr",
};

static const char *const block_tags[] = {
	"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
	"table", "blockquote", "hr", "ul", "ol", "dl", "dt", "dd", "pre",
	"title", "center", "form", "td", "th",
};

static int
in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

static const char *
attr_get(const struct attr *a, int na, const char *name, size_t *len_r)
{
	size_t nl = strlen(name);

	for (int i = 0; i < na; i++)
		if (a[i].nl == nl && strncasecmp(a[i].n, name, nl) == 0) {
			*len_r = a[i].vl;
			return a[i].v;
		}
	return NULL;
}

/* An attribute past the first MAX_ATTRS of a tag: kept in place of one
 * no element uses (or a repeated name, whose first value counts) when
 * an element uses it and the tag has none of that name yet. */
static void
attr_keep(struct attr *a, int na, const struct attr *t)
{
	/* the names attr_get() and font_size() look up */
	static const char *const used[] = {
		"action", "alink", "alt", "background", "bgcolor", "class", "color",
		"content", "data-saferedirecturl", "face", "height", "hidden", "href",
		"http-equiv", "link", "size", "src", "style", "text", "vlink", "width",
	};
	size_t len;
	int k = 0, j;

	while (k < (int)NELEM(used) && !(strlen(used[k]) == t->nl &&
	    strncasecmp(used[k], t->n, t->nl) == 0))
		k++;
	if (k == (int)NELEM(used) || attr_get(a, na, used[k], &len) != NULL)
		return;
	for (int i = 0; i < na; i++) {
		for (k = 0; k < (int)NELEM(used); k++)
			if (strlen(used[k]) == a[i].nl && strncasecmp(used[k], a[i].n, a[i].nl) == 0)
				break;
		for (j = 0; j < i; j++)
			if (a[j].nl == a[i].nl && strncasecmp(a[j].n, a[i].n, a[i].nl) == 0)
				break;
		if (k == (int)NELEM(used) || j < i) {
			a[i] = *t;
			return;
		}
	}
}

static int
font_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* One name of a font face list: an optional opening quote (or, first,
 * a dot), letters, blanks and hyphens beginning with a letter (or,
 * first, a blank) and ending with a letter, an optional digit, an
 * optional closing quote. */
static int
font_name_ok(const char *p, size_t n, int first)
{
	size_t i = 0;

	if (n > 0 && (p[0] == '"' || p[0] == '\'' || (first && p[0] == '.')))
		p++, n--;
	if (n > 0 && (p[n - 1] == '"' || p[n - 1] == '\''))
		n--;
	if (n > 0 && p[n - 1] >= '0' && p[n - 1] <= '9')
		n--;
	if (n < 2 || !(font_letter(p[0]) || (first && p[0] == ' ')) || !font_letter(p[n - 1]))
		return 0;
	for (i = 1; i + 1 < n; i++)
		if (!font_letter(p[i]) && p[i] != ' ' && p[i] != '-')
			return 0;
	return 1;
}

/* A <font face> that is not a list of font names (SpamAssassin's
 * HTML_FONT_FACE_BAD): names separated by commas, blanks after a comma
 * and before the first name, an optional ';' at the end. */
static int
font_face_bad(const char *v, size_t vl)
{
	size_t i = 0;
	int first = 1;

	if (vl > 0 && v[vl - 1] == ';')
		vl--;
	for (;;) {
		size_t start, end;
		while (i < vl && isspace((unsigned char)v[i]))
			i++;
		start = i;
		while (i < vl && v[i] != ',')
			i++;
		end = i;
		if (!font_name_ok(v + start, end - start, first))
			return 1;
		if (i == vl)
			return 0;
		i++;            /* the comma */
		first = 0;
	}
}

/* Whether v[0..vl) holds needle (lower case), ignoring case. */
static int
memmem_ci(const char *v, size_t vl, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= vl; i++)
		if (strncasecmp(v + i, needle, nl) == 0)
			return 1;
	return 0;
}

static unsigned long
attr_ulong(const char *v, size_t vl)
{
	unsigned long r = 0;
	for (size_t i = 0; i < vl && i < 6 && isdigit((unsigned char)v[i]); i++)
		r = r * 10 + (unsigned long)(v[i] - '0');
	return r;
}

static void
put_utf8(struct buf *out, unsigned long v)
{
	char u[4];

	if (v < 0x80) {
		u[0] = (char)v;
		(void)buf_append(out, u, 1);
	} else if (v < 0x800) {
		u[0] = (char)(0xc0 | (v >> 6));
		u[1] = (char)(0x80 | (v & 0x3f));
		(void)buf_append(out, u, 2);
	} else if (v < 0x10000) {
		u[0] = (char)(0xe0 | (v >> 12));
		u[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		u[2] = (char)(0x80 | (v & 0x3f));
		(void)buf_append(out, u, 3);
	} else {
		u[0] = (char)(0xf0 | (v >> 18));
		u[1] = (char)(0x80 | ((v >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((v >> 6) & 0x3f));
		u[3] = (char)(0x80 | (v & 0x3f));
		(void)buf_append(out, u, 4);
	}
}

/* HTML 4's Latin-1 entities, U+00A0 (nbsp) to U+00FF (yuml), in order. */
static const char *const latin1_ents[96] = {
	"nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect",
	"uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr",
	"deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot",
	"cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
	"Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil",
	"Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml",
	"ETH", "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times",
	"Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN", "szlig",
	"agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
	"egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml",
	"eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide",
	"oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
};

/* Decode one entity at s[0..n) (s[0] == '&'): appends to out, returns
 * bytes used (0 = not an entity).  *letter_r set if a numeric entity
 * encoded an ASCII letter or digit.  Named: the markup ones, HTML 4's
 * Latin-1 set and its common punctuation; a no-break space becomes a
 * space, soft hyphens, zero-width joiners and direction marks nothing
 * (they sit inside words to split them for filters). */
static size_t
entity(const char *s, size_t n, struct buf *out, int *letter_r)
{
	static const struct { const char *name; unsigned long cp; } ents[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
		{ "apos", '\'' }, { "nbsp", ' ' }, { "shy", 0 }, { "zwnj", 0 },
		{ "zwj", 0 }, { "lrm", 0 }, { "rlm", 0 },
		{ "OElig", 0x152 }, { "oelig", 0x153 }, { "Scaron", 0x160 },
		{ "scaron", 0x161 }, { "Yuml", 0x178 }, { "fnof", 0x192 },
		{ "circ", 0x2c6 }, { "tilde", 0x2dc }, { "ensp", ' ' },
		{ "emsp", ' ' }, { "thinsp", ' ' }, { "ndash", 0x2013 },
		{ "mdash", 0x2014 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
		{ "sbquo", 0x201a }, { "ldquo", 0x201c }, { "rdquo", 0x201d },
		{ "bdquo", 0x201e }, { "dagger", 0x2020 }, { "Dagger", 0x2021 },
		{ "bull", 0x2022 }, { "hellip", 0x2026 }, { "permil", 0x2030 },
		{ "prime", 0x2032 }, { "lsaquo", 0x2039 }, { "rsaquo", 0x203a },
		{ "euro", 0x20ac }, { "trade", 0x2122 }, { "larr", 0x2190 },
		{ "rarr", 0x2192 }, { "equiv", 0x2261 },
	};
	size_t i = 1, nl;

	*letter_r = 0;
	if (n > 2 && s[1] == '#') {
		unsigned long v = 0;
		int hex = (s[2] == 'x' || s[2] == 'X');
		size_t start;
		i = hex ? 3 : 2;
		start = i;
		while (i < n && i - start < 8 && (hex ? isxdigit((unsigned char)s[i]) :
		    isdigit((unsigned char)s[i]))) {
			v = v * (hex ? 16 : 10) + (unsigned long)(isdigit((unsigned char)s[i]) ?
			    s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
			i++;
		}
		if (i == start)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (v < 128 && isalnum((int)v))
			*letter_r = 1;
		if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			v = '?';
		put_utf8(out, v);
		return i;
	}
	while (i < n && i < 10 && isalnum((unsigned char)s[i]))
		i++;
	nl = i - 1;
	if (i < n && s[i] == ';')
		i++;
	for (size_t k = 0; k < NELEM(ents); k++)
		if (strlen(ents[k].name) == nl && strncmp(s + 1, ents[k].name, nl) == 0) {
			if (ents[k].cp != 0)
				put_utf8(out, ents[k].cp);
			return i;
		}
	for (size_t k = 1; k < NELEM(latin1_ents); k++)
		if (strlen(latin1_ents[k]) == nl && strncmp(s + 1, latin1_ents[k], nl) == 0) {
			put_utf8(out, 0xa0 + k);
			return i;
		}
	return 0;
}

/* Decode entities of an attribute value into out. */
static void
decode_attr(const char *v, size_t vl, struct buf *out)
{
	int letter;
	for (size_t i = 0; i < vl; i++) {
		size_t used;
		if (v[i] == '&' && (used = entity(v + i, vl - i, out, &letter)) > 0) {
			i += used - 1;
			continue;
		}
		(void)buf_appendc(out, v[i]);
	}
}

/* decode_attr() with the white space around the value dropped (as
 * SpamAssassin's canon_uri takes a link) */
static void
decode_attr_trim(const char *v, size_t vl, struct buf *out)
{
	size_t start = out->len, a, i = 0;

	/* the white space leading it (as written or as entities) first,
	 * so that it does not fill a capped out */
	while (i < vl) {
		struct buf tmp;
		int letter, blank;
		size_t used;
		if (isspace((unsigned char)v[i])) {
			i++;
			continue;
		}
		if (v[i] != '&')
			break;
		buf_init(&tmp, 16);
		used = entity(v + i, vl - i, &tmp, &letter);
		blank = used > 0;
		for (size_t k = 0; k < tmp.len && blank; k++)
			blank = isspace((unsigned char)tmp.data[k]);
		buf_free(&tmp);
		if (!blank)
			break;
		i += used;
	}
	v += i;
	vl -= i;
	decode_attr(v, vl, out);
	if (out->len == start)
		return;
	for (a = start; a < out->len && isspace((unsigned char)out->data[a]); a++)
		;
	memmove(out->data + start, out->data + a, out->len - a);
	buf_truncate(out, out->len - (a - start));
	while (out->len > start && isspace((unsigned char)out->data[out->len - 1]))
		buf_truncate(out, out->len - 1);
}

/* display:none, visibility:hidden, opacity:0 or a font too small to
 * read, in a style attribute (white space and case ignored). */
static int
style_hides(const char *v, size_t vl)
{
	char tmp[512];
	size_t k = 0;
	const char *o;

	for (size_t i = 0; i < vl && k < sizeof(tmp) - 1; i++)
		if (!isspace((unsigned char)v[i]))
			tmp[k++] = (char)tolower((unsigned char)v[i]);
	tmp[k] = '\0';
	if ((o = strstr(tmp, "opacity:0")) != NULL && o[9] != '.' &&
	    !isdigit((unsigned char)o[9]))
		return 1;
	return strstr(tmp, "display:none") != NULL ||
	    strstr(tmp, "visibility:hidden") != NULL ||
	    strstr(tmp, "font-size:0") != NULL ||
	    strstr(tmp, "font-size:1px") != NULL;
}

/* A colour value: "#rgb", "#rrggbb", "rrggbb" (old HTML), "rgb(r, g, b)"
 * or one of the common names; 0xRRGGBB, or COLOR_NONE when not
 * understood. */
static long
parse_color(const char *v, size_t vl)
{
	static const struct { const char *name; long rgb; } names[] = {
		{ "white", 0xffffff }, { "black", 0x000000 }, { "red", 0xff0000 },
		{ "green", 0x008000 }, { "blue", 0x0000ff }, { "yellow", 0xffff00 },
		{ "silver", 0xc0c0c0 }, { "gray", 0x808080 }, { "grey", 0x808080 },
		{ "navy", 0x000080 }, { "maroon", 0x800000 }, { "purple", 0x800080 },
		{ "teal", 0x008080 }, { "olive", 0x808000 }, { "lime", 0x00ff00 },
		{ "aqua", 0x00ffff }, { "cyan", 0x00ffff }, { "fuchsia", 0xff00ff },
		{ "magenta", 0xff00ff }, { "orange", 0xffa500 },
		{ "whitesmoke", 0xf5f5f5 }, { "snow", 0xfffafa },
	};
	size_t n = 0;
	long rgb = 0;

	while (vl > 0 && (*v == '"' || *v == '\'' || isspace((unsigned char)*v))) {
		v++;
		vl--;
	}
	if (vl > 0 && *v == '#') {
		v++;
		vl--;
	}
	if (vl > 4 && strncasecmp(v, "rgb(", 4) == 0) {
		size_t i = 4;
		for (int k = 0; k < 3; k++) {
			unsigned long c = 0;
			while (i < vl && (isspace((unsigned char)v[i]) || (k > 0 && v[i] == ',')))
				i++;
			if (i >= vl || !isdigit((unsigned char)v[i]))
				return COLOR_NONE;
			while (i < vl && isdigit((unsigned char)v[i]) && c < 1000)
				c = c * 10 + (unsigned long)(v[i++] - '0');
			rgb = rgb * 256 + (long)(c > 255 ? 255 : c);
		}
		return rgb;
	}
	while (n < vl && isalnum((unsigned char)v[n]))
		n++;
	if (n == 6 || n == 3) {
		size_t k;
		for (k = 0; k < n && str_hexval((unsigned char)v[k]) >= 0; k++)
			rgb = rgb * (n == 3 ? 256 : 16) +
			    str_hexval((unsigned char)v[k]) * (n == 3 ? 17 : 1);
		if (k == n)
			return rgb;
	}
	for (size_t k = 0; k < NELEM(names); k++)
		if (strlen(names[k].name) == n && strncasecmp(v, names[k].name, n) == 0)
			return names[k].rgb;
	return COLOR_NONE;
}

/* The colour after "prop:" in a style attribute (the first such
 * declaration); COLOR_NONE when absent or not understood.  A
 * background image makes the background unknown (*image_r). */
/* The value of property prop in a style attribute (a whole property
 * name, not the tail of another one), up to its ';': *len_r bytes, or
 * NULL when absent. */
static const char *
style_prop(const char *v, size_t vl, const char *prop, size_t *len_r)
{
	size_t pl = strlen(prop);

	for (size_t i = 0; i + pl < vl; i++) {
		if (strncasecmp(v + i, prop, pl) != 0)
			continue;
		if (i > 0 && (isalnum((unsigned char)v[i - 1]) || v[i - 1] == '-'))
			continue;
		size_t j = i + pl, e;
		while (j < vl && isspace((unsigned char)v[j]))
			j++;
		if (j >= vl || v[j] != ':')
			continue;
		j++;
		while (j < vl && isspace((unsigned char)v[j]))
			j++;
		for (e = j; e < vl && v[e] != ';'; e++)
			;
		*len_r = e - j;
		return v + j;
	}
	return NULL;
}

static long
style_color(const char *v, size_t vl, const char *prop, int *image_r)
{
	size_t n;
	const char *p = style_prop(v, vl, prop, &n);

	if (p == NULL)
		return COLOR_NONE;
	if (image_r != NULL && n >= 4 && strncasecmp(p, "url(", 4) == 0)
		*image_r = 1;
	return parse_color(p, n);
}

/* What a style (an inline `style` attribute or a style sheet rule's
 * declarations) does to its element's content. */
struct style {
	long fg, bg;            /* COLOR_NONE: not set */
	int hide;               /* display:none and the like */
	int bg_unknown;         /* a background image */
};

static void
parse_style(const char *v, size_t vl, struct style *st)
{
	int image = 0;

	st->hide = style_hides(v, vl);
	st->fg = style_color(v, vl, "color", NULL);
	st->bg = style_color(v, vl, "background-color", &image);
	if (st->bg == COLOR_NONE)
		st->bg = style_color(v, vl, "background", &image);
	(void)style_color(v, vl, "background-image", &image);
	st->bg_unknown = image;
}

static int
style_sets(const struct style *st)
{
	return st->hide || st->fg != COLOR_NONE || st->bg != COLOR_NONE ||
	    st->bg_unknown;
}

/* Text of colour fg on background bg is invisible when the two are
 * (nearly) the same: the "redmean" colour distance under 32 (#f8f8f8
 * on white is at 21, #f0f0f0 at 45). */
static int
invisible(long fg, long bg)
{
	if (fg == COLOR_NONE || bg == COLOR_NONE)
		return 0;
	long r1 = (fg >> 16) & 0xff, g1 = (fg >> 8) & 0xff, b1 = fg & 0xff;
	long r2 = (bg >> 16) & 0xff, g2 = (bg >> 8) & 0xff, b2 = bg & 0xff;
	long rm = (r1 + r2) / 2, dr = r1 - r2, dg = g1 - g2, db = b1 - b2;
	long d2 = (((512 + rm) * dr * dr) >> 8) + 4 * dg * dg +
	    (((767 - rm) * db * db) >> 8);
	return d2 < 32 * 32;
}

/* SpamAssassin's measure of text hard to read (HTML_FONT_LOW_CONTRAST):
 * the colour distance weighted by each channel's share of brightness
 * (0.2126 red, 0.7152 green, 0.0722 blue) under 12, out of 191 at
 * most; stricter than invisible() above, and taken against the
 * text colour and background SpamAssassin finds (struct elem's sa_fg,
 * sa_bg). */
static int
low_contrast(long fg, long bg)
{
	if (fg == COLOR_NONE || bg == COLOR_NONE)
		return 0;
	double dr = (double)(((fg >> 16) & 0xff) - ((bg >> 16) & 0xff));
	double dg = (double)(((fg >> 8) & 0xff) - ((bg >> 8) & 0xff));
	double db = (double)((fg & 0xff) - (bg & 0xff));
	double d2 = (0.2126 * dr) * (0.2126 * dr) + (0.7152 * dg) * (0.7152 * dg) +
	    (0.0722 * db) * (0.0722 * db);
	return d2 < 12.0 * 12.0;
}

/* One open element: the text colour and background it gives its
 * content, and whether a style hides that content. */
struct elem {
	char name[12];
	long fg, bg;
	int size;       /* font size 1-7 (3 by default) as SpamAssassin
			 * counts it, for mime_stats.html_font_max_size */
	int hide;
};

/* An entry of SpamAssassin's own stack of text styles (its HTML.pm
 * text_style()), for HTML_FONT_LOW_CONTRAST and HTML_FONT_INVALID_COLOR:
 * the colours of the text as it sees them, from <font color>, <body
 * text> and the inline styles of the tags it reads styles of, never a
 * style sheet's class nor a bgcolor attribute (its parser reads but
 * never applies those); a colour it cannot read is "invalid" (*_bad). */
struct sa_style {
	char tag[12];
	long fg, bg;
	unsigned char fg_bad, bg_bad;
};

/* A class of the message's style sheets ("name { ... }") and what its
 * declarations do to its elements. */
struct css_class {
	char name[32];
	struct style style;
};

struct sa_tags {
	unsigned tags, elements, closed_extra, obfuscation;
	unsigned names, element_names;
	struct {
		char name[12];
		int open;
	} inside[64];
	unsigned ninside;
};

/* SpamAssassin's HTML 4.01 and XHTML 1.0 elements (HTML.pm %elements),
 * sorted */
static const char *const sa_elements[] = {
	"a", "abbr", "acronym", "address", "applet", "area", "b", "base",
	"basefont", "bdo", "big", "blockquote", "body", "br", "button",
	"caption", "center", "cite", "code", "col", "colgroup", "dd", "del",
	"dfn", "dir", "div", "dl", "dt", "em", "fieldset", "font", "form",
	"frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr",
	"html", "i", "iframe", "img", "input", "ins", "isindex", "kbd",
	"label", "legend", "li", "link", "map", "menu", "meta", "nobr",
	"noframes", "noscript", "object", "ol", "optgroup", "option", "p",
	"param", "pre", "q", "s", "samp", "script", "select", "small", "span",
	"strike", "strong", "style", "sub", "sup", "table", "tbody", "td",
	"textarea", "tfoot", "th", "thead", "title", "tr", "tt", "u", "ul",
	"var", "x-sigsep", "x-tab",
};
/* and the tags whose start and end it renders as white space */
static const char *const sa_space_tags[] = {
	"br", "div", "li", "th", "td", "dt", "dd", "p", "hr", "blockquote",
	"pre", "embed", "listing", "plaintext", "xmp", "title", "h1", "h2",
	"h3", "h4", "h5", "h6",
};

/* A tag event as SpamAssassin's renderer counts it (html_tag). */
static void
sa_tag(struct sa_tags *t, const char *name, int closing, int *space)
{
	size_t k;
	int elem = in_list(name, sa_elements, NELEM(sa_elements));

	/* (a namespace tag, "o:p", "st1:place": an element) */
	if ((name[0] == 'o' && name[1] == ':') ||
	    (name[0] == 's' && name[1] == 't' && isdigit((unsigned char)name[2]) && name[3] == ':'))
		elem = 1;
	t->tags++;
	t->elements += elem;
	for (k = 0; k < t->ninside && strcmp(t->inside[k].name, name) != 0; k++)
		;
	if (k == t->ninside) {
		t->names++;
		t->element_names += elem;
		if (t->ninside < NELEM(t->inside)) {
			snprintf(t->inside[k].name, sizeof(t->inside[k].name), "%s", name);
			t->inside[k].open = 0;
			t->ninside++;
		}
	}
	if (k < t->ninside && (t->inside[k].open += closing ? -1 : 1) < 0) {
		t->inside[k].open = 0;
		t->closed_extra++;
	}
	*space = in_list(name, sa_space_tags, NELEM(sa_space_tags));
}

/* Perl's [^\s\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e] at s[i] of s[0..n) */
static int
sa_word_at(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];

	if (c < 0x80 && (ispunct(c) || isspace(c)))
		return 0;
	return mime_sa_space_at(s, i, n) == 0;
}

struct render {
	struct buf *text;
	size_t text_start;      /* where this part's text starts in it */
	int ws_last;            /* a tag's white space was put last */
	int trim_ok;            /* the last thing put is a run of text
	                           ending in a blank it put */
	int in_node;            /* inside a run of text between tags */
	int node_lead;          /* at its start, right after such white
	                           space: its blanks are dropped */
	struct mime_stats *st;
	struct uri_list *uris;
	int space_pending;      /* collapse white space */
	int last_alnum;         /* last emitted char was alphanumeric */
	int split_pending;      /* a comment/inline tag since the last char */
	struct elem stack[STACK_MAX];   /* [0]: the page (black on white) */
	int depth;              /* entries in use, at least 1 */
	struct sa_style sa_st[STACK_MAX];       /* [0]: its default */
	int sa_depth;           /* at least 1 */
	int hidden_counted;     /* this hidden run already counted */
	int basefont;           /* <basefont size>, what size=+N adds to */
	char *base;             /* the last <base href> (absolute, ending in
	                           '/'), what relative links resolve against */
	struct css_class classes[CLASS_MAX];
	int nclasses;
	/* inside an element whose content a browser's parser (and
	 * SpamAssassin's) reads as text up to its end tag: the tags there
	 * are not noted as seen (html_tag_names) */
	char cdata[12];
	/* html_text_match()'s lists (html.h), or NULL; a list stops at the
	 * first entry or text that does not fit */
	struct buf *texts;
	int texts_full[HTML_TEXT_N];
	int in_a;               /* <a> start tags less end tags, not below 0 */
	int balance[3];         /* the same for html_balance_tags; -1
				 * while none was seen */
	/* SpamAssassin's html_image_ratio() (mime.h html_part_*) */
	size_t sa_nonspace;
	unsigned long sa_image_area;
	int in_alt;             /* alt text: rendered, not in its text */
	int sa_text;            /* the text as SpamAssassin's (html.h) */
	/* its html_range() ratios: tag events and those of its elements,
	 * end tags with none of the name open, tag names (each first seen)
	 * with their open count, text runs going on a word the text before
	 * ended in */
	struct sa_tags sa;
	int sa_in_text;         /* inside a run of text (between markup) */
	int sa_word_last;       /* the text put last ends in a word character */
	/* the last search for "</title": from title_from, found at
	 * title_end (the part's end: none), so a later <title> before it
	 * does not search the part again */
	size_t title_from, title_end;
	int title_searched;
};

const char *const html_balance_tags[4] = { "body", "head", "center", NULL };

/* Text SpamAssassin's renderer gets (decoded), s[0..n): a run starting
 * on a word character right after one ending in one (a comment or
 * inline tag between) is an obfuscation. */
static void
sa_text(struct render *r, const char *s, size_t n)
{
	size_t last = n;

	if (n == 0)
		return;
	if (!r->sa_in_text && r->sa_word_last && sa_word_at(s, 0, n))
		r->sa.obfuscation++;
	r->sa_in_text = 1;
	while (last > 0 && ((unsigned char)s[last - 1] & 0xc0) == 0x80)
		last--;
	r->sa_word_last = last > 0 && sa_word_at(s, last - 1, n);
}

/* A new entry of list k. */
static void
ht_new(struct render *r, int k)
{
	if (r->texts != NULL && !r->texts_full[k] && buf_appendc(&r->texts[k], '\0') < 0)
		r->texts_full[k] = 1;
}

/* Text added to the last entry of list k. */
static void
ht_add(struct render *r, int k, const char *s, size_t n)
{
	if (r->texts != NULL && !r->texts_full[k] && r->texts[k].len > 0 &&
	    buf_append(&r->texts[k], s, n) < 0)
		r->texts_full[k] = 1;
	if (k == HTML_TEXT_ANCHOR)
		ht_add(r, HTML_TEXT_HREF, s, n);
}

/* A new HTML_TEXT_HREF entry (html.h) for an <a> with href v[0..vl). */
static void
href_entry(struct render *r, const char *v, size_t vl)
{
	struct buf h;
	char pre[48];

	buf_init(&h, 8192);
	if (v != NULL)
		decode_attr_trim(v, vl, &h);
	snprintf(pre, sizeof(pre), "%u:%zu:", r->st->html_parts, h.len);
	ht_new(r, HTML_TEXT_HREF);
	ht_add(r, HTML_TEXT_HREF, pre, strlen(pre));
	ht_add(r, HTML_TEXT_HREF, h.data != NULL ? h.data : "", h.len);
	buf_free(&h);
}

static const struct elem *
cur(const struct render *r)
{
	return &r->stack[r->depth - 1];
}

static int
hidden(const struct render *r)
{
	const struct elem *e = cur(r);
	return e->hide || invisible(e->fg, e->bg);
}

static int
has_alnum(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isalnum((unsigned char)s[i]))
			return 1;
	return 0;
}

/* Text other than white space and no-break spaces. */
static int
has_non_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] == 0xa0) {
			i++;            /* U+00A0 in UTF-8 */
			continue;
		}
		if (!isspace(c))
			return 1;
	}
	return 0;
}

static void
emit(struct render *r, const char *s, size_t n)
{
	if (n == 0)
		return;
	for (size_t i = 0, k; i < n && !r->in_alt; i += k)
		if ((k = mime_sa_space_at(s, i, n)) == 0) {
			r->sa_nonspace++;
			for (k = 1; i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80; k++)
				;
		}
	if (has_non_space(s, n)) {
		/* in SpamAssassin's order: an invalid colour is no colour to
		 * compare (two invalid ones are "the same") */
		const struct sa_style *t = &r->sa_st[r->sa_depth - 1];
		if (t->fg_bad != t->bg_bad)
			r->st->html_font_invalid_color++;
		else if (t->fg_bad || low_contrast(t->fg, t->bg))
			r->st->html_font_low_contrast++;
	}
	if (hidden(r)) {
		/* words hidden, not a lone dot or dash */
		if (!r->hidden_counted && has_alnum(s, n)) {
			r->st->html_hidden++;
			r->hidden_counted = 1;
		}
		if (!r->sa_text)
			return;
	}
	if (r->split_pending && r->last_alnum && isalnum((unsigned char)s[0]) &&
	    !r->space_pending)
		r->st->html_obfuscated_words++;
	r->split_pending = 0;
	if (r->space_pending && r->text->len > r->text_start) {
		/* (the space between words, counted once, already put when
		 * the run of text had it) */
		size_t k = r->text->len;
		while (k > r->text_start && r->text->data[k - 1] == ' ')
			k--;
		if (k > r->text_start && r->text->data[k - 1] != '\n')
			r->st->html_text_bytes++;
		if (r->text->data[r->text->len - 1] != ' ')
			(void)buf_appendc(r->text, ' ');
	}
	r->space_pending = 0;
	r->trim_ok = 0;
	(void)buf_append(r->text, s, n);
	r->st->html_text_bytes += n;
	r->last_alnum = isalnum((unsigned char)s[n - 1]);
}

/* White space in a run of text: one blank, put now as SpamAssassin's
 * renderer does (a tag's white space after it takes it back). */
static void
space_put(struct render *r)
{
	r->space_pending = 1;
	if (r->text->len == r->text_start || r->text->data[r->text->len - 1] != ' ') {
		(void)buf_appendc(r->text, ' ');
		r->trim_ok = 1;
	}
}

/* An image's alt text, where the image is (mail clients show it when
 * images are not loaded; SpamAssassin 4.0's renderer leaves it out, one
 * of the two ways Tempest's own text differs from its, with hidden
 * text, which Tempest leaves out; html.h): words of the body text and
 * the Bayes tokens, hidden where the image would be, not counted as
 * text bytes (the image rules weigh text against images). */
static void
emit_alt(struct render *r, const char *v, size_t vl)
{
	struct buf alt;
	size_t bytes = r->st->html_text_bytes, i = 0;

	buf_init(&alt, 4096);
	decode_attr(v, vl, &alt);
	/* (a word apart from the text before, not a blank starting a line) */
	r->space_pending = r->text->len > r->text_start &&
	    r->text->data[r->text->len - 1] != '\n';
	r->in_alt = 1;
	while (i < alt.len) {
		size_t j = i;
		while (j < alt.len && !isspace((unsigned char)alt.data[j]))
			j++;
		if (j > i) {
			emit(r, alt.data + i, j - i);
			r->space_pending = 1;
		}
		i = j + 1;
	}
	r->in_alt = 0;
	r->split_pending = 0;
	r->st->html_text_bytes = bytes;
	buf_free(&alt);
}

/* An <img> side as SpamAssassin's renderer takes it: the value (entities
 * decoded) digits, with "%" a percentage of pct x 100 pixels; 200 when
 * it is not that or 0. */
static unsigned long
sa_image_side(const struct attr *a, int na, const char *name, unsigned long pct)
{
	struct buf b;
	size_t vl = 0, i = 0;
	const char *v = attr_get(a, na, name, &vl);
	unsigned long x = 0;

	buf_init(&b, 256);
	decode_attr(v, vl, &b);
	while (i < b.len && isdigit((unsigned char)b.data[i])) {
		if (x < 1000000000UL)
			x = x * 10 + (unsigned long)(b.data[i] - '0');
		i++;
	}
	if (i > 0 && i < b.len && b.data[i] == '%') {
		x *= pct;
		i++;
	}
	if (i < b.len && b.data[i] == '\n' && i + 1 == b.len)
		i++;                    /* (Perl's $ before a last newline) */
	if (i == 0 || i != b.len)
		x = 0;
	buf_free(&b);
	return x > 0 ? x : 200;
}

/* The white space a tag, start or end, puts in the text, as
 * SpamAssassin's HTML renderer does (html_whitespace): a line break for
 * <br> and <div>, a paragraph break for <p>, <hr>, <blockquote>, <pre>,
 * <title> and the like, a space for list items, cells, headings,
 * <embed>; in Tempest's own reading the other block tags a space too
 * (</ul><a> would join the words). */
static const char *
tag_space(const struct render *r, const char *name)
{
	static const char *const nl1[] = { "br", "div" };
	static const char *const nl2[] = {
		"p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title",
	};

	if (in_list(name, nl1, NELEM(nl1)))
		return "\n";
	if (in_list(name, nl2, NELEM(nl2)))
		return "\n\n";
	if (r->sa_text)
		return in_list(name, sa_space_tags, NELEM(sa_space_tags)) ? " " : NULL;
	return in_list(name, block_tags, NELEM(block_tags)) ? " " : NULL;
}

/* Put that white space: the blank ending the text before it goes (as
 * SpamAssassin trims it), the next word starts without one. */
static void
put_space(struct render *r, const char *ws)
{
	r->space_pending = 0;
	r->last_alnum = 0;
	if (r->trim_ok && r->text->len > r->text_start &&
	    r->text->data[r->text->len - 1] == ' ')
		buf_truncate(r->text, r->text->len - 1);
	(void)buf_appends(r->text, ws);
	r->ws_last = 1;
	r->trim_ok = 0;
}

/* <base href="u[0..n)"> (white space around it dropped): with an
 * http, https or ftp scheme, what relative links resolve against (its
 * HTML.pm: "^([a-z]+:/{0,2}[^/]+/.*?)[^/\.]+\.[^/\.]{2,4}$" cut to its
 * group, then a '/' at the end) */
static void
base_set(struct render *r, const char *u, size_t n)
{
	size_t k = 0, host, last, dot = 0;
	struct buf b;

	while (k < n && isalpha((unsigned char)u[k]))
		k++;
	if (k >= n || u[k] != ':' || !((k == 4 && strncasecmp(u, "http", 4) == 0) ||
	    (k == 5 && strncasecmp(u, "https", 5) == 0) || (k == 3 && strncasecmp(u, "ftp", 3) == 0)))
		return;
	buf_init(&b, URI_MAX + 2);
	(void)buf_append(&b, u, n);
	/* a file name at the end, after a '/' that follows the host */
	host = k + 1;
	for (int s = 0; s < 2 && host < n && u[host] == '/'; s++)
		host++;
	last = n;
	while (last > 0 && u[last - 1] != '/')
		last--;
	if (last > host + 1 && memchr(u + host, '/', last - 1 - host + 1) != NULL) {
		size_t dots = 0;
		for (size_t i = last; i < n; i++)
			if (u[i] == '.') {
				dots++;
				dot = i;
			}
		if (dots == 1 && dot > last && n - dot - 1 >= 2 && n - dot - 1 <= 4 &&
		    u[host] != '/')
			buf_truncate(&b, last);
	}
	if (b.len == 0 || b.data[b.len - 1] != '/')
		(void)buf_appendc(&b, '/');
	free(r->base);
	r->base = buf_steal(&b);
}

/* The URI of an attribute; anchor: an <a href>, which SpamAssassin
 * lists as written too when a <base href> resolves it (it keys the
 * anchor's text by the href) */
static void
add_uri_as(struct render *r, const char *v, size_t vl, int anchor)
{
	struct buf tmp;

	if (r->uris == NULL || vl == 0)
		return;
	if (anchor && r->base != NULL) {
		char *base = r->base;
		r->base = NULL;
		add_uri_as(r, v, vl, 0);
		r->base = base;
	}
	buf_init(&tmp, URI_MAX + 1);    /* (one byte more: uri_add cuts and counts) */
	decode_attr_trim(v, vl, &tmp);
	if (tmp.len > 0 && r->base != NULL && !(strncasecmp(tmp.data, "data:", 5) == 0 ||
	    strncasecmp(tmp.data, "mailto:", 7) == 0 || strncasecmp(tmp.data, "file:", 5) == 0 ||
	    strncasecmp(tmp.data, "cid:", 4) == 0 || strncasecmp(tmp.data, "tel:", 4) == 0)) {
		/* a link relative to the <base href> */
		char *ref = xstrndup(tmp.data, tmp.len), *t;
		t = uri_resolve(r->base, ref);
		buf_reset(&tmp);
		(void)buf_appends(&tmp, t);
		free(t);
		free(ref);
	}
	if (tmp.len > 0) {
		size_t before = r->uris->n;
		uri_add(r->uris, tmp.data, tmp.len, r->st);
		if (r->uris->n == before && tmp.len > 0)
			uri_extract_text(r->uris, tmp.data, tmp.len, r->st);
		if (r->uris->n == before)
			uri_add_relative(r->uris, tmp.data, tmp.len);
	}
	buf_free(&tmp);
}

static void
add_uri(struct render *r, const char *v, size_t vl)
{
	add_uri_as(r, v, vl, 0);
}

static void
set_hidden_run(struct render *r, int was_hidden)
{
	if (hidden(r) != was_hidden)
		r->hidden_counted = 0;
}

/* A closing tag ends the innermost open element of that name and those
 * left open inside it; one with no open match is ignored. */
static void
close_elem(struct render *r, const char *name)
{
	int was = hidden(r);

	for (int k = r->depth - 1; k >= 1; k--)
		if (strcmp(r->stack[k].name, name) == 0) {
			r->depth = k;
			break;
		}
	set_hidden_run(r, was);
}

static void
apply_style(struct elem *e, const struct style *st)
{
	if (st->hide)
		e->hide = 1;
	if (st->fg != COLOR_NONE)
		e->fg = st->fg;
	if (st->bg != COLOR_NONE)
		e->bg = st->bg;
	if (st->bg_unknown)
		e->bg = COLOR_NONE;
}

/* The classes named in a class attribute, in the order of the style
 * sheet (a later rule wins, as with equal specificity). */
static void
apply_classes(const struct render *r, struct elem *e, const char *v, size_t vl)
{
	for (int k = 0; k < r->nclasses; k++) {
		const struct css_class *c = &r->classes[k];
		size_t cl = strlen(c->name);
		for (size_t i = 0; i + cl <= vl; i++) {
			if ((i > 0 && !isspace((unsigned char)v[i - 1])) ||
			    strncmp(v + i, c->name, cl) != 0 ||
			    (i + cl < vl && !isspace((unsigned char)v[i + cl])))
				continue;
			apply_style(e, &c->style);
			break;
		}
	}
}

/* Remember the class rules of a style sheet s[0..n) that hide or
 * colour: "sel, sel { decls }" where a selector ends in ".name"
 * ("p.name" too); anything else (ids, descendants, at-rules' own
 * lines) is passed over, and the rules inside an @media block are read
 * as if it applied. */
static void
css_scan(struct render *r, const char *s, size_t n)
{
	size_t i = 0, sel = 0;

	while (i < n) {
		int cmt = i + 1 < n && s[i] == '/' && s[i + 1] == '*';
		int sgml = (i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) ||
		    (i + 3 <= n && memcmp(s + i, "-->", 3) == 0);
		if (cmt || sgml) {
			/* a comment, or the SGML comment marks old pages put
			 * around a style sheet */
			const char *e = cmt ? memmem(s + i + 2, n - i - 2, "*/", 2) : NULL;
			size_t k = sel;
			while (k < i && isspace((unsigned char)s[k]))
				k++;
			int first = k == i;     /* nothing of a selector before it */
			if (cmt)
				i = e != NULL ? (size_t)(e - s) + 2 : n;
			else
				i += s[i] == '<' ? 4 : 3;
			if (first)
				sel = i;
			continue;
		}
		if (s[i] == '}' || s[i] == ';') {
			sel = ++i;
			continue;
		}
		if (s[i] != '{') {
			i++;
			continue;
		}
		/* s[sel..i) is the selector list, the declarations follow */
		size_t d = i + 1, de = d;
		while (de < n && s[de] != '}' && s[de] != '{')
			de++;
		while (sel < i && isspace((unsigned char)s[sel]))
			sel++;
		if (sel < i && s[sel] == '@') { /* @media ... { : read inside */
			sel = ++i;
			continue;
		}
		struct style st;
		parse_style(s + d, de - d, &st);
		if (style_sets(&st)) {
			size_t a = sel;
			while (a < i) {
				size_t b = a;
				while (b < i && s[b] != ',')
					b++;
				size_t e = b, dot;
				while (a < e && isspace((unsigned char)s[a]))
					a++;
				while (e > a && isspace((unsigned char)s[e - 1]))
					e--;
				/* "[element].class" and nothing else */
				for (dot = a; dot < e && isalnum((unsigned char)s[dot]); dot++)
					;
				int simple = dot < e && s[dot] == '.' && e - dot - 1 > 0 &&
				    e - dot - 1 < sizeof(r->classes[0].name);
				for (size_t k = dot + 1; simple && k < e; k++)
					if (!isalnum((unsigned char)s[k]) && s[k] != '-' &&
					    s[k] != '_')
						simple = 0;
				dot++;
				if (simple && r->nclasses < CLASS_MAX) {
					struct css_class *c = &r->classes[r->nclasses++];
					memcpy(c->name, s + dot, e - dot);
					c->name[e - dot] = '\0';
					c->style = st;
				}
				a = b + 1;
			}
		}
		i = de < n && s[de] == '}' ? de + 1 : de;
		sel = i;
	}
}

/* An element whose colours and visibility its content inherits.  Table
 * cells and rows end the open cell or row of their table (and what was
 * left open in it), list items and paragraphs an open one of their
 * kind just before them, as browsers do with unclosed ones.  With the
 * stack full, the innermost element takes the new settings instead. */
/* Whether SpamAssassin takes v[0..vl) for a colour (else "invalid",
 * html_test('font_invalid_color')): a CSS colour name, '#' then hex
 * digits (it pads or cuts them; without the '#' it gives up), or
 * rgb(...); in a style also anything with "rgb", "inherit" and
 * "transparent". */
static int
color_valid(const char *v, size_t vl, int style)
{
	static const char *const names[] = {
		"aliceblue", "antiquewhite", "aqua", "aquamarine", "azure", "beige",
		"bisque", "black", "blanchedalmond", "blue", "blueviolet", "brown",
		"burlywood", "cadetblue", "chartreuse", "chocolate", "coral",
		"cornflowerblue", "cornsilk", "crimson", "cyan", "darkblue", "darkcyan",
		"darkgoldenrod", "darkgray", "darkgreen", "darkgrey", "darkkhaki",
		"darkmagenta", "darkolivegreen", "darkorange", "darkorchid", "darkred",
		"darksalmon", "darkseagreen", "darkslateblue", "darkslategray",
		"darkslategrey", "darkturquoise", "darkviolet", "deeppink", "deepskyblue",
		"dimgray", "dimgrey", "dodgerblue", "firebrick", "floralwhite",
		"forestgreen", "fuchsia", "gainsboro", "ghostwhite", "gold", "goldenrod",
		"gray", "green", "greenyellow", "grey", "honeydew", "hotpink", "indianred",
		"indigo", "ivory", "khaki", "lavender", "lavenderblush", "lawngreen",
		"lemonchiffon", "lightblue", "lightcoral", "lightcyan",
		"lightgoldenrodyellow", "lightgray", "lightgreen", "lightgrey",
		"lightpink", "lightsalmon", "lightseagreen", "lightskyblue",
		"lightslategray", "lightslategrey", "lightsteelblue", "lightyellow",
		"lime", "limegreen", "linen", "magenta", "maroon", "mediumaquamarine",
		"mediumblue", "mediumorchid", "mediumpurple", "mediumseagreen",
		"mediumslateblue", "mediumspringgreen", "mediumturquoise",
		"mediumvioletred", "midnightblue", "mintcream", "mistyrose", "moccasin",
		"navajowhite", "navy", "oldlace", "olive", "olivedrab", "orange",
		"orangered", "orchid", "palegoldenrod", "palegreen", "paleturquoise",
		"palevioletred", "papayawhip", "peachpuff", "peru", "pink", "plum",
		"powderblue", "purple", "rebeccapurple", "red", "rosybrown", "royalblue",
		"saddlebrown", "salmon", "sandybrown", "seagreen", "seashell", "sienna",
		"silver", "skyblue", "slateblue", "slategray", "slategrey", "snow",
		"springgreen", "steelblue", "tan", "teal", "thistle", "tomato",
		"turquoise", "violet", "wheat", "white", "whitesmoke", "yellow",
		"yellowgreen",
	};
	char buf[32];
	size_t n;
	int hex = 1;

	while (vl > 0 && isspace((unsigned char)*v))
		v++, vl--;
	while (vl > 0 && isspace((unsigned char)v[vl - 1]))
		vl--;
	if (style && (memmem_ci(v, vl, "rgb") || (vl == 7 && strncasecmp(v, "inherit", 7) == 0) ||
	    (vl == 11 && strncasecmp(v, "transparent", 11) == 0)))
		return 1;
	for (size_t i = 0; i < vl; i++)
		if (!isxdigit((unsigned char)v[i]) && v[i] != '#')
			hex = 0;
	if (hex)
		return vl > 0 && v[0] == '#';
	if (memmem_ci(v, vl, "rgb(") && v[vl - 1] == ')')
		return 1;
	if (vl >= sizeof(buf))
		return 0;
	for (n = 0; n < vl; n++)
		buf[n] = (char)tolower((unsigned char)v[n]);
	buf[n] = '\0';
	for (size_t i = 0; i < NELEM(names); i++)
		if (strcmp(buf, names[i]) == 0)
			return 1;
	return 0;
}

/* The length of v[0..n) before its first stop ("!important" is no part
 * of a colour). */
static size_t
strcspn_n(const char *v, size_t n, char stop)
{
	const char *p = memchr(v, stop, n);

	return p != NULL ? (size_t)(p - v) : n;
}

/* A colour SpamAssassin's parser reads into *c, or marks *bad: an
 * attribute's value (style 0) or a style's (1, "!important" left out);
 * "inherit" sets nothing, "transparent" is 1 (the caller's to resolve). */
static int
sa_color(const char *v, size_t vl, int style, long *c, unsigned char *bad)
{
	if (style)
		vl = strcspn_n(v, vl, '!');
	while (vl > 0 && isspace((unsigned char)v[vl - 1]))
		vl--;
	if (style && vl == 7 && strncasecmp(v, "inherit", 7) == 0)
		return 0;
	if (style && vl == 11 && strncasecmp(v, "transparent", 11) == 0)
		return 1;
	*bad = !color_valid(v, vl, style);
	*c = *bad ? COLOR_NONE : parse_color(v, vl);
	return 0;
}

/* Its close_tag(): the entries down to the last of that name, when one
 * is open (never its default). */
static void
sa_close(struct render *r, const char *tag)
{
	for (int k = r->sa_depth - 1; k >= 1; k--)
		if (strcmp(r->sa_st[k].tag, tag) == 0) {
			r->sa_depth = k;
			return;
		}
}

/* A start (open) or end tag of the elements its text_style() follows
 * (<th> as <td>): a start tag pushes a copy of the top with the colours
 * it sets (<td>, <tr> first close the cells and fonts left open inside
 * an open one, its close_table_tag(); <basefont size> only sets the
 * base size); an end tag closes (not </body>). */
static void
sa_style_tag(struct render *r, const char *name, int open, const struct attr *a, int na)
{
	static const char *const styled[] = {
		"body", "font", "table", "tr", "th", "td", "big", "small", "basefont",
		"marquee", "span", "p", "div", "a",
	};
	static const char *const with_style[] = {
		"table", "td", "th", "tr", "span", "p", "div", "a",
	};
	const char *tag = strcmp(name, "th") == 0 ? "td" : name, *v, *c;
	size_t vl, cl;
	struct sa_style t;
	int fg_tr = 0, bg_tr = 0;

	if (!in_list(name, styled, NELEM(styled)))
		return;
	if (!open) {
		if (strcmp(tag, "body") != 0)
			sa_close(r, tag);
		return;
	}
	if (strcmp(tag, "basefont") == 0 && (v = attr_get(a, na, "size", &vl)) != NULL) {
		size_t k = 0;
		while (k < vl && isspace((unsigned char)v[k]))
			k++;
		if (k < vl && isdigit((unsigned char)v[k]))
			return;
	}
	if (strcmp(tag, "td") == 0 || strcmp(tag, "tr") == 0) {
		int one_open = 0;
		for (int k = r->sa_depth - 1; k >= 1 && !one_open; k--)
			one_open = strcmp(r->sa_st[k].tag, tag) == 0;
		while (one_open && r->sa_depth > 1) {
			const char *top = r->sa_st[r->sa_depth - 1].tag;
			if (strcmp(top, "font") != 0 && strcmp(top, "td") != 0 &&
			    (strcmp(tag, "tr") != 0 || strcmp(top, "tr") != 0))
				break;
			r->sa_depth--;
		}
	}
	t = r->sa_st[r->sa_depth - 1];
	snprintf(t.tag, sizeof(t.tag), "%s", tag);
	if ((strcmp(tag, "font") == 0 || strcmp(tag, "basefont") == 0) &&
	    (v = attr_get(a, na, "color", &vl)) != NULL)
		(void)sa_color(v, vl, 0, &t.fg, &t.fg_bad);
	if (strcmp(tag, "body") == 0 && (v = attr_get(a, na, "text", &vl)) != NULL)
		(void)sa_color(v, vl, 0, &t.fg, &t.fg_bad);
	if (in_list(name, with_style, NELEM(with_style)) &&
	    (v = attr_get(a, na, "style", &vl)) != NULL) {
		/* (a property with no value is none: its pattern wants one) */
		if ((c = style_prop(v, vl, "color", &cl)) != NULL && cl > 0)
			fg_tr = sa_color(c, cl, 1, &t.fg, &t.fg_bad);
		if ((c = style_prop(v, vl, "background-color", &cl)) != NULL && cl > 0)
			bg_tr = sa_color(c, cl, 1, &t.bg, &t.bg_bad);
		else if (style_prop(v, vl, "background", &cl) != NULL) {
			struct style st;
			parse_style(v, vl, &st);
			if (st.bg != COLOR_NONE) {
				t.bg = st.bg;
				t.bg_bad = 0;
			}
		}
		/* (transparent: the parent's background; text as its own) */
		if (bg_tr) {
			t.bg = r->sa_st[r->sa_depth - 1].bg;
			t.bg_bad = r->sa_st[r->sa_depth - 1].bg_bad;
		}
		if (fg_tr) {
			t.fg = t.bg;
			t.fg_bad = t.bg_bad;
		}
	}
	if (r->sa_depth < STACK_MAX)
		r->sa_st[r->sa_depth++] = t;
	else
		r->sa_st[r->sa_depth - 1] = t;
}

/* A size attribute: "N", "+N" or "-N" after blanks (*sign_r 0, 1, -1);
 * 0 when it starts otherwise. */
static int
size_attr(const char *v, size_t vl, int *sign_r, int *n_r)
{
	size_t i = 0;
	int digits = 0;

	*sign_r = 0;
	*n_r = 0;
	while (i < vl && isspace((unsigned char)v[i]))
		i++;
	if (i < vl && (v[i] == '+' || v[i] == '-'))
		*sign_r = v[i++] == '+' ? 1 : -1;
	for (; i < vl && isdigit((unsigned char)v[i]) && digits < 6; i++, digits++)
		*n_r = *n_r * 10 + (v[i] - '0');
	return digits > 0;
}

/* The font size an element gives its content, as SpamAssassin's HTML
 * parser follows it: <font size=N> or size=+N/-N from the <basefont>
 * size, <big> and <small> one up or down; the largest size a tag it
 * reads attributes of (font, body, table cells, span, p, div, a, with
 * one of those attributes) opens is html_font_max_size
 * (HTML_FONT_SIZE_LARGE/HUGE). */
static void
font_size(struct render *r, struct elem *e, const char *name, const struct attr *a, int na)
{
	static const struct { const char *tag, *attrs; } ok[] = {
		{ "font", " color face size " }, { "body", " text bgcolor link alink vlink background " },
		{ "marquee", " bgcolor background " }, { "table", " bgcolor style " },
		{ "td", " bgcolor style " }, { "th", " bgcolor style " }, { "tr", " bgcolor style " },
		{ "span", " style " }, { "p", " style " }, { "div", " style " }, { "a", " style " },
	};
	const char *v;
	size_t vl;
	int seen = 0;

	if (strcmp(name, "big") == 0) {
		e->size++;
		return;
	}
	if (strcmp(name, "small") == 0) {
		e->size--;
		return;
	}
	if (strcmp(name, "font") == 0 && (v = attr_get(a, na, "size", &vl)) != NULL) {
		int sign, n;
		if (size_attr(v, vl, &sign, &n))
			e->size = sign == 0 ? n : r->basefont + sign * n;
	}
	for (size_t k = 0; k < NELEM(ok) && !seen; k++) {
		if (strcmp(name, ok[k].tag) != 0)
			continue;
		for (int i = 0; i < na && !seen; i++) {
			char key[16];
			if (a[i].nl == 0 || a[i].nl > sizeof(key) - 3)
				continue;
			snprintf(key, sizeof(key), " %.*s ", (int)a[i].nl, a[i].n);
			for (char *p = key; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			seen = strstr(ok[k].attrs, key) != NULL;
		}
	}
	if (seen && e->size > (int)r->st->html_font_max_size)
		r->st->html_font_max_size = (unsigned)e->size;
}

static void
open_elem(struct render *r, const char *name, const struct attr *a, int na)
{
	int was = hidden(r);
	const char *v;
	size_t vl;
	long c;
	struct style st;
	struct elem e;

	if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0 ||
	    strcmp(name, "tr") == 0) {
		/* the open cell (a new row: the open row) of this table ends,
		 * with whatever was left open inside it */
		int is_tr = strcmp(name, "tr") == 0;
		for (int k = r->depth - 1; k >= 1; k--) {
			const char *o = r->stack[k].name;
			if (strcmp(o, "table") == 0 || (!is_tr && strcmp(o, "tr") == 0))
				break;
			if (strcmp(o, is_tr ? "tr" : "td") == 0 ||
			    (!is_tr && strcmp(o, "th") == 0)) {
				r->depth = k;
				break;
			}
		}
	} else if ((strcmp(name, "p") == 0 || strcmp(name, "li") == 0 ||
	    strcmp(name, "option") == 0) && r->depth > 1 &&
	    strcmp(cur(r)->name, name) == 0)
		r->depth--;

	e = *cur(r);
	snprintf(e.name, sizeof(e.name), "%s", name);
	font_size(r, &e, name, a, na);
	if ((strcmp(name, "font") == 0 && (v = attr_get(a, na, "color", &vl)) != NULL) ||
	    (strcmp(name, "body") == 0 && (v = attr_get(a, na, "text", &vl)) != NULL))
		if ((c = parse_color(v, vl)) != COLOR_NONE)
			e.fg = c;
	if ((v = attr_get(a, na, "bgcolor", &vl)) != NULL &&
	    (c = parse_color(v, vl)) != COLOR_NONE)
		e.bg = c;
	if (attr_get(a, na, "background", &vl) != NULL)
		e.bg = COLOR_NONE;
	if (attr_get(a, na, "hidden", &vl) != NULL)
		e.hide = 1;
	if ((v = attr_get(a, na, "class", &vl)) != NULL)
		apply_classes(r, &e, v, vl);
	if ((v = attr_get(a, na, "style", &vl)) != NULL) {
		parse_style(v, vl, &st);
		apply_style(&e, &st);
	}
	if (r->depth < STACK_MAX)
		r->stack[r->depth++] = e;
	else {
		snprintf(e.name, sizeof(e.name), "%s", cur(r)->name);
		r->stack[r->depth - 1] = e;
	}
	set_hidden_run(r, was);
}

/* Note a tag name in st->html_tag_names (once; dropped when it would
 * not fit). */
static void
tag_seen(struct mime_stats *st, const char *name)
{
	char key[16];
	size_t have = strlen(st->html_tag_names), kl;

	kl = (size_t)snprintf(key, sizeof(key), " %s", name);
	for (const char *p = st->html_tag_names; (p = strstr(p, key)) != NULL; p += kl)
		if (p[kl] == ' ' || p[kl] == '\0')
			return;
	if (have + kl < sizeof(st->html_tag_names))
		memcpy(st->html_tag_names + have, key, kl + 1);
}

/* Handle one tag s[0..n) (without < >). */
static void
tag(struct render *r, const char *s, size_t n)
{
	char name[12];
	size_t i = 0, k = 0;
	int closing = 0, na = 0, selfclose = 0, in_cdata;
	struct attr a[MAX_ATTRS];
	const char *v, *ws;
	size_t vl;

	if (i < n && s[i] == '/') {
		closing = 1;
		i++;
	}
	while (i < n && !isspace((unsigned char)s[i]) && s[i] != '/' && s[i] != '>') {
		if (k < sizeof(name) - 1)
			name[k++] = (char)tolower((unsigned char)s[i]);
		i++;
	}
	name[k] = '\0';
	if (k == 0) {
		r->st->html_bad_tags++;
		return;
	}
	r->st->html_tags++;
	if (!in_list(name, known_tags, NELEM(known_tags)))
		r->st->html_bad_tags++;
	/* the end of such an element is an end tag again */
	if (closing && r->cdata[0] != '\0' && strcmp(name, r->cdata) == 0)
		r->cdata[0] = '\0';
	in_cdata = r->cdata[0] != '\0';        /* (text to HTML::Parser) */
	if (r->cdata[0] == '\0') {
		static const char *const cdata_tags[] = { "iframe", "xmp", "textarea", "plaintext" };
		int sp;
		sa_tag(&r->sa, name, closing, &sp);
		if (sp)
			r->sa_word_last = 0;    /* (its white space put last) */
		tag_seen(r->st, name);
		/* html_text_match()'s anchor texts: each <a> starts one, an
		 * image inside adds "<img>\n" */
		if (strcmp(name, "a") == 0 && !closing) {
			r->in_a++;
			ht_new(r, HTML_TEXT_ANCHOR);
		} else if (strcmp(name, "a") == 0 && r->in_a > 0) {
			r->in_a--;
		} else if (strcmp(name, "img") == 0 && !closing && r->in_a > 0) {
			ht_add(r, HTML_TEXT_ANCHOR, "<img>\n", 6);
		}
		for (int b = 0; b < 3; b++)
			if (strcmp(name, html_balance_tags[b]) == 0 &&
			    (r->balance[b] = (r->balance[b] < 0 ? 0 : r->balance[b]) +
			    (closing ? -1 : 1)) < 0)
				r->balance[b] = 0;
		if (!closing && in_list(name, cdata_tags, NELEM(cdata_tags)))
			memcpy(r->cdata, name, sizeof(r->cdata));
	}
	/* attributes (all read, as HTML::Parser does: past MAX_ATTRS only
	 * those an element uses are kept) */
	while (i < n) {
		struct attr t;
		while (i < n && (isspace((unsigned char)s[i]) || s[i] == '/')) {
			if (s[i] == '/' && i + 1 == n)
				selfclose = 1;
			i++;
		}
		if (i >= n)
			break;
		t.n = s + i;
		while (i < n && !isspace((unsigned char)s[i]) && s[i] != '=' && s[i] != '/')
			i++;
		t.nl = (size_t)(s + i - t.n);
		t.v = "";
		t.vl = 0;
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i < n && s[i] == '=') {
			i++;
			while (i < n && isspace((unsigned char)s[i]))
				i++;
			if (i < n && (s[i] == '"' || s[i] == '\'')) {
				char q = s[i++];
				t.v = s + i;
				while (i < n && s[i] != q)
					i++;
				t.vl = (size_t)(s + i - t.v);
				if (i < n)
					i++;
			} else {
				t.v = s + i;
				while (i < n && !isspace((unsigned char)s[i]))
					i++;
				t.vl = (size_t)(s + i - t.v);
			}
		}
		if (t.nl == 0) {
			i++;
			continue;
		}
		if (na < MAX_ATTRS)
			a[na++] = t;
		else
			attr_keep(a, na, &t);
	}

	if (!in_cdata)
		sa_style_tag(r, name, !closing, a, na);
	if (closing) {
		close_elem(r, name);
		if ((ws = tag_space(r, name)) != NULL)
			put_space(r, ws);
		else
			r->split_pending = 1;
		return;
	}
	if ((ws = tag_space(r, name)) != NULL)
		put_space(r, ws);
	else
		r->split_pending = 1;

	if (strcmp(name, "img") == 0) {
		unsigned long w = 0, h = 0;
		r->st->html_images++;
		if ((v = attr_get(a, na, "width", &vl)) != NULL)
			w = attr_ulong(v, vl);
		if ((v = attr_get(a, na, "height", &vl)) != NULL)
			h = attr_ulong(v, vl);
		r->st->html_image_area += (w > 10000 ? 10000 : w) * (h > 10000 ? 10000 : h);
		if (attr_get(a, na, "width", &vl) != NULL && attr_get(a, na, "height", &vl) != NULL) {
			/* (SpamAssassin adds in floating point: here the
			 * area stops at ULONG_MAX, against which any text
			 * makes a ratio as near 0 as the true one) */
			unsigned long iw = sa_image_side(a, na, "width", 8),
			    ih = sa_image_side(a, na, "height", 6);
			unsigned long area = iw > ULONG_MAX / ih ? ULONG_MAX : iw * ih;
			r->sa_image_area = area > ULONG_MAX - r->sa_image_area ? ULONG_MAX :
			    r->sa_image_area + area;
		}
		if ((v = attr_get(a, na, "src", &vl)) != NULL)
			add_uri(r, v, vl);
		if ((v = attr_get(a, na, "alt", &vl)) != NULL && vl > 0 && !r->sa_text)
			emit_alt(r, v, vl);
	} else if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0 ||
	    strcmp(name, "link") == 0) {
		r->st->html_links++;
		if ((v = attr_get(a, na, "data-saferedirecturl", &vl)) != NULL)
			add_uri(r, v, vl);
		if ((v = attr_get(a, na, "href", &vl)) != NULL)
			add_uri_as(r, v, vl, name[0] == 'a' && name[1] == '\0');
		if (name[0] == 'a' && name[1] == '\0' && !in_cdata)
			href_entry(r, v, v != NULL ? vl : 0);
		if (v != NULL && name[0] == 'a' && name[1] == '\0' && r->cdata[0] == '\0' &&
		    vl > 7 && strncasecmp(v, "mailto:", 7) == 0) {
			ht_new(r, HTML_TEXT_MAILTO);
			ht_add(r, HTML_TEXT_MAILTO, v, vl);
		}
	} else if (strcmp(name, "form") == 0) {
		r->st->html_forms++;
		if ((v = attr_get(a, na, "action", &vl)) != NULL) {
			add_uri(r, v, vl);
			if (memmem_ci(v, vl, "mailto:"))
				r->st->html_form_mailto++;
		}
	} else if (strcmp(name, "object") == 0 || strcmp(name, "embed") == 0) {
		r->st->html_embeds++;
		if (name[0] == 'e' && (v = attr_get(a, na, "src", &vl)) != NULL)
			add_uri(r, v, vl);
	} else if ((strcmp(name, "script") == 0 || strcmp(name, "bgsound") == 0) &&
	    (v = attr_get(a, na, "src", &vl)) != NULL) {
		add_uri(r, v, vl);
	} else if ((strcmp(name, "body") == 0 || strcmp(name, "table") == 0 ||
	    strcmp(name, "tr") == 0 || strcmp(name, "td") == 0) &&
	    (v = attr_get(a, na, "background", &vl)) != NULL) {
		add_uri(r, v, vl);
	} else if (strcmp(name, "meta") == 0 && (v = attr_get(a, na, "http-equiv", &vl)) != NULL &&
	    memmem_ci(v, vl, "refresh") && (v = attr_get(a, na, "content", &vl)) != NULL) {
		/* <meta http-equiv=refresh content="5; url=…">: after the last
		 * "url=" (a word boundary before it), up to a ';' */
		size_t at = vl;
		for (size_t u = 0; u + 3 <= vl; u++) {
			size_t e = u + 3;
			if (strncasecmp(v + u, "url", 3) != 0 ||
			    (u > 0 && (isalnum((unsigned char)v[u - 1]) || v[u - 1] == '_')))
				continue;
			while (e < vl && isspace((unsigned char)v[e]))
				e++;
			if (e < vl && v[e] == '=') {
				for (e++; e < vl && isspace((unsigned char)v[e]); e++)
					;
				at = e;
			}
		}
		if (at < vl) {
			size_t e = at;
			while (e < vl && v[e] != ';')
				e++;
			while (e > at && isspace((unsigned char)v[e - 1]))
				e--;
			add_uri(r, v + at, e - at);
		}
	} else if (strcmp(name, "iframe") == 0 || strcmp(name, "frame") == 0) {
		if ((v = attr_get(a, na, "src", &vl)) != NULL) {
			add_uri(r, v, vl);
			for (size_t q = 0; name[1] == 'f' && !in_cdata && q < vl; q++)
				if (!isspace((unsigned char)v[q])) {
					r->st->html_iframe_src++;
					break;
				}
		}
	} else if (strcmp(name, "base") == 0) {
		/* a URI like any other, and with http, https or ftp what later
		 * relative links resolve against: a trailing file name
		 * ("x.html") dropped, a '/' at the end */
		if ((v = attr_get(a, na, "href", &vl)) != NULL && vl > 0) {
			struct buf h;
			add_uri(r, v, vl);
			buf_init(&h, URI_MAX + 2);
			decode_attr_trim(v, vl, &h);
			if (h.len > 0)
				base_set(r, h.data, h.len);
			buf_free(&h);
		}
	} else if (strcmp(name, "basefont") == 0) {
		int sign, size;
		/* (SpamAssassin takes a plain number only) */
		if ((v = attr_get(a, na, "size", &vl)) != NULL && size_attr(v, vl, &sign, &size) &&
		    sign == 0)
			r->basefont = size;
	} else if (strcmp(name, "font") == 0) {
		if ((v = attr_get(a, na, "size", &vl)) != NULL && vl > 0) {
			const char *p = v;
			if (*p == '+' && vl > 1 && p[1] >= '3' && p[1] <= '9')
				r->st->html_font_big++;
			else if (*p >= '5' && *p <= '7')
				r->st->html_font_big++;
		}
		if ((v = attr_get(a, na, "face", &vl)) != NULL) {
			/* (its entities decoded, as HTML::Parser gives it) */
			struct buf d;
			buf_init(&d, vl + 16);
			decode_attr(v, vl, &d);
			if (font_face_bad(d.data != NULL ? d.data : "", d.len))
				r->st->html_font_face_bad++;
			buf_free(&d);
		}
	}
	/* script and style hold no rendered text: html_render() skips it */
	if (!selfclose && !in_list(name, void_tags, NELEM(void_tags)) &&
	    strcmp(name, "script") != 0 && strcmp(name, "style") != 0)
		open_elem(r, name, a, na);
}

/* Skip to the end of a raw-text element (</script>, </style>). */
static size_t
skip_raw(const char *s, size_t n, size_t i, const char *name, int *closed)
{
	size_t nl = strlen(name);

	*closed = 0;
	for (; i + nl + 2 <= n; i++)
		if (s[i] == '<' && s[i + 1] == '/' && strncasecmp(s + i + 2, name, nl) == 0) {
			*closed = 1;
			while (i < n && s[i] != '>')
				i++;
			return i < n ? i + 1 : n;
		}
	return n;
}

/* Whether s[k..n) is the rest of a declaration HTML::Parser accepts:
 * names, quoted strings, "-- … --" comments and "[ … ]" up to '>'. */
static int
decl_ok(const char *s, size_t n, size_t k)
{
	if (k < n && !isspace((unsigned char)s[k]) && s[k] != '>')
		return 0;       /* <!DOCTYPEhtml> */
	while (k < n) {
		const char *e;
		char c = s[k];
		if (isspace((unsigned char)c)) {
			k++;
			continue;
		}
		if (c == '>')
			return 1;
		if (c == '"' || c == '\'' || c == '[') {
			if ((e = memchr(s + k + 1, c == '[' ? ']' : c, n - k - 1)) == NULL)
				return 0;
			k = (size_t)(e - s) + 1;
			continue;
		}
		if (c == '-') {
			if (k + 1 >= n || s[k + 1] != '-' ||
			    (e = memmem(s + k + 2, n - k - 2, "--", 2)) == NULL)
				return 0;
			k = (size_t)(e - s) + 2;
			continue;
		}
		while (k < n && !isspace((unsigned char)s[k]) && s[k] != '>' && s[k] != '"' &&
		    s[k] != '\'')
			k++;
	}
	return 0;
}

/* A "<!" at s[0..n) that HTML::Parser reports as a comment, and its
 * length: all but a well-formed declaration (<!DOCTYPE …>, <!ENTITY …>)
 * and a <![CDATA[ section; it ends at the first '>' (quotes are not
 * read). */
static size_t
bang_comment(const char *s, size_t n)
{
	const char *gt;

	if ((n >= 9 && memcmp(s, "<![CDATA[", 9) == 0) ||
	    (n >= 9 && strncasecmp(s, "<!doctype", 9) == 0 && decl_ok(s, n, 9)) ||
	    (n >= 8 && strncasecmp(s, "<!entity", 8) == 0 && decl_ok(s, n, 8)))
		return 0;
	gt = memchr(s, '>', n);
	return gt != NULL ? (size_t)(gt - s) + 1 : n;
}

/* The text of a <title> that ends at s[j] (its '>'), as HTML::Parser
 * reads it: everything to "</title" (or the end), entities decoded. */
static void
title_text(struct render *r, const char *s, size_t n, size_t j)
{
	size_t e = j + 1;

	ht_new(r, HTML_TEXT_TITLE);
	if (r->texts == NULL || r->texts_full[HTML_TEXT_TITLE])
		return;         /* (nothing more to keep) */
	if (r->title_searched && e >= r->title_from && e <= r->title_end)
		e = r->title_end;
	else {
		r->title_from = e;
		while (e + 7 <= n && strncasecmp(s + e, "</title", 7) != 0)
			e++;
		if (e + 7 > n)
			e = n;
		r->title_end = e;
		r->title_searched = 1;
	}
	for (size_t k = j + 1; k < e && !r->texts_full[HTML_TEXT_TITLE]; ) {
		if (s[k] == '&') {
			struct buf tmp;
			int letter;
			size_t used;
			buf_init(&tmp, 8);
			used = entity(s + k, e - k, &tmp, &letter);
			if (used > 0) {
				ht_add(r, HTML_TEXT_TITLE, tmp.data ? tmp.data : "", tmp.len);
				buf_free(&tmp);
				k += used;
				continue;
			}
			buf_free(&tmp);
		}
		ht_add(r, HTML_TEXT_TITLE, s + k, 1);
		k++;
	}
}

void
html_render(const char *s, size_t n, struct buf *text,
    struct mime_stats *st, struct uri_list *uris, struct buf *texts, int as_sa)
{
	struct render r;
	struct buf quoted;
	const char *s0 = s;
	size_t i = 0, n0 = n, no_close = SIZE_MAX;

	/* SpamAssassin's renderer reads the curly double quotes U+201C and
	 * U+201D as '"' (in attributes too, where mail software puts
	 * them) */
	buf_init(&quoted, BUF_UNLIMITED);
	if (memmem(s, n, "\xe2\x80\x9c", 3) != NULL || memmem(s, n, "\xe2\x80\x9d", 3) != NULL) {
		for (size_t k = 0; k < n; k++)
			if (k + 2 < n && (unsigned char)s[k] == 0xe2 && (unsigned char)s[k + 1] == 0x80 &&
			    ((unsigned char)s[k + 2] == 0x9c || (unsigned char)s[k + 2] == 0x9d)) {
				(void)buf_appendc(&quoted, '"');
				k += 2;
			} else
				(void)buf_appendc(&quoted, s[k]);
		s = quoted.data;
		n = quoted.len;
	}

	memset(&r, 0, sizeof(r));
	r.stack[0].fg = 0x000000;
	r.stack[0].bg = 0xffffff;
	snprintf(r.sa_st[0].tag, sizeof(r.sa_st[0].tag), "%s", "default");
	r.sa_st[0].fg = 0x000000;
	r.sa_st[0].bg = 0xffffff;
	r.sa_depth = 1;
	r.stack[0].size = 3;
	r.basefont = 3;
	if (st->html_font_max_size < 3)
		st->html_font_max_size = 3;
	r.depth = 1;
	r.text = text;
	r.text_start = text->len;
	r.st = st;
	r.uris = uris;
	r.texts = texts;
	r.sa_text = as_sa;
	r.balance[0] = r.balance[1] = r.balance[2] = -1;
	st->html_bytes += n0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '<') {
			r.in_node = 0;
			if (i + 3 < n && strncmp(s + i, "<!--", 4) == 0) {
				/* (no "-->" at or after no_close: not searched
				 * for again by each later comment) */
				const char *e = i + 4 >= no_close ? NULL :
				    memmem(s + i + 4, n - i - 4, "-->", 3);
				size_t end = e ? (size_t)(e - s) + 3 : n;
				if (e == NULL && i + 4 < no_close)
					no_close = i + 4;
				/* one never closed ends at the first '>' (as
				 * HTML::Parser ends it; it hid the rest of the page) */
				if (e == NULL && (e = memchr(s + i + 4, '>', n - i - 4)) != NULL)
					end = (size_t)(e - s) + 1;
				st->html_comments++;
				r.split_pending = 1;
				r.sa_in_text = 0;
				if (r.cdata[0] == '\0') {
					ht_new(&r, HTML_TEXT_COMMENT);
					ht_add(&r, HTML_TEXT_COMMENT, s + i, end - i);
				}
				i = end;
				continue;
			}
			if (i + 1 < n && s[i + 1] == '!' && r.cdata[0] == '\0') {
				size_t cl = bang_comment(s + i, n - i);
				if (cl > 0) {
					ht_new(&r, HTML_TEXT_COMMENT);
					ht_add(&r, HTML_TEXT_COMMENT, s + i, cl);
				}
			}
			if (i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '/' ||
			    s[i + 1] == '!' || s[i + 1] == '?')) {
				size_t j = i + 1;
				char q = 0;
				for (; j < n; j++) {
					if (q) { if (s[j] == q) q = 0; continue; }
					if (s[j] == '"' || s[j] == '\'') {
						if (j > 0 && s[j - 1] == '=')
							q = s[j];
						continue;
					}
					if (s[j] == '>')
						break;
				}
				if (s[i + 1] == '!' || s[i + 1] == '?') {
					/* (a <!DOCTYPE> is a tag and an element to it) */
					if (r.cdata[0] == '\0' && j - i >= 9 &&
					    strncasecmp(s + i, "<!doctype", 9) == 0) {
						r.sa.tags++;
						r.sa.elements++;
					}
					r.sa_in_text = 0;
					i = j < n ? j + 1 : n;
					continue;
				}
				tag(&r, s + i + 1, (j < n ? j : n) - i - 1);
				if (j < n && i + 7 <= n && strncasecmp(s + i, "<title", 6) == 0 &&
				    (s[i + 6] == '>' || s[i + 6] == '/' || isspace((unsigned char)s[i + 6])) &&
				    r.cdata[0] == '\0')
					title_text(&r, s, n, j);
				r.sa_in_text = 0;
				if (j + 1 <= n && i + 7 <= n && strncasecmp(s + i, "<script", 7) == 0) {
					int closed, sp;
					st->html_scripts++;
					i = skip_raw(s, n, j < n ? j + 1 : n, "script", &closed);
					if (closed)
						sa_tag(&r.sa, "script", 1, &sp);
					continue;
				}
				if (j + 1 <= n && i + 6 <= n && strncasecmp(s + i, "<style", 6) == 0) {
					size_t start = j < n ? j + 1 : n;
					int closed, sp;
					i = skip_raw(s, n, start, "style", &closed);
					if (closed)
						sa_tag(&r.sa, "style", 1, &sp);
					css_scan(&r, s + start, i - start);
					continue;
				}
				i = j < n ? j + 1 : n;
				continue;
			}
		}
		/* a run of text (SpamAssassin's renderer drops the blanks
		 * starting one that comes right after a tag's white space) */
		if (!r.in_node) {
			r.in_node = 1;
			r.node_lead = r.ws_last;
			r.ws_last = 0;
			r.trim_ok = 0;
		}
		if (c == '&') {
			struct buf tmp;
			int letter;
			size_t used;
			char ebuf[8];

			buf_init(&tmp, sizeof(ebuf));
			used = entity(s + i, n - i, &tmp, &letter);
			if (used > 0) {
				if (r.in_a > 0)
					ht_add(&r, HTML_TEXT_ANCHOR, tmp.data ? tmp.data : "", tmp.len);
				if (letter)
					st->html_entity_letters++;
				sa_text(&r, tmp.data ? tmp.data : "", tmp.len);
				if (tmp.len == 1 && tmp.data[0] == ' ') {
					if (!r.node_lead)
						space_put(&r);
				} else {
					emit(&r, tmp.data ? tmp.data : "", tmp.len);
					r.node_lead = 0;
				}
				buf_free(&tmp);
				i += used;
				continue;
			}
			buf_free(&tmp);
		}
		if (isspace(c)) {
			sa_text(&r, s + i, 1);
			if (r.in_a > 0)
				ht_add(&r, HTML_TEXT_ANCHOR, s + i, 1);
			if (!r.node_lead)
				space_put(&r);
			i++;
			continue;
		}
		{
			size_t j = i + 1;
			while (j < n && s[j] != '<' && s[j] != '&' && !isspace((unsigned char)s[j]))
				j++;
			sa_text(&r, s + i, j - i);
			if (r.in_a > 0)
				ht_add(&r, HTML_TEXT_ANCHOR, s + i, j - i);
			emit(&r, s + i, j - i);
			r.node_lead = 0;
			i = j;
		}
	}
	if (n > 0 && st->html_parts_kept < HTML_PARTS_KEPT) {
		/* characters, a CR before LF not counted (SpamAssassin's
		 * text has its line ends as LF) */
		size_t chars = 0;
		for (size_t k = 0; k < n0; k++)
			chars += ((unsigned char)s0[k] & 0xc0) != 0x80 &&
			    !(s0[k] == '\r' && k + 1 < n0 && s0[k + 1] == '\n');
		st->html_part_len[st->html_parts_kept] = chars;
		st->html_part_nonspace[st->html_parts_kept] = r.sa_nonspace;
		st->html_part_image_area[st->html_parts_kept] = r.sa_image_area;
		st->html_part_tags[st->html_parts_kept][HTML_SA_TAGS] = r.sa.tags;
		st->html_part_tags[st->html_parts_kept][HTML_SA_ELEMENTS] = r.sa.elements;
		st->html_part_tags[st->html_parts_kept][HTML_SA_CLOSED_EXTRA] = r.sa.closed_extra;
		st->html_part_tags[st->html_parts_kept][HTML_SA_OBFUSCATION] = r.sa.obfuscation;
		st->html_part_tags[st->html_parts_kept][HTML_SA_NAMES] = r.sa.names;
		st->html_part_tags[st->html_parts_kept][HTML_SA_ELEMENT_NAMES] = r.sa.element_names;
		memcpy(st->html_part_balance[st->html_parts_kept], r.balance, sizeof(r.balance));
		st->html_parts_kept++;
	}
	buf_free(&quoted);
	free(r.base);
}
