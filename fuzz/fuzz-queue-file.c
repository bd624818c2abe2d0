/* fuzz-queue-file.c - libFuzzer target: queue files read back from disk
 * (qfile_open) and the start-up checksum check (queue_file_checksum),
 * which treat them as untrusted (a crash leaves any prefix or a mix of
 * blocks, a disk may return garbage).  The bytes go into a memfd with
 * the finished file's mode and are opened through /proc/self/fd. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "queue_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("queue-file", MFD_CLOEXEC);
	char path[64], *err = NULL;
	struct qfile qf;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    fchmod(fd, QUEUE_MODE_COMPLETE) == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		size_t pending;
		for (int flags = 0; flags <= QF_ANY_NAME; flags += QF_ANY_NAME) {
			if (qfile_open(path, flags, &qf, &err) == 0)
				qfile_close(&qf);
			else
				free(err);
			err = NULL;
		}
		(void)queue_file_checksum(fd, "0BCE7CA47C49", &pending);
	}
	close(fd);
	return 0;
}
