/*
 * ioev.c - libevent bufferevent wrapper.  All network input of the
 * daemons passes through here; it is bounded by IO_INPUT_MAX and by the
 * per-call limits of io_getline()/io_read_into().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "ossl.h"

struct io {
	int fd;
	struct bufferevent *bev;
	io_callback cb;
	void *arg;
	int timeout;
	int paused;
	SSL *ssl;               /* set while TLS is active or pending */
	int tls_pending;        /* waiting for output to drain */
	int tls_server;
	char tls_summary[128];
	struct event *lowat_ev;         /* IO_LOWAT after a direct send */
	int direct_pending;             /* sent directly, IO_LOWAT not yet told */
	struct bufferevent *under;      /* below a filter layer, or NULL */
	struct io_filter *filter;
};

struct io_filter {
	io_filter_fn in, out;
	void (*free_ctx)(void *);
	void *ctx;
};

static struct event_base *base;

struct event_base *
io_base(void)
{
	if (base == NULL) {
		base = event_base_new();
		if (base == NULL)
			fatal("event_base_new failed");
	}
	return base;
}

void
io_loop(void)
{
	event_base_dispatch(io_base());
}

void
io_loop_exit(void)
{
	event_base_loopexit(io_base(), NULL);
}

static void io_readcb(struct bufferevent *bev, void *arg);
static void io_tls_switch(struct io *io);
static void io_writecb(struct bufferevent *bev, void *arg);
static void io_eventcb(struct bufferevent *bev, short what, void *arg);
static void io_lowat_cb(evutil_socket_t fd, short what, void *arg);

static void
io_setup_bev(struct io *io)
{
	struct timeval tv = { io->timeout, 0 };

	bufferevent_setcb(io->bev, io_readcb, io_writecb, io_eventcb, io);
	bufferevent_setwatermark(io->bev, EV_READ, 0, IO_INPUT_MAX);
	bufferevent_set_timeouts(io->bev, io->timeout > 0 ? &tv : NULL, NULL);
	if (!io->paused)
		bufferevent_enable(io->bev, EV_READ | EV_WRITE);
	else
		bufferevent_enable(io->bev, EV_WRITE);
}

struct io *
io_new(int fd, io_callback cb, void *arg)
{
	struct io *io = xcalloc(1, sizeof(*io));

	evutil_make_socket_nonblocking(fd);
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->bev = bufferevent_socket_new(io_base(), fd, 0);
	if (io->bev == NULL)
		fatal("bufferevent_socket_new failed");
	io_setup_bev(io);
	return io;
}

void
io_free(struct io **iop)
{
	struct io *io = *iop;

	if (io == NULL)
		return;
	if (io->lowat_ev != NULL)
		event_free(io->lowat_ev);
	if (io->ssl != NULL && !io->tls_pending && SSL_is_init_finished(io->ssl)) {
		/* TLS ends with close_notify (RFC 8446 6.1), best effort on
		 * the non-blocking socket: without it OpenSSL 3 peers report
		 * "unexpected eof" and cannot tell the end from a truncation */
		(void)SSL_shutdown(io->ssl);
		ERR_clear_error();
	}
	if (io->bev != NULL)
		bufferevent_free(io->bev);      /* frees io->ssl if attached */
	else if (io->ssl != NULL)
		SSL_free(io->ssl);
	if (io->fd >= 0)
		close(io->fd);
	free(io);
	*iop = NULL;
}

void
io_set_callback(struct io *io, io_callback cb, void *arg)
{
	io->cb = cb;
	io->arg = arg;
}

