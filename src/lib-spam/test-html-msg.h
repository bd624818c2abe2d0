/*
 * test-html-msg.h - an HTML message whose comments, anchor texts, title,
 * length and open tags SpamAssassin 4.0.1 reported (HTMLEval's lists):
 * test-mime.c checks what the parser keeps of it, test-rules.c the
 * eval: tests on it.
 */
#ifndef TEMPEST_TEST_HTML_MSG_H
#define TEMPEST_TEST_HTML_MSG_H

static const char html_eval_msg[] =
	    "From: a@example.com\n"
	    "To: b@example.com\n"
	    "Subject: html\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/html; charset=us-ascii\n"
	    "\n"
	    "<!DOCTYPE -//w3c//dtd html>\n"
	    "<html><head><title>Big &amp; bold offer</title></head>\n"
	    "<body><!-- saved from url=(0022)http://example.com/ --><!x>\n"
	    "<a href=\"http://a.example/\">Click <b>here</b> &amp; win<img src=\"x.gif\"></a>\n"
	    "<center><center>text\n"
	    "<!--#rotate>after\n"
	    "</body>\n";

/* The start of the message both test_sa_text (test-mime.c) and
 * test_sa_reading (test-rules.c) read in SpamAssassin's reading and in
 * Tempest's own: an image with alt text inside a word, then text in the
 * background's colour with a host name in it. */
#define SA_READING_MSG_START \
	"Subject: x\n" \
	"Content-Type: text/html\n" \
	"\n" \
	"<p>Best<img src=\"http://img.example/a.gif\" alt=\"cheap meds\">price</p>" \
	"<font color=\"#ffffff\">hashbuster qwerty www.hiddenexample.com</font>"

#endif
