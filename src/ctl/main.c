/*
 * main.c - the tempest command: dispatch on argv[0] (sendmail, mailq,
 * newaliases, postconf) or on the first argument.  Command-line input is
 * from the local user; each command validates its own arguments.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "roles.h"

struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
	/* the arguments it takes, one synopsis a line; NULL: none, so a
	 * command that acts at once (stop, newaliases) never takes a
	 * mistyped argument as a go-ahead */
	const char *args;
};

static const struct command commands[] = {
	{ "start", ctl_start_main, "start the mail system in the background", NULL },
	{ "start-fg", ctl_startfg_main, "run the mail system in the foreground (logs on stderr)", NULL },
	{ "stop", ctl_stop_main, "stop the mail system", NULL },
	{ "reload", ctl_reload_main, "re-read the configuration, keeping sessions", NULL },
	{ "status", ctl_status_main, "say whether the mail system is running", NULL },
	{ "flush", ctl_flush_main, "retry every deferred message now", NULL },
	{ "check", ctl_check_main, "check main.cf, master.cf and the lookup tables", NULL },
	{ "postconf", postconf_main, "print configuration parameters, or edit main.cf",
	  "[-c dir] [-n|-d] [-h] [name...]\n"
	  "[-c dir] -e name=value...\n"
	  "[-c dir] -X name...\n"
	  "[-c dir] -# name..." },
	{ "sendmail", sendmail_main, "submit a message (sendmail-compatible)",
	  "[-t] [-i] [-f sender] [-F name] [-bs] [-N never|success,delay,failure] "
	  "[-R hdrs|full] [-V envid] [-B 7BIT|8BITMIME] [-SMTPUTF8] [recipient ...]\n"
	  "-bd | -bp | -bi | -q" },
	{ "mailq", mailq_main, "list the queue", "[-j]" },
	{ "newaliases", newaliases_main, "rebuild the alias database", NULL },
	{ "postmap", postmap_main, "query a lookup table, or compile a hash: table",
	  "-q KEY|- [type:]TABLE\n"
	  "[hash:]FILE..." },
	{ "postqueue", postqueue_main, "queue control: list, JSON list, flush",
	  "-p | -j | -f | -i ID" },
	{ "postsuper", postsuper_main, "queue maintenance: delete, hold, release, requeue",
	  "[-d ID|ALL] [-h ID|ALL] [-H ID|ALL] [-r ID|ALL] [incoming|active|deferred|hold...]" },
	{ "postcat", postcat_main, "show a queued message: envelope, header, body",
	  "[-e] [-h] [-b] -q ID...\n"
	  "[-e] [-h] [-b] FILE..." },
	{ "passwd", passwd_main, "set a user's password",
	  "[-t table] [-s SHA512-CRYPT|SCRAM-SHA-256] user" },
	{ "procmail", procmail_main, "procmail-compatible delivery agent",
	  "[-ptoYm] [-f fromwhom] [-a arg] [parameter=value | rcfile] ..." },
	{ "vacation", vacation_main, "vacation auto-responder",
	  "[-j] [-I] [-a address]... [-t interval] [-f dbfile] [-m msgfile] "
	  "[-F from] [-S sendmail]" },
	{ "spamc", spamc_main, "score a message on stdin",
	  "[--verdict] [--threshold N] [--db PATH] [--rules PATH]... [--user NAME] "
	  "[--headers] [--autolearn] [--no-bayes] [--rules-cache DIR] < message\n"
	  "--batch [--tests] [--tokens] [--relays] [--no-prefilter] [options] FILE|DIR...\n"
	  "--lint [--list] [--rules PATH]..." },
	{ "learn", learn_main, "train the Bayesian classifier",
	  "--spam|--ham [--forget] [--mbox] [--db PATH] [--user NAME] [FILE|DIR|Maildir]...\n"
	  "--expire [--db PATH] [--user NAME]\n"
	  "--copy-from SPEC [--db PATH] [--user NAME | --all-users]" },
	{ "quarantine", quarantine_main, "list/show/release/delete quarantined mail",
	  "[--db PATH] list | show ID | release ID [RCPT...] | delete ID | learn-ham ID | expire\n"
	  "[--db PATH] levels [RCPT [TAG SPAM QUARANTINE REJECT | delete]] | copy-from SPEC" },
};

static const struct command roles[] = {
	{ "master", master_main, "" },
	{ "smtpd", smtpd_main, "" },
	{ "qmgr", qmgr_main, "" },
	{ "local", local_main, "" },
	{ "virtual", local_main, "" },
	{ "pickup", pickup_main, "" },
	{ "smtp", smtp_main, "" },
	{ "auth", auth_main, "" },
	{ "anvil", anvil_main, "" },
	{ "filter", filter_main, "" },
	{ "imapd", imapd_main, "" },
	{ "imap-login", imap_login_main, "" },
	{ "pop3d", pop3d_main, "" },
	{ "pop3-login", pop3_login_main, "" },
	{ "web", web_main, "" },
};

