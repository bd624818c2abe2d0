/*
 * recipe-vacation.h - RFC 3834 checks for automatic replies (pure).
 */
#ifndef TEMPEST_RECIPE_VACATION_H
#define TEMPEST_RECIPE_VACATION_H

#include <stddef.h>

/*
 * Decide whether msg (a whole message, possibly starting with a From_
 * line) may get an automatic reply.  addrs: the user's addresses (the
 * message must be addressed to one of them); with none, login@ is looked
 * for instead (login NULL: no check).  1 = reply to *to_r (malloc'ed),
 * 0 = no reply, *why_r says why.
 */
int rc_vacation_check(const char *msg, size_t len, const char *const *addrs,
    size_t naddrs, const char *login, char **to_r, const char **why_r);
/* Unfolded value of the first header field `name` (malloc'ed) or NULL. */
char *rc_vac_header(const char *msg, size_t len, const char *name);
/* The bare address of a header value (malloc'ed). */
char *rc_vac_address(const char *v);

#endif
