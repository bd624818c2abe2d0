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
 * One request per connection is the normal use; the service answers
 * requests on one connection in order.  See doc/auth.md.
 */
#ifndef TEMPEST_AUTH_CLIENT_H
#define TEMPEST_AUTH_CLIENT_H

#define AUTH_VERIFY 0x41550001
#define AUTH_RESULT 0x41550002

enum auth_status { AUTH_OK = 0, AUTH_FAIL = 1, AUTH_TEMPFAIL = 2,
    AUTH_LOCKED = 3 };

struct auth_request;

/* status, canonical user (AUTH_OK) and reason; called exactly once
 * unless the request is cancelled. */
typedef void (*auth_callback)(enum auth_status status, const char *user,
    const char *reason, void *arg);

/* The socket path: path if absolute, else queue_dir/path (malloc'ed). */
char *auth_socket_path(const char *queue_dir, const char *path);

/* Start an asynchronous request on the event loop.  Never NULL: a
 * connection failure is reported through cb (AUTH_TEMPFAIL) from the
 * event loop.  The password is copied and cleansed after sending. */
struct auth_request *auth_request_start(const char *socket_path,
    const char *service, const char *client, const char *mech,
    const char *user, const char *password, auth_callback cb, void *arg);
/* Drop a pending request (no callback). */
void auth_request_cancel(struct auth_request **req);

/* Blocking variant for one-at-a-time daemons and commands.  Returns the
 * status; *user_r (malloc'ed, on AUTH_OK) and *reason_r (malloc'ed) may
 * be NULL pointers if not wanted. */
enum auth_status auth_verify_blocking(const char *socket_path,
    const char *service, const char *client, const char *mech,
    const char *user, const char *password, char **user_r, char **reason_r);

#endif
