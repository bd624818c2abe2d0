/*
 * quarantine.c - `tempest quarantine`: the spam quarantine in the store.
 *
 *   tempest quarantine [--db PATH] list
 *   tempest quarantine [--db PATH] show ID
 *   tempest quarantine [--db PATH] release ID [RCPT...]
 *   tempest quarantine [--db PATH] delete ID
 *   tempest quarantine [--db PATH] learn-ham ID      (learn as ham, then release)
 *   tempest quarantine [--db PATH] expire            (spam_quarantine_max_age)
 *   tempest quarantine [--db PATH] levels [RCPT [TAG SPAM QUARANTINE REJECT | delete]]
 *   tempest quarantine [--db PATH] copy-from SPEC
 *
 * `levels` shows or sets the per-recipient spam thresholds kept in the
 * store (they override spam_tag_level, spam_level, spam_quarantine_level
 * and spam_reject_level for mail to that address); without RCPT it lists
 * them all.
 *
 * copy-from copies every quarantined message and every per-recipient
 * setting of another store into this one (a site moving from the
 * embedded SQLite store to a shared MariaDB one; `tempest learn
 * --copy-from SPEC --all-users` moves the Bayes models), in one
 * transaction; messages whose id is already here and recipients that
 * already have settings here are left as they are.
 *
 * release re-injects the stored message as `tempest sendmail` does (a
 * maildrop file for pickup) to its original recipients (or those
 * given), with the original envelope's DSN, BODY and SMTPUTF8
 * parameters, and removes it from the store.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "mem.h"
#include "roles.h"
#include "service.h"
#include "smtp_parse.h"
#include "spam_cmd.h"
#include "spam_engine.h"
#include "str.h"

/* How long learn-ham waits for a store another process writes to. */
#define LEARN_HAM_PATIENCE_MS 3000

static void
usage(void)
{
	ctl_usage("quarantine");
	exit(2);
}

/* s as a terminal may show it: the sender wrote the subject (its
 * encoded words can hold any byte) and the addresses, so C0 controls,
 * DEL and the C1 controls in UTF-8 (U+0080..U+009F: CSI is U+009B)
 * print as '?' instead of moving the cursor or recolouring the
 * admin's terminal. */
static void
print_safe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			putchar('?');
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			putchar('?');
			p++;
		} else
			putchar(*p);
	}
}

/* The recipients on one line, separated by commas. */
static void
print_recipients(const struct quarantine_item *q)
{
	size_t n;
	char **v = quarantine_recipients(q, &n);

	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		print_safe(v[i]);
	}
	str_split_free(&v);
}

