/*
 * rule_parse.c - the SpamAssassin rule language: *.cf files (trusted
 * configuration written by third parties) into a struct ruleset.
 * Bounded: lines of at most LINE_MAX_LEN bytes, includes nested at most
 * INCLUDE_MAX deep, if-blocks at most COND_MAX deep.  A bad line never
 * stops loading: it is counted and the first errors are kept.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "mem.h"
#include "rules-private.h"
#include "str.h"
#include "builtin.h"

#define LINE_MAX_LEN (64 * 1024)
#define INCLUDE_MAX 8
#define COND_MAX 64
#define RULES_MAX 100000

struct ruleset *
ruleset_new(void)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));

	rs->required = 5.0;
	rs->use_hs = 1;
	rs->hcap = 1024;
	rs->hash = xcalloc(rs->hcap, sizeof(int));
	return rs;
}

void
ruleset_str_free(const struct ruleset *rs, char *s)
{
	if (!in_block(s, rs->strs, rs->nstrs))
		free(s);
}

static void
rule_clear(const struct ruleset *rs, struct rule *r)
{
	ruleset_str_free(rs, r->name);
	ruleset_str_free(rs, r->hdr);
	ruleset_str_free(rs, r->if_unset);
	ruleset_str_free(rs, r->describe);
	ruleset_str_free(rs, r->src);
	ruleset_str_free(rs, r->pat);
	if (r->re != NULL)
		pcre2_code_free(r->re);
	if (r->re32 != NULL)
		pcre2_code_free_32(r->re32);
	for (int i = 0; i < r->neval_args; i++)
		ruleset_str_free(rs, r->eval_args[i]);
	free(r->eval_args);
	for (size_t i = 0; i < r->meta.n; i++)
		ruleset_str_free(rs, r->meta.v[i].name);
	r->meta.n = 0;
	if (in_block(r->meta.v, rs->metas, rs->nmetas * sizeof(*rs->metas)))
		r->meta.v = NULL;       /* (in the block of a cache read) */
	meta_free(&r->meta);
}

void
ruleset_free(struct ruleset **rsp)
{
	struct ruleset *rs = *rsp;

	if (rs == NULL)
		return;
	prefilter_free(rs);
	for (size_t i = 0; i < rs->n; i++)
		rule_clear(rs, &rs->v[i]);
	free(rs->v);
	free(rs->run);
	free(rs->hash);
	for (size_t i = 0; i < rs->nwelcome; i++)
		ruleset_str_free(rs, rs->welcome[i]);
	for (size_t i = 0; i < rs->nblock; i++)
		ruleset_str_free(rs, rs->block[i]);
	free(rs->welcome);
	free(rs->block);
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < rs->rb.n[k]; i++)
			ruleset_str_free(rs, rs->rb.v[k][i]);
		free(rs->rb.v[k]);
		for (size_t i = 0; i < rs->nfm[k]; i++)
			ruleset_str_free(rs, rs->fm[k][i]);
		free(rs->fm[k]);
	}
	for (size_t i = 0; i < rs->nredir; i++) {
		ruleset_str_free(rs, rs->redir[i]);
		if (rs->redir_re != NULL && rs->redir_re[i] != NULL)
			pcre2_code_free(rs->redir_re[i]);
	}
	free(rs->redir);
	free(rs->redir_re);
	for (size_t l = 0; l < rs->nalists; l++) {
		for (size_t i = 0; i < rs->alists[l].n; i++)
			ruleset_str_free(rs, rs->alists[l].v[i]);
		free(rs->alists[l].v);
		ruleset_str_free(rs, rs->alists[l].name);
	}
	free(rs->alists);
	ruleset_str_free(rs, rs->ok_locales);
	for (int k = 0; k < 3; k++)
		if (rs->fm_re[k] != NULL)
			pcre2_code_free(rs->fm_re[k]);
	for (size_t i = 0; i < rs->nplugins; i++)
		free(rs->plugins[i]);
	free(rs->plugins);
	for (unsigned i = 0; i < rs->nerrors; i++)
		ruleset_str_free(rs, rs->errors[i]);
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < rs->nrtag[k]; i++)
			free(rs->rtag[k][i]);
		free(rs->rtag[k]);
	}
	for (size_t i = 0; i < rs->nrrules; i++)
		free(rs->rrules[i]);
	free(rs->rrules);
	for (size_t i = 0; i < rs->nsrcs; i++)
		ruleset_str_free(rs, rs->srcs[i].name);
	free(rs->srcs);
	if (rs->md != NULL)
		pcre2_match_data_free(rs->md);
	if (rs->mctx != NULL)
		pcre2_match_context_free(rs->mctx);
	wide_free(rs);
	ruleset_cache_free(rs);
	FREE(*rsp);
}

