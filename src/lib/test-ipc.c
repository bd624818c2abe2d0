/* test-ipc.c - frames round trip and malformed frames are refused. */
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
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

int
main(void)
{
	T_RUN(test_roundtrip);
	return t_done();
}
