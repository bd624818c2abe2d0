/* test-imap-message.c - unit tests of MIME structure, ENVELOPE and
 * section extraction. */
#include <stdlib.h>
#include <string.h>

#include "imap_message.h"
#include "imap_search.h"
#include "imap_parser.h"
#include "test.h"

static const char msg[] =
	"From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
	"To: Mary Smith <mary@x.test>, jdoe@example.org, Undisclosed: ;\r\n"
	"Subject: Test\r\n"
	" folded\r\n"
	"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
	"Message-ID: <1234@local.machine.example>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"hello\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"aGk=\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<b>hi</b>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"From: a@b.c\r\n"
	"\r\n"
	"inner body\r\n"
	"--outer--\r\n";

static void
test_structure(void)
{
	struct imap_part *p = imap_message_parse(msg, strlen(msg));
	struct buf out;

	T_OK(p->multipart);
	T_INTEQ(p->nchildren, 3);
	T_OK(p->children[1].multipart);
	T_INTEQ(p->children[1].nchildren, 2);
	T_OK(p->children[2].rfc822);
	buf_init(&out, 1 << 20);
	imap_write_bodystructure(&out, msg, p, 0);
	T_STREQ(buf_cstr(&out),
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 5 1)"
	    "((\"text\" \"plain\" NIL NIL NIL \"base64\" 4 1)"
	    "(\"text\" \"html\" NIL NIL NIL \"7bit\" 9 1) \"alternative\")"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 41 "
	    "(NIL \"inner\" ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) ((NIL NIL \"a\" \"b.c\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1) 4) \"mixed\")");
	buf_reset(&out);
	imap_write_bodystructure(&out, msg, p, 1);
	T_OK(strstr(buf_cstr(&out), "(\"attachment\" (\"filename\" \"fwd.eml\"))") != NULL);
	imap_part_free(&p);
	buf_free(&out);
}

static void
test_envelope(void)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	imap_write_envelope(&out, msg, strlen(msg));
	T_STREQ(buf_cstr(&out),
	    "(\"Tue, 1 Jul 2003 10:52:37 +0200\" \"Test folded\" "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
	    "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	    "(NIL NIL \"Undisclosed\" NIL)(NIL NIL NIL NIL)) "
	    "NIL NIL NIL \"<1234@local.machine.example>\")");
	buf_free(&out);
}

static void
sec(struct imap_part *p, const char *spec, int binary, const char *expect)
{
	struct buf tmp;
	const char *r, *err;
	size_t n;

	buf_init(&tmp, 1 << 20);
	T_INTEQ(imap_section_get(msg, strlen(msg), p, spec, binary, &tmp, &r, &n, &err), 0);
	T_CHECK(n == strlen(expect) && memcmp(r, expect, n) == 0,
	    "section %s = '%.*s'", spec, (int)n, r);
	buf_free(&tmp);
}

static void
test_sections(void)
{
	struct imap_part *p = imap_message_parse(msg, strlen(msg));
	struct buf tmp;
	const char *r, *err;
	size_t n;

	sec(p, "1", 0, "hello");
	sec(p, "2.1", 0, "aGk=");
	sec(p, "2.1", 1, "hi");
	sec(p, "2.2.MIME", 0, "Content-Type: text/html\r\n\r\n");
	sec(p, "3.HEADER", 0, "Subject: inner\r\nFrom: a@b.c\r\n\r\n");
	sec(p, "3.TEXT", 0, "inner body");
	sec(p, "3.1", 0, "inner body");
	sec(p, "HEADER.FIELDS (subject DATE)", 0,
	    "Subject: Test\r\n folded\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n");
	sec(p, "9", 0, "");
	buf_init(&tmp, 1024);
	T_INTEQ(imap_section_get(msg, strlen(msg), p, "1.X", 0, &tmp, &r, &n, &err), -1);
	T_INTEQ(imap_section_get(msg, strlen(msg), p, "0", 0, &tmp, &r, &n, &err), -1);
	T_INTEQ(imap_section_get(msg, strlen(msg), p, "HEADER.FIELDS ()", 0, &tmp, &r, &n, &err), -1);
	buf_free(&tmp);
	imap_part_free(&p);
}