static void
print_item(const struct quarantine_item *q, void *arg)
{
	char when[32], score[32];
	struct tm tm;

	(void)arg;
	gmtime_r(&q->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	report_num(score, sizeof(score), q->score);
	printf("%s %s %s ", q->id, when, score);
	print_safe(q->subject[0] ? q->subject : "(no subject)");
	printf(" <");
	print_safe(q->sender);
	printf("> -> ");
	print_recipients(q);
	printf("\n");
}

static void
print_levels(const char *rcpt, const struct spam_levels *l, const char *where)
{
	char a[32], b[32], c[32], d[32];

	report_num(a, sizeof(a), l->tag);
	report_num(b, sizeof(b), l->spam);
	report_num(c, sizeof(c), l->quarantine);
	report_num(d, sizeof(d), l->reject);
	printf("%s: tag=%s spam=%s quarantine=%s reject=%s (%s)\n", rcpt, a, b, c, d, where);
}

static void
print_levels_row(const char *rcpt, const struct spam_levels *l, void *arg)
{
	(void)arg;
	print_levels(rcpt, l, "per recipient");
}

struct copy {
	struct store *from;
	char **ids;
	size_t nids;
	char **rcpts;
	struct spam_levels *levels;
	size_t nrcpts;
	long items, items_kept, nlevels, levels_kept;
	const char *why;        /* an error of the source */
};

static void
add_id(const struct quarantine_item *q, void *arg)
{
	struct copy *c = arg;

	c->ids = xreallocarray(c->ids, c->nids + 1, sizeof(*c->ids));
	c->ids[c->nids++] = xstrdup(q->id);
}

static void
add_levels(const char *rcpt, const struct spam_levels *l, void *arg)
{
	struct copy *c = arg;

	c->rcpts = xreallocarray(c->rcpts, c->nrcpts + 1, sizeof(*c->rcpts));
	c->levels = xreallocarray(c->levels, c->nrcpts + 1, sizeof(*c->levels));
	c->rcpts[c->nrcpts] = xstrdup(rcpt);
	c->levels[c->nrcpts++] = *l;
}

/* the whole copy, in the target's transaction (again after a conflict),
 * durable: once the old store is retired these rows are the only copies */
static int
copy_tx(struct store *to, void *arg)
{
	struct copy *c = arg;
	struct quarantine_item q;
	struct spam_levels l;
	int r;

	c->items = c->items_kept = c->nlevels = c->levels_kept = 0;
	for (size_t i = 0; i < c->nids; i++) {
		if ((r = store_quarantine_get(to, c->ids[i], &q)) < 0)
			return -1;
		if (r == 1) {
			quarantine_item_free(&q);
			c->items_kept++;
			continue;
		}
		if ((r = store_quarantine_get(c->from, c->ids[i], &q)) < 0) {
			c->why = store_error(c->from);
			return -1;
		}
		if (r == 0)
			continue;       /* deleted there meanwhile */
		r = store_quarantine_put(to, &q);
		quarantine_item_free(&q);
		if (r < 0)
			return -1;
		c->items++;
	}
	for (size_t i = 0; i < c->nrcpts; i++) {
		if ((r = store_levels_get(to, c->rcpts[i], &l)) < 0)
			return -1;
		if (r == 1) {
			c->levels_kept++;
			continue;
		}
		if (store_levels_set(to, c->rcpts[i], &c->levels[i]) < 0)
			return -1;
		c->nlevels++;
	}
	return 0;
}

/* copy-from: exit status */
static int
copy_from(struct store *to, const char *spec)
{
	struct copy c = { 0 };
	char *err = NULL;
	int ret = 0;

	if ((c.from = store_open(spec, &err)) == NULL) {
		fprintf(stderr, "quarantine: %s\n", err);
		free(err);
		return 2;
	}
	if (store_quarantine_list(c.from, add_id, &c) < 0 ||
	    store_levels_list(c.from, add_levels, &c) < 0) {
		fprintf(stderr, "quarantine: copy: %s\n", store_error(c.from));
		ret = 2;
	} else if (store_transaction_durable(to, copy_tx, &c) < 0) {
		fprintf(stderr, "quarantine: copy: %s\n", c.why ? c.why : store_error(to));
		ret = 2;
	} else {
		/* not the spec: a MariaDB one may hold a password */
		printf("Copied %ld quarantined message(s) (%ld already here) and the levels of "
		    "%ld recipient(s) (%ld already set here)\n", c.items, c.items_kept,
		    c.nlevels, c.levels_kept);
	}
	for (size_t i = 0; i < c.nids; i++)
		free(c.ids[i]);
	for (size_t i = 0; i < c.nrcpts; i++)
		free(c.rcpts[i]);
	free(c.ids);
	free(c.rcpts);
	free(c.levels);
	store_close(&c.from);
	return ret;
}

/* The MAIL FROM parameters kept in q's envelope (store.h); all 0 for a
 * row without them. */
static void
envelope_mail(const struct quarantine_item *q, struct smtp_mail_params *mp)
{
	char **lines = str_split(q->envelope ? q->envelope : "", "\n", NULL);

	memset(mp, 0, sizeof(*mp));
	for (size_t i = 0; lines[i] != NULL; i++) {
		struct smtp_path p;
		const char *params, *err;
		smtp_path_init(&p);
		if (str_prefix_ci(lines[i], "FROM:") &&
		    smtp_parse_path_arg(lines[i], "FROM", SMTP_PATH_ALLOW_NULL |
		    SMTP_PATH_ALLOW_UTF8 | SMTP_PATH_ALLOW_BARE, &p, &params, &err) == 0 &&
		    smtp_parse_mail_params(params, mp, &err) < 0) {
			log_warn("quarantine: %s: envelope: %s: %s", q->id, lines[i], err);
			memset(mp, 0, sizeof(*mp));
		}
		smtp_path_free(&p);
	}
	str_split_free(&lines);
}

/* The RCPT TO parameters of rcpt kept in q's envelope; 0 if none. */
static void
envelope_rcpt(const struct quarantine_item *q, const char *rcpt,
    struct smtp_rcpt_params *rp)
{
	char **lines = str_split(q->envelope ? q->envelope : "", "\n", NULL);
	int found = 0;

	memset(rp, 0, sizeof(*rp));
	for (size_t i = 0; lines[i] != NULL && !found; i++) {
		struct smtp_path p;
		const char *params, *err;
		smtp_path_init(&p);
		if (str_prefix_ci(lines[i], "TO:") &&
		    smtp_parse_path_arg(lines[i], "TO", SMTP_PATH_ALLOW_UTF8 |
		    SMTP_PATH_ALLOW_BARE, &p, &params, &err) == 0 &&
		    strcmp(buf_cstr(&p.addr), rcpt) == 0) {
			found = 1;
			if (smtp_parse_rcpt_params(params, rp, &err) < 0) {
				log_warn("quarantine: %s: envelope: %s: %s", q->id,
				    lines[i], err);
				memset(rp, 0, sizeof(*rp));
			}
		}
		smtp_path_free(&p);
	}
	str_split_free(&lines);
}

/*
 * Re-inject q to rcpts[0..nr) the way `tempest sendmail` submits mail: a
 * maildrop file for pickup (lib-queue/maildrop.h), here with the
 * original envelope's parameters (RET, ENVID, BODY, SMTPUTF8; each
 * recipient's NOTIFY and ORCPT), which sendmail's options cannot give
 * per recipient.  Addresses without a domain get myorigin's, as
 * sendmail's.  0, or -1 after saying why.
 */
static int
reinject(const struct quarantine_item *q, char **rcpts, size_t nr)
{
	struct maildrop md;
	struct smtp_mail_params mp;
	struct buf content;
	char *err = NULL;
	int ret = -1;

	memset(&md, 0, sizeof(md));
	md.sender = q->sender;
	md.nrcpt = nr;
	md.rcpts = xcalloc(nr + 1, sizeof(char *));
	md.notify = xcalloc(nr + 1, sizeof(int));
	md.orcpt = xcalloc(nr + 1, sizeof(char *));
	envelope_mail(q, &mp);
	md.envid = mp.envid[0] != '\0' ? mp.envid : NULL;
	md.ret = mp.ret;
	md.smtputf8 = mp.smtputf8;
	md.body_8bit = mp.body_8bit;
	for (size_t i = 0; i < nr; i++) {
		struct smtp_rcpt_params rp;
		struct smtp_path p;
		const char *perr;

		md.rcpts[i] = *rcpts[i] == '\0' || strchr(rcpts[i], '@') != NULL ?
		    xstrdup(rcpts[i]) : xasprintf("%s@%s", rcpts[i], config_str("myorigin"));
		smtp_path_init(&p);
		if (smtp_parse_address(md.rcpts[i], SMTP_PATH_ALLOW_UTF8, &p, &perr) < 0) {
			fprintf(stderr, "quarantine: %s: bad address syntax: %s\n", q->id,
			    md.rcpts[i]);
			smtp_path_free(&p);
			goto out;
		}
		smtp_path_free(&p);
		envelope_rcpt(q, rcpts[i], &rp);
		md.notify[i] = rp.notify;
		if (rp.orcpt[0] != '\0' && maildrop_orcpt_ok(rp.orcpt))
			md.orcpt[i] = xstrdup(rp.orcpt);
	}
	if (md.envid != NULL && !maildrop_envid_ok(md.envid))
		md.envid = NULL;
	/* the stored message, LF line ends (as sendmail writes it) */
	buf_init(&content, BUF_UNLIMITED);
	for (size_t i = 0; i < q->message_len; i++)
		if (!(q->message[i] == '\r' && i + 1 < q->message_len &&
		    q->message[i + 1] == '\n'))
			(void)buf_appendc(&content, q->message[i]);
	if (maildrop_write(config_str("queue_directory"), &md, content.data ?
	    content.data : "", content.len, &err) < 0) {
		fprintf(stderr, "quarantine: %s: %s\n", q->id, err);
		free(err);
	} else {
		(void)service_trigger_send("pickup", "W", 1);
		ret = 0;
	}
	buf_free(&content);
out:
	for (size_t i = 0; i < nr; i++) {
		free(md.rcpts[i]);
		free(md.orcpt[i]);
	}
	free(md.rcpts);
	free(md.notify);
	free(md.orcpt);
	return ret;
}

int
quarantine_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	struct spam_engine_opts eo = { 0 };
	struct spam_engine *e;
	struct quarantine_item q;
	const char *cmd, *id = NULL;
	char *err = NULL;
	int c, r, ret = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'd')
			eo.db = optarg;
		else
			usage();
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind++];
	if (strcmp(cmd, "list") != 0 && strcmp(cmd, "expire") != 0 &&
	    !(strcmp(cmd, "levels") == 0 && optind == argc)) {
		if (optind >= argc)
			usage();
		id = argv[optind++];
	}
	/* only release (its recipients) and levels (its values) take more:
	 * a word too many is a mistake, not something to skip */
	if (optind != argc && strcmp(cmd, "release") != 0 && strcmp(cmd, "levels") != 0)
		usage();
	spam_cmd_config();
	spam_cmd_store_owner(eo.db);
	eo.need_store = 1;
	eo.rules = (const char *const[]){ NULL };
	e = spam_engine_new(&eo, &err);
	if (e == NULL) {
		fprintf(stderr, "quarantine: %s\n", err);
		return 2;
	}
	if (strcmp(cmd, "copy-from") == 0) {
		if (optind != argc)
			usage();
		ret = copy_from(e->store, id);
		goto out;       /* its errors said */
	} else if (strcmp(cmd, "levels") == 0 && id == NULL) {
		print_levels("*", &e->levels, "global");
		if (store_levels_list(e->store, print_levels_row, NULL) < 0)
			ret = 2;
	} else if (strcmp(cmd, "levels") == 0) {
		struct spam_levels l;
		if (optind == argc) {
			r = store_levels_get(e->store, id, &l);
			if (r < 0)
				ret = 2;
			else
				print_levels(id, r ? &l : &e->levels, r ? "per recipient" : "global");
		} else if (optind + 1 == argc && strcmp(argv[optind], "delete") == 0) {
			if (store_levels_delete(e->store, id) < 0)
				ret = 2;
		} else if (optind + 4 == argc) {
			double v[4];
			for (int i = 0; i < 4; i++) {
				char *end;
				v[i] = strtod(argv[optind + i], &end);
				/* (nan was stored as NULL, read back as 0) */
				if (*end != '\0' || end == argv[optind + i] || !isfinite(v[i]))
					usage();
			}
			l.tag = v[0];
			l.spam = v[1];
			l.quarantine = v[2];
			l.reject = v[3];
			if (store_levels_set(e->store, id, &l) < 0)
				ret = 2;
		} else {
			usage();
		}
	} else if (strcmp(cmd, "list") == 0) {
		if (store_quarantine_list(e->store, print_item, NULL) < 0)
			ret = 2;
	} else if (strcmp(cmd, "expire") == 0) {
		r = store_quarantine_expire(e->store,
		    time(NULL) - (time_t)config_time("spam_quarantine_max_age"));
		if (r < 0)
			ret = 2;
		else
			printf("expired %d message(s)\n", r);
	} else if (strcmp(cmd, "delete") == 0) {
		r = store_quarantine_delete(e->store, id);
		if (r == 0)
			fprintf(stderr, "quarantine: %s: no such message\n", id);
		ret = r == 1 ? 0 : r == 0 ? 1 : 2;
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "release") == 0 ||
	    strcmp(cmd, "learn-ham") == 0) {
		r = store_quarantine_get(e->store, id, &q);
		if (r <= 0) {
			if (r == 0)
				fprintf(stderr, "quarantine: %s: no such message\n", id);
			ret = r == 0 ? 1 : 2;
			goto out;
		}
		if (strcmp(cmd, "show") == 0) {
			char score[32];
			report_num(score, sizeof(score), q.score);
			printf("Id: %s\nSender: ", q.id);
			print_safe(q.sender);
			printf("\nRecipients: ");
			print_recipients(&q);
			printf("\nScore: %s\nTests: %s\n\n", score, q.tests);
			fwrite(q.message, 1, q.message_len, stdout);
		} else {
			size_t nr, nr_stored;
			char **rcpts, **v = quarantine_recipients(&q, &nr_stored);
			if (strcmp(cmd, "learn-ham") == 0) {
				/* into the database the filter used for it: with
				 * spam_bayes_per_user its first recipient's; not
				 * learned, not released (a release alone would
				 * leave nothing to learn from) */
				char *user = xstrdup(e->per_user && nr_stored > 0 ? v[0] : "");
				struct mime_msg m;
				mime_parse(&m, q.message, q.message_len, &e->lim);
				int64_t expired;
				/* an administrator waits: a store another process
				 * keeps busy fails in seconds, not after the
				 * attempts the filter makes (about 80 s) */
				(void)store_set_patience(e->store, LEARN_HAM_PATIENCE_MS);
				int learned = bayes_learn(e->store, user, &m, 0, 0) >= 0;
				if (!learned || spam_engine_maintain(e, user,
				    SPAM_MAINT_TRAIN, &expired) < 0) {
					/* learned but not trained: a second try finds
					 * it known, trains and releases */
					const char *what = learned ? "learned, but the "
					    "classifier was not retrained" : "not learned";
					if (store_conflict(e->store))
						fprintf(stderr, "quarantine: %s: store busy (another "
						    "process is writing to it), try again; %s, so "
						    "not released\n", id, what);
					else
						fprintf(stderr, "quarantine: %s: %s, so not "
						    "released: %s\n", id, what, store_error(e->store));
					ret = 1;
				}
				/* the delete after a release must not fail so soon:
				 * a second release would deliver it again */
				(void)store_set_patience(e->store, 0);
				mime_free(&m);
				free(user);
			}
			rcpts = optind < argc ? argv + optind : v;
			nr = optind < argc ? (size_t)(argc - optind) : nr_stored;
			if (ret != 0) {
				/* (said above) */
			} else if (nr == 0 || reinject(&q, rcpts, nr) < 0) {
				fprintf(stderr, "quarantine: %s: re-injection failed\n", id);
				ret = 1;
			} else if (store_quarantine_delete(e->store, id) < 0) {
				/* delivered: a second release would deliver it again */
				fprintf(stderr, "quarantine: %s: released, but still in the "
				    "quarantine (delete it): %s\n", id, store_error(e->store));
				ret = 1;
			} else
				printf("released %s\n", id);
			str_split_free(&v);
			if (ret != 0) {
				/* (the reason is said above) */
				quarantine_item_free(&q);
				ret = 2;
				goto out;
			}
		}
		quarantine_item_free(&q);
	} else {
		usage();
	}
	if (ret == 2 && err == NULL)
		fprintf(stderr, "quarantine: %s\n", store_error(e->store));
out:
	spam_engine_free(&e);
	return ret;
}
