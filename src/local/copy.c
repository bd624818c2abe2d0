/*
 * copy.c - write a queued message into a mailbox file descriptor with
 * the delivery headers, optionally in mbox form.
 */
#include <sys/uio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "local.h"
#include "mem.h"

/* Write a then b (either may be empty): 0, or -1 with errno. */
static int
writev_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2];
	int n = 0;

	if (alen > 0)
		iov[n++] = (struct iovec){ (void *)(uintptr_t)a, alen };
	if (blen > 0)
		iov[n++] = (struct iovec){ (void *)(uintptr_t)b, blen };
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		size_t k;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		k = (size_t)w;
		while (n > 0 && k >= iov[0].iov_len) {
			k -= iov[0].iov_len;
			iov[0] = iov[1];
			n--;
		}
		if (n > 0) {
			iov[0].iov_base = (char *)iov[0].iov_base + k;
			iov[0].iov_len -= k;
		}
	}
	return 0;
}

int
local_copy_message(const struct delivery *d, int fd, int mbox)
{
	struct buf out;
	char buf[65536];
	size_t off = 0;
	int at_line_start = 1, r = 0;

	buf_init(&out, sizeof(buf) * 2 + 4096);
	if (mbox) {
		time_t t = (time_t)(d->arrival_us / 1000000);
		char date[64];
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		buf_printf(&out, "From %s  %s\n", *d->sender ? d->sender :
		    "MAILER-DAEMON", date);
	}
	buf_printf(&out, "Return-Path: <%s>\nDelivered-To: %s\n", d->sender,
	    d->rcpt);
	while (off < d->content_len && r == 0) {
		size_t want = d->content_len - off, i;
		ssize_t n;
		if (want > sizeof(buf))
			want = sizeof(buf);
		n = pread(d->fd, buf, want, d->content_off + (off_t)off);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			r = -1;
			break;
		}
		if (!mbox) {
			/* the delivery headers and the first block in one call */
			if (writev_all(fd, out.data, out.len, buf, (size_t)n) < 0)
				r = -1;
			buf_reset(&out);
		} else {
			for (i = 0; i < (size_t)n; i++) {
				if (at_line_start && (size_t)n - i >= 5 &&
				    memcmp(buf + i, "From ", 5) == 0)
					buf_appendc(&out, '>');
				else if (at_line_start && (size_t)n - i < 5 &&
				    buf[i] == 'F') {
					/* a From_ split across reads: check the file */
					char peek[5];
					if (pread(d->fd, peek, 5, d->content_off +
					    (off_t)(off + i)) == 5 &&
					    memcmp(peek, "From ", 5) == 0)
						buf_appendc(&out, '>');
				}
				buf_appendc(&out, buf[i]);
				at_line_start = buf[i] == '\n';
			}
			if (fd_write_all(fd, out.data, out.len) < 0)
				r = -1;
			buf_reset(&out);
		}
		off += (size_t)n;
		/* more to come: start the writeback of what is written, so
		 * the fsync after the copy has little left to wait for */
		if (r == 0 && off < d->content_len)
			(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
	if (r == 0 && mbox) {
		/* a message ends with an empty line */
		if (fd_write_all(fd, at_line_start ? "\n" : "\n\n",
		    at_line_start ? 1 : 2) < 0)
			r = -1;
	}
	if (r == 0 && out.len > 0 && fd_write_all(fd, out.data, out.len) < 0)
		r = -1;
	buf_free(&out);
	return r;
}
