/*
 * rules-private.h - the compiled form of a rule set, shared by the
 * parser (rule_parse.c), meta expressions (rule_meta.c) and the engine
 * (rule_eval.c).
 */
#ifndef TEMPEST_RULES_PRIVATE_H
#define TEMPEST_RULES_PRIVATE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "header_eval.h"
#include "rules.h"
#include "spam_jit.h"

enum rule_type {
	RULE_NONE,              /* only score/describe seen so far */
	RULE_HEADER, RULE_BODY, RULE_RAWBODY, RULE_URI, RULE_FULL, RULE_META,
	RULE_MIMEHEADER,        /* SpamAssassin's MIMEHeader plugin: a header
				 * of each MIME part (hdr, hmod HM_RAW or
				 * HM_NONE, if_unset) */
};

enum hdr_mod { HM_NONE, HM_RAW, HM_ADDR, HM_NAME, HM_NAME_RAW };

#define TF_NICE         0x01
#define TF_NET          0x02
#define TF_MULTIPLE     0x04
#define TF_LEARN        0x08
#define TF_USERCONF     0x10
#define TF_NOAUTOLEARN  0x20
#define TF_NOSUBJECT    0x40    /* a body rule without the Subject line */

/* Meta expressions in reverse Polish notation. */
enum meta_op {
	MOP_NUM, MOP_RULE, MOP_NOT, MOP_NEG, MOP_MUL, MOP_DIV, MOP_ADD,
	MOP_SUB, MOP_LT, MOP_GT, MOP_LE, MOP_GE, MOP_EQ, MOP_NE, MOP_AND,
	MOP_OR,
};

struct meta_tok {
	enum meta_op op;
	double num;
	char *name;             /* MOP_RULE, resolved to idx by finish */
	int idx;                /* rule index, -1 = undefined (value 0) */
};

struct meta_expr {
	struct meta_tok *v;
	size_t n;
};

struct rule {
	char *name;
	enum rule_type type;
	/* header */
	char *hdr;
	enum hdr_mod hmod;
	int exists;
	char *if_unset;
	/* pattern */
	int negate;
	pcre2_code *re;
	pcre2_code_32 *re32;    /* instead of re when too large for it
				 * (rule_wide.c) */
	int jit;
	int jit_tried;          /* rule_eval.c's late_jit() tried it */
	char *src;              /* pattern text (for ReplaceTags) */
	char *pat;              /* pattern after ReplaceTags (NULL = src) */
	int pf;                 /* in a Vectorscan prefilter database; 2 =
				 * a body/rawbody literal one, which also
				 * tells the lines its literals occur on */
	int hkey;               /* header rules: index of its (modifier,
				 * header) text per message, -1 none */
	uint32_t opts;
	/* eval */
	int eval;               /* index in the eval table, -1 none */
	char **eval_args;
	int neval_args;
	int eval_unknown;       /* eval: Tempest does not implement: 1, or
	                         * 2 for a network test (counts as not hit) */
	/* meta */
	struct meta_expr meta;
	/* scoring */
	double score[4];
	int nscores;            /* 0 = default, 1 or 4 */
	char *describe;
	unsigned tflags;
	unsigned maxhits;
	int bad;                /* definition failed */
	int dep_skipped;        /* meta on an undefined or skipped rule */
	int unneeded;           /* a __ rule no runnable meta uses */
	/* SpamAssassin's capture rules (its feature_capture_rules): a
	 * pattern with named groups "(?<NAME>…)" sets tags from what they
	 * matched; one with "%{NAME}" templates runs with each replaced by
	 * the tag's values (quoted, as alternatives), and not at all while
	 * a tag it names has none.  Derived from the pattern by
	 * rule_mark_captures(). */
	int capture;
	int tpl;
	/* scan state */
	unsigned hits;
	int state;              /* 0 todo, 1 running (meta), 2 done */
};

/* Vectorscan prefilter (rule_prefilter.c): one literal database per
 * text kind. */
enum { PF_BODY, PF_RAWBODY, PF_URI, PF_HEADER, PF_N };
struct pf_db {
	int kind;               /* PF_* */
	void *db;               /* hs_database_t */
	unsigned *rule;         /* pattern id -> rule index */
	unsigned char *grp;     /* pattern id -> literal group (rule_literals) */
	unsigned n;
};