void
io_set_timeout(struct io *io, int seconds)
{
	struct timeval tv = { seconds, 0 };

	io->timeout = seconds;
	bufferevent_set_timeouts(io->bev, seconds > 0 ? &tv : NULL, NULL);
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

void
io_pause(struct io *io)
{
	io->paused = 1;
	bufferevent_disable(io->bev, EV_READ);
}

void
io_resume(struct io *io)
{
	io->paused = 0;
	if (!io->tls_pending)
		bufferevent_enable(io->bev, EV_READ);
}

size_t
io_inlen(const struct io *io)
{
	return evbuffer_get_length(bufferevent_get_input(io->bev));
}

int
io_getline(struct io *io, struct buf *line, size_t max, int *cr_r)
{
	struct evbuffer *in = bufferevent_get_input(io->bev);
	struct evbuffer_ptr p, end;
	size_t avail = evbuffer_get_length(in), n;
	int cr = 0;

	buf_reset(line);
	if (avail == 0)
		return 0;
	/* Search only the first max+1 bytes: bounded work per call. */
	evbuffer_ptr_set(in, &end, avail > max + 1 ? max + 1 : avail,
	    EVBUFFER_PTR_SET);
	p = evbuffer_search_range(in, "\n", 1, NULL, &end);
	if (p.pos < 0 || (size_t)p.pos > max) {
		if (avail < max && p.pos < 0)
			return 0;
		n = max;
		if (buf_append(line, evbuffer_pullup(in, (ev_ssize_t)n), n) < 0)
			panic("io_getline: buffer smaller than max");
		evbuffer_drain(in, n);
		return 2;
	}
	n = (size_t)p.pos;
	if (n > 0) {
		const char *d = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		if (d[n - 1] == '\r') {
			cr = 1;
			if (buf_append(line, d, n - 1) < 0)
				panic("io_getline: buffer smaller than max");
		} else if (buf_append(line, d, n) < 0)
			panic("io_getline: buffer smaller than max");
	}
	evbuffer_drain(in, n + 1);
	if (cr_r != NULL)
		*cr_r = cr;
	return 1;
}

long
io_read_into(struct io *io, struct buf *b, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(io->bev);
	size_t avail = evbuffer_get_length(in);

	if (n > avail)
		n = avail;
	if (n == 0)
		return 0;
	if (buf_append(b, evbuffer_pullup(in, (ev_ssize_t)n), n) < 0)
		return -1;
	evbuffer_drain(in, n);
	return (long)n;
}

int
io_peek(struct io *io, void *dst, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(io->bev);

	if (evbuffer_get_length(in) < n)
		return -1;
	return evbuffer_copyout(in, dst, n) == (ev_ssize_t)n ? 0 : -1;
}

void
io_skip(struct io *io, size_t n)
{
	evbuffer_drain(bufferevent_get_input(io->bev), n);
}

void
io_drain_input(struct io *io)
{
	struct evbuffer *in = bufferevent_get_input(io->bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static enum bufferevent_filter_result
io_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct io_filter *f = arg;

	(void)mode;
	return f->in(src, dst, (long)limit, f->ctx) < 0 ? BEV_ERROR : BEV_OK;
}

static enum bufferevent_filter_result
io_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct io_filter *f = arg;

	(void)mode;
	return f->out(src, dst, (long)limit, f->ctx) < 0 ? BEV_ERROR : BEV_OK;
}

static void
io_filter_free(void *arg)
{
	struct io_filter *f = arg;

	if (f->free_ctx != NULL)
		f->free_ctx(f->ctx);
	free(f);
}

/* The layer below a filter sent everything: that is IO_LOWAT. */
static void
io_under_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct io *io = arg;

	if (info->n_deleted == 0 || evbuffer_get_length(buf) != 0 ||
	    io_outlen(io) != 0)
		return;
	if (io->lowat_ev == NULL)
		io->lowat_ev = event_new(io_base(), -1, 0, io_lowat_cb, io);
	event_active(io->lowat_ev, EV_TIMEOUT, 0);
}

void
io_push_filter(struct io *io, io_filter_fn in, io_filter_fn out,
    void (*free_ctx)(void *), void *ctx)
{
	struct io_filter *f = xcalloc(1, sizeof(*f));
	struct bufferevent *fb;

	if (io->under != NULL || io->tls_pending)
		panic("io_push_filter: one filter, not during a TLS switch");
	f->in = in;
	f->out = out;
	f->free_ctx = free_ctx;
	f->ctx = ctx;
	fb = bufferevent_filter_new(io->bev, io_filter_in, io_filter_out,
	    BEV_OPT_CLOSE_ON_FREE, io_filter_free, f);
	if (fb == NULL)
		fatal("bufferevent_filter_new failed");
	io->under = io->bev;
	io->filter = f;
	io->bev = fb;
	io_setup_bev(io);
	evbuffer_add_cb(bufferevent_get_output(io->under), io_under_out_cb, io);
	/* input that came with or after the command goes through `in` */
	if (evbuffer_get_length(bufferevent_get_input(io->under)) > 0)
		bufferevent_trigger(io->under, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void
io_unread(struct io *io, const void *p, size_t n)
{
	if (n > 0 && evbuffer_prepend(bufferevent_get_input(io->bev), p, n) < 0)
		fatal("evbuffer_prepend failed");
}

static void
io_lowat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	(void)fd;
	(void)what;
	io->direct_pending = 0;
	if (io_outlen(io) != 0)
		return;         /* the write callback will report */
	if (io->tls_pending) {
		io_tls_switch(io);
		return;
	}
	io->cb(io, IO_LOWAT, io->arg);
}

void
io_write(struct io *io, const void *p, size_t n)
{
	/* Plain socket with nothing queued: try to send at once, saving the
	 * write-event round trip; whatever does not fit is buffered. */
	if (io->ssl == NULL && io->under == NULL && n > 0 &&
	    evbuffer_get_length(bufferevent_get_output(io->bev)) == 0) {
		ssize_t w = send(io->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p = (const char *)p + w;
			n -= (size_t)w;
		}
		if (n == 0) {
			/* keep the IO_LOWAT promise, without a syscall */
			if (io->lowat_ev == NULL)
				io->lowat_ev = event_new(io_base(), -1, 0,
				    io_lowat_cb, io);
			io->direct_pending = 1;
			event_active(io->lowat_ev, EV_TIMEOUT, 0);
			return;
		}
	}
	bufferevent_write(io->bev, p, n);
}

void
io_puts(struct io *io, const char *s)
{
	io_write(io, s, strlen(s));
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;

	char small[1024], *big = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		va_start(ap, fmt);
		big = xvasprintf(fmt, ap);
		va_end(ap);
	}
	io_write(io, big != NULL ? big : small, (size_t)n);
	free(big);
}

