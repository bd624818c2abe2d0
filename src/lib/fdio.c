/*
 * fdio.c - whole-buffer writes and reads.  The bytes read are the
 * caller's to trust or not; the buffer bounds them.
 */
#include <errno.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"

int
fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fd_read_all(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (buf_append(b, chunk, (size_t)n) < 0) {
			errno = EFBIG;  /* over b->max */
			return -1;
		}
	}
	return 0;
}
