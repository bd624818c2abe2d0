/*
 * tls.c - SSL_CTX construction (server and client), protocol and cipher
 * policy, session resumption, and self-signed certificate generation.
 * Inputs are main.cf values and files named by the administrator.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "mem.h"
#include "ossl.h"
#include "str.h"
#include "tls.h"

static const struct cfg_param tls_params[] = {
	{ "tls_high_cipherlist", CFG_STR,
	  "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS:!PSK:!SRP",
	  0, "OpenSSL cipher list of the \"high\" grade (TLS 1.2; TLS 1.3 suites are always the OpenSSL defaults): forward secrecy and AEAD only" },
	{ "tls_medium_cipherlist", CFG_STR,
	  "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!DES:!SEED:!IDEA:!DSS:!PSK:!SRP:!CAMELLIA:!ARIA",
	  0, "OpenSSL cipher list of the \"medium\" grade (still no RC4, 3DES, MD5 or anonymous suites)" },
};

CONFIG_PARAMS(tls_params);

static char *
ssl_error(const char *what)
{
	char e[256];
	unsigned long code = ERR_get_error();

	if (code == 0)
		return xasprintf("%s: unknown error", what);
	ERR_error_string_n(code, e, sizeof(e));
	ERR_clear_error();
	return xasprintf("%s: %s", what, e);
}

static const char *
cipherlist(const char *grade, char **error_r)
{
	if (grade == NULL || *grade == '\0' || strcasecmp(grade, "high") == 0)
		return config_str("tls_high_cipherlist");
	if (strcasecmp(grade, "medium") == 0)
		return config_str("tls_medium_cipherlist");
	*error_r = xasprintf("unknown cipher grade \"%s\" (high or medium)",
	    grade);
	return NULL;
}

static int
proto_version(const char *name)
{
	static const struct { const char *n; int v; } t[] = {
		{ "SSLv2", 0x0200 }, { "SSLv3", SSL3_VERSION },
		{ "TLSv1", TLS1_VERSION }, { "TLSv1.1", TLS1_1_VERSION },
		{ "TLSv1.2", TLS1_2_VERSION }, { "TLSv1.3", TLS1_3_VERSION },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		if (strcasecmp(name, t[i].n) == 0)
			return t[i].v;
	return -1;
}

int
tls_set_protocols(SSL_CTX *ctx, const char *protocols, char **error_r)
{
	static const int order[] = { TLS1_VERSION, TLS1_1_VERSION,
	    TLS1_2_VERSION, TLS1_3_VERSION };
	char **tok = str_split(protocols != NULL ? protocols : "",
	    STR_LIST_SEPS ":", NULL);
	int min = TLS1_2_VERSION, max = TLS1_3_VERSION, excluded[4] = { 0 };
	size_t i, j;
	int r = 0;

	for (i = 0; tok[i] != NULL && r == 0; i++) {
		const char *t = tok[i];
		int v;
		if (strncmp(t, ">=", 2) == 0 || strncmp(t, "<=", 2) == 0) {
			v = proto_version(t + 2);
			if (v < 0)
				r = -1;
			else if (t[0] == '>' && v > min)
				min = v;
			else if (t[0] == '<')
				max = v;
		} else if (t[0] == '!') {
			v = proto_version(t + 1);
			if (v < 0)
				r = -1;
			for (j = 0; j < NELEM(order); j++)
				if (order[j] == v)
					excluded[j] = 1;
		} else {
			r = -1;
		}
		if (r < 0)
			*error_r = xasprintf("bad TLS protocol \"%s\"", t);
	}
	str_split_free(&tok);
	if (r < 0)
		return -1;
	/* OpenSSL only has a range: the lowest and highest version that is
	 * inside [min, max] and not excluded (never below TLS 1.2) */
	{
		int lo = 0, hi = 0;
		for (j = 0; j < NELEM(order); j++) {
			if (excluded[j] || order[j] < min || order[j] > max ||
			    order[j] < TLS1_2_VERSION)
				continue;
			if (lo == 0)
				lo = order[j];
			hi = order[j];
		}
		if (lo == 0) {
			*error_r = xstrdup("no TLS protocol version left (TLS 1.2 "
			    "is the minimum)");
			return -1;
		}
		min = lo;
		max = hi;
	}
	SSL_CTX_set_min_proto_version(ctx, min);
	SSL_CTX_set_max_proto_version(ctx, max);
	return 0;
}

static int
ctx_common(SSL_CTX *ctx, const char *protocols, const char *grade,
    char **error_r)
{
	const char *list = cipherlist(grade, error_r);

	if (list == NULL)
		return -1;
	if (tls_set_protocols(ctx, protocols, error_r) < 0)
		return -1;
	/* idle sessions keep no read/write buffers: kilobytes per session */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
		*error_r = ssl_error("cipher list");
		return -1;
	}
	return 0;
}

/* An empty key: key and chain in one file, as Postfix allows. */
static const char *
key_file(const char *cert, const char *key)
{
	return key == NULL || *key == '\0' ? cert : key;
}

