/*
 * service.h - the skeleton every daemon started by master runs on.
 *
 * master execs `tempest -c DIR daemon ROLE -n SERVICE [-o name=value]...
 * [args]` with the service's listening sockets at descriptors 3.. (their
 * number in $TEMPEST_LISTEN_FDS) and a status pipe in $TEMPEST_STATUS_FD.
 * The skeleton loads main.cf, applies the -o overrides, opens the log,
 * drops privileges (to mail_owner when started as root for an unpriv
 * service; chroot when asked) and accepts connections on the event loop.
 *
 * Capacity: a process serves up to `limit` sessions at once (event-driven
 * daemons use smtpd_process_session_limit and the like; one-at-a-time
 * daemons use 1).  At the limit it stops accepting and tells master it is
 * busy, so master can start another process up to maxproc; new clients
 * wait in the listen queue rather than fail.  SIGTERM stops at once;
 * SIGHUP/SIGUSR1 (reload) stops accepting, lets the sessions finish, then
 * exits — master has already started the new generation.
 *
 * Chroot (master.cf column 5): the process opens its lookup tables while
 * it loads its settings, then service_drop_privileges() keeps them open
 * (maps_prepare_chroot) and chroots to queue_directory.  A table that
 * changes on disk (or is unavailable and failed a lookup) cannot be
 * re-read there: the skeleton notices it before accepting a connection,
 * after each session and before each trigger or timer, logs "table X has
 * changed -- restarting", and drains as for a reload (no new sessions,
 * exit 0 after the current ones); master then starts a fresh process.
 * Daemons must therefore open every table before dropping privileges.
 */
#ifndef TEMPEST_SERVICE_H
#define TEMPEST_SERVICE_H

#include <sys/socket.h>

typedef void (*service_accept_fn)(int fd, const struct sockaddr *sa,
    socklen_t salen, void *arg);
typedef void (*service_wakeup_fn)(void *arg);

/* Parse the daemon arguments, load configuration, open the log.  Returns
 * the index of the first non-option argument in argv. */
int service_init(int argc, char **argv, const char *role);
/* The master.cf service name (e.g. "127.0.0.1:2525", "local"). */
const char *service_name(void);
/* Drop root: chroot if requested, then setgid/setuid to mail_owner when
 * the service is unprivileged.  A no-op when not started as root. */
void service_drop_privileges(void);
/* Be sent SIGTERM when the master ends (and exit now if it already
 * has): again after any change of user or group, which clears that
 * (service_drop_privileges() does it itself). */
void service_watch_master(void);
/* A daemon that only other Tempest processes may reach (through
 * private/NAME) calls this before listening: when master.cf gives it a
 * network listener instead, it stops with a fatal error naming the
 * service and `hint` (what master.cf should say). */
void service_require_unix(const char *hint);
/* Accept connections on the inherited listeners, at most limit at once. */
void service_listen(service_accept_fn fn, void *arg, int limit);
/* Call fn every `seconds` (the master.cf wakeup column when seconds is 0;
 * no timer when both are 0). */
void service_wakeup(service_wakeup_fn fn, void *arg, int seconds);
/* For "fifo" services (a UNIX datagram socket at public/NAME): call fn
 * with each trigger datagram received (at most 64 bytes). */
typedef void (*service_trigger_fn)(void *arg, const char *data, size_t len);
void service_triggers(service_trigger_fn fn, void *arg);
/* Send a trigger datagram to the fifo service NAME ("qmgr", "pickup");
 * best effort (0 sent, -1 not). */
int service_trigger_send(const char *service, const char *data, size_t len);
/* Tell the fifo service NAME that new mail waits ("I"), retried every
 * 50 ms on the event loop until it gets through: its socket holds only a
 * few datagrams (net.unix.max_dgram_qlen), and a lost wake-up would leave
 * mail waiting for the service's own timer.  Calls while a retry is
 * pending add nothing: the one wake-up covers them. */
void service_trigger_wake(const char *service);
/* Whether such a wake-up is still being retried (it will cover new mail). */
int service_trigger_wake_pending(const char *service);
/* The queue directory as seen by this process ("/" when chrooted). */
const char *service_queue_dir(void);
/* Whether this process runs chrooted (to the queue directory), or will
 * once service_drop_privileges() ran. */
int service_chrooted(void);
/* An absolute path under queue_directory (as qmgr hands them to the
 * delivery agents) as this process sees it (malloc'ed). */
char *service_queue_path(const char *path);
/* Drain and restart when a lookup table changed (see above); true when
 * the process is draining.  Called by the skeleton; a daemon may call it
 * between requests of a long-lived session. */
int service_check_tables(void);
/* Drain and let master start a fresh process now (logged with why):
 * for a table this process can no longer read by itself, e.g. a
 * root-only file that changed after privileges were dropped. */
void service_restart(const char *why);
/* Every accepted session must end with this (it may exit the process
 * when draining and this was the last session). */
void service_session_end(void);
/* Run the event loop until stopped; returns the exit status. */
int service_run(void);
/* True once a reload/stop asked this process to finish. */
int service_draining(void);
/* Called when draining starts (optional). */
void service_on_drain(void (*fn)(void *), void *arg);
/* Called on SIGTERM/SIGINT before the process exits (optional): master
 * kills what is still running 4 seconds after its own stop signal. */
void service_on_stop(void (*fn)(void *), void *arg);

#endif
