/*
 * test-spam-msgs.h - the synthetic spam and ham messages the Bayes and
 * logistic-regression unit tests learn from: message i of a class mixes
 * five of that class's ten words, a sender and a URI host of its own.
 * Included by test-bayes.c and test-lr.c only.
 */
#ifndef TEMPEST_TEST_SPAM_MSGS_H
#define TEMPEST_TEST_SPAM_MSGS_H

#include "mem.h"

static const char *spam_words[] = { "viagra", "cheap", "pills", "winner", "casino",
	"offer", "discount", "prize", "bonus", "replica" };
static const char *ham_words[] = { "meeting", "agenda", "lunch", "project", "review",
	"tuesday", "patch", "budget", "minutes", "release" };

static char *
make_msg(int spam, int i)
{
	const char **w = spam ? spam_words : ham_words;
	return xasprintf("From: %s%d@%s.example\nSubject: %s %s\nMessage-ID: <%c%d@x>\n\n"
	    "Hello, %s %s %s and %s. Visit http://%s.example/%d\n",
	    spam ? "promo" : "colleague", i, spam ? "bulk" : "corp", w[i % 10], w[(i + 3) % 10],
	    spam ? 's' : 'h', i, w[(i + 1) % 10], w[(i + 2) % 10], w[(i + 5) % 10],
	    w[(i + 7) % 10], spam ? "shop" : "wiki", i);
}

#endif