/* A rule text that was loaded (for the compiled-rule cache). */
struct rule_source {
	char *name;             /* path, or builtin file name */
	uint64_t hash;          /* cache_hash of the text */
	int top;                /* 1 top level (a spec or a file of a spec dir),
				 * 0 an include, 2 built in */
	/* the file as fstat() saw it before it was read: device, inode,
	 * size, mtime and ctime (ns); all 0 = unknown, or changed too
	 * recently to vouch for the text (source_stat()) */
	uint64_t st[5];
};
struct stat;
/* rule_cache.c: st[] of a source from its struct stat, or zeros when
 * its last change is under 2 s old (a change within the same clock
 * tick would leave it as it was; so would one in the file system's
 * timestamp granularity). */
void source_stat(uint64_t st[5], const struct stat *sb);

struct ruleset {
	struct rule *v;
	size_t n, cap;
	int *hash;              /* open addressing: name -> index+1 */
	size_t hcap;
	double required;
	char **welcome, **block;
	size_t nwelcome, nblock;
	struct rb_lists rb;     /* util_rb_tld/2tld/3tld (header_eval.h) */
	/* redirector_pattern lines (the pattern as written), in order, and
	 * their compiled forms once a scan needs them (NULL: does not
	 * compile) */
	char **redir;
	size_t nredir;
	pcre2_code **redir_re;
	/* named address lists: enlist_addrlist (NAME) glob … (globs lower
	 * case, * and ? only; SpamAssassin 4.0 has no way to take one out) */
	struct addrlist {
		char *name;
		char **v;
		size_t n;
	} *alists;
	size_t nalists;
/* welcomelist_bounce_relays' globs: a name enlist_addrlist cannot give
 * (its names end at the first ')') */
#define ADDRLIST_BOUNCE_RELAYS "(bounce relays)"
/* WLBLEval's URI host lists (enlist_uri_host (NAME) …) are address lists
 * named this and NAME: a name enlist_addrlist cannot give */
#define URI_HOST_LIST "(uri host) "
/* and the WelcomeListSubject plugin's welcomelist_subject and
 * blocklist_subject patterns these and "welcome", "block" */
#define SUBJECT_LIST "(subject) "
/* and welcomelist_from_rcvd's (def_…'s) "glob relay" entries these and
 * "welcome" ("default") */
#define FROM_RCVD_LIST "(from rcvd) "
	/* the FreeMail plugin's lists, lower case: freemail_domains without
	 * and with wildcards (FM_DOM sorted for bsearch), and
	 * freemail_welcomelist addresses or domains */
	char **fm[3];
	size_t nfm[3];
	char *ok_locales;       /* SpamAssassin's ok_locales, NULL = all */
	/* the FreeMail plugin's body patterns (an address ending in a
	 * util_rb_tld TLD; links and labelled addresses to blank out),
	 * compiled on first use (rule_eval.c) */
	pcre2_code *fm_re[3];
	struct ruleset_stats st;
	char *errors[11];
	unsigned nerrors;
	const struct netlist *trusted;  /* for X-Spam-Relays-*, or NULL */
	char **plugins;         /* loadplugin'ed names */
	size_t nplugins;
	pcre2_match_data *md;
	pcre2_match_context *mctx;      /* the RULE_*_LIMIT limits */
	struct wide_scratch *wide;      /* rule_wide.c */
	int finished;
	int no_jit;
	int include_depth;
	/* ReplaceTags: "tag\0value" pairs per kind, and the rules to rewrite */
	char **rtag[4];         /* 0 tag, 1 pre, 2 inter, 3 post */
	size_t nrtag[4];
	char **rrules;
	size_t nrrules;
	struct rule_source *srcs;
	size_t nsrcs;
	int loading_builtin;
	/* prefilter */
	int use_hs;
	struct pf_db *pf;       /* at most one per kind (PF_N) */
	size_t npf;
	void *scratch;          /* hs_scratch_t */
	unsigned char *cand;    /* per rule: Vectorscan saw a possible match */
	unsigned char *need;    /* per rule: literal groups that must be seen */
	unsigned char *seen;    /* per rule: literal groups seen (this scan) */
	/* pf == 2 rules: the lines (paragraphs, rawbody lines: the pieces
	 * rule_eval.c splits at '\n') where one of their literals ends, in
	 * order, as a list per rule in a pool; lines_over = the pool
	 * overflowed, every line is a candidate */
	unsigned *lhead;        /* per rule: first node + 1, 0 = none */
	unsigned *ltail;        /* per rule: last node */
	struct pf_line { unsigned line, next; } *lnode;  /* next: node + 1 */
	size_t nlnode, caplnode;
	int lines_over;
	unsigned nhkeys;        /* distinct header texts the rules look at */
	unsigned *run;          /* the rules a scan runs, plain tests first,
				 * then metas (the others never hit) */
	size_t nrun;
	/* a cache read's patterns, 8-bit and 32-bit, each set decoded into
	 * one block (rule_cache.c); freed after the rules */
	struct code_arena { unsigned char *p; size_t len, used; } arena[2];
	/* and its string table, which the strings of its rules, lists and
	 * sources point into (ruleset_str_free() knows them): in the cache
	 * file's mapping, kept while the rule set lives (map), or a copy */
	char *strs;
	size_t nstrs;
	void *map;
	size_t maplen;
	/* and the tokens of its meta expressions, all in one block */
	struct meta_tok *metas;
	size_t nmetas;
};

