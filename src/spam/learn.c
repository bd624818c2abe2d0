/*
 * learn.c - `tempest learn`: train (or untrain) the Bayesian classifier.
 *
 *   tempest learn --spam|--ham [--forget] [--mbox] [--db PATH] [--user NAME]
 *                 [FILE|DIR|Maildir]...
 *   tempest learn --expire [--db PATH] [--user NAME]
 *
 * A directory holds one message per file; a Maildir is read from cur/
 * and new/; a file is one message, or an mbox with --mbox; no path reads
 * one message from stdin.  A leading mbox "From " line is skipped.
 * Messages are untrusted; each is bounded (SPAM_CMD_MAX_MESSAGE).
 * The logistic regression's samples are stored with the Bayes tokens and
 * its weights retrained once at the end (lr.h).  Then, with
 * bayes_auto_expire (or --expire alone), the database is cut back to
 * 3/4 of bayes_expiry_max_db_size tokens when it holds more (bayes.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "spam_cmd.h"
#include "spam_engine.h"

struct learn_ctx {
	struct spam_engine *e;
	const char *user;
	int spam, forget, expire;
	long examined, learned, relearned, already, forgotten, notfound, errors;
};

static void
usage(void)
{
	fprintf(stderr, "usage: tempest learn --spam|--ham [--forget] [--mbox] "
	    "[--db PATH] [--user NAME] [FILE|DIR|Maildir]...\n"
	    "       tempest learn --expire [--db PATH] [--user NAME]\n");
	exit(2);
}

static void
learn_one(const char *data, size_t len, const char *name, void *arg)
{
	struct learn_ctx *c = arg;
	struct mime_msg m;
	int r;

	mime_parse(&m, data, len, &c->e->lim);
	r = bayes_learn(c->e->store, c->user, &m, c->spam, c->forget);
	mime_free(&m);
	c->examined++;
	switch (r) {
	case BAYES_LEARNED: c->learned++; break;
	case BAYES_RELEARNED: c->relearned++; break;
	case BAYES_ALREADY: c->already++; break;
	case BAYES_FORGOTTEN: c->forgotten++; break;
	case BAYES_NOT_FOUND: c->notfound++; break;
	default:
		c->errors++;
		fprintf(stderr, "learn: %s: %s\n", name, store_error(c->e->store));
		break;
	}
	if (c->examined % 500 == 0) {
		(void)store_commit(c->e->store);
		(void)store_begin(c->e->store);
	}
}

int
learn_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spam", no_argument, NULL, 's' },
		{ "ham", no_argument, NULL, 'h' },
		{ "forget", no_argument, NULL, 'f' },
		{ "mbox", no_argument, NULL, 'm' },
		{ "db", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ "expire", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct spam_engine_opts eo = { 0 };
	struct learn_ctx ctx;
	int c, kind = -1, mbox = 0, bad = 0;
	char *err = NULL;

	memset(&ctx, 0, sizeof(ctx));
	ctx.user = "";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': kind = 1; break;
		case 'h': kind = 0; break;
		case 'f': ctx.forget = 1; break;
		case 'm': mbox = 1; break;
		case 'd': eo.db = optarg; break;
		case 'u': ctx.user = optarg; break;
		case 'e': ctx.expire = 1; break;
		default: usage();
		}
	}
	/* --expire alone expires; with a kind it only means "also expire" */
	if (kind < 0 && !ctx.forget && !ctx.expire)
		usage();
	if (ctx.expire && kind < 0 && !ctx.forget && optind < argc)
		usage();
	ctx.spam = kind == 1;
	spam_cmd_config();
	eo.need_store = 1;
	eo.rules = (const char *const[]){ NULL };
	ctx.e = spam_engine_new(&eo, &err);
	if (ctx.e == NULL) {
		fprintf(stderr, "learn: %s\n", err);
		return 2;
	}
	if (store_begin(ctx.e->store) < 0) {
		fprintf(stderr, "learn: %s\n", store_error(ctx.e->store));
		return 2;
	}
	if (optind == argc && (kind >= 0 || ctx.forget)) {
		struct buf in;
		buf_init(&in, SPAM_CMD_MAX_MESSAGE);
		if (spam_cmd_read_fd(0, &in) < 0) {
			fprintf(stderr, "learn: cannot read stdin\n");
			return 2;
		}
		learn_one(in.data ? in.data : "", in.len, "stdin", &ctx);
		buf_free(&in);
	}
	for (int i = optind; i < argc; i++)
		bad += spam_cmd_each_message(argv[i], mbox, learn_one, &ctx);
	/* the LR weights from all samples, the new ones included (lr.h) */
	if (ctx.examined > 0 && lr_retrain(ctx.e->store, ctx.user, 1) < 0) {
		fprintf(stderr, "learn: LR training: %s\n", store_error(ctx.e->store));
		ctx.errors++;
	}
	if (ctx.expire || (ctx.examined > 0 && ctx.e->bayes_auto_expire)) {
		int64_t n = spam_engine_expire(ctx.e, ctx.user);
		if (n < 0)
			ctx.errors++;
		else if (n > 0 || ctx.expire)
			printf("Expired %lld token(s) (bayes_expiry_max_db_size = %lld)\n",
			    (long long)n, ctx.e->bayes_max_tokens);
	}
	if (store_commit(ctx.e->store) < 0) {
		fprintf(stderr, "learn: %s\n", store_error(ctx.e->store));
		return 2;
	}
	if (ctx.examined == 0 && ctx.expire)
		;                       /* expiry only */
	else if (ctx.forget)
		printf("Forgot %ld message(s) (%ld examined, %ld not learned before)\n",
		    ctx.forgotten, ctx.examined, ctx.notfound);
	else
		printf("Learned tokens from %ld message(s) as %s (%ld examined, %ld relearned, %ld already known)\n",
		    ctx.learned + ctx.relearned, ctx.spam ? "spam" : "ham", ctx.examined,
		    ctx.relearned, ctx.already);
	{
		struct bayes_counts t;
		if (store_bayes_totals(ctx.e->store, ctx.user, &t) == 0)
			printf("Database: %lld spam, %lld ham, %lld tokens\n",
			    (long long)t.spam, (long long)t.ham,
			    (long long)store_bayes_ntokens(ctx.e->store, ctx.user));
	}
	spam_engine_free(&ctx.e);
	return (bad || ctx.errors) ? 1 : 0;
}
