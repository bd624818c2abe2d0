/* test-mime.c - message analysis: decodings, MIME trees, HTML, URIs,
 * header anomalies and limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "header_eval.h"
#include "html.h"
#include "mime.h"
#include "uri.h"
#include "test.h"
#include "test-html-msg.h"

static int
has_uri(const struct mime_msg *m, const char *u)
{
	for (size_t i = 0; i < m->uris.n; i++)
		if (strcmp(m->uris.v[i], u) == 0)
			return 1;
	return 0;
}

static void
test_decoders(void)
{
	struct buf b;
	unsigned bad = 0, dec = 0;

	/* base64, quoted-printable and parameters: lib-mail's, tested in
	 * src/lib-mail/test-mail-mime.c (test_spam_cases) */
	buf_init(&b, 1000);
	T_INTEQ(mime_to_utf8("iso-8859-1", "caf\xe9", 4, &b), 0);
	T_STREQ(buf_cstr(&b), "caf\xc3\xa9");
	buf_reset(&b);
	T_INTEQ(mime_to_utf8("x-no-such-charset", "abc", 3, &b), -1);
	T_STREQ(buf_cstr(&b), "abc");
	buf_reset(&b);
	T_INTEQ(mime_to_utf8("utf-8", "a\xffz", 3, &b), 1);
	T_STREQ(buf_cstr(&b), "a\xef\xbf\xbdz");          /* U+FFFD */
	buf_reset(&b);
	/* no charset or US-ASCII: UTF-8 kept, other bytes as Windows-1252
	 * (0x81 has no character there) */
	T_INTEQ(mime_to_utf8(NULL, "world\x92s \xa3" "5 \xc3\xa9\x81", 14, &b), 1);
	T_STREQ(buf_cstr(&b), "world\xe2\x80\x99s \xc2\xa3" "5 \xc3\xa9\xef\xbf\xbd");
	buf_reset(&b);
	T_INTEQ(mime_to_utf8("US-ASCII", "caf\xc3\xa9", 5, &b), 0);
	T_STREQ(buf_cstr(&b), "caf\xc3\xa9");
	buf_reset(&b);
	/* raw 8-bit bytes in a header read the same way */
	mime_decode_2047("PFI \xa3" "97m", 8, &b, &dec, &bad);
	T_STREQ(buf_cstr(&b), "PFI \xc2\xa3" "97m");
	buf_reset(&b);
	bad = 0;
	{
		const char *h = "=?UTF-8?B?Q2hlYXA=?= =?iso-8859-1?Q?m=E9ds?= now";
		mime_decode_2047(h, strlen(h), &b, &dec, &bad);
		T_STREQ(buf_cstr(&b), "Cheapm\xc3\xa9" "ds now");
		T_INTEQ(dec, 2);
		T_INTEQ(bad, 0);
	}
	buf_reset(&b);
	{
		const char *h = "=?bogus?X?abc?= plain";
		mime_decode_2047(h, strlen(h), &b, &dec, &bad);
		T_STREQ(buf_cstr(&b), "=?bogus?X?abc?= plain");
		T_INTEQ(bad, 1);
	}
	buf_free(&b);
	{
		char *p = mime_addr("\"Doe, John\" <JD@Example.COM>, x@y");
		T_STREQ(p, "JD@Example.COM");
		free(p);
		p = mime_addr("jd@example.com (John)");
		T_STREQ(p, "jd@example.com");
		free(p);
		p = mime_addr_name("\"Doe, John\" <jd@example.com>");
		T_STREQ(p, "Doe, John");
		free(p);
	}
}

/* The text part as SpamAssassin 4.0.1 reads it (its
 * Message::Node::_normalize(), run on the same bytes, gave each
 * expected string): 7-bit ISO-2022-JP decoded; GB2312 with a byte
 * outside it, and text that is neither its charset nor UTF-8, read whole
 * as Windows-1252; UTF-8 kept whatever the label. */
static void
test_to_utf8_sa(void)
{
	static const struct {
		const char *cs, *in, *out;
		int r;
	} t[] = {
		{ "iso-2022-jp", "\x1b$B$k\x1b(B", "\xe3\x82\x8b", 0 },
		{ "gb2312", "\xc4\xe3\xba\xc3", "\xe4\xbd\xa0\xe5\xa5\xbd", 0 },
		{ "gb2312", "\xc4\xe3\xba\xc3\xeb\x8a",
		  "\xc3\x84\xc3\xa3\xc2\xba\xc3\x83\xc3\xab\xc5\xa0", 1 },
		{ "iso-8859-1", "caf\xc3\xa9", "caf\xc3\xa9", 0 },
		{ "us-ascii", "a\xc3\xa9\xff", "a\xc3\x83\xc2\xa9\xc3\xbf", 1 },
		{ "", "a\xc3\xa9\xff", "a\xc3\x83\xc2\xa9\xc3\xbf", 1 },
		{ "windows-1252", "a\x81\x92" "b", "a\xef\xbf\xbd\xe2\x80\x99" "b", 1 },
		{ "utf-8", "a\xff" "b", "a\xc3\xbf" "b", 1 },
		{ "x-unknown", "c\xe9", "c\xc3\xa9", 1 },
		{ "koi8-r", "\xc1\xc2", "\xd0\xb0\xd0\xb1", 0 },
		{ "utf-8", "a\xed\xa0\x80", "a\xc3\xad\xc2\xa0\xe2\x82\xac", 1 },
	};
	struct buf b;

	buf_init(&b, 1000);
	for (size_t i = 0; i < NELEM(t); i++) {
		buf_reset(&b);
		T_INTEQ(mime_to_utf8_sa(t[i].cs, t[i].in, strlen(t[i].in), &b), t[i].r);
		T_STREQ(buf_cstr(&b), t[i].out);
	}
	buf_free(&b);
}

/* Expected outputs from SpamAssassin's own Util::base64_decode() on the
 * same inputs. */
static void
test_base64_sa(void)
{
	static const struct {
		const char *in, *out;
		size_t n;
	} t[] = {
		{ "aGVsbG8=\n", "hello", 5 },
		{ "aGVsbA==bG8h", "hell\0\0lo!", 9 },       /* inner '=' as 'A' */
		{ "aGVsbG8=\n--b--\nfoot", "hello?m\xfa(", 9 }, /* on past '=' */
		{ "aGk", "hi", 2 },
		{ "aGVsbG8=x", "hello?", 6 },
		{ "", "", 0 },
		{ "==== ", "", 0 },
		{ "aG=k", "h`$", 3 },
		{ "aGVs\xa0" "bG8=", "hello", 5 },
	};
	struct buf b;

	buf_init(&b, 1000);
	for (size_t i = 0; i < NELEM(t); i++) {
		buf_reset(&b);
		mime_base64_sa(t[i].in, strlen(t[i].in), &b);
		T_INTEQ(b.len, t[i].n);
		T_OK(b.len == t[i].n && memcmp(buf_cstr(&b), t[i].out, t[i].n) == 0);
	}
	buf_free(&b);
}

/* SpamAssassin's reading of a base64 part with a list footer after its
 * padding, and of a header with raw 8-bit bytes not all UTF-8; Bayes
 * keeps Tempest's own. */
static void
test_sa_reading_decode(void)
{
	const char *msg =
	    "From: a@b.example\n"
	    "Subject: caf\xc3\xa9 \xe9t\xe9\n"
	    "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "aGVsbG8=\n"
	    "--b--\n"
	    "foot\n";
	struct mime_limits lim = mime_default_limits;
	struct mime_msg m;
	const struct mime_header *h;

	mime_parse(&m, msg, strlen(msg), NULL);
	h = mime_header_get(&m, "Subject");
	T_STREQ(h->value, "caf\xc3\xa9 \xc3\xa9t\xc3\xa9");
	T_OK(h->own_value == NULL);
	T_STREQ(buf_cstr(&m.body), "caf\xc3\xa9 \xc3\xa9t\xc3\xa9\nhello");
	mime_free(&m);

	lim.sa_text = 1;
	mime_parse(&m, msg, strlen(msg), &lim);
	h = mime_header_get(&m, "Subject");
	/* the whole value as Windows-1252, its UTF-8 pair too */
	T_STREQ(h->value, "caf\xc3\x83\xc2\xa9 \xc3\xa9t\xc3\xa9");
	T_STREQ(h->own_value, "caf\xc3\xa9 \xc3\xa9t\xc3\xa9");
	T_STREQ(buf_cstr(&m.body), "caf\xc3\x83\xc2\xa9 \xc3\xa9t\xc3\xa9\nhello?m\xc3\xba(");
	T_STREQ(buf_cstr(mime_bayes_body(&m)), "caf\xc3\xa9 \xc3\xa9t\xc3\xa9\nhello");
	mime_free(&m);
}

/* RFC 2047 on a 63 KB value of "=?a?q?x" repeated (no "?=", no blank):
 * each "=?" is no encoded word and is kept as it is, the word after the
 * blank is decoded, and the words that run into the end of the value
 * are kept too.  (Each "=?" used to search the rest of the value for its
 * "?=": quadratic.) */
