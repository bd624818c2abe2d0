/* fuzz-maildrop.c - libFuzzer target: maildrop files written by any local
 * user, read by pickup (maildrop_read). */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "maildrop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("maildrop", MFD_CLOEXEC);
	struct maildrop md;
	const char *err;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    maildrop_read(fd, &md, &err) == 0)
		maildrop_free(&md);
	else
		maildrop_free(&md);
	close(fd);
	return 0;
}
