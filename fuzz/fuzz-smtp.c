/* fuzz-smtp.c - libFuzzer target: SMTP command lines, paths, parameters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	const char *args, *params, *err;
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;

	memcpy(line, data, size);
	line[size] = '\0';
	smtp_path_init(&p);
	switch (smtp_parse_verb(line, strlen(line), &args)) {
	case SMTP_MAIL:
		if (smtp_parse_path_arg(args, "FROM", SMTP_PATH_ALLOW_NULL |
		    SMTP_PATH_ALLOW_UTF8, &p, &params, &err) == 0)
			smtp_parse_mail_params(params, &mp, &err);
		break;
	default:
		if (smtp_parse_path_arg(args, "TO", SMTP_PATH_ALLOW_BARE, &p,
		    &params, &err) == 0)
			smtp_parse_rcpt_params(params, &rp, &err);
		break;
	}
	smtp_parse_address(line, 0, &p, &err);
	smtp_path_free(&p);
	free(line);
	return 0;
}