static void
test_2047_long(void)
{
	struct buf in, want, b;
	unsigned dec = 0, bad = 0;

	buf_init(&in, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	buf_init(&b, BUF_UNLIMITED);
	for (int i = 0; i < 9000; i++)
		(void)buf_appends(&in, "=?a?q?x");
	(void)buf_appends(&want, buf_cstr(&in));
	(void)buf_appends(&in, " =?utf-8?q?caf=C3=A9?= =?b?q?y =?us-ascii?q?z?=");
	(void)buf_appends(&want, " caf\xc3\xa9 =?b?q?y z");
	for (int i = 0; i < 100; i++) {
		(void)buf_appends(&in, "=?a?q?x");
		(void)buf_appends(&want, "=?a?q?x");
	}
	mime_decode_2047(in.data, in.len, &b, &dec, &bad);
	T_INTEQ(b.len, want.len);
	T_OK(b.len == want.len && memcmp(b.data, want.data, b.len) == 0);
	T_INTEQ(dec, 2);
	T_INTEQ(bad, 9101);
	buf_free(&in);
	buf_free(&want);
	buf_free(&b);
}

/* One level of test_parts_nested_limit's message into out: a multipart
 * whose first part is the next level as a quoted-printable
 * message/rfc822 (its "=" and ":" written "=3D" and "=3A", so that only the
 * decoded part shows its structure), then nparts one-line parts. */
static void
nested_level(struct buf *out, int k, int levels, int nparts)
{
	struct buf inner;

	(void)buf_printf(out, "Content-Type: multipart/mixed; boundary=\"b%d\"\n"
	    "MIME-Version: 1.0\n\n", k);
	if (k < levels) {
		(void)buf_printf(out, "--b%d\nContent-Type: message/rfc822\n"
		    "Content-Transfer-Encoding: quoted-printable\n\n", k);
		buf_init(&inner, BUF_UNLIMITED);
		nested_level(&inner, k + 1, levels, nparts);
		for (size_t i = 0; i < inner.len; i++)
			if (inner.data[i] == '=')
				(void)buf_appends(out, "=3D");
			else if (inner.data[i] == ':')
				(void)buf_appends(out, "=3A");
			else
				(void)buf_appendc(out, inner.data[i]);
		buf_free(&inner);
		(void)buf_appendc(out, '\n');
	}
	for (int i = 0; i < nparts; i++)
		(void)buf_printf(out, "--b%d\n\nx\n", k);
	(void)buf_printf(out, "--b%d--\n", k);
}

/* The limit on parts holds for the message with the messages encoded in
 * it: 4 levels of 150 parts are read up to 200 parts, and the rest is
 * counted as past the limit.  (Each level used to have the budget the
 * level below had left it, and add its own parts after it: 600.) */
static void
test_parts_nested_limit(void)
{
	struct buf msg;
	struct mime_msg m;

	buf_init(&msg, BUF_UNLIMITED);
	(void)buf_appends(&msg, "From: a@b.example\nSubject: parts\n");
	nested_level(&msg, 0, 3, 150);
	mime_parse(&m, msg.data, msg.len, NULL);
	T_INTEQ(m.nparts, mime_default_limits.max_parts);
	T_INTEQ(m.st.parts_limit, 1);
	T_OK(m.st.truncated > 0);
	T_STREQ(mime_header_get(&m, "subject")->value, "parts");
	mime_free(&m);
	buf_free(&msg);
}

/* check_for_faraway_charset_in_headers() on a 60 KB Subject: of an
 * ISO-8859-1 word and "=?koi8-r?q?x" repeated, no "?=" after it: not
 * faraway for "en" (no KOI8-R word is complete); a KOI8-R word in From:
 * is.
 * (Each "=?" used to search the rest of the value for "?=":
 * quadratic.) */
static void
test_faraway_headers_long(void)
{
	struct buf msg;
	struct mime_msg m;

	for (int from = 0; from < 2; from++) {
		buf_init(&msg, BUF_UNLIMITED);
		(void)buf_appends(&msg, "Subject: =?iso-8859-1?q?caf=E9?= ");
		for (int i = 0; i < 5000; i++)
			(void)buf_appends(&msg, "=?koi8-r?q?x");
		(void)buf_appends(&msg, "\n");
		if (from)
			(void)buf_appends(&msg, "From: =?koi8-r?b?8NLJ18XU?= <a@b.example>\n");
		(void)buf_appends(&msg, "\nbody\n");
		mime_parse(&m, msg.data, msg.len, NULL);
		T_INTEQ(he_faraway_charset_headers(&m, "en"), from);
		T_INTEQ(he_faraway_charset_headers(&m, "all"), 0);
		mime_free(&m);
		buf_free(&msg);
	}
}

/* SpamAssassin's reading keeps the first 8,192 bytes of a message's
 * header value (Message.pm, from after the ':', line ends included, a
 * CRLF one byte in a CRLF message); Tempest's own keeps it whole, and so
 * does the value as written that ALL:raw reads (SpamAssassin's pristine
 * header).  Each expected value is what SpamAssassin 4.0's get_header()
 * gave. */
static void
test_sa_header_cut(void)
{
	struct mime_limits lim = mime_default_limits;
	struct buf msg, want, whole;
	struct mime_msg m;
	const struct mime_header *h;

	buf_init(&msg, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	buf_init(&whole, BUF_UNLIMITED);
	(void)buf_appends(&msg, "From: a@b.example\nSubject: ");
	for (int i = 0; i < 2000; i++)
		(void)buf_appends(&msg, "word ");
	(void)buf_appends(&msg, "\nX-Short: s\n\nbody\n");
	for (int i = 0; i < 1638; i++)
		(void)buf_appends(&want, "word ");
	(void)buf_appendc(&want, 'w');
	for (int i = 0; i < 1999; i++)
		(void)buf_appends(&whole, "word ");
	(void)buf_appends(&whole, "word");
	lim.sa_text = 1;
	mime_parse(&m, msg.data, msg.len, &lim);
	h = mime_header_get(&m, "Subject");
	T_STREQ(h->value, buf_cstr(&want));
	T_STREQ(h->raw, buf_cstr(&want));
	T_STREQ(mime_header_own(h), buf_cstr(&whole));
	/* as written, whole (its last blank too): the pristine header
	 * ALL:raw reads */
	T_INTEQ(strlen(mime_header_raw_whole(h)), 2000 * 5);
	T_OK(strncmp(mime_header_raw_whole(h), buf_cstr(&whole), whole.len) == 0);
	T_STREQ(mime_header_get(&m, "X-Short")->value, "s");
	T_OK(m.st.sa_flags & MIME_SA_TRUNC_HEADER);
	mime_free(&m);
	/* Tempest's own reading alone: whole */
	mime_parse(&m, msg.data, msg.len, NULL);
	h = mime_header_get(&m, "Subject");
	T_STREQ(h->value, buf_cstr(&whole));
	T_OK(h->own_value == NULL);
	T_OK(h->raw_whole == NULL);
	mime_free(&m);

	/* CRLF, folded: " " then "abcd\n " 1,365 times and one byte */
	buf_reset(&msg);
	buf_reset(&want);
	(void)buf_appends(&msg, "From: a@b.example\r\nSubject: ");
	for (int i = 0; i < 1500; i++)
		(void)buf_appends(&msg, "abcd\r\n ");
	(void)buf_appends(&msg, "end\r\n\r\nbody\r\n");
	for (int i = 0; i < 1365; i++)
		(void)buf_appends(&want, "abcd ");
	(void)buf_appendc(&want, 'a');
	mime_parse(&m, msg.data, msg.len, &lim);
	h = mime_header_get(&m, "Subject");
	T_STREQ(h->value, buf_cstr(&want));
	T_INTEQ(strlen(mime_header_own(h)), 1500 * 5 + 3);
	mime_free(&m);
	buf_free(&msg);
	buf_free(&want);
	buf_free(&whole);
}

static void
test_nested(void)
{
	const char *msg =
	    "From: a@b.example\r\n"
	    "Subject: =?utf-8?q?Hello_there?=\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"OUT\"\r\n"
	    "\r\n"
	    "preamble\r\n"
	    "--OUT\r\n"
	    "Content-Type: multipart/alternative; boundary=IN\r\n"
	    "\r\n"
	    "--IN\r\n"
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "Caf=E9 visit http://Www.Example.COM/path?q=1.\r\n"
	    "\r\n"
	    "second paragraph\r\n"
	    "--IN\r\n"
	    "Content-Type: text/html\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "PGh0bWw+PGJvZHk+PHA+SGk8L3A+PGEgaHJlZj0iaHR0cDovL2xpbmsuZXhhbXBsZS9h\r\n"
	    "Ij5jbGljazwvYT48L2JvZHk+PC9odG1sPg==\r\n"
	    "--IN--\r\n"
	    "--OUT\r\n"
	    "Content-Type: application/octet-stream; name=\"x.zip\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "UEsDBA==\r\n"
	    "--OUT--\r\n"
	    "epilogue\r\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.nparts, 5);
	T_STREQ(m.parts[0].ctype, "multipart/mixed");
	T_STREQ(m.parts[2].ctype, "text/plain");
	T_STREQ(m.parts[2].charset, "iso-8859-1");
	T_INTEQ(m.parts[2].depth, 2);
	T_STREQ(m.parts[3].ctype, "text/html");
	T_STREQ(m.parts[4].filename, "x.zip");
	T_INTEQ(m.parts[4].decoded_len, 4);
	T_INTEQ(m.st.text_parts, 2);
	T_INTEQ(m.st.html_parts, 1);
	T_INTEQ(m.st.attachments, 1);
	T_INTEQ(m.st.base64_text, 1);
	T_INTEQ(m.st.missing_boundary, 0);
	T_STREQ(mime_header_get(&m, "subject")->value, "Hello there");
	T_STREQ(buf_cstr(&m.body),
	    "Hello there\n"
	    "Caf\xc3\xa9 visit http://Www.Example.COM/path?q=1.\n"
	    "second paragraph\n"
	    "Hi\n"
	    "click ");
	T_OK(strstr(buf_cstr(&m.rawbody), "<a href=") != NULL);
	T_OK(has_uri(&m, "http://www.example.com/path?q=1"));
	T_OK(has_uri(&m, "http://link.example/a"));
	T_INTEQ(m.uris.n, 2);
	mime_free(&m);
}

/* The analysis counters of an HTML part holding html. */
static struct mime_stats
html_stats(const char *html)
{
	struct buf msg;
	struct mime_msg m;
	struct mime_stats st;

	buf_init(&msg, BUF_UNLIMITED);
	(void)buf_printf(&msg, "Content-Type: text/html\n\n%s\n", html);
	mime_parse(&m, msg.data, msg.len, NULL);
	st = m.st;
	mime_free(&m);
	buf_free(&msg);
	return st;
}

/* <font face> values SpamAssassin's HTML_FONT_FACE_BAD calls bad, and
 * ones it accepts (from its Bug 5956/7312 ham examples). */
static void
test_html_font_face(void)
{
	static const struct { const char *face; int bad; } t[] = {
	    { "Arial", 0 },
	    { "\"Tahoma\", Verdana, Arial, sans-serif", 0 },
	    { "'Montserrat', sans-serif", 0 },
	    { "Arial,Helvetica,Sans-Serif;", 0 },
	    { ".SFUIDisplay", 0 },
	    { "hirakakupro-w3", 0 },
	    { "Wingdings2", 0 },
	    { "Wingdings 2", 1 },
	    { "  Courier New", 0 },
	    { "Arial ", 1 },
	    { "a", 1 },
	    { "Arial,,Verdana", 1 },
	    { "MS P\xe3\x82\xb4\xe3\x82\xb7\xe3\x83\x83\xe3\x82\xaf", 1 },
	    { "x7#3k", 1 },
	    { "Verdana, .Arial", 1 },
	    { "Verdana, ' Arial'", 1 },
	    { "' Arial', Verdana", 0 },
	    { "Arial12", 1 },
	    { "", 1 },
	    /* entities decoded first, as HTML::Parser gives the value */
	    { "Verdana, Helvetica, &#13;&#10;&#13;&#10;sans-serif", 0 },
	    { "Ari&#97;l", 0 },
	    { "&#49;Arial", 1 },
	    { "Arial&amp;Co", 1 },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		char html[256];

		snprintf(html, sizeof(html), strchr(t[i].face, '"') != NULL ?
		    "<p><font face='%s'>text</font></p>" : "<p><font face=\"%s\">text</font></p>",
		    t[i].face);
		T_INTEQ(html_stats(html).html_font_face_bad, t[i].bad);
	}
}

/* Text nearly the colour of its background, as SpamAssassin's
 * HTML_FONT_LOW_CONTRAST measures it (brightness-weighted distance
 * under 12): white-ish on white, dark on black; not grey on white. */
static void
test_html_low_contrast(void)
{
	static const struct { const char *html; unsigned n; } t[] = {
	    { "<p><font color=\"#fefefe\">hidden words</font></p>", 1 },
	    { "<p><font color=\"#f0f0f0\">pale words</font></p>", 1 },
	    { "<p><font color=\"#888888\">grey words</font></p>", 0 },
	    { "<div style=\"background: #000000\"><font color=\"#0a0a0a\">dark words</font></div>", 1 },
	    /* (not with bgcolor: below) */
	    { "<body bgcolor=\"#000000\" text=\"#0a0a0a\"><p>dark words</p></body>", 0 },
	    { "<p style=\"color: #ffffff; background-color: #ffffff\">white</p>", 1 },
	    { "<p>plain words</p>", 0 },
	    /* white on a dark cell: SpamAssassin does not apply bgcolor
	     * attributes, so it calls this low contrast too */
	    { "<table><tr><td bgcolor=\"#1e5c99\"><font color=\"#ffffff\">menu</font></td></tr></table>", 1 },
	    { "<table><tr><td style=\"background-color: #1e5c99\"><font color=\"#ffffff\">menu</font></td></tr></table>", 0 },
	    /* its own stack of text styles: no style sheet classes, tags
	     * it does not style (<strong>, <b>) close nothing, and the
	     * rest as spamassassin -t found each */
	    { "<style>p.t { color: #ffffff }</style><p class=\"t\">white words</p>", 0 },
	    { "<font color=\"#ffffff\"><b><font color=\"#f20000\">YOU </b>the </font></font>", 0 },
	    { "<span style=\"background-color:\">words</span>", 0 },
	    { "<span style=\"color: transparent\">words</span>", 1 },
	    { "<div style=\"background-color: #000000\"><span style=\"background-color: transparent\">"
	      "<font color=\"#010101\">words</font></span></div>", 1 },
	    { "<basefont color=\"#fefefe\">words", 1 },
	    { "<basefont size=4 color=\"#fefefe\">words", 0 },
	    { "<textarea><font color=\"#fefefe\"></textarea>words", 0 },
	    { "<font color=\"#fefefe\"></p>words", 1 },
	};

	for (size_t i = 0; i < NELEM(t); i++)
		T_INTEQ(html_stats(t[i].html).html_font_low_contrast > 0, t[i].n > 0);
}

/* Colours SpamAssassin's HTML parser cannot read (its
 * T_KAM_HTML_FONT_INVALID); every case checked against it. */
static void
test_html_invalid_color(void)
{
	static const struct { const char *html; int bad; } t[] = {
	    { "<font color=\"bluish\">text</font>", 1 },
	    { "<font color=\"#ff00gg\">text</font>", 1 },
	    { "<font color=\"darkblue\">text</font>", 0 },
	    { "<span style=\"color: purplish\">text</span>", 1 },
	    { "<table><tr><td style=\"background-color: notacolor\">text</td></tr></table>", 1 },
	    { "<font color=\" Red \">text</font>", 0 },
	    { "<font color=\"ff00\">text</font>", 1 },
	    { "<font color=\"ff0000\">text</font>", 1 },
	    { "<font color=\"\">text</font>", 1 },
	    { "<font color=\"transparent\">text</font>", 1 },
	    { "<span style=\"color: inherit\">text</span>", 0 },
	    { "<span style=\"color: #abc !important\">text</span>", 0 },
	    { "<div style=\"font-size: 2px; color: blurple\">text</div>", 1 },
	    { "<font color=\"rgb(1,2,3)\">text</font>", 0 },
	    { "<font color=\"#abcd\">text</font>", 0 },
	};

	for (size_t i = 0; i < NELEM(t); i++)
		T_INTEQ(html_stats(t[i].html).html_font_invalid_color > 0, t[i].bad);
}

/* <object>/<embed> and a form mailing its answers (SpamAssassin's
 * HTML_EMBEDS, FORM_ACTION_MAILTO). */
static void
test_html_embeds_form(void)
{
	struct mime_stats st = html_stats(
	    "<object data=\"x.swf\"></object><EMBED src=\"y.swf\">"
	    "<form action=\"MAILTO:orders@shop.example\"><input name=q></form>");

	T_INTEQ(st.html_embeds, 2);
	T_INTEQ(st.html_form_mailto, 1);
	T_INTEQ(st.html_forms, 1);
}

/* The largest font size as SpamAssassin's HTML parser counts it
 * (HTML_FONT_SIZE_LARGE/HUGE): 3 by default, size=N, size=+N from the
 * <basefont>, <big> only through a later tag it reads attributes of. */
static void
test_html_font_size(void)
{
	static const struct { const char *html; unsigned max; } t[] = {
	    { "<p>plain</p>", 3 },
	    { "<font size=\"5\">five</font>", 5 },
	    { "<font size=\"+2\">five</font>", 5 },
	    { "<basefont size=\"4\"><font size=\"+3\">seven</font>", 7 },
	    { "<font size=\"-1\">two</font>", 3 },
	    { "<big><big>big</big></big>", 3 },
	    { "<big><big><font color=\"red\">big</font></big></big>", 5 },
	    { "<font size=\"x\">odd</font>", 3 },
	};

	for (size_t i = 0; i < NELEM(t); i++)
		T_INTEQ(html_stats(t[i].html).html_font_max_size, t[i].max);
}

static void
test_html_tricks(void)
{
	const char *msg =
	    "Subject: x\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<html><body><font size=\"+4\">V<!-- x -->iag<b></b>ra</font>"
	    "<div style=\"display: none\">hidden words here</div>"
	    "<p>&#70;&#82;EE &amp; cheap</p>"
	    "<img src=\"http://img.example/i.gif\" width=400 height=300>"
	    "<a href=\"hxxp://evil.example\">x</a> "
	    "<a href=\"http://www.bank.example@3232235777/login\">bank</a> "
	    "<a href=\"http://%65vil.example/\">e</a>"
	    "<script>document.write('no')</script><blorp>"
	    "</body></html>\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), "x\nViagra\nFREE & cheap\nx bank e ");
	T_INTEQ(m.st.html_font_big, 1);
	T_INTEQ(m.st.html_obfuscated_words, 2);
	T_INTEQ(m.st.html_hidden, 1);
	T_INTEQ(m.st.html_entity_letters, 2);
	T_INTEQ(m.st.html_images, 1);
	T_INTEQ(m.st.html_image_area, 120000);
	T_INTEQ(m.st.html_scripts, 1);
	T_INTEQ(m.st.html_bad_tags, 1);
	T_INTEQ(m.st.html_embeds, 0);
	T_INTEQ(m.st.html_form_mailto, 0);
	T_OK(has_uri(&m, "http://img.example/i.gif"));
	T_OK(has_uri(&m, "http://evil.example/"));
	T_OK(has_uri(&m, "http://192.168.1.1/login"));
	T_OK(has_uri(&m, "http://evil.example/"));
	T_INTEQ(m.st.uri_numeric_host, 1);
	T_INTEQ(m.st.uri_numeric_encoded, 1);
	T_OK(m.st.uri_obfuscated >= 3);
	mime_free(&m);
}

/* Invisible text is text whose colour is the background's: white on a
 * coloured cell or under a font that sets a colour again is seen. */
static void
test_html_colors(void)
{
	static const struct {
		const char *html, *body;
		unsigned hidden;
	} cases[] = {
		/* white on the page's white: hidden */
		{ "<font color=\"#FFFFFF\">secret</font> seen", "x\n seen ", 1 },
		{ "<font color=white>a</font><font color=#fff>b</font> c", "x\n c ", 2 },
		/* white on a dark row or cell, old-style colours too */
		{ "<table><tr bgcolor=\"#003366\"><td><font color=\"#FFFFFF\">Announcing"
		  "</font></td></tr></table>", "x\n Announcing ", 0 },
		{ "<table bgcolor=003366><td><font color=ffffff>x</font>", "x\n x ", 0 },
		/* an inner font sets a visible colour again */
		{ "<font color=\"#FFFFFF\"><font color=\"#330066\">Contact us</font></font>",
		  "x\nContact us ", 0 },
		/* the cell ends, its background with it */
		{ "<table><tr><td bgcolor=black><font color=yellow>a</font>"
		  "<td><font color=white>b</font></table>",
		  "x\n a ", 1 },
		{ "<div style=\"background-color: #000\"><span style=\"color:#fff\">c"
		  "</span></div><span style='color: White'>d</span>", "x\n c ", 1 },
		/* near-white on white; black on black */
		{ "<font color=#f8f8f8>faint</font><p style=\"background:black;color:#000\">"
		  "dark</p>ok", "x\n\nok ", 2 },
		{ "<span style=\"color: rgb(255, 255, 255)\">r</span>"
		  "<span style=\"color:rgb(0,0,0)\">g</span>", "x\ng ", 1 },
		/* a font left open in a cell ends with the cell */
		{ "<table bgcolor=white><tr><td><font color=white>a<td>b"
		  "<tr><td bgcolor=red><font color=red>c<tr><td>d</table>",
		  "x\n b d ", 2 },
		/* what is hidden must be a word, not a dot or a dash */
		{ "<tr bgcolor=#183C8C><td><a href=x><font color=#183C8C>.</font></a>"
		  "</td></tr><font color=white>- &nbsp; !</font>", "x\n ", 0 },
		/* a background image: the colour behind the text is not known */
		{ "<td background=\"bg.gif\"><font color=white>img</font>", "x\n img ", 0 },
		{ "<div style=\"background: url(x.gif)\"><font color=white>u</font></div>",
		  "x\n u ", 0 },
		/* styles that hide, whatever the colour; inherited */
		{ "<div style=\"display:none\"><font color=red>a</font> b</div>c", "x\n\nc ", 1 },
		{ "<span style=\"font-size:0\">zero</span><i>one</i>", "x\none ", 1 },
		{ "<p hidden>a</p><span style=\"opacity: 0\">b</span>"
		  "<span style=\"opacity:0.8\">c</span>", "x\n\nc ", 2 },
		/* classes of the message's style sheet */
		{ "<style>.h{display:none} p.w { color: #fff }</style><span class=\"a h\">"
		  "secret</span><p class=w>white</p>seen", "x\n\nseen ", 2 },
		{ "<style>/* .c{display:none} */ @media screen { .m { visibility:hidden } }"
		  " .n, div .q {display:none}</style><i class=m>m</i> <i class=c>c</i> "
		  "<i class=n>n</i> <i class=q>q</i>", "x\n c q ", 2 },
		{ "<style><!--\n.g { color:#eee; background: #eeeeee }\n--></style>"
		  "<b class=g>gone</b> kept", "x\n kept ", 1 },
		{ "<style type=text/css>.dark{background:#000} .wt{color:white}</style>"
		  "<div class=dark><span class=wt>shown</span></div><span class=wt>gone"
		  "</span><span class=darker>ok</span>", "x\n shown ok ", 1 },
		{ NULL, NULL, 0 },
	};
	struct mime_msg m;
	struct buf msg;

	for (size_t i = 0; cases[i].html != NULL; i++) {
		buf_init(&msg, 1 << 16);
		buf_printf(&msg, "Subject: x\nContent-Type: text/html\n\n%s\n",
		    cases[i].html);
		mime_parse(&m, msg.data, msg.len, NULL);
		T_STREQ(buf_cstr(&m.body), cases[i].body);
		T_INTEQ(m.st.html_hidden, cases[i].hidden);
		mime_free(&m);
		buf_free(&msg);
	}

	/* a hidden letter still splits a word */
	buf_init(&msg, 1 << 16);
	buf_appends(&msg, "Subject: x\nContent-Type: text/html\n\n"
	    "<font color=white>cheap meds</font>Via<font color=#fff>x</font>gra"
	    "<div style=\"display:none\">y&#122;</div> ok\n");
	mime_parse(&m, msg.data, msg.len, NULL);
	T_STREQ(buf_cstr(&m.body), "x\n Viagra\nok ");
	T_INTEQ(m.st.html_hidden, 3);
	T_INTEQ(m.st.html_obfuscated_words, 1);
	mime_free(&m);
	buf_free(&msg);

	/* unclosed fonts, far more than the stack holds: colours still follow */
	buf_init(&msg, 1 << 16);
	buf_appends(&msg, "Subject: x\nContent-Type: text/html\n\n<body bgcolor=navy>");
	for (int i = 0; i < 200; i++)
		buf_appends(&msg, i % 2 ? "<font color=white>w " : "<font color=navy>n ");
	buf_appends(&msg, "\n");
	mime_parse(&m, msg.data, msg.len, NULL);
	T_INTEQ(m.st.html_hidden, 100);
	T_OK(strncmp(buf_cstr(&m.body), "x\n w w w", 8) == 0);
	mime_free(&m);
	buf_free(&msg);
}

/* Named entities: HTML 4's Latin-1 set and punctuation decoded to
 * UTF-8, the invisible ones dropped, unknown names left as written. */
static void
test_html_entities(void)
{
	const char *msg =
	    "Subject: x\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "caf&eacute; &Uuml;ber&nbsp;&yuml;&iexcl; 10&euro;&hellip; "
	    "V&shy;ia&zwnj;gra &bogus; &amp &copy;&trade; &#233;&#x263a;\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), "x\ncaf\xc3\xa9 \xc3\x9c" "ber \xc3\xbf\xc2\xa1 "
	    "10\xe2\x82\xac\xe2\x80\xa6 Viagra &bogus; & \xc2\xa9\xe2\x84\xa2"
	    " \xc3\xa9\xe2\x98\xba ");
	T_INTEQ(m.st.html_entity_letters, 0);
	mime_free(&m);
}

/* An image's alt text is body text where the image is, hidden where it
 * would be hidden, entities decoded, and not counted as text bytes. */
static void
test_html_alt(void)
{
	const char *msg =
	    "Subject: x\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<p>Best<img src=\"http://img.example/a.gif\" alt=\"  cheap &eacute;meds\n now \">"
	    "price</p><div style=\"display:none\"><img alt=\"secret words\"></div>"
	    "<img alt=\"\" src=b.gif><img alt=&amp;x>\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), "x\n\nBest cheap \xc3\xa9meds now price\n&x");
	T_INTEQ(m.st.html_text_bytes, 10);      /* "Best", " price" */
	T_INTEQ(m.st.html_images, 4);
	T_INTEQ(m.st.html_hidden, 1);
	T_INTEQ(m.st.html_obfuscated_words, 0);
	mime_free(&m);
}

/* The two readings of an HTML part: Tempest's own (hidden text out,
 * alt text in, a space at every block tag) and, with lim.sa_text,
 * SpamAssassin 4.0.1's (its body array for this message: "x", "",
 * "Bestprice", "hashbuster qwerty www.hiddenexample.com secret words",
 * "see tiny end", " Benefits.Click cell mid "; its URI list has the
 * hidden one).  Bayes reads Tempest's own either way. */
static void
test_sa_text(void)
{
	const char *msg =
	    SA_READING_MSG_START
	    "<div style=\"display:none\">secret words</div>"
	    "<p>see <span style=\"font-size:1px\">tiny</span> end</p>"
	    "<ul><li>Benefits.</ul><a href=\"http://b.example/\">Click</a>"
	    "<table><tr><td>cell</td></tr></table><center>mid</center>\n";
	const char *own = "x\n\nBest cheap meds price\nsee end\n Benefits. Click cell mid ";
	struct mime_limits lim = mime_default_limits;
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), own);
	T_OK(mime_bayes_body(&m) == &m.body);
	T_OK(!has_uri(&m, "http://www.hiddenexample.com/"));
	T_INTEQ(m.st.html_hidden, 3);
	mime_free(&m);

	lim.sa_text = 1;
	mime_parse(&m, msg, strlen(msg), &lim);
	T_STREQ(buf_cstr(&m.body), "x\n\nBestprice\nhashbuster qwerty "
	    "www.hiddenexample.com secret words\nsee tiny end\n Benefits.Click cell mid ");
	T_STREQ(buf_cstr(mime_bayes_body(&m)), own);
	T_OK(has_uri(&m, "http://img.example/a.gif"));
	T_OK(has_uri(&m, "http://www.hiddenexample.com/"));
	T_INTEQ(m.st.html_hidden, 3);
	mime_free(&m);
}

