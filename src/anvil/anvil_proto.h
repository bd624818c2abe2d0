/*
 * anvil_proto.h - the anvil service's lib/ipc frames (doc/anvil.md).
 *
 *   ANVIL_CONNECT        S key   -> ANVIL_REPLY I status I count I rate
 *   ANVIL_DISCONNECT     S key   (no reply)
 *   ANVIL_MAIL           S key   -> ANVIL_REPLY I status I count I mail rate
 *   ANVIL_RCPT           S key   -> ANVIL_REPLY I status I count I rcpt rate
 *   ANVIL_NEWTLS         S key   -> ANVIL_REPLY I status I count I newtls rate
 *   ANVIL_NEWTLS_STATUS  S key   -> ANVIL_REPLY ... newtls rate, not counted
 *   ANVIL_AUTH           S key   -> ANVIL_REPLY I status I count I auth rate
 *
 * key is "SERVICE:ADDRESS", at most ANVIL_KEY_MAX bytes.  count is the
 * number of sessions open now.  status 0 is counted; ANVIL_FULL means the
 * table (or this connection's list of open sessions) is full: nothing was
 * counted, the caller fails open.  The rate events (MAIL .. AUTH) share
 * one window per key with the connection rate, as Postfix's anvil(8).
 */
#ifndef TEMPEST_ANVIL_PROTO_H
#define TEMPEST_ANVIL_PROTO_H

#define ANVIL_CONNECT 1
#define ANVIL_DISCONNECT 2
#define ANVIL_REPLY 3
#define ANVIL_MAIL 4
#define ANVIL_RCPT 5
#define ANVIL_NEWTLS 6
#define ANVIL_NEWTLS_STATUS 7
#define ANVIL_AUTH 8

#define ANVIL_OK 0
#define ANVIL_FULL 1

#define ANVIL_KEY_MAX 256

#endif
