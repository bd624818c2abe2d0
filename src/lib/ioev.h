/*
 * ioev.h - the one event-loop facade (libevent 2.1 underneath).
 *
 * A struct io owns a connected socket and delivers typed events to one
 * callback: input available, output drained, timeout, end of stream,
 * error, TLS handshake done.  Input is read through bounded helpers; the
 * input buffer itself is capped by a read high-water mark so a peer can
 * never make us hold more than IO_INPUT_MAX bytes.
 *
 * The callback may free the io; after the callback returns the facade
 * does not touch it again.
 */
#ifndef TEMPEST_IOEV_H
#define TEMPEST_IOEV_H

#include <stddef.h>
#include <stdarg.h>
#include <openssl/ssl.h>

#include "buf.h"

struct event_base;
struct io;

enum io_evt {
	IO_IN,          /* new input is buffered */
	IO_LOWAT,       /* all output has been written */
	IO_TIMEOUT,     /* no input within the timeout */
	IO_EOF,         /* peer closed */
	IO_ERROR,       /* socket or TLS error */
	IO_TLSREADY,    /* TLS handshake completed */
};

#define IO_INPUT_MAX (256 * 1024)

typedef void (*io_callback)(struct io *io, enum io_evt evt, void *arg);

/* The process-wide event base (created on first use). */
struct event_base *io_base(void);
/* Run the loop until io_loop_exit() or no events remain. */
void io_loop(void);
void io_loop_exit(void);

/* Wrap a connected socket; the io owns fd from now on (closed by io_free). */
struct io *io_new(int fd, io_callback cb, void *arg);
void io_free(struct io **io);
void io_set_callback(struct io *io, io_callback cb, void *arg);
/* Input idle timeout in seconds (0 = none). */
void io_set_timeout(struct io *io, int seconds);
int io_fd(const struct io *io);
void io_pause(struct io *io);
void io_resume(struct io *io);

/* Bytes of buffered input. */
size_t io_inlen(const struct io *io);
/*
 * Take one line of at most max bytes from the input into `line` (replacing
 * its contents, terminator removed).  Returns:
 *   1  a whole line; *cr_r says whether it ended in CR LF (vs bare LF)
 *   2  a partial line: max bytes without a terminator (the rest follows)
 *   0  no complete line buffered yet
 * Bare CR inside a line is kept as data.
 */
int io_getline(struct io *io, struct buf *line, size_t max, int *cr_r);
/* Move up to n bytes of input into b (bounded by b->max): bytes moved, -1 if b is full. */
long io_read_into(struct io *io, struct buf *b, size_t n);
/* Copy the first n bytes of input without consuming them: 0, or -1 if
 * fewer are buffered. */
int io_peek(struct io *io, void *dst, size_t n);
/* Discard the first n bytes of input. */
void io_skip(struct io *io, size_t n);
/* Discard all buffered input. */
void io_drain_input(struct io *io);
/* Put n bytes back in front of the buffered input (a session handed over
 * from another process with input it had already read). */
void io_unread(struct io *io, const void *p, size_t n);

void io_write(struct io *io, const void *p, size_t n);
void io_puts(struct io *io, const char *s);
void io_printf(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t io_outlen(const struct io *io);

/*
 * Switch the connection to TLS (server or client side) once pending output
 * is written.  Any input already buffered is discarded first: bytes
 * pipelined after STARTTLS must not be executed inside TLS (CVE-2011-0411).
 * IO_TLSREADY or IO_ERROR follows.  The io takes ownership of ssl.
 */
void io_start_tls(struct io *io, SSL *ssl, int server);
int io_is_tls(const struct io *io);
SSL *io_ssl(const struct io *io);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" or "" */
const char *io_tls_summary(struct io *io);

/*
 * A byte-transforming layer between the connection (socket or TLS) and
 * the io's buffers, e.g. IMAP COMPRESS=DEFLATE.  Each function moves what
 * it can from src to dst, producing at most about limit bytes when limit
 * > 0; it returns 0, or -1 on bad data (IO_ERROR follows).  Output queued
 * before the call is sent untransformed; input already buffered below
 * goes through `in`.  io_outlen() and IO_LOWAT then count both layers.
 * free_ctx(ctx) runs when the io is freed.
 */
struct evbuffer;
typedef int (*io_filter_fn)(struct evbuffer *src, struct evbuffer *dst,
    long limit, void *ctx);
void io_push_filter(struct io *io, io_filter_fn in, io_filter_fn out,
    void (*free_ctx)(void *), void *ctx);

#endif
