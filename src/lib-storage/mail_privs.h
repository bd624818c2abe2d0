/*
 * mail_privs.h - the identity the IMAP and POP3 processes run with.
 *
 * The access daemons serve many users' sessions in one process, so they
 * cannot take each user's uid.  Virtual mailboxes all belong to one uid
 * (virtual_uid_maps / virtual_gid_maps = static:N), so the process runs
 * as that uid: it can read every virtual mailbox and nothing of root's.
 * Without a static virtual uid the process runs as mail_owner.  Users
 * whose mailbox uid differs from the process's are refused at login.
 */
#ifndef TEMPEST_MAIL_PRIVS_H
#define TEMPEST_MAIL_PRIVS_H

/* When running as root: switch to the virtual mail uid/gid (or
 * mail_owner) for good.  fatal() on failure. */
void mail_privs_drop(const char *role);

#endif
