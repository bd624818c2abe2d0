/* fuzz-smtp-sasl.c - libFuzzer target: the AUTH line of a server's EHLO
 * reply as read by the outbound client, and the helpers it feeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "smtp_sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	char u[16], p[16];
	unsigned m = 0;

	memcpy(line, data, size);
	line[size] = '\0';
	(void)smtp_sasl_ehlo_auth(line, &m);
	(void)smtp_sasl_choose(m | smtp_sasl_mech_list(line), 0, (int)(size & 1));
	(void)smtp_sasl_split_secret(line, u, sizeof(u), p, sizeof(p));
	free(line);
	return 0;
}
