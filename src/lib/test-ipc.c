/* test-ipc.c - frames round trip and malformed frames are refused; the
 * frame limit fits the event loop's input buffer. */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ioev.h"
#include "ipc.h"
#include "test.h"

static void
test_roundtrip(void)
{
	int sv[2];
	struct ipc_msg a, b;
	int64_t v;
	const char *s;

	T_INTEQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ipc_msg_init(&a, 7);
	ipc_put_int(&a, -5);
	ipc_put_str(&a, "hello");
	ipc_put_str(&a, "");
	T_INTEQ(ipc_send(sv[0], &a), 0);
	ipc_msg_init(&b, 0);
	T_INTEQ(ipc_recv(sv[1], &b), 1);
	T_INTEQ(b.type, 7);
	T_INTEQ(ipc_get_str(&b, &s), -1);        /* wrong tag */
	T_INTEQ(ipc_get_int(&b, &v), 0); T_INTEQ(v, -5);
	T_INTEQ(ipc_get_str(&b, &s), 0); T_STREQ(s, "hello");
	T_INTEQ(ipc_get_str(&b, &s), 0); T_STREQ(s, "");
	T_INTEQ(ipc_get_int(&b, &v), -1);        /* past the end */
	/* A truncated string field. */
	b.body.len = 9 + 8;
	b.rpos = 9;
	T_INTEQ(ipc_get_str(&b, &s), -1);
	/* Garbage magic. */
	T_INTEQ(write(sv[0], "XXXXxxxxxxxx", 12), 12);
	T_INTEQ(ipc_recv(sv[1], &b), -1);
	close(sv[0]);
	T_INTEQ(ipc_recv(sv[1], &b), 0);
	close(sv[1]);
	ipc_msg_free(&a);
	ipc_msg_free(&b);
}

/* What the io callback saw. */
struct take_state {
	struct ipc_msg m;
	int result;             /* last ipc_io_take() result that ended the loop */
	int timed_out;
};

static void
take_cb(struct io *io, enum io_evt evt, void *arg)
{
	struct take_state *st = arg;
	int r;

	if (evt == IO_TIMEOUT || evt == IO_EOF || evt == IO_ERROR) {
		st->timed_out = evt == IO_TIMEOUT;
		io_loop_exit();
		return;
	}
	if (evt != IO_IN)
		return;
	r = ipc_io_take(io, &st->m);
	if (r != 0) {
		st->result = r;
		io_loop_exit();
	}
}

/* Send a frame whose header announces `announce` body bytes and that
 * carries `body` bytes (from a child: the socket buffer is smaller than
 * a frame), and take it through the event loop.  Returns the take
 * result, or 2 on timeout. */
static int
take_frame(uint32_t announce, size_t body, struct ipc_msg *m)
{
	struct take_state st;
	struct io *io;
	int sv[2], status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -2;
	pid = fork();
	if (pid == 0) {
		unsigned char h[12];
		uint32_t t = htonl(3), l = htonl(announce);
		char *p = calloc(1, body + 1);
		size_t done = 0;
		ssize_t n;

		close(sv[1]);
		memcpy(h, "TMP1", 4);
		memcpy(h + 4, &t, 4);
		memcpy(h + 8, &l, 4);
		if (write(sv[0], h, 12) != 12)
			_exit(1);
		while (done < body && (n = write(sv[0], p + done, body - done)) > 0)
			done += (size_t)n;
		/* stay until the reader has decided (it closes its end) */
		(void)read(sv[0], h, 1);
		_exit(0);
	}
	close(sv[0]);
	memset(&st, 0, sizeof(st));
	ipc_msg_init(&st.m, 0);
	io = io_new(sv[1], take_cb, &st);
	io_set_timeout(io, 5);
	io_loop();
	io_free(&io);
	waitpid(pid, &status, 0);
	*m = st.m;
	return st.timed_out ? 2 : st.result;
}

static void
test_frame_limit(void)
{
	struct ipc_msg m;
	int sv[2];
	unsigned char h[12];
	uint32_t l;

	/* A whole frame fits the io's input buffer. */
	T_OK(IPC_FRAME_MAX <= IO_INPUT_MAX);
	T_INTEQ(IPC_MAX + IPC_HDR, IPC_FRAME_MAX);
	/* The largest frame arrives whole through the event loop. */
	T_INTEQ(take_frame(IPC_MAX, IPC_MAX, &m), 1);
	T_INTEQ(m.body.len, IPC_MAX);
	ipc_msg_free(&m);
	/* One byte more is a protocol error as soon as the header is in,
	 * not a wait for a body that can never fit. */
	T_INTEQ(take_frame(IPC_MAX + 1, 0, &m), -1);
	ipc_msg_free(&m);
	T_INTEQ(take_frame(IPC_MAX + 1, IPC_MAX + 1, &m), -1);
	ipc_msg_free(&m);
	/* A frame the old 1 MiB limit allowed. */
	T_INTEQ(take_frame(300 * 1024, 300 * 1024, &m), -1);
	ipc_msg_free(&m);
	/* The blocking reader applies the same limit. */
	T_INTEQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memcpy(h, "TMP1\0\0\0\3", 8);
	l = htonl(IPC_MAX + 1);
	memcpy(h + 8, &l, 4);
	T_INTEQ(write(sv[0], h, 12), 12);
	ipc_msg_init(&m, 0);
	T_INTEQ(ipc_recv(sv[1], &m), -1);
	ipc_msg_free(&m);
	close(sv[0]);
	close(sv[1]);
	/* A sender cannot build a body over the limit: the buffer says so. */
	ipc_msg_init(&m, 0);
	T_INTEQ(m.body.max, IPC_MAX);
	ipc_msg_free(&m);
}

int
main(void)
{
	alarm(60);      /* a frame stuck in the input buffer is a failure */
	T_RUN(test_roundtrip);
	T_RUN(test_frame_limit);
	return t_done();
}
