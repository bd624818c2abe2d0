/*
 * spamc.c - `tempest spamc`: score one message from stdin (untrusted)
 * and print the report.
 *
 *   tempest spamc [--verdict] [--threshold N] [--db PATH] [--rules PATH]...
 *                 [--user NAME] [--headers] [--autolearn] [--no-bayes]
 *   tempest spamc --batch [--tests] [--tokens] [--relays] [--no-prefilter] [options] FILE|DIR|Maildir...
 *   tempest spamc --lint [--list] [--rules PATH]...
 *   (all forms: [--rules-cache DIR], "" = no compiled-rule cache)
 *
 * --verdict prints a first line "spam <score>" or "ham <score>" (spam
 * means score >= spam_level, or >= N with --threshold).  --headers
 * prints the message with the X-Spam-* headers instead of the report.
 * With no configuration directory the built-in rules and defaults are
 * used; Bayes is used when --db (or spam_database) names a trained
 * store.  A leading mbox "From " line is skipped.  --batch scores many
 * messages in one process (for benchmarks and corpus checks): one line
 * "spam|ham SCORE NAME" each (--tests appends "bayes=P lr=Q tests=A=s,B=s";
 * --tokens adds a line "#T NAME<TAB>token<TAB>token..." with the Bayes
 * tokens, for bench/spam/bayes_lab.py; --relays a line
 * "#R NAME<TAB>trusted<TAB>untrusted<TAB>internal<TAB>external<TAB>envfrom
 * <TAB>datediff" with the X-Spam-Relays-* strings, the EnvelopeFrom the
 * rules see ("<none>" for none) and the Date:/Received: difference in
 * seconds (msg_date.h), for bench/spam/relays_compat.py),
 * and the CPU time per message on stderr; batch runs use the Vectorscan
 * prefilter unless --no-prefilter (benchmarks of before/after).
 * --lint loads the rules and reports what loaded (exit 1 on bad lines);
 * --list adds one "NAME STATUS" line per rule.  Exit status 0, or 2
 * on a usage or environment error.
 */
#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bayes.h"
#include "fdio.h"
#include "log.h"
#include "mem.h"
#include "msg_date.h"
#include "relays.h"
#include "roles.h"
#include "spam_cmd.h"
#include "spam_engine.h"

struct batch {
	struct spam_engine *e;
	const char *user;
	double threshold;
	int have_threshold;
	int tests;              /* --tests: Bayes probability and test names */
	int tokens;             /* --tokens: the Bayes tokens too */
	int relays;             /* --relays: the X-Spam-Relays-* strings */
	long n;
};

static void
batch_one(const char *data, size_t len, const char *name, void *arg)
{
	struct batch *b = arg;
	struct spam_verdict v;
	char n[64];

	spam_engine_check(b->e, data, len, b->user, &v);
	if (b->have_threshold) {
		struct spam_levels l = v.levels;
		l.spam = b->threshold;
		spam_engine_decide(b->e, &v, &l);
	}
	report_num(n, sizeof(n), v.res.score);
	if (b->tests) {
		printf("%s %s %s bayes=%.8f lr=%.8f tests=", v.is_spam ? "spam" : "ham", n,
		    name, v.res.bayes, v.res.lr);
		for (size_t i = 0; i < v.res.nhits; i++) {
			report_num(n, sizeof(n), v.res.hits[i].score);
			printf("%s%s=%s", i ? "," : "", v.res.hits[i].name, n);
		}
		printf("\n");
	} else
		printf("%s %s %s\n", v.is_spam ? "spam" : "ham", n, name);
	if (b->tokens) {
		char *t = bayes_token_text(&v.msg);
		for (char *p = t; *p != '\0'; p++)
			if (*p == '\n')
				*p = '\t';
			else if (*p == '\t' || *p == '\r')
				*p = ' ';
		printf("#T %s\t%s\n", name, t);
		free(t);
	}
	if (b->relays) {
		struct relays rl;
		char *env;
		relays_of_message(&v.msg, b->e->trusted, &rl);
		env = relays_envelope_from(&v.msg, &rl);
		printf("#R %s\t%s\t%s\t%s\t%s\t%s\t%lld\n", name, rl.trusted, rl.untrusted,
		    rl.internal, rl.external, env != NULL ? env : "<none>",
		    (long long)msg_date_diff(&v.msg));
		free(env);
		relays_free(&rl);
	}
	spam_verdict_free(&v);
	b->n++;
}

