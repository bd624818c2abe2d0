/*
 * login_master.h - the post-login side of IMAP and POP3 (Dovecot's
 * imap/pop3 "post-login" split, in two pieces).
 *
 * The master (`tempest daemon imapd` / `pop3d` on private/imapd,
 * private/pop3d) runs as root and reads only lib/ipc frames from login
 * processes and workers: it asks the auth service to check passwords,
 * counts sessions per client address and per user (one master per
 * protocol, so the limits hold however many login processes serve), looks
 * the user up in the user table, and passes each authenticated client
 * descriptor to a worker running with that user's uid/gid (started on
 * demand, one per uid: all virtual users share one).
 *
 * A worker is `tempest daemon ROLE ... -- worker`, exec'ed by the master
 * after setgid/setuid; it serves many sessions on its event loop and
 * reports each end so the master's counts stay true.
 */
#ifndef TEMPEST_LOGIN_MASTER_H
#define TEMPEST_LOGIN_MASTER_H

#include <stddef.h>
#include <stdint.h>

struct login_settings;

/* Run the master on the service's listener (after service_init).
 * service: the auth service name ("imap", "pop3"); set: the daemon's
 * limits and whether passwords go through the auth service (no: they
 * are checked against the user table here).  argv is the role's argv
 * (re-used, with "-- worker", to start workers).  Returns the exit
 * status. */
int login_master_run(const char *service, const struct login_settings *set,
    int argc, char **argv);

/* True when argv (after service_init's index) asks for worker mode. */
int login_worker_mode(int argc, char **argv, int argi);

struct login_session {
	int64_t gsid;
	const char *user, *mailbox, *ip, *id, *tag;
	int secured;            /* TLS between the client and the login */
	const char *input;      /* input the login process had read */
	size_t input_len;
};
typedef void (*login_session_fn)(int fd, const struct login_session *s);

/* Worker: receive sessions from the master (descriptor in the
 * environment); fn is called for each. */
void login_worker_init(login_session_fn fn);
/* Worker: a session ended. */
void login_worker_end(int64_t gsid);

#endif
