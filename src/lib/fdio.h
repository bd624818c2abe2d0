/*
 * fdio.h - whole-buffer writes on blocking descriptors (mailbox files,
 * pipes to programs): retried on EINTR and short writes.
 */
#ifndef TEMPEST_FDIO_H
#define TEMPEST_FDIO_H

#include <stddef.h>

/* Write all n bytes: 0, or -1 with errno set. */
int fd_write_all(int fd, const void *p, size_t n);

#endif
