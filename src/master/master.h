/*
 * master.h - the master process and the commands that control it.
 */
#ifndef TEMPEST_MASTER_H
#define TEMPEST_MASTER_H

/* Run master (foreground keeps the terminal and process group). */
int master_run(int foreground);
/* master.cf as master would run it, nothing bound or started (tempest
 * check, tempest reload): 0, or -1 with *error_r; a service that is
 * not a Tempest daemon is a warning (logged), not an error. */
int master_check_services(char **error_r);
/* queue_directory/pid/master.pid (malloc'ed). */
char *master_pid_path(void);

#endif
