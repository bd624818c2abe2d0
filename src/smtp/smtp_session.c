/*
 * smtp_session.c - one SMTP client connection: greeting, EHLO/HELO,
 * STARTTLS, SMTP AUTH (smtp_sasl_*; helpers in smtp_sasl.c), then
 * transactions (MAIL, RCPT..., DATA, body) with PIPELINING when offered,
 * SIZE and 8BITMIME/DSN parameters, a new transaction for recipients a
 * "452 too many recipients" held back, and idle caching for reuse by
 * the next request to the same next hop.  Credentials never reach a
 * log line and are wiped after the AUTH dialogue.
 *
 * Untrusted input: every reply line from the remote server, read
 * through ioev into a bounded line buffer and parsed by smtp_reply.c;
 * the whole text of one reply is capped at REPLY_MAX bytes.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "config.h"
#include "deliver_proto.h"
#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "netaddr.h"
#include "ossl.h"
#include "sasl.h"
#include "scram.h"
#include "smtp.h"
#include "smtp_mime.h"
#include "smtp_parse.h"
#include "smtp_reply.h"
#include "smtp_sasl.h"
#include "str.h"

#define LINE_MAX_BYTES 2048
#define REPLY_MAX 4096
#define BODY_CHUNK 65536

enum sstate {
	S_CONNECT,      /* waiting for the greeting */
	S_EHLO,
	S_HELO,
	S_STARTTLS,
	S_TLS,          /* handshake running */
	S_AUTH,         /* SMTP AUTH dialogue */
	S_XACT,         /* MAIL/RCPT/DATA replies */
	S_BODY,         /* sending the content */
	S_DOT,          /* waiting for the reply to "." */
	S_RSET,
	S_IDLE,         /* cached */
	S_QUIT,
	S_DEAD,
};

/* commands of a transaction: index 0 = MAIL, 1..n = RCPT, n+1 = DATA */
struct smtp_sess {
	struct io *io;
	enum sstate state;
	char host[DNS_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN];
	int port;
	char *nexthop;
	int notls;
	int tls_failed;
	int reused;
	unsigned features;
	int auth_offered;       /* EHLO listed AUTH */
	unsigned auth_mechs;    /* SMTP_SASL_* offered */
	char auth_list[128];    /* the offered list as written, for the log */
	int authed;             /* logged in (kept for reuse) */
	unsigned auth_mech;     /* in S_AUTH: the mechanism */
	int auth_step;
	char *sasl_user, *sasl_pass;    /* only during S_AUTH; wiped */
	struct scram_client *scram;     /* SCRAM-SHA-256 during S_AUTH */
	const char *auth_error;         /* why this client cancelled */
	unsigned long long size_limit;
	struct buf line;
	struct buf reply;       /* text of the reply so far, lines joined */
	int reply_code;
	struct smtp_req *req;
	smtp_done_fn done;
	void *ctx;
	size_t ncmd, sent, replied;
	size_t *tx, ntx;        /* recipients (indexes) of this transaction */
	unsigned char *held;    /* per recipient: 452 too many, next transaction */
	size_t naccepted;
	int mail_failed;
	size_t body_off;
	int body_bol;           /* at the beginning of a line */
	struct buf conv;        /* content downgraded to 7bit, when used */
	int use_conv;           /* send conv instead of the queue file */
	void (*park_closed)(struct smtp_sess *);
	int depth;              /* inside our own callbacks */
	int want_free;          /* smtp_sess_close() ran during a callback */
	int connect_errno;
};

static void sess_free(struct smtp_sess *s);

static void sess_io(struct io *io, enum io_evt evt, void *arg);

static const char *
level(void)
{
	return config_str("smtp_tls_security_level");
}

static int
tls_required(void)
{
	const char *l = level();

	return strcmp(l, "encrypt") == 0 || strcmp(l, "verify") == 0 ||
	    strcmp(l, "secure") == 0;
}

static int
tls_wanted(void)
{
	const char *l = level();

	return *l != '\0' && strcmp(l, "none") != 0;
}

