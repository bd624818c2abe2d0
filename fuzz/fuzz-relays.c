/* fuzz-relays.c - libFuzzer target: arbitrary bytes as one Received:
 * line through relay_parse() and relay_string(), then as a message whose
 * headers relays_of_message() reads (the X-Spam-Relays-* strings). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "relays.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay r;
	struct relays rl;
	struct mime_msg m;
	struct buf b;
	int rc = relay_parse((const char *)data, size, &r);

	buf_init(&b, BUF_UNLIMITED);
	if (rc == RELAY_OK) {
		relay_string(&r, 0, &b);
		/* every field is bounded and NUL-terminated */
		if (strlen(r.ip) >= sizeof(r.ip) || strlen(r.by) >= sizeof(r.by) ||
		    memchr(b.data, ']', b.len) == NULL)
			__builtin_trap();
		(void)relay_ip_private(r.ip);
	}
	buf_free(&b);
	mime_parse(&m, (const char *)data, size, NULL);
	relays_of_message(&m, NULL, &rl);
	relays_free(&rl);
	mime_free(&m);
	return 0;
}
