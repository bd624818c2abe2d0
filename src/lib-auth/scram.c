/*
 * scram.c - SCRAM-SHA-256 server and client sides (see scram.h).
 * Input: the peer's messages from the network and administrator-written
 * secrets and passwords.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "buf.h"
#include "mem.h"
#include "ossl.h"
#include "sasl.h"
#include "scram.h"

static void
hmac256(const unsigned char *key, size_t klen, const void *data, size_t dlen,
    unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int n = SCRAM_KEY_LEN;

	HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &n);
}

/* Decode base64 text of exactly want bytes (or up to max when want is 0). */
static int
b64_fixed(const char *text, size_t len, unsigned char *out, size_t want,
    size_t max, size_t *got_r)
{
	struct buf b;
	int r = -1;

	buf_init(&b, max);
	if (sasl_b64_decode(text, len, &b) == 0 &&
	    (want == 0 ? b.len > 0 : b.len == want)) {
		memcpy(out, b.data, b.len);
		if (got_r != NULL)
			*got_r = b.len;
		r = 0;
	}
	buf_free(&b);
	return r;
}

int
scram_secret_parse(const char *text, struct scram_secret *s)
{
	const char *f[4], *p = text, *c;
	size_t l[4];
	int i;
	long it;
	char *end;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 4; i++) {
		c = strchr(p, ',');
		if ((c == NULL) != (i == 3))
			return -1;
		f[i] = p;
		l[i] = c != NULL ? (size_t)(c - p) : strlen(p);
		p = c != NULL ? c + 1 : p;
	}
	if (l[0] == 0 || l[0] > 7)
		return -1;
	it = strtol(f[0], &end, 10);
	if (end != f[0] + l[0] || it < 1 || it > SCRAM_ITER_MAX)
		return -1;
	s->iter = (int)it;
	if (b64_fixed(f[1], l[1], s->salt, 0, sizeof(s->salt), &s->salt_len) < 0 ||
	    b64_fixed(f[2], l[2], s->stored_key, SCRAM_KEY_LEN, 64, NULL) < 0 ||
	    b64_fixed(f[3], l[3], s->server_key, SCRAM_KEY_LEN, 64, NULL) < 0)
		return -1;
	return 0;
}

static void
derive(const char *password, const unsigned char *salt, size_t salt_len,
    int iter, unsigned char stored[SCRAM_KEY_LEN],
    unsigned char server[SCRAM_KEY_LEN])
{
	unsigned char salted[SCRAM_KEY_LEN], client[SCRAM_KEY_LEN];

	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
	    iter, EVP_sha256(), SCRAM_KEY_LEN, salted);
	hmac256(salted, sizeof(salted), "Client Key", 10, client);
	SHA256(client, sizeof(client), stored);
	hmac256(salted, sizeof(salted), "Server Key", 10, server);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client, sizeof(client));
}

char *
scram_secret_make(const char *password, int iter)
{
	unsigned char salt[16], stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	struct buf b;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		abort();
	derive(password, salt, sizeof(salt), iter, stored, server);
	buf_init(&b, 512);
	buf_printf(&b, "{SCRAM-SHA-256}%d,", iter);
	sasl_b64_encode(salt, sizeof(salt), &b);
	buf_appendc(&b, ',');
	sasl_b64_encode(stored, sizeof(stored), &b);
	buf_appendc(&b, ',');
	sasl_b64_encode(server, sizeof(server), &b);
	return buf_steal(&b);
}

int
scram_secret_match(const struct scram_secret *s, const char *password)
{
	unsigned char stored[SCRAM_KEY_LEN], server[SCRAM_KEY_LEN];
	int ok;

	derive(password, s->salt, s->salt_len, s->iter, stored, server);
	ok = CRYPTO_memcmp(stored, s->stored_key, SCRAM_KEY_LEN) == 0;
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	return ok;
}

/* Decode a saslname (=2C -> ',', =3D -> '='); NULL if malformed. */
static char *
saslname(const char *p, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '=') {
			if (n - i >= 3 && strncmp(p + i, "=2C", 3) == 0)
				out[o++] = ',';
			else if (n - i >= 3 && strncmp(p + i, "=3D", 3) == 0)
				out[o++] = '=';
			else {
				free(out);
				return NULL;
			}
			i += 2;
		} else if (p[i] == ',' || p[i] == '\0') {
			free(out);
			return NULL;
		} else
			out[o++] = p[i];
	}
	out[o] = '\0';
	return out;
}