/* Host failure before the transaction: hand back to the caller. */
static void
sess_fail(struct smtp_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sess_fail(struct smtp_sess *s, const char *fmt, ...)
{
	va_list ap;
	char *why;
	smtp_done_fn fn = s->done;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	s->state = S_DEAD;
	s->done = NULL;
	if (fn != NULL)
		fn(s, 0, why);
	free(why);
}

/* "host mx[1.2.3.4] said: 550 5.1.1 text (in reply to RCPT TO command)" */
static char *
said(struct smtp_sess *s, const char *cmd)
{
	const char *t = buf_cstr(&s->reply);
	size_t dl = smtp_reply_dsn_len(t);
	char dsn[16];

	if (dl > 0 && dl < sizeof(dsn) && t[0] == '0' + s->reply_code / 100)
		snprintf(dsn, sizeof(dsn), "%.*s", (int)dl, t);
	else
		snprintf(dsn, sizeof(dsn), "%d.0.0", s->reply_code / 100);
	return xasprintf("%s host %s[%s] said: %d %s (in reply to %s command)",
	    dsn, s->host, s->addr, s->reply_code, t, cmd);
}

static int
code_status(int code)
{
	return code < 400 ? DELIVER_SENT : code < 500 ? DELIVER_DEFER :
	    DELIVER_BOUNCE;
}

/* Recipient k (1..ntx) of the transaction. */
static struct deliver_rcpt *
tx_rcpt(struct smtp_sess *s, size_t k)
{
	return &s->req->d->rcpts[s->tx[k - 1]];
}

/* Every recipient of the transaction not held for the next one. */
static void
tx_set_all(struct smtp_sess *s, int status, const char *text)
{
	size_t k;

	for (k = 1; k <= s->ntx; k++)
		if (!s->held[s->tx[k - 1]])
			deliver_rcpt_set(tx_rcpt(s, k), status, text);
}

/* RFC 5321 4.5.3.1.10: "452 too many recipients" to RCPT after at
 * least one was accepted: the rest go in the next transaction on the
 * same connection (as Postfix does). */
static int
too_many_rcpts(const struct smtp_sess *s)
{
	const char *t = buf_cstr(&s->reply);

	return s->reply_code == 452 && s->naccepted > 0 &&
	    (strncmp(t, "4.5.3", 5) == 0 ||
	    strcasestr(t, "too many recipients") != NULL);
}

/* Recipients left without a status (held back by a 452), if the
 * session can run another transaction for them. */
static int
rcpts_left(const struct smtp_sess *s)
{
	size_t i;

	if (s->req == NULL || s->state != S_IDLE || s->io == NULL)
		return 0;
	for (i = 0; i < s->req->d->nrcpt; i++)
		if (s->req->d->rcpts[i].status < 0)
			return 1;
	return 0;
}

static void
tx_free(struct smtp_sess *s)
{
	FREE(s->tx);
	FREE(s->held);
	s->ntx = 0;
}

/* Forget a downgraded copy of the content (back to the queue file). */
static void
conv_drop(struct smtp_sess *s)
{
	buf_free(&s->conv);
	s->use_conv = 0;
}

/* The transaction is over (every recipient has a status). */
static void
xact_done(struct smtp_sess *s)
{
	smtp_done_fn fn = s->done;
	size_t i;

	for (i = 0; i < s->req->d->nrcpt; i++)
		deliver_rcpt_set(&s->req->d->rcpts[i], DELIVER_DEFER,
		    "4.4.2 lost connection during the transaction");
	s->done = NULL;
	s->req = NULL;
	conv_drop(s);
	tx_free(s);
	if (fn != NULL)
		fn(s, 1, "");
}

/* ---- output ---- */

static void
send_ehlo(struct smtp_sess *s)
{
	s->features = 0;
	s->auth_offered = 0;
	s->auth_mechs = 0;
	s->auth_list[0] = '\0';
	s->size_limit = 0;
	s->state = S_EHLO;
	io_printf(s->io, "EHLO %s\r\n", config_str("smtp_helo_name"));
}

static int
has_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p & 0x80)
			return 1;
	return 0;
}

/* Whether the envelope has UTF-8 addresses (RFC 6531). */
static int
needs_utf8(const struct smtp_req *r)
{
	size_t i;

	if (has_8bit(r->d->sender))
		return 1;
	for (i = 0; i < r->d->nrcpt; i++)
		if (has_8bit(r->d->rcpts[i].addr))
			return 1;
	return 0;
}

/* Bytes of content to send (after a downgrade, the converted size). */
static size_t
content_len(const struct smtp_sess *s)
{
	return s->use_conv ? s->conv.len : s->req->d->content_len;
}

#define DOWNGRADE_MAX ((size_t)256 * 1024 * 1024)

/* RFC 6152: the server lacks 8BITMIME and the content has 8-bit bytes:
 * convert 8-bit MIME parts to quoted-printable (in memory).  0, or -1
 * (then the content goes as it is, as before RFC 6152 existed). */
static int
downgrade(struct smtp_sess *s)
{
	struct smtp_req *r = s->req;
	char *in;
	size_t done = 0;

	conv_drop(s);
	if (r->d->content_len > DOWNGRADE_MAX)
		return -1;
	in = xmalloc(r->d->content_len + 1);
	while (done < r->d->content_len) {
		ssize_t n = pread(r->d->fd, in + done, r->d->content_len - done,
		    r->d->content_off + (off_t)done);
		if (n <= 0) {
			free(in);
			return -1;
		}
		done += (size_t)n;
	}
	buf_init(&s->conv, r->d->content_len * 3 + 65536);
	if (smtp_mime_downgrade(in, r->d->content_len, &s->conv) < 0) {
		free(in);
		buf_free(&s->conv);
		return -1;
	}
	free(in);
	s->use_conv = 1;
	log_info("%s: host %s[%s] does not offer 8BITMIME: content converted "
	    "to 7bit (quoted-printable), %zu -> %zu bytes", r->d->id, s->host,
	    s->addr, r->d->content_len, s->conv.len);
	return 0;
}

static void
send_cmd(struct smtp_sess *s, size_t k)
{
	struct smtp_req *r = s->req;
	struct buf b;

	buf_init(&b, 8192);
	if (k == 0) {
		buf_printf(&b, "MAIL FROM:<%s>", r->d->sender);
		if (s->features & SMTP_FEAT_SIZE)
			buf_printf(&b, " SIZE=%zu", content_len(s));
		if ((r->eightbit || r->body_8bit) &&
		    (s->features & SMTP_FEAT_8BITMIME))
			buf_appends(&b, " BODY=8BITMIME");
		/* as the message was sent to us (Postfix: a server without
		 * SMTPUTF8 still gets it when the envelope is ASCII) */
		if ((needs_utf8(r) || r->smtputf8) &&
		    (s->features & SMTP_FEAT_SMTPUTF8))
			buf_appends(&b, " SMTPUTF8");
		if (s->features & SMTP_FEAT_DSN) {
			if (r->ret)
				buf_appends(&b, r->ret == 2 ? " RET=HDRS" :
				    " RET=FULL");
			if (r->envid != NULL && *r->envid) {
				buf_appends(&b, " ENVID=");
				smtp_xtext_encode(&b, r->envid);
			}
		}
	} else if (k <= s->ntx) {
		struct deliver_rcpt *rc = tx_rcpt(s, k);
		buf_printf(&b, "RCPT TO:<%s>", rc->addr);
		if (s->features & SMTP_FEAT_DSN) {
			/* (smtp_rcpt_params_format() but for an ORCPT of any
			 * length, as the queue file holds it) */
			struct smtp_rcpt_params rp;
			memset(&rp, 0, sizeof(rp));
			rp.notify = rc->notify;
			smtp_rcpt_params_format(&b, &rp);
			if (*rc->orcpt && strchr(rc->orcpt, ';') != NULL) {
				buf_appends(&b, " ORCPT=");
				smtp_xtext_encode(&b, rc->orcpt);
			}
		}
	} else
		buf_appends(&b, "DATA");
	buf_appends(&b, "\r\n");
	io_write(s->io, b.data, b.len);
	buf_free(&b);
}

