/*
 * test-smtp-mime.c - the 8BITMIME -> 7bit downgrade: plain 8-bit
 * messages, multipart with 8-bit and base64 parts, nested
 * message/rfc822, 7-bit input untouched, quoted-printable line rules.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_mime.h"
#include "test.h"

static char *
down(const char *in)
{
	struct buf out;

	buf_init(&out, strlen(in) * 3 + 4096);
	T_INTEQ(smtp_mime_downgrade(in, strlen(in), &out), 0);
	return buf_steal(&out);
}

static int
all_7bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s & 0x80)
			return 0;
	return 1;
}

static void
test_plain(void)
{
	char *o = down("Subject: x\nFrom: a@b\n\nGr\xc3\xbc\xc3\x9f""e = ok \n"
	    "second line\n");

	T_STREQ(o, "Subject: x\nFrom: a@b\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=unknown-8bit\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "Gr=C3=BC=C3=9Fe =3D ok=20\nsecond line\n");
	free(o);
}

static void
test_relabel(void)
{
	char *o = down("MIME-Version: 1.0\nContent-Type: text/plain; "
	    "charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
	    "caf\xc3\xa9\n");

	T_STREQ(o, "MIME-Version: 1.0\nContent-Type: text/plain; "
	    "charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
	    "caf=C3=A9\n");
	free(o);
	/* declared 8bit, but all 7-bit: only the label changes */
	o = down("Content-Transfer-Encoding: 8BIT\n\nplain\n");
	T_STREQ(o, "Content-Transfer-Encoding: 7bit\n\nplain\n");
	free(o);
	/* 7-bit input is copied byte for byte */
	o = down("Subject: a\n\nb\n.\n");
	T_STREQ(o, "Subject: a\n\nb\n.\n");
	free(o);
}

static void
test_multipart(void)
{
	const char *in =
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed;\n boundary=\"=_b1\"\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "preamble\n"
	    "--=_b1\n"
	    "Content-Type: text/plain; charset=utf-8\n\n"
	    "\xc3\xa4rger\n"
	    "--=_b1\n"
	    "Content-Type: application/octet-stream\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "AAEC\n"
	    "--=_b1\n"
	    "Content-Type: message/rfc822\n\n"
	    "Subject: inner\n"
	    "Content-Type: text/plain\n"
	    "Content-Transfer-Encoding: 8bit\n\n"
	    "inn\xc3\xa9r\n"
	    "--=_b1--\n"
	    "epilogue\n";
	char *o = down(in);

	T_OK(all_7bit(o));
	T_OK(strstr(o, "boundary=\"=_b1\"\nContent-Transfer-Encoding: 7bit\n\n"
	    "preamble\n--=_b1\n") != NULL);
	T_OK(strstr(o, "charset=utf-8\nContent-Transfer-Encoding: "
	    "quoted-printable\n\n=C3=A4rger\n--=_b1\n") != NULL);
	T_OK(strstr(o, "base64\n\nAAEC\n--=_b1\n") != NULL);
	/* an embedded message is a message: it gets MIME-Version too */
	T_OK(strstr(o, "Subject: inner\nContent-Type: text/plain\n"
	    "MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\ninn=C3=A9r\n"
	    "--=_b1--\nepilogue\n") != NULL);
	free(o);
}

static void
test_long_line(void)
{
	char in[400], *o, *p;
	size_t col = 0;

	strcpy(in, "\n");
	memset(in + 1, '\xe9', 200);
	strcpy(in + 201, "\n");
	o = down(in);
	/* soft breaks keep every encoded line within 76 characters */
	for (p = strstr(o, "\n\n") + 2; *p != '\0'; p++) {
		if (*p == '\n') {
			T_OK(col <= 76);
			col = 0;
		} else
			col++;
	}
	T_OK(strstr(o, "=E9=\n=E9") != NULL);
	free(o);
}

/* Nesting is bounded: 100000 embedded messages do not recurse 100000
 * deep (the deepest ones are handled as one leaf). */
static void
test_deep(void)
{
	const char *lvl = "Content-Type: message/rfc822\n\n";
	size_t n = 100000, i, l = strlen(lvl);
	char *in = malloc(n * l + 16), *o;

	for (i = 0; i < n; i++)
		memcpy(in + i * l, lvl, l);
	strcpy(in + n * l, "\xe9\n");
	o = down(in);
	T_OK(all_7bit(o));
	free(o);
	free(in);
}

static void
test_bounded(void)
{
	struct buf out;
	const char *in = "\n\xff\xff\xff\xff\xff\xff\xff\xff\n";

	buf_init(&out, 10);
	T_INTEQ(smtp_mime_downgrade(in, strlen(in), &out), -1);
	T_OK(out.len <= 10);
	buf_free(&out);
}

/* The structure rules are lib-mail's (doc/mime.md); where they differ
 * from the downgrade's own reader before it, the case is pinned here. */