static size_t
hash_name(const char *s)
{
	size_t h = 5381;
	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static void
rehash(struct ruleset *rs, size_t hcap)
{
	free(rs->hash);
	rs->hcap = hcap;
	rs->hash = xcalloc(rs->hcap, sizeof(int));
	for (size_t i = 0; i < rs->n; i++) {
		size_t h = hash_name(rs->v[i].name) & (rs->hcap - 1);
		while (rs->hash[h] != 0)
			h = (h + 1) & (rs->hcap - 1);
		rs->hash[h] = (int)i + 1;
	}
}

struct rule *
ruleset_get(struct ruleset *rs, const char *name, int create)
{
	size_t h = hash_name(name) & (rs->hcap - 1);
	struct rule *r;

	while (rs->hash[h] != 0) {
		r = &rs->v[rs->hash[h] - 1];
		if (strcmp(r->name, name) == 0)
			return r;
		h = (h + 1) & (rs->hcap - 1);
	}
	if (!create || rs->n >= RULES_MAX)
		return NULL;
	return ruleset_add(rs, xstrdup(name));
}

struct rule *
ruleset_add(struct ruleset *rs, char *name)
{
	size_t h = hash_name(name) & (rs->hcap - 1);
	struct rule *r;

	while (rs->hash[h] != 0) {
		if (strcmp(rs->v[rs->hash[h] - 1].name, name) == 0)
			break;
		h = (h + 1) & (rs->hcap - 1);
	}
	if (rs->hash[h] != 0 || rs->n >= RULES_MAX) {
		ruleset_str_free(rs, name);
		return NULL;
	}
	rs->v = xgrowarray(rs->v, &rs->cap, rs->n + 1, sizeof(*rs->v));
	r = &rs->v[rs->n];
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->eval = -1;
	rs->hash[h] = (int)++rs->n;
	if (rs->n * 2 > rs->hcap)
		rehash(rs, rs->hcap * 2);
	return &rs->v[rs->n - 1];
}

void
ruleset_reserve(struct ruleset *rs, size_t n)
{
	size_t hcap = rs->hcap;

	if (n > RULES_MAX)
		n = RULES_MAX;
	if (n > rs->cap) {
		size_t had = rs->cap;
		rs->v = xgrowarray(rs->v, &rs->cap, n, sizeof(*rs->v));
		/* written rule by rule right away (a cache read) */
		mem_populate(rs->v + had, (rs->cap - had) * sizeof(*rs->v));
	}
	while (n * 2 > hcap)
		hcap *= 2;
	if (hcap != rs->hcap)
		rehash(rs, hcap);
}

const struct rule *
ruleset_find(const struct ruleset *rs, const char *name)
{
	return ruleset_get((struct ruleset *)rs, name, 0);
}

void
ruleset_error(struct ruleset *rs, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	rs->st.bad_lines++;
	if (rs->nerrors >= NELEM(rs->errors) - 1)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	rs->errors[rs->nerrors++] = xasprintf("%s:%d: %s", file, line, msg);
	free(msg);
}

const char *const *
ruleset_errors(const struct ruleset *rs)
{
	return (const char *const *)rs->errors;
}

void
ruleset_set_jit(struct ruleset *rs, int on)
{
	rs->no_jit = !on;
	spam_jit_fixed_set(on);
}

void
ruleset_set_prefilter(struct ruleset *rs, int on)
{
	rs->use_hs = on;
}

unsigned
ruleset_prefiltered(const struct ruleset *rs)
{
	return prefilter_count(rs);
}

void
ruleset_set_required(struct ruleset *rs, double required)
{
	rs->required = required;
}

/* Reset the test part of a rule being (re)defined. */
static void
rule_reset_test(struct rule *r)
{
	FREE(r->hdr);
	FREE(r->if_unset);
	FREE(r->src);
	FREE(r->pat);
	if (r->re != NULL)
		pcre2_code_free(r->re);
	r->re = NULL;
	if (r->re32 != NULL)
		pcre2_code_free_32(r->re32);
	r->re32 = NULL;
	for (int i = 0; i < r->neval_args; i++)
		free(r->eval_args[i]);
	FREE(r->eval_args);
	r->neval_args = 0;
	r->eval = -1;
	r->eval_unknown = 0;
	r->exists = r->negate = r->bad = 0;
	r->hmod = HM_NONE;
	meta_free(&r->meta);
}

/*
 * A Perl regex literal at *pp: /re/flags, m{re}flags, m!re!flags...  On
 * success returns the compiled pattern and advances *pp.
 */
static pcre2_code *
compile_regex(const char **pp, const char **error_r, char *errbuf, size_t errlen,
    char **src_r, uint32_t *opts_r, pcre2_code_32 **wide_r)
{
	const char *p = *pp;
	char open, close;
	int nest = 0;
	struct buf pat;
	uint32_t opts = 0;
	pcre2_code *re;
	int err;
	PCRE2_SIZE erroff;

	if (*p == 'm' && p[1] != '\0' && !isalnum((unsigned char)p[1]) && !isspace((unsigned char)p[1]))
		p++;
	open = *p;
	if (open != '/' && !(ispunct((unsigned char)open) && p != *pp)) {
		*error_r = "regular expression expected";
		return NULL;
	}
	close = open == '{' ? '}' : open == '(' ? ')' : open == '[' ? ']' :
	    open == '<' ? '>' : open;
	buf_init(&pat, LINE_MAX_LEN);
	for (p++; *p; p++) {
		if (*p == '\\' && p[1] != '\0') {
			/* an escaped delimiter is the delimiter itself */
			if (p[1] == close && close != '}' && close != ')' && close != ']')
				(void)buf_appendc(&pat, p[1]);
			else {
				(void)buf_appendc(&pat, '\\');
				(void)buf_appendc(&pat, p[1]);
			}
			p++;
			continue;
		}
		if (open != close && *p == open)
			nest++;
		else if (*p == close) {
			if (nest == 0)
				break;
			nest--;
		}
		(void)buf_appendc(&pat, *p);
	}
	if (*p != close) {
		buf_free(&pat);
		*error_r = "unterminated regular expression";
		return NULL;
	}
	for (p++; isalpha((unsigned char)*p); p++) {
		switch (*p) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'g': case 'o': break;
		default:
			buf_free(&pat);
			*error_r = "unknown regex flag";
			return NULL;
		}
	}
	re = rule_compile(buf_cstr(&pat), pat.len, opts, &err, &erroff, wide_r);
	*src_r = xstrdup(buf_cstr(&pat));
	*opts_r = opts;
	buf_free(&pat);
	if (re == NULL && *wide_r == NULL) {
		pcre2_get_error_message(err, (PCRE2_UCHAR *)errbuf, errlen);
		*error_r = errbuf;
		return NULL;
	}
	*pp = p;
	return re;
}

/* SpamAssassin's tests that need the network (DNS blocklists, URI
 * blocklists, SPF, DKIM and ARC verification, Razor, Pyzor, HashBL, the
 * sender's DNS): without it SpamAssassin does not run them and its metas
 * take them as not hit.  Tempest does not run them either: a meta over
 * one runs, with the operand false (cannot_run). */
static int
eval_is_net(const char *name)
{
	static const char *const pre[] = {
		"check_rbl", "check_uridnsbl",
		"check_dns_sender", "check_dkim_", "check_arc_",
		"check_for_dkim_", "check_for_def_dkim_", "check_for_spf_",
		"check_for_def_spf_", "check_razor2", "check_pyzor",
		"check_dcc", "check_hashbl_", "check_asn",
	};
	for (size_t i = 0; i < NELEM(pre); i++)
		if (strncmp(name, pre[i], strlen(pre[i])) == 0)
			return 1;
	return 0;
}

/* SpamAssassin's evals that are another with a list name given:
 * check_to_in_welcomelist() is check_to_in_list('welcomelist_to'). */
static const struct {
	const char *name, *as, *arg;
} eval_aliases[] = {
	{ "check_to_in_welcomelist", "check_to_in_list", "welcomelist_to" },
	{ "check_to_in_whitelist", "check_to_in_list", "welcomelist_to" },
	{ "check_to_in_blocklist", "check_to_in_list", "blocklist_to" },
	{ "check_to_in_blacklist", "check_to_in_list", "blocklist_to" },
	{ "check_to_in_more_spam", "check_to_in_list", "more_spam_to" },
	{ "check_to_in_all_spam", "check_to_in_list", "all_spam_to" },
	{ "check_uri_host_in_blocklist", "check_uri_host_listed", "BLOCK" },
	{ "check_uri_host_in_blacklist", "check_uri_host_listed", "BLOCK" },
	{ "check_uri_host_in_welcomelist", "check_uri_host_listed", "WELCOME" },
	{ "check_uri_host_in_whitelist", "check_uri_host_listed", "WELCOME" },
};

/* eval:name(args) -> rule fields. */
static int
parse_eval(struct rule *r, const char *s, const char **error_r)
{
	const char *p = s, *q;
	char name[128];
	size_t n;

	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	n = (size_t)(p - s);
	if (n == 0 || n >= sizeof(name)) {
		*error_r = "bad eval";
		return -1;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	r->eval = eval_lookup(name);
	r->eval_unknown = r->eval < 0 ? 1 + eval_is_net(name) : 0;
	if (*p == '(') {
		p++;
		while (*p && *p != ')') {
			struct buf a;
			while (isspace((unsigned char)*p) || *p == ',')
				p++;
			if (*p == ')' || *p == '\0')
				break;
			buf_init(&a, 1024);
			if (*p == '\'' || *p == '"') {
				char qc = *p++;
				for (q = p; *q && *q != qc; q++)
					(void)buf_appendc(&a, *q);
				p = *q ? q + 1 : q;
			} else {
				for (q = p; *q && *q != ',' && *q != ')' && !isspace((unsigned char)*q); q++)
					(void)buf_appendc(&a, *q);
				p = q;
			}
			if (r->neval_args < 16) {
				r->eval_args = xreallocarray(r->eval_args, (size_t)r->neval_args + 1,
				    sizeof(char *));
				r->eval_args[r->neval_args++] = buf_steal(&a);
			} else
				buf_free(&a);
		}
	}
	for (size_t k = 0; k < NELEM(eval_aliases); k++)
		if (strcmp(name, eval_aliases[k].name) == 0 && r->neval_args == 0) {
			r->eval = eval_lookup(eval_aliases[k].as);
			r->eval_unknown = r->eval < 0;
			r->eval_args = xreallocarray(r->eval_args, 1, sizeof(char *));
			r->eval_args[r->neval_args++] = xstrdup(eval_aliases[k].arg);
		}
	/* a measure Tempest does not take: skipped and counted */
	if (r->eval >= 0 && !eval_args_known(r->eval, r->eval_args, r->neval_args))
		r->eval_unknown = 1;
	return 0;
}

static const char *
skip_ws(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* Cut the next white-space separated word from *pp into a fresh string. */
static char *
word(const char **pp)
{
	const char *p = skip_ws(*pp), *q = p;

	while (*q && !isspace((unsigned char)*q))
		q++;
	*pp = q;
	return q > p ? xstrndup(p, (size_t)(q - p)) : NULL;
}

/* A rule name: a letter or '_', then letters, digits and '_', at most
 * RULE_NAME_MAX bytes, so that "NAME=score," always fits a folded
 * X-Spam-Status: line of 998 bytes. */
static int
valid_name(const char *n)
{
	const char *s = n;

	if (!isalpha((unsigned char)*n) && *n != '_')
		return 0;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '_')
			return 0;
	return (size_t)(n - s) <= RULE_NAME_MAX;
}

static const char *const plugins_known[] = {
	"Mail::SpamAssassin::Plugin::Check",
	"Mail::SpamAssassin::Plugin::Bayes",
	"Mail::SpamAssassin::Plugin::BodyEval",
	"Mail::SpamAssassin::Plugin::HTMLEval",
	"Mail::SpamAssassin::Plugin::HeaderEval",
	"Mail::SpamAssassin::Plugin::MIMEEval",
	"Mail::SpamAssassin::Plugin::WLBLEval",
	"Mail::SpamAssassin::Plugin::WelcomeListSubject",
	"Mail::SpamAssassin::Plugin::ReplaceTags",
	"Mail::SpamAssassin::Plugin::MIMEHeader",
	"Mail::SpamAssassin::Plugin::VBounce",
};

/* A plugin counts as present when Tempest implements (part of) it or a
 * loadplugin line (in *.pre or *.cf) loaded it: its blocks are read, its
 * eval: tests skipped and counted, its other directives ignored. */
static int
plugin_known(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < NELEM(plugins_known); i++)
		if (strcmp(name, plugins_known[i]) == 0)
			return 1;
	for (size_t i = 0; rs != NULL && i < rs->nplugins; i++)
		if (strcmp(name, rs->plugins[i]) == 0)
			return 1;
	return 0;
}