static void
xact_start(struct smtp_sess *s)
{
	struct smtp_req *r = s->req;

	if (needs_utf8(r) && !(s->features & SMTP_FEAT_SMTPUTF8)) {
		/* RFC 6531: no way to send UTF-8 addresses to this server */
		char *why = xasprintf("5.6.7 SMTPUTF8 is required, but was not "
		    "offered by host %s[%s]", s->host, s->addr);
		size_t i;
		for (i = 0; i < r->d->nrcpt; i++)
			deliver_rcpt_set(&r->d->rcpts[i], DELIVER_BOUNCE, why);
		free(why);
		s->state = S_IDLE;
		xact_done(s);
		return;
	}

	conv_drop(s);
	if (r->eightbit && !(s->features & SMTP_FEAT_8BITMIME) &&
	    downgrade(s) < 0)
		log_warn("%s: cannot convert the content to 7bit for %s[%s]; "
		    "sending it as it is", r->d->id, s->host, s->addr);
	s->state = S_XACT;
	{
		/* the recipients still open (all, or those a 452 held back) */
		size_t i;
		tx_free(s);
		s->tx = xcalloc(r->d->nrcpt + 1, sizeof(s->tx[0]));
		s->held = xcalloc(r->d->nrcpt + 1, 1);
		for (i = 0; i < r->d->nrcpt; i++)
			if (r->d->rcpts[i].status < 0)
				s->tx[s->ntx++] = i;
	}
	s->ncmd = s->ntx + 2;
	s->sent = s->replied = 0;
	s->naccepted = 0;
	s->mail_failed = 0;
	if ((s->features & SMTP_FEAT_SIZE) && s->size_limit > 0 &&
	    content_len(s) > s->size_limit) {
		char *why = xasprintf("5.3.4 message too big for host %s[%s] "
		    "(%zu bytes, limit %llu)", s->host, s->addr,
		    content_len(s), s->size_limit);
		size_t i;
		for (i = 0; i < r->d->nrcpt; i++)
			deliver_rcpt_set(&r->d->rcpts[i], DELIVER_BOUNCE, why);
		free(why);
		s->state = S_IDLE;
		xact_done(s);
		return;
	}
	if (s->features & SMTP_FEAT_PIPELINING) {
		while (s->sent < s->ncmd)
			send_cmd(s, s->sent++);
	} else
		send_cmd(s, s->sent++);
	io_set_timeout(s->io, (int)config_time("smtp_helo_timeout"));
}

/* Queue the next part of the content, CR LF line ends and dot-stuffed. */
static void
send_body_chunk(struct smtp_sess *s)
{
	struct smtp_req *r = s->req;
	char in[BODY_CHUNK];
	struct buf out;
	size_t want, i;
	ssize_t n;

	if (s->body_off >= content_len(s)) {
		if (!s->body_bol)
			io_puts(s->io, "\r\n");
		io_puts(s->io, ".\r\n");
		s->state = S_DOT;
		io_set_timeout(s->io, (int)config_time("smtp_data_done_timeout"));
		return;
	}
	want = content_len(s) - s->body_off;
	if (want > sizeof(in))
		want = sizeof(in);
	if (s->use_conv) {
		memcpy(in, s->conv.data + s->body_off, want);
		n = (ssize_t)want;
	} else
		n = pread(r->d->fd, in, want, r->d->content_off + (off_t)s->body_off);
	if (n <= 0) {
		/* cannot read our own queue file: give up on this host */
		size_t k;
		char *why = xasprintf("4.3.0 error reading queue file: %s",
		    n < 0 ? strerror(errno) : "short file");
		for (k = 0; k < r->d->nrcpt; k++)
			deliver_rcpt_set(&r->d->rcpts[k], DELIVER_DEFER, why);
		free(why);
		io_free(&s->io);
		s->state = S_DEAD;
		xact_done(s);
		return;
	}
	buf_init(&out, sizeof(in) * 2 + 8);
	for (i = 0; i < (size_t)n; i++) {
		char c = in[i];
		if (s->body_bol && c == '.')
			buf_appendc(&out, '.');
		if (c == '\n') {
			buf_append(&out, "\r\n", 2);
			s->body_bol = 1;
			continue;
		}
		buf_appendc(&out, c);
		s->body_bol = 0;
	}
	s->body_off += (size_t)n;
	if (s->body_off >= content_len(s)) {
		/* the end in the same write: no small segment held back by
		 * Nagle until the server's delayed ACK */
		if (!s->body_bol)
			buf_append(&out, "\r\n", 2);
		buf_append(&out, ".\r\n", 3);
		s->state = S_DOT;
		io_set_timeout(s->io, (int)config_time("smtp_data_done_timeout"));
	}
	io_write(s->io, out.data, out.len);
	buf_free(&out);
}

/* ---- replies ---- */

static void
on_greeting(struct smtp_sess *s)
{
	if (s->reply_code / 100 != 2) {
		char *w = said(s, "initial greeting");
		sess_fail(s, "%s", w);
		free(w);
		return;
	}
	send_ehlo(s);
}

