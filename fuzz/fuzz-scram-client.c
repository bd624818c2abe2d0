/*
 * fuzz-scram-client.c - libFuzzer target for the SCRAM-SHA-256 client's
 * parsers of server messages (bytes from the SMTP server the smtp client
 * authenticates to): the input is split at the first NUL into a
 * server-first and a server-final message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n1 = nul != NULL ? (size_t)(nul - data) : size;
	struct scram_client c;
	const char *err;
	char *final = NULL;

	free(scram_client_start(&c, "user", "pencil", "rOprNGfwEbeRWgbNEkqO"));
	if (scram_client_server_first(&c, (const char *)data, n1, &final,
	    &err) == 0) {
		free(final);
		if (nul != NULL)
			(void)scram_client_server_final(&c,
			    (const char *)nul + 1, size - n1 - 1, &err);
	}
	scram_client_free(&c);
	return 0;
}