static void
test_deep(void)
{
	/* 100 nested multiparts: depth is capped, no crash */
	struct buf m;
	struct imap_part *p;
	struct buf out;

	buf_init(&m, 1 << 20);
	for (int i = 0; i < 100; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	buf_appends(&m, "\r\nx\r\n");
	p = imap_message_parse(m.data, m.len);
	buf_init(&out, 1 << 22);
	imap_write_bodystructure(&out, m.data, p, 1);
	T_OK(out.len > 0);
	imap_part_free(&p);
	buf_free(&out);
	buf_free(&m);
}

/* Edge cases where lib-imap's old parser differed from lib-spam's
 * (doc/mime.md): the lib-mail rules as IMAP shows them. */
static void
test_edges(void)
{
	static const char m[] =
	    "From sender@example.org Mon Jan  1 00:00:00 2024\r\n"
	    "Subject: s\r\n"
	    "Content-Type: multipart/mixed; boundary=----=_Part_1\r\n"
	    "\r\n"
	    "------=_Part_1\r\n"
	    "------=_Part_1\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "a= \r\nb=3D=\r\n"
	    "------=_Part_1\r\n"
	    "Content-Type: multipart/digest; boundary=D\r\n"
	    "\r\n"
	    "--D\r\n"
	    "Content-Type: bogus\r\n"
	    "\r\n"
	    "x\r\n"
	    "--D\r\n"
	    "Content-Type: message/global\r\n"
	    "\r\n"
	    "Subject: g\r\n"
	    "\r\n"
	    "y\r\n"
	    "--D--\r\n"
	    "------=_Part_1--\r\n";
	struct imap_part *p = imap_message_parse(m, strlen(m));
	struct buf out, tmp;
	const char *r, *err;
	size_t n;

	/* the unquoted boundary with '=' splits; an empty first part */
	T_INTEQ(p->nchildren, 3);
	T_INTEQ(p->children[0].body_len, 0);
	buf_init(&tmp, 1 << 16);
	/* QP soft line break after blanks, final '=' */
	T_INTEQ(imap_section_get(m, strlen(m), p, "2", 1, &tmp, &r, &n, &err), 0);
	T_CHECK(n == 3 && memcmp(r, "ab=", 3) == 0, "BINARY[2] '%.*s'", (int)n, r);
	/* the mbox From_ line is not a header field */
	T_INTEQ(imap_section_get(m, strlen(m), p, "HEADER.FIELDS.NOT (Content-Type)",
	    0, &tmp, &r, &n, &err), 0);
	T_CHECK(n == 14 && memcmp(r, "Subject: s\r\n\r\n", 14) == 0,
	    "FIELDS.NOT '%.*s'", (int)n, r);
	buf_free(&tmp);
	/* invalid Content-Type in a digest: text/plain; message/global: leaf */
	buf_init(&out, 1 << 16);
	imap_write_bodystructure(&out, m, &p->children[2], 0);
	T_STREQ(buf_cstr(&out),
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 1)"
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 15) \"digest\")");
	buf_free(&out);
	imap_part_free(&p);
}

static const char *search_data;

static int
load(void *ctx, const char **d, size_t *n)
{
	(void)ctx;
	*d = search_data;
	*n = strlen(search_data);
	return 0;
}

static uint64_t
size(void *ctx)
{
	(void)ctx;
	return strlen(search_data);
}

static int
has_kw(void *ctx, const char *kw)
{
	(void)ctx;
	return strcmp(kw, "$Junk") == 0;
}

static int
search(const char *cmd, unsigned flags)
{
	struct imap_limits lim = { 8, 100 };
	struct imap_command c;
	struct imap_search *s;
	struct imap_search_msg m = { 3, 30, flags, 7, 1057049557, NULL, load, size, has_kw };
	const char *err;
	char *tag;
	int bc, r;

	if (imap_parse_command(cmd, strlen(cmd), &lim, &c, &tag, &err) < 0)
		return -1;
	free(tag);
	s = imap_search_parse(c.args, c.count, 5, 40, &err, &bc);
	imap_command_free(&c);
	if (s == NULL)
		return -1;
	r = imap_search_match(s, &m);
	imap_search_free(&s);
	return r;
}

static void
test_search(void)
{
	search_data = msg;
	T_INTEQ(search("a SEARCH ALL", 0), 1);
	T_INTEQ(search("a SEARCH FROM public", 0), 1);
	T_INTEQ(search("a SEARCH TO jdoe@EXAMPLE", 0), 1);
	T_INTEQ(search("a SEARCH SUBJECT nothing", 0), 0);
	T_INTEQ(search("a SEARCH SUBJECT \"test folded\"", 0), 1);
	T_INTEQ(search("a SEARCH BODY \"inner body\"", 0), 1);
	T_INTEQ(search("a SEARCH BODY Mary", 0), 0);
	T_INTEQ(search("a SEARCH TEXT Mary", 0), 1);
	T_INTEQ(search("a SEARCH SEEN", IMAP_FLAG_SEEN), 1);
	T_INTEQ(search("a SEARCH UNSEEN", IMAP_FLAG_SEEN), 0);
	T_INTEQ(search("a SEARCH OR SEEN FLAGGED", IMAP_FLAG_FLAGGED), 1);
	T_INTEQ(search("a SEARCH NOT (SEEN FLAGGED)", IMAP_FLAG_FLAGGED), 1);
	T_INTEQ(search("a SEARCH 2:4", 0), 1);
	T_INTEQ(search("a SEARCH 4:*", 0), 0);
	T_INTEQ(search("a SEARCH UID 30", 0), 1);
	T_INTEQ(search("a SEARCH UID 31:*", 0), 0);
	T_INTEQ(search("a SEARCH LARGER 100 SMALLER 100000", 0), 1);
	T_INTEQ(search("a SEARCH SENTON 1-Jul-2003", 0), 1);
	T_INTEQ(search("a SEARCH SENTBEFORE 1-Jul-2003", 0), 0);
	T_INTEQ(search("a SEARCH ON 1-Jul-2003", 0), 1);
	T_INTEQ(search("a SEARCH SINCE 2-Jul-2003", 0), 0);
	T_INTEQ(search("a SEARCH KEYWORD $Junk UNKEYWORD x", 0), 1);
	T_INTEQ(search("a SEARCH HEADER Message-ID 1234", 0), 1);
	T_INTEQ(search("a SEARCH MODSEQ 8", 0), 0);
	T_INTEQ(search("a SEARCH NEW", IMAP_FLAG_RECENT), 1);
}

int
main(void)
{
	T_RUN(test_structure);
	T_RUN(test_envelope);
	T_RUN(test_sections);
	T_RUN(test_deep);
	T_RUN(test_edges);
	T_RUN(test_search);
	return t_done();
}