static int
tls_begin(struct smtp_sess *s)
{
	SSL_CTX *ctx = smtp_tls_ctx();
	SSL *ssl;

	if (ctx == NULL)
		return -1;
	ssl = SSL_new(ctx);
	if (ssl == NULL)
		return -1;
	SSL_set_tlsext_host_name(ssl, s->host);
	if (strcmp(level(), "verify") == 0 || strcmp(level(), "secure") == 0) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set1_host(ssl, s->host);
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	} else {
		/* may/encrypt: the chain is still checked (for the log), but
		 * an unverified certificate does not stop the handshake */
		SSL_set1_host(ssl, s->host);
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	}
	s->state = S_TLS;
	io_start_tls(s->io, ssl, 0);
	return 0;
}

/* Wipe and free the credentials of the session. */
static void
sasl_forget(struct smtp_sess *s)
{
	if (s->scram != NULL) {
		scram_client_free(s->scram);
		FREE(s->scram);
	}
	if (s->sasl_user != NULL) {
		explicit_bzero(s->sasl_user, strlen(s->sasl_user));
		FREE(s->sasl_user);
	}
	if (s->sasl_pass != NULL) {
		explicit_bzero(s->sasl_pass, strlen(s->sasl_pass));
		FREE(s->sasl_pass);
	}
}

/* Send base64 of n bytes of p as a line (optionally after a prefix);
 * the line buffer is wiped.  0, or -1 if too long. */
static int
sasl_send64(struct smtp_sess *s, const char *prefix, const char *p, size_t n)
{
	struct buf line;
	int r = -1;

	buf_init(&line, 1100);
	if (buf_appends(&line, prefix) == 0 &&
	    sasl_b64_encode(p, n, &line) == 0 &&
	    buf_append(&line, "\r\n", 2) == 0) {
		io_write(s->io, line.data, line.len);
		r = 0;
	}
	if (line.data != NULL)
		explicit_bzero(line.data, line.cap);
	buf_free(&line);
	return r;
}

/*
 * SMTP AUTH after EHLO (and after STARTTLS), as Postfix's smtp client:
 * only with smtp_sasl_auth_enable, a server that offers AUTH and a
 * password for it in smtp_sasl_password_maps; otherwise the mail goes
 * without AUTH.  Mechanisms left after smtp_sasl_mechanism_filter: none
 * -> without AUTH (logged); some, but none allowed by the security
 * options (PLAIN/LOGIN under noplaintext outside TLS) -> the host fails
 * with 4.7.0 "no mechanism available" (Postfix with Cyrus SASL: "no
 * worthy mechs").  1: AUTH sent; 0: go on without; -1: session failed.
 */
static int
sasl_begin(struct smtp_sess *s)
{
	const char *filter = config_str("smtp_sasl_mechanism_filter");
	const char *id = s->req != NULL ? s->req->d->id : "-";
	unsigned offered = s->auth_mechs, mech;
	char *secret = NULL;
	char user[SMTP_SASL_USER_MAX], pass[SMTP_SASL_PASS_MAX];
	int r;

	if (s->authed || !s->auth_offered || !smtp_sasl_enabled())
		return 0;
	r = smtp_sasl_secret(s->host, s->port, s->nexthop,
	    s->req != NULL ? s->req->d->sender : "", &secret);
	if (r < 0) {
		sess_fail(s, "4.3.0 smtp_sasl_password_maps lookup error for "
		    "%s[%s]", s->host, s->addr);
		return -1;
	}
	if (r == 0)
		return 0;
	r = smtp_sasl_split_secret(secret, user, sizeof(user), pass,
	    sizeof(pass));
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (r < 0) {
		explicit_bzero(pass, sizeof(pass));
		sess_fail(s, "4.3.0 smtp_sasl_password_maps: malformed "
		    "user:password entry for %s[%s]", s->host, s->addr);
		return -1;
	}
	if (*filter != '\0')
		offered &= smtp_sasl_mech_list(filter);
	if (offered == 0) {
		explicit_bzero(pass, sizeof(pass));
		log_info("%s: %s[%s] offered no supported AUTH mechanisms: "
		    "'%s'; sending without authentication", id, s->host,
		    s->addr, s->auth_list);
		return 0;
	}
	mech = smtp_sasl_choose(offered, smtp_sasl_secflags(io_is_tls(s->io)),
	    io_is_tls(s->io));
	if (mech == 0) {
		explicit_bzero(pass, sizeof(pass));
		sess_fail(s, "4.7.0 SASL authentication failed; cannot "
		    "authenticate to server %s[%s]: no mechanism available "
		    "(offered: '%s'; smtp_sasl_%ssecurity_options)", s->host,
		    s->addr, s->auth_list, io_is_tls(s->io) ? "tls_" : "");
		return -1;
	}
	s->state = S_AUTH;
	s->auth_mech = mech;
	s->auth_step = 0;
	s->auth_error = NULL;
	io_set_timeout(s->io, (int)config_time("smtp_helo_timeout"));
	if (mech == SMTP_SASL_PLAIN) {
		/* RFC 4616: authzid NUL authcid NUL password */
		char ir[SMTP_SASL_USER_MAX + SMTP_SASL_PASS_MAX + 2];
		size_t ul = strlen(user), pl = strlen(pass);
		ir[0] = '\0';
		memcpy(ir + 1, user, ul);
		ir[1 + ul] = '\0';
		memcpy(ir + 2 + ul, pass, pl);
		r = sasl_send64(s, "AUTH PLAIN ", ir, ul + pl + 2);
		explicit_bzero(ir, sizeof(ir));
		explicit_bzero(pass, sizeof(pass));
		if (r < 0)
			panic("smtp: AUTH PLAIN line too long");
		return 1;
	}
	if (mech == SMTP_SASL_SCRAM) {
		/* RFC 5802 client-first as the initial response (RFC 4954) */
		unsigned char rnd[18];
		struct buf nonce;
		char *first;
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			fatal("smtp: no random bytes for a SCRAM nonce");
		buf_init(&nonce, 64);
		sasl_b64_encode(rnd, sizeof(rnd), &nonce);  /* no ',' */
		s->scram = xcalloc(1, sizeof(*s->scram));
		first = scram_client_start(s->scram, user, pass,
		    buf_cstr(&nonce));
		buf_free(&nonce);
		explicit_bzero(pass, sizeof(pass));
		r = sasl_send64(s, "AUTH SCRAM-SHA-256 ", first, strlen(first));
		free(first);
		if (r < 0)
			panic("smtp: AUTH SCRAM-SHA-256 line too long");
		return 1;
	}
	s->sasl_user = xstrdup(user);
	s->sasl_pass = xstrdup(pass);
	explicit_bzero(pass, sizeof(pass));
	io_puts(s->io, "AUTH LOGIN\r\n");
	return 1;
}

