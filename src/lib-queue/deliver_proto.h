/*
 * deliver_proto.h - the request/reply exchanged between qmgr and the
 * delivery agents (local, smtp), as lib/ipc frames.
 *
 * DELIVER_REQUEST fields, in order:
 *   str  queue id          str  queue file path (active/ID)
 *   int  content offset    int  content length
 *   int  arrival (us)      str  sender
 *   int  recipient count N, then N times:
 *        str recipient   str orcpt   int notify   int record offset
 *   str  attributes ("name=value\n"...)   (client, helo, protocol, ...)
 * DELIVER_REPLY: int N, then N times: int status (DELIVER_*) + str text
 *   (DSN status "x.y.z" + space + human text, e.g.
 *    "2.0.0 delivered to maildir", "5.1.1 unknown user: \"x\"").
 */
#ifndef TEMPEST_DELIVER_PROTO_H
#define TEMPEST_DELIVER_PROTO_H

#define DELIVER_REQUEST 0x44520001
#define DELIVER_REPLY   0x44520002

enum { DELIVER_SENT = 0, DELIVER_DEFER = 1, DELIVER_BOUNCE = 2 };

#endif
