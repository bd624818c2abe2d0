/*
 * resolve.h - address classes and rewriting (Postfix's trivial-rewrite
 * and virtual alias expansion), shared by smtpd (relay control, unknown
 * recipients), cleanup (aliases) and qmgr (routing).
 *
 * Addresses come from SMTP envelopes (already syntax-checked by
 * lib-smtp) and are bounded by SMTP_PATH_MAX.
 */
#ifndef TEMPEST_RESOLVE_H
#define TEMPEST_RESOLVE_H

#include <stddef.h>

enum addr_class {
	ADDR_LOCAL,             /* mydestination */
	ADDR_VIRTUAL_ALIAS,     /* virtual_alias_domains */
	ADDR_VIRTUAL,           /* virtual_mailbox_domains */
	ADDR_RELAY,             /* relay_domains */
	ADDR_REMOTE,            /* anything else */
};

/* (Re)open the tables named by the configuration (before a chroot). */
void resolve_init(void);
/* Only what routing and alias expansion need (qmgr): the domain lists
 * and virtual_alias_maps, so a chrooted qmgr does not restart when a
 * user table changes; resolve_known_recipient/resolve_virtual_mailbox
 * are then a bug (panic). */
void resolve_init_routing(void);
/* Class of an address's domain (an address without @ is local). */
enum addr_class resolve_class(const char *addr);
/* The same, 0 or -1 when a domain table is unavailable (*class_r is then
 * the class found without it: a temporary error for the caller). */
int resolve_class_r(const char *addr, enum addr_class *class_r);
const char *resolve_class_name(enum addr_class c);
/* Whether the local part uses routing syntax (% ! @ :), which Tempest
 * never routes: such an address in our domains is never relayed. */
int resolve_has_routing(const char *addr);
/* Known recipient for reject_unlisted_recipient: 1 yes, 0 no, -1 tempfail. */
int resolve_known_recipient(const char *addr);
/* virtual_alias_maps expansion: the final addresses (malloc'ed array,
 * NULL-terminated), or NULL with *error_r, which starts with the DSN
 * status: "4.3.0 ..." a table is unavailable (try again later), "5.4.6
 * ..." a loop or the size limit. */
char **resolve_virtual_alias(const char *addr, char **error_r);
/* The mailbox of a virtual recipient: absolute path (trailing / = Maildir),
 * uid and gid.  1 found, 0 unknown, -1 error. */
int resolve_virtual_mailbox(const char *addr, char **path_r, long *uid_r,
    long *gid_r);
/* Lower-case the domain part in place (local parts keep their case). */
void resolve_fold_domain(char *addr);

#endif
