/*
 * login_conn.c - the protocol-free half of IMAP and POP3 client
 * connections (see login_conn.h).
 *
 * Untrusted bytes: none parsed; user names and passwords are passed on
 * to the post-login master as they are.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "login_conn.h"
#include "login_master.h"
#include "mem.h"
#include "netaddr.h"
#include "ossl.h"
#include "service.h"

struct login_conn *login_conns;
static unsigned conn_counter;

/* ---- a connection's life ---- */

static void
conn_link(struct login_conn *lc, void *owner)
{
	lc->owner = owner;
	lc->next = login_conns;
	if (login_conns != NULL)
		login_conns->prev = lc;
	login_conns = lc;
}

void
login_conn_accept(struct login_conn *lc, const char *proto, int fd,
    const struct sockaddr *sa, const struct login_settings *set,
    long long timeout, io_callback cb, login_connect_cb admitted,
    void *owner)
{
	snprintf(lc->id, sizeof(lc->id), "%s%u.%d", proto, ++conn_counter,
	    (int)getpid());
	netaddr_ntop(sa, lc->ip, sizeof(lc->ip));
	lc->trusted = set->trusted_nets != NULL &&
	    netlist_match(set->trusted_nets, sa);
	/* replies are written whole: no Nagle delay on the last segment */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	lc->io = io_new(fd, cb, owner);
	lc->cb = cb;
	io_set_timeout(lc->io, (int)timeout);
	conn_link(lc, owner);
	lc->sid = (int64_t)conn_counter;
	/* the post-login master counts connections per address over all
	 * login processes */
	lc->paused = 1;
	io_pause(lc->io);
	login_client_connect(lc->sid, lc->ip, admitted, owner);
}

static void
deadline_end(evutil_socket_t fd, short what, void *arg)
{
	struct login_conn *lc = arg;

	(void)fd;
	(void)what;
	event_free(lc->deadline_ev);
	lc->deadline_ev = NULL;
	if (lc->io == NULL || lc->worker)
		return;
	log_info("%s: no login within the time limit [%s]", lc->id, lc->ip);
	/* the callback may free lc */
	lc->cb(lc->io, lc->closing ? IO_ERROR : IO_TIMEOUT, lc->owner);
}

void
login_conn_deadline(struct login_conn *lc, long long seconds)
{
	struct timeval tv = { seconds, 0 };

	if (seconds <= 0 || lc->worker)
		return;
	if (lc->deadline_ev == NULL)
		lc->deadline_ev = evtimer_new(io_base(), deadline_end, lc);
	evtimer_add(lc->deadline_ev, &tv);
}

void
login_conn_worker(struct login_conn *lc, int fd,
    const struct login_session *s, io_callback cb, void *owner)
{
	snprintf(lc->id, sizeof(lc->id), "%s", s->id);
	snprintf(lc->ip, sizeof(lc->ip), "%s", s->ip);
	lc->sid = s->gsid;
	lc->worker = 1;
	lc->secured = s->secured;
	lc->io = io_new(fd, cb, owner);
	conn_link(lc, owner);
}

void
login_conn_session_open(struct login_conn *lc, const struct login_session *s)
{
	log_info("%s: session of user=<%s> [%s] in uid %d", lc->id, s->user,
	    lc->ip, (int)geteuid());
	io_unread(lc->io, s->input, s->input_len);
}

enum login_greet
login_conn_admitted(struct login_conn *lc, int allowed, SSL_CTX *wrapper_ctx)
{
	if (!allowed) {
		log_warn("%s: too many connections from %s", lc->id, lc->ip);
		if (wrapper_ctx == NULL)
			return LOGIN_GREET_REFUSE;
		/* the refusal is told after the handshake */
		lc->refused = 1;
		lc->tls_wrapper = 1;
		io_resume(lc->io);
		io_start_tls(lc->io, SSL_new(wrapper_ctx), 1);
		return LOGIN_GREET_WAIT;
	}
	lc->paused = 0;
	log_info("%s: connect from [%s]", lc->id, lc->ip);
	io_resume(lc->io);
	if (wrapper_ctx == NULL)
		return LOGIN_GREET_NOW;
	lc->tls_wrapper = 1;
	io_start_tls(lc->io, SSL_new(wrapper_ctx), 1);
	return LOGIN_GREET_WAIT;
}

