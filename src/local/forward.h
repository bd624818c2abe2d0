/*
 * forward.h - aliases(5), ~/.forward and :include: lists for local
 * delivery: what a local recipient expands to before its mailbox.
 */
#ifndef TEMPEST_FORWARD_H
#define TEMPEST_FORWARD_H

#include "buf.h"
#include "local.h"

/* Open alias_maps (at start and on reload). */
void forward_init(void);
/* Aliases, then the user's .forward: DELIVER_* when handled (the
 * targets were delivered or forwarded), -1 to go on with the mailbox of
 * user (no alias/.forward, or one that names the user itself). */
int forward_deliver(const struct delivery *d, const char *user,
    struct buf *text);

/* The DSN action (DELIVER_DSN_*, deliver_proto.h) of the recipient last
 * handled by forward_deliver, for its DELIVER_SENT reply; reset to
 * "delivered" for the next recipient. */
int forward_dsn_action(void);

/* The final status of d's recipient (after its mailbox, if any): when
 * it is deferred, remember the alias/.forward targets it reached, so the
 * retry skips them.  Call once per recipient, whatever the path. */
void forward_finish(const struct delivery *d, int status);

#endif
