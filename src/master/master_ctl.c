/*
 * master_ctl.c - tempest start|start-fg|stop|reload|status|flush.
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
#include "master.h"
#include "mem.h"
#include "roles.h"
#include "service.h"

static pid_t
master_pid(void)
{
	char *path;
	FILE *fp;
	long pid = 0;

	config_load_or_die(ctl_config_dir());
	path = master_pid_path();
	fp = fopen(path, "r");
	free(path);
	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	if (pid <= 0 || kill((pid_t)pid, 0) < 0)
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
	kill(pid, SIGTERM);
	for (i = 0; i < 100; i++) {
		struct timespec ts = { 0, 100000000 };
		if (kill(pid, 0) < 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "tempest: master pid %ld did not stop\n", (long)pid);
	return 1;
}

int
ctl_reload_main(int argc, char **argv)
{
	pid_t pid = master_pid();

	(void)argc;
	(void)argv;
	if (pid == 0) {
		fprintf(stderr, "tempest: the mail system is not running\n");
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
