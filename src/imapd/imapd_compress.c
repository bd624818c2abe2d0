/*
 * imapd_compress.c - COMPRESS=DEFLATE (RFC 4978): raw deflate (zlib,
 * window 15) in both directions, as a filter layer of the session's io
 * (lib/ioev io_push_filter).
 *
 * Untrusted bytes: the client's compressed stream.  zlib bounds its own
 * state; output per call is bounded by the io's input high-water mark
 * (the `limit` the layer is given), so a small input that inflates to a
 * lot is read only as fast as the session consumes it.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <zlib.h>

#include "imapd.h"
#include "log.h"
#include "mem.h"

struct zpair {
	z_stream in, out;
};

static void
zpair_free(void *arg)
{
	struct zpair *z = arg;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

static int
inflate_layer(struct evbuffer *src, struct evbuffer *dst, long limit,
    void *arg)
{
	struct zpair *z = arg;
	unsigned char out[16384];
	long made_total = 0;

	while (evbuffer_get_length(src) > 0 &&
	    (limit <= 0 || made_total < limit)) {
		struct evbuffer_iovec v;
		size_t used, made;
		int r;

		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		z->in.next_in = v.iov_base;
		z->in.avail_in = (uInt)v.iov_len;
		z->in.next_out = out;
		z->in.avail_out = sizeof(out);
		r = inflate(&z->in, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
			return -1;
		used = v.iov_len - z->in.avail_in;
		made = sizeof(out) - z->in.avail_out;
		evbuffer_drain(src, used);
		if (made > 0 && evbuffer_add(dst, out, made) < 0)
			return -1;
		made_total += (long)made;
		if (r == Z_STREAM_END)
			return -1;      /* the client may not end the stream */
		if (used == 0 && made == 0)
			break;
	}
	return 0;
}

static int
deflate_layer(struct evbuffer *src, struct evbuffer *dst, long limit,
    void *arg)
{
	struct zpair *z = arg;
	unsigned char out[16384];
	int any = 0, r;

	(void)limit;    /* replies are bounded by imapd's own flow control */
	while (evbuffer_get_length(src) > 0) {
		struct evbuffer_iovec v;
		size_t used;

		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		z->out.next_in = v.iov_base;
		z->out.avail_in = (uInt)v.iov_len;
		do {
			z->out.next_out = out;
			z->out.avail_out = sizeof(out);
			if (deflate(&z->out, Z_NO_FLUSH) == Z_STREAM_ERROR)
				return -1;
			if (sizeof(out) - z->out.avail_out > 0 &&
			    evbuffer_add(dst, out, sizeof(out) - z->out.avail_out) < 0)
				return -1;
		} while (z->out.avail_out == 0);
		used = v.iov_len - z->out.avail_in;
		evbuffer_drain(src, used);
		any = 1;
	}
	if (!any)
		return 0;
	/* the client must see each reply now: sync flush */
	do {
		z->out.next_in = NULL;
		z->out.avail_in = 0;
		z->out.next_out = out;
		z->out.avail_out = sizeof(out);
		r = deflate(&z->out, Z_SYNC_FLUSH);
		if (r == Z_STREAM_ERROR)
			return -1;
		if (sizeof(out) - z->out.avail_out > 0 &&
		    evbuffer_add(dst, out, sizeof(out) - z->out.avail_out) < 0)
			return -1;
	} while (z->out.avail_out == 0);
	return 0;
}

void
cmd_compress(struct client *c, struct imap_command *cmd)
{
	struct zpair *z;

	if (cmd->count != 1 || !imap_arg_atom_eq(&cmd->args[0], "DEFLATE")) {
		client_tagged(c, cmd->tag, "BAD Unsupported compression mechanism.");
		return;
	}
	if (c->compressed) {
		client_tagged(c, cmd->tag, "NO [COMPRESSIONACTIVE] DEFLATE active already.");
		return;
	}
	z = xcalloc(1, sizeof(*z));
	if (inflateInit2(&z->in, -15) != Z_OK) {
		free(z);
		client_tagged(c, cmd->tag, "NO [SERVERBUG] Compression failed.");
		return;
	}
	if (deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&z->in);
		free(z);
		client_tagged(c, cmd->tag, "NO [SERVERBUG] Compression failed.");
		return;
	}
	/* the OK goes out uncompressed, everything after it deflated */
	client_tagged(c, cmd->tag, "OK DEFLATE active.");
	io_push_filter(c->conn.io, inflate_layer, deflate_layer, zpair_free, z);
	c->compressed = 1;
	log_info("%s: COMPRESS=DEFLATE", c->conn.id);
}
