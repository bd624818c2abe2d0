/*
 * ipc.h - the one message format between Tempest processes.
 *
 * A frame is a 12-byte header (magic "TMP1", u32 type, u32 body length,
 * network order) followed by the body.  The body is a sequence of typed
 * fields, each self-describing: 'I' + 8-byte integer, or 'S' + u32 length
 * + bytes + NUL.  Readers pull fields in order with ipc_get_*(), which
 * check the tag, the bounds and (for strings) the absence of inner NULs,
 * so a corrupt or hostile peer can only make a read fail.  A whole frame
 * (header + body) is at most IPC_FRAME_MAX bytes, which is the event
 * loop's input buffer (IO_INPUT_MAX): a frame the readers accept always
 * fits there, and a header announcing more is refused at once (-1), on
 * the blocking and on the event-loop side alike.  A descriptor can travel
 * with a frame (SCM_RIGHTS) on the blocking calls.
 */
#ifndef TEMPEST_IPC_H
#define TEMPEST_IPC_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "ioev.h"

#define IPC_HDR 12
/* The one limit: a frame must fit the io input buffer whole. */
#define IPC_FRAME_MAX IO_INPUT_MAX
/* Largest body; ipc_put_*() beyond it is a bug (panic). */
#define IPC_MAX (IPC_FRAME_MAX - IPC_HDR)

/* Bytes an integer field and a string field take in a body (to check
 * that a message will fit before putting it together). */
#define IPC_INT_SIZE 9
#define ipc_str_size(s) (5 + strlen(s) + 1)

struct ipc_msg {
	uint32_t type;
	struct buf body;
	size_t rpos;            /* read position in body */
	int fd;                 /* passed descriptor or -1 */
};

void ipc_msg_init(struct ipc_msg *m, uint32_t type);
void ipc_msg_free(struct ipc_msg *m);
void ipc_put_int(struct ipc_msg *m, int64_t v);
void ipc_put_str(struct ipc_msg *m, const char *s);
/* 0 on success, -1 if the next field is missing or of another type. */
int ipc_get_int(struct ipc_msg *m, int64_t *r);
/* The string stays valid until the message is freed or reused. */
int ipc_get_str(struct ipc_msg *m, const char **r);

/* Blocking send/receive on a stream socket.  ipc_recv returns 1 for a
 * message, 0 on clean EOF, -1 on error or malformed frame. */
int ipc_send(int fd, struct ipc_msg *m);
int ipc_recv(int fd, struct ipc_msg *m);
/* Event-loop side: take one complete frame from the io's input.
 * 1 = message, 0 = need more, -1 = malformed (close the peer). */
int ipc_io_take(struct io *io, struct ipc_msg *m);
/* Queue a frame on an io. */
void ipc_io_send(struct io *io, struct ipc_msg *m);

#endif