/* A 334 challenge of a SCRAM exchange: the server-first message (step
 * 0: answer with the client-final one), then the server-final (step 1:
 * the server's signature must check, then an empty line).  0, or -1
 * with s->auth_error (the caller cancels). */
static int
scram_step(struct smtp_sess *s, const char *text)
{
	struct buf in;
	char *final = NULL;
	const char *err = "malformed SCRAM challenge";
	int r = -1;

	buf_init(&in, SCRAM_MSG_MAX);
	if (sasl_b64_decode(text, strlen(text), &in) < 0 || in.len == 0)
		goto out;
	if (s->auth_step == 0) {
		if (scram_client_server_first(s->scram, (const char *)in.data,
		    in.len, &final, &err) < 0)
			goto out;
		r = sasl_send64(s, "", final, strlen(final));
		explicit_bzero(final, strlen(final));
		free(final);
		if (r < 0)
			panic("smtp: SCRAM client-final line too long");
	} else if (s->auth_step == 1) {
		if (scram_client_server_final(s->scram, (const char *)in.data,
		    in.len, &err) != 1) {
			/* the server does not know the password: never
			 * trust its 235, whatever it says next */
			if (strcmp(err, "SCRAM server-error") != 0)
				err = "the server's SCRAM signature is wrong "
				    "(not the server the password is for?)";
			goto out;
		}
		io_puts(s->io, "\r\n");
		r = 0;
	} else
		err = "unexpected SCRAM challenge";
	if (r == 0)
		s->auth_step++;
out:
	buf_free(&in);
	if (r < 0)
		s->auth_error = err;
	return r;
}

static void
on_auth(struct smtp_sess *s)
{
	const char *t = buf_cstr(&s->reply);

	if (s->reply_code == 334 && s->auth_mech == SMTP_SASL_LOGIN &&
	    s->auth_step < 2) {
		const char *v = s->auth_step++ == 0 ? s->sasl_user :
		    s->sasl_pass;
		if (sasl_send64(s, "", v, strlen(v)) < 0)
			panic("smtp: AUTH LOGIN line too long");
		return;
	}
	if (s->reply_code == 334 && s->auth_mech == SMTP_SASL_SCRAM &&
	    s->auth_step < 2 && scram_step(s, t) == 0)
		return;
	if (s->reply_code == 334) {
		/* a challenge this client does not expect: cancel (RFC
		 * 4954), then fail on the server's answer */
		s->auth_step = 99;
		io_puts(s->io, "*\r\n");
		return;
	}
	sasl_forget(s);
	if (s->reply_code / 100 == 2 && s->auth_mech == SMTP_SASL_SCRAM &&
	    s->auth_step != 2) {
		/* success without the server's proof: not the server the
		 * password is for, as far as this client can tell */
		sess_fail(s, "4.7.0 SASL authentication failed; server %s[%s] "
		    "said %d without proving it knows the password (%s)",
		    s->host, s->addr, s->reply_code, s->auth_error != NULL ?
		    s->auth_error : "no SCRAM server-final message");
		return;
	}
	if (s->reply_code / 100 == 2 && s->auth_step != 99) {
		s->authed = 1;
		log_info("%s: SASL authentication to %s[%s] succeeded "
		    "(mechanism %s)", s->req != NULL ? s->req->d->id : "-",
		    s->host, s->addr, smtp_sasl_mech_name(s->auth_mech));
		xact_start(s);
		return;
	}
	{
		/* never a bounce: a 5xx (wrong password) defers, as with
		 * Postfix's smtp_sasl_auth_soft_bounce = yes */
		size_t dl = smtp_reply_dsn_len(t);
		char dsn[16];
		if (dl > 0 && dl < sizeof(dsn))
			snprintf(dsn, sizeof(dsn), "4%.*s", (int)dl - 1, t + 1);
		else
			snprintf(dsn, sizeof(dsn), "4.7.0");
		if (s->auth_error != NULL)
			sess_fail(s, "%s SASL authentication failed; %s; "
			    "server %s[%s] said: %d %s", dsn, s->auth_error,
			    s->host, s->addr, s->reply_code, t);
		else
			sess_fail(s, "%s SASL authentication failed; server "
			    "%s[%s] said: %d %s", dsn, s->host, s->addr,
			    s->reply_code, t);
	}
}

/* EHLO done (and STARTTLS where it applies): AUTH, then the mail. */
static void
after_ehlo(struct smtp_sess *s)
{
	if (sasl_begin(s) != 0)
		return;
	xact_start(s);
}

static void
on_ehlo(struct smtp_sess *s)
{
	if (s->reply_code / 100 != 2) {
		if (s->state == S_EHLO && !io_is_tls(s->io)) {
			s->state = S_HELO;
			io_printf(s->io, "HELO %s\r\n",
			    config_str("smtp_helo_name"));
			return;
		}
		char *w = said(s, s->state == S_EHLO ? "EHLO" : "HELO");
		sess_fail(s, "%s", w);
		free(w);
		return;
	}
	if (!io_is_tls(s->io) && tls_wanted() && !s->notls) {
		if (s->features & SMTP_FEAT_STARTTLS) {
			s->state = S_STARTTLS;
			io_puts(s->io, "STARTTLS\r\n");
			return;
		}
		if (tls_required()) {
			/* end the session politely (RFC 5321 4.1.1.10), as
			 * Postfix does; plaintext here, nothing else pending */
			(void)!write(io_fd(s->io), "QUIT\r\n", 6);
			sess_fail(s, "4.7.4 TLS is required, but was not "
			    "offered by host %s[%s]", s->host, s->addr);
			return;
		}
	}
	after_ehlo(s);
}

