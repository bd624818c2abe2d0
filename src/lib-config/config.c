/*
 * config.c - main.cf parsing, storage and expansion.
 *
 * Input is the administrator's main.cf (and master.cf -o overrides).
 * Lines are read with getline() and limited to CONFIG_LINE_MAX; logical
 * lines (with continuations) to CONFIG_VALUE_MAX; expansion depth to
 * CONFIG_EXPAND_DEPTH so "a = $a" is an error, not a stack overflow.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "str.h"

#define CONFIG_LINE_MAX 65536
#define CONFIG_VALUE_MAX (1024 * 1024)
#define CONFIG_EXPAND_DEPTH 32

struct entry {
	const struct cfg_param *p;      /* NULL for user-defined names */
	char *name;
	char *raw;                      /* explicit value, NULL = default */
	char *expanded;                 /* cache */
	char *where;                    /* "file:line" of the setting */
	int set;
};

extern const struct cfg_table *__start_tempest_params[];
extern const struct cfg_table *__stop_tempest_params[];

void config_params_core(void);

static struct entry *entries;
static size_t n_entries;
static char *cfg_dir;
static char host_name[256], domain_name[256];

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

static void
config_init_table(void)
{
	const struct cfg_table **t;
	unsigned i;

	if (entries != NULL)
		return;
	config_params_core();
	for (t = (const struct cfg_table **)__start_tempest_params;
	    t < (const struct cfg_table **)__stop_tempest_params; t++) {
		for (i = 0; i < (*t)->n; i++) {
			entries = xreallocarray(entries, n_entries + 1,
			    sizeof(*entries));
			memset(&entries[n_entries], 0, sizeof(*entries));
			entries[n_entries].p = &(*t)->params[i];
			entries[n_entries].name = xstrdup((*t)->params[i].name);
			n_entries++;
		}
	}
	qsort(entries, n_entries, sizeof(*entries), entry_cmp);
	for (i = 1; i < n_entries; i++)
		if (strcmp(entries[i - 1].name, entries[i].name) == 0)
			panic("parameter %s registered twice", entries[i].name);

	/* Computed defaults: never from DNS. */
	if (gethostname(host_name, sizeof(host_name) - 1) != 0 ||
	    host_name[0] == '\0')
		snprintf(host_name, sizeof(host_name), "localhost");
	str_lower(host_name);
	{
		const char *dot = strchr(host_name, '.');
		snprintf(domain_name, sizeof(domain_name), "%s",
		    dot != NULL && dot[1] != '\0' ? dot + 1 : "localdomain");
		if (dot == NULL && strlen(host_name) + 13 < sizeof(host_name))
			strcat(host_name, ".localdomain");
	}
}

static struct entry *
config_find(const char *name)
{
	struct entry key, *e;
	size_t i;

	config_init_table();
	key.name = (char *)name;
	e = bsearch(&key, entries, n_entries, sizeof(*entries), entry_cmp);
	if (e != NULL)
		return e;
	/* user-defined names are appended unsorted after the table */
	for (i = 0; i < n_entries; i++)
		if (entries[i].p == NULL && strcmp(entries[i].name, name) == 0)
			return &entries[i];
	return NULL;
}

static struct entry *
config_add_user(const char *name)
{
	/* keep the registered part sorted: user entries are re-sorted in */
	entries = xreallocarray(entries, n_entries + 1, sizeof(*entries));
	memset(&entries[n_entries], 0, sizeof(*entries));
	entries[n_entries].name = xstrdup(name);
	n_entries++;
	qsort(entries, n_entries, sizeof(*entries), entry_cmp);
	return config_find(name);
}

static const char *
default_value(const struct entry *e)
{
	if (e->p == NULL)
		return "";
	if (strcmp(e->name, "myhostname") == 0)
		return host_name;
	if (strcmp(e->name, "mydomain") == 0)
		return domain_name;
	if (strcmp(e->name, "config_directory") == 0 && cfg_dir != NULL)
		return cfg_dir;
	return e->p->def != NULL ? e->p->def : "";
}

static const char *
raw_value(const struct entry *e)
{
	return e->set ? e->raw : default_value(e);
}

static int expand_into(struct buf *out, const char *s, int depth,
    char **error_r);

