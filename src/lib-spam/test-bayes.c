/* test-bayes.c - tokenizer, chi-square, and train/classify/forget round
 * trips over a SQLite store. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bayes.h"
#include "mem.h"
#include "mime.h"
#include "store.h"
#include "test.h"
#include "test-spam-msgs.h"


static void
test_tokens(void)
{
	struct mime_msg m;
	const char *msg = "From: Alice <alice@example.org>\nSubject: Hello World\n"
	    "Received: from mx.example.org ([192.0.2.7]) by x\n\n"
	    "Some Body text, 1234567 and $100 see http://www.example.com/x "
	    "averyveryveryverylongwordthatgoesonandon end\n";
	char *t;
	uint64_t *tok;
	size_t n, n2;

	mime_parse(&m, msg, strlen(msg), NULL);
	t = bayes_token_text(&m);
	T_OK(strstr(t, "Hsubject:hello\n") != NULL);
	T_OK(strstr(t, "Hfrom:example.org\n") != NULL);
	T_OK(strstr(t, "HN:received\n") != NULL);
	T_OK(strstr(t, "Hreceived:mx.example.org\n") != NULL);
	T_OK(strstr(t, "Hreceived:192.0.2.7\n") != NULL);
	T_OK(strstr(t, "\nsome\n") != NULL);
	T_OK(strstr(t, "B:some body\n") != NULL);
	T_OK(strstr(t, "\nN:7\n") != NULL);
	T_OK(strstr(t, "\n$100\n") != NULL);
	T_OK(strstr(t, "\nsk:a:40\n") != NULL);
	T_OK(strstr(t, "U:www.example.com\n") != NULL);
	T_OK(strstr(t, "U:example.com\n") != NULL);
	T_OK(strstr(t, "M:text/plain\n") != NULL);
	T_OK(strstr(t, "\nhello\n") == NULL);   /* subject not in body tokens */
	free(t);
	bayes_tokenize(&m, &tok, &n);
	T_OK(n > 20);
	for (size_t i = 1; i < n; i++)
		T_OK(tok[i - 1] < tok[i]);      /* sorted, unique */
	free(tok);
	bayes_tokenize(&m, &tok, &n2);
	T_INTEQ(n, n2);
	free(tok);
	t = bayes_msgkey(&m);
	T_OK(strncmp(t, "body/", 5) == 0);
	free(t);
	mime_free(&m);
	/* a byte no character was read from (U+FFFD in the text) parts
	 * words as the '?' it once was did */
	msg = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nbuy\xff" "cheap pills\n";
	mime_parse(&m, msg, strlen(msg), NULL);
	t = bayes_token_text(&m);
	T_OK(strstr(t, "\nbuy\n") != NULL);
	T_OK(strstr(t, "\ncheap\n") != NULL);
	T_OK(strstr(t, "B:buy cheap\n") != NULL);
	free(t);
	mime_free(&m);
}

/* A body of many words (here 12,000 "abc": 24,000 tokens with the
 * bigrams, before the duplicates go) fills the body's allowance; the
 * URI hosts, MIME types and analysis flags after it are still counted. */
static void
test_tokens_capped_body(void)
{
	struct mime_msg m;
	struct buf b;
	char *t;

	buf_init(&b, BUF_UNLIMITED);
	(void)buf_appends(&b, "Subject: x\nContent-Type: text/plain; charset=utf-8\n\n"
	    "first line\nhttp://evil.example/x\n");
	for (int i = 0; i < 12000; i++)
		(void)buf_appends(&b, "abc ");
	(void)buf_appends(&b, "\n");
	mime_parse(&m, b.data, b.len, NULL);
	t = bayes_token_text(&m);
	T_OK(strstr(t, "\nabc\n") != NULL);
	T_OK(strstr(t, "U:evil.example\n") != NULL);
	T_OK(strstr(t, "M:text/plain\n") != NULL);
	T_OK(strstr(t, "MC:utf-8\n") != NULL);
	free(t);
	mime_free(&m);
	/* nor can many headers of many words push out the body */
	buf_reset(&b);
	for (int i = 0; i < 400; i++) {
		(void)buf_printf(&b, "X-Pad-%d:", i);
		for (int k = 0; k < 60; k++)
			(void)buf_printf(&b, " w%dx%d", i, k);
		(void)buf_appends(&b, "\n");
	}
	(void)buf_appends(&b, "Subject: x\n\nfirst line\nbuy cheap pills\n");
	mime_parse(&m, b.data, b.len, NULL);
	t = bayes_token_text(&m);
	T_OK(strstr(t, "HN:x-pad-1\n") != NULL);
	T_OK(strstr(t, "\ncheap\n") != NULL);
	T_OK(strstr(t, "B:buy cheap\n") != NULL);
	free(t);
	mime_free(&m);
	buf_free(&b);
}

