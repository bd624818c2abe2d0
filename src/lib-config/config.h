/*
 * config.h - main.cf: the settings table, parsing, $name expansion and
 * postconf.
 *
 * Every parameter is declared once in a table (struct cfg_param) next to
 * the code that owns it and registered with CONFIG_PARAMS(); that table
 * drives parsing, defaults, validation (errors name file:line) and
 * `tempest postconf [-n|-d]`.  Values are stored as written and expanded
 * on first use ($name, ${name}, $(name), ${name?text}, ${name:text}).
 * main.cf is trusted (root-owned) but still parsed with bounds.
 */
#ifndef TEMPEST_CONFIG_H
#define TEMPEST_CONFIG_H

#include <stdio.h>

enum cfg_type { CFG_STR, CFG_BOOL, CFG_INT, CFG_TIME, CFG_LIST };

struct cfg_param {
	const char *name;
	enum cfg_type type;
	const char *def;        /* default as written in main.cf syntax */
	char time_unit;         /* CFG_TIME: unit of a bare number */
	const char *doc;        /* one-line description (required) */
};

struct cfg_table {
	const struct cfg_param *params;
	unsigned n;
};

/* Register a table of parameters from any module (linked into the binary). */
#define CONFIG_PARAMS(tbl)						\
	static const struct cfg_table tbl##_reg = { tbl, sizeof(tbl) / sizeof(tbl[0]) }; \
	static const struct cfg_table *tbl##_regp			\
	    __attribute__((used, section("tempest_params"))) = &tbl##_reg

#define CONFIG_DEFAULT_DIR "/etc/tempest"

/* Read DIR/main.cf (a missing file means all defaults).  0, or -1 with a
 * malloc'ed "file:line: message" in *error_r. */
int config_load(const char *config_dir, char **error_r);
/* Load or die (for daemons). */
void config_load_or_die(const char *config_dir);
/* The directory main.cf came from. */
const char *config_dir(void);
/* Apply a master.cf "-o name=value" override (before first use). */
int config_override(const char *name, const char *value, char **error_r);

/* Expanded values.  Asking for an unregistered name is a bug (panic). */
const char *config_str(const char *name);
/* The value as written, before $name expansion (for values with their
 * own variables, such as forward_path's $home). */
const char *config_raw(const char *name);
int config_bool(const char *name);
long long config_int(const char *name);
long long config_time(const char *name);    /* seconds */
/* Whether main.cf (or -o) set the parameter explicitly. */
int config_is_set(const char *name);

/* Expand $name references in s against the configuration (malloc'ed). */
char *config_expand(const char *s);

enum config_print { CONFIG_PRINT_ALL, CONFIG_PRINT_SET, CONFIG_PRINT_DEFAULTS };
/* postconf: print "name = value" (values_only: "value") for the chosen
 * set (names filter if non-NULL). */
int config_print(FILE *out, enum config_print what, int values_only,
    char *const *names);
/* Whether value is acceptable for the parameter name (a boolean, number
 * or time where the table says so; a value with $ is checked only when
 * expanded, at load): 0, or -1 with a malloc'ed message.  *known_r: a
 * registered parameter rather than one of the administrator's own. */
int config_check_value(const char *name, const char *value, int *known_r,
    char **error_r);

/* postconf -e/-X/-# (config_edit.c): edit the text of a main.cf. */
enum config_edit_op { CONFIG_EDIT_SET, CONFIG_EDIT_REMOVE, CONFIG_EDIT_COMMENT };
struct config_edit {
	const char *name;
	const char *value;      /* CONFIG_EDIT_SET: the new value */
	unsigned found;         /* out: settings of name met in the text */
};
struct buf;
/* A parameter name (letters, digits, _ and -) and a value of one line
 * (NULL: none to check). */
int config_edit_valid(const char *name, const char *value);
/* Append to out the main.cf text (len bytes) with each of the n edits
 * applied: SET writes "name = value" in place of the first setting of
 * name (appended when there is none) and drops the later ones, REMOVE
 * drops every setting of name, COMMENT puts '#' before each line of
 * them; other lines are kept as they are, each ended by a newline.  -1
 * for an edit config_edit_valid() refuses or when out is full. */
int config_edit_text(const char *text, size_t len, enum config_edit_op op,
    struct config_edit *ed, size_t n, struct buf *out);
/* fn(name) for every parameter, registered or set in main.cf, in name
 * order. */
void config_each(void (*fn)(const char *name, void *arg), void *arg);
/* Every registered parameter has a doc line (0), else -1 naming one. */
int config_check_docs(const char **bad_r);

#endif