static void
test_anomalies(void)
{
	struct buf b;
	struct mime_msg m;
	struct mime_limits lim = mime_default_limits;

	/* huge header, 8-bit header, duplicate Subject, bad line, no MIME-Version,
	 * missing closing boundary, bad base64 */
	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "From some-mbox-line\n");
	(void)buf_appends(&b, "Subject: one\nSubject: two\nX-Long: ");
	for (int i = 0; i < 5000; i++)
		(void)buf_appendc(&b, 'x');
	(void)buf_appends(&b, "\nX-8bit: caf\xe9\nthis is not a header\n"
	    "Content-Type: multipart/mixed; boundary=B\n\n--B\n"
	    "Content-Transfer-Encoding: base64\n\nQUJD!!!RA\n");
	mime_parse(&m, b.data, b.len, NULL);
	T_INTEQ(m.st.hdr_long_lines, 1);
	T_INTEQ(m.st.hdr_8bit, 1);
	T_INTEQ(m.st.hdr_dup_single, 1);
	T_INTEQ(m.st.hdr_bad_lines, 1);
	T_INTEQ(m.st.mime_missing_version, 1);
	T_INTEQ(m.st.missing_boundary, 1);
	T_INTEQ(m.st.bad_base64, 3);
	T_OK(strstr(buf_cstr(&m.body), "ABCD") != NULL);
	T_INTEQ(mime_header_count(&m, "subject"), 2);
	mime_free(&m);
	buf_free(&b);

	/* depth limit: 50 nested multiparts, limit 5 */
	buf_init(&b, BUF_UNLIMITED);
	for (int i = 0; i < 50; i++)
		(void)buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	(void)buf_appends(&b, "\ndeep text\n");
	lim.max_depth = 5;
	mime_parse(&m, b.data, b.len, &lim);
	T_INTEQ(m.st.max_depth_seen, 5);
	T_OK(m.st.truncated > 0);
	T_OK(m.nparts <= 6);
	mime_free(&m);

	/* part limit */
	lim = mime_default_limits;
	lim.max_parts = 10;
	buf_reset(&b);
	(void)buf_appends(&b, "Content-Type: multipart/mixed; boundary=z\n\n");
	for (int i = 0; i < 100; i++)
		(void)buf_printf(&b, "--z\n\npart %d\n", i);
	(void)buf_appends(&b, "--z--\n");
	mime_parse(&m, b.data, b.len, &lim);
	T_INTEQ(m.nparts, 10);
	T_OK(m.st.truncated > 0);
	mime_free(&m);

	/* size limit */
	lim = mime_default_limits;
	lim.max_size = 100;
	mime_parse(&m, b.data, b.len, &lim);
	T_INTEQ(m.full_len, 100);
	mime_free(&m);
	buf_free(&b);

	/* empty and header-only input */
	mime_parse(&m, "", 0, NULL);
	T_INTEQ(m.nhdrs, 0);
	T_STREQ(buf_cstr(&m.body), "\n");      /* no Subject: a newline */
	mime_free(&m);
	mime_parse(&m, "Subject: s", 10, NULL);
	T_STREQ(mime_header_get(&m, "Subject")->value, "s");
	mime_free(&m);
}