static double
cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1000.0 + ru.ru_utime.tv_usec / 1000.0 +
	    ru.ru_stime.tv_sec * 1000.0 + ru.ru_stime.tv_usec / 1000.0;
}

static void
usage(void)
{
	ctl_usage("spamc");
	exit(2);
}

int
spamc_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verdict", no_argument, NULL, 'v' },
		{ "threshold", required_argument, NULL, 't' },
		{ "db", required_argument, NULL, 'd' },
		{ "rules", required_argument, NULL, 'r' },
		{ "user", required_argument, NULL, 'u' },
		{ "headers", no_argument, NULL, 'H' },
		{ "autolearn", no_argument, NULL, 'a' },
		{ "no-bayes", no_argument, NULL, 'n' },
		{ "batch", no_argument, NULL, 'b' },
		{ "tests", no_argument, NULL, 'T' },
		{ "tokens", no_argument, NULL, 'K' },
		{ "relays", no_argument, NULL, 'R' },
		{ "no-prefilter", no_argument, NULL, 'P' },
		{ "rules-cache", required_argument, NULL, 'C' },
		{ "lint", no_argument, NULL, 'L' },
		{ "list", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct spam_engine_opts eo = { 0 };
	const char **rules = NULL;
	size_t nrules = 0;
	int verdict = 0, headers = 0, autolearn = 0, batch = 0, lint = 0, list = 0, c;
	int tests = 0, tokens = 0, relays = 0;
	double threshold = 0;
	int have_threshold = 0;
	const char *user = NULL;
	char *err = NULL, *end;
	struct spam_engine *e;
	struct spam_verdict v;
	struct buf in, out;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verdict = 1; break;
		case 't':
			threshold = strtod(optarg, &end);
			if (*end != '\0' || end == optarg)
				usage();
			have_threshold = 1;
			break;
		case 'd': eo.db = optarg; break;
		case 'r':
			rules = xreallocarray(rules, nrules + 2, sizeof(char *));
			rules[nrules++] = optarg;
			rules[nrules] = NULL;
			break;
		case 'u': user = optarg; break;
		case 'H': headers = 1; break;
		case 'a': autolearn = 1; break;
		case 'n': eo.no_store = 1; break;
		case 'b': batch = 1; break;
		case 'T': tests = 1; break;
		case 'K': tokens = 1; break;
		case 'R': relays = 1; break;
		case 'P': eo.no_prefilter = 1; break;
		case 'C': eo.cache_dir = optarg; break;
		case 'L': lint = 1; eo.no_store = 1; break;
		case 'l': list = 1; break;
		default: usage();
		}
	}
	if (optind != argc && !batch)
		usage();
	spam_cmd_config();
	spam_cmd_store_owner(eo.db);
	eo.rules = rules;
	eo.no_jit = !batch;     /* one message: interpreting beats JIT compiling */
	e = spam_engine_new(&eo, &err);
	if (e == NULL) {
		fprintf(stderr, "spamc: %s\n", err);
		return 2;
	}
	if (eo.db != NULL && e->store == NULL) {
		fprintf(stderr, "spamc: %s\n", e->store_error);
		return 2;
	}
	if (lint) {
		struct ruleset_stats st;
		ruleset_stats(e->rs, &st);
		if (list)
			for (size_t i = 0; i < ruleset_count(e->rs); i++) {
				const struct rule *r = ruleset_rule(e->rs, i);
				printf("%s %s\n", rule_name(r), rule_status(r));
			}
		printf("rules %u active %u eval-supported %u eval-skipped %u meta-skipped %u "
		    "bad-lines %u ignored-lines %u skipped-in-if %u required %.1f\n", st.rules,
		    st.active, st.eval_supported, st.eval_skipped, st.meta_skipped, st.bad_lines,
		    st.ignored_lines,
		    st.skipped_blocks, st.required_score);
		for (const char *const *er = ruleset_errors(e->rs); *er != NULL; er++)
			fprintf(stderr, "%s\n", *er);
		spam_engine_free(&e);
		free(rules);
		return st.bad_lines ? 1 : 0;
	}
	if (batch) {
		struct batch b = { e, user, threshold, have_threshold, tests, tokens, relays, 0 };
		const char *scanner = prefilter_scanner();
		double t0 = cpu_ms(), t;
		int bad = 0;
		for (int i = optind; i < argc; i++)
			bad += spam_cmd_each_message(argv[i], 0, batch_one, &b);
		fflush(stdout);
		t = cpu_ms() - t0;
		uint64_t hits = 0, lookups = 0;
		if (e->store != NULL)
			store_bayes_cache_stats(e->store, &hits, &lookups);
		fprintf(stderr, "spamc: %ld message(s), %.3f ms CPU per message "
		    "(%.1f ms start-up, %u rules prefiltered, rules %s, scanner %s, "
		    "Bayes token cache %.0f%% of %llu lookups)\n",
		    b.n, b.n ? t / (double)b.n : 0.0, t0, ruleset_prefiltered(e->rs),
		    e->rules_cached ? "from the cache" : "parsed",
		    scanner != NULL ? scanner : "none",
		    lookups ? 100.0 * (double)hits / (double)lookups : 0.0,
		    (unsigned long long)lookups);
		spam_engine_free(&e);
		free(rules);
		return bad ? 1 : 0;
	}
	buf_init(&in, SPAM_CMD_MAX_MESSAGE);
	if (fd_read_all(0, &in) < 0) {
		fprintf(stderr, "spamc: cannot read the message (larger than %d bytes?)\n",
		    SPAM_CMD_MAX_MESSAGE);
		return 2;
	}
	spam_engine_check(e, in.data ? in.data : "", in.len, user, &v);
	if (have_threshold) {
		struct spam_levels l = v.levels;
		l.spam = threshold;
		spam_engine_decide(e, &v, &l);
	}
	if (autolearn) {
		spam_engine_autolearn_decide(e, &v);
		spam_engine_autolearn(e, &v, user);
		spam_engine_train(e);
	}
	buf_init(&out, BUF_UNLIMITED);
	if (verdict) {
		char n[64];
		report_num(n, sizeof(n), v.res.score);
		printf("%s %s\n", v.is_spam ? "spam" : "ham", n);
	}
	if (headers) {
		struct buf h;
		buf_init(&h, BUF_UNLIMITED);
		report_headers(&h, &v.res, e->style, v.levels.tag, v.levels.spam, v.autolearn);
		spam_rewrite(e, &v, in.data ? in.data : "", in.len, buf_cstr(&h), &out);
		buf_free(&h);
	} else {
		report_headers(&out, &v.res, e->style, v.levels.tag, v.levels.spam, v.autolearn);
		(void)buf_appendc(&out, '\n');
		report_text(&out, &v.res);
		if (e->store == NULL && !eo.no_store)
			(void)buf_printf(&out, "\nBayes: not used (%s)\n", e->store_error);
		else if (v.res.bayes < 0 && !eo.no_store)
			(void)buf_appends(&out, "\nBayes: not used (too few messages learned)\n");
	}
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
	buf_free(&in);
	spam_verdict_free(&v);
	spam_engine_free(&e);
	free(rules);
	return 0;
}
