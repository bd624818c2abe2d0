/*
 * learn.c - `tempest learn`: train (or untrain) the Bayesian classifier.
 *
 *   tempest learn --spam|--ham [--forget] [--mbox] [--db PATH] [--user NAME]
 *                 [FILE|DIR|Maildir]...
 *   tempest learn --expire [--db PATH] [--user NAME]
 *   tempest learn --copy-from SPEC [--db PATH] [--user NAME | --all-users]
 *
 * A directory holds one message per file; a Maildir is read from cur/
 * and new/; a file is one message, or an mbox with --mbox; no path reads
 * one message from stdin.  A leading mbox "From " line is skipped; an
 * empty message (only blank lines after it) is not learned.
 * Messages are untrusted; each is bounded (SPAM_CMD_MAX_MESSAGE).
 * The logistic regression's samples are stored with the Bayes tokens and
 * its weights retrained once at the end, when a sample changed (lr.h).
 *
 * Messages are learned in batches of LEARN_BATCH (one transaction each:
 * per-message commits cost twice the time on SQLite).  A batch keeps
 * copies of its messages: after a conflict with another writer (a
 * MariaDB deadlock with another node or the filter's auto-learning,
 * store_conflict) it is rolled back and learned again; if that keeps
 * failing, or on another error, each message of it is learned on its
 * own, so one bad message costs only itself (but a store still busy
 * after a message's own attempts fails the rest of the batch at once).
 * Counts are taken when a transaction commits.
 *
 * --copy-from copies a user's whole model (Bayes tokens, totals,
 * learned-message marks, LR samples; the weights are retrained) from
 * another store into an empty one: a site moving from the embedded
 * SQLite store to a shared MariaDB one (bayes_copy); --all-users copies
 * every user that has a model there, one transaction each (`tempest
 * quarantine copy-from` moves the quarantine and the levels).  Then, with
 * bayes_auto_expire (or --expire alone), the database is cut back to
 * 3/4 of bayes_expiry_max_db_size tokens when it holds more (bayes.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdio.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "spam_cmd.h"
#include "spam_engine.h"

#define LEARN_BATCH 500
#define LEARN_BATCH_BYTES (32 * 1024 * 1024)

struct pending {
	char *data, *name;
	size_t len;
};

struct learn_counts {
	long learned, relearned, already, forgotten, notfound;
};

struct learn_ctx {
	struct spam_engine *e;
	const char *user;
	int spam, forget, expire;
	long examined, errors, skipped;
	struct learn_counts n;
	struct pending *batch;
	size_t nbatch, batch_bytes;
};

static void
print_database(struct learn_ctx *c, const char *user)
{
	struct bayes_counts t;

	if (store_bayes_totals(c->e->store, user, &t) == 0)
		printf("Database: %lld spam, %lld ham, %lld tokens\n",
		    (long long)t.spam, (long long)t.ham,
		    (long long)store_bayes_ntokens(c->e->store, user));
}

static void
usage(void)
{
	ctl_usage("learn");
	exit(2);
}

/* Learn one message (in the caller's transaction, if open): result of
 * bayes_learn, counted in *n. */
static int
learn_msg(struct learn_ctx *c, const struct pending *p, struct learn_counts *n)
{
	struct mime_msg m;
	int r;

	mime_parse(&m, p->data, p->len, &c->e->lim);
	r = bayes_learn(c->e->store, c->user, &m, c->spam, c->forget);
	mime_free(&m);
	switch (r) {
	case BAYES_LEARNED: n->learned++; break;
	case BAYES_RELEARNED: n->relearned++; break;
	case BAYES_ALREADY: n->already++; break;
	case BAYES_FORGOTTEN: n->forgotten++; break;
	case BAYES_NOT_FOUND: n->notfound++; break;
	default: break;
	}
	return r;
}

static void
add_counts(struct learn_counts *to, const struct learn_counts *n)
{
	to->learned += n->learned;
	to->relearned += n->relearned;
	to->already += n->already;
	to->forgotten += n->forgotten;
	to->notfound += n->notfound;
}

struct batch_tx {
	struct learn_ctx *c;
	struct learn_counts n;
};

static int
batch_tx(struct store *st, void *arg)
{
	struct batch_tx *b = arg;

	(void)st;
	memset(&b->n, 0, sizeof(b->n));
	for (size_t i = 0; i < b->c->nbatch; i++)
		if (learn_msg(b->c, &b->c->batch[i], &b->n) < 0)
			return -1;
	return 0;
}

/* Learn the batch in one transaction, again after a conflict; else
 * message by message, until one of them still meets another writer
 * after all its attempts (SQLite: a write lock held for over a minute). */