/* Where lib-spam's old parser differed from lib-imap's (doc/mime.md):
 * the lib-mail rules as the analysis sees them. */
static void
test_edges(void)
{
	struct mime_msg m;
	const char *msg;

	/* "\r\r\n" is no empty line: a malformed header line */
	msg = "Subject: a\r\r\n\r\r\nX-Next: b\r\n\r\nbody\r\n";
	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.st.hdr_bad_lines, 1);
	T_INTEQ(mime_header_count(&m, "x-next"), 1);
	T_STREQ(buf_cstr(&m.body), "a\nbody ");
	mime_free(&m);

	/* an unclosed multipart ending in a delimiter line: an empty part;
	 * Content-Type read from the raw value, file names decoded */
	msg = "Content-Type: multipart/mixed; boundary=B\n\n--B\n"
	    "Content-Type: text / html ; charset=\"UTF-8\"\n\n<p>hi</p>\n--B\n"
	    "Content-Type: application/pdf;\n name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\n"
	    "Content-Disposition: attachmentX\n\nJVBERg==\n--B\n";
	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.nparts, 4);
	T_STREQ(m.parts[1].ctype, "text/html");
	T_STREQ(m.parts[1].charset, "utf-8");
	T_STREQ(m.parts[2].filename, "r\xc3\xa9sum\xc3\xa9.pdf");
	T_OK(m.parts[2].is_attachment);
	T_STREQ(m.parts[3].ctype, "text/plain");
	T_INTEQ(m.st.missing_boundary, 1);
	mime_free(&m);

	/* the disposition is a token: "attachmentX" is not "attachment" */
	msg = "Content-Type: application/pdf\nContent-Disposition: attachmentX\n\nx\n";
	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.parts[0].is_attachment, 0);
	mime_free(&m);
	msg = "Content-Type: application/pdf\nContent-Disposition: Attachment ;\n\nx\n";
	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.parts[0].is_attachment, 1);
	mime_free(&m);
}