/* Keys fit in BAYES_MSGKEY_MAX bytes (MariaDB's index prefix): two long
 * Message-IDs that share their first 300 bytes give two keys, and a
 * short one is kept as written. */
static void
test_msgkey_long_message_id(void)
{
	char id[2][400], msg[1024];
	char *k[2];
	struct mime_msg m;

	for (int i = 0; i < 2; i++) {
		memset(id[i], 'a', 350);
		(void)snprintf(id[i] + 350, sizeof(id[i]) - 350, "%d@x", i);
		(void)snprintf(msg, sizeof(msg), "Message-ID: <%s>\n\nsame body\n", id[i]);
		mime_parse(&m, msg, strlen(msg), NULL);
		k[i] = bayes_msgkey(&m);
		mime_free(&m);
		T_INTEQ(strlen(k[i]), BAYES_MSGKEY_MAX);
		T_OK(strncmp(k[i], "<aaaa", 5) == 0);
	}
	T_OK(strncmp(k[0], k[1], BAYES_MSGKEY_MAX) != 0);
	free(k[0]);
	free(k[1]);
	/* a Message-ID of 238 bytes (with its <>) still fits as written */
	memset(id[0], 'b', 232);
	memcpy(id[0] + 232, "@x.y", 5);
	(void)snprintf(msg, sizeof(msg), "Message-ID: <%s>\n\nbody\n", id[0]);
	mime_parse(&m, msg, strlen(msg), NULL);
	k[0] = bayes_msgkey(&m);
	mime_free(&m);
	T_INTEQ(strlen(k[0]), BAYES_MSGKEY_MAX);
	T_OK(strchr(k[0], '#') == NULL);
	free(k[0]);
}

/* The same message with CRLF and with LF line ends has one key, so
 * learning it as the other class moves it; a lone CR still counts. */
static void
test_msgkey_line_ends(void)
{
	const char *lf = "Subject: x\nMessage-ID: <k@x>\n\nbody one\nbody two\n";
	const char *crlf = "Subject: x\r\nMessage-ID: <k@x>\r\n\r\nbody one\r\nbody two\r\n";
	const char *cr = "Subject: x\nMessage-ID: <k@x>\n\nbody one\rbody two\n";
	struct mime_msg m;
	char *a, *b, *c;

	mime_parse(&m, lf, strlen(lf), NULL);
	a = bayes_msgkey(&m);
	mime_free(&m);
	mime_parse(&m, crlf, strlen(crlf), NULL);
	b = bayes_msgkey(&m);
	mime_free(&m);
	mime_parse(&m, cr, strlen(cr), NULL);
	c = bayes_msgkey(&m);
	mime_free(&m);
	T_STREQ(a, b);
	T_OK(strcmp(a, c) != 0);
	/* an LF body's key is the FNV-1a hash of it, as before */
	T_STREQ(a, "<k@x>/a32b564d85bc8917");
	free(a);
	free(b);
	free(c);
}

static void
test_chi2(void)
{
	T_OK(fabs(bayes_chi2q(0, 4) - 1.0) < 1e-9);
	T_OK(fabs(bayes_chi2q(2.0, 2) - exp(-1.0)) < 1e-9);
	/* chi2 survival at 9.488 with 4 d.f. is 0.05 */
	T_OK(fabs(bayes_chi2q(9.488, 4) - 0.05) < 0.001);
	T_OK(bayes_chi2q(1e6, 300) < 1e-100);
}

/* bayes_combine() on synthetic counts (1000 spam, 1000 ham learned):
 * 60 tokens seen only in spam (100 times each), 40 seen only in ham (3
 * times each).  Spam tokens alone: sure spam; ham tokens alone: sure ham;
 * both: the unsure gate answers exactly 0.5 (the 400-strongest
 * combination alone says 0.63: bench/spam/bayes_lab.py); a few ham tokens
 * next to the spam ones do not trip it. */
