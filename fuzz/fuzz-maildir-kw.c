/*
 * fuzz-maildir-kw.c - libFuzzer target for maildir_kw_parse, the parser
 * of the UID list's keyword field (stored bytes that any program able to
 * write the Maildir can change).  Checks that a parsed field formats
 * back to the same bytes (the canonical form is the only accepted one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct maildir_kw kw;
	char *f;

	memset(&kw, 0, sizeof(kw));
	if (maildir_kw_parse((const char *)data, size, &kw) < 0)
		return 0;
	f = maildir_kw_format(&kw);
	if (f == NULL || strlen(f) != size || memcmp(f, data, size) != 0)
		abort();
	free(f);
	return 0;
}
