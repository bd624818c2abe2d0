/* test-mail-mime.c - lib-mail: header splitting, transfer decoders, the
 * MIME structure parser, its limits, and the edge cases where the two
 * parsers it replaced disagreed (doc/mime.md). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mail_decode.h"
#include "mail_header.h"
#include "mail_mime.h"
#include "test.h"

static const struct mail_mime_limits lim = { 20, 200, 0 };

static void
test_header(void)
{
	const char *h = "Subject : one\r\n two\r\nFoo Bar: x\r\n stray\r\n"
	    "X:\r\n\r\nbody";
	struct mail_field f;
	struct buf v;
	size_t pos = 0;

	T_INTEQ(mail_header_next(h, strlen(h), &pos, &f), 1);
	T_INTEQ(f.name_len, 7);
	T_OK(memcmp(h + f.value, "one\r\n two", f.value_end - f.value) == 0);
	T_INTEQ(mail_header_next(h, strlen(h), &pos, &f), 1);
	T_INTEQ(f.name_len, 0);                 /* "Foo Bar: x" */
	T_INTEQ(mail_header_next(h, strlen(h), &pos, &f), 1);
	T_INTEQ(f.name_len, 0);                 /* " stray" */
	T_INTEQ(mail_header_next(h, strlen(h), &pos, &f), 1);
	T_INTEQ(f.name_len, 1);
	T_INTEQ(f.value_end - f.value, 0);
	T_INTEQ(mail_header_next(h, strlen(h), &pos, &f), 0);
	T_STREQ(h + pos, "body");
	T_INTEQ(mail_header_end(h, strlen(h)), pos);

	buf_init(&v, 1024);
	T_INTEQ(mail_header_get(h, strlen(h), "subject", &v), 0);
	T_STREQ(buf_cstr(&v), "one two");
	T_INTEQ(mail_header_get(h, strlen(h), "Foo Bar", &v), -1);
	/* LF line ends; trailing blanks dropped; a value cut at the max */
	T_INTEQ(mail_header_get("A: 1\nB:  x y \n\nC: no", 20, "b", &v), 0);
	T_STREQ(buf_cstr(&v), "x y");
	T_INTEQ(mail_header_get("A: 1\nB:  x y \n\nC: no", 20, "C", &v), -1);
	buf_free(&v);
	buf_init(&v, 4);
	T_INTEQ(mail_header_get("A: 123456\r\n", 11, "a", &v), 0);
	T_STREQ(buf_cstr(&v), "1234");
	buf_free(&v);

	/* a CR alone ends no line; "\r\r\n" is not an empty line */
	T_INTEQ(mail_header_end("A: x\rB: y\r\rbody", 15), 15);
	T_INTEQ(mail_header_end("A: x\r\n\r\r\nB: y\r\n\r\nz", 18), 17);
	/* no empty line: all header, body empty */
	T_INTEQ(mail_header_end("A: x\r\nhello\r\n", 13), 13);
	/* long lines */
	{
		struct buf b;
		buf_init(&b, BUF_UNLIMITED);
		(void)buf_appends(&b, "X: ");
		for (int i = 0; i < 997; i++)
			(void)buf_appendc(&b, 'x');
		(void)buf_appends(&b, "\n y\n");
		pos = 0;
		T_INTEQ(mail_header_next(b.data, b.len, &pos, &f), 1);
		T_INTEQ(f.long_lines, 1);
		buf_free(&b);
	}
}

static void
test_decoders(void)
{
	struct buf b;
	unsigned bad = 0;

	buf_init(&b, 1000);
	T_INTEQ(mail_base64_decode("aGVs\r\nbG8 =", 11, &b, &bad), 0);
	T_STREQ(buf_cstr(&b), "hello");
	T_INTEQ(bad, 0);
	buf_reset(&b);
	/* digits after the padding are not decoded */
	T_INTEQ(mail_base64_decode("aGk=aGk=", 8, &b, &bad), 0);
	T_STREQ(buf_cstr(&b), "hi");
	T_INTEQ(bad, 3);
	buf_reset(&b);
	bad = 0;
	/* soft line breaks with trailing blanks, a final '=', bad escapes */
	T_INTEQ(mail_qp_decode("a= \t\r\nb=\nc=3D=3d=G1=", 20, &b, 0, &bad), 0);
	T_STREQ(buf_cstr(&b), "abc===G1");
	T_INTEQ(bad, 1);
	buf_reset(&b);
	T_INTEQ(mail_qp_decode("a_b=5F=", 7, &b, 1, NULL), 0);
	T_STREQ(buf_cstr(&b), "a b_=");
	buf_reset(&b);
	/* blanks ending a body line are dropped (RFC 2045 6.7 (3)), encoded
	 * ones, blanks before '=', at the end and in a header are not */
	T_INTEQ(mail_qp_decode("a \t\nb \r\nc=20\nd =41 e\t", 21, &b, 0, NULL), 0);
	T_STREQ(buf_cstr(&b), "a\nb\r\nc \nd A e\t");
	buf_reset(&b);
	T_INTEQ(mail_qp_decode("a \nb", 4, &b, 1, NULL), 0);
	T_STREQ(buf_cstr(&b), "a \nb");
	buf_free(&b);
	/* a full output keeps what fits */
	buf_init(&b, 3);
	T_INTEQ(mail_base64_decode("aGVsbG8=", 8, &b, NULL), -1);
	T_STREQ(buf_cstr(&b), "hel");
	buf_reset(&b);
	T_INTEQ(mail_qp_decode("ab=41cd", 7, &b, 0, NULL), -1);
	T_STREQ(buf_cstr(&b), "abA");
	buf_free(&b);
}