/* The next ','-separated attribute "x=value" at *pp (len left in *np). */
static int
next_attr(const char **pp, size_t *np, char *name_r, const char **val_r,
    size_t *vlen_r)
{
	const char *p = *pp, *c;
	size_t n = *np, l;

	/* attr-val = ALPHA "=" value: a name is a letter, never ',' (the
	 * value length below would underflow) */
	if (n < 2 || p[1] != '=' || !((p[0] >= 'a' && p[0] <= 'z') ||
	    (p[0] >= 'A' && p[0] <= 'Z')))
		return -1;
	c = memchr(p, ',', n);
	l = c != NULL ? (size_t)(c - p) : n;
	*name_r = p[0];
	*val_r = p + 2;
	*vlen_r = l - 2;
	*pp = c != NULL ? c + 1 : p + n;
	*np = c != NULL ? n - l - 1 : 0;
	return 0;
}

static int
printable_nonce(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

int
scram_client_first(struct scram_server *st, const char *msg, size_t len,
    const char **error_r)
{
	const char *p = msg, *v, *c;
	size_t n = len, vl;
	char name, *authzid = NULL;

	memset(st, 0, sizeof(*st));
	*error_r = "malformed SCRAM client-first message";
	if (len == 0 || len > SCRAM_MSG_MAX || memchr(msg, '\0', len) != NULL)
		return -1;
	/* gs2-header: cbind flag, authzid, then the bare message */
	if (n >= 2 && p[0] == 'p' && p[1] == '=') {
		*error_r = "channel binding not supported";
		return -1;
	}
	if (n < 2 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
		return -1;
	p += 2;
	n -= 2;
	c = memchr(p, ',', n);
	if (c == NULL)
		return -1;
	if (c != p) {
		if (c - p < 3 || p[0] != 'a' || p[1] != '=' ||
		    (authzid = saslname(p + 2, (size_t)(c - p - 2))) == NULL)
			return -1;
	}
	n -= (size_t)(c + 1 - p);
	p = c + 1;
	st->gs2_header = xstrndup(msg, (size_t)(p - msg));
	st->client_first_bare = xstrndup(p, n);
	if (next_attr(&p, &n, &name, &v, &vl) < 0 || name != 'n' ||
	    (st->user = saslname(v, vl)) == NULL ||
	    !sasl_name_ok(st->user, strlen(st->user)))
		goto fail;
	if (next_attr(&p, &n, &name, &v, &vl) < 0 || name != 'r' ||
	    !printable_nonce(v, vl))
		goto fail;
	st->nonce = xstrndup(v, vl);
	/* optional extensions: none is mandatory for us */
	while (n > 0) {
		if (next_attr(&p, &n, &name, &v, &vl) < 0)
			goto fail;
		if (name == 'm') {
			*error_r = "unsupported mandatory SCRAM extension";
			goto fail;
		}
	}
	if (authzid != NULL && strcmp(authzid, st->user) != 0) {
		*error_r = "authorization identity differs from the "
		    "authentication identity";
		goto fail;
	}
	free(authzid);
	return 0;
fail:
	free(authzid);
	scram_server_free(st);
	return -1;
}

const char *
scram_server_first(struct scram_server *st, const char *snonce)
{
	struct buf b;
	char *full = xasprintf("%s%s", st->nonce, snonce);

	free(st->nonce);
	st->nonce = full;
	buf_init(&b, 4096);
	buf_printf(&b, "r=%s,s=", st->nonce);
	sasl_b64_encode(st->secret.salt, st->secret.salt_len, &b);
	buf_printf(&b, ",i=%d", st->secret.iter);
	free(st->server_first);
	st->server_first = buf_steal(&b);
	return st->server_first;
}

int
scram_client_final(struct scram_server *st, const char *msg, size_t len,
    char **server_final_r, const char **error_r)
{
	const char *p = msg, *v, *cb = NULL, *nonce = NULL, *proof = NULL;
	size_t n = len, vl, cbl = 0, nl = 0, pl = 0, without = 0;
	char name;
	unsigned char proofb[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN],
	    key[SCRAM_KEY_LEN], h[SCRAM_KEY_LEN];
	struct buf am, want;
	int r = -1;

	*error_r = "malformed SCRAM client-final message";
	if (st->server_first == NULL || len == 0 || len > SCRAM_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL)
		return -1;
	while (n > 0) {
		const char *start = p;
		if (next_attr(&p, &n, &name, &v, &vl) < 0)
			return -1;
		if (name == 'c' && cb == NULL && nonce == NULL) {
			cb = v;
			cbl = vl;
		} else if (name == 'r' && cb != NULL && nonce == NULL) {
			nonce = v;
			nl = vl;
		} else if (name == 'p' && nonce != NULL && n == 0) {
			proof = v;
			pl = vl;
			without = (size_t)(start - msg) - 1;
		} else if (name == 'm')
			return -1;
		else if (nonce == NULL)
			return -1;      /* extensions only after the nonce */
	}
	if (cb == NULL || nonce == NULL || proof == NULL)
		return -1;
	/* the channel binding must repeat our gs2 header */
	buf_init(&want, 256);
	sasl_b64_encode(st->gs2_header, strlen(st->gs2_header), &want);
	if (cbl != want.len || memcmp(cb, want.data, cbl) != 0) {
		buf_free(&want);
		*error_r = "SCRAM channel binding mismatch";
		return -1;
	}
	buf_free(&want);
	if (nl != strlen(st->nonce) || memcmp(nonce, st->nonce, nl) != 0) {
		*error_r = "SCRAM nonce mismatch";
		return -1;
	}
	if (b64_fixed(proof, pl, proofb, SCRAM_KEY_LEN, 64, NULL) < 0)
		return -1;
	if (!st->have_secret)
		return 0;
	buf_init(&am, 3 * SCRAM_MSG_MAX + 8);
	buf_printf(&am, "%s,%s,", st->client_first_bare, st->server_first);
	buf_append(&am, msg, without);
	hmac256(st->secret.stored_key, SCRAM_KEY_LEN, am.data, am.len, sig);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proofb[i] ^ sig[i];
	SHA256(key, sizeof(key), h);
	if (CRYPTO_memcmp(h, st->secret.stored_key, SCRAM_KEY_LEN) == 0) {
		struct buf out;
		hmac256(st->secret.server_key, SCRAM_KEY_LEN, am.data, am.len,
		    sig);
		buf_init(&out, 128);
		buf_appends(&out, "v=");
		sasl_b64_encode(sig, sizeof(sig), &out);
		*server_final_r = buf_steal(&out);
		r = 1;
	} else
		r = 0;
	explicit_bzero(key, sizeof(key));
	buf_free(&am);
	return r;
}

void
scram_server_free(struct scram_server *st)
{
	free(st->user);
	free(st->gs2_header);
	free(st->client_first_bare);
	free(st->nonce);
	free(st->server_first);
	explicit_bzero(&st->secret, sizeof(st->secret));
	memset(st, 0, sizeof(*st));
}

/* user as a saslname (',' -> "=2C", '=' -> "=3D") appended to b. */
static void
saslname_put(struct buf *b, const char *user)
{
	for (; *user != '\0'; user++)
		if (*user == ',')
			buf_appends(b, "=2C");
		else if (*user == '=')
			buf_appends(b, "=3D");
		else
			buf_appendc(b, *user);
}

char *
scram_client_start(struct scram_client *c, const char *user,
    const char *password, const char *cnonce)
{
	struct buf b;

	memset(c, 0, sizeof(*c));
	buf_init(&b, SCRAM_MSG_MAX);
	buf_appends(&b, "n=");
	saslname_put(&b, user);
	buf_printf(&b, ",r=%s", cnonce);
	c->client_first_bare = buf_steal(&b);
	c->password = xstrdup(password);
	return xasprintf("n,,%s", c->client_first_bare);
}

int
scram_client_server_first(struct scram_client *c, const char *msg,
    size_t len, char **client_final_r, const char **error_r)
{
	const char *p = msg, *v, *nonce = NULL, *salt = NULL, *iter = NULL;
	const char *cnonce;
	size_t n = len, vl, nl = 0, sl = 0, il = 0, cnl;
	char name, *end, num[8];
	unsigned char saltb[128], salted[SCRAM_KEY_LEN], ckey[SCRAM_KEY_LEN],
	    stored[SCRAM_KEY_LEN], skey[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	size_t saltn = 0;
	long it;
	struct buf am, fin;

	*error_r = "malformed SCRAM server-first message";
	if (c->step != 0 || c->password == NULL || len == 0 ||
	    len > SCRAM_MSG_MAX || memchr(msg, '\0', len) != NULL)
		return -1;
	/* [reserved-mext ","] nonce "," salt "," iteration-count ["," ext] */
	while (n > 0) {
		if (next_attr(&p, &n, &name, &v, &vl) < 0)
			return -1;
		if (name == 'm') {
			*error_r = "unsupported mandatory SCRAM extension";
			return -1;
		} else if (name == 'r' && nonce == NULL) {
			nonce = v;
			nl = vl;
		} else if (name == 's' && nonce != NULL && salt == NULL) {
			salt = v;
			sl = vl;
		} else if (name == 'i' && salt != NULL && iter == NULL) {
			iter = v;
			il = vl;
		} else if (iter == NULL)
			return -1;      /* extensions only at the end */
	}
	if (nonce == NULL || salt == NULL || iter == NULL)
		return -1;
	/* the server's nonce must start with ours and add to it (the user
	 * name before it has its ',' escaped) */
	cnonce = strstr(c->client_first_bare, ",r=") + 3;
	cnl = strlen(cnonce);
	if (!printable_nonce(nonce, nl) || nl <= cnl ||
	    memcmp(nonce, cnonce, cnl) != 0) {
		*error_r = "SCRAM server nonce does not extend the client's";
		return -1;
	}
	if (il == 0 || il >= sizeof(num))
		return -1;
	memcpy(num, iter, il);
	num[il] = '\0';
	it = strtol(num, &end, 10);
	if (*end != '\0' || num[0] < '1' || num[0] > '9')
		return -1;
	if (it < SCRAM_CLIENT_ITER_MIN || it > SCRAM_ITER_MAX) {
		*error_r = "SCRAM iteration count out of range";
		return -1;
	}
	if (b64_fixed(salt, sl, saltb, 0, sizeof(saltb), &saltn) < 0)
		return -1;
	/* client-final-without-proof, the auth message, the proof */
	buf_init(&fin, SCRAM_MSG_MAX);
	buf_appends(&fin, "c=biws,r=");         /* base64("n,,") */
	buf_append(&fin, nonce, nl);
	buf_init(&am, 3 * SCRAM_MSG_MAX + 8);
	buf_printf(&am, "%s,", c->client_first_bare);
	buf_append(&am, msg, len);
	buf_appendc(&am, ',');
	buf_append(&am, fin.data, fin.len);
	PKCS5_PBKDF2_HMAC(c->password, (int)strlen(c->password), saltb,
	    (int)saltn, (int)it, EVP_sha256(), SCRAM_KEY_LEN, salted);
	explicit_bzero(c->password, strlen(c->password));
	FREE(c->password);
	hmac256(salted, sizeof(salted), "Client Key", 10, ckey);
	SHA256(ckey, sizeof(ckey), stored);
	hmac256(stored, sizeof(stored), am.data, am.len, sig);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		ckey[i] ^= sig[i];              /* the proof */
	hmac256(salted, sizeof(salted), "Server Key", 10, skey);
	hmac256(skey, sizeof(skey), am.data, am.len, c->server_sig);
	buf_appends(&fin, ",p=");
	sasl_b64_encode(ckey, sizeof(ckey), &fin);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(skey, sizeof(skey));
	buf_free(&am);
	c->step = 1;
	*client_final_r = buf_steal(&fin);
	return 0;
}

int
scram_client_server_final(struct scram_client *c, const char *msg,
    size_t len, const char **error_r)
{
	const char *p = msg, *v;
	size_t n = len, vl;
	char name;
	unsigned char sig[SCRAM_KEY_LEN];

	*error_r = "malformed SCRAM server-final message";
	if (c->step != 1 || len == 0 || len > SCRAM_MSG_MAX ||
	    memchr(msg, '\0', len) != NULL ||
	    next_attr(&p, &n, &name, &v, &vl) < 0)
		return -1;
	if (name == 'e') {
		*error_r = "SCRAM server-error";
		return 0;
	}
	if (name != 'v' || b64_fixed(v, vl, sig, SCRAM_KEY_LEN, 64, NULL) < 0)
		return -1;
	if (CRYPTO_memcmp(sig, c->server_sig, SCRAM_KEY_LEN) != 0) {
		*error_r = "SCRAM server signature mismatch";
		return 0;
	}
	c->step = 2;
	return 1;
}

void
scram_client_free(struct scram_client *c)
{
	free(c->client_first_bare);
	if (c->password != NULL) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	explicit_bzero(c, sizeof(*c));
}
