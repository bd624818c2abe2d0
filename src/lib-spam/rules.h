/*
 * rules.h - the SpamAssassin rule language (*.cf) and the rule engine.
 *
 * Supported: header (with :raw :addr :name, ALL, ToCc, MESSAGEID,
 * exists:, !~, [if-unset: X]), body, rawbody, uri, full, meta (boolean
 * and arithmetic), score (1 or 4 values), describe, tflags (nice, net,
 * multiple, maxhits=N, ...), required_score/required_hits,
 * whitelist_from/blacklist_from and welcomelist_from/blocklist_from
 * (with unwhitelist/unblocklist), include, ifplugin/if/else/endif.
 * Rules whose test is `eval:NAME(...)` run when Tempest implements NAME
 * (see rule_eval.c: check_bayes, whitelist/blocklist checks, the HTML
 * and MIME checks, tempest_stat); otherwise they are skipped and
 * counted.  Other directives (lang, report, add_header, ...) are
 * accepted and ignored.
 *
 * Rule files are trusted configuration, but come from third parties, so
 * the parser is bounded (line length, include depth) and never crashes
 * on bad syntax: each bad line is counted and reported.  Messages are
 * untrusted; PCRE2 runs with JIT and match limits, and a budget per
 * message.
 */
#ifndef TEMPEST_RULES_H
#define TEMPEST_RULES_H

#include <stddef.h>

struct mime_msg;
struct rule;
struct ruleset;

/* Score sets, as SpamAssassin numbers them. */
#define SCORE_SET_PLAIN 0       /* no network tests, no Bayes */
#define SCORE_SET_BAYES 2       /* Bayes, no network tests */

/* Longest rule name accepted (SpamAssassin's own are under 40). */
#define RULE_NAME_MAX 128

struct ruleset *ruleset_new(void);
void ruleset_free(struct ruleset **rs);
/* Load a file, or every *.cf file of a directory in name order.
 * 0, or -1 with *error_r (malloc'ed) if it cannot be read. */
int ruleset_load_path(struct ruleset *rs, const char *path, char **error_r);
/* Load rule text; `name` is used in messages and as the base of
 * relative includes (dir of name). */
void ruleset_load_text(struct ruleset *rs, const char *name, const char *text);
/* The rule set compiled into tempest (rules/ of the source tree). */
void ruleset_load_builtin(struct ruleset *rs);
/* The trusted networks the X-Spam-Relays-* pseudo-headers are split by
 * (relays.h); NULL: inferred.  The list must outlive the rule set. */
struct netlist;
void ruleset_set_trusted_networks(struct ruleset *rs, const struct netlist *nl);
/* Resolve metas and finish compiling; call once after loading. */
void ruleset_finish(struct ruleset *rs);
/* JIT-compile the patterns in ruleset_finish (default yes).  Off pays
 * for a one-message scan (`tempest spamc`): JIT compiling thousands of
 * patterns costs more than it saves on a single message. */
void ruleset_set_jit(struct ruleset *rs, int on);

/* Vectorscan multi-pattern prefilter for header/body/rawbody/uri rules
 * (default yes when built with libhs; compiled in ruleset_finish). */
void ruleset_set_prefilter(struct ruleset *rs, int on);
/* Rules in the prefilter databases (0 without libhs or when off). */
unsigned ruleset_prefiltered(const struct ruleset *rs);
/* The Vectorscan scan function this host uses ("hs_scan",
 * "avx2_hs_scan"), or NULL: no prefilter here (rule_prefilter.c). */
const char *prefilter_scanner(void);

/* Compiled-rule cache (rule_cache.c, doc/spam.md).  The file for a list
 * of specs (paths or "builtin") in dir, malloc'ed. */
char *ruleset_cache_path(const char *dir, const char *const *specs, int use_hs);
/* Load rs (new, empty) from the cache: 0 loaded and finished; 1 no
 * cache or stale (sources changed); -1 rejected (corrupt, other build,
 * a symbolic link, a file owned by another user than the effective one
 * or root, or writable by group or others) with *error_r; 2 not used
 * because the directory is not trusted in the same way (*error_r says
 * why; ruleset_cache_save() would refuse it too).  After a non-zero
 * result rs must be freed. */
