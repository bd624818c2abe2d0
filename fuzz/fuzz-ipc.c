/* fuzz-ipc.c - libFuzzer target: ipc frames as read by every process from
 * its peers.  The bytes go twice: as a frame body walked field by field
 * (ipc_get_int / ipc_get_str), and as a byte stream through a local
 * socketpair into ipc_recv (magic, type, length bound, body), each frame
 * it accepts walked the same way. */
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* walk the body as any reader would, in an order the bytes choose */
static void
walk(struct ipc_msg *m, const uint8_t *data, size_t size)
{
	int64_t v;
	const char *s;
	size_t i;

	for (i = 0; i < 64 && m->rpos < m->body.len; i++) {
		if ((data[i % (size ? size : 1)] & 1) ? ipc_get_int(m, &v) < 0 :
		    ipc_get_str(m, &s) < 0)
			if (ipc_get_int(m, &v) < 0 && ipc_get_str(m, &s) < 0)
				break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	int sv[2];

	ipc_msg_init(&m, 0);
	if (buf_append(&m.body, data, size) < 0) {
		ipc_msg_free(&m);
		return 0;
	}
	walk(&m, data, size);
	ipc_msg_free(&m);

	/* the stream fits the socket buffer: the write never blocks */
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[0], data, size) == (ssize_t)size) {
		shutdown(sv[0], SHUT_WR);
		ipc_msg_init(&m, 0);
		while (ipc_recv(sv[1], &m) == 1) {
			if (m.fd >= 0)
				close(m.fd);
			walk(&m, data, size);
		}
		ipc_msg_free(&m);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
