/* fuzz-relays.c - libFuzzer target: arbitrary bytes as one Received:
 * line through relay_parse() and relay_string(), as a date through
 * msg_date_parse(), as an address header's value through
 * he_parse_addresses(), then as a message whose headers
 * relays_of_message(), relays_envelope_from() and msg_date_diff() read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "header_eval.h"
#include "mime.h"
#include "msg_date.h"
#include "relays.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay r;
	struct relays rl;
	struct mime_msg m;
	struct buf b;
	int64_t t;
	char *env;
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
	(void)msg_date_parse((const char *)data, size, &t);
	{
		char *v = malloc(size + 1), *a[8], *nm[8];
		size_t n;
		memcpy(v, data, size);
		v[size] = '\0';
		n = he_parse_addresses(v, a, nm, 8);
		if (n > 8)
			__builtin_trap();
		for (size_t k = 0; k < n; k++) {
			if (a[k] != NULL && strchr(a[k], '@') == NULL)
				__builtin_trap();       /* an address has its '@' */
			free(a[k]);
			free(nm[k]);
		}
		free(v);
	}
	mime_parse(&m, (const char *)data, size, NULL);
	relays_of_message(&m, NULL, &rl);
	env = relays_envelope_from(&m, &rl);
	if (env != NULL && strchr(env, '@') == NULL)
		__builtin_trap();       /* an address has its '@' */
	free(env);
	(void)msg_date_diff(&m);
	relays_free(&rl);
	mime_free(&m);
	return 0;
}
