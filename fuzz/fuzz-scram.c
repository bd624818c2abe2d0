/*
 * fuzz-scram.c - libFuzzer target for the SCRAM-SHA-256 client message
 * parsers: the input is split at the first NUL into a client-first and
 * a client-final message (bytes from SMTP/IMAP clients).
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
	struct scram_server st;
	const char *err;
	char *final = NULL;

	if (scram_client_first(&st, (const char *)data, n1, &err) < 0)
		return 0;
	if (scram_secret_parse("1,AAAAAAAAAAAAAAAAAAAAAA==,"
	    "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
	    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", &st.secret) < 0)
		abort();
	st.have_secret = 1;
	scram_server_first(&st, "servernonce");
	if (nul != NULL && scram_client_final(&st, (const char *)nul + 1,
	    size - n1 - 1, &final, &err) == 1)
		free(final);
	scram_server_free(&st);
	return 0;
}
