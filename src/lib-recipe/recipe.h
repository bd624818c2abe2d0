/*
 * recipe.h - the procmail recipe language: rcfile parser (pure, bounded),
 * regular-expression dialect translation, and the evaluator that delivers
 * one message.
 *
 * Untrusted bytes: the rcfile is written by the recipient (not trusted by
 * the mail system: parse errors and resource limits must never lose the
 * message), the message itself comes from the network.
 */
#ifndef TEMPEST_RECIPE_H
#define TEMPEST_RECIPE_H

#include <stddef.h>

/* ---- AST ---------------------------------------------------------- */

/* recipe flags, in procmail's letters */
enum rc_flag {
	RCF_H, RCF_B, RCF_D, RCF_A, RCF_a, RCF_E, RCF_e, RCF_h, RCF_b,
	RCF_f, RCF_c, RCF_w, RCF_W, RCF_i, RCF_r, RCF_COUNT
};
#define RC_FLAG_LETTERS "HBDAaEehbfcwWir"

enum rc_action { RCA_FOLDER, RCA_PIPE, RCA_FORWARD, RCA_BLOCK, RCA_NONE };

struct rc_item;

struct rc_cond {
	int line;
	char *text;             /* after the '*', continuation lines joined */
};

struct rc_recipe {
	char flags[RCF_COUNT];  /* 1 = given */
	int nrcond;             /* old-style ":N" count, -1 if absent */
	int has_lock;           /* a second ':' was given */
	char *lockfile;         /* raw lockfile name or NULL (implicit) */
	struct rc_cond *conds;
	size_t nconds;
	enum rc_action action;
	int action_line;
	char *action_text;      /* folder names / command / addresses (raw) */
	char *capture_var;      /* VAR=| cmd: variable that gets the output */
	struct rc_item *block;  /* RCA_BLOCK: nested items */
	size_t nblock;
};

enum rc_item_kind { RCI_ASSIGN, RCI_RECIPE };

struct rc_item {
	enum rc_item_kind kind;
	int line;
	char *name;             /* RCI_ASSIGN */
	char *value;            /* raw value text, NULL: unset the variable */
	struct rc_recipe *recipe;
};

struct rc_file {
	char *path;
	struct rc_item *items;
	size_t nitems;
	char **warnings;        /* "line N: ..." for skipped garbage */
	size_t nwarnings;
};

struct rc_limits {
	size_t max_size;        /* bytes of rcfile text */
	int max_depth;          /* nesting of { } blocks */
	size_t max_items;       /* assignments + recipes in total */
};

#define RC_DEFAULT_MAX_SIZE (1024 * 1024)
#define RC_DEFAULT_MAX_DEPTH 64
#define RC_DEFAULT_MAX_ITEMS 20000

/*
 * Parse rcfile text (len bytes, may hold NULs: they end the line) into an
 * AST.  Pure: no I/O.  Returns NULL with a malloc'ed "path:line: message"
 * in *error_r when a limit is hit (size, nesting depth, item count).
 * Garbage that procmail would skip is skipped and noted in warnings.
 */
struct rc_file *rc_parse(const char *path, const char *text, size_t len,
    const struct rc_limits *limits, char **error_r);
void rc_file_free(struct rc_file **f);

/* ---- regular expressions -------------------------------------------- */

/*
 * Translate a procmail (egrep) regular expression into PCRE2 syntax:
 * macros ^TO_, ^TO, ^FROM_DAEMON, ^FROM_MAILER expanded, '^'/'$' as
 * procmail's newline matches, '\/' as capture group 1 (MATCH), '\<' '\>'
 * word delimiters, negated classes that never match a newline, '{' '}'
 * literal.  *force_nocase_r is set when ^FROM_DAEMON/^FROM_MAILER were
 * used (procmail matches those case-insensitively even with D);
 * *has_match_r when '\/' was present.  Returns a malloc'ed string.
 */