static void
on_starttls(struct smtp_sess *s)
{
	if (s->reply_code != 220) {
		char *w = said(s, "STARTTLS");
		if (tls_required()) {
			sess_fail(s, "%s", w);
		} else {
			/* opportunistic: carry on in the clear */
			log_info("%s: %s", s->req->d->id, w);
			after_ehlo(s);
		}
		free(w);
		return;
	}
	if (tls_begin(s) < 0) {
		s->tls_failed = 1;
		sess_fail(s, "4.7.5 cannot set up TLS for %s[%s]", s->host,
		    s->addr);
	}
}

static void
on_tls_ready(struct smtp_sess *s)
{
	SSL *ssl = io_ssl(s->io);
	int trusted = ssl != NULL &&
	    SSL_get_verify_result(ssl) == X509_V_OK &&
	    SSL_get0_peer_certificate(ssl) != NULL;

	if ((strcmp(level(), "verify") == 0 || strcmp(level(), "secure") == 0)
	    && !trusted) {
		sess_fail(s, "4.7.5 server certificate not verified for "
		    "%s[%s]", s->host, s->addr);
		return;
	}
	log_info("%s: %s TLS connection established to %s[%s]:%d: %s",
	    s->req != NULL ? s->req->d->id : "-", trusted ? "Trusted" :
	    "Untrusted", s->host, s->addr, s->port, io_tls_summary(s->io));
	send_ehlo(s);
}

static void
on_xact_reply(struct smtp_sess *s)
{
	size_t k = s->replied++;
	int code = s->reply_code;
	char *w;

	if (k == 0) {
		/* MAIL FROM */
		if (code / 100 != 2) {
			if (s->reused && s->replied == 1 && code == 421) {
				/* cache went stale: caller retries fresh */
				w = said(s, "MAIL FROM");
				sess_fail(s, "%s", w);
				free(w);
				return;
			}
			w = said(s, "MAIL FROM");
			tx_set_all(s, code_status(code), w);
			free(w);
			s->mail_failed = 1;
		}
	} else if (k <= s->ntx) {
		struct deliver_rcpt *rc = tx_rcpt(s, k);
		if (code / 100 == 2)
			s->naccepted++;
		else if (too_many_rcpts(s))
			s->held[s->tx[k - 1]] = 1;
		else {
			w = said(s, "RCPT TO");
			deliver_rcpt_set(rc, code_status(code), w);
			free(w);
		}
	} else {
		/* DATA */
		if (code == 354 && s->naccepted > 0 && !s->mail_failed) {
			s->state = S_BODY;
			s->body_off = 0;
			s->body_bol = 1;
			io_set_timeout(s->io,
			    (int)config_time("smtp_data_done_timeout"));
			send_body_chunk(s);
			return;
		}
		if (code == 354) {
			/* no recipient left: end the empty message */
			io_puts(s->io, ".\r\n");
			s->state = S_DOT;
			s->naccepted = 0;
			return;
		}
		if (s->naccepted > 0 && !s->mail_failed) {
			w = said(s, "DATA");
			tx_set_all(s, code_status(code), w);
			free(w);
		}
		s->state = S_RSET;
		io_puts(s->io, "RSET\r\n");
		return;
	}
	if (s->replied == s->sent && s->sent < s->ncmd) {
		if (k == 0 && s->mail_failed) {
			s->state = S_RSET;
			io_puts(s->io, "RSET\r\n");
			return;
		}
		if (k == s->ntx && s->naccepted == 0) {
			/* nothing accepted: skip DATA */
			s->state = S_RSET;
			io_puts(s->io, "RSET\r\n");
			return;
		}
		send_cmd(s, s->sent++);
	}
}

/* A transaction ended: the next one for recipients a 452 held back,
 * or done. */
static void
xact_end(struct smtp_sess *s)
{
	if (rcpts_left(s)) {
		log_info("%s: host %s[%s] said too many recipients: sending "
		    "the rest in a new transaction", s->req->d->id, s->host,
		    s->addr);
		xact_start(s);
		return;
	}
	xact_done(s);
}

static void
on_dot(struct smtp_sess *s)
{
	struct smtp_req *r = s->req;
	size_t i;
	char *w = said(s, "end of DATA");

	if (s->naccepted > 0) {
		for (i = 0; i < r->d->nrcpt; i++) {
			if (r->d->rcpts[i].status >= 0 || s->held[i])
				continue;
			if (s->reply_code / 100 == 2) {
				char *t = xasprintf("2.0.0 delivered via %s[%s]:%d: "
				    "%d %s", s->host, s->addr, s->port,
				    s->reply_code, buf_cstr(&s->reply));
				/* NOTIFY=SUCCESS: a next hop that
				 * announced DSN got NOTIFY and reports
				 * itself; to any other we "relayed" */
				deliver_rcpt_set(&r->d->rcpts[i],
				    DELIVER_SENT_AS((s->features &
				    SMTP_FEAT_DSN) ? DELIVER_DSN_QUIET :
				    DELIVER_DSN_RELAYED), t);
				free(t);
			} else
				deliver_rcpt_set(&r->d->rcpts[i],
				    code_status(s->reply_code), w);
		}
	}
	free(w);
	if (s->reply_code / 100 == 2) {
		s->state = S_IDLE;
		xact_end(s);
	} else {
		s->state = S_RSET;
		io_puts(s->io, "RSET\r\n");
	}
}

