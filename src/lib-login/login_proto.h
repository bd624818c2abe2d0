/*
 * login_proto.h - frames between the unprivileged login processes
 * (imap-login, pop3-login), the post-login master (imapd, pop3d: root,
 * never reads network bytes) and its mail workers (one per user uid).
 * All frames are lib/ipc frames; see doc/imap.md "Processes".
 *
 * login -> master (one stream connection per login process, opened
 * before the login process chroots and drops root):
 *   LOGIN_CONNECT  int sid, str client ip          (asks the per-IP limit)
 *   LOGIN_AUTH     int sid, str mech, str user, str password
 *   LOGIN_HANDOFF  int sid, int secured, str session id, str tag,
 *                  str pending input (hex) + the client descriptor
 *   LOGIN_CLOSE    int sid                         (pre-login session gone)
 * master -> login:
 *   LOGIN_CONNECTED int sid, int allowed
 *   LOGIN_AUTHED    int sid, int status (enum auth_status or
 *                   LOGIN_STATUS_LIMIT), str user, str reason
 * master -> worker:
 *   LOGIN_SESSION  int gsid, str user, str mailbox, str ip, int secured,
 *                  str session id, str tag, str pending input (hex)
 *                  + the client descriptor
 * worker -> master:
 *   LOGIN_END      int gsid
 *
 * A login process can only hand over a session the master itself
 * authenticated (through the auth service) on that same connection; the
 * user name, mailbox and uid come from the master's user table lookup,
 * never from the login process.
 */
#ifndef TEMPEST_LOGIN_PROTO_H
#define TEMPEST_LOGIN_PROTO_H

#define LOGIN_CONNECT   0x4c470001
#define LOGIN_CONNECTED 0x4c470002
#define LOGIN_AUTH      0x4c470003
#define LOGIN_AUTHED    0x4c470004
#define LOGIN_HANDOFF   0x4c470005
#define LOGIN_CLOSE     0x4c470006
#define LOGIN_SESSION   0x4c470007
#define LOGIN_END       0x4c470008

/* LOGIN_AUTHED status beyond enum auth_status: the password was right
 * but the user has too many sessions. */
#define LOGIN_STATUS_LIMIT 10

/* Largest pending input carried with a handoff (bytes, before hex). */
#define LOGIN_INPUT_MAX (64 * 1024)

#include "buf.h"

/* Pending input travels hex-encoded (ipc strings hold no NUL):
 * buf_append_hex() and buf_append_unhex(). */

#endif
