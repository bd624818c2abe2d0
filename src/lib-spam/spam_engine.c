/*
 * spam_engine.c - the spam engine as the commands and the filter use it
 * (see spam_engine.h), and the spam_* parameters of main.cf.  Input: a
 * whole message (untrusted), analysed within the MIME limits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "mail_header.h"
#include "mem.h"
#include "netaddr.h"
#include "spam_engine.h"
#include "str.h"

static const struct cfg_param spam_params[] = {
	{ "spam_rules", CFG_LIST, "builtin", 0, "Rule files or directories of *.cf files (SpamAssassin language); builtin = the rule set compiled into tempest" },
	{ "spam_local_rules", CFG_STR, "$config_directory/spam.cf", 0, "Site rules loaded after spam_rules when the file exists (scores, welcomelist_from, ...)" },
	{ "spam_database", CFG_STR, "sqlite:$data_directory/spam.db", 0, "Store of Bayes tokens, quarantine and per-recipient thresholds (sqlite:/path)" },
	{ "spam_tag_level", CFG_STR, "-999", 0, "Score at or above which X-Spam-* headers are added (amavisd-new sa_tag_level_deflt)" },
	{ "spam_level", CFG_STR, "6.3", 0, "Score at or above which a message is spam: X-Spam-Flag, subject tag (amavisd-new sa_tag2_level_deflt)" },
	{ "spam_quarantine_level", CFG_STR, "20", 0, "Score at or above which a message is quarantined instead of delivered (amavisd-new sa_kill_level_deflt)" },
	{ "spam_reject_level", CFG_STR, "999", 0, "Score at or above which a message is refused with 550 during SMTP" },
	{ "spam_header_style", CFG_STR, "amavis", 0, "X-Spam-Status form: amavis (hits=... tests=[A=1, ...]) or spamassassin (score=... tests=A,B)" },
	{ "spam_subject_tag", CFG_STR, "", 0, "Text put in front of the Subject of spam (amavisd-new sa_spam_subject_tag), empty = none" },
	{ "spam_max_message_size", CFG_INT, "524288", 0, "Bytes of a message analysed (the rest is ignored)" },
	{ "spam_bayes_per_user", CFG_BOOL, "no", 0, "Bayes database per recipient instead of one global database" },
	{ "bayes_min_spam_num", CFG_INT, "200", 0, "Spam messages learned before Bayes is used (SpamAssassin)" },
	{ "bayes_min_ham_num", CFG_INT, "200", 0, "Ham messages learned before Bayes is used (SpamAssassin)" },
	{ "bayes_auto_learn", CFG_BOOL, "yes", 0, "Learn from scanned mail during delivery (never in spamc unless --autolearn)" },
	{ "bayes_auto_learn_threshold_spam", CFG_STR, "12.0", 0, "Score of the rules that hit (set without Bayes, no BAYES_* or LR_* rules) at or above which mail is learned as spam" },
	{ "bayes_auto_learn_threshold_nonspam", CFG_STR, "0.1", 0, "Score of the rules that hit (set without Bayes, no BAYES_* or LR_* rules) at or below which mail is learned as ham" },
	{ "bayes_expiry_max_db_size", CFG_INT, "1000000", 0, "Tokens per Bayes database above which the least recently learned are expired down to 3/4 of it (SpamAssassin's parameter; Tempest counts word pairs too, so about the tokens of the 10,000 messages the LR keeps); 0 = no limit" },
	{ "bayes_auto_expire", CFG_BOOL, "yes", 0, "Expire Bayes tokens after tempest learn and as auto-learning grows the database (else only tempest learn --expire)" },
	{ "spam_quarantine_max_age", CFG_TIME, "30d", 'd', "Age after which quarantined messages are deleted" },
	{ "spam_trusted_networks", CFG_LIST, "", 0, "Networks whose relays are trusted when SpamAssassin rules read the X-Spam-Relays-* pseudo-headers (its trusted_networks; 127.0.0.0/8 always is); empty = inferred as SpamAssassin infers it: private addresses and authenticated clients" },
	{ "spam_rules_cache_directory", CFG_STR, "$data_directory", 0, "Directory of the compiled-rule cache (spam-rules-HASH.cache: parsed rules, PCRE2 patterns, Vectorscan databases), rebuilt when a rule file changes; empty = no cache" },
};
CONFIG_PARAMS(spam_params);

static double
cfg_double(const char *name)
{
	const char *v = config_str(name);
	char *end;
	double d = strtod(v, &end);

	/* strtod() takes "nan" (no score reaches it: never spam) and
	 * "inf" or 1e999 as numbers */
	if (end == v || *end != '\0' || !isfinite(d))
		fatal("%s = %s: a number is expected", name, v);
	return d;
}

