/*
 * ipc.c - typed frames over UNIX sockets.  Peers are other Tempest
 * processes, some of which parse hostile network input; treat every
 * frame as untrusted: lengths and tags are checked before use.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "ioev.h"
#include "ipc.h"
#include "log.h"

#define IPC_MAGIC "TMP1"

void
ipc_msg_init(struct ipc_msg *m, uint32_t type)
{
	m->type = type;
	buf_init(&m->body, IPC_MAX);
	m->rpos = 0;
	m->fd = -1;
}

void
ipc_msg_free(struct ipc_msg *m)
{
	buf_free(&m->body);
	m->rpos = 0;
}

void
ipc_put_int(struct ipc_msg *m, int64_t v)
{
	unsigned char b[9];
	uint64_t u = (uint64_t)v;
	int i;

	b[0] = 'I';
	for (i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)(u >> (56 - 8 * i));
	if (buf_append(&m->body, b, sizeof(b)) < 0)
		panic("ipc message too large");
}

void
ipc_put_str(struct ipc_msg *m, const char *s)
{
	size_t n = strlen(s);
	unsigned char h[5];

	h[0] = 'S';
	h[1] = (unsigned char)(n >> 24);
	h[2] = (unsigned char)(n >> 16);
	h[3] = (unsigned char)(n >> 8);
	h[4] = (unsigned char)n;
	if (buf_append(&m->body, h, sizeof(h)) < 0 ||
	    buf_append(&m->body, s, n + 1) < 0)
		panic("ipc message too large");
}

int
ipc_get_int(struct ipc_msg *m, int64_t *r)
{
	const unsigned char *p;
	uint64_t u = 0;
	int i;

	if (m->body.len - m->rpos < 9)
		return -1;
	p = (const unsigned char *)m->body.data + m->rpos;
	if (p[0] != 'I')
		return -1;
	for (i = 0; i < 8; i++)
		u = (u << 8) | p[1 + i];
	*r = (int64_t)u;
	m->rpos += 9;
	return 0;
}

int
ipc_get_str(struct ipc_msg *m, const char **r)
{
	const unsigned char *p;
	size_t n;

	if (m->body.len - m->rpos < 6)
		return -1;
	p = (const unsigned char *)m->body.data + m->rpos;
	if (p[0] != 'S')
		return -1;
	n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
	if (n > m->body.len - m->rpos - 6 || p[5 + n] != '\0' ||
	    memchr(p + 5, '\0', n) != NULL)
		return -1;
	*r = (const char *)p + 5;
	m->rpos += 6 + n;
	return 0;
}

static void
ipc_header(const struct ipc_msg *m, unsigned char h[IPC_HDR])
{
	uint32_t t = htonl(m->type), l = htonl((uint32_t)m->body.len);

	memcpy(h, IPC_MAGIC, 4);
	memcpy(h + 4, &t, 4);
	memcpy(h + 8, &l, 4);
}

int
ipc_send(int fd, struct ipc_msg *m)
{
	unsigned char h[IPC_HDR];
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr c;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	size_t total, done = 0;
	ssize_t n;

	ipc_header(m, h);
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = h;
	iov[0].iov_len = IPC_HDR;
	iov[1].iov_base = m->body.data;
	iov[1].iov_len = m->body.len;
	total = IPC_HDR + m->body.len;
	mh.msg_iov = iov;
	mh.msg_iovlen = m->body.len ? 2 : 1;
	if (m->fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.space;
		mh.msg_controllen = sizeof(cm.space);
		cm.c.cmsg_len = CMSG_LEN(sizeof(int));
		cm.c.cmsg_level = SOL_SOCKET;
		cm.c.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cm.c), &m->fd, sizeof(int));
	}
	while (done < total) {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (n > 0 && mh.msg_iovlen > 0) {
			if ((size_t)n >= mh.msg_iov[0].iov_len) {
				n -= (ssize_t)mh.msg_iov[0].iov_len;
				mh.msg_iov++;
				mh.msg_iovlen--;
			} else {
				mh.msg_iov[0].iov_base =
				    (char *)mh.msg_iov[0].iov_base + n;
				mh.msg_iov[0].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

static int
read_full(int fd, void *p, size_t n, int *fd_r)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		struct iovec iov = { (char *)p + done, n - done };
		union {
			struct cmsghdr c;
			char space[CMSG_SPACE(sizeof(int))];
		} cm;
		struct msghdr mh;

		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (fd_r != NULL) {
			mh.msg_control = cm.space;
			mh.msg_controllen = sizeof(cm.space);
		}
		r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return done == 0 ? 0 : -1;
		if (fd_r != NULL) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			if (c != NULL && c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_RIGHTS &&
			    c->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(fd_r, CMSG_DATA(c), sizeof(int));
			fd_r = NULL;
		}
		done += (size_t)r;
	}
	return 1;
}

static int
ipc_parse_header(const unsigned char *h, uint32_t *type_r, uint32_t *len_r)
{
	uint32_t t, l;

	if (memcmp(h, IPC_MAGIC, 4) != 0)
		return -1;
	memcpy(&t, h + 4, 4);
	memcpy(&l, h + 8, 4);
	*type_r = ntohl(t);
	*len_r = ntohl(l);
	return *len_r > IPC_MAX ? -1 : 0;
}

int
ipc_recv(int fd, struct ipc_msg *m)
{
	unsigned char h[IPC_HDR];
	uint32_t type, len;
	int r;

	buf_reset(&m->body);
	m->rpos = 0;
	m->fd = -1;
	r = read_full(fd, h, IPC_HDR, &m->fd);
	if (r <= 0)
		return r;
	if (ipc_parse_header(h, &type, &len) < 0)
		return -1;
	m->type = type;
	if (len > 0) {
		char tmp[8192];
		while (len > 0) {
			size_t n = len < sizeof(tmp) ? len : sizeof(tmp);
			if (read_full(fd, tmp, n, NULL) != 1 ||
			    buf_append(&m->body, tmp, n) < 0)
				return -1;
			len -= (uint32_t)n;
		}
	}
	return 1;
}

int
ipc_io_take(struct io *io, struct ipc_msg *m)
{
	unsigned char h[IPC_HDR];
	uint32_t type, len;

	if (io_inlen(io) < IPC_HDR)
		return 0;
	if (io_peek(io, h, IPC_HDR) < 0)
		return 0;
	if (ipc_parse_header(h, &type, &len) < 0)
		return -1;
	if (io_inlen(io) < IPC_HDR + (size_t)len)
		return 0;
	buf_reset(&m->body);
	m->rpos = 0;
	m->fd = -1;
	m->type = type;
	io_skip(io, IPC_HDR);
	if (len > 0 && io_read_into(io, &m->body, len) != (long)len)
		return -1;
	return 1;
}

void
ipc_io_send(struct io *io, struct ipc_msg *m)
{
	unsigned char h[IPC_HDR], small[8192];

	ipc_header(m, h);
	if (IPC_HDR + m->body.len <= sizeof(small)) {
		/* one write: the peer gets the whole frame in one read */
		memcpy(small, h, IPC_HDR);
		if (m->body.len)
			memcpy(small + IPC_HDR, m->body.data, m->body.len);
		io_write(io, small, IPC_HDR + m->body.len);
		return;
	}
	io_write(io, h, IPC_HDR);
	if (m->body.len)
		io_write(io, m->body.data, m->body.len);
}