static void
flush(struct learn_ctx *c)
{
	struct store *st = c->e->store;
	struct batch_tx b = { .c = c };
	char *busy = NULL;

	if (c->nbatch == 0)
		return;
	if (store_transaction(st, batch_tx, &b) == 0) {
		add_counts(&c->n, &b.n);
		goto done;
	}
	for (size_t i = 0; i < c->nbatch; i++) {
		/* its own transaction (and its own retries); once one of
		 * them stays busy as long, so would the rest: not tried */
		if (busy == NULL) {
			if (learn_msg(c, &c->batch[i], &c->n) >= 0)
				continue;
			if (store_conflict(st))
				busy = xstrdup(store_error(st));
		}
		c->errors++;
		fprintf(stderr, "learn: %s: %s\n", c->batch[i].name,
		    busy != NULL ? busy : store_error(st));
	}
	free(busy);
done:
	for (size_t i = 0; i < c->nbatch; i++) {
		free(c->batch[i].data);
		free(c->batch[i].name);
	}
	c->nbatch = c->batch_bytes = 0;
}

/* Whether a message holds nothing: no bytes but blanks and line ends
 * after a leading mbox "From " line (an empty file, a truncated mbox). */
static int
empty_message(const char *data, size_t len)
{
	size_t i = 0;

	if (len >= 5 && memcmp(data, "From ", 5) == 0) {
		const char *nl = memchr(data, '\n', len);
		i = nl != NULL ? (size_t)(nl - data) + 1 : len;
	}
	for (; i < len; i++)
		if (data[i] != '\n' && data[i] != '\r' && data[i] != ' ' && data[i] != '\t')
			return 0;
	return 1;
}

static void
learn_one(const char *data, size_t len, const char *name, void *arg)
{
	struct learn_ctx *c = arg;
	struct pending *p;

	if (empty_message(data, len)) {
		fprintf(stderr, "learn: %s: empty message, not learned\n", name);
		c->skipped++;
		return;
	}
	c->examined++;
	if (c->batch == NULL)
		c->batch = xcalloc(LEARN_BATCH, sizeof(*c->batch));
	p = &c->batch[c->nbatch++];
	p->data = xmalloc(len + 1);
	memcpy(p->data, data, len);
	p->len = len;
	p->name = xstrdup(name);
	c->batch_bytes += len;
	if (c->nbatch == LEARN_BATCH || c->batch_bytes >= LEARN_BATCH_BYTES)
		flush(c);
}

/* --copy-from, one user: one transaction on the target (again after a
 * conflict), the LR weights retrained from the copied samples.  0 or 1
 * (said why). */
struct copy_tx {
	struct store *from;
	const char *user, *why;
	struct bayes_copied n;
};

static int
copy_tx(struct store *to, void *arg)
{
	struct copy_tx *t = arg;

	t->why = NULL;
	return bayes_copy(t->from, to, t->user, &t->n, &t->why) < 0 ||
	    lr_retrain(to, t->user, 1) < 0 ? -1 : 0;
}

static int
copy_user(struct learn_ctx *c, struct store *from, const char *user)
{
	struct copy_tx t = { .from = from, .user = user };
	const char *why = NULL;

	if (store_transaction(c->e->store, copy_tx, &t) < 0)
		why = t.why != NULL ? t.why : store_error(c->e->store);
	if (why != NULL) {
		fprintf(stderr, "learn: copy %s%s%s: %s\n", user[0] ? "user '" : "the global database",
		    user, user[0] ? "'" : "", why);
		return 1;
	}
	/* not the spec: a MariaDB one may hold a password */
	printf("Copied %lld token(s), %lld learned message(s) and %lld LR "
	    "sample(s) of %s%s%s\n", (long long)t.n.tokens,
	    (long long)t.n.seen, (long long)t.n.samples,
	    user[0] ? "user '" : "the global database", user, user[0] ? "'" : "");
	print_database(c, user);
	return 0;
}

struct names {
	char **v;
	size_t n;
};

static void
add_name(const char *name, void *arg)
{
	struct names *l = arg;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
}

/* --copy-from: the user given, or every user with a model in the
 * source (all). Exit status. */
