/*
 * anvil_proto.h - the anvil service's lib/ipc frames (doc/anvil.md).
 *
 *   ANVIL_CONNECT     S key                -> ANVIL_REPLY I status I count I rate
 *   ANVIL_DISCONNECT  S key                (no reply)
 *
 * key is "SERVICE:ADDRESS", at most ANVIL_KEY_MAX bytes.  status 0 is
 * counted; ANVIL_FULL means the table (or this connection's list of open
 * sessions) is full: nothing was counted, the caller fails open.
 */
#ifndef TEMPEST_ANVIL_PROTO_H
#define TEMPEST_ANVIL_PROTO_H

#define ANVIL_CONNECT 1
#define ANVIL_DISCONNECT 2
#define ANVIL_REPLY 3

#define ANVIL_OK 0
#define ANVIL_FULL 1

#define ANVIL_KEY_MAX 256

#endif
