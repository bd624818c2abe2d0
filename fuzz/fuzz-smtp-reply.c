/* fuzz-smtp-reply.c - libFuzzer target: SMTP server replies as read by
 * the outbound client (reply lines, enhanced status codes, EHLO keywords). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	const char *text;
	int code, more;
	unsigned feat = 0;
	unsigned long long sz = 0;

	memcpy(line, data, size);
	line[size] = '\0';
	if (smtp_reply_line(line, strlen(line), &code, &more, &text) == 0) {
		(void)smtp_reply_dsn_len(text);
		smtp_ehlo_keyword(text, &feat, &sz);
	}
	free(line);
	return 0;
}
