/*
 * copy.c - write a queued message into a mailbox file descriptor with
 * the delivery headers, optionally in mbox form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "local.h"
#include "mem.h"

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
			if (fd_write_all(fd, out.data, out.len) < 0)
				r = -1;
			buf_reset(&out);
			if (r == 0 && fd_write_all(fd, buf, (size_t)n) < 0)
				r = -1;
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
