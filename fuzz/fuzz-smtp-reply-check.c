/* fuzz-smtp-reply-check.c - libFuzzer target: the content filter's reply
 * line as smtpd checks it before passing it to the client
 * (smtp_reply_check).  The first byte picks the wanted class. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtp_reply_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SMTP_REPLY_CHECK_MAX + 1], *line;
	const char *why = NULL;
	char want;
	size_t i;

	if (size == 0)
		return 0;
	want = "245"[data[0] % 3];
	line = malloc(size);
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	if (smtp_reply_check(want, line, out, sizeof(out), &why) == 0) {
		/* what passes is one printable line of the wanted class */
		if (out[0] != want || strlen(out) > SMTP_REPLY_CHECK_MAX)
			abort();
		for (i = 0; out[i] != '\0'; i++)
			if ((unsigned char)out[i] < 0x20 ||
			    (unsigned char)out[i] >= 0x7f)
				abort();
	} else if (why == NULL || out[0] != '\0')
		abort();
	free(line);
	return 0;
}
