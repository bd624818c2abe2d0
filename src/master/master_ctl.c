/*
 * master_ctl.c - tempest start|start-fg|stop|reload|status|flush|check.
 * Input: the command line of a local administrator and the pid file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "login_settings.h"
#include "maps.h"
#include "master.h"
#include "mem.h"
#include "roles.h"
#include "service.h"
#include "tls.h"

/* The running master's pid, 0 when none.  A pid file this user may not
 * read (queue_directory/pid is mail_owner's) ends the command: not
 * being able to tell is not "not running". */
static pid_t
master_pid(void)
{
	char *path;
	FILE *fp;
	long pid = 0;

	config_load_or_die(ctl_config_dir());
	path = master_pid_path();
	fp = fopen(path, "r");
	if (fp == NULL && errno != ENOENT) {
		fprintf(stderr, "tempest: cannot tell whether the mail system "
		    "runs: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(path);
	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	/* EPERM: it runs, as another user */
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	return (pid_t)pid;
}

int
ctl_start_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (master_pid() != 0) {
		fprintf(stderr, "tempest: the mail system is already running\n");
		return 1;
	}
	return master_run(0);
}

int
ctl_startfg_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return master_run(1);
}

int
ctl_stop_main(int argc, char **argv)
{
	pid_t pid = master_pid();
	int i;

	(void)argc;
	(void)argv;
	if (pid == 0) {
		fprintf(stderr, "tempest: the mail system is not running\n");
		return 1;
	}
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "tempest: stop: master pid %ld: %s\n", (long)pid,
		    strerror(errno));
		return 1;
	}
	for (i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100000000 };
		if (kill(pid, 0) < 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "tempest: master pid %ld did not stop\n", (long)pid);
	return 1;
}

struct check {
	int errors, warnings;
};

/* A *_maps parameter: its tables open, and each answers a lookup. */
static void
check_tables(const char *name, void *arg)
{
	struct check *c = arg;
	size_t len = strlen(name);
	struct maplist *ml;
	const char *v;
	char *err = NULL;

	if (len < 5 || strcmp(name + len - 5, "_maps") != 0 ||
	    *config_str(name) == '\0')
		return;
	ml = maplist_open(config_str(name), &err);
	if (ml == NULL) {
		fprintf(stderr, "tempest: check: %s: %s\n", name, err);
		free(err);
		c->errors++;
		return;
	}
	/* an unavailable table says so itself (maps.c), on stderr here */
	if (maplist_lookup(ml, "tempest-check-probe", &v) < 0) {
		fprintf(stderr, "tempest: check: warning: %s: a table of it "
		    "cannot be read; lookups in it answer \"try again\"\n", name);
		c->warnings++;
	}
	maplist_free(&ml);
}

/* The certificate and key a server will load at its start (cert and
 * key as the server chooses them: cert "" = the self-signed pair),
 * loaded now, so a bad one is said before the start. */
static void
check_tls_pair(struct check *c, const char *cert_param, const char *key_param,
    const char *cert, const char *key)
{
	char *err = NULL;

	if (*cert == '\0') {
		/* self-signed: say so when main.cf named one of the two */
		const char *set = *config_str(cert_param) != '\0' ? cert_param :
		    *config_str(key_param) != '\0' ? key_param : NULL;
		if (set != NULL) {
			fprintf(stderr, "tempest: check: warning: %s is set but "
			    "%s is empty: the self-signed certificate is used\n",
			    set, set == cert_param ? key_param : cert_param);
			c->warnings++;
		}
		return;
	}
	if (*key == '\0')
		key = cert;     /* for access() and the message */
	/* the servers read them as root; another user may not */
	if (access(cert, R_OK) < 0 || access(key, R_OK) < 0) {
		if (errno == EACCES) {
			fprintf(stderr, "tempest: check: warning: %s, %s: not "
			    "readable as this user, not checked\n", cert_param,
			    key_param);
			c->warnings++;
			return;
		}
	}
	if (tls_server_pair_check(cert, key, &err) < 0) {
		fprintf(stderr, "tempest: check: %s = %s, %s = %s: %s\n",
		    cert_param, cert, key_param, key, err);
		free(err);
		c->errors++;
	}
}

int
ctl_check_main(int argc, char **argv)
{
	struct check c = { 0, 0 };
	const char *cert, *key;
	char *err = NULL;

	(void)argc;
	(void)argv;
	if (config_load(ctl_config_dir(), &err) < 0) {
		fprintf(stderr, "tempest: check: %s\n", err);
		free(err);
		return 1;
	}
	if (master_check_services(&err) < 0) {
		fprintf(stderr, "tempest: check: %s\n", err);
		free(err);
		c.errors++;
	}
	config_each(check_tables, &c);
	check_tls_pair(&c, "smtpd_tls_cert_file", "smtpd_tls_key_file",
	    config_str("smtpd_tls_cert_file"), config_str("smtpd_tls_key_file"));
	login_tls_files(&cert, &key);
	check_tls_pair(&c, "imapd_tls_cert_file", "imapd_tls_key_file", cert, key);
	return c.errors > 0 ? 1 : 0;
}

int
ctl_reload_main(int argc, char **argv)
{
	pid_t pid = master_pid();
	char *err = NULL;

	(void)argc;
	(void)argv;
	if (pid == 0) {
		fprintf(stderr, "tempest: the mail system is not running\n");
		return 1;
	}
	/* master would refuse it too, but only its log would say so */
	if (master_check_services(&err) < 0) {
		fprintf(stderr, "tempest: reload: %s (nothing reloaded)\n", err);
		free(err);
		return 1;
	}
	if (kill(pid, SIGHUP) < 0) {
		fprintf(stderr, "tempest: reload: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "tempest: refreshing the mail system\n");
	return 0;
}

int
ctl_status_main(int argc, char **argv)
{
	pid_t pid = master_pid();

	(void)argc;
	(void)argv;
	if (pid == 0) {
		fprintf(stderr, "tempest: the mail system is not running\n");
		return 1;
	}
	fprintf(stderr, "tempest: the mail system is running: PID: %ld\n",
	    (long)pid);
	return 0;
}

int
ctl_flush_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (master_pid() == 0) {
		fprintf(stderr, "tempest: the mail system is not running\n");
		return 1;
	}
	if (service_trigger_send("qmgr", "F", 1) < 0) {
		fprintf(stderr, "tempest: flush: cannot reach qmgr: %s\n",
		    strerror(errno));
		return 1;
	}
	return 0;
}
