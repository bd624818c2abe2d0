/*
 * copy.c - write a queued message into a mailbox file descriptor with
 * the delivery headers, optionally in mbox form; and tell whether a
 * Maildir file holds exactly that copy (the duplicate check).
 *
 * Input: the queue file content (only copied and compared) and, for the
 * comparison, a file in the recipient's Maildir (read, bounded by the
 * expected size).
 */
#include <sys/stat.h>
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
#include "queue_file.h"

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

struct copy {
	const struct delivery *d;
	int fd, mbox;
	struct buf out;         /* pending output (headers, mbox quoting) */
	size_t off;             /* content bytes handled so far */
	int at_line_start;
};

/* qfile_read_range callback: one block of the content into the mailbox;
 * 1 (stop) after a write error, with errno. */
static int
copy_chunk(const char *data, size_t n, void *arg)
{
	struct copy *cp = arg;
	const struct delivery *d = cp->d;

	if (!cp->mbox) {
		/* the delivery headers and the first block in one call */
		if (writev_all(cp->fd, cp->out.data, cp->out.len, data, n) < 0)
			return 1;
		buf_reset(&cp->out);
	} else {
		for (size_t i = 0; i < n; i++) {
			if (cp->at_line_start && n - i >= 5 &&
			    memcmp(data + i, "From ", 5) == 0)
				buf_appendc(&cp->out, '>');
			else if (cp->at_line_start && n - i < 5 &&
			    data[i] == 'F') {
				/* a From_ split across reads: check the file */
				char peek[5];
				if (pread(d->fd, peek, 5, d->content_off +
				    (off_t)(cp->off + i)) == 5 &&
				    memcmp(peek, "From ", 5) == 0)
					buf_appendc(&cp->out, '>');
			}
			buf_appendc(&cp->out, data[i]);
			cp->at_line_start = data[i] == '\n';
		}
		if (fd_write_all(cp->fd, cp->out.data, cp->out.len) < 0)
			return 1;
		buf_reset(&cp->out);
	}
	cp->off += n;
	/* more to come: start the writeback of what is written, so the
	 * fsync after the copy has little left to wait for */
	if (cp->off < d->content_len)
		(void)sync_file_range(cp->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* The headers each copy starts with (after mbox's From_ line). */
static void
delivery_headers(const struct delivery *d, struct buf *out)
{
	buf_printf(out, "Return-Path: <%s>\nDelivered-To: %s\n", d->sender,
	    d->rcpt);
}

struct compare {
	int fd;                 /* the file compared with the copy */
	off_t off;              /* its offset of the next content byte */
	int err;                /* errno of a failed read of it */
};

/* Read exactly n bytes of fd at off into dst: 0, or -1 (errno; EIO when
 * the file is shorter). */
static int
pread_full(int fd, char *dst, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, dst, n, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		dst += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/* qfile_read_range callback: 2 when the file differs from this block of
 * the content, 3 when it cannot be read (errno in err), else 0. */
static int
compare_chunk(const char *data, size_t n, void *arg)
{
	struct compare *c = arg;
	char got[8192];

	while (n > 0) {
		size_t want = n < sizeof(got) ? n : sizeof(got);
		if (pread_full(c->fd, got, want, c->off) < 0) {
			c->err = errno;
			return errno == EIO ? 2 : 3;
		}
		if (memcmp(got, data, want) != 0)
			return 2;
		data += want;
		n -= want;
		c->off += (off_t)want;
	}
	return 0;
}

int
local_copy_compare(const struct delivery *d, int fd)
{
	struct compare c = { .fd = fd };
	struct buf hdr;
	struct stat st;
	char *got = NULL;
	int r;

	buf_init(&hdr, 65536 * 2 + 4096);
	delivery_headers(d, &hdr);
	if (fstat(fd, &st) < 0) {
		r = -1;
		goto out;
	}
	/* the size first: a copy cut short by a crash differs here */
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size !=
	    (uintmax_t)hdr.len + d->content_len) {
		r = 0;
		goto out;
	}
	got = xmalloc(hdr.len + 1);
	if (pread_full(fd, got, hdr.len, 0) < 0) {
		r = errno == EIO ? 0 : -1;
		goto out;
	}
	if (memcmp(got, hdr.data, hdr.len) != 0) {
		r = 0;
		goto out;
	}
	c.off = (off_t)hdr.len;
	switch (qfile_read_range(d->fd, d->content_off, d->content_len,
	    compare_chunk, &c)) {
	case 0:
		r = 1;
		break;
	case 2:
		r = 0;
		break;
	case 3:
		errno = c.err;
		r = -1;
		break;
	default:                /* the queue file (errno set) */
		r = -1;
		break;
	}
out:
	free(got);
	buf_free(&hdr);
	return r;
}

int
local_copy_message(const struct delivery *d, int fd, int mbox)
{
	struct copy cp = { .d = d, .fd = fd, .mbox = mbox,
	    .at_line_start = 1 };
	int r = 0;

	buf_init(&cp.out, 65536 * 2 + 4096);
	if (mbox) {
		time_t t = (time_t)(d->arrival_us / 1000000);
		char date[64];
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
		buf_printf(&cp.out, "From %s  %s\n", *d->sender ? d->sender :
		    "MAILER-DAEMON", date);
	}
	delivery_headers(d, &cp.out);
	/* -1: read error or short file (errno EIO), 1: write error */
	if (qfile_read_range(d->fd, d->content_off, d->content_len,
	    copy_chunk, &cp) != 0)
		r = -1;
	if (r == 0 && mbox) {
		/* a message ends with an empty line */
		if (fd_write_all(fd, cp.at_line_start ? "\n" : "\n\n",
		    cp.at_line_start ? 1 : 2) < 0)
			r = -1;
	}
	if (r == 0 && cp.out.len > 0 &&
	    fd_write_all(fd, cp.out.data, cp.out.len) < 0)
		r = -1;
	buf_free(&cp.out);
	return r;
}