struct spam_engine *
spam_engine_new(const struct spam_engine_opts *o, char **error_r)
{
	struct spam_engine *e = xcalloc(1, sizeof(*e));
	char **paths = NULL;
	const char *const *rules = o->rules;
	const char **specs;
	const char *cache_dir;
	char *cache_path = NULL;
	size_t nspecs;
	struct stat sb;

	e->levels.tag = cfg_double("spam_tag_level");
	e->levels.spam = cfg_double("spam_level");
	e->levels.quarantine = cfg_double("spam_quarantine_level");
	e->levels.reject = cfg_double("spam_reject_level");
	if (strcasecmp(config_str("spam_header_style"), "spamassassin") == 0)
		e->style = REPORT_SPAMASSASSIN;
	else if (strcasecmp(config_str("spam_header_style"), "amavis") == 0)
		e->style = REPORT_AMAVIS;
	else
		fatal("spam_header_style = %s: amavis or spamassassin is expected",
		    config_str("spam_header_style"));
	e->subject_tag = xstrdup(config_str("spam_subject_tag"));
	e->per_user = config_bool("spam_bayes_per_user");
	e->bopts.min_spam = config_int("bayes_min_spam_num");
	e->bopts.min_ham = config_int("bayes_min_ham_num");
	e->autolearn = config_bool("bayes_auto_learn");
	e->autolearn_spam = cfg_double("bayes_auto_learn_threshold_spam");
	e->autolearn_ham = cfg_double("bayes_auto_learn_threshold_nonspam");
	e->bayes_max_tokens = config_int("bayes_expiry_max_db_size");
	e->bayes_auto_expire = config_bool("bayes_auto_expire");
	e->lim = mime_default_limits;
	e->lim.max_size = (size_t)config_int("spam_max_message_size");

	if (rules == NULL) {
		paths = str_split(config_str("spam_rules"), STR_LIST_SEPS, NULL);
		rules = (const char *const *)paths;
	}
	/* the specs in load order: spam_rules (or the caller's), then the
	 * local rules when they exist */
	{
		size_t n = 0;
		while (rules[n] != NULL)
			n++;
		specs = xcalloc(n + 2, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			specs[i] = rules[i];
		if (o->rules == NULL && stat(config_str("spam_local_rules"), &sb) == 0)
			specs[n++] = config_str("spam_local_rules");
		nspecs = n;
	}
	cache_dir = o->cache_dir ? o->cache_dir : config_str("spam_rules_cache_directory");
	e->rs = ruleset_new();
	ruleset_set_jit(e->rs, !o->no_jit);
	ruleset_set_prefilter(e->rs, !o->no_jit && !o->no_prefilter);
	if (nspecs > 0 && cache_dir[0] != '\0' && stat(cache_dir, &sb) == 0) {
		char *cerr = NULL;
		int rc;
		cache_path = ruleset_cache_path(cache_dir, specs, !o->no_jit && !o->no_prefilter);
		rc = ruleset_cache_load(e->rs, cache_path, specs, &cerr);
		if (rc == 0) {
			e->rules_cached = 1;
			goto loaded;
		}
		if (rc < 0)
			log_warn("spam rules cache %s; rebuilding it", cerr);
		if (rc == 2) {
			/* not read, not written (once: a filter makes engines
			 * again and again) */
			static int warned;
			if (!warned)
				log_warn("spam rules cache %s; not used, the rules are "
				    "parsed from source", cerr);
			warned = 1;
			FREE(cache_path);
		}
		free(cerr);
		ruleset_free(&e->rs);
		e->rs = ruleset_new();
		ruleset_set_jit(e->rs, !o->no_jit);
		ruleset_set_prefilter(e->rs, !o->no_jit && !o->no_prefilter);
	}
	for (size_t i = 0; i < nspecs; i++) {
		if (strcmp(specs[i], "builtin") == 0) {
			ruleset_load_builtin(e->rs);
		} else if (ruleset_load_path(e->rs, specs[i], error_r) < 0) {
			str_split_free(&paths);
			free(specs);
			free(cache_path);
			spam_engine_free(&e);
			return NULL;
		}
	}
	ruleset_finish(e->rs);
	if (cache_path != NULL) {
		char *cerr = NULL;
		/* best effort: a read-only directory just means no cache */
		if (ruleset_cache_save(e->rs, cache_path, &cerr) < 0)
			log_info("spam rules cache not written: %s", cerr);
		free(cerr);
	}
loaded:
	str_split_free(&paths);
	free(specs);
	free(cache_path);
	for (const char *const *err = ruleset_errors(e->rs); *err != NULL; err++)
		log_warn("rules: %s", *err);
	e->lim.sa_text = ruleset_sa_text(e->rs);
	if (config_str("spam_trusted_networks")[0] != '\0') {
		char *nerr = NULL;
		e->trusted = netlist_parse(config_str("spam_trusted_networks"), &nerr);
		if (e->trusted == NULL) {
			*error_r = xasprintf("spam_trusted_networks: %s", nerr);
			free(nerr);
			spam_engine_free(&e);
			return NULL;
		}
		ruleset_set_trusted_networks(e->rs, e->trusted);
	}

	if (!o->no_store) {
		const char *spec = o->db ? o->db : config_str("spam_database");
		e->store_spec = xstrdup(spec);
		e->store = store_open(spec, &e->store_error);
		if (e->store == NULL && o->need_store) {
			*error_r = e->store_error;
			e->store_error = NULL;
			spam_engine_free(&e);
			return NULL;
		}
	}
	return e;
}

void
spam_engine_free(struct spam_engine **ep)
{
	struct spam_engine *e = *ep;

	if (e == NULL)
		return;
	ruleset_free(&e->rs);
	netlist_free(&e->trusted);
	lr_cache_free(&e->lr);
	free(e->lr_due);
	store_close(&e->store);
	free(e->store_error);
	free(e->store_spec);
	free(e->subject_tag);
	FREE(*ep);
}

void
spam_engine_check(struct spam_engine *e, const char *data, size_t len,
    const char *user, struct spam_verdict *v)
{
	double prob = -1, lrp = -1;

	memset(v, 0, sizeof(*v));
	mime_parse(&v->msg, data, len, &e->lim);
	if (e->store != NULL) {
		const char *err = NULL, *u = e->per_user && user ? user : "";
		uint64_t *tok;
		size_t ntok;
		bayes_tokenize(&v->msg, &tok, &ntok);
		prob = bayes_classify_tokens(e->store, u, tok, ntok, &e->bopts, &err);
		if (prob < -1.5) {
			log_warn("bayes: %s", err);
			prob = -1;
		}
		/* the LR only next to a usable Bayes (score set 2) */
		if (prob >= 0) {
			uint32_t *x;
			size_t nx;
			lr_features(&v->msg, tok, ntok, &x, &nx);
			lrp = lr_classify(e->store, &e->lr, u, x, nx, e->bopts.min_spam,
			    e->bopts.min_ham, &err);
			if (lrp < -1.5) {
				log_warn("lr: %s", err);
				lrp = -1;
			}
			free(x);
		}
		free(tok);
	}
	spam_scan(e->rs, &v->msg, prob, lrp, &v->res);
	if (v->res.re_skipped > 0)
		log_warn("spam scan: regular-expression budget spent (%u matches stopped "
		    "at PCRE2's match limit); %u rules not run", v->res.re_limited,
		    v->res.re_skipped);
	v->autolearn = "no";
	spam_engine_decide(e, v, &e->levels);
}

void
spam_engine_levels(struct spam_engine *e, const char *rcpt, struct spam_levels *out)
{
	if (e->store == NULL || store_levels_get(e->store, rcpt, out) != 1)
		*out = e->levels;
}

int
spam_engine_store_retry(struct spam_engine *e)
{
	char *err = NULL;
	time_t now = time(NULL);

	if (e->store != NULL)
		return 1;
	if (e->store_spec == NULL || now < e->store_retry)
		return 0;
	e->store_retry = now + 1;
	if ((e->store = store_open(e->store_spec, &err)) == NULL) {
		free(e->store_error);
		e->store_error = err;
		return 0;
	}
	log_info("store %s open now", e->store_spec);
	return 1;
}

/* How severely levels l treat a message of score s: the action, then
 * the spam flag (the order spam_levels_most_lenient() minimizes). */
static int
severity(double s, const struct spam_levels *l)
{
	int action = s >= l->reject ? 3 : s >= l->quarantine ? 2 : s >= l->tag ? 1 : 0;

	return action * 2 + (s >= l->spam);
}

void
spam_levels_most_lenient(struct spam_engine *e, double score,
    const struct spam_levels *each, size_t n, struct spam_levels *out)
{
	size_t best = 0;

	if (n == 0) {
		*out = e->levels;
		return;
	}
	for (size_t i = 1; i < n; i++)
		if (severity(score, &each[i]) < severity(score, &each[best]))
			best = i;
	*out = each[best];
}

void
spam_engine_decide(struct spam_engine *e, struct spam_verdict *v,
    const struct spam_levels *l)
{
	double s = v->res.score;

	(void)e;
	v->levels = *l;
	v->res.required = l->spam;
	v->is_spam = s >= l->spam;
	if (s >= l->reject)
		v->action = SPAM_REJECT;
	else if (s >= l->quarantine)
		v->action = SPAM_QUARANTINE;
	else if (s >= l->tag)
		v->action = SPAM_TAG;
	else
		v->action = SPAM_ACCEPT;
}

void
spam_engine_headers(struct spam_engine *e, const struct spam_verdict *v,
    struct buf *out)
{
	if (v->res.score < v->levels.tag)
		return;
	report_headers(out, &v->res, e->style, v->levels.tag, v->levels.spam,
	    v->autolearn);
}

void
spam_engine_autolearn_decide(struct spam_engine *e, struct spam_verdict *v)
{
	double s = 0;

	v->autolearn = "no";
	if (!e->autolearn || e->store == NULL) {
		v->autolearn = "disabled";
		return;
	}
	for (size_t i = 0; i < v->res.nhits; i++) {
		if (strncmp(v->res.hits[i].name, "BAYES_", 6) == 0 ||
		    strncmp(v->res.hits[i].name, "LR_", 3) == 0)
			continue;
		if (strncmp(v->res.hits[i].name, "USER_IN_", 8) == 0)
			return;         /* noautolearn */
		/* as SpamAssassin: the scores of the set without Bayes,
		 * which the thresholds are made for (set 2's are fitted
		 * next to the learners and weigh bulk-mail signs less) */
		s += v->res.hits[i].score_nobayes;
	}
	if (s >= e->autolearn_spam)
		v->autolearn = "spam";
	else if (s <= e->autolearn_ham)
		v->autolearn = "ham";
}

/* The database a message to user is learned into. */
static const char *
learn_user(const struct spam_engine *e, const char *user)
{
	return e->per_user && user != NULL ? user : "";
}

int
spam_verdict_learn_as_spam(const struct spam_verdict *v)
{
	return strcmp(v->autolearn, "spam") == 0 ? 1 :
	    strcmp(v->autolearn, "ham") == 0 ? 0 : -1;
}

/* A run of verdicts [start, end) of one user, learned in one
 * transaction (the caller's). */
struct learn_run {
	struct spam_verdict *const *v;
	size_t start, end;
	const char *user;
};

static int
learn_run_tx(struct store *st, void *arg)
{
	const struct learn_run *a = arg;

	for (size_t i = a->start; i < a->end; i++) {
		int spam = spam_verdict_learn_as_spam(a->v[i]);

		if (spam >= 0 && bayes_learn(st, a->user, &a->v[i]->msg, spam, 0) < 0)
			return -1;
	}
	return 0;
}

void
spam_engine_autolearn(struct spam_engine *e, struct spam_verdict *v,
    const char *user)
{
	if (spam_verdict_learn_as_spam(v) < 0)
		return;
	/* a user other than the one due: its training first */
	if (e->lr_due != NULL && strcmp(e->lr_due, learn_user(e, user)) != 0)
		spam_engine_train(e);
	(void)spam_engine_autolearns(e, &v, &user, 1, 1);
}

int
spam_engine_autolearns(struct spam_engine *e, struct spam_verdict *const *v,
    const char *const *user, size_t n, int wait)
{
	size_t done = 0;

	while (done < n) {
		const char *u = learn_user(e, user[done]);
		struct learn_run a = { v, done, done };
		int r;

		while (a.end < n && strcmp(learn_user(e, user[a.end]), u) == 0)
			a.end++;
		a.user = u;
		r = (wait ? store_transaction : store_transaction_try)(e->store,
		    learn_run_tx, &a);
		if (r < 0 && !wait && store_conflict(e->store))
			break;          /* another writer: later */
		if (r < 0)
			log_warn("bayes autolearn: %s (%zu message(s) not learned)",
			    store_error(e->store), a.end - done);
		else if (e->lr_due == NULL || strcmp(e->lr_due, u) != 0) {
			/* an earlier run's user trains at its next
			 * auto-learning (the training is checked then) */
			free(e->lr_due);
			e->lr_due = xstrdup(u);
		}
		done = a.end;
	}
	return (int)done;
}

void
spam_engine_train(struct spam_engine *e)
{
	int64_t n;

	if (e->lr_due == NULL)
		return;
	/* the Bayes database's size is checked at the pace of the LR's
	 * trainings (every 1/20 of its samples), not at every message */
	if (spam_engine_maintain(e, e->lr_due, SPAM_MAINT_TRAIN_DUE |
	    (e->bayes_auto_expire ? SPAM_MAINT_EXPIRE_AFTER_TRAIN : 0), &n) < 0)
		log_warn("lr training / bayes expiry: %s", store_error(e->store));
	else if (n > 0)
		log_info("bayes: expired %lld token(s) of %s%s%s", (long long)n,
		    e->lr_due[0] ? "user '" : "the global database", e->lr_due,
		    e->lr_due[0] ? "'" : "");
	FREE(e->lr_due);
}

struct maint {
	struct spam_engine *e;
	const char *user;
	const struct lr_training *t;    /* NULL: expiry alone */
	int expire;
	int64_t expired;
};

static int
maint_tx(struct store *st, void *arg)
{
	struct maint *m = arg;
	int trained = 0;

	m->expired = 0;
	if (m->t != NULL && (trained = lr_training_write(st, m->user, m->t)) <= 0)
		return trained;
	if (m->expire && (m->expired = bayes_expire(st, m->user, m->e->bayes_max_tokens)) < 0)
		return -1;
	return trained;
}

int
spam_engine_maintain(struct spam_engine *e, const char *user, int flags,
    int64_t *expired_r)
{
	struct maint m = { .e = e, .user = user };
	int r = 0;

	*expired_r = 0;
	if (flags & (SPAM_MAINT_TRAIN | SPAM_MAINT_TRAIN_DUE)) {
		/* the weights are computed with no lock held; if another
		 * process stored a training meanwhile, read again (then
		 * usually nothing is due) */
		for (int attempt = 0; attempt < STORE_TX_ATTEMPTS; attempt++) {
			struct lr_training t;

			r = lr_training_read(e->store, user, (flags & SPAM_MAINT_TRAIN) != 0, &t);
			if (r <= 0)
				break;
			lr_training_run(&t);
			m.t = &t;
			m.expire = (flags & (SPAM_MAINT_EXPIRE | SPAM_MAINT_EXPIRE_AFTER_TRAIN)) != 0;
			r = store_transaction(e->store, maint_tx, &m);
			lr_training_free(&t);
			if (r != 0)
				break;
		}
		if (r < 0)
			return -1;
		if (r > 0) {
			*expired_r = m.expired;
			return 1;
		}
	}
	if (flags & SPAM_MAINT_EXPIRE) {
		m.t = NULL;
		m.expire = 1;
		if (store_transaction(e->store, maint_tx, &m) < 0)
			return -1;
		*expired_r = m.expired;
	}
	return 0;
}

void
spam_verdict_free(struct spam_verdict *v)
{
	spam_result_free(&v->res);
	mime_free(&v->msg);
}

void
spam_rewrite(struct spam_engine *e, const struct spam_verdict *v,
    const char *data, size_t len, const char *headers, struct buf *out)
{
	spam_rewrite_text(data, len, headers, v->is_spam ? e->subject_tag : "", out);
}

/* Append the lines of s, each ending in "\r\n" if crlf. */
static void
append_lines(struct buf *out, const char *s, int crlf)
{
	for (; *s != '\0'; s++) {
		if (crlf && *s == '\n' && (out->len == 0 || out->data[out->len - 1] != '\r'))
			(void)buf_appendc(out, '\r');
		(void)buf_appendc(out, *s);
	}
}

/* The subject tag as a header may hold it, without its trailing
 * blanks: as written when ASCII, else (main.cf is UTF-8; a header is
 * ASCII without SMTPUTF8) RFC 2047 "Q" encoded words of at most 75
 * characters, split between UTF-8 characters. */
static void
tag_words(const char *tag, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(tag), i, word = 0;
	int ascii = 1;

	while (n > 0 && (tag[n - 1] == ' ' || tag[n - 1] == '\t'))
		n--;
	for (i = 0; i < n; i++)
		if ((unsigned char)tag[i] >= 0x80 || (unsigned char)tag[i] < 0x20)
			ascii = 0;
	if (ascii) {
		(void)buf_append(out, tag, n);
		return;
	}
	for (i = 0; i < n;) {
		/* one character: a UTF-8 lead byte and its continuation bytes */
		size_t c = 1, len = 0;
		while (i + c < n && ((unsigned char)tag[i + c] & 0xc0) == 0x80)
			c++;
		for (size_t k = 0; k < c; k++) {
			unsigned char b = (unsigned char)tag[i + k];
			len += b > 0x20 && b < 0x7f && b != '?' && b != '=' && b != '_' ? 1 : 3;
		}
		if (word > 0 && word + len + 2 > 75) {
			(void)buf_appends(out, "?= ");
			word = 0;
		}
		if (word == 0) {
			(void)buf_appends(out, "=?UTF-8?Q?");
			word = 10;
		}
		for (size_t k = 0; k < c; k++) {
			unsigned char b = (unsigned char)tag[i + k];
			if (b == ' ')
				(void)buf_appendc(out, '_');
			else if (b > 0x20 && b < 0x7f && b != '?' && b != '=' && b != '_')
				(void)buf_appendc(out, (char)b);
			else {
				(void)buf_appendc(out, '=');
				(void)buf_appendc(out, hex[b >> 4]);
				(void)buf_appendc(out, hex[b & 15]);
			}
		}
		word += len;
		i += c;
	}
	(void)buf_appends(out, "?=");
}

void
spam_rewrite_text(const char *data, size_t len, const char *headers,
    const char *subject_tag, struct buf *out)
{
	size_t i = 0, n, pos = 0, last;
	int tag_subject = subject_tag != NULL && subject_tag[0] != '\0';
	int crlf, has_subject = 0;
	struct mail_field f;
	const char *h, *nl;

	/* an mbox "From " line stays the first line */
	i = mail_mbox_from_len(data, len);
	(void)buf_append(out, data, i);
	h = data + i;
	n = len - i;
	/* the added lines end as the message's first header line does */
	nl = memchr(h, '\n', n);
	crlf = nl != NULL && nl > h && nl[-1] == '\r';
	append_lines(out, headers, crlf);
	if (tag_subject) {
		while (mail_header_next(h, n, &pos, &f) && !mail_field_is_body_line(h, &f))
			if (f.name_len == 7 && strncasecmp(h + f.start, "Subject", 7) == 0)
				has_subject = 1;
		pos = 0;
		if (!has_subject) {
			/* none: one with the tag alone (as amavisd-new) */
			(void)buf_appends(out, "Subject: ");
			tag_words(subject_tag, out);
			(void)buf_appends(out, crlf ? "\r\n" : "\n");
		}
	}
	/* copy the header block, dropping our own headers (and their
	 * continuation lines) */
	while (last = pos, mail_header_next(h, n, &pos, &f)) {
		/* the body begins at a line that is no field: copied
		 * unchanged with what follows */
		if (mail_field_is_body_line(h, &f)) {
			pos = last;
			break;
		}
		if (report_is_spam_field(h + f.start, f.name_len))
			continue;
		if (tag_subject && f.name_len == 7 &&
		    strncasecmp(h + f.start, "Subject", 7) == 0) {
			const char *v = h + f.value;
			size_t vn = f.end - f.value, start = out->len, first;
			const char *eol = memchr(v, '\n', vn);

			first = eol != NULL ? (size_t)(eol - v) : vn;
			(void)buf_appends(out, "Subject: ");
			tag_words(subject_tag, out);
			if (first > 0 && !(first == 1 && v[0] == '\r')) {
				/* a fold after the tag where the line would pass
				 * RFC 5322's 998 bytes (unfolded: "TAG value") */
				if (out->len - start + 1 + first > 998)
					(void)buf_appends(out, crlf ? "\r\n" : "\n");
				(void)buf_appendc(out, ' ');
			}
			(void)buf_append(out, v, vn);
		} else
			(void)buf_append(out, h + f.start, f.end - f.start);
	}
	/* the empty line and the body */
	(void)buf_append(out, h + last, n - last);
}