char *rc_regex_translate(const char *pm, int *force_nocase_r,
    int *has_match_r);

struct rc_regex;
/* Compile; NULL with *error_r (malloc'ed) on a syntax error. */
struct rc_regex *rc_regex_compile(const char *pm, int casesens,
    char **error_r);
void rc_regex_free(struct rc_regex **re);
/*
 * Search text.  1 = match (then *match_r, if not NULL, gets a malloc'ed
 * copy of the '\/' part or NULL), 0 = no match, -1 = resource limit hit
 * (match_limit steps).
 */
int rc_regex_search(struct rc_regex *re, const char *text, size_t len,
    unsigned long match_limit, char **match_r);

/* ---- evaluation --------------------------------------------------- */

struct rc_msg {
	char *data;             /* whole message, normalised like procmail */
	size_t len;
	size_t hlen;            /* bytes of header incl. the empty line */
	int added_nl;           /* the last byte is procmail's added newline */
};

/* Take ownership of raw bytes: append procmail's trailing newline and
 * find the header/body split. */
void rc_msg_set(struct rc_msg *m, char *data, size_t len);
void rc_msg_free(struct rc_msg *m);

struct rc_config {
	const char *sendmail_self;  /* path of tempest (SENDMAIL default) */
	unsigned long regex_steps;  /* PCRE2 match limit per regex */
	int max_forks;              /* programs started per message */
	struct rc_limits limits;
	int tempfail_on_error;      /* procmail -t */
	int delivery_mode;          /* called from local delivery */
	const char *etc_rcfile;     /* system-wide rcfile run first, or NULL */
	char **assigns;             /* command-line VAR=value, applied first */
	size_t nassigns;
	char **args;                /* -a arguments: $1.. */
	size_t nargs;
};

void rc_config_defaults(struct rc_config *cfg);

/*
 * Run the rcfiles on the message and deliver it, procmail style.  The
 * process environment holds the variables (as in procmail); the current
 * directory becomes $MAILDIR.  rcfiles NULL/empty: $HOME/.procmailrc.
 * Returns the exit status procmail would (0, EX_TEMPFAIL, EX_CANTCREAT,
 * or $EXITCODE).  Never returns without having tried DEFAULT and ORGMAIL.
 */
int rc_run(const struct rc_config *cfg, struct rc_msg *msg,
    char **rcfiles, size_t nrcfiles);

/* ---- local delivery ---------------------------------------------- */

struct rc_local {
	long uid, gid;          /* rights to run with (when root); -1: ours */
	const char *home;       /* HOME and first MAILDIR */
	const char *logname;
	const char *shell;
	const char *orgmail;    /* default mailbox (trailing '/': Maildir) */
	const char *etc_rcfile; /* system-wide rcfile or NULL */
	const char *user_rcfile;/* the user's rcfile (skipped if missing) */
	const char *sender;     /* envelope sender, "" for <> */
	const char *sendmail;   /* path of tempest (SENDMAIL) */
	const char *config_dir; /* TEMPEST_CONFIG_DIR for programs, or NULL */
	int msgfd;              /* the message without From_, read from 0 */
	long long arrival;      /* seconds since the epoch, for From_ */
	const char *vacation_msg; /* per-user vacation message (skipped if missing) */
	const char *rcpt;       /* the recipient address (vacation's -a) */
};

/*
 * Run the recipes for one recipient in a child process with the
 * recipient's rights: the system-wide rcfile, then the user's.  Returns
 * procmail's exit status (0 delivered, 75 try again, other: failure), or
 * -1 with *error_r when the child could not run.  Errors inside the
 * rcfiles are logged with file:line and the message goes to the default
 * mailbox.
 */
int rc_local_deliver(const struct rc_local *l, char **error_r);
/* main.cf recipe_delivery */
int rc_local_enabled(void);
/* A recipe_* parameter of main.cf. */
const char *rc_local_param(const char *name);

#endif