#ifdef __SANITIZE_ADDRESS__
/* Sanitizer builds (make asan): commands and daemons exit with memory
 * still allocated by design; report errors, not exit-time leaks, even
 * when a test replaces the environment. */
const char *__asan_default_options(void);
const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static char self_path[PATH_MAX];
static int called_as_tempest;   /* else by a Postfix name: sendmail, mailq */

/* $TEMPEST_CONFIG_DIR, which main() sets from -c and a command's own
 * -c (postconf, postmap, sendmail -C) overrides, else the default. */
const char *
ctl_config_dir(void)
{
	const char *e = getenv("TEMPEST_CONFIG_DIR");

	return e != NULL && *e != '\0' ? e : CONFIG_DEFAULT_DIR;
}

const char *
ctl_self_path(void)
{
	return self_path;
}

int
ctl_role_exists(const char *name)
{
	for (size_t i = 0; i < NELEM(roles); i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].fn != NULL;
	return 0;
}

static const struct command *
find(const struct command *tbl, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tbl[i].name, name) == 0)
			return &tbl[i];
	return NULL;
}

static void
print_usage(FILE *fp, const struct command *c)
{
	const char *prefix = called_as_tempest ? "tempest " : "";
	const char *a = c->args != NULL ? c->args : "";

	fputs("usage:", fp);
	for (;;) {
		size_t len = strcspn(a, "\n");
		fprintf(fp, " %s%s%s%.*s\n", prefix, c->name, len ? " " : "", (int)len, a);
		if (a[len] == '\0')
			break;
		a += len + 1;
		fputs("      ", fp);
	}
}

void
ctl_usage(const char *name)
{
	const struct command *c = find(commands, NELEM(commands), name);

	if (c != NULL)
		print_usage(stderr, c);
}

/* `tempest -h`: on stdout when asked for, else on stderr with exit 2. */
static void
usage(int asked)
{
	FILE *fp = asked ? stdout : stderr;

	fprintf(fp, "usage: tempest [-c config_dir] [-v] command [args]\n"
	    "       tempest command --help\n"
	    "commands:\n");
	for (size_t i = 0; i < NELEM(commands); i++)
		fprintf(fp, "  %-11s %s%s\n", commands[i].name,
		    commands[i].help, commands[i].fn ? "" : " (not built)");
	exit(asked ? 0 : 2);
}

static int
run(const struct command *tbl, size_t n, const char *name, int argc,
    char **argv)
{
	const struct command *c = find(tbl, n, name);

	if (c == NULL) {
		fprintf(stderr, "tempest: unknown command: %s\n", name);
		return 2;
	}
	if (c->fn == NULL) {
		fprintf(stderr, "tempest: %s: not built into this binary\n", name);
		return 2;
	}
	if (tbl == commands) {
		if (argc == 2 && strcmp(argv[1], "--help") == 0) {
			print_usage(stdout, c);
			printf("%s\n", c->help);
			return 0;
		}
		if (c->args == NULL && argc > 1) {
			fprintf(stderr, "tempest: %s takes no arguments\n", name);
			print_usage(stderr, c);
			return 2;
		}
	}
	return c->fn(argc, argv);
}

int
main(int argc, char **argv)
{
	char *base = basename(xstrdup(argv[0]));
	ssize_t n;

	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n > 0)
		self_path[n] = '\0';
	else
		snprintf(self_path, sizeof(self_path), "%s", argv[0]);
	log_init(base, LOG_DEST_STDERR, 0);

	/* Called as sendmail, mailq, newaliases, postconf, ...: Postfix
	 * names; -c is not a global option there (sendmail -C is). */
	called_as_tempest = strcmp(base, "tempest") == 0;
	if (!called_as_tempest)
		return run(commands, NELEM(commands), base, argc, argv);

	argc--, argv++;
	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-c") == 0 && argc > 1) {
			setenv("TEMPEST_CONFIG_DIR", argv[1], 1);
			argc -= 2, argv += 2;
		} else if (strcmp(argv[0], "-v") == 0) {
			log_init(base, LOG_DEST_STDERR, 1);
			argc--, argv++;
		} else
			usage(strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
	}
	if (argc == 0)
		usage(0);
	if (strcmp(argv[0], "help") == 0)
		usage(1);
	if (strcmp(argv[0], "daemon") == 0) {
		if (argc < 2)
			usage(0);
		return run(roles, NELEM(roles), argv[1], argc - 1, argv + 1);
	}
	return run(commands, NELEM(commands), argv[0], argc, argv);
}