/* 1 when p points into the len bytes at base (a block of a cache read,
 * which its pieces' owners must not free one by one). */
static inline int
in_block(const void *p, const void *base, size_t len)
{
	return (uintptr_t)p - (uintptr_t)base < len;
}

/* rule_parse.c */
struct rule *ruleset_get(struct ruleset *rs, const char *name, int create);
/* A new rule named name (the string is taken over, not copied: freed
 * with ruleset_str_free() when the name is taken or the set is full,
 * and NULL returned). */
struct rule *ruleset_add(struct ruleset *rs, char *name);
/* Free one of the rule set's strings (not one of a cache's table). */
void ruleset_str_free(const struct ruleset *rs, char *s);
/* Room for n rules in all, so that adding up to that many (a cache
 * read) neither moves the array nor rehashes. */
void ruleset_reserve(struct ruleset *rs, size_t n);
/* Set capture and tpl of every rule from its pattern. */
void rule_mark_captures(struct ruleset *rs);
/* The next "%{NAME}" template in pat from *pos: 1 with the name's
 * offset and length (the template spans name - 2 .. name + len + 1) and
 * *pos past it; 0 when there is none. */
int rule_next_template(const char *pat, size_t *pos, size_t *name, size_t *len);
void ruleset_error(struct ruleset *rs, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* rule_meta.c: parse an expression; identifiers resolved by `ident`
 * (NULL = rule names kept for later).  0 or -1 with *error_r. */
int meta_parse(const char *s, struct meta_expr *e, const char **error_r);
void meta_free(struct meta_expr *e);
double meta_eval(const struct meta_expr *e, double (*val)(void *, int, const char *),
    void *arg);

/* rule_prefilter.c (no-ops without libhs) */
void prefilter_build(struct ruleset *rs);
/* After the databases are built or loaded: scratch, per-rule state.
 * 0, or -1 (the prefilter is then freed). */
int prefilter_finish(struct ruleset *rs);
void prefilter_free(struct ruleset *rs);
int prefilter_active(const struct ruleset *rs, int kind);
void prefilter_reset(struct ruleset *rs);
/* Scan one kind of text.  Header texts pass their pieces (starts[i],
 * the header key keys[i]): a header rule's literal only counts in the
 * text of its own key.  The body passes its lines' starts (keys NULL: a
 * literal counts for the line it ends on).  Others pass NULL, NULL, 0
 * (their lines end at each '\n'). */
void prefilter_scan(struct ruleset *rs, int kind, const char *s, size_t n,
    const size_t *starts, const int *keys, size_t npieces);
unsigned prefilter_count(const struct ruleset *rs);
#ifdef HAVE_HS
#include <hs/hs.h>
/* Vectorscan's functions.  libhs (and the C++ runtime it needs) is
 * loaded with dlopen() by the first prefilter_scanner() call, so the
 * commands that never prefilter (one-message spamc, sendmail, ...) do
 * not pay for linking it at every start; until then, and for good when
 * it cannot be loaded (prefilter_scanner() is NULL: no prefilter), the
 * pointers are NULL. */
struct pf_hs_api {
	__typeof__(hs_compile_lit_multi) *compile_lit_multi;
	__typeof__(hs_free_compile_error) *free_compile_error;
	__typeof__(hs_alloc_scratch) *alloc_scratch;
	__typeof__(hs_free_scratch) *free_scratch;
	__typeof__(hs_free_database) *free_database;
	__typeof__(hs_populate_platform) *populate_platform;
	__typeof__(hs_scan) *scan;
	__typeof__(hs_serialize_database) *serialize_database;
	__typeof__(hs_deserialize_database) *deserialize_database;
};
extern struct pf_hs_api pf_hs;
#endif

/* rule_literal.c: literal groups such that every match of the pattern
 * contains, for each group, one of its literals (each at least minlen
 * bytes; groups numbered 0 .. at most PF_LIT_GROUPS-1).  1 with a
 * malloc'ed set, or 0 (no usable set: the rule cannot be literal-
 * prefiltered). */
#define PF_LIT_GROUPS 4
struct pf_lit {
	char *s;
	size_t len;
	int caseless;
	unsigned grp;
};
int rule_literals(const char *pat, uint32_t opts, size_t minlen, struct pf_lit **v_r,
    size_t *n_r);
void rule_literals_free(struct pf_lit *v, size_t n);

/* rule_eval.c */
int eval_lookup(const char *name);
/* 1 when eval idx implements a test with these arguments (an eval that
 * takes the name of a measure knows only some). */
int eval_args_known(int idx, char *const *args, int nargs);
const char *eval_name(int idx);         /* NULL if out of range */

/* rule_parse.c: the files a spec names at top level (a file, or the
 * *.pre then *.cf files of a directory in load order); malloc'ed. */
int ruleset_list_files(const char *path, char ***names_r, size_t *n_r, char **error_r);
/* Finish a rule set whose rules came from the cache: JIT, match data. */
void ruleset_finish_loaded(struct ruleset *rs);

/* rule_cache.c; the format version also seeds the payload checksum.
 * Bump it whenever what the stored databases mean changes, not only
 * the layout (2: literal databases; 3: header literal databases report
 * every occurrence; 4: literal databases only, uri ones too report
 * every occurrence; 5: "[" inside a class taken as PCRE2 takes it, so a
 * cache may hold other literals for such a pattern; 6: `if can(...)`
 * true for features Tempest has, so the same sources give other rules,
 * and the :name:raw modifier; ...; 17: tflags nosubject, and the
 * VBounce plugin known, so 20_vbounce.cf's rules are read; 20:
 * check_stock_info, the HTTPS mismatch tests and image_name_regex known,
 * which a cache of an older build holds as unknown evals; 21:
 * redirector_pattern kept; 23: the strings in one table after the
 * header, referred to by offset + 1) */
#define RULE_CACHE_VERSION 23
enum { FM_DOM, FM_WILD, FM_WELCOME };
uint64_t cache_hash(const void *p, size_t n, uint64_t seed);
/* Unmap rs->arena, rs->strs, rs->map and rs->metas (after every
 * pattern in the first and every pointer into the others is gone). */
void ruleset_cache_free(struct ruleset *rs);
/* rs->redir_re from rs->redir, once (rule_parse.c). */
void redirectors_compile(struct ruleset *rs);

/* rule_wide.c: PCRE2's 32-bit library for a pattern too large for its
 * 8-bit one.  rule_compile() tries the 8-bit library, then, when the
 * pattern is only too large there, the 32-bit one (*wide_r). */
pcre2_code *rule_compile(const char *pat, size_t len, uint32_t opts, int *err,
    PCRE2_SIZE *off, pcre2_code_32 **wide_r);
/*
 * What one PCRE2 match of a rule may cost (rs->mctx and its 32-bit twin,
 * on the JIT and the interpreter path alike): a match that reaches a
 * limit fails (no match).  The heap limit (KiB) bounds the interpreter's
 * backtracking frames, which a pattern with many groups makes large (the
 * JIT ignores it).  Per message, RULE_MATCH_BUDGET matches may reach a
 * limit (one interpreted costs some 3-4 ms here, one JIT-compiled
 * 0.5 ms); after that the remaining regex rules of the message are not
 * run (spam_result.re_skipped says how many).
 */
#define RULE_MATCH_LIMIT 200000
#define RULE_DEPTH_LIMIT 5000
#define RULE_HEAP_LIMIT 65536
#define RULE_MATCH_BUDGET 50
/* rs->mctx with the limits above. */
pcre2_match_context *rule_match_context(void);

pcre2_code_32 *wide_compile(const char *pat, size_t len, uint32_t opts, int *err,
    PCRE2_SIZE *off);
/* One match of r->re32 in s from off: pcre2_match's rc, the match's
 * start and end in ov. */
int wide_match(struct ruleset *rs, const struct rule *r, const char *s, size_t n,
    size_t off, PCRE2_SIZE ov[2]);
void wide_free(struct ruleset *rs);

#endif