static void
test_rules(void)
{
	char *o, *in;
	size_t i, n;
	struct buf out;

	/* the first Content-Transfer-Encoding counts (was: the last), and a
	 * relabelled part keeps one label only */
	o = down("Content-Transfer-Encoding: 8bit\nX: y\n"
	    "Content-Transfer-Encoding: base64\n\n\xe9\n");
	T_STREQ(o, "X: y\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=unknown-8bit\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=E9\n");
	free(o);
	o = down("Content-Transfer-Encoding: binary\n"
	    "Content-Transfer-Encoding: 8bit\n\nabc\n");
	T_STREQ(o, "Content-Transfer-Encoding: 7bit\n\nabc\n");
	free(o);
	/* the first Content-Type counts (was: the last) */
	o = down("Content-Type: text/plain\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\n\xe9\n--b--\n");
	T_STREQ(o, "Content-Type: text/plain\n"
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n"
	    "\n--b\n\n=E9\n--b--\n");
	free(o);
	/* an invalid Content-Type is text/plain (was: any "multipart/"
	 * prefix was a multipart) */
	o = down("Content-Type: multipart/; boundary=b\n\n--b\n\n\xe9\n--b--\n");
	T_OK(strstr(o, "quoted-printable\n\n--b\n\n=E9\n--b--\n") != NULL);
	free(o);
	/* "type / subtype" with comments is valid (was: not a multipart) */
	o = down("Content-Type: multipart / mixed (x); boundary=b\n\n"
	    "--b\n\n\xe9\n--b--\n");
	T_STREQ(o, "Content-Type: multipart / mixed (x); boundary=b\n\n"
	    "--b\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n"
	    "--b--\n");
	free(o);
	/* a boundary over 200 bytes does not split (was: cut to 200) */
	in = malloc(1024);
	n = (size_t)sprintf(in, "Content-Type: multipart/mixed; boundary=");
	for (i = 0; i < 201; i++)
		in[n++] = 'x';
	memcpy(in + n, "\n\n", 3);
	o = down(in);
	T_STREQ(o, in);         /* no 8-bit: untouched */
	free(o);
	n += 2;
	memcpy(in + n, "--", 2);
	memset(in + n + 2, 'x', 201);
	strcpy(in + n + 203, "\n\n\xe9\n");
	o = down(in);
	T_OK(strstr(o, "Content-Transfer-Encoding: quoted-printable\n\n--xxx")
	    != NULL);
	T_OK(all_7bit(o));
	free(o);
	free(in);
	/* after a delimiter only blanks, then the line end (was: any mix
	 * of blanks and CRs): "--b\r \n" is part content */
	o = down("Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\n\xe9\n--b\r \nx\n--b--\n");
	T_OK(strstr(o, "\n\n=E9\n=2D-b=0D=20\nx\n--b--\n") != NULL);
	free(o);
	/* the CRLF before a delimiter belongs to the delimiter (was: its CR
	 * was the last byte of the part, encoded =0D) */
	o = down("Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n\n\xe9\r\n--b--\n");
	T_OK(strstr(o, "\n\n=E9\r\n--b--\n") != NULL);
	free(o);
	/* message/global may be encoded (RFC 6532): a leaf, as before */
	o = down("Content-Type: message/global\n\nSubject: \xe9\n\nx\n");
	T_STREQ(o, "Content-Type: message/global\nMIME-Version: 1.0\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "Subject: =E9\n\nx\n");
	free(o);
	/* 8-bit in the embedded Content-Type, no line end (fuzz-smtp-mime
	 * found it): encoded like any byte, the whole body still one leaf */
	o = down("Content-Type:message/global\n\nContent-Type:e/\x8b");
	T_STREQ(o, "Content-Type:message/global\nMIME-Version: 1.0\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "Content-Type:e/=8B");
	free(o);
	/* a digest's parts are messages by default, as before */
	o = down("Content-Type: multipart/digest; boundary=b\n\n--b\n\n"
	    "Subject: s\n\n\xe9\n--b--\n");
	T_OK(strstr(o, "--b\n\nSubject: s\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=unknown-8bit\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n=E9\n--b--\n")
	    != NULL);
	free(o);
	/* SMTP_MIME_MAX_PARTS parts or more: not converted */
	n = SMTP_MIME_MAX_PARTS;
	in = malloc(n * 4 + 64);
	i = (size_t)sprintf(in, "Content-Type: multipart/mixed; boundary=b\n\n");
	while (n-- > 0) {
		memcpy(in + i, "--b\n", 4);
		i += 4;
	}
	strcpy(in + i, "\xe9\n");
	buf_init(&out, i * 3 + 4096);
	T_INTEQ(smtp_mime_downgrade(in, strlen(in), &out), -1);
	buf_free(&out);
	free(in);
}

/* Inside a multipart no encoded line starts with "--": neither a soft
 * line break nor a line of the part can become a delimiter. */
static void
test_no_delimiter(void)
{
	char in[300], *o;
	size_t n;

	strcpy(in, "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n"
	    "\xe9\n");
	n = strlen(in);
	memset(in + n, 'x', 75);
	strcpy(in + n + 75, "--b\n-- \n--b--\n");
	o = down(in);
	T_OK(strstr(o, "xx=\n=2D-b\n=2D-=20\n--b--\n") != NULL);
	free(o);
	/* outside a multipart: as before */
	o = down("\n\xe9\n-- \n");
	T_OK(strstr(o, "=E9\n--=20\n") != NULL);
	free(o);
}

int
main(void)
{
	T_RUN(test_plain);
	T_RUN(test_relabel);
	T_RUN(test_multipart);
	T_RUN(test_long_line);
	T_RUN(test_deep);
	T_RUN(test_bounded);
	T_RUN(test_rules);
	T_RUN(test_no_delimiter);
	return t_done();
}