static SSL_CTX *
server_ctx(const char *cert, const char *key, const char *protocols,
    const char *grade, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = ssl_error("SSL_CTX_new");
		return NULL;
	}
	if (ctx_common(ctx, protocols, grade, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = ssl_error(cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = ssl_error(key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char **error_r)
{
	return server_ctx(cert, key, NULL, "high", error_r);
}

int
tls_server_pair_check(const char *cert, const char *key, char **error_r)
{
	SSL_CTX *ctx = server_ctx(cert, key_file(cert, key), NULL, "high", error_r);

	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

void
tls_default_cert_paths(char **cert_r, char **key_r)
{
	char *dir = xasprintf("%s/tls", config_str("data_directory"));

	(void)mkdir(dir, 0700);
	*cert_r = xasprintf("%s/server.crt", dir);
	*key_r = xasprintf("%s/server.key", dir);
	free(dir);
}

SSL_CTX *
tls_server_ctx_settings(const struct tls_server_settings *set,
    char **error_r)
{
	char *dcert = NULL, *dkey = NULL;
	const char *cert = set->cert_file, *key = set->key_file;
	SSL_CTX *ctx;

	if (cert == NULL || *cert == '\0') {
		tls_default_cert_paths(&dcert, &dkey);
		if (tls_selfsigned_ensure(dcert, dkey, config_str("myhostname"),
		    error_r) < 0) {
			free(dcert);
			free(dkey);
			return NULL;
		}
		cert = dcert;
		if (key == NULL || *key == '\0')
			key = dkey;
	}
	ctx = server_ctx(cert, key_file(cert, key), set->protocols, set->ciphers,
	    error_r);
	free(dcert);
	free(dkey);
	if (ctx == NULL)
		return NULL;
	if (set->session_timeout <= 0) {
		/* no resumption at all: no cache, no tickets */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return ctx;
	}
	/* resumption: a server-side cache for TLS 1.2 session ids, tickets
	 * for TLS 1.2 and 1.3 (keys random per process, or shared and
	 * rotated through ticket_key_file: tls_ticket.c) */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 2);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20000);
	SSL_CTX_set_timeout(ctx, set->session_timeout);
	if (set->ticket_key_file != NULL && *set->ticket_key_file != '\0' &&
	    tls_ticket_keys_use(ctx, set->ticket_key_file,
	    set->session_timeout, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (set->session_id != NULL)
		SSL_CTX_set_session_id_context(ctx,
		    (const unsigned char *)set->session_id,
		    (unsigned)(strlen(set->session_id) > SSL_MAX_SID_CTX_LENGTH ?
		    SSL_MAX_SID_CTX_LENGTH : strlen(set->session_id)));
	return ctx;
}

SSL_CTX *
tls_client_ctx(const char *ca_file, const char *ciphers, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = ssl_error("SSL_CTX_new");
		return NULL;
	}
	if (ctx_common(ctx, NULL, ciphers, error_r) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (ca_file != NULL && *ca_file != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
			*error_r = ssl_error(ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

int
tls_session_reused(SSL *ssl)
{
	return ssl != NULL && SSL_session_reused(ssl);
}

static int
write_pem(const char *path, int mode, int (*fn)(FILE *, void *), void *obj)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return -1;
	}
	ok = fn(f, obj) == 1;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int
pem_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int
pem_cert(FILE *f, void *c)
{
	return PEM_write_X509(f, c);
}

static int
selfsigned_write(const char *cert, const char *key, const char *cn,
    char **error_r)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char san[300], *tcert, *tkey;
	int r = -1;

	pk = EVP_EC_gen("P-256");
	x = X509_new();
	if (pk == NULL || x == NULL) {
		*error_r = ssl_error("key generation");
		goto out;
	}
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1", cn);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (ext != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pk, EVP_sha256()) == 0) {
		*error_r = ssl_error("X509_sign");
		goto out;
	}
	/* temporary names, then rename: readers see both files or none */
	tcert = xasprintf("%s.tmp", cert);
	tkey = xasprintf("%s.tmp", key);
	if (write_pem(tkey, 0600, pem_key, pk) < 0 ||
	    write_pem(tcert, 0644, pem_cert, x) < 0 ||
	    rename(tkey, key) < 0 || rename(tcert, cert) < 0)
		*error_r = xasprintf("writing %s: %s", cert, strerror(errno));
	else
		r = 0;
	unlink(tkey);
	unlink(tcert);
	free(tcert);
	free(tkey);
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}

int
tls_selfsigned_ensure(const char *cert, const char *key, const char *cn,
    char **error_r)
{
	char *lock;
	int fd, r;

	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
		return 0;
	/* several services start at once: one generates, the others wait */
	lock = xasprintf("%s.lock", cert);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		*error_r = xasprintf("lock for %s: %s", cert, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r = 0;
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0)
		r = selfsigned_write(cert, key, cn, error_r);
	close(fd);
	return r;
}

SSL_CTX *
tls_server_ctx_auto(const char *cert, const char *key, const char *dir,
    const char *cn, char **error_r)
{
	char *dcert = NULL, *dkey = NULL;
	SSL_CTX *ctx = NULL;

	if (*cert == '\0' || *key == '\0') {
		mkdir(dir, 0700);
		dcert = xasprintf("%s/server.crt", dir);
		dkey = xasprintf("%s/server.key", dir);
		if (tls_selfsigned_ensure(dcert, dkey, cn, error_r) < 0)
			goto out;
		cert = dcert;
		key = dkey;
	}
	ctx = tls_server_ctx(cert, key, error_r);
out:
	free(dcert);
	free(dkey);
	return ctx;
}