static void
test_uri_text(void)
{
	struct uri_list l = { NULL, 0, 100 };
	struct mime_stats st;
	const char *t = "see www.Foo.example, mailto:Bob@X.example or "
	    "(http://0x7f000001:8080/x) and ftp.files.example/pub and nothttp://no";

	memset(&st, 0, sizeof(st));
	uri_extract_text(&l, t, strlen(t), &st);
	/* (no list of other forms: they follow each canonical one) the
	 * form as written when it differs, then the canonical one with its
	 * port (for uri rules such as SpamAssassin's WEIRD_PORT) */
	T_INTEQ(l.n, 7);
	if (l.n < 7)
		return;
	T_STREQ(l.v[0], "http://www.foo.example/");
	T_STREQ(l.v[1], "http://www.Foo.example");
	T_STREQ(l.v[2], "mailto:bob@x.example");
	T_STREQ(l.v[3], "http://127.0.0.1/x");
	T_STREQ(l.v[4], "http://0x7f000001:8080/x");
	T_STREQ(l.v[5], "http://127.0.0.1:8080/x");
	T_STREQ(l.v[6], "ftp://ftp.files.example/pub");
	{
		char *h = uri_host(l.v[3]);
		T_STREQ(h, "127.0.0.1");
		free(h);
	}
	uri_list_free(&l);
}

/* Host names outside ASCII to IDNA (expected: SpamAssassin's
 * idn_to_ascii() on the same bytes), and text URIs through them in
 * SpamAssassin's reading. */
static void
test_uri_idn(void)
{
	static const struct {
		const char *in, *out;
		int r;
	} t[] = {
		{ "caf\xc3\xa9.com", "xn--caf-dma.com", 1 },
		{ "\xfc" "ber.de", "xn--ber-goa.de", 1 },            /* Latin-1 */
		{ "www.\xe4\xbe\x8b\xe3\x80\x82\xe4\xb8\xad\xe5\x9b\xbd",
		  "www.xn--fsq.xn--fiqs8s", 1 },                     /* U+3002 */
		{ "b\xc3\x9c" "cher.de", "xn--bcher-kva.de", 1 },   /* mapped */
		{ "x\xe2\x80\xa4y.com", "x.y.com", 1 },
		{ "a\xff\xfe.com", "a\xff\xfe.com", 0 },
		{ "example.com", "example.com", 0 },
	};
	struct uri_list l = { NULL, 0, 100 };
	const char *text = "see http://caf\xc3\xa9.com/x here, "
	    "www.aacsb.edu.\xe5\x8e\xbb\xe6\x9f\xa5\xe8\xaf\xa2\xe3\x80\x82 now";

	for (size_t i = 0; i < NELEM(t); i++) {
		char h[64];
		size_t n = strlen(t[i].in);
		memcpy(h, t[i].in, n + 1);
		T_INTEQ(uri_idn_ascii(h, &n, sizeof(h)), t[i].r);
		T_STREQ(h, t[i].out);
		T_INTEQ(n, strlen(t[i].out));
	}
	l.sa = 1;
	uri_extract_text(&l, text, strlen(text), NULL);
	T_INTEQ(l.n, 4);
	if (l.n == 4) {
		T_STREQ(l.v[0], "http://xn--caf-dma.com/x");
		T_STREQ(l.v[1], "http://caf\xc3\xa9.com/x");
		/* one URI, its last label no TLD (the scan then drops it) */
		T_STREQ(l.v[2], "http://www.aacsb.edu.xn--1nr228byj0a/");
	}
	uri_list_free(&l);

	/* Tempest's own reading: an IDN host runs on, CJK text after a
	 * whole name and a Unicode space do not */
	memset(&l, 0, sizeof(l));
	l.max = 100;
	text = "see http://\xd0\xb0pple.com/login now, http://caf\xc3\xa9.com/p\xc3\xa9ge, "
	    "www.\xe4\xbe\x8b\xe3\x80\x82\xe4\xb8\xad\xe5\x9b\xbd/ y, "
	    "www.aacsb.edu.\xe5\x8e\xbb\xe6\x9f\xa5 z, http://a.example.com\xe8\x8e\xb7 "
	    "and http://b.example\xc2\xa0x";
	uri_extract_text(&l, text, strlen(text), NULL);
	{
		static const char *const want[] = {
			"http://xn--pple-43d.com/login", "http://\xd0\xb0pple.com/login",
			"http://xn--caf-dma.com/p", "http://caf\xc3\xa9.com/p",
			"http://www.xn--fsq.xn--fiqs8s/",
			"http://www.\xe4\xbe\x8b\xe3\x80\x82\xe4\xb8\xad\xe5\x9b\xbd/",
			"http://www.aacsb.edu/", "http://www.aacsb.edu",
			"http://a.example.com/", "http://a.example.com",
			"http://b.example/", "http://b.example",
		};
		T_INTEQ(l.n, NELEM(want));
		for (size_t i = 0; i < l.n && i < NELEM(want); i++)
			T_STREQ(l.v[i], want[i]);
	}
	uri_list_free(&l);
}

/* Addresses written in text are listed as mailto: URIs among the other
 * forms (SpamAssassin's uri rules see them: __UNSUB_LINK), not ones
 * inside a URI; a URI's form with its port goes there too, and the
 * URI as written when it differs from the canonical form (a www. one
 * with its http://), as SpamAssassin lists both. */
static void
test_uri_text_also(void)
{
	struct uri_list also = { NULL, 0, 100, NULL };
	struct uri_list l = { NULL, 0, 100, &also };
	const char *t = "To leave, write to Unsubscribe-Me@Lists.Example.com or see "
	    "http://user@www.example.org:8081/x, mailto:joe@example.net and "
	    "bob.smith@example.net. Not: a@b, x@localhost, @example.org. "
	    "Also http://%77ww.Example.net/%41b, WWW.example.com/a and "
	    "http://example.com/as-is";

	uri_extract_text(&l, t, strlen(t), NULL);
	T_INTEQ(l.n, 5);
	T_INTEQ(also.n, 7);
	if (l.n == 5 && also.n == 7) {
		T_STREQ(l.v[0], "http://www.example.org/x");
		T_STREQ(l.v[1], "mailto:joe@example.net");
		T_STREQ(l.v[2], "http://www.example.net/%41b");
		T_STREQ(l.v[3], "http://www.example.com/a");
		T_STREQ(l.v[4], "http://example.com/as-is");
		T_STREQ(also.v[0], "mailto:unsubscribe-me@lists.example.com");
		/* as written, then with its port */
		T_STREQ(also.v[1], "http://user@www.example.org:8081/x");
		T_STREQ(also.v[2], "http://www.example.org:8081/x");
		T_STREQ(also.v[3], "mailto:bob.smith@example.net");
		/* with its escapes decoded (SpamAssassin's url_encode), then
		 * as written */
		T_STREQ(also.v[4], "http://www.Example.net/Ab");
		T_STREQ(also.v[5], "http://%77ww.Example.net/%41b");
		T_STREQ(also.v[6], "http://WWW.example.com/a");
	}
	uri_list_free(&l);
	uri_list_free(&also);
}

/* URIs as SpamAssassin's uri rules see them: one in an attribute over
 * two lines is joined; escapes of 0x21-0x7e but 0x7f decoded, others
 * kept, a blank escaped; the URIs written in an HTML part's text too;
 * an attribute's URI without a scheme among the other forms, as written
 * and (not a fragment, not relative to the page) with http://. */
static void
test_uri_sa_forms(void)
{
	static const char msg[] =
	    "Subject: x\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<a href=\"http://%31%30%41%2F%20x\n%31@%34%2E%34.5.6/a b\">go</a>\n"
	    "Click here: http://10.0.0.1:81/li/\n"
	    "<img src=304704><img src=\"./x/y.gif\"><a href=\"#top\">t</a>\n";
	struct mime_msg m;
	int joined = 0, decoded = 0, relative = 0;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_OK(has_uri(&m, "http://4.4.5.6/a b"));
	T_OK(has_uri(&m, "http://10.0.0.1/li/"));
	for (size_t i = 0; i < m.uris_also.n; i++) {
		joined += strcmp(m.uris_also.v[i],
		    "http://%31%30%41%2F%20x%31@%34%2E%34.5.6/a b") == 0;
		decoded += strcmp(m.uris_also.v[i], "http://10A/%20x1@4.4.5.6/a%20b") == 0;
		/* an attribute's URI without a scheme as written, and as
		 * http:// (not one relative to the page, not a fragment) */
		relative += strcmp(m.uris_also.v[i], "http://304704") == 0;
		relative += 10 * (strcmp(m.uris_also.v[i], "304704") == 0 ||
		    strcmp(m.uris_also.v[i], "./x/y.gif") == 0 ||
		    strcmp(m.uris_also.v[i], "#top") == 0);
		relative += 1000 * (strstr(m.uris_also.v[i], "://x/y.gif") != NULL ||
		    strstr(m.uris_also.v[i], "://#top") != NULL);
	}
	T_INTEQ(joined, 1);
	T_INTEQ(decoded, 1);
	T_INTEQ(relative, 31);
	for (size_t i = 0; i < m.uris.n; i++)
		T_OK(strstr(m.uris.v[i], "304704") == NULL);
	mime_free(&m);
}

/* Numeric hosts: every form is canonicalised to a dotted quad and
 * counted in uri_numeric_host; only the forms other than a plain dotted
 * quad (one number, hex or octal parts, fewer than four parts) in
 * uri_numeric_encoded. */
static void
test_uri_numeric(void)
{
	static const struct {
		const char *in, *out;
		unsigned numeric, encoded;
	} cases[] = {
		{ "http://192.168.0.1/x", "http://192.168.0.1/x", 1, 0 },
		{ "http://10.0.0.0:81/", "http://10.0.0.0/", 1, 0 },
		{ "http://3232235777/x", "http://192.168.1.1/x", 1, 1 },
		{ "http://0xC0A80001/x", "http://192.168.0.1/x", 1, 1 },
		{ "http://0300.0250.0.1/x", "http://192.168.0.1/x", 1, 1 },
		{ "http://0xc0.0xa8.0.1/x", "http://192.168.0.1/x", 1, 1 },
		{ "http://192.168.01.1/x", "http://192.168.1.1/x", 1, 1 },
		{ "http://127.1/x", "http://127.0.0.1/x", 1, 1 },
		{ "http://192.168.1/x", "http://192.168.0.1/x", 1, 1 },
		{ "http://1.2.3.256/x", "http://1.2.3.256/x", 0, 0 },
		{ "http://4294967296/x", "http://4294967296/x", 0, 0 },
		{ "http://1.2.3.4.5/x", "http://1.2.3.4.5/x", 0, 0 },
		{ "http://123.example/x", "http://123.example/x", 0, 0 },
		/* a %-encoded delimiter ends the host; the rest is path */
		{ "http://8%31%2E%39.%38.%34%2Fnew%2Floan/x",
		  "http://81.9.8.4/new%2Floan/x", 1, 0 },
		{ "http://spam.example%3Fid=1", "http://spam.example?id=1", 0, 0 },
		{ "http://spam.example%23a/b", "http://spam.example#a/b", 0, 0 },
		{ "http://spam.example%5cx", "http://spam.example/x", 0, 0 },
		{ "http://spam.example%2F", "http://spam.example/", 0, 0 },
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		struct uri_list also = { NULL, 0, 100, NULL };
		struct uri_list l = { NULL, 0, 100, &also };
		struct mime_stats st;

		memset(&st, 0, sizeof(st));
		uri_extract_text(&l, cases[i].in, strlen(cases[i].in), &st);
		/* (the other forms, as written and with the port:
		 * test_uri_text; "http://10.0.0.0:81/" is both) */
		T_INTEQ(l.n, 1);
		if (l.n >= 1)
			T_STREQ(l.v[0], cases[i].out);
		/* the form as written among them when it differs (and one
		 * with its escapes decoded where it has any) */
		if (strcmp(cases[i].in, cases[i].out) == 0)
			T_INTEQ(also.n, 0);
		else {
			int found = 0;
			for (size_t k = 0; k < also.n; k++)
				found += strcmp(also.v[k], cases[i].in) == 0;
			T_INTEQ(found, 1);
			T_INTEQ(also.n, strchr(cases[i].in, '%') != NULL ? 2 : 1);
		}
		T_INTEQ(st.uri_numeric_host, cases[i].numeric);
		T_INTEQ(st.uri_numeric_encoded, cases[i].encoded);
		uri_list_free(&l);
		uri_list_free(&also);
	}
}