static void
on_reply(struct smtp_sess *s)
{
	switch (s->state) {
	case S_CONNECT:
		on_greeting(s);
		break;
	case S_EHLO:
	case S_HELO:
		on_ehlo(s);
		break;
	case S_STARTTLS:
		on_starttls(s);
		break;
	case S_AUTH:
		on_auth(s);
		break;
	case S_XACT:
		on_xact_reply(s);
		break;
	case S_DOT:
		on_dot(s);
		break;
	case S_RSET:
		if (s->reply_code / 100 == 2)
			s->state = S_IDLE;
		else {
			io_free(&s->io);
			s->state = S_DEAD;
		}
		xact_end(s);
		break;
	case S_QUIT:
		io_free(&s->io);
		s->state = S_DEAD;
		break;
	case S_IDLE:
		/* unexpected (e.g. 421 timeout notice): drop the connection */
		io_free(&s->io);
		s->state = S_DEAD;
		if (s->park_closed != NULL)
			s->park_closed(s);
		break;
	default:
		break;
	}
}

static void
read_replies(struct smtp_sess *s)
{
	int cr, r;

	while (s->io != NULL && s->state != S_DEAD && s->state != S_BODY &&
	    (r = io_getline(s->io, &s->line, LINE_MAX_BYTES, &cr)) != 0) {
		int code, more;
		const char *text;
		if (r == 2 || smtp_reply_line(s->line.data, s->line.len, &code,
		    &more, &text) < 0 || (s->reply.len > 0 &&
		    code != s->reply_code)) {
			const char *what = s->state == S_XACT || s->state ==
			    S_DOT ? "transaction" : "session";
			io_free(&s->io);
			if (s->req != NULL && (s->state == S_XACT ||
			    s->state == S_DOT)) {
				size_t i;
				char *w = xasprintf("4.4.2 malformed reply from "
				    "%s[%s] during %s", s->host, s->addr, what);
				for (i = 0; i < s->req->d->nrcpt; i++)
					deliver_rcpt_set(&s->req->d->rcpts[i],
					    DELIVER_DEFER, w);
				free(w);
				s->state = S_DEAD;
				xact_done(s);
			} else if (s->state == S_IDLE || s->state == S_QUIT) {
				s->state = S_DEAD;
				if (s->park_closed != NULL)
					s->park_closed(s);
			} else
				sess_fail(s, "4.4.2 malformed reply from %s[%s]",
				    s->host, s->addr);
			return;
		}
		/* the text goes into logs and DSN headers: no control
		 * characters (a bare CR breaks a header line for some
		 * readers), as Postfix's smtp client does */
		str_mask_controls((char *)text);
		if (s->reply.len > 0)
			buf_appendc(&s->reply, ' ');
		if (buf_appends(&s->reply, text) < 0)
			buf_truncate(&s->reply, REPLY_MAX - 64);
		s->reply_code = code;
		if (s->state == S_EHLO) {
			smtp_ehlo_keyword(text, &s->features, &s->size_limit);
			if (smtp_sasl_ehlo_auth(text, &s->auth_mechs) &&
			    !s->auth_offered) {
				s->auth_offered = 1;
				snprintf(s->auth_list, sizeof(s->auth_list),
				    "%s", text + 4 + (text[4] != '\0'));
			}
		}
		if (more)
			continue;
		on_reply(s);
		buf_reset(&s->reply);
	}
}

static void
lost(struct smtp_sess *s, const char *what)
{
	char *w;

	if (s->state == S_IDLE || s->state == S_QUIT) {
		io_free(&s->io);
		s->state = S_DEAD;
		if (s->park_closed != NULL)
			s->park_closed(s);
		return;
	}
	if (s->state == S_TLS && s->io != NULL && io_ssl(s->io) != NULL &&
	    (strcmp(level(), "verify") == 0 || strcmp(level(), "secure") == 0)) {
		/* the handshake stopped on our own certificate check: say
		 * why, not just "I/O error" (as Postfix does) */
		long vr = SSL_get_verify_result(io_ssl(s->io));
		if (vr != X509_V_OK) {
			io_free(&s->io);
			s->tls_failed = 1;
			sess_fail(s, "4.7.5 server certificate not verified for "
			    "%s[%s]: %s", s->host, s->addr,
			    X509_verify_cert_error_string(vr));
			return;
		}
	}
	io_free(&s->io);
	if (s->state == S_TLS)
		s->tls_failed = 1;
	if (s->state == S_CONNECT || s->state == S_EHLO || s->state == S_HELO ||
	    s->state == S_STARTTLS || s->state == S_TLS || s->state == S_AUTH ||
	    (s->reused && s->state == S_XACT && s->replied == 0)) {
		if (s->state == S_CONNECT && !s->reused)
			sess_fail(s, "4.4.1 connect to %s[%s]:%d: %s", s->host,
			    s->addr, s->port, what);
		else
			sess_fail(s, "4.4.2 %s[%s]:%d: %s%s", s->host,
			    s->addr, s->port, s->state == S_TLS ?
			    "TLS handshake failed: " : "lost connection: ",
			    what);
		return;
	}
	w = xasprintf("4.4.2 lost connection with %s[%s] while sending %s: %s",
	    s->host, s->addr, s->state == S_BODY || s->state == S_DOT ?
	    "message body" : "the envelope", what);
	if (s->req != NULL) {
		size_t i;
		for (i = 0; i < s->req->d->nrcpt; i++)
			deliver_rcpt_set(&s->req->d->rcpts[i], DELIVER_DEFER, w);
	}
	free(w);
	s->state = S_DEAD;
	xact_done(s);
}