static int
expand_name(struct buf *out, const char *name, size_t len, int depth,
    char **error_r)
{
	char tmp[128];
	struct entry *e;

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	e = config_find(tmp);
	if (e == NULL)
		return 0;               /* undefined: empty, as Postfix */
	return expand_into(out, raw_value(e), depth + 1, error_r);
}

static int
expand_into(struct buf *out, const char *s, int depth, char **error_r)
{
	if (depth > CONFIG_EXPAND_DEPTH) {
		*error_r = xstrdup("parameter expansion too deep "
		    "(recursive $name reference?)");
		return -1;
	}
	while (*s != '\0') {
		const char *d = strchr(s, '$');
		if (d == NULL) {
			if (buf_appends(out, s) < 0)
				goto toolong;
			break;
		}
		if (buf_append(out, s, (size_t)(d - s)) < 0)
			goto toolong;
		s = d + 1;
		if (*s == '$') {
			buf_appendc(out, '$');
			s++;
		} else if (*s == '{' || *s == '(') {
			char close = *s == '{' ? '}' : ')';
			const char *start = s + 1, *end, *op;
			size_t nlen;
			int level = 1;
			for (end = start; *end != '\0'; end++) {
				if (*end == *s)
					level++;
				else if (*end == close && --level == 0)
					break;
			}
			if (*end == '\0') {
				*error_r = xstrdup("unbalanced ${...} in value");
				return -1;
			}
			op = start + strcspn(start, "?:");
			if (op > end)
				op = end;
			nlen = (size_t)(op - start);
			if (op < end) {
				/* ${name?text} / ${name:text} */
				struct buf v;
				char *text;
				int nonempty, r = 0;
				buf_init(&v, CONFIG_VALUE_MAX);
				if (expand_name(&v, start, nlen, depth, error_r) < 0) {
					buf_free(&v);
					return -1;
				}
				nonempty = v.len > 0;
				buf_free(&v);
				if ((*op == '?') == nonempty) {
					text = xstrndup(op + 1, (size_t)(end - op - 1));
					r = expand_into(out, text, depth + 1, error_r);
					free(text);
				}
				if (r < 0)
					return -1;
			} else if (expand_name(out, start, nlen, depth, error_r) < 0)
				return -1;
			s = end + 1;
		} else {
			size_t n = 0;
			while (isalnum((unsigned char)s[n]) || s[n] == '_')
				n++;
			if (n == 0) {
				buf_appendc(out, '$');
				continue;
			}
			if (expand_name(out, s, n, depth, error_r) < 0)
				return -1;
			s += n;
		}
	}
	return 0;
toolong:
	*error_r = xstrdup("expanded value too long");
	return -1;
}

char *
config_expand(const char *s)
{
	struct buf b;
	char *err = NULL;

	buf_init(&b, CONFIG_VALUE_MAX);
	if (expand_into(&b, s, 0, &err) < 0) {
		log_warn("%s", err);
		free(err);
		buf_reset(&b);
	}
	return buf_steal(&b);
}

