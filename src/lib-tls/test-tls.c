/* test-tls.c - protocol lists, self-signed certificates, server contexts
 * with and without session resumption, client contexts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ossl.h"
#include "tls.h"
#include "test.h"

static int
range(const char *protocols, int *min_r, int *max_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char *err = NULL;
	int r = tls_set_protocols(ctx, protocols, &err);

	*min_r = (int)SSL_CTX_get_min_proto_version(ctx);
	*max_r = (int)SSL_CTX_get_max_proto_version(ctx);
	SSL_CTX_free(ctx);
	free(err);
	return r;
}

static void
test_protocols(void)
{
	int lo, hi;

	T_INTEQ(range(">=TLSv1.2", &lo, &hi), 0);
	T_INTEQ(lo, TLS1_2_VERSION);
	T_INTEQ(hi, TLS1_3_VERSION);
	/* never below TLS 1.2, whatever is asked */
	T_INTEQ(range(">=TLSv1", &lo, &hi), 0);
	T_INTEQ(lo, TLS1_2_VERSION);
	T_INTEQ(range("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", &lo, &hi), 0);
	T_INTEQ(lo, TLS1_2_VERSION);
	T_INTEQ(hi, TLS1_3_VERSION);
	T_INTEQ(range(">=TLSv1.3", &lo, &hi), 0);
	T_INTEQ(lo, TLS1_3_VERSION);
	T_INTEQ(range("<=TLSv1.2", &lo, &hi), 0);
	T_INTEQ(hi, TLS1_2_VERSION);
	T_INTEQ(range("!TLSv1.3", &lo, &hi), 0);
	T_INTEQ(lo, TLS1_2_VERSION);
	T_INTEQ(hi, TLS1_2_VERSION);
	T_INTEQ(range("!TLSv1.2:!TLSv1.3", &lo, &hi), -1);
	T_INTEQ(range("<=TLSv1.1", &lo, &hi), -1);
	T_INTEQ(range("TLSv9", &lo, &hi), -1);
	T_INTEQ(range(">=bogus", &lo, &hi), -1);
}

/* Server settings for the test certificate, TLS 1.2+, "high" ciphers. */
static void
server_settings(struct tls_server_settings *set, const char *crt,
    const char *key, long timeout)
{
	memset(set, 0, sizeof(*set));
	set->cert_file = crt;
	set->key_file = key;
	set->protocols = ">=TLSv1.2";
	set->ciphers = "high";
	set->session_timeout = timeout;
	set->session_id = "test";
}

static void
test_selfsigned_and_contexts(void)
{
	char dir[] = "/tmp/test-tls-XXXXXX", crt[300], key[300], cmd[400];
	struct tls_server_settings set;
	struct stat st;
	char *err = NULL;
	SSL_CTX *ctx;

	T_OK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	T_INTEQ(tls_selfsigned_ensure(crt, key, "mx.example.test", &err), 0);
	T_INTEQ(stat(key, &st), 0);
	T_INTEQ(st.st_mode & 0777, 0600);
	/* a second call keeps the files */
	T_INTEQ(stat(crt, &st), 0);
	{
		struct stat st2;
		T_INTEQ(tls_selfsigned_ensure(crt, key, "other", &err), 0);
		T_INTEQ(stat(crt, &st2), 0);
		T_INTEQ((long long)st2.st_ino, (long long)st.st_ino);
	}
	ctx = tls_server_ctx(crt, key, &err);
	T_OK(ctx != NULL);
	T_INTEQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);

	server_settings(&set, crt, key, 3600);
	ctx = tls_server_ctx_settings(&set, &err);
	T_OK(ctx != NULL);
	T_INTEQ(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_SERVER);
	T_INTEQ(SSL_CTX_get_timeout(ctx), 3600);
	T_OK((SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) == 0);
	SSL_CTX_free(ctx);
	set.session_timeout = 0;
	ctx = tls_server_ctx_settings(&set, &err);
	T_OK(ctx != NULL);
	T_INTEQ(SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	T_OK((SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) != 0);
	SSL_CTX_free(ctx);
	/* errors: bad grade, missing file, key of another certificate */
	set.ciphers = "export";
	T_OK(tls_server_ctx_settings(&set, &err) == NULL);
	free(err);
	err = NULL;
	set.ciphers = "medium";
	set.cert_file = "/nonexistent/cert.pem";
	T_OK(tls_server_ctx_settings(&set, &err) == NULL);
	T_OK(err != NULL && strstr(err, "/nonexistent/cert.pem") != NULL);
	free(err);
	err = NULL;
	ctx = tls_client_ctx("", "high", &err);
	T_OK(ctx != NULL);
	SSL_CTX_free(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_INTEQ(system(cmd), 0);
}

/* Session tickets: one in-memory handshake of client and server, with
 * the client offering sess (or none).  The new session in *sess_r. */
static int
handshake(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *sess,
    SSL_SESSION **sess_r, int *reused_r)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *bs, *bc;
	unsigned char byte;
	int i, sdone = 0, cdone = 0, r = -1;

	if (BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		return -1;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (sess != NULL)
		SSL_set_session(c, sess);
	for (i = 0; i < 100 && !(sdone && cdone); i++) {
		if (!cdone)
			cdone = SSL_do_handshake(c) == 1;
		if (!sdone)
			sdone = SSL_do_handshake(s) == 1;
	}
	if (sdone && cdone) {
		/* TLS 1.3 tickets come after the handshake: let the server
		 * send them and the client take them in */
		(void)SSL_write(s, "x", 1);
		if (SSL_read(c, &byte, 1) == 1) {
			*reused_r = SSL_session_reused(s);
			*sess_r = SSL_get1_session(c);
			r = 0;
		}
		(void)SSL_shutdown(c);
		(void)SSL_shutdown(s);
	}
	SSL_free(s);
	SSL_free(c);
	return r;
}

static time_t fake_now;

static time_t
fake_clock(void)
{
	return fake_now;
}

/* the key name of a session's ticket */
static int
ticket_name_is(SSL_SESSION *sess, const unsigned char *name)
{
	const unsigned char *tick;
	size_t len;

	SSL_SESSION_get0_ticket(sess, &tick, &len);
	return len > 16 && memcmp(tick, name, 16) == 0;
}

static int
read_file(const char *path, unsigned char *buf, size_t len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len, f);
	fclose(f);
	return (int)n;
}

