/*
 * login_client.h - the login process's side (imap-login, pop3-login):
 * one connection to the post-login master, opened as root before the
 * process chroots into an empty directory and becomes login_user; the
 * master checks passwords and limits and takes authenticated sessions
 * over (login_master.h).
 *
 * Handing a session over: a plaintext client's descriptor travels to the
 * master (SCM_RIGHTS) with the input already read, and leaves this
 * process.  A TLS client stays here: a socketpair's other end is handed
 * over and this process relays decrypted bytes both ways until either
 * side closes (Dovecot's login proxy), so the worker never holds TLS
 * keys and this process never holds mail.
 */
#ifndef TEMPEST_LOGIN_CLIENT_H
#define TEMPEST_LOGIN_CLIENT_H

#include <stdint.h>

#include "service.h"

struct io;
struct login_settings;

/* A login process (imap-login, pop3-login), after service_init and with
 * its TLS key loaded: connect to the post-login master
 * ($queue_directory/private/PREFIX_post_login_service; fatal on
 * failure), then chroot(login_chroot_directory), setuid(login_user),
 * not dumpable (with only a log line when not started as root), and
 * serve clients, up to PREFIX_process_session_limit at a time: accept
 * runs for each.  Returns the exit status. */
int login_client_run(const char *role, const struct login_settings *set,
    service_accept_fn accept);

typedef void (*login_connect_cb)(int allowed, void *arg);
/* status: enum auth_status or LOGIN_STATUS_LIMIT. */
typedef void (*login_auth_cb)(int status, const char *user,
    const char *reason, void *arg);

/* Register a new connection (per-IP limit across processes). */
void login_client_connect(int64_t sid, const char *ip, login_connect_cb cb,
    void *arg);
/* Check a password through the master. */
void login_client_auth(int64_t sid, const char *mech, const char *user,
    const char *password, login_auth_cb cb, void *arg);
/* The pre-login session ends here: drop its callbacks, tell the master. */
void login_client_close(int64_t sid);
/* Hand an authenticated session over (after AUTH_OK).  *io is consumed;
 * tag is echoed by the worker in its reply (IMAP) or "".  The session
 * leaves this process's count (service_session_end) when it is no longer
 * served here: at once for plaintext, when the relay ends for TLS. */
void login_client_handoff(int64_t sid, struct io **io, const char *id,
    const char *tag);

#endif
