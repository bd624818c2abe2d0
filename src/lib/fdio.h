/*
 * fdio.h - whole-buffer writes and reads on blocking descriptors
 * (mailbox files, pipes to programs, stdin): retried on EINTR and short
 * writes.
 */
#ifndef TEMPEST_FDIO_H
#define TEMPEST_FDIO_H

#include <stddef.h>

struct buf;

/* Write all n bytes: 0, or -1 with errno set. */
int fd_write_all(int fd, const void *p, size_t n);
/* Read fd to its end into b (bounded by b's max): 0, or -1 with errno
 * set (EFBIG: more than b may hold). */
int fd_read_all(int fd, struct buf *b);

#endif