static void
test_params(void)
{
	char *t, *st;
	struct mail_param *v;
	unsigned n;

	mail_params_parse(" Text (c) / HTML ; charset = \"utf\\\"8\" ;"
	    " junk here; name=a=b.txt; x=\"1;2\"", 1, &t, &st, &v, &n);
	T_STREQ(t, "Text");
	T_STREQ(st, "HTML");
	T_INTEQ(n, 3);
	T_STREQ(mail_param_get(v, n, "CHARSET"), "utf\"8");
	T_STREQ(mail_param_get(v, n, "name"), "a=b.txt");
	T_STREQ(mail_param_get(v, n, "x"), "1;2");
	free(t);
	free(st);
	mail_params_free(v, n);
	/* invalid type: parameters still parsed */
	mail_params_parse("text; charset=koi8-r", 1, &t, &st, &v, &n);
	T_OK(t == NULL && st == NULL);
	T_STREQ(mail_param_get(v, n, "charset"), "koi8-r");
	mail_params_free(v, n);
	/* encoded words stay as written */
	mail_params_parse("application/pdf; name=\"=?utf-8?q?a=C3=A9?=\"", 1,
	    &t, &st, &v, &n);
	T_STREQ(mail_param_get(v, n, "name"), "=?utf-8?q?a=C3=A9?=");
	free(t);
	free(st);
	mail_params_free(v, n);
	mail_params_parse("attachment;filename=\"x y.pdf\"", 0, &t, NULL, &v, &n);
	T_STREQ(t, "attachment");
	T_STREQ(mail_param_get(v, n, "filename"), "x y.pdf");
	free(t);
	mail_params_free(v, n);
}

/* The decoder and parameter cases of lib-spam's test-mime.c, from the
 * time lib-spam had its own decoders (kept as they were). */
static void
test_spam_cases(void)
{
	struct buf b;
	unsigned bad = 0;
	struct mail_param *v;
	unsigned n;

	buf_init(&b, 1000);
	T_INTEQ(mail_base64_decode("SGVsbG8s\r\nIHdvcmxk", 18, &b, &bad), 0);
	T_STREQ(buf_cstr(&b), "Hello, world");
	T_INTEQ(bad, 0);
	buf_reset(&b);
	T_INTEQ(mail_base64_decode("SGV*sbG8", 8, &b, &bad), 0);
	T_STREQ(buf_cstr(&b), "Hello");
	T_INTEQ(bad, 1);
	buf_reset(&b);
	bad = 0;
	T_INTEQ(mail_qp_decode("caf=C3=A9 =\r\nbar=ZZ", 20, &b, 0, &bad), 0);
	T_STREQ(buf_cstr(&b), "caf\xc3\xa9 bar=ZZ");
	T_INTEQ(bad, 1);
	buf_free(&b);
	mail_params_parse("multipart/mixed; boundary=\"a b;c\"; x=1", 0, NULL,
	    NULL, &v, &n);
	T_STREQ(mail_param_get(v, n, "boundary"), "a b;c");
	mail_params_free(v, n);
	mail_params_parse("text/plain;charset=ISO-8859-1", 0, NULL, NULL, &v, &n);
	T_STREQ(mail_param_get(v, n, "charset"), "ISO-8859-1");
	mail_params_free(v, n);
}

static const char nested[] =
	"From: a@b.example\r\n"
	"Content-Type: multipart/mixed; boundary=\"OUT\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--OUT\r\n"
	"Content-Type: multipart/alternative; boundary=IN\r\n"
	"\r\n"
	"--IN\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: Quoted-Printable\r\n"
	"\r\n"
	"one\r\n"
	"two\r\n"
	"--IN\r\n"
	"\r\n"
	"<b>x</b>\r\n"
	"--IN--\r\n"
	"--OUT\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=fwd.eml\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"\r\n"
	"inner body\r\n"
	"--OUT--\r\n"
	"epilogue\r\n";