static int
copy_model(struct learn_ctx *c, const char *spec, int all)
{
	struct store *from;
	struct names users = { 0 };
	char *err = NULL;
	int r = 0;
	size_t failed = 0;

	if ((from = store_open(spec, &err)) == NULL) {
		fprintf(stderr, "learn: %s\n", err);
		free(err);
		return 2;
	}
	if (!all) {
		r = copy_user(c, from, c->user);
	} else if (store_bayes_users(from, add_name, &users) < 0) {
		fprintf(stderr, "learn: copy: %s\n", store_error(from));
		r = 1;
	} else {
		for (size_t i = 0; i < users.n; i++)
			failed += copy_user(c, from, users.v[i]) != 0;
		printf("Copied the models of %zu of %zu user(s)\n", users.n - failed, users.n);
		r = failed > 0;
	}
	for (size_t i = 0; i < users.n; i++)
		free(users.v[i]);
	free(users.v);
	store_close(&from);
	return r;
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
		{ "copy-from", required_argument, NULL, 'C' },
		{ "all-users", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	struct spam_engine_opts eo = { 0 };
	struct learn_ctx ctx;
	int c, kind = -1, mbox = 0, bad = 0, all_users = 0, user_given = 0;
	char *err = NULL;
	const char *copy_from = NULL;

	memset(&ctx, 0, sizeof(ctx));
	ctx.user = "";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
		case 'h':
			if (kind >= 0 && kind != (c == 's')) {
				fprintf(stderr, "learn: --spam and --ham exclude "
				    "each other\n");
				usage();
			}
			kind = c == 's';
			break;
		case 'f': ctx.forget = 1; break;
		case 'm': mbox = 1; break;
		case 'd': eo.db = optarg; break;
		case 'u': ctx.user = optarg; user_given = 1; break;
		case 'A': all_users = 1; break;
		case 'e': ctx.expire = 1; break;
		case 'C': copy_from = optarg; break;
		default: usage();
		}
	}
	/* --expire alone expires; with a kind it only means "also expire" */
	if (kind < 0 && !ctx.forget && !ctx.expire && copy_from == NULL)
		usage();
	if (copy_from != NULL && (kind >= 0 || ctx.forget || ctx.expire || optind < argc))
		usage();
	if (all_users && (copy_from == NULL || user_given))
		usage();
	if (ctx.expire && kind < 0 && !ctx.forget && optind < argc)
		usage();
	ctx.spam = kind == 1;
	spam_cmd_config();
	spam_cmd_store_owner(eo.db);
	eo.need_store = 1;
	eo.rules = (const char *const[]){ NULL };
	ctx.e = spam_engine_new(&eo, &err);
	if (ctx.e == NULL) {
		fprintf(stderr, "learn: %s\n", err);
		return 2;
	}
	if (copy_from != NULL) {
		int r = copy_model(&ctx, copy_from, all_users);
		spam_engine_free(&ctx.e);
		return r;
	}
	if (optind == argc && (kind >= 0 || ctx.forget)) {
		struct buf in;
		buf_init(&in, SPAM_CMD_MAX_MESSAGE);
		if (fd_read_all(0, &in) < 0) {
			fprintf(stderr, "learn: cannot read stdin\n");
			return 2;
		}
		learn_one(in.data ? in.data : "", in.len, "stdin", &ctx);
		buf_free(&in);
	}
	for (int i = optind; i < argc; i++)
		bad += spam_cmd_each_message(argv[i], mbox, learn_one, &ctx);
	flush(&ctx);
	free(ctx.batch);
	{
		int expire = ctx.expire || (ctx.examined > 0 && ctx.e->bayes_auto_expire);
		int64_t n = 0;

		if ((ctx.examined > 0 || expire) &&
		    spam_engine_maintain(ctx.e, ctx.user,
		    (ctx.examined > 0 ? SPAM_MAINT_TRAIN : 0) |
		    (expire ? SPAM_MAINT_EXPIRE : 0), &n) < 0) {
			fprintf(stderr, "learn: %s: %s\n", ctx.examined > 0 ?
			    "LR training" : "expiry", store_error(ctx.e->store));
			ctx.errors++;
		} else if (n > 0 || ctx.expire) {
			printf("Expired %lld token(s) (bayes_expiry_max_db_size = %lld)\n",
			    (long long)n, ctx.e->bayes_max_tokens);
		}
	}
	if (ctx.examined == 0 && ctx.skipped == 0 && ctx.expire)
		;                       /* expiry only */
	else if (ctx.forget)
		printf("Forgot %ld message(s) (%ld examined, %ld not learned before",
		    ctx.n.forgotten, ctx.examined, ctx.n.notfound);
	else
		printf("Learned tokens from %ld message(s) as %s (%ld examined, %ld relearned, %ld already known",
		    ctx.n.learned + ctx.n.relearned, ctx.spam ? "spam" : "ham", ctx.examined,
		    ctx.n.relearned, ctx.n.already);
	if (ctx.examined > 0 || ctx.skipped > 0 || !ctx.expire) {
		if (ctx.skipped > 0)
			printf(", %ld empty skipped", ctx.skipped);
		printf(")\n");
	}
	print_database(&ctx, ctx.user);
	spam_engine_free(&ctx.e);
	return (bad || ctx.errors || ctx.skipped) ? 1 : 0;
}
