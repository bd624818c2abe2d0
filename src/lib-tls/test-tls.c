/* test-tls.c - protocol lists, self-signed certificates, server contexts
 * with and without session resumption, client contexts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

	memset(&set, 0, sizeof(set));
	set.cert_file = crt;
	set.key_file = key;
	set.protocols = ">=TLSv1.2";
	set.ciphers = "high";
	set.session_timeout = 3600;
	set.session_id = "test";
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

int
main(void)
{
	T_RUN(test_protocols);
	T_RUN(test_selfsigned_and_contexts);
	return t_done();
}