/* The modifiers after a header rule's header name ("raw", "addr:raw"),
 * as SpamAssassin combines them: :addr is the first address whether raw
 * or not, :name:raw the display name as written (encoded words left
 * as they are). */
static int
header_modifiers(const char *mods, enum hdr_mod *hmod_r)
{
	int raw = 0, addr = 0, nm = 0;

	while (*mods != '\0') {
		size_t n = strcspn(mods, ":");
		if (n == 3 && strncmp(mods, "raw", 3) == 0)
			raw = 1;
		else if (n == 4 && strncmp(mods, "addr", 4) == 0)
			addr = 1;
		else if (n == 4 && strncmp(mods, "name", 4) == 0)
			nm = 1;
		else
			return -1;
		mods += n;
		if (*mods == ':')
			mods++;
	}
	if (addr && nm)
		return -1;
	*hmod_r = addr ? HM_ADDR : nm ? (raw ? HM_NAME_RAW : HM_NAME) :
	    raw ? HM_RAW : HM_NONE;
	return 0;
}

/* can(X) in an `if`: the feature_* / perl_min_version_* functions of
 * SpamAssassin's Conf.pm for behaviour Tempest has, ... */
static const char *const features_known[] = {
	/* tflags multiple counts matches (an empty match moves on, it
	 * does not loop), metas compute on the counts */
	"Mail::SpamAssassin::Conf::feature_bug6558_free",
	/* welcomelist_from / blocklist_from and their eval: tests */
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
	"Mail::SpamAssassin::Conf::feature_blocklist_welcomelist",
	/* Perl 5.10 regular expressions: PCRE2 reads them */
	"Mail::SpamAssassin::Conf::perl_min_version_5010000",
	/* named captures set tags, %{TAG} templates use them (capture,
	 * tpl in rules-private.h) */
	"Mail::SpamAssassin::Conf::feature_capture_rules",
};

/* ... and a plugin's has_F for an eval: test F Tempest implements, of a
 * plugin that is present. */
static int
can_known(const struct ruleset *rs, const char *name)
{
	static const char pre[] = "Mail::SpamAssassin::Plugin::";
	const char *has;
	char *plugin;
	int r;

	for (size_t i = 0; i < NELEM(features_known); i++)
		if (strcmp(name, features_known[i]) == 0)
			return 1;
	if (strncmp(name, pre, sizeof(pre) - 1) != 0 ||
	    (has = strstr(name + sizeof(pre) - 1, "::has_")) == NULL)
		return 0;
	plugin = xstrndup(name, (size_t)(has - name));
	r = plugin_known(rs, plugin) && eval_lookup(has + 6) >= 0;
	free(plugin);
	return r;
}

static double
if_ident(void *arg, int idx, const char *name)
{
	(void)arg;
	(void)idx;
	if (strcmp(name, "version") == 0)
		return 4.000000;
	if (strcmp(name, "perl_version") == 0)
		return 5.036;
	return 0;
}

/* Evaluate an `if` condition: version, perl_version, plugin(X), can(X)
 * (can_known), has(X); anything unknown is false. */
static int
if_true(const struct ruleset *rs, const char *expr)
{
	struct buf b;
	struct meta_expr e;
	const char *err, *p = expr;
	int r;

	buf_init(&b, LINE_MAX_LEN);
	while (*p) {
		if (isalpha((unsigned char)*p)) {
			const char *q = p;
			while (isalnum((unsigned char)*q) || *q == '_')
				q++;
			const char *r2 = skip_ws(q);
			if (*r2 == '(' && (strncmp(p, "plugin", 6) == 0 || strncmp(p, "can", 3) == 0 ||
			    strncmp(p, "has", 3) == 0)) {
				const char *close = strchr(r2, ')');
				char *arg;
				int val = 0;
				if (close == NULL)
					break;
				arg = xstrndup(r2 + 1, (size_t)(close - r2 - 1));
				if (strncmp(p, "plugin", 6) == 0)
					val = plugin_known(rs, str_trim(arg));
				else if (strncmp(p, "can", 3) == 0)
					val = can_known(rs, str_trim(arg));
				free(arg);
				(void)buf_appends(&b, val ? " 1 " : " 0 ");
				p = close + 1;
				continue;
			}
			(void)buf_append(&b, p, (size_t)(q - p));
			p = q;
			continue;
		}
		(void)buf_appendc(&b, *p++);
	}
	if (meta_parse(buf_cstr(&b), &e, &err) < 0) {
		buf_free(&b);
		return 0;
	}
	r = meta_eval(&e, if_ident, NULL) != 0;
	meta_free(&e);
	buf_free(&b);
	return r;
}

static int
load_file(struct ruleset *rs, const char *path, char **error_r);

static void
list_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

void
redirectors_compile(struct ruleset *rs)
{
	char errbuf[256];

	if (rs->redir_re != NULL || rs->nredir == 0)
		return;
	rs->redir_re = xcalloc(rs->nredir, sizeof(*rs->redir_re));
	for (size_t i = 0; i < rs->nredir; i++) {
		const char *p = rs->redir[i], *err;
		char *src = NULL;
		uint32_t opts;
		pcre2_code_32 *wide = NULL;
		rs->redir_re[i] = compile_regex(&p, &err, errbuf, sizeof(errbuf), &src, &opts,
		    &wide);
		if (wide != NULL)
			pcre2_code_free_32(wide);
		free(src);
	}
}

/* A freemail_welcomelist entry: /\w[.@]\w/ */

/* The address list of that name, added when new. */
static struct addrlist *
addrlist_get(struct ruleset *rs, const char *name, size_t len)
{
	struct addrlist *l;

	for (size_t k = 0; k < rs->nalists; k++)
		if (strlen(rs->alists[k].name) == len &&
		    strncmp(rs->alists[k].name, name, len) == 0)
			return &rs->alists[k];
	rs->alists = xreallocarray(rs->alists, rs->nalists + 1, sizeof(*rs->alists));
	l = &rs->alists[rs->nalists++];
	memset(l, 0, sizeof(*l));
	l->name = xstrndup(name, len);
	return l;
}

static int
fm_welcome_ok(const char *a)
{
	for (size_t i = 1; a[i] != '\0' && a[i + 1] != '\0'; i++)
		if ((a[i] == '.' || a[i] == '@') &&
		    (isalnum((unsigned char)a[i - 1]) || a[i - 1] == '_') &&
		    (isalnum((unsigned char)a[i + 1]) || a[i + 1] == '_'))
			return 1;
	return 0;
}

static void
list_del(char **v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i], s) == 0) {
			free(v[i]);
			v[i] = v[--*n];
			i--;
		}
}

