/*
 * tls.c - SSL_CTX construction and self-signed certificate generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "mem.h"
#include "tls.h"

static char *
ssl_error(const char *what)
{
	char e[256];

	ERR_error_string_n(ERR_get_error(), e, sizeof(e));
	return xasprintf("%s: %s", what, e);
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_r = ssl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* idle sessions keep no read/write buffers: kilobytes per session */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
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

int
tls_selfsigned_ensure(const char *cert, const char *key, const char *cn,
    char **error_r)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	char san[300];
	int r = -1;

	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
		return 0;
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
	if (write_pem(key, 0600, pem_key, pk) < 0 ||
	    write_pem(cert, 0644, pem_cert, x) < 0) {
		*error_r = xasprintf("writing %s: %s", cert, strerror(errno));
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(pk);
	X509_free(x);
	return r;
}