/* uri_resolve(): SpamAssassin 4.0.1's HTML.pm target_uri() on the same
 * pairs (400 random ones agreed when it was written; these among them). */
static void
test_uri_resolve(void)
{
	static const char *const t[][3] = {
		{ "http://a.example/dir/page.html", "./b/b/b//..?x=1", "http://a.example/dir/b/b/b/?x=1" },
		{ "http://a.example/dir/sub?q=1#f", "/0/b/../0?", "http://a.example/0/0?" },
		{ "http://a.example/dir/sub?q=1#f", "http:./../../b", "http://a.example/b" },
		{ "ftp://f.example/p/", "//www.c.example/?a#b", "ftp://www.c.example/?a#b" },
		{ "", "/x.html/b/..#frag", "/x.html/#frag" },
		{ "", "//www.c.example/#frag", "http://www.c.example/#frag" },
		{ "http://a.example/dir/page.html", "https:../a/a/x.html", "https:/a/a/x.html" },
		{ "http://a.example", "a#frag", "http://a.example/a#frag" },
		{ "https://b.example/x/y/", "./?", "https://b.example/x/y/?" },
		{ "https://b.example/x/y/", "http://e.example/?a#b", "http://e.example/?a#b" },
		{ "http://a.example/a/b/c/d", "../", "http://a.example/a/b/" },
		{ "http://a.example/a/b/c/d", "./0?x=1", "http://a.example/a/b/c/0?x=1" },
	};

	for (size_t i = 0; i < NELEM(t); i++) {
		char *r = uri_resolve(t[i][0], t[i][1]);
		if (strcmp(r, t[i][2]) != 0)
			fprintf(stderr, "uri_resolve(%s, %s) = %s\n", t[i][0], t[i][1], r);
		T_STREQ(r, t[i][2]);
		free(r);
	}
}

/* The URIs SpamAssassin's HTML parser reads besides links and images: a
 * <base href> (itself, and what later relative links resolve against;
 * an <a>'s href as written too), background=, <script>, <embed>,
 * <bgsound> src=, <meta http-equiv=refresh> url=, data-saferedirecturl=
 * (the same list as its get_uri_list() for this message, but for the
 * relative forms it keeps as written). */
static void
test_html_more_uris(void)
{
	static const char msg[] =
	    "From: a@b.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n"
	    "<html><head><a href=\"rel0.html\">x</a>"
	    "<meta http-equiv=\"Refresh\" content=\"0; URL = http://r.example/x ; y\">"
	    "<script src=\"http://s.example/a.js\"></script>"
	    "<base href=\" http://200.43.112.5/dir/index.html \"></head>"
	    "<body background=\"http://64.70.215.158/images//Gauze.jpg\">"
	    "<table><tr><td background=\"http://td.example/x.gif\">x</td></tr></table>"
	    "<embed src=\"http://e.example/m.swf\"><bgsound src=\"http://b.example/s.mid\">"
	    "<a href=\"/mhg/?aid=1\">a</a><a href=\"x/y.gif\">b</a><img src=\"../img/z.jpg\">"
	    "<a href=\"http://h.example/\" data-saferedirecturl=\"https://www.google.com/"
	    "url?q=http://h.example/\">l</a>"
	    "<base href=\"ftp://f.example/pub\"><a href=\"file.txt\">f</a></body></html>\n";
	static const char *const want[] = {
		"http://r.example/x", "http://s.example/a.js",
		"http://200.43.112.5/dir/index.html", "http://64.70.215.158/images//Gauze.jpg",
		"http://td.example/x.gif", "http://e.example/m.swf", "http://b.example/s.mid",
		"http://200.43.112.5/mhg/?aid=1", "http://200.43.112.5/dir/x/y.gif",
		"http://200.43.112.5/img/z.jpg", "http://h.example/",
		"https://www.google.com/url?q=http://h.example/", "ftp://f.example/pub",
		"ftp://f.example/pub/file.txt",
	};
	struct mime_msg m;
	int relative_too = 0;

	mime_parse(&m, msg, sizeof(msg) - 1, NULL);
	for (size_t i = 0; i < NELEM(want); i++) {
		if (!has_uri(&m, want[i]))
			fprintf(stderr, "missing URI %s\n", want[i]);
		T_OK(has_uri(&m, want[i]));
	}
	/* the <a href> as written, relative (before a base, and besides the
	 * resolved one after it) */
	for (size_t i = 0; i < m.uris_also.n; i++)
		relative_too += strcmp(m.uris_also.v[i], "http://rel0.html") == 0 ||
		    strcmp(m.uris_also.v[i], "http://x/y.gif") == 0;
	T_INTEQ(relative_too, 2);
	T_OK(!has_uri(&m, "http://200.43.112.5/dir/rel0.html"));
	mime_free(&m);
}

/* An HTML part of body (MIME header and all) parsed into *m. */
static void
html_msg(struct mime_msg *m, struct buf *msg, const char *ctype, const char *body)
{
	buf_reset(msg);
	(void)buf_printf(msg, "From: a@b.example\nSubject: x\nContent-Type: %s; "
	    "charset=utf-8\n\n%s\n", ctype, body);
	mime_parse(m, msg->data, msg->len, NULL);
}

/* Hostile HTML at the parser's limits: many <title>s or comments
 * never closed (each read once, not to the part's end again: the
 * texts as they were), attributes past the 24th that an element uses,
 * an href after more than its 8 KiB buffer of white space, IDN
 * attempts in a run of junk before a real IDN name, image areas past
 * 2^64. */
static void
test_html_hostile_limits(void)
{
	struct buf b, want, msg;
	struct mime_msg m;

	buf_init(&b, BUF_UNLIMITED);
	buf_init(&want, BUF_UNLIMITED);
	buf_init(&msg, BUF_UNLIMITED);

	/* 100 <title>s closed by one "</title", 50 more never closed: each
	 * title's text is the rest up to the "</title" (or the end) */
	for (int i = 0; i < 100; i++)
		(void)buf_appends(&b, "<title>");
	(void)buf_appends(&b, "A&amp;B</title>x");
	for (int i = 0; i < 50; i++)
		(void)buf_appends(&b, "<title>");
	(void)buf_appends(&b, "&lt;b");
	for (int i = 0; i < 100; i++) {
		(void)buf_appendc(&want, '\0');
		for (int k = i + 1; k < 100; k++)
			(void)buf_appends(&want, "<title>");
		(void)buf_appends(&want, "A&B");
	}
	for (int i = 0; i < 50; i++) {
		(void)buf_appendc(&want, '\0');
		for (int k = i + 1; k < 50; k++)
			(void)buf_appends(&want, "<title>");
		(void)buf_appends(&want, "<b\n");
	}
	html_msg(&m, &msg, "text/html", buf_cstr(&b));
	T_INTEQ(m.html_texts[HTML_TEXT_TITLE].len, want.len);
	T_OK(m.html_texts[HTML_TEXT_TITLE].len == want.len &&
	    memcmp(m.html_texts[HTML_TEXT_TITLE].data, want.data, want.len) == 0);
	mime_free(&m);

	/* 20,000 never closed: the first fills the list (64 KiB) */
	buf_reset(&b);
	for (int i = 0; i < 20000; i++)
		(void)buf_appends(&b, "<title>");
	html_msg(&m, &msg, "text/html", buf_cstr(&b));
	T_INTEQ(m.html_texts[HTML_TEXT_TITLE].len, 64 * 1024);
	T_OK(m.html_texts[HTML_TEXT_TITLE].len == 64 * 1024 &&
	    m.html_texts[HTML_TEXT_TITLE].data[0] == '\0' &&
	    memcmp(m.html_texts[HTML_TEXT_TITLE].data + 1, b.data + 7, 64 * 1024 - 1) == 0);
	mime_free(&m);

	/* a closed comment, then 5,000 "<!--" never closed, each ending at
	 * its '>' */
	buf_reset(&b);
	buf_reset(&want);
	(void)buf_appends(&b, "<!-- a -->");
	(void)buf_append(&want, "\0<!-- a -->", 11);
	for (int i = 0; i < 5000; i++) {
		(void)buf_appends(&b, "<!--x>");
		(void)buf_append(&want, "\0<!--x>", 7);
	}
	(void)buf_appends(&b, "<p>after");
	html_msg(&m, &msg, "text/html", buf_cstr(&b));
	T_INTEQ(m.st.html_comments, 5001);
	T_INTEQ(m.html_texts[HTML_TEXT_COMMENT].len, want.len);
	T_OK(m.html_texts[HTML_TEXT_COMMENT].len == want.len &&
	    memcmp(m.html_texts[HTML_TEXT_COMMENT].data, want.data, want.len) == 0);
	T_OK(strstr(buf_cstr(&m.body), "after") != NULL);
	mime_free(&m);

	/* attributes past the 24th: the ones an element uses count (the
	 * first of a name repeated) */
	buf_reset(&b);
	(void)buf_appends(&b, "<a");
	for (int i = 0; i < 30; i++)
		(void)buf_printf(&b, " x%d", i);
	(void)buf_appends(&b, " href=\"http://evil.example/\">x</a><a");
	for (int i = 0; i < 30; i++)
		(void)buf_appends(&b, " style=a");
	(void)buf_appends(&b, " href=http://dup.example/ href=http://second.example/>y</a><span");
	for (int i = 0; i < 30; i++)
		(void)buf_printf(&b, " data-%d=1", i);
	(void)buf_appends(&b, " style=\"display:none\">hidden</span> shown<img");
	for (int i = 0; i < 30; i++)
		(void)buf_printf(&b, " y%d", i);
	(void)buf_appends(&b, " src=\"http://img.example/a.gif\" width=2 height=3>");
	html_msg(&m, &msg, "text/html", buf_cstr(&b));
	T_OK(has_uri(&m, "http://evil.example/"));
	T_OK(has_uri(&m, "http://dup.example/"));
	T_OK(!has_uri(&m, "http://second.example/"));
	T_OK(has_uri(&m, "http://img.example/a.gif"));
	T_INTEQ(m.st.html_image_area, 6);
	T_OK(strstr(buf_cstr(&m.body), "hidden") == NULL);
	T_OK(strstr(buf_cstr(&m.body), "shown") != NULL);
	mime_free(&m);

	/* an href after 9,000 blanks and 9,000 blanks as entities */
	buf_reset(&b);
	(void)buf_appends(&b, "<a href=\"");
	for (int i = 0; i < 9000; i++)
		(void)buf_appends(&b, i % 2 ? " " : "\t");
	(void)buf_appends(&b, "http://ws.example/\">x</a><a href=\"");
	for (int i = 0; i < 9000; i++)
		(void)buf_appends(&b, i % 2 ? "&#32;" : "&#x9;");
	(void)buf_appends(&b, " &shy;http://ent.example/ \">y</a>");
	html_msg(&m, &msg, "text/html", buf_cstr(&b));
	T_OK(has_uri(&m, "http://ws.example/"));
	T_OK(has_uri(&m, "http://ent.example/"));
	T_OK(memmem(m.html_texts[HTML_TEXT_HREF].data, m.html_texts[HTML_TEXT_HREF].len,
	    "1:18:http://ws.example/x", 24) != NULL);
	T_OK(memmem(m.html_texts[HTML_TEXT_HREF].data, m.html_texts[HTML_TEXT_HREF].len,
	    "1:19:http://ent.example/y", 25) != NULL);
	mime_free(&m);

	/* text: 200 runs of 84 "×www." (no IDN host), then an IDN one */
	buf_reset(&b);
	for (int i = 0; i < 200; i++) {
		for (int k = 0; k < 84; k++)
			(void)buf_appends(&b, "\xc3\x97www.");
		(void)buf_appendc(&b, ' ');
	}
	(void)buf_appends(&b, "www.caf\xc3\xa9.com/x \xc3\x97www.caf\xc3\xa9.com/y");
	html_msg(&m, &msg, "text/plain", buf_cstr(&b));
	T_OK(has_uri(&m, "http://www.xn--caf-dma.com/x"));
	T_OK(has_uri(&m, "http://www.xn--caf-dma.com/y"));
	for (size_t i = 0; i < m.uris.n; i++)
		T_OK(strstr(m.uris.v[i], "caf") != NULL);       /* those only */
	mime_free(&m);

	/* image areas past 2^64 stop there (not 0: its text is then as
	 * small a part of it as SpamAssassin's floating point makes it) */
	T_OK(html_stats("<img width=4294967296 height=4294967296 src=x>x")
	    .html_part_image_area[0] == ~0UL);
	T_OK(html_stats("<img width=4294967296 height=2147483648 src=x>"
	    "<img width=4294967296 height=2147483648 src=x>x").html_part_image_area[0] ==
	    ~0UL);
	T_INTEQ(html_stats("<img width=4000 height=3000 src=x><img width=2 height=3 src=x>x")
	    .html_part_image_area[0], 12000006);

	buf_free(&b);
	buf_free(&want);
	buf_free(&msg);
}