/* One logical line (comments already removed). */
static void
do_line(struct ruleset *rs, const char *file, int lineno, const char *line)
{
	const char *p = line;
	char *cmd = word(&p), *name = NULL;
	const char *err = NULL;
	char errbuf[256];
	struct rule *r;

	if (cmd == NULL)
		return;
	if (strcmp(cmd, "header") == 0 || strcmp(cmd, "body") == 0 ||
	    strcmp(cmd, "rawbody") == 0 || strcmp(cmd, "uri") == 0 ||
	    strcmp(cmd, "full") == 0 || strcmp(cmd, "meta") == 0 ||
	    strcmp(cmd, "mimeheader") == 0) {
		name = word(&p);
		if (name == NULL || !valid_name(name)) {
			ruleset_error(rs, file, lineno, "bad rule name (letters, digits "
			    "and '_', at most %d characters)", RULE_NAME_MAX);
			goto out;
		}
		r = ruleset_get(rs, name, 1);
		if (r == NULL) {
			ruleset_error(rs, file, lineno, "too many rules");
			goto out;
		}
		rule_reset_test(r);
		p = skip_ws(p);
		if (strcmp(cmd, "meta") == 0) {
			r->type = RULE_META;
			if (meta_parse(p, &r->meta, &err) < 0) {
				ruleset_error(rs, file, lineno, "meta %s: %s", name, err);
				r->bad = 1;
			}
			goto out;
		}
		r->type = strcmp(cmd, "header") == 0 ? RULE_HEADER :
		    strcmp(cmd, "mimeheader") == 0 ? RULE_MIMEHEADER :
		    strcmp(cmd, "body") == 0 ? RULE_BODY :
		    strcmp(cmd, "rawbody") == 0 ? RULE_RAWBODY :
		    strcmp(cmd, "uri") == 0 ? RULE_URI : RULE_FULL;
		if (strncmp(p, "eval:", 5) == 0 && r->type != RULE_MIMEHEADER) {
			if (parse_eval(r, p + 5, &err) < 0) {
				ruleset_error(rs, file, lineno, "%s: %s", name, err);
				r->bad = 1;
			}
			goto out;
		}
		if (r->type == RULE_HEADER || r->type == RULE_MIMEHEADER) {
			if (strncmp(p, "exists:", 7) == 0 && r->type == RULE_HEADER) {
				char *h = word(&(const char *){ p + 7 });
				r->exists = 1;
				r->hdr = h ? h : xstrdup("");
				goto out;
			}
			/* Header[:mod] op /re/ */
			const char *q = p;
			while (*q && !isspace((unsigned char)*q) && *q != '=' && *q != '!')
				q++;
			char *h = xstrndup(p, (size_t)(q - p));
			char *colon = strchr(h, ':');
			if (colon != NULL) {
				*colon++ = '\0';
				/* (a mimeheader takes :raw only) */
				if (header_modifiers(colon, &r->hmod) < 0 ||
				    (r->type == RULE_MIMEHEADER && r->hmod != HM_RAW)) {
					ruleset_error(rs, file, lineno, "%s: unknown modifier :%s", name, colon);
					r->bad = 1;
					r->hdr = h;
					goto out;
				}
			}
			r->hdr = h;
			p = skip_ws(q);
			if (strncmp(p, "=~", 2) == 0)
				r->negate = 0;
			else if (strncmp(p, "!~", 2) == 0)
				r->negate = 1;
			else {
				ruleset_error(rs, file, lineno, "%s: =~ or !~ expected", name);
				r->bad = 1;
				goto out;
			}
			p = skip_ws(p + 2);
		}
		r->re = compile_regex(&p, &err, errbuf, sizeof(errbuf), &r->src, &r->opts,
		    &r->re32);
		if (r->re == NULL && r->re32 == NULL && r->src != NULL &&
		    strchr(r->src, '<') != NULL) {
			/* may compile once ReplaceTags tags are substituted */
			r->bad = 2;
			goto out;
		}
		if (r->re == NULL && r->re32 == NULL) {
			ruleset_error(rs, file, lineno, "%s: %s", name, err);
			r->bad = 1;
			goto out;
		}
		p = skip_ws(p);
		if ((r->type == RULE_HEADER || r->type == RULE_MIMEHEADER) &&
		    strncmp(p, "[if-unset:", 10) == 0) {
			const char *e = strrchr(p, ']');
			const char *v = skip_ws(p + 10);
			if (e != NULL && e >= v) {
				char *u = xstrndup(v, (size_t)(e - v));
				r->if_unset = xstrdup(str_trim(u));
				free(u);
			}
		} else if (*p != '\0') {
			ruleset_error(rs, file, lineno, "%s: trailing text", name);
		}
	} else if (strcmp(cmd, "score") == 0) {
		name = word(&p);
		if (name == NULL || !valid_name(name)) {
			ruleset_error(rs, file, lineno, "bad score line (rule names: "
			    "letters, digits and '_', at most %d characters)", RULE_NAME_MAX);
			goto out;
		}
		r = ruleset_get(rs, name, 1);
		if (r == NULL)
			goto out;
		double v[4];
		int nv = 0;
		char *tok;
		while (nv < 5 && (tok = word(&p)) != NULL) {
			char *end;
			if (*tok == '(') {      /* "(1.0)" old style */
				memmove(tok, tok + 1, strlen(tok));
				char *c = strchr(tok, ')');
				if (c) *c = '\0';
			}
			double d = strtod(tok, &end);
			int junk = *end != '\0' || end == tok;
			free(tok);
			if (junk || nv == 4) {
				nv = -1;
				break;
			}
			v[nv++] = d;
		}
		if (nv != 1 && nv != 4) {
			ruleset_error(rs, file, lineno, "score %s: 1 or 4 numbers expected", name);
			goto out;
		}
		for (int i = 0; i < 4; i++)
			r->score[i] = nv == 1 ? v[0] : v[i];
		r->nscores = nv;
	} else if (strcmp(cmd, "describe") == 0) {
		name = word(&p);
		if (name == NULL)
			goto out;
		r = ruleset_get(rs, name, 1);
		if (r == NULL)
			goto out;
		free(r->describe);
		r->describe = xstrdup(skip_ws(p));
	} else if (strcmp(cmd, "tflags") == 0) {
		char *t;
		name = word(&p);
		if (name == NULL)
			goto out;
		r = ruleset_get(rs, name, 1);
		if (r == NULL)
			goto out;
		r->tflags = 0;
		while ((t = word(&p)) != NULL) {
			if (strcmp(t, "nice") == 0) r->tflags |= TF_NICE;
			else if (strcmp(t, "net") == 0) r->tflags |= TF_NET;
			else if (strcmp(t, "multiple") == 0) r->tflags |= TF_MULTIPLE;
			else if (strcmp(t, "learn") == 0) r->tflags |= TF_LEARN;
			else if (strcmp(t, "userconf") == 0) r->tflags |= TF_USERCONF;
			else if (strcmp(t, "noautolearn") == 0) r->tflags |= TF_NOAUTOLEARN;
			else if (strcmp(t, "nosubject") == 0) r->tflags |= TF_NOSUBJECT;
			else if (strncmp(t, "maxhits=", 8) == 0) r->maxhits = (unsigned)atoi(t + 8);
			free(t);
		}
	} else if (strcmp(cmd, "required_score") == 0 || strcmp(cmd, "required_hits") == 0) {
		char *v = word(&p), *end;
		double d = v ? strtod(v, &end) : 0;
		if (v == NULL || *end != '\0')
			ruleset_error(rs, file, lineno, "%s: number expected", cmd);
		else
			rs->required = d;
		free(v);
	} else if (strcmp(cmd, "whitelist_from") == 0 || strcmp(cmd, "welcomelist_from") == 0 ||
	    strcmp(cmd, "blacklist_from") == 0 || strcmp(cmd, "blocklist_from") == 0 ||
	    strcmp(cmd, "unwhitelist_from") == 0 || strcmp(cmd, "unwelcomelist_from") == 0 ||
	    strcmp(cmd, "unblacklist_from") == 0 || strcmp(cmd, "unblocklist_from") == 0) {
		int welcome = strstr(cmd, "white") != NULL || strstr(cmd, "welcome") != NULL;
		int un = strncmp(cmd, "un", 2) == 0;
		char *a;
		while ((a = word(&p)) != NULL) {
			if (un)
				list_del(welcome ? rs->welcome : rs->block,
				    welcome ? &rs->nwelcome : &rs->nblock, a);
			else if (welcome)
				list_add(&rs->welcome, &rs->nwelcome, a);
			else
				list_add(&rs->block, &rs->nblock, a);
			free(a);
		}
	} else if (strcmp(cmd, "redirector_pattern") == 0) {
		/* a pattern whose first group is the target of a redirecting
		 * URI (compiled when a scan first needs it) */
		char *v = xstrdup(skip_ws(p));
		str_trim(v);
		if (v[0] != '\0')
			list_add(&rs->redir, &rs->nredir, v);
		free(v);
	} else if (strcmp(cmd, "util_rb_tld") == 0 || strcmp(cmd, "util_rb_2tld") == 0 ||
	    strcmp(cmd, "util_rb_3tld") == 0) {
		/* registry boundaries (header_eval.h) */
		int k = cmd[8] == 't' ? 0 : cmd[8] == '2' ? 1 : 2;
		char *a;
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			list_add(&rs->rb.v[k], &rs->rb.n[k], a);
			free(a);
		}
	} else if (strcmp(cmd, "enlist_addrlist") == 0 ||
	    strcmp(cmd, "welcomelist_bounce_relays") == 0 ||
	    strcmp(cmd, "whitelist_bounce_relays") == 0) {
		/* (NAME) glob …, or the VBounce plugin's relay host globs
		 * (kept as the list ADDRLIST_BOUNCE_RELAYS) */
		const char *e;
		struct addrlist *l;
		char *a;
		p = skip_ws(p);
		if (cmd[0] != 'e')
			l = addrlist_get(rs, ADDRLIST_BOUNCE_RELAYS, strlen(ADDRLIST_BOUNCE_RELAYS));
		else if (*p != '(' || (e = strchr(p, ')')) == NULL || e == p + 1) {
			ruleset_error(rs, file, lineno, "%s: (list name) expected", cmd);
			goto out;
		} else {
			l = addrlist_get(rs, p + 1, (size_t)(e - p - 1));
			p = e + 1;
		}
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			list_add(&l->v, &l->n, a);
			free(a);
		}
	} else if (strcmp(cmd, "welcomelist_from_rcvd") == 0 || strcmp(cmd, "whitelist_from_rcvd") == 0 ||
	    strcmp(cmd, "def_welcomelist_from_rcvd") == 0 ||
	    strcmp(cmd, "def_whitelist_from_rcvd") == 0) {
		/* glob relay: the address, and the domain of the relay's
		 * reverse name (or [ip], [ip/len], [a.b.c]) it must come
		 * through; kept as "glob relay" in the address list
		 * FROM_RCVD_LIST "welcome" or "default" */
		const char *ln = cmd[0] == 'd' ? FROM_RCVD_LIST "default" : FROM_RCVD_LIST "welcome";
		char *a = word(&p), *d = word(&p), *x = word(&p);
		if (a == NULL || d == NULL || x != NULL)
			ruleset_error(rs, file, lineno, "%s: an address and a relay expected", cmd);
		else {
			struct addrlist *l = addrlist_get(rs, ln, strlen(ln));
			char *e = xasprintf("%s %s", a, d);
			str_lower(e);
			list_add(&l->v, &l->n, e);
			free(e);
		}
		free(a);
		free(d);
		free(x);
	} else if (strcmp(cmd, "unwelcomelist_from_rcvd") == 0 ||
	    strcmp(cmd, "unwhitelist_from_rcvd") == 0) {
		/* from both lists, the address as written there */
		char *a;
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			for (size_t k = 0; k < rs->nalists; k++) {
				struct addrlist *l = &rs->alists[k];
				size_t al = strlen(a);
				if (strncmp(l->name, FROM_RCVD_LIST, strlen(FROM_RCVD_LIST)) != 0)
					continue;
				for (size_t i = 0; i < l->n; i++)
					if (strncmp(l->v[i], a, al) == 0 && l->v[i][al] == ' ') {
						free(l->v[i]);
						l->v[i--] = l->v[--l->n];
					}
			}
			free(a);
		}
	} else if (strcmp(cmd, "welcomelist_allows_relays") == 0 ||
	    strcmp(cmd, "whitelist_allows_relays") == 0) {
		struct addrlist *l = addrlist_get(rs, "welcomelist_allows_relays",
		    strlen("welcomelist_allows_relays"));
		char *a;
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			list_add(&l->v, &l->n, a);
			free(a);
		}
	} else if (strcmp(cmd, "welcomelist_to") == 0 || strcmp(cmd, "whitelist_to") == 0 ||
	    strcmp(cmd, "blocklist_to") == 0 || strcmp(cmd, "blacklist_to") == 0 ||
	    strcmp(cmd, "more_spam_to") == 0 || strcmp(cmd, "all_spam_to") == 0) {
		/* WLBLEval's recipient lists: the address lists of those
		 * names (as enlist_addrlist (blocklist_to) … gives one) */
		const char *ln = cmd[0] == 'w' ? "welcomelist_to" : cmd[0] == 'b' ?
		    "blocklist_to" : cmd;
		struct addrlist *l = addrlist_get(rs, ln, strlen(ln));
		char *a;
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			list_add(&l->v, &l->n, a);
			free(a);
		}
	} else if (strcmp(cmd, "welcomelist_subject") == 0 || strcmp(cmd, "whitelist_subject") == 0 ||
	    strcmp(cmd, "blocklist_subject") == 0 || strcmp(cmd, "blacklist_subject") == 0) {
		/* the WelcomeListSubject plugin's: the rest of the line, a
		 * glob found anywhere in the Subject */
		const char *ln = cmd[0] == 'w' ? SUBJECT_LIST "welcome" : SUBJECT_LIST "block";
		struct addrlist *l = addrlist_get(rs, ln, strlen(ln));
		char *a;
		p = skip_ws(p);
		if (*p != '\0') {
			size_t al;
			char *g;
			a = xstrdup(p);
			al = strlen(a);
			while (al > 0 && isspace((unsigned char)a[al - 1]))
				a[--al] = '\0';
			str_lower(a);
			g = xasprintf("*%s*", a);       /* found anywhere */
			list_add(&l->v, &l->n, g);
			free(g);
			free(a);
		}
	} else if (strcmp(cmd, "enlist_uri_host") == 0 || strcmp(cmd, "delist_uri_host") == 0 ||
	    strcmp(cmd, "blocklist_uri_host") == 0 || strcmp(cmd, "blacklist_uri_host") == 0 ||
	    strcmp(cmd, "welcomelist_uri_host") == 0 || strcmp(cmd, "whitelist_uri_host") == 0) {
		/* WLBLEval's URI host lists: (NAME) host …, "!host" for
		 * one that does not count; the last word for a host wins;
		 * delist_uri_host [(NAME)] host … takes hosts out (of every
		 * list without a name) */
		char lname[128];
		const char *e = NULL;
		char *a;
		int del = cmd[0] == 'd';
		p = skip_ws(p);
		if (cmd[0] == 'b' || cmd[0] == 'w')
			snprintf(lname, sizeof(lname), URI_HOST_LIST "%s", cmd[0] == 'b' ? "BLOCK" : "WELCOME");
		else if (*p == '(' && (e = strchr(p, ')')) != NULL && e > p + 1 &&
		    (size_t)(e - p) < sizeof(lname) - strlen(URI_HOST_LIST)) {
			snprintf(lname, sizeof(lname), URI_HOST_LIST "%.*s", (int)(e - p - 1), p + 1);
			p = e + 1;
		} else if (del)
			lname[0] = '\0';       /* every list */
		else {
			ruleset_error(rs, file, lineno, "%s: (list name) expected", cmd);
			goto out;
		}
		while ((a = word(&p)) != NULL) {
			const char *h = a[0] == '!' ? a + 1 : a;
			str_lower(a);
			for (size_t k = 0; k < rs->nalists; k++) {
				struct addrlist *l = &rs->alists[k];
				if (strncmp(l->name, URI_HOST_LIST, strlen(URI_HOST_LIST)) != 0 ||
				    (lname[0] != '\0' && strcmp(l->name, lname) != 0))
					continue;
				for (size_t i = 0; i < l->n; i++)
					if (strcmp(l->v[i][0] == '!' ? l->v[i] + 1 : l->v[i], h) == 0) {
						free(l->v[i]);
						l->v[i--] = l->v[--l->n];
					}
			}
			if (!del) {
				struct addrlist *l = addrlist_get(rs, lname, strlen(lname));
				list_add(&l->v, &l->n, a);
			}
			free(a);
		}
	} else if (strcmp(cmd, "freemail_domains") == 0 ||
	    strcmp(cmd, "freemail_welcomelist") == 0 || strcmp(cmd, "freemail_whitelist") == 0) {
		int dom = cmd[9] == 'd';
		char *a;
		while ((a = word(&p)) != NULL) {
			str_lower(a);
			/* (as the plugin: domains of [a-z0-9.*?-] only;
			 * welcome-listed entries with a word character on both
			 * sides of a '.' or '@') */
			if (dom && a[strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789.*?-")] == '\0')
				list_add(&rs->fm[strpbrk(a, "*?") ? FM_WILD : FM_DOM],
				    &rs->nfm[strpbrk(a, "*?") ? FM_WILD : FM_DOM], a);
			else if (!dom && fm_welcome_ok(a))
				list_add(&rs->fm[FM_WELCOME], &rs->nfm[FM_WELCOME], a);
			else
				ruleset_error(rs, file, lineno, "%s: invalid %s", cmd, a);
			free(a);
		}
	} else if (strcmp(cmd, "ok_locales") == 0) {
		char *v = xstrdup(p);
		free(rs->ok_locales);
		rs->ok_locales = xstrdup(str_trim(v));
		free(v);
	} else if (strcmp(cmd, "clear_util_rb") == 0) {
		for (int k = 0; k < 3; k++) {
			for (size_t i = 0; i < rs->rb.n[k]; i++)
				free(rs->rb.v[k][i]);
			FREE(rs->rb.v[k]);
			rs->rb.n[k] = 0;
		}
	} else if (strcmp(cmd, "include") == 0) {
		char *tmp = xstrdup(p);
		char *inc = xstrdup(str_trim(tmp));
		char *path, *errs = NULL;
		if (inc[0] == '/' || strchr(file, '/') == NULL)
			path = xstrdup(inc);
		else
			path = xasprintf("%.*s/%s", (int)(strrchr(file, '/') - file), file, inc);
		if (rs->include_depth >= INCLUDE_MAX)
			ruleset_error(rs, file, lineno, "include nested too deeply");
		else if (load_file(rs, path, &errs) < 0) {
			ruleset_error(rs, file, lineno, "%s", errs);
			free(errs);
		}
		free(path);
		free(inc);
		free(tmp);
	} else if (strcmp(cmd, "replace_tag") == 0 || strcmp(cmd, "replace_pre") == 0 ||
	    strcmp(cmd, "replace_inter") == 0 || strcmp(cmd, "replace_post") == 0) {
		int k = cmd[8] == 't' ? 0 : cmd[8] == 'p' && cmd[9] == 'r' ? 1 :
		    cmd[8] == 'i' ? 2 : 3;
		char *tag = word(&p);
		const char *v = skip_ws(p);
		if (tag != NULL && *v != '\0') {
			rs->rtag[k] = xreallocarray(rs->rtag[k], rs->nrtag[k] + 1, sizeof(char *));
			rs->rtag[k][rs->nrtag[k]++] = xasprintf("%s%c%s", tag, 0, v);
		} else
			ruleset_error(rs, file, lineno, "%s: tag and value expected", cmd);
		free(tag);
	} else if (strcmp(cmd, "replace_rules") == 0) {
		char *a;
		while ((a = word(&p)) != NULL) {
			rs->rrules = xreallocarray(rs->rrules, rs->nrrules + 1, sizeof(char *));
			rs->rrules[rs->nrrules++] = a;
		}
	} else if (strcmp(cmd, "replace_start") == 0 || strcmp(cmd, "replace_end") == 0) {
		rs->st.ignored_lines++;         /* only the default < > is supported */
	} else if (strcmp(cmd, "loadplugin") == 0) {
		char *pl = word(&p);
		if (pl != NULL) {
			rs->plugins = xreallocarray(rs->plugins, rs->nplugins + 1, sizeof(char *));
			rs->plugins[rs->nplugins++] = pl;
		}
		rs->st.ignored_lines++;
	} else {
		/* lang, report, add_header, use_bayes, bayes_*, ... */
		rs->st.ignored_lines++;
	}
out:
	free(cmd);
	free(name);
}

void
ruleset_load_text(struct ruleset *rs, const char *file, const char *text)
{
	int cond[COND_MAX];     /* 1 active, 0 inactive */
	int ncond = 0, lineno = 0;
	const char *p = text;
	struct buf line;

	rs->srcs = xreallocarray(rs->srcs, rs->nsrcs + 1, sizeof(*rs->srcs));
	rs->srcs[rs->nsrcs].name = xstrdup(file);
	rs->srcs[rs->nsrcs].hash = cache_hash(text, strlen(text), 0);
	rs->srcs[rs->nsrcs].top = rs->loading_builtin ? 2 : rs->include_depth <= 1;
	memset(rs->srcs[rs->nsrcs].st, 0, sizeof(rs->srcs[rs->nsrcs].st));
	rs->nsrcs++;
	buf_init(&line, LINE_MAX_LEN);
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *s, *q, *cmd;
		const char *rest;
		int active;

		lineno++;
		buf_reset(&line);
		if (buf_append(&line, p, n) < 0) {
			ruleset_error(rs, file, lineno, "line too long");
			p = e ? e + 1 : p + n;
			continue;
		}
		p = e ? e + 1 : p + n;
		s = line.data;
		/* comments: '#' not preceded by '\'; then \# -> # */
		for (q = s; *q; q++)
			if (*q == '#' && (q == s || q[-1] != '\\')) {
				*q = '\0';
				break;
			}
		for (q = s; (q = strstr(q, "\\#")) != NULL; )
			memmove(q, q + 1, strlen(q));
		s = str_trim(s);
		if (*s == '\0')
			continue;
		active = 1;
		for (int i = 0; i < ncond; i++)
			if (!cond[i])
				active = 0;
		rest = s;
		cmd = word(&rest);
		rest = skip_ws(rest);
		if (strcmp(cmd, "ifplugin") == 0 || strcmp(cmd, "if") == 0) {
			int v = strcmp(cmd, "ifplugin") == 0 ? plugin_known(rs, rest) : if_true(rs, rest);
			if (ncond < COND_MAX)
				cond[ncond++] = v;
			else
				ruleset_error(rs, file, lineno, "if blocks nested too deeply");
		} else if (strcmp(cmd, "else") == 0) {
			if (ncond > 0)
				cond[ncond - 1] = !cond[ncond - 1];
		} else if (strcmp(cmd, "endif") == 0) {
			if (ncond > 0)
				ncond--;
			else
				ruleset_error(rs, file, lineno, "endif without if");
		} else if (!active) {
			rs->st.skipped_blocks++;
		} else {
			do_line(rs, file, lineno, s);
		}
		free(cmd);
	}
	if (ncond > 0)
		ruleset_error(rs, file, lineno, "missing endif");
	buf_free(&line);
}

