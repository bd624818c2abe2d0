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

int
main(void)
{
	T_RUN(test_plain);
	T_RUN(test_relabel);
	T_RUN(test_multipart);
	T_RUN(test_long_line);
	T_RUN(test_deep);
	T_RUN(test_bounded);
	return t_done();
}