/* A message/rfc822 part in base64 and a message/global part in
 * quoted-printable: each is decoded and walked as the embedded message
 * it is (its text, HTML and URIs count), one level down; past the depth
 * limit it is only counted as truncated. */
static void
test_encoded_message(void)
{
	const char *msg =
	    "From: a@b.example\r\n"
	    "Subject: fwd\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"OUT\"\r\n"
	    "\r\n"
	    "--OUT\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "outer\r\n"
	    "--OUT\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "RnJvbTogeEBzcGFtLmV4YW1wbGUNClN1YmplY3Q6IGlubmVyDQpDb250ZW50LVR5cGU6IHRleHQv\r\n"
	    "aHRtbA0KDQo8cD5DaGVhcCA8Yj5waWxsczwvYj4gPGEgaHJlZj0iaHR0cDovL3BpbGxzLmV4YW1w\r\n"
	    "bGUvYnV5Ij5oZXJlPC9hPjwvcD4NCg==\r\n"
	    "--OUT\r\n"
	    "Content-Type: message/global\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "From: y@spam.example\r\n"
	    "Subject: inner2\r\n"
	    "Content-Type: text/plain; charset=3Dutf-8\r\n"
	    "\r\n"
	    "Caf=C3=A9 deals\r\n"
	    "--OUT--\r\n";
	struct mime_limits lim = mime_default_limits;
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(m.nparts, 6);
	T_STREQ(m.parts[2].ctype, "message/rfc822");
	T_INTEQ(m.parts[2].depth, 1);
	T_STREQ(m.parts[3].ctype, "text/html");
	T_INTEQ(m.parts[3].depth, 2);
	T_STREQ(m.parts[4].ctype, "message/global");
	T_STREQ(m.parts[5].ctype, "text/plain");
	T_STREQ(m.parts[5].charset, "utf-8");
	T_INTEQ(m.parts[5].depth, 2);
	T_INTEQ(m.st.max_depth_seen, 2);
	T_INTEQ(m.st.attachments, 0);
	T_INTEQ(m.st.text_parts, 3);
	T_INTEQ(m.st.truncated, 0);
	T_STREQ(buf_cstr(&m.body), "fwd\nouter\nCheap pills here\nCaf\xc3\xa9 deals ");
	T_OK(has_uri(&m, "http://pills.example/buy"));
	/* the top message's headers only */
	T_STREQ(mime_header_get(&m, "subject")->value, "fwd");
	mime_free(&m);

	lim.max_depth = 1;
	mime_parse(&m, msg, strlen(msg), &lim);
	T_INTEQ(m.nparts, 4);
	T_INTEQ(m.st.truncated, 2);
	T_STREQ(buf_cstr(&m.body), "fwd\nouter ");
	T_INTEQ(m.uris.n, 0);
	mime_free(&m);
}

/* The texts SpamAssassin's html_text_match() reads, as its HTML parser
 * gives them for this message (printed by SpamAssassin 4.0.1), the
 * part's length and the tags left open. */
static void
test_html_texts(void)
{
	static const char comments[] = "\0<!DOCTYPE -//w3c//dtd html>"
	    "\0<!-- saved from url=(0022)http://example.com/ -->\0<!x>\0<!--#rotate>";
	static const char anchors[] = "\0Click here & win<img>\n";
	static const char titles[] = "\0Big & bold offer";
	struct mime_msg m;

	mime_parse(&m, html_eval_msg, strlen(html_eval_msg), NULL);
	T_INTEQ(m.html_texts[HTML_TEXT_COMMENT].len, sizeof(comments) - 1);
	T_OK(memcmp(m.html_texts[HTML_TEXT_COMMENT].data, comments, sizeof(comments) - 1) == 0);
	T_INTEQ(m.html_texts[HTML_TEXT_ANCHOR].len, sizeof(anchors) - 1);
	T_OK(memcmp(m.html_texts[HTML_TEXT_ANCHOR].data, anchors, sizeof(anchors) - 1) == 0);
	T_INTEQ(m.html_texts[HTML_TEXT_TITLE].len, sizeof(titles) - 1);
	T_OK(memcmp(m.html_texts[HTML_TEXT_TITLE].data, titles, sizeof(titles) - 1) == 0);
	T_INTEQ(m.st.html_parts_kept, 1);
	T_INTEQ(m.st.html_part_len[0], 267);
	T_INTEQ(m.st.html_part_balance[0][0], 0);       /* body */
	T_INTEQ(m.st.html_part_balance[0][1], 0);       /* head */
	T_INTEQ(m.st.html_part_balance[0][2], 2);       /* center */
	/* the rest of the page after the "<!--" never closed is text */
	T_OK(strstr(buf_cstr(&m.body), "after") != NULL);
	mime_free(&m);
}

/* SpamAssassin's parser's notes (check_msg_parse_flags): the flags
 * SpamAssassin 4.0.1's Mail::SpamAssassin::Message sets for the same
 * messages. */
static void
test_sa_parse_flags(void)
{
	static const struct {
		const char *msg;
		unsigned flags;
	} t[] = {
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "Content-Type: message/rfc822\n"
		    "\n"
		    "From: c@d.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b2\"\n"
		    "\n"
		    "--b2\n"
		    "\n"
		    "no headers\n"
		    "--b2--\n"
		    "inner epilogue\n"
		    "\n"
		    "--b1--\n",
		    MIME_SA_MIME_HEADERS | MIME_SA_EPILOGUE },
		{ "From: a@b.example\n"
		    "bad one\n"
		    "bad two\n"
		    "bad three\n"
		    "Subject: x\n"
		    "\n"
		    "body\n",
		    0 },
		{ "From: a@b.example\n"
		    "bad one\n"
		    "bad two\n"
		    "bad three\n"
		    "bad four\n"
		    "Subject: x\n"
		    "\n"
		    "body\n",
		    MIME_SA_HB_SEP },
		{ "From: a@b.example\r\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		    "\r\n"
		    "--b1\r\n"
		    "Content-Type: text/plain\r\n"
		    "\r\n"
		    "one\r\n"
		    "--b1--\r\n",
		    0 },
		{ "From: a@b.example\n"
		    "Subject: x\n",
		    MIME_SA_HB_SEP },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "Content-Type: text/plain\n"
		    "\n"
		    "one\n"
		    "--b1--\n"
		    "list footer\n",
		    MIME_SA_EPILOGUE },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "Content-Type: text/plain\n"
		    "\n"
		    "one\n"
		    "--b1--\n"
		    " .\n"
		    "\n",
		    0 },
		{ "From: a@b.example\n"
		    "Subject: x\n"
		    "--b1\n"
		    "body\n",
		    MIME_SA_HB_SEP },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "Content-Type: text/plain\n"
		    "text right away\n"
		    "--b1--\n",
		    MIME_SA_MIME_HB_SEP },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "Content-Type: multipart/alternative; boundary=\"b2\"\n"
		    "\n"
		    "--b2\n"
		    "Content-Type: text/plain\n"
		    "\n"
		    "x\n"
		    "--b2--\n"
		    "nested epilogue\n"
		    "--b1--\n",
		    MIME_SA_EPILOGUE },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "--b1\n"
		    "\n"
		    "text one\n"
		    "--b1\n"
		    "Content-Type: text/plain\n"
		    "\n"
		    "two\n"
		    "--b1--\n",
		    MIME_SA_MIME_HEADERS },
		{ "From: a@b.example\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\n"
		    "\n"
		    "no boundary here\n"
		    "second line\n",
		    0 },

	};
	struct buf big;
	struct mime_msg m;

	for (size_t i = 0; i < NELEM(t); i++) {
		mime_parse(&m, t[i].msg, strlen(t[i].msg), NULL);
		if (m.st.sa_flags != t[i].flags)
			fprintf(stderr, "case %zu: flags %#x, expected %#x\n", i,
			    m.st.sa_flags, t[i].flags);
		T_INTEQ(m.st.sa_flags, t[i].flags);
		mime_free(&m);
	}
	/* a field name over 256 bytes, then a value over 8,192 folded */
	buf_init(&big, 64 * 1024);
	(void)buf_appends(&big, "From: a@b.example\n");
	for (int i = 0; i < 300; i++)
		(void)buf_appendc(&big, 'X');
	(void)buf_appends(&big, ": v\n\nbody\n");
	mime_parse(&m, big.data, big.len, NULL);
	T_INTEQ(m.st.sa_flags, MIME_SA_TRUNC_HEADER);
	mime_free(&m);
	buf_reset(&big);
	(void)buf_appends(&big, "From: a@b.example\nX-Long: ");
	for (int i = 0; i < 90; i++) {
		for (int k = 0; k < 100; k++)
			(void)buf_appendc(&big, 'y');
		(void)buf_appends(&big, "\n ");
	}
	(void)buf_appends(&big, "z\n\nbody\n");
	mime_parse(&m, big.data, big.len, NULL);
	T_INTEQ(m.st.sa_flags, MIME_SA_TRUNC_HEADER);
	mime_free(&m);
	buf_free(&big);
}