enum login_greet
login_conn_tls_ready(struct login_conn *lc)
{
	if (!lc->tls_wrapper)
		return LOGIN_GREET_WAIT;
	lc->tls_wrapper = 0;
	/* over the limit: say so inside TLS */
	return lc->refused ? LOGIN_GREET_REFUSE : LOGIN_GREET_NOW;
}

int
login_conn_secured(const struct login_conn *lc)
{
	return lc->secured || (lc->io != NULL && io_is_tls(lc->io));
}

int
login_conn_plaintext_ok(const struct login_conn *lc,
    const struct login_settings *set)
{
	return !set->plaintext_disabled || login_conn_secured(lc) ||
	    lc->trusted;
}

/* ---- login ---- */

int
login_conn_auth(struct login_conn *lc, const char *user, const char *pass,
    login_auth_cb cb)
{
	if (strlen(user) > LOGIN_USER_MAX || strlen(pass) > LOGIN_PASSWORD_MAX)
		return -1;
	free(lc->login_user);
	lc->login_user = xstrdup(user);
	lc->paused = 1;
	io_pause(lc->io);
	login_client_auth(lc->sid, "PLAIN", user, pass, cb, lc->owner);
	return 0;
}

static void
hold_end(evutil_socket_t fd, short what, void *arg)
{
	struct login_conn *lc = arg;

	(void)fd;
	(void)what;
	event_free(lc->hold_ev);
	lc->hold_ev = NULL;
	lc->hold_done(lc->owner);
}

void
login_conn_hold(struct login_conn *lc, long long seconds,
    void (*done)(void *owner))
{
	struct timeval tv = { seconds, 0 };

	lc->paused = 1;
	io_pause(lc->io);
	lc->hold_done = done;
	lc->hold_ev = evtimer_new(io_base(), hold_end, lc);
	evtimer_add(lc->hold_ev, &tv);
}

/* Failed logins on all connections from ip in this process. */
static unsigned
ip_failures(const char *ip)
{
	unsigned n = 0;

	for (struct login_conn *k = login_conns; k != NULL; k = k->next)
		if (strcmp(k->ip, ip) == 0)
			n += (unsigned)k->failures;
	return n;
}

void
login_conn_failed(struct login_conn *lc, long long delay,
    void (*done)(void *owner))
{
	unsigned from_ip;

	lc->failures++;
	from_ip = ip_failures(lc->ip);
	if (from_ip > 8)
		from_ip = 8;
	login_conn_hold(lc, delay * from_ip, done);
}

void
login_conn_handoff(struct login_conn *lc, const char *user, const char *tag)
{
	log_info("%s: login user=<%s> [%s]%s", lc->id, user, lc->ip,
	    login_conn_secured(lc) ? " TLS" : "");
	login_client_handoff(lc->sid, &lc->io, lc->id, tag);
}

/* ---- the end ---- */

int
login_conn_resume(struct login_conn *lc)
{
	if (lc->closing)
		return 0;
	lc->paused = 0;
	io_resume(lc->io);
	return 1;
}

int
login_conn_stop(struct login_conn *lc)
{
	lc->closing = 1;
	lc->paused = 1;
	io_pause(lc->io);
	return io_outlen(lc->io) == 0;
}

void
login_conn_free(struct login_conn *lc)
{
	if (lc->hold_ev != NULL)
		event_free(lc->hold_ev);
	if (lc->deadline_ev != NULL)
		event_free(lc->deadline_ev);
	FREE(lc->login_user);
	if (lc->prev != NULL)
		lc->prev->next = lc->next;
	else
		login_conns = lc->next;
	if (lc->next != NULL)
		lc->next->prev = lc->prev;
	if (lc->worker) {
		io_free(&lc->io);
		login_worker_end(lc->sid);
	} else if (lc->io != NULL) {
		/* handed over sessions (io == NULL) left our count already */
		io_free(&lc->io);
		login_client_close(lc->sid);
		log_info("%s: disconnect before login [%s]", lc->id, lc->ip);
		service_session_end();
	}
}

void
login_vreply(struct io *io, const char *tag, const char *fmt, va_list ap)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	if (tag != NULL)
		buf_printf(&b, "%s ", tag);
	buf_vprintf(&b, fmt, ap);
	buf_append(&b, "\r\n", 2);
	io_write(io, b.data, b.len);
	buf_free(&b);
}
