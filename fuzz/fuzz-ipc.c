/* fuzz-ipc.c - libFuzzer target: typed fields of an ipc frame body, as
 * read by every process from its peers (ipc_get_int / ipc_get_str). */
#include <stdint.h>
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	int64_t v;
	const char *s;
	size_t i;

	ipc_msg_init(&m, 0);
	if (buf_append(&m.body, data, size) < 0)
		return 0;
	/* walk the body as any reader would, in every order */
	for (i = 0; i < 64 && m.rpos < m.body.len; i++) {
		if ((data[i % (size ? size : 1)] & 1) ? ipc_get_int(&m, &v) < 0 :
		    ipc_get_str(&m, &s) < 0)
			if (ipc_get_int(&m, &v) < 0 && ipc_get_str(&m, &s) < 0)
				break;
	}
	ipc_msg_free(&m);
	return 0;
}