static int
validate(const struct entry *e, const char *value, char **error_r)
{
	long long ll;
	int b;

	if (e->p == NULL)
		return 0;
	switch (e->p->type) {
	case CFG_BOOL:
		if (str_parse_bool(value, &b) < 0) {
			*error_r = xasprintf("bad boolean value for %s: \"%s\" "
			    "(use yes or no)", e->name, value);
			return -1;
		}
		break;
	case CFG_INT:
		if (str_parse_ll(value, &ll) < 0) {
			*error_r = xasprintf("bad numerical value for %s: \"%s\"",
			    e->name, value);
			return -1;
		}
		break;
	case CFG_TIME:
		if (str_parse_time(value, e->p->time_unit ? e->p->time_unit : 's',
		    &ll) < 0) {
			*error_r = xasprintf("bad time value for %s: \"%s\" "
			    "(use a number with unit s, m, h, d or w)",
			    e->name, value);
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

static int
config_set(const char *name, const char *value, const char *where,
    char **error_r)
{
	struct entry *e = config_find(name);
	size_t i;

	if (e == NULL)
		e = config_add_user(name);
	free(e->raw);
	free(e->where);
	e->raw = xstrdup(value);
	e->where = xstrdup(where);
	e->set = 1;
	for (i = 0; i < n_entries; i++)
		FREE(entries[i].expanded);
	(void)error_r;
	return 0;
}

static int
config_parse_logical(const char *file, int lineno, char *line, char **error_r)
{
	char *eq = strchr(line, '='), *name, *value;
	char where[1100];

	snprintf(where, sizeof(where), "%s:%d", file, lineno);
	if (eq == NULL) {
		*error_r = xasprintf("%s: missing '=' after parameter name", where);
		return -1;
	}
	*eq = '\0';
	name = str_trim(line);
	value = str_trim(eq + 1);
	if (!config_edit_valid(name, NULL)) {
		*error_r = xasprintf("%s: bad parameter name \"%s\"", where, name);
		return -1;
	}
	return config_set(name, value, where, error_r);
}

static int
config_parse_file(FILE *fp, const char *file, char **error_r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, start = 0, r = 0;
	struct buf logical;

	buf_init(&logical, CONFIG_VALUE_MAX);
	while ((n = getline(&line, &cap, fp)) >= 0) {
		char *p;
		lineno++;
		if (n > CONFIG_LINE_MAX) {
			*error_r = xasprintf("%s:%d: line too long", file, lineno);
			r = -1;
			break;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		for (p = line; isspace((unsigned char)*p); p++)
			;
		if (*p == '#' || *p == '\0')
			continue;       /* comments and blank lines never continue */
		if (p != line) {
			/* continuation of the previous logical line */
			if (logical.len == 0) {
				*error_r = xasprintf("%s:%d: continuation line "
				    "without a parameter", file, lineno);
				r = -1;
				break;
			}
			if (buf_appendc(&logical, ' ') < 0 ||
			    buf_appends(&logical, p) < 0) {
				*error_r = xasprintf("%s:%d: value too long",
				    file, lineno);
				r = -1;
				break;
			}
			continue;
		}
		if (logical.len > 0 &&
		    (r = config_parse_logical(file, start,
		    (char *)logical.data, error_r)) < 0)
			break;
		buf_set(&logical, line);
		start = lineno;
	}
	if (r == 0 && logical.len > 0)
		r = config_parse_logical(file, start, (char *)logical.data,
		    error_r);
	buf_free(&logical);
	free(line);
	return r;
}

static int
config_validate_all(char **error_r)
{
	size_t i;

	for (i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		const char *v;
		char *err = NULL;
		if (!e->set || e->p == NULL)
			continue;
		v = config_str(e->name);
		if (validate(e, v, &err) < 0) {
			*error_r = xasprintf("%s: %s", e->where, err);
			free(err);
			return -1;
		}
	}
	return 0;
}

int
config_load(const char *dir, char **error_r)
{
	char *path;
	FILE *fp;
	int r = 0;

	char *newdir = xstrdup(dir);       /* dir may be config_dir() itself */
	size_t i;

	config_init_table();
	free(cfg_dir);
	cfg_dir = newdir;
	/* a reload starts from the defaults again */
	for (i = 0; i < n_entries; i++) {
		FREE(entries[i].raw);
		FREE(entries[i].where);
		FREE(entries[i].expanded);
		entries[i].set = 0;
	}
	path = xasprintf("%s/main.cf", cfg_dir);
	fp = fopen(path, "r");
	if (fp == NULL) {
		if (errno != ENOENT) {
			*error_r = xasprintf("open %s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
	} else {
		r = config_parse_file(fp, path, error_r);
		fclose(fp);
	}
	free(path);
	if (r == 0)
		r = config_validate_all(error_r);
	return r;
}

void
config_load_or_die(const char *dir)
{
	char *err = NULL;

	if (config_load(dir, &err) < 0)
		fatal("%s", err);
}

const char *
config_dir(void)
{
	return cfg_dir != NULL ? cfg_dir : CONFIG_DEFAULT_DIR;
}

int
config_override(const char *name, const char *value, char **error_r)
{
	struct entry *e;
	char *err = NULL;
	char *exp;

	if (config_set(name, value, "master.cf -o", error_r) < 0)
		return -1;
	e = config_find(name);
	exp = config_expand(value);
	if (validate(e, exp, &err) < 0) {
		*error_r = xasprintf("-o %s: %s", name, err);
		free(err);
		free(exp);
		return -1;
	}
	free(exp);
	return 0;
}

static struct entry *
config_must(const char *name)
{
	struct entry *e = config_find(name);

	if (e == NULL || e->p == NULL)
		panic("unregistered parameter %s", name);
	return e;
}

const char *
config_str(const char *name)
{
	struct entry *e = config_find(name);

	if (e == NULL)
		panic("unregistered parameter %s", name);
	if (e->expanded == NULL)
		e->expanded = config_expand(raw_value(e));
	return e->expanded;
}

const char *
config_raw(const char *name)
{
	struct entry *e = config_find(name);

	if (e == NULL)
		panic("unregistered parameter %s", name);
	return raw_value(e);
}

int
config_bool(const char *name)
{
	int b = 0;

	config_must(name);
	if (str_parse_bool(config_str(name), &b) < 0)
		str_parse_bool(default_value(config_find(name)), &b);
	return b;
}

long long
config_int(const char *name)
{
	long long v = 0;

	config_must(name);
	if (str_parse_ll(config_str(name), &v) < 0)
		str_parse_ll(default_value(config_find(name)), &v);
	return v;
}

long long
config_time(const char *name)
{
	struct entry *e = config_must(name);
	char unit = e->p->time_unit ? e->p->time_unit : 's';
	long long v = 0;

	if (str_parse_time(config_str(name), unit, &v) < 0)
		str_parse_time(default_value(e), unit, &v);
	return v;
}

int
config_is_set(const char *name)
{
	struct entry *e = config_find(name);

	return e != NULL && e->set;
}

int
config_check_value(const char *name, const char *value, int *known_r,
    char **error_r)
{
	struct entry *e;

	config_init_table();
	e = config_find(name);
	*known_r = e != NULL && e->p != NULL;
	if (!*known_r || strchr(value, '$') != NULL)
		return 0;
	return validate(e, value, error_r);
}

static void
print_one(FILE *out, const char *name, const char *value, int values_only)
{
	if (values_only)
		fprintf(out, "%s\n", value);
	else
		fprintf(out, "%s = %s\n", name, value);
}

int
config_print(FILE *out, enum config_print what, int values_only,
    char *const *names)
{
	size_t i;
	int r = 0;

	config_init_table();
	if (names != NULL && names[0] != NULL) {
		for (; *names != NULL; names++) {
			struct entry *e = config_find(*names);
			if (e == NULL) {
				fprintf(stderr, "postconf: warning: %s: unknown "
				    "parameter\n", *names);
				r = 1;
				continue;
			}
			if (what == CONFIG_PRINT_DEFAULTS)
				print_one(out, e->name, default_value(e), values_only);
			else if (what == CONFIG_PRINT_SET)
				print_one(out, e->name,
				    e->set ? e->raw : default_value(e), values_only);
			else
				print_one(out, e->name, config_str(e->name),
				    values_only);
		}
		return r;
	}
	for (i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		switch (what) {
		case CONFIG_PRINT_SET:
			if (e->set)
				print_one(out, e->name, e->raw, values_only);
			break;
		case CONFIG_PRINT_DEFAULTS:
			if (e->p != NULL)
				print_one(out, e->name, default_value(e),
				    values_only);
			break;
		case CONFIG_PRINT_ALL:
			if (e->p != NULL || e->set)
				print_one(out, e->name, config_str(e->name),
				    values_only);
			break;
		}
	}
	return r;
}

void
config_each(void (*fn)(const char *name, void *arg), void *arg)
{
	config_init_table();
	for (size_t i = 0; i < n_entries; i++)
		if (entries[i].p != NULL || entries[i].set)
			fn(entries[i].name, arg);
}

int
config_check_docs(const char **bad_r)
{
	size_t i;

	config_init_table();
	for (i = 0; i < n_entries; i++)
		if (entries[i].p != NULL &&
		    (entries[i].p->doc == NULL || entries[i].p->doc[0] == '\0')) {
			*bad_r = entries[i].name;
			return -1;
		}
	return 0;
}