static void
sess_io(struct io *io, enum io_evt evt, void *arg)
{
	struct smtp_sess *s = arg;
	int err = errno, soerr = 0;
	socklen_t sl = sizeof(soerr);

	s->depth++;
	switch (evt) {
	case IO_IN:
		read_replies(s);
		break;
	case IO_LOWAT:
		if (s->state == S_BODY)
			send_body_chunk(s);
		break;
	case IO_TLSREADY:
		on_tls_ready(s);
		break;
	case IO_TIMEOUT:
		if (s->state == S_IDLE && s->park_closed != NULL) {
			/* a cached session's idle time is over: its owner
			 * closes it, and smtp_sess_close() says QUIT */
			s->park_closed(s);
			break;
		}
		lost(s, s->state == S_CONNECT ? "Connection timed out" :
		    "conversation timed out");
		break;
	case IO_EOF:
		lost(s, "Connection closed by peer");
		break;
	case IO_ERROR:
		if (getsockopt(io_fd(io), SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0
		    && soerr != 0)
			err = soerr;
		lost(s, err != 0 ? strerror(err) : "I/O error");
		break;
	}
	if (--s->depth == 0 && s->want_free)
		sess_free(s);
}

static void
connect_failed(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_sess *s = arg;

	(void)fd;
	(void)what;
	s->depth++;
	sess_fail(s, "4.4.1 connect to %s[%s]:%d: %s", s->host, s->addr,
	    s->port, strerror(s->connect_errno));
	if (--s->depth == 0 && s->want_free)
		sess_free(s);
}

/* smtp_bind_address / smtp_bind_address6: the local address of
 * outgoing connections (checked at start by smtp_main).  0 or -1. */
static int
bind_local(int fd, int family)
{
	const char *a = config_str(family == AF_INET6 ? "smtp_bind_address6" :
	    "smtp_bind_address");
	struct sockaddr_storage ss;
	socklen_t len;

	if (*a == '\0')
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		len = sizeof(*s4);
	}
	return bind(fd, (struct sockaddr *)&ss, len);
}

struct smtp_sess *
smtp_sess_connect(const struct smtp_target *t, const char *nexthop,
    struct smtp_req *req, int notls, smtp_done_fn fn, void *ctx)
{
	struct smtp_sess *s = xcalloc(1, sizeof(*s));
	const struct sockaddr *sa = (const struct sockaddr *)&t->addr.ss;
	int fd;

	snprintf(s->host, sizeof(s->host), "%s", t->host);
	netaddr_ntop(sa, s->addr, sizeof(s->addr));
	s->port = ntohs(sa->sa_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)sa)->sin6_port :
	    ((const struct sockaddr_in *)sa)->sin_port);
	s->nexthop = xstrdup(nexthop);
	s->notls = notls;
	s->req = req;
	s->done = fn;
	s->ctx = ctx;
	s->state = S_CONNECT;
	buf_init(&s->line, LINE_MAX_BYTES + 1);
	buf_init(&s->reply, REPLY_MAX);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 || bind_local(fd, sa->sa_family) < 0 ||
	    (connect(fd, sa, t->addr.len) < 0 && errno != EINPROGRESS)) {
		/* report on the next loop turn, never inside the caller */
		struct timeval tv0 = { 0, 0 };
		s->connect_errno = errno;
		if (fd >= 0)
			close(fd);
		event_base_once(io_base(), -1, EV_TIMEOUT, connect_failed, s,
		    &tv0);
		return s;
	}
	{
		/* commands are written whole; do not wait for ACKs */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	s->io = io_new(fd, sess_io, s);
	io_set_timeout(s->io, (int)config_time("smtp_connect_timeout"));
	return s;
}

void
smtp_sess_reuse(struct smtp_sess *s, struct smtp_req *req, smtp_done_fn fn,
    void *ctx)
{
	s->req = req;
	s->done = fn;
	s->ctx = ctx;
	s->reused = 1;
	s->park_closed = NULL;
	xact_start(s);
}

void *
smtp_sess_ctx(const struct smtp_sess *s)
{
	return s->ctx;
}

int
smtp_sess_idle(const struct smtp_sess *s)
{
	return s->state == S_IDLE && s->io != NULL;
}

const char *
smtp_sess_nexthop(const struct smtp_sess *s)
{
	return s->nexthop;
}

int
smtp_sess_tls_failed(const struct smtp_sess *s)
{
	return s->tls_failed;
}

int
smtp_sess_authed(const struct smtp_sess *s)
{
	return s->authed;
}

int
smtp_sess_reused(const struct smtp_sess *s)
{
	return s->reused;
}

void
smtp_sess_park(struct smtp_sess *s, void (*closed)(struct smtp_sess *))
{
	s->park_closed = closed;
	io_set_timeout(s->io,
	    (int)config_time("smtp_connection_cache_time_limit"));
}

static void
sess_free(struct smtp_sess *s)
{
	sasl_forget(s);
	tx_free(s);
	io_free(&s->io);
	buf_free(&s->conv);
	buf_free(&s->line);
	buf_free(&s->reply);
	free(s->nexthop);
	free(s);
}

void
smtp_sess_close(struct smtp_sess **sp)
{
	struct smtp_sess *s = *sp;

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->io != NULL && s->state == S_IDLE && !io_is_tls(s->io)) {
		/* best effort: the socket is non-blocking */
		(void)!write(io_fd(s->io), "QUIT\r\n", 6);
	} else if (s->io != NULL && s->state == S_IDLE &&
	    io_ssl(s->io) != NULL && io_outlen(s->io) == 0) {
		/* TLS: QUIT straight through the session's SSL (its
		 * bufferevent is idle and goes now), best effort like the
		 * plaintext write; io_free() then sends close_notify.  Not
		 * through the event loop: a draining process exits before
		 * the loop would write it */
		(void)SSL_write(io_ssl(s->io), "QUIT\r\n", 6);
		ERR_clear_error();
	}
	io_free(&s->io);
	s->state = S_DEAD;
	s->done = NULL;
	s->park_closed = NULL;
	if (s->depth > 0)
		s->want_free = 1;
	else
		sess_free(s);
}
