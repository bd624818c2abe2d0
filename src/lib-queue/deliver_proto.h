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

/*
 * A DELIVER_SENT status in a reply may carry, above its low four bits,
 * the DSN action qmgr reports to a sender who asked for NOTIFY=SUCCESS
 * (doc/dsn.md): delivered (0: a mailbox, file or command), relayed (to
 * a next hop without DSN), expanded (an alias or .forward with several
 * targets), or quiet (no notice from us: the next hop got NOTIFY and
 * reports itself, or a 1:1 alias passed NOTIFY on to the new copy).
 */
enum { DELIVER_DSN_DELIVERED = 0, DELIVER_DSN_RELAYED = 1,
       DELIVER_DSN_EXPANDED = 2, DELIVER_DSN_QUIET = 3 };
#define DELIVER_SENT_AS(action) (DELIVER_SENT | ((action) << 4))
#define DELIVER_STATUS_OF(st) ((st) & 0xf)
#define DELIVER_ACTION_OF(st) ((st) >> 4)

#endif
