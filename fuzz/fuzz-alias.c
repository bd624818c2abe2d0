/* fuzz-alias.c - libFuzzer target: forwarding lists (alias values,
 * .forward and :include: files). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alias_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
sink(void *arg, char *t)
{
	(void)arg;
	return t[0] == '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *list = alias_file_list((const char *)data, size);

	(void)alias_split(list, sink, NULL);
	free(list);
	return 0;
}