static void
test_ticket_rotation_proto(int proto)
{
	char dir[] = "/tmp/test-tls-XXXXXX", crt[300], key[300], tkf[300];
	char cmd[400], *err = NULL;
	unsigned char f0[200], f1[200], f2[200], old[80];
	struct tls_server_settings set;
	SSL_CTX *sctx, *sctx2, *cctx;
	SSL_SESSION *s1, *s2, *s3;
	time_t t0 = time(NULL);
	int reused;
	FILE *f;

	T_OK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(tkf, sizeof(tkf), "%s/ticket.key", dir);
	T_INTEQ(tls_selfsigned_ensure(crt, key, "mx.example.test", &err), 0);
	server_settings(&set, crt, key, 100);
	set.ticket_key_file = tkf;
	fake_now = t0;
	tls_ticket_keys_set_clock(fake_clock);
	sctx = tls_server_ctx_settings(&set, &err);
	T_OK(sctx != NULL);
	/* tickets only: no resumption from the server's session cache */
	SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
	cctx = tls_client_ctx("", "high", &err);
	T_OK(cctx != NULL);
	SSL_CTX_set_min_proto_version(cctx, proto);
	SSL_CTX_set_max_proto_version(cctx, proto);
	T_INTEQ(read_file(tkf, f0, sizeof(f0)), 168);

	/* a ticket of the current key resumes */
	T_INTEQ(handshake(sctx, cctx, NULL, &s1, &reused), 0);
	T_INTEQ(reused, 0);
	T_OK(ticket_name_is(s1, f0 + 8));
	T_INTEQ(handshake(sctx, cctx, s1, &s2, &reused), 0);
	T_INTEQ(reused, 1);
	SSL_SESSION_free(s2);

	/* one lifetime later the key is rotated: the old key decrypts as
	 * the previous one, and the client gets a ticket of the new key */
	fake_now = t0 + 150;
	T_INTEQ(handshake(sctx, cctx, s1, &s2, &reused), 0);
	T_INTEQ(reused, 1);
	T_INTEQ(read_file(tkf, f1, sizeof(f1)), 168);
	T_OK(memcmp(f1 + 8, f0 + 8, 80) != 0);
	T_OK(memcmp(f1 + 88, f0 + 8, 80) == 0);
	T_OK(ticket_name_is(s2, f1 + 8));

	/* another process using the file sees the same keys */
	sctx2 = tls_server_ctx_settings(&set, &err);
	T_OK(sctx2 != NULL);
	SSL_CTX_set_session_cache_mode(sctx2, SSL_SESS_CACHE_OFF);
	T_INTEQ(handshake(sctx2, cctx, s2, &s3, &reused), 0);
	T_INTEQ(reused, 1);
	SSL_SESSION_free(s3);

	/* two rotations on, the first key is gone: a full handshake (the
	 * rotation by sctx2 reaches sctx through the file) */
	fake_now = t0 + 300;
	T_INTEQ(handshake(sctx2, cctx, NULL, &s3, &reused), 0);
	SSL_SESSION_free(s3);
	fake_now = t0 + 301;
	T_INTEQ(read_file(tkf, f2, sizeof(f2)), 168);
	T_OK(memcmp(f2 + 88, f1 + 8, 80) == 0);
	T_INTEQ(handshake(sctx, cctx, s1, &s3, &reused), 0);
	T_INTEQ(reused, 0);
	T_OK(ticket_name_is(s3, f2 + 8));
	SSL_SESSION_free(s3);
	T_INTEQ(handshake(sctx, cctx, s2, &s3, &reused), 0);
	T_INTEQ(reused, 1);
	SSL_SESSION_free(s3);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	SSL_CTX_free(sctx2);
	SSL_CTX_free(sctx);

	/* the single 80-byte key of an older version becomes the previous
	 * key of a fresh file */
	f = fopen(tkf, "wb");
	T_OK(f != NULL);
	memset(old, 'k', sizeof(old));
	T_INTEQ((int)fwrite(old, 1, sizeof(old), f), 80);
	fclose(f);
	sctx = tls_server_ctx_settings(&set, &err);
	T_OK(sctx != NULL);
	T_INTEQ(read_file(tkf, f1, sizeof(f1)), 168);
	T_OK(memcmp(f1 + 88, old, 80) == 0);
	SSL_CTX_free(sctx);
	/* an unusable path is an error naming it */
	set.ticket_key_file = "/nonexistent/ticket.key";
	T_OK(tls_server_ctx_settings(&set, &err) == NULL);
	T_OK(err != NULL && strstr(err, "/nonexistent/ticket.key") != NULL);
	free(err);
	SSL_CTX_free(cctx);
	tls_ticket_keys_set_clock(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_INTEQ(system(cmd), 0);
}

static void
test_ticket_rotation(void)
{
	test_ticket_rotation_proto(TLS1_2_VERSION);
	test_ticket_rotation_proto(TLS1_3_VERSION);
}

int
main(void)
{
	T_RUN(test_protocols);
	T_RUN(test_selfsigned_and_contexts);
	T_RUN(test_ticket_rotation);
	return t_done();
}
