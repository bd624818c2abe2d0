/*
 * login_conn.h - what an IMAP and a POP3 client connection do the same
 * way, on both sides of the login split: in a login process (imap-login,
 * pop3-login) and in a post-login worker (imapd, pop3d -- worker).
 *
 * Each daemon's client holds one `struct login_conn` (c->conn) and keeps
 * to itself all that the protocol decides: replies, greeting, states,
 * commands, which failure closes a session.  Shared here: the session
 * id and client address, this process's list of connections, admission
 * by the post-login master (and the implicit-TLS greeting order), the
 * plaintext-auth policy, the hold after a failed login, the password
 * check and hand-over through the master, closing and the end of a
 * connection.  (login_master.c's `lconn` is something else: a login
 * process's connection to the master.)
 *
 * Untrusted bytes: none are parsed here; a user name and password from
 * the client are only passed on to the post-login master.
 */
#ifndef TEMPEST_LOGIN_CONN_H
#define TEMPEST_LOGIN_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "ioev.h"
#include "login_client.h"
#include "login_settings.h"

struct event;
struct login_session;

/* Failed logins on a connection after which its hold ends by closing
 * the session (both protocols). */
#define LOGIN_FAILURES_MAX 3

struct login_conn {
	struct io *io;
	char id[20];            /* session id: "imap12.345", "pop7.345" */
	char ip[64];            /* client address */
	int64_t sid;            /* login: our number at the post-login master;
	                           worker: the master's session number */
	int worker;             /* served in a worker (after login) */
	int secured;            /* worker: TLS to the client (relayed) */
	int trusted;            /* plaintext auth allowed without TLS */
	int paused;             /* input not processed (admission, password
	                           check, hold, closing, protocol waits) */
	int closing;
	int failures;           /* failed logins on this connection */
	int tls_wrapper;        /* implicit TLS: greeting after the handshake */
	int refused;            /* over the per-address limit: refusal after it */
	struct event *hold_ev;  /* the hold after a failed login */
	struct event *deadline_ev;      /* login_conn_deadline() */
	io_callback cb;         /* the io's callback (login process) */
	void (*hold_done)(void *owner);
	char *login_user;       /* the user name the master is checking */
	void *owner;            /* the daemon's client holding this */
	struct login_conn *next, *prev;
};

/* This process's connections, newest first. */
extern struct login_conn *login_conns;

/* Login process: a client connected on fd.  Sets the session id
 * (PROTO, a process-wide counter, the pid) and address, whether the
 * address is in set->trusted_nets, opens the io (callback cb, argument
 * owner, input timeout in seconds) with input paused, and asks the
 * post-login master to admit the client (per-address limit over all
 * login processes): admitted(allowed, owner) follows. */
void login_conn_accept(struct login_conn *lc, const char *proto, int fd,
    const struct sockaddr *sa, const struct login_settings *set,
    long long timeout, io_callback cb, login_connect_cb admitted,
    void *owner);
/* Login process: the client must have logged in (been handed over)
 * within seconds of now, however it trickles its input (the io timeout
 * is per read); then its io callback gets IO_TIMEOUT (IO_ERROR when it
 * is already closing: output that never drains).  0: no deadline. */
void login_conn_deadline(struct login_conn *lc, long long seconds);
/* Worker: a session the post-login master handed over (no timeout set). */
void login_conn_worker(struct login_conn *lc, int fd,
    const struct login_session *s, io_callback cb, void *owner);
/* Worker: the session's mailbox is open and the daemon's "logged in"
 * reply queued: log the session and put back the input the client had
 * pipelined behind its login, for the caller to read now. */
void login_conn_session_open(struct login_conn *lc,
    const struct login_session *s);

enum login_greet {
	LOGIN_GREET_WAIT,       /* nothing to send (yet) */
	LOGIN_GREET_NOW,        /* send the greeting */
	LOGIN_GREET_REFUSE,     /* send the refusal and close */
};
/* The master's answer to admission: logs it and resumes input when the
 * client is admitted (or refused in wrapper mode); with wrapper_ctx
 * (implicit TLS: IMAPS, POP3S) starts the handshake, and the greeting or
 * refusal waits for it. */
enum login_greet login_conn_admitted(struct login_conn *lc, int allowed,
    SSL_CTX *wrapper_ctx);
/* At IO_TLSREADY: what the implicit-TLS handshake was waiting for. */
enum login_greet login_conn_tls_ready(struct login_conn *lc);

/* TLS between the client and us, or the login process that relays. */
int login_conn_secured(const struct login_conn *lc);
/* Plaintext authentication (LOGIN, USER/PASS, PLAIN) is allowed: not
 * disabled, or over TLS, or from a trusted network. */
int login_conn_plaintext_ok(const struct login_conn *lc,
    const struct login_settings *set);

/* Longest user name and password passed on to the post-login master. */
#define LOGIN_USER_MAX 256
#define LOGIN_PASSWORD_MAX 1024

/* Ask the post-login master to check a password (it asks the auth
 * service: failure delay, lockout; and counts the user's sessions);
 * input is paused and lc->login_user keeps the name asked for until
 * cb(..., owner) runs.  -1 (nothing asked) when the user name or the
 * password is too long: a failed login. */
int login_conn_auth(struct login_conn *lc, const char *user,
    const char *pass, login_auth_cb cb);
/* Pause input for seconds, then done(owner). */
void login_conn_hold(struct login_conn *lc, long long seconds,
    void (*done)(void *owner));
/* A failed login (its reply already queued): count it, and hold the
 * session for delay seconds times the failed logins from the client's
 * address on this process's connections (at most 8 times), then
 * done(owner); the owner closes the session at LOGIN_FAILURES_MAX. */
void login_conn_failed(struct login_conn *lc, long long delay,
    void (*done)(void *owner));
/* The password was right: log the login and hand the session over to a
 * worker with the user's rights (tag: echoed by the worker, IMAP).  The
 * io has left lc; the caller frees its client. */
void login_conn_handoff(struct login_conn *lc, const char *user,
    const char *tag);

/* Resume input after a pause: 0 (nothing done) when closing. */
int login_conn_resume(struct login_conn *lc);
/* Stop reading for good: 1 when no output is pending, so the caller
 * frees its client now (else at IO_LOWAT). */
int login_conn_stop(struct login_conn *lc);
/* The connection ends: leaves the list, frees the io; a worker tells the
 * master, a login process (unless the session was handed over) tells the
 * master, logs the disconnect and leaves this process's session count. */
void login_conn_free(struct login_conn *lc);

/* One reply line, "[tag ]text\r\n", written at once. */
void login_vreply(struct io *io, const char *tag, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

#endif