static int
load_file(struct ruleset *rs, const char *path, char **error_r)
{
	FILE *fp = fopen(path, "r");
	struct buf b;
	char chunk[8192];
	size_t n, at = rs->nsrcs;
	struct stat sb;
	uint64_t st[5] = { 0 };

	if (fp == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	/* before the read: a change after it makes the cache's record
	 * differ from the file, and the text is hashed again */
	if (fstat(fileno(fp), &sb) == 0)
		source_stat(st, &sb);
	buf_init(&b, 64 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (buf_append(&b, chunk, n) < 0)
			break;
	fclose(fp);
	rs->include_depth++;
	ruleset_load_text(rs, path, buf_cstr(&b));
	rs->include_depth--;
	if (at < rs->nsrcs)
		memcpy(rs->srcs[at].st, st, sizeof(st));
	buf_free(&b);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ruleset_list_files(const char *path, char ***names_r, size_t *n_r, char **error_r)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	*names_r = NULL;
	*n_r = 0;
	if (stat(path, &sb) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*names_r = xcalloc(1, sizeof(char *));
		(*names_r)[0] = xstrdup(path);
		*n_r = 1;
		return 0;
	}
	if ((d = opendir(path)) == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		/* *.pre (loadplugin lines) before *.cf, as SpamAssassin */
		if (l > 3 && (strcmp(de->d_name + l - 3, ".cf") == 0 ||
		    (l > 4 && strcmp(de->d_name + l - 4, ".pre") == 0))) {
			names = xreallocarray(names, n + 1, sizeof(char *));
			names[n++] = xasprintf("%s/%s%s", path,
			    strcmp(de->d_name + l - 4, ".pre") == 0 ? "\001" : "", de->d_name);
		}
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *mark = strchr(names[i], '\001');
		if (mark != NULL)       /* the sort key of *.pre files */
			memmove(mark, mark + 1, strlen(mark));
	}
	*names_r = names;
	*n_r = n;
	return 0;
}

int
ruleset_load_path(struct ruleset *rs, const char *path, char **error_r)
{
	char **names;
	size_t n;

	if (ruleset_list_files(path, &names, &n, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		if (load_file(rs, names[i], &err) < 0) {
			ruleset_error(rs, names[i], 0, "%s", err);
			free(err);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

/* 1 if rule i cannot run: skipped eval, bad, or (for a meta) any
 * operand that is undefined or cannot run.  A network test (tflags net)
 * never runs, implemented or not, and counts as not hit, as in
 * SpamAssassin without network tests: a meta over one runs.  Memoised
 * in dep_skipped (0 unknown, 1 no, 2 yes, 3 visiting). */
static int
cannot_run(struct ruleset *rs, struct rule *r)
{
	int res = 0;

	if (r->dep_skipped)
		return r->dep_skipped == 2;
	if (r->type != RULE_META && r->type != RULE_NONE &&
	    ((r->tflags & TF_NET) || r->eval_unknown == 2))
		return 0;
	if (r->type == RULE_NONE || r->eval_unknown || r->bad)
		return 1;
	if (r->type != RULE_META)
		return 0;
	r->dep_skipped = 3;
	for (size_t k = 0; k < r->meta.n && !res; k++)
		if (r->meta.v[k].op == MOP_RULE)
			res = r->meta.v[k].idx < 0 ||
			    rs->v[r->meta.v[k].idx].dep_skipped == 3 ||
			    cannot_run(rs, &rs->v[r->meta.v[k].idx]);
	r->dep_skipped = res ? 2 : 1;
	return res;
}

/* Mark the operands a runnable rule needs (for skipping unused __ rules). */
static void
mark_needed(struct ruleset *rs, struct rule *r, int depth)
{
	if (r->unneeded == 0 || depth > 64)
		return;
	r->unneeded = 0;
	if (r->type != RULE_META)
		return;
	for (size_t k = 0; k < r->meta.n; k++)
		if (r->meta.v[k].op == MOP_RULE && r->meta.v[k].idx >= 0)
			mark_needed(rs, &rs->v[r->meta.v[k].idx], depth + 1);
}

static const char *
rtag_get(const struct ruleset *rs, int k, const char *name, size_t nl)
{
	for (size_t i = rs->nrtag[k]; i > 0; i--) {
		const char *t = rs->rtag[k][i - 1];
		if (strlen(t) == nl && strncmp(t, name, nl) == 0)
			return t + nl + 1;
	}
	return NULL;
}

/* Expand <TAG> references (tags may use tags, up to `depth`). */
static void
expand_tags(const struct ruleset *rs, const char *s, struct buf *out,
    const char *pre, const char *inter, const char *post, int depth)
{
	int prev_tag = 0;

	while (*s) {
		const char *v;
		size_t nl = 0;
		if (out->len + 1 >= out->max)
			return;         /* full: stop expanding (self-referring tags) */
		if (*s == '<') {
			while (s[1 + nl] && (isalnum((unsigned char)s[1 + nl]) || s[1 + nl] == '_'))
				nl++;
			if (nl > 0 && s[1 + nl] == '>' && depth > 0 &&
			    (v = rtag_get(rs, 0, s + 1, nl)) != NULL) {
				if (prev_tag && inter)
					(void)buf_appends(out, inter);
				if (pre)
					(void)buf_appends(out, pre);
				(void)buf_appends(out, "(?:");
				expand_tags(rs, v, out, NULL, NULL, NULL, depth - 1);
				(void)buf_appendc(out, ')');
				if (post)
					(void)buf_appends(out, post);
				s += nl + 2;
				prev_tag = 1;
				continue;
			}
		}
		(void)buf_appendc(out, *s++);
		prev_tag = 0;
	}
}

/* Rewrite one replace_rules rule: <pre X> <inter X> <post X> markers,
 * then every <TAG>. */
static void
replace_rule(struct ruleset *rs, struct rule *r)
{
	const char *sel[4] = { NULL, NULL, NULL, NULL };
	static const char *const kw[4] = { "", "pre ", "inter ", "post " };
	struct buf clean, out;
	const char *p = r->src;
	pcre2_code *re;
	pcre2_code_32 *re32;
	int err;
	PCRE2_SIZE off;

	buf_init(&clean, LINE_MAX_LEN);
	while (*p) {
		int k, hit = 0;
		for (k = 1; k < 4 && *p == '<'; k++) {
			size_t kl = strlen(kw[k]), nl = 0;
			if (strncmp(p + 1, kw[k], kl) != 0)
				continue;
			while (p[1 + kl + nl] && p[1 + kl + nl] != '>')
				nl++;
			if (p[1 + kl + nl] != '>')
				break;
			sel[k] = rtag_get(rs, k, p + 1 + kl, nl);
			p += kl + nl + 2;
			hit = 1;
			break;
		}
		if (!hit)
			(void)buf_appendc(&clean, *p++);
	}
	buf_init(&out, 4 * LINE_MAX_LEN);
	expand_tags(rs, buf_cstr(&clean), &out, sel[1], sel[2], sel[3], 4);
	buf_free(&clean);
	re = rule_compile(buf_cstr(&out), out.len, r->opts, &err, &off, &re32);
	free(r->pat);
	r->pat = xstrdup(buf_cstr(&out));
	buf_free(&out);
	if (re == NULL && re32 == NULL) {
		char eb[256];
		pcre2_get_error_message(err, (PCRE2_UCHAR *)eb, sizeof(eb));
		ruleset_error(rs, "replace_rules", 0, "%s: %s", r->name, eb);
		r->bad = 1;
		return;
	}
	if (r->re != NULL)
		pcre2_code_free(r->re);
	if (r->re32 != NULL)
		pcre2_code_free_32(r->re32);
	r->re = re;
	r->re32 = re32;
	r->bad = 0;
}

int
rule_next_template(const char *pat, size_t *pos, size_t *name, size_t *len)
{
	for (size_t i = *pos; pat[i] != '\0'; i++) {
		size_t k;
		if (pat[i] != '%' || pat[i + 1] != '{' || (i > 0 && pat[i - 1] == '\\'))
			continue;
		k = i + 2;
		if (!(pat[k] >= 'A' && pat[k] <= 'Z'))
			continue;
		while ((pat[k] >= 'A' && pat[k] <= 'Z') || (pat[k] >= '0' && pat[k] <= '9') ||
		    pat[k] == '_')
			k++;
		if (pat[k] == '(') {    /* a tag with arguments */
			while (pat[k] != '\0' && pat[k] != ')' && pat[k] != '}')
				k++;
			if (pat[k] == ')')
				k++;
		}
		if (pat[k] != '}')
			continue;
		*name = i + 2;
		*len = k - (i + 2);
		*pos = k + 1;
		return 1;
	}
	return 0;
}

void
rule_mark_captures(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		const char *p = r->pat != NULL ? r->pat : r->src;
		size_t pos = 0, nm, len;

		r->capture = r->tpl = 0;
		/* (a pattern too large for the 8-bit library is neither: its
		 * groups only group, a %{TAG} in it is text) */
		if (p == NULL || r->type == RULE_META || r->type == RULE_NONE ||
		    r->re32 != NULL)
			continue;
		r->tpl = rule_next_template(p, &pos, &nm, &len);
		/* a named group: (?<N, (?P<N or (?'N with N upper case */
		for (const char *q = p; (q = strstr(q, "(?")) != NULL; q += 2) {
			const char *g = q[2] == 'P' ? q + 3 : q + 2;
			if ((*g == '<' || *g == '\'') && g[1] >= 'A' && g[1] <= 'Z' &&
			    (q == p || q[-1] != '\\')) {
				r->capture = 1;
				break;
			}
		}
	}
}

void
ruleset_finish(struct ruleset *rs)
{
	unsigned bad, ign, skip;

	for (size_t i = 0; i < rs->nrrules; i++) {
		struct rule *r = ruleset_get(rs, rs->rrules[i], 0);
		if (r != NULL && r->src != NULL && r->type != RULE_META && r->type != RULE_NONE)
			replace_rule(rs, r);
	}
	for (size_t i = 0; i < rs->n; i++)
		if (rs->v[i].bad == 2) {        /* had <tags> but was not rewritten */
			ruleset_error(rs, "rules", 0, "%s: does not compile", rs->v[i].name);
			rs->v[i].bad = 1;
		}
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		r->dep_skipped = 0;
		if (r->type != RULE_META)
			continue;
		for (size_t k = 0; k < r->meta.n; k++)
			if (r->meta.v[k].op == MOP_RULE) {
				struct rule *d = ruleset_get(rs, r->meta.v[k].name, 0);
				r->meta.v[k].idx = d ? (int)(d - rs->v) : -1;
			}
	}
	rule_mark_captures(rs);
	/* __ rules only matter through metas: skip the ones no runnable
	 * scored rule needs (SpamAssassin does the same) */
	for (size_t i = 0; i < rs->n; i++)
		rs->v[i].unneeded = 1;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		if (strncmp(r->name, "__", 2) == 0 || r->type == RULE_NONE)
			continue;
		if ((r->type == RULE_META && cannot_run(rs, r)) || rule_is_skipped(r))
			continue;
		mark_needed(rs, r, 0);
	}
	/* the capture rules set the tags any template rule that runs reads */
	for (size_t i = 0; i < rs->n; i++)
		if (rs->v[i].tpl && !rs->v[i].unneeded) {
			for (size_t k = 0; k < rs->n; k++)
				if (rs->v[k].capture && !rule_is_skipped(&rs->v[k]))
					mark_needed(rs, &rs->v[k], 0);
			break;
		}
	bad = rs->st.bad_lines;
	ign = rs->st.ignored_lines;
	skip = rs->st.skipped_blocks;
	memset(&rs->st, 0, sizeof(rs->st));
	rs->st.bad_lines = bad;
	rs->st.ignored_lines = ign;
	rs->st.skipped_blocks = skip;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];

		if (r->type == RULE_NONE)
			continue;
		rs->st.rules++;
		if (r->eval_unknown) {
			rs->st.eval_skipped++;
			continue;
		}
		if (r->type == RULE_META && cannot_run(rs, r)) {
			rs->st.meta_skipped++;
			continue;
		}
		if (r->bad)
			continue;
		if (r->eval >= 0 || r->type == RULE_MIMEHEADER)
			rs->st.eval_supported++;
		rs->st.active++;
	}
	prefilter_build(rs);
	ruleset_finish_loaded(rs);
}

/* Number the distinct (modifier, header) texts of the header rules, so
 * a scan computes each once and finds it by index. */
static void
assign_hkeys(struct ruleset *rs)
{
	size_t cap = 64;
	int *tab;

	while (cap < rs->n * 2)
		cap *= 2;
	tab = xcalloc(cap, sizeof(int));        /* rule index + 1 of the first */
	rs->nhkeys = 0;
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		size_t h;
		r->hkey = -1;
		if (r->type != RULE_HEADER || r->hdr == NULL)
			continue;
		h = (hash_name(r->hdr) * 31 + (size_t)r->hmod) & (cap - 1);
		while (tab[h] != 0) {
			struct rule *o = &rs->v[tab[h] - 1];
			if (o->hmod == r->hmod && strcmp(o->hdr, r->hdr) == 0)
				break;
			h = (h + 1) & (cap - 1);
		}
		if (tab[h] != 0) {
			r->hkey = rs->v[tab[h] - 1].hkey;
		} else {
			tab[h] = (int)i + 1;
			r->hkey = (int)rs->nhkeys++;
		}
	}
	free(tab);
}

