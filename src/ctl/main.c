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
};

static const struct command commands[] = {
	{ "start", ctl_start_main, "start the mail system in the background" },
	{ "start-fg", ctl_startfg_main, "run the mail system in the foreground (logs on stderr)" },
	{ "stop", ctl_stop_main, "stop the mail system" },
	{ "reload", ctl_reload_main, "re-read the configuration, keeping sessions" },
	{ "status", ctl_status_main, "say whether the mail system is running" },
	{ "flush", ctl_flush_main, "retry every deferred message now" },
	{ "postconf", postconf_main, "print configuration parameters [-n|-d] [name...]" },
	{ "sendmail", sendmail_main, "submit a message (sendmail-compatible)" },
	{ "mailq", mailq_main, "list the queue" },
	{ "newaliases", newaliases_main, "rebuild the alias database" },
	{ "postqueue", postqueue_main, "queue control: -p list, -f flush, -j JSON" },
	{ "postsuper", postsuper_main, "queue maintenance: -d/-h/-H/-r ID|ALL" },
	{ "passwd", passwd_main, "set a user's password" },
	{ "procmail", procmail_main, "procmail-compatible delivery agent" },
	{ "vacation", vacation_main, "vacation auto-responder" },
	{ "spamc", spamc_main, "score a message on stdin" },
	{ "learn", learn_main, "train the Bayesian classifier" },
	{ "quarantine", quarantine_main, "list/show/release/delete quarantined mail" },
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

static const char *config_dir_opt;
static char self_path[PATH_MAX];

const char *
ctl_config_dir(void)
{
	const char *e;

	if (config_dir_opt != NULL)
		return config_dir_opt;
	e = getenv("TEMPEST_CONFIG_DIR");
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

static void
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: tempest [-c config_dir] [-v] command [args]\n"
	    "commands:\n");
	for (i = 0; i < NELEM(commands); i++)
		fprintf(stderr, "  %-11s %s%s\n", commands[i].name,
		    commands[i].help, commands[i].fn ? "" : " (not built)");
	exit(2);
}

static int
run(const struct command *tbl, size_t n, const char *name, int argc,
    char **argv)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(tbl[i].name, name) != 0)
			continue;
		if (tbl[i].fn == NULL) {
			fprintf(stderr, "tempest: %s: not built into this binary\n",
			    name);
			return 2;
		}
		return tbl[i].fn(argc, argv);
	}
	fprintf(stderr, "tempest: unknown command: %s\n", name);
	return 2;
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
	if (strcmp(base, "tempest") != 0)
		return run(commands, NELEM(commands), base, argc, argv);

	argc--, argv++;
	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-c") == 0 && argc > 1) {
			config_dir_opt = argv[1];
			argc -= 2, argv += 2;
		} else if (strcmp(argv[0], "-v") == 0) {
			log_init(base, LOG_DEST_STDERR, 1);
			argc--, argv++;
		} else if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)
			usage();
		else
			usage();
	}
	if (config_dir_opt != NULL)
		setenv("TEMPEST_CONFIG_DIR", config_dir_opt, 1);
	if (argc == 0)
		usage();
	if (strcmp(argv[0], "daemon") == 0) {
		if (argc < 2)
			usage();
		return run(roles, NELEM(roles), argv[1], argc - 1, argv + 1);
	}
	return run(commands, NELEM(commands), argv[0], argc, argv);
}
