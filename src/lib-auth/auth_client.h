/*
 * auth_client.h - asking the auth service (src/auth) to verify a
 * password, over lib/ipc frames on its UNIX socket
 * ($queue_directory/private/auth by default).
 *
 * AUTH_VERIFY fields, in order:
 *   str service ("smtp", "imap", ...)   str client address (for lockout
 *   and logs)   str mechanism ("PLAIN")  str user   str password
 * AUTH_RESULT fields:
 *   int status (AUTH_OK, AUTH_FAIL, AUTH_TEMPFAIL, AUTH_LOCKED)
 *   str user as the table knows it (on AUTH_OK)   str reason (for logs)
 *   str data (optional; SCRAM: the server-final message "v=...")
 * SCRAM-SHA-256 takes two round trips on one connection:
 * AUTH_SCRAM_FIRST (str service, str client address, str client-first
 * message) is answered by AUTH_CONTINUE (str server-first message) or
 * AUTH_RESULT; then AUTH_SCRAM_FINAL (str client-final message) is
 * answered by AUTH_RESULT.
 * One request per connection is the normal use; the service answers
 * requests on one connection in order.  See doc/auth.md.
 */
#ifndef TEMPEST_AUTH_CLIENT_H
#define TEMPEST_AUTH_CLIENT_H

#define AUTH_VERIFY 0x41550001
#define AUTH_RESULT 0x41550002
#define AUTH_SCRAM_FIRST 0x41550003
#define AUTH_CONTINUE 0x41550004
#define AUTH_SCRAM_FINAL 0x41550005

enum auth_status { AUTH_OK = 0, AUTH_FAIL = 1, AUTH_TEMPFAIL = 2,
    AUTH_LOCKED = 3 };

/* Status given to an auth_step_callback for AUTH_CONTINUE: data is the
 * server's next message and the request stays open. */
#define AUTH_STATUS_MORE 4

struct auth_request;

/* status, canonical user (AUTH_OK) and reason; called exactly once
 * unless the request is cancelled. */
typedef void (*auth_callback)(enum auth_status status, const char *user,
    const char *reason, void *arg);
/* Multi-step exchanges (SCRAM): status is an enum auth_status or
 * AUTH_STATUS_MORE; data is the server's message (SCRAM server-first,
 * or server-final with AUTH_OK), else "".  Called once per round trip;
 * after any status but AUTH_STATUS_MORE the request is gone. */
typedef void (*auth_step_callback)(int status, const char *user,
    const char *reason, const char *data, void *arg);

/* The socket path: path if absolute, else queue_dir/path (malloc'ed). */
char *auth_socket_path(const char *queue_dir, const char *path);

/* Start an asynchronous request on the event loop.  Never NULL: a
 * connection failure is reported through cb (AUTH_TEMPFAIL) from the
 * event loop.  The password is copied and cleansed after sending. */
struct auth_request *auth_request_start(const char *socket_path,
    const char *service, const char *client, const char *mech,
    const char *user, const char *password, auth_callback cb, void *arg);
/* Start a SCRAM-SHA-256 exchange with the client-first message. */
struct auth_request *auth_scram_start(const char *socket_path,
    const char *service, const char *client, const char *client_first,
    auth_step_callback cb, void *arg);
/* Send the client-final message after AUTH_STATUS_MORE. */
void auth_scram_final(struct auth_request *req, const char *client_final);
/* Drop a pending request (no callback). */
void auth_request_cancel(struct auth_request **req);

/* Blocking variant for one-at-a-time daemons and commands.  Returns the
 * status; *user_r (malloc'ed, on AUTH_OK) and *reason_r (malloc'ed) may
 * be NULL pointers if not wanted. */
enum auth_status auth_verify_blocking(const char *socket_path,
    const char *service, const char *client, const char *mech,
    const char *user, const char *password, char **user_r, char **reason_r);

#endif