void
ruleset_finish_loaded(struct ruleset *rs)
{
	assign_hkeys(rs);
	rule_mark_captures(rs);
	rb_sort(&rs->rb);
	{
		struct rb_lists fm = { { rs->fm[FM_DOM] }, { rs->nfm[FM_DOM] } };
		rb_sort(&fm);   /* (sorts the first list, the domains) */
	}
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];
		if (r->type == RULE_NONE || r->eval_unknown || r->bad ||
		    (r->type == RULE_META && r->dep_skipped == 2))
			continue;
		if (rs->no_jit || rule_jit_disabled())
			continue;
		if (r->re != NULL && !r->jit &&
		    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE) == 0)
			r->jit = 1;
		if (r->re32 != NULL && !r->jit &&
		    pcre2_jit_compile_32(r->re32, PCRE2_JIT_COMPLETE) == 0)
			r->jit = 1;
	}
	/* the run list: what a scan loops over (skipped rules and unneeded
	 * sub-rules never hit; a meta reading one gets 0) */
	free(rs->run);
	rs->run = xcalloc(rs->n ? rs->n : 1, sizeof(*rs->run));
	rs->nrun = 0;
	for (int metas = 0; metas < 2; metas++)
		for (size_t i = 0; i < rs->n; i++) {
			struct rule *r = &rs->v[i];
			if ((r->type == RULE_META) != metas || r->type == RULE_NONE ||
			    rule_is_skipped(r) || r->unneeded)
				continue;
			rs->run[rs->nrun++] = (unsigned)i;
		}
	/* the others stay done with no hits (a scan resets the run list) */
	for (size_t i = 0; i < rs->n; i++) {
		rs->v[i].state = 2;
		rs->v[i].hits = 0;
	}
	if (rs->md == NULL)
		rs->md = pcre2_match_data_create(1, NULL);
	if (rs->mctx == NULL)
		rs->mctx = rule_match_context();
	rs->finished = 1;
}

int
ruleset_sa_text(const struct ruleset *rs)
{
	return rs->rb.n[0] > 0;
}

void
ruleset_stats(const struct ruleset *rs, struct ruleset_stats *st)
{
	*st = rs->st;
	st->required_score = rs->required;
}

void
ruleset_load_builtin(struct ruleset *rs)
{
	rs->loading_builtin = 1;
	for (unsigned i = 0; i < spam_builtin_nrules; i++)
		ruleset_load_text(rs, spam_builtin_rules[i].name, spam_builtin_rules[i].text);
	rs->loading_builtin = 0;
}

pcre2_match_context *
rule_match_context(void)
{
	pcre2_match_context *m = pcre2_match_context_create(NULL);

	pcre2_set_match_limit(m, RULE_MATCH_LIMIT);
	pcre2_set_depth_limit(m, RULE_DEPTH_LIMIT);
	pcre2_set_heap_limit(m, RULE_HEAP_LIMIT);
	return m;
}