static void
test_structure(void)
{
	struct mail_mime m;
	const struct mail_part *p;

	mail_mime_parse(&m, nested, strlen(nested), &lim);
	T_INTEQ(m.nparts, 6);
	if (m.nparts != 6)
		goto out;
	p = m.parts;
	T_OK(p[0].flags & MAIL_PART_MULTIPART);
	T_INTEQ(p[0].nchildren, 2);
	T_INTEQ(p[0].child, 1);
	T_INTEQ(p[1].next, 4);
	T_INTEQ(p[1].nchildren, 2);
	T_STREQ(p[2].subtype, "plain");
	T_STREQ(p[2].encoding, "Quoted-Printable");
	T_STREQ(mail_param_get(p[2].params, p[2].nparams, "charset"), "iso-8859-1");
	T_INTEQ(p[2].body_len, 8);
	T_OK(memcmp(nested + p[2].body_off, "one\r\ntwo", 8) == 0);
	T_INTEQ(p[2].body_lines, 2);
	T_INTEQ(p[2].depth, 2);
	T_OK(p[3].flags & MAIL_PART_DEFAULT_TYPE);
	T_INTEQ(p[3].hdr_len, 2);
	T_OK(p[4].flags & MAIL_PART_MESSAGE);
	T_STREQ(p[4].disposition, "attachment");
	T_STREQ(mail_param_get(p[4].dparams, p[4].ndparams, "filename"), "fwd.eml");
	T_INTEQ(p[4].child, 5);
	T_INTEQ(p[5].parent, 4);
	T_INTEQ(p[5].hdr_off, p[4].body_off);
	T_INTEQ(p[5].body_len, 10);
	T_INTEQ(p[4].body_lines, 3);
	T_OK(!(p[0].flags & MAIL_PART_UNCLOSED));
	/* subtrees: the whole message, the alternative, a leaf, the
	 * embedded message with its one part */
	T_INTEQ(mail_mime_subtree_end(&m, 0), 6);
	T_INTEQ(mail_mime_subtree_end(&m, 1), 4);
	T_INTEQ(mail_mime_subtree_end(&m, 3), 4);
	T_INTEQ(mail_mime_subtree_end(&m, 4), 6);
	T_INTEQ(mail_mime_subtree_end(&m, 5), 6);
out:
	mail_mime_free(&m);
}

/* Parse msg, return the number of parts; *m is left for the caller. */
static unsigned
parse(struct mail_mime *m, const char *msg)
{
	mail_mime_parse(m, msg, strlen(msg), &lim);
	return m->nparts;
}

static int
body_is(const struct mail_mime *m, const char *msg, unsigned i,
    const char *want)
{
	return i < m->nparts && m->parts[i].body_len == strlen(want) &&
	    memcmp(msg + m->parts[i].body_off, want, strlen(want)) == 0;
}

