/*
 * fuzz-pop3.c - libFuzzer target for lib-pop3's command tokenizer.
 */
#include <stdint.h>
#include <string.h>

#include "pop3_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pop3_cmd cmd;
	const char *err;
	unsigned n;

	if (pop3_parse((const char *)data, size, &cmd, &err) == 0) {
		if (cmd.nargs > 0)
			(void)pop3_msgnum(cmd.args[0], 100, &n);
		pop3_cmd_free(&cmd);
	}
	return 0;
}