int ruleset_cache_load(struct ruleset *rs, const char *path,
    const char *const *specs, char **error_r);
/* The parser itself: specs NULL skips the staleness check; without
 * decode_blobs the patterns are compiled from their text instead of
 * decoding the serialized PCRE2/Vectorscan data (fuzzing). */
int ruleset_cache_parse(struct ruleset *rs, const unsigned char *data, size_t len,
    const char *const *specs, int decode_blobs, const char **error_r);
/* Write a finished rule set (atomically: temporary file + rename),
 * only into a directory ruleset_cache_load() trusts. */
int ruleset_cache_save(const struct ruleset *rs, const char *path, char **error_r);

struct ruleset_stats {
	unsigned rules;         /* defined rules (all kinds) */
	unsigned active;        /* rules that will run */
	unsigned eval_skipped;  /* eval: rules Tempest does not implement */
	unsigned eval_supported; /* eval: rules Tempest runs, and mimeheader
				  * rules (SpamAssassin's are eval: tests) */
	unsigned meta_skipped;  /* metas on undefined or skipped rules */
	unsigned bad_lines;     /* syntax errors, bad regexes */
	unsigned ignored_lines; /* directives accepted without effect */
	unsigned skipped_blocks;/* lines inside false if/ifplugin blocks */
	double required_score;
};
void ruleset_stats(const struct ruleset *rs, struct ruleset_stats *st);
/* The first few error messages ("file:line: text"), NULL-terminated. */
const char *const *ruleset_errors(const struct ruleset *rs);
/* 1 when the rule set reads a message as SpamAssassin does, as its own
 * rules do (it has a util_rb_tld list): mime_limits.sa_text for it. */
int ruleset_sa_text(const struct ruleset *rs);
/* Override required_score (e.g. from main.cf). */
void ruleset_set_required(struct ruleset *rs, double required);

struct spam_hit {
	const char *name;
	const char *describe;
	double score;           /* score of the active set (times hits) */
	double score_nobayes;   /* of the set without Bayes (auto-learning) */
	unsigned count;
};

struct spam_result {
	double score;
	double required;
	struct spam_hit *hits;  /* scored rules that hit, sorted by name */
	size_t nhits;
	double bayes;           /* Bayes probability, or -1 if not used */
	double lr;              /* logistic-regression probability, or -1 */
	int score_set;
	/* PCRE2 limits (rules-private.h): matches that stopped at the
	 * per-match limit (no match), and regex rules not run at all
	 * because the message's budget was spent (as SpamAssassin's
	 * time_limit: the score is then that of the rules that ran) */
	unsigned re_limited;
	unsigned re_skipped;
};

/* Run every rule on msg.  bayes_prob is the message's Bayes probability
 * (0..1) or < 0 when no trained database is available (score set 0 is
 * then used, else set 2); lr_prob the logistic regression's (lr.h), or
 * < 0 (check_lr never hits then). */
void spam_scan(struct ruleset *rs, const struct mime_msg *msg,
    double bayes_prob, double lr_prob, struct spam_result *res);
void spam_result_free(struct spam_result *res);

/* Rule lookup for tests and reports. */
const struct rule *ruleset_find(const struct ruleset *rs, const char *name);
/* Score of a rule in a set (after defaults), and whether it runs. */
double rule_score(const struct rule *r, int set);
const char *rule_describe(const struct rule *r);
int rule_is_skipped(const struct rule *r);
/* Every rule in definition order (for --lint listings). */
size_t ruleset_count(const struct ruleset *rs);
const struct rule *ruleset_rule(const struct ruleset *rs, size_t i);
const char *rule_name(const struct rule *r);
/* "active", "eval-skipped" (eval: not implemented), "bad" (did not
 * compile), "disabled" (score 0 or tflags net), "score-only" (a score or
 * describe line without a test), "eval" (an implemented eval:). */
const char *rule_status(const struct rule *r);

#endif