size_t
io_outlen(const struct io *io)
{
	/* Output sent directly counts as pending until IO_LOWAT has been
	 * delivered, so "close once flushed" logic never frees an io in the
	 * middle of the callback that wrote to it. */
	return evbuffer_get_length(bufferevent_get_output(io->bev)) +
	    (io->under != NULL ?
	    evbuffer_get_length(bufferevent_get_output(io->under)) : 0) +
	    (io->direct_pending ? 1 : 0);
}

static void
io_tls_switch(struct io *io)
{
	SSL *ssl = io->ssl;

	io->tls_pending = 0;
	bufferevent_free(io->bev);      /* plain bev does not own fd */
	io->bev = bufferevent_openssl_socket_new(io_base(), io->fd, ssl,
	    io->tls_server ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING, 0);
	if (io->bev == NULL)
		fatal("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(io->bev, 1);
	io_setup_bev(io);
}

void
io_start_tls(struct io *io, SSL *ssl, int server)
{
	io_drain_input(io);
	io->ssl = ssl;
	io->tls_server = server;
	io->tls_pending = 1;
	bufferevent_disable(io->bev, EV_READ);
	if (io_outlen(io) == 0)
		io_tls_switch(io);
}

int
io_is_tls(const struct io *io)
{
	return io->ssl != NULL && !io->tls_pending;
}

SSL *
io_ssl(const struct io *io)
{
	return io->tls_pending ? NULL : io->ssl;
}

const char *
io_tls_summary(struct io *io)
{
	const SSL_CIPHER *c;
	int alg = 0, bits;

	if (!io_is_tls(io))
		return "";
	c = SSL_get_current_cipher(io->ssl);
	if (c == NULL)
		return "";
	bits = SSL_CIPHER_get_bits(c, &alg);
	snprintf(io->tls_summary, sizeof(io->tls_summary),
	    "%s with cipher %s (%d/%d bits)", SSL_get_version(io->ssl),
	    SSL_CIPHER_get_name(c), bits, alg);
	return io->tls_summary;
}

/* libevent 2.1 reads at most this much per readiness event */
#define IO_LIBEVENT_READ 4096

/*
 * libevent has just read up to 4 KiB; when that filled the input to at
 * least 4 KiB (a bulk transfer: message content, not commands) and the
 * socket holds more (FIONREAD, so no read ends in EAGAIN), take it all
 * now, within IO_INPUT_MAX: one loop iteration and one callback for what
 * would otherwise be one per 4 KiB.  Plain sockets only (not TLS or a
 * filter layer, which read through their own bufferevents).
 */
static void
io_read_more(struct io *io)
{
	struct evbuffer *in = bufferevent_get_input(io->bev);
	size_t len = evbuffer_get_length(in);
	struct evbuffer_iovec vec[2];
	int avail = 0, nvec, used;
	ssize_t n;

	if (len < IO_LIBEVENT_READ || len >= IO_INPUT_MAX ||
	    ioctl(io->fd, FIONREAD, &avail) < 0 || avail <= 0)
		return;
	if ((size_t)avail > IO_INPUT_MAX - len)
		avail = (int)(IO_INPUT_MAX - len);
	/* the bufferevent keeps its input's end frozen between its own
	 * reads (as it does, unfreeze it for this one) */
	evbuffer_unfreeze(in, 0);
	nvec = evbuffer_reserve_space(in, avail, vec, 2);
	if (nvec > 0) {
		do
			n = readv(io->fd, (struct iovec *)vec, nvec);
		while (n < 0 && errno == EINTR);
		/* EOF and errors are left to libevent's next read */
		for (used = 0; used < nvec && n > 0; used++) {
			size_t k = (size_t)n < vec[used].iov_len ? (size_t)n :
			    vec[used].iov_len;
			vec[used].iov_len = k;
			n -= (ssize_t)k;
		}
		evbuffer_commit_space(in, vec, used);
	}
	evbuffer_freeze(in, 0);
}

static void
io_readcb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	(void)bev;
	if (io->ssl == NULL && io->under == NULL)
		io_read_more(io);
	io->cb(io, IO_IN, io->arg);
}

static void
io_writecb(struct bufferevent *bev, void *arg)
{
	struct io *io = arg;

	(void)bev;
	if (io->tls_pending) {
		io_tls_switch(io);
		return;
	}
	if (io_outlen(io) != 0)
		return;         /* a filter layer still sends: told later */
	io->cb(io, IO_LOWAT, io->arg);
}

static void
io_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct io *io = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (io->ssl != NULL)
			io->cb(io, IO_TLSREADY, io->arg);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		io->cb(io, IO_TIMEOUT, io->arg);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		io->cb(io, IO_EOF, io->arg);
		return;
	}
	io->cb(io, IO_ERROR, io->arg);
}
