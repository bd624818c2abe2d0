/*
 * master.h - the master process and the commands that control it.
 */
#ifndef TEMPEST_MASTER_H
#define TEMPEST_MASTER_H

/* Run master (foreground keeps the terminal and process group). */
int master_run(int foreground);
/* queue_directory/pid/master.pid (malloc'ed). */
char *master_pid_path(void);

#endif
