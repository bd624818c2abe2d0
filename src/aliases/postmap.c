/*
 * postmap.c - `tempest postmap`: Postfix's table tool.
 *
 *   postmap [hash:]FILE...          compile each into FILE.db
 *   postmap -q KEY TABLE            the value the daemons would find
 *   postmap -q - TABLE < keys       "key<TAB>value" for each key found
 *
 * Tempest reads a hash: table's text as it changes, so compiling is
 * needed only for a large table (the .db is then read instead, and must
 * be compiled again after each edit, as with Postfix).  A query goes
 * through the same lookup code as the daemons (maps.h): the compiled
 * file when it exists, keys without regard to case.  Input: the
 * administrator's tables and keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "maps.h"
#include "mem.h"
#include "roles.h"
#include "table_compile.h"

#define KEY_MAX 4096

/* A table given without a type is a hash: one, as in Postfix. */
static char *
table_spec(const char *arg)
{
	const char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');

	if (colon != NULL && (slash == NULL || colon < slash))
		return xstrdup(arg);
	return xasprintf("hash:%s", arg);
}

/* 1 found (printed), 0 not, -1 the table failed (maps.c said why on
 * stderr, the log of a command). */
static int
query(struct map *m, const char *key, int with_key)
{
	const char *v;
	int r = map_lookup(m, key, &v);

	if (r > 0 && with_key)
		printf("%s\t%s\n", key, v);
	else if (r > 0)
		printf("%s\n", v);
	return r;
}

static int
query_main(const char *key, const char *arg)
{
	char *spec = table_spec(arg), *err = NULL, line[KEY_MAX + 2];
	struct map *m = map_open(spec, &err);
	int r, found = 0, failed = 0;

	if (m == NULL) {
		fprintf(stderr, "tempest: postmap: %s: %s\n", spec, err);
		free(err);
		free(spec);
		return 2;
	}
	if (strcmp(key, "-") != 0) {
		r = query(m, key, 0);
		found = r > 0;
		failed = r < 0;
	} else {
		while (fgets(line, sizeof(line), stdin) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0')
				continue;
			r = query(m, line, 1);
			found |= r > 0;
			failed |= r < 0;
		}
	}
	map_free(&m);
	free(spec);
	return failed ? 2 : found ? 0 : 1;
}

int
postmap_main(int argc, char **argv)
{
	const char *key = NULL;
	int c, r = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "q:c:")) != -1) {
		switch (c) {
		case 'q': key = optarg; break;
		case 'c': setenv("TEMPEST_CONFIG_DIR", optarg, 1); break;
		default:
			ctl_usage("postmap");
			return 2;
		}
	}
	if (optind == argc || (key != NULL && argc - optind != 1)) {
		ctl_usage("postmap");
		return 2;
	}
	config_load_or_die(ctl_config_dir());
	if (key != NULL)
		return query_main(key, argv[optind]);
	for (int i = optind; i < argc; i++) {
		char *spec = table_spec(argv[i]);
		if (strncmp(spec, "hash:", 5) != 0) {
			fprintf(stderr, "tempest: postmap: %s: only hash: tables "
			    "are compiled (the others are read as they are)\n",
			    spec);
			r = 1;
		} else if (table_compile(spec + 5, 0) < 0) {
			r = 1;
		}
		free(spec);
	}
	return r;
}