/* Long URIs: one over 2,048 bytes is kept whole (a spammer's padded link
 * is still read), one over URI_MAX (SpamAssassin's 8,192) cut to it and
 * counted, in text and in an HTML attribute. */
static void
test_uri_long(void)
{
	struct buf b;
	struct mime_msg m;
	int found = 0;

	buf_init(&b, 64 * 1024);
	(void)buf_appends(&b, "From: a@b.example\nSubject: x\n\nsee http://evil.example/");
	for (int i = 0; i < 3000; i++)
		(void)buf_appendc(&b, 'a');
	(void)buf_appends(&b, "/payload.exe now\n");
	mime_parse(&m, b.data, b.len, NULL);
	for (size_t i = 0; i < m.uris.n; i++)
		found |= strstr(m.uris.v[i], "/payload.exe") != NULL;
	T_OK(found);
	T_INTEQ(m.st.uri_truncated, 0);
	mime_free(&m);

	buf_reset(&b);
	(void)buf_appends(&b, "From: a@b.example\nSubject: x\nContent-Type: text/html\n\n"
	    "<a href=\"http://evil.example/");
	for (int i = 0; i < 9000; i++)
		(void)buf_appendc(&b, 'c');
	(void)buf_appends(&b, "\">x</a>\n");
	mime_parse(&m, b.data, b.len, NULL);
	T_INTEQ(m.st.uri_truncated, 1);
	found = 0;
	for (size_t i = 0; i < m.uris.n; i++)
		if (strncmp(m.uris.v[i], "http://evil.example/", 20) == 0) {
			found = 1;
			T_OK(strlen(m.uris.v[i]) <= URI_MAX);
		}
	T_OK(found);
	mime_free(&m);
	buf_free(&b);
}

/* A run of more than 20 blank lines in the body keeps 20 (its first
 * and its last 19), as SpamAssassin's parser keeps them: its raw lines
 * of these two messages are 22 each (checked with its Message::Node
 * raw()). */
static void
test_blank_runs(void)
{
	struct buf msg;
	struct mime_msg m;
	size_t lines = 0;

	buf_init(&msg, 4096);
	(void)buf_appends(&msg, "Subject: x\nContent-Type: text/html\n\n<html>\n");
	for (int k = 0; k < 30; k++)
		(void)buf_appendc(&msg, '\n');
	(void)buf_appends(&msg, "<p>x</p>\n");
	mime_parse(&m, msg.data, msg.len, NULL);
	for (size_t i = 0; i < m.rawbody.len; i++)
		lines += m.rawbody.data[i] == '\n';
	T_INTEQ(lines, 22);
	T_INTEQ(m.st.html_bytes, 36);
	mime_free(&m);
	/* (a run that starts the body keeps its first two and last 19) */
	buf_reset(&msg);
	(void)buf_appends(&msg, "Subject: x\n\n");
	for (int k = 0; k < 25; k++)
		(void)buf_appends(&msg, " \n");
	(void)buf_appends(&msg, "x\n");
	mime_parse(&m, msg.data, msg.len, NULL);
	lines = 0;
	for (size_t i = 0; i < m.rawbody.len; i++)
		lines += m.rawbody.data[i] == '\n';
	T_INTEQ(lines, 22);
	T_INTEQ(m.full_len, msg.len);   /* (full rules read it all) */
	mime_free(&m);
	buf_free(&msg);
}

/* A multipart whose boundary is never found is one text part, its
 * whole body, as SpamAssassin's parser makes it (the same body text as
 * its get_decoded_stripped_body_text_array()). */
static void
test_multipart_unfound(void)
{
	const char *msg =
	    "Subject: x\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/alternative; boundary=\"=Multipart Boundary 1\"\n"
	    "\n"
	    "This is a multipart MIME message.\n"
	    "\n"
	    "--= Multipart Boundary 1\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "<p>Cheap deals</p>\n"
	    "\n"
	    "--= Multipart Boundary 1--\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), "x\nThis is a multipart MIME message.\n"
	    "--= Multipart Boundary 1 Content-Type: text/plain\n"
	    "<p>Cheap deals</p>\n--= Multipart Boundary 1-- ");
	T_INTEQ(m.st.missing_boundary, 1);
	mime_free(&m);
}

/* A part named *.htm(l) or *.shtml is read as HTML whatever its
 * declared type, as SpamAssassin's effective_type() (checked against
 * spamassassin -t: body, rawbody and html_test('html') hit,
 * check_for_mime_html() does not); the MIME counts keep the declared
 * types. */
static void
test_html_named(void)
{
	const char *msg =
	    "Subject: x\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"B\"\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "see attached\n"
	    "--B\n"
	    "Content-Type: application/octet-stream; name=\"offer.HTML\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "Content-Disposition: attachment; filename=\"offer.HTML\"\n"
	    "\n"
	    "PGh0bWw+PGJvZHk+PHA+Q2hlYXAgPGI+cGlsbHM8L2I+PC9wPjwvYm9keT48L2h0bWw+Cg==\n"
	    "--B\n"
	    "Content-Type: text/plain; name=\"notes.shtml\"\n"
	    "\n"
	    "<p>hi &amp; bye</p>\n"
	    "--B\n"
	    "Content-Type: application/octet-stream; name=\"page.html.zip\"\n"
	    "\n"
	    "<p>zipped</p>\n"
	    "--B--\n";
	struct mime_msg m;

	mime_parse(&m, msg, strlen(msg), NULL);
	T_STREQ(buf_cstr(&m.body), "x\nsee attached\nCheap pills\nhi & bye\n");
	T_OK(strstr(buf_cstr(&m.rawbody), "<b>pills</b>") != NULL);
	T_OK(strstr(buf_cstr(&m.rawbody), "zipped") == NULL);
	T_INTEQ(m.st.html_rendered, 2);
	T_INTEQ(m.st.html_parts, 0);
	T_INTEQ(m.st.plain_parts, 2);
	T_INTEQ(m.st.base64_text, 0);
	mime_free(&m);
}

/* A redirector's target is a URI too (SpamAssassin's hard-coded
 * redirector: the first http: or https: after the host, to an '&' or
 * '#', with a dot), a few levels deep. */
static void
test_uri_redirector(void)
{
	struct uri_list l = { NULL, 0, 100 };
	struct mime_stats st;
	const char *t = "go http://rd.yahoo.com/*http://80.71.71.88/farm/?aid=1 or "
	    "http://a.example/r?u=https://b.example/x&y=1 or http://c.example/?u=http:nodot "
	    "or http://d1.example/http://d2.example/http://d3.example/http://d4.example/"
	    "http://d5.example/http://d6.example/x "
	    "http://192.0.2.7/c.php?cid=1&url=http%3A%2F%2Fremove.e.example%2Fx%26y";
	int rd = 0, b = 0, nodot = 0, d5 = 0, d6 = 0, esc = 0;

	memset(&st, 0, sizeof(st));
	uri_extract_text(&l, t, strlen(t), &st);
	for (size_t i = 0; i < l.n; i++) {
		rd |= strcmp(l.v[i], "http://80.71.71.88/farm/?aid=1") == 0;
		b |= strcmp(l.v[i], "https://b.example/x") == 0;
		nodot |= strncmp(l.v[i], "http://nodot", 12) == 0;
		d5 |= strncmp(l.v[i], "http://d5.example/", 18) == 0;
		d6 |= strncmp(l.v[i], "http://d6.example/", 18) == 0;
		/* (in the URI with its escapes decoded, as SpamAssassin's
		 * uri_list_canonicalize looks: URI_OPTOUT_3LD) */
		esc |= strcmp(l.v[i], "http://remove.e.example/x") == 0;
	}
	T_OK(esc);
	T_OK(rd);
	T_OK(b);
	T_OK(!nodot);
	T_OK(d5);               /* four levels below the first */
	T_OK(!d6);
	uri_list_free(&l);
}

int
main(void)
{
	T_RUN(test_decoders);
	T_RUN(test_to_utf8_sa);
	T_RUN(test_base64_sa);
	T_RUN(test_sa_reading_decode);
	T_RUN(test_2047_long);
	T_RUN(test_parts_nested_limit);
	T_RUN(test_faraway_headers_long);
	T_RUN(test_sa_header_cut);
	T_RUN(test_nested);
	T_RUN(test_encoded_message);
	T_RUN(test_html_tricks);
	T_RUN(test_html_font_face);
	T_RUN(test_html_low_contrast);
	T_RUN(test_html_font_size);
	T_RUN(test_html_embeds_form);
	T_RUN(test_html_invalid_color);
	T_RUN(test_html_colors);
	T_RUN(test_html_entities);
	T_RUN(test_html_alt);
	T_RUN(test_sa_text);
	T_RUN(test_anomalies);
	T_RUN(test_edges);
	T_RUN(test_uri_text);
	T_RUN(test_uri_idn);
	T_RUN(test_uri_text_also);
	T_RUN(test_uri_sa_forms);
	T_RUN(test_uri_numeric);
	T_RUN(test_uri_resolve);
	T_RUN(test_html_more_uris);
	T_RUN(test_html_hostile_limits);
	T_RUN(test_html_texts);
	T_RUN(test_sa_parse_flags);
	T_RUN(test_uri_long);
	T_RUN(test_uri_redirector);
	T_RUN(test_html_named);
	T_RUN(test_multipart_unfound);
	T_RUN(test_blank_runs);
	return t_done();
}
