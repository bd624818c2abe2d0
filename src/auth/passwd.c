/*
 * passwd.c - `tempest passwd [-t table] USER`: set a user's password in
 * a writable password table (passwd-file or sqlite).  The new password
 * is read from the terminal (asked twice, not echoed) or, when stdin is
 * not a terminal, as the first line of stdin; it is stored as a
 * SHA512-CRYPT hash and never printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>


#include "config.h"
#include "log.h"
#include "mem.h"
#include "passdb.h"
#include "roles.h"
#include "sasl.h"
#include "scram.h"
#include "str.h"
#include "userdb.h"

#define PW_MAX (SASL_FIELD_MAX + 2)

static int
read_line(FILE *in, char *pw, size_t max)
{
	size_t n;

	if (fgets(pw, (int)max, in) == NULL)
		return -1;
	n = strlen(pw);
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	else if (n == max - 1)
		return -1;      /* too long */
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	return 0;
}

static int
prompt(const char *text, char *pw, size_t max)
{
	struct termios old, quiet;
	int r;

	fputs(text, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	r = read_line(stdin, pw, max);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return r;
}

/* The table to write: -t, else the first writable one the auth service
 * uses, else the passwd-file of virtual_mailbox_maps. */
static char *
default_table(void)
{
	const char *lists[2] = { config_str("auth_passdb_tables"),
	    config_str("virtual_mailbox_maps") };
	char *found = NULL;
	size_t i, j;

	for (i = 0; i < 2 && found == NULL; i++) {
		char **v = str_split(lists[i], STR_LIST_SEPS, NULL);
		for (j = 0; v[j] != NULL && found == NULL; j++)
			if (strncmp(v[j], "passwd-file:", 12) == 0 ||
			    strncmp(v[j], "sqlite:", 7) == 0)
				found = xstrdup(v[j]);
		str_split_free(&v);
	}
	return found;
}

int
passwd_main(int argc, char **argv)
{
	char pw[PW_MAX], pw2[PW_MAX], *table = NULL, *err = NULL, *hash;
	const char *scheme = "SHA512-CRYPT";
	struct passdb *pdb;
	int c, r;

	while ((c = getopt(argc, argv, "t:s:")) != -1) {
		switch (c) {
		case 't':
			table = xstrdup(optarg);
			break;
		case 's':
			scheme = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || (strcasecmp(scheme, "SHA512-CRYPT") != 0 &&
	    strcasecmp(scheme, "SCRAM-SHA-256") != 0)) {
usage:
		ctl_usage("passwd");
		return 2;
	}
	if (config_load(ctl_config_dir(), &err) < 0) {
		fprintf(stderr, "passwd: fatal: %s\n", err);
		return 1;
	}
	if (table == NULL && (table = default_table()) == NULL) {
		fprintf(stderr, "passwd: no writable table (passwd-file: or "
		    "sqlite:) in auth_passdb_tables or virtual_mailbox_maps\n");
		return 1;
	}
	if (isatty(STDIN_FILENO)) {
		if (prompt("New password: ", pw, sizeof(pw)) < 0 ||
		    prompt("Retype new password: ", pw2, sizeof(pw2)) < 0) {
			fprintf(stderr, "passwd: no password read\n");
			return 1;
		}
		r = strcmp(pw, pw2);
		explicit_bzero(pw2, sizeof(pw2));
		if (r != 0) {
			fprintf(stderr, "passwd: passwords do not match\n");
			explicit_bzero(pw, sizeof(pw));
			return 1;
		}
	} else if (read_line(stdin, pw, sizeof(pw)) < 0) {
		fprintf(stderr, "passwd: no password on stdin (or longer than "
		    "%d bytes)\n", SASL_FIELD_MAX);
		return 1;
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "passwd: empty password refused\n");
		return 1;
	}
	pdb = passdb_open(table, &err);
	if (pdb == NULL) {
		fprintf(stderr, "passwd: %s\n", err);
		return 1;
	}
	hash = strcasecmp(scheme, "SCRAM-SHA-256") == 0 ?
	    scram_secret_make(pw, 4096) : userdb_hash_password(pw);
	explicit_bzero(pw, sizeof(pw));
	r = passdb_set_password(pdb, argv[optind], hash, &err);
	free(hash);
	passdb_free(&pdb);
	if (r < 0) {
		fprintf(stderr, "passwd: %s\n", err);
		return 1;
	}
	printf("passwd: password of %s updated in %s\n", argv[optind], table);
	free(table);
	return 0;
}