static void
test_edges(void)
{
	struct mail_mime m;
	const char *s;

	/* an empty buffer (data NULL): one empty text/plain part */
	mail_mime_parse(&m, NULL, 0, &lim);
	T_INTEQ(m.nparts, 1);
	T_OK(m.parts[0].flags & MAIL_PART_DEFAULT_TYPE);
	T_INTEQ(m.parts[0].body_len, 0);
	mail_mime_free(&m);

	/* missing closing delimiter: the last part runs to the end */
	s = "Content-Type: multipart/mixed; boundary=B\n\n--B\n\none\n--B\n\ntwo\n";
	T_INTEQ(parse(&m, s), 3);
	T_OK(m.parts[0].flags & MAIL_PART_UNCLOSED);
	T_OK(body_is(&m, s, 1, "one"));
	T_OK(body_is(&m, s, 2, "two\n"));
	mail_mime_free(&m);
	/* ... even when that last part is empty */
	s = "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\na\r\n--B\r\n";
	T_INTEQ(parse(&m, s), 3);
	T_INTEQ(m.parts[2].body_len, 0);
	mail_mime_free(&m);
	/* no delimiter at all */
	s = "Content-Type: multipart/mixed; boundary=B\r\n\r\ntext\r\n";
	T_INTEQ(parse(&m, s), 1);
	T_OK(m.parts[0].flags & MAIL_PART_UNCLOSED);
	mail_mime_free(&m);
	/* no boundary parameter */
	T_INTEQ(parse(&m, "Content-Type: multipart/mixed\r\n\r\n--B\r\n"), 1);
	T_OK(m.parts[0].flags & MAIL_PART_NO_BOUNDARY);
	mail_mime_free(&m);

	/* blanks after a delimiter are transport padding; other bytes are not */
	s = "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B \t\r\n\r\na\r\n"
	    "--B x\r\nb\r\n--B\rc\r\n--B-- \r\nepilogue";
	T_INTEQ(parse(&m, s), 2);
	T_OK(body_is(&m, s, 1, "a\r\n--B x\r\nb\r\n--B\rc"));
	T_OK(!(m.parts[0].flags & MAIL_PART_UNCLOSED));
	mail_mime_free(&m);

	/* a delimiter right after another one: an empty part */
	s = "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n--B\r\n\r\nx\r\n--B--\r\n";
	T_INTEQ(parse(&m, s), 3);
	T_INTEQ(m.parts[1].hdr_len + m.parts[1].body_len, 0);
	T_OK(body_is(&m, s, 2, "x"));
	mail_mime_free(&m);

	/* CR-only line ends are no line ends: no delimiter is found */
	s = "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\rx\r--B--\r";
	T_INTEQ(parse(&m, s), 1);
	T_OK(m.parts[0].flags & MAIL_PART_UNCLOSED);
	mail_mime_free(&m);

	/* a part header without an empty line: all header, no body */
	s = "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/html\n"
	    "<p>hi</p>\n--B--\n";
	T_INTEQ(parse(&m, s), 2);
	T_STREQ(m.parts[1].subtype, "html");
	T_INTEQ(m.parts[1].body_len, 0);
	mail_mime_free(&m);

	/* unquoted boundary with '=' (tspecial) */
	s = "Content-Type: multipart/alternative; boundary=----=_Part_1\n\n"
	    "------=_Part_1\n\na\n------=_Part_1--\n";
	T_INTEQ(parse(&m, s), 2);
	T_OK(body_is(&m, s, 1, "a"));
	mail_mime_free(&m);

	/* digest: an absent Content-Type is message/rfc822, an invalid one
	 * text/plain; message/global is entered too */
	s = "Content-Type: multipart/digest; boundary=D\n\n--D\n\nSubject: a\n\nA\n"
	    "--D\nContent-Type: garbage\n\nB\n--D\nContent-Type: message/global\n\n"
	    "Subject: c\n\nC\n--D--\n";
	T_INTEQ(parse(&m, s), 6);
	T_STREQ(m.parts[1].type, "message");
	T_OK(m.parts[1].flags & MAIL_PART_MESSAGE);
	T_OK(m.parts[1].flags & MAIL_PART_DEFAULT_TYPE);
	T_STREQ(m.parts[3].type, "text");
	T_OK(m.parts[3].flags & MAIL_PART_DEFAULT_TYPE);
	T_OK(m.parts[4].flags & MAIL_PART_MESSAGE);
	T_INTEQ(m.parts[5].parent, 4);
	mail_mime_free(&m);
}

static void
test_limits(void)
{
	struct mail_mime m;
	struct mail_mime_limits l = { 5, 200, 0 };
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (int i = 0; i < 50; i++)
		(void)buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	(void)buf_appends(&b, "\ndeep\n");
	mail_mime_parse(&m, b.data, b.len, &l);
	T_INTEQ(m.nparts, 6);
	T_INTEQ(m.parts[5].depth, 5);
	T_INTEQ(m.parts[5].skipped, 1);
	T_INTEQ(m.parts[5].nchildren, 0);
	mail_mime_free(&m);

	buf_reset(&b);
	(void)buf_appends(&b, "Content-Type: multipart/mixed; boundary=z\n\n");
	for (int i = 0; i < 100; i++)
		(void)buf_printf(&b, "--z\n\npart %d\n", i);
	(void)buf_appends(&b, "--z--\n");
	l = (struct mail_mime_limits){ 5, 10, 0 };
	mail_mime_parse(&m, b.data, b.len, &l);
	T_INTEQ(m.nparts, 10);
	T_INTEQ(m.parts[0].nchildren, 9);
	T_INTEQ(m.parts[0].skipped, 91);
	mail_mime_free(&m);
	l = (struct mail_mime_limits){ 5, 1000, 7 };
	mail_mime_parse(&m, b.data, b.len, &l);
	T_INTEQ(m.nparts, 8);
	T_INTEQ(m.parts[0].skipped, 93);
	mail_mime_free(&m);
	buf_free(&b);

	/* empty input */
	mail_mime_parse(&m, "", 0, &lim);
	T_INTEQ(m.nparts, 1);
	T_INTEQ(m.parts[0].body_len, 0);
	T_INTEQ(m.parts[0].body_lines, 0);
	mail_mime_free(&m);
}

int
main(void)
{
	T_RUN(test_header);
	T_RUN(test_decoders);
	T_RUN(test_params);
	T_RUN(test_spam_cases);
	T_RUN(test_structure);
	T_RUN(test_edges);
	T_RUN(test_limits);
	return t_done();
}