static void
test_combine_gate(void)
{
	struct bayes_counts tot = { 1000, 1000 }, c[100];
	double p;

	for (int i = 0; i < 60; i++)
		c[i] = (struct bayes_counts){ 100, 0 };
	for (int i = 60; i < 100; i++)
		c[i] = (struct bayes_counts){ 0, 3 };
	T_OK(bayes_combine(c, 60, &tot) > 0.9999);
	T_OK(bayes_combine(c + 60, 40, &tot) < 1e-6);
	p = bayes_combine(c, 100, &tot);
	T_OK(p == 0.5);
	T_OK(bayes_combine(c, 65, &tot) > 0.99);
	T_OK(bayes_combine(c, 0, &tot) == 0.5);
	/* unknown tokens (zero counts) are ignored */
	for (int i = 60; i < 100; i++)
		c[i] = (struct bayes_counts){ 0, 0 };
	T_OK(bayes_combine(c, 100, &tot) > 0.9999);
}

static void
test_roundtrip(void)
{
	char path[] = "/tmp/tempest-bayes-XXXXXX";
	int fd = mkstemp(path);
	char *err = NULL;
	struct store *st;
	struct bayes_opts o = { 10, 10 };
	const char *e = NULL;
	struct mime_msg m;
	char *msg;
	double p;
	struct bayes_counts tot;

	close(fd);
	st = store_open(path, &err);
	T_OK(st != NULL);
	if (st == NULL)
		return;
	msg = make_msg(1, 100);
	mime_parse(&m, msg, strlen(msg), NULL);
	T_OK(bayes_classify(st, "", &m, &o, &e) == -1);  /* untrained */
	mime_free(&m);
	free(msg);

	store_begin(st);
	for (int i = 0; i < 30; i++) {
		for (int s = 0; s <= 1; s++) {
			msg = make_msg(s, i);
			mime_parse(&m, msg, strlen(msg), NULL);
			T_INTEQ(bayes_learn(st, "", &m, s, 0), BAYES_LEARNED);
			mime_free(&m);
			free(msg);
		}
	}
	store_commit(st);
	T_INTEQ(store_bayes_totals(st, "", &tot), 0);
	T_INTEQ(tot.spam, 30);
	T_INTEQ(tot.ham, 30);

	msg = make_msg(1, 31);
	mime_parse(&m, msg, strlen(msg), NULL);
	p = bayes_classify(st, "", &m, &o, &e);
	T_OK(p > 0.99);
	mime_free(&m);
	free(msg);
	msg = make_msg(0, 31);
	mime_parse(&m, msg, strlen(msg), NULL);
	p = bayes_classify(st, "", &m, &o, &e);
	T_OK(p >= 0 && p < 0.01);
	/* per-user database is empty */
	T_OK(bayes_classify(st, "bob", &m, &o, &e) == -1);
	mime_free(&m);
	free(msg);

	/* learning twice is a no-op; learning as the other class moves it */
	msg = make_msg(1, 5);
	mime_parse(&m, msg, strlen(msg), NULL);
	T_INTEQ(bayes_learn(st, "", &m, 1, 0), BAYES_ALREADY);
	T_INTEQ(bayes_learn(st, "", &m, 0, 0), BAYES_RELEARNED);
	store_bayes_totals(st, "", &tot);
	T_INTEQ(tot.spam, 29);
	T_INTEQ(tot.ham, 31);
	T_INTEQ(bayes_learn(st, "", &m, 0, 1), BAYES_FORGOTTEN);
	T_INTEQ(bayes_learn(st, "", &m, 0, 1), BAYES_NOT_FOUND);
	store_bayes_totals(st, "", &tot);
	T_INTEQ(tot.spam, 29);
	T_INTEQ(tot.ham, 30);
	mime_free(&m);
	free(msg);

	/* forgetting everything brings the token table back to empty */
	store_begin(st);
	for (int i = 0; i < 30; i++)
		for (int s = 0; s <= 1; s++) {
			msg = make_msg(s, i);
			mime_parse(&m, msg, strlen(msg), NULL);
			(void)bayes_learn(st, "", &m, s, 1);
			mime_free(&m);
			free(msg);
		}
	store_commit(st);
	store_bayes_totals(st, "", &tot);
	T_INTEQ(tot.spam + tot.ham, 0);
	T_INTEQ(store_bayes_ntokens(st, ""), 0);
	store_close(&st);
	unlink(path);
	{
		char *w = xasprintf("%s-wal", path);
		unlink(w);
		free(w);
		w = xasprintf("%s-shm", path);
		unlink(w);
		free(w);
	}
}

int
main(void)
{
	T_RUN(test_tokens);
	T_RUN(test_tokens_capped_body);
	T_RUN(test_msgkey_line_ends);
	T_RUN(test_msgkey_long_message_id);
	T_RUN(test_chi2);
	T_RUN(test_combine_gate);
	T_RUN(test_roundtrip);
	return t_done();
}
