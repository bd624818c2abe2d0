/*
 * tls_ticket.c - session ticket keys shared by the processes of a
 * service and rotated, the job Postfix's tlsmgr does.
 *
 * The keys live in one small file (format below) that every process
 * opens read-write once, before it drops its privileges and chroots, and
 * keeps open: so a chrooted, unprivileged smtpd can still read the keys
 * another process rotated, and rotate them itself, without any right to
 * the directory.  New tickets are encrypted with the current key; the
 * previous key still decrypts (and the ticket is renewed), so a rotation
 * does not cost the clients a full handshake.  The current key is
 * replaced once it is `lifetime` seconds old (the session timeout, which
 * is also a ticket's lifetime): a ticket key is used for encryption for
 * one lifetime and for decryption for at most two, so a stolen key file
 * exposes at most the last two lifetimes' sessions, not all of them.
 *
 * File: 8 bytes big-endian creation time of the current key (seconds
 * since the epoch), then two 80-byte keys (current, previous), each a
 * 16-byte name, a 32-byte HMAC-SHA256 key and a 32-byte AES-256 key.
 * Writers hold an exclusive flock and write the whole 168 bytes in
 * place; readers take a shared flock.  A file of any other size (none,
 * a torn one after a crash, the 80-byte single key of older versions)
 * is rotated at once.
 *
 * Untrusted input: the 16-byte key name of a client's ticket, compared
 * only.  The ticket itself is decrypted and authenticated by OpenSSL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "mem.h"
#include "ossl.h"
#include "tls.h"

#define KEY_LEN 80              /* name 16, HMAC key 32, AES key 32 */
#define NAME_LEN 16
#define FILE_LEN (8 + 2 * KEY_LEN)

struct ticket_keys {
	int fd;                 /* the key file, open read-write */
	long lifetime;          /* seconds a key stays current */
	unsigned char buf[FILE_LEN];    /* what was read: time, current, previous */
	int valid;              /* buf holds a whole file */
	struct timespec mtime;  /* of the file when buf was read */
	time_t checked;         /* last look at the file */
};

static int ex_index = -1;

static time_t
clock_now(void)
{
	return time(NULL);
}

static time_t (*clock_fn)(void) = clock_now;    /* unit tests set another */

static const unsigned char *
key_at(const struct ticket_keys *tk, int i)
{
	return tk->buf + 8 + (size_t)i * KEY_LEN;
}

static time_t
created(const struct ticket_keys *tk)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < 8; i++)
		t = t << 8 | tk->buf[i];
	return (time_t)t;
}

/* Read the file (caller holds a lock); 0 with tk->valid set or not. */
static int
keys_read(struct ticket_keys *tk)
{
	struct stat st;
	ssize_t n;

	if (fstat(tk->fd, &st) < 0)
		return -1;
	tk->mtime = st.st_mtim;
	n = pread(tk->fd, tk->buf, FILE_LEN, 0);
	if (n < 0)
		return -1;
	tk->valid = n == FILE_LEN && st.st_size == FILE_LEN;
	return 0;
}

/* A new current key; the old current one (if any) becomes the previous.
 * Caller holds the exclusive lock and has just read the file. */
static int
keys_rotate(struct ticket_keys *tk, time_t now)
{
	unsigned char nbuf[FILE_LEN];
	uint64_t t = (uint64_t)now;
	struct stat st;
	int i, r = -1;

	for (i = 7; i >= 0; i--, t >>= 8)
		nbuf[i] = (unsigned char)t;
	if (RAND_bytes(nbuf + 8, KEY_LEN) != 1)
		goto out;
	if (tk->valid)
		memcpy(nbuf + 8 + KEY_LEN, key_at(tk, 0), KEY_LEN);
	else if (fstat(tk->fd, &st) == 0 && st.st_size >= KEY_LEN &&
	    pread(tk->fd, nbuf + 8 + KEY_LEN, KEY_LEN, 0) == KEY_LEN)
		;       /* the single key of an older version stays usable */
	else if (RAND_bytes(nbuf + 8 + KEY_LEN, KEY_LEN) != 1)
		goto out;
	if (pwrite(tk->fd, nbuf, FILE_LEN, 0) != FILE_LEN ||
	    ftruncate(tk->fd, FILE_LEN) < 0 || fdatasync(tk->fd) < 0)
		goto out;
	r = keys_read(tk);
out:
	explicit_bzero(nbuf, sizeof(nbuf));
	return r;
}

/* Bring tk up to date: re-read the file when another process changed it
 * and rotate the current key when it is too old.  Looks at the file at
 * most once a second.  On an error the keys in memory stay in use. */
static void
keys_refresh(struct ticket_keys *tk)
{
	time_t now = clock_fn();
	struct stat st;

	if (tk->valid && now == tk->checked)
		return;
	tk->checked = now;
	if (tk->valid && fstat(tk->fd, &st) == 0 &&
	    st.st_mtim.tv_sec == tk->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == tk->mtime.tv_nsec &&
	    now >= created(tk) && now - created(tk) < tk->lifetime)
		return;
	if (flock(tk->fd, LOCK_SH) == 0) {
		(void)keys_read(tk);
		(void)flock(tk->fd, LOCK_UN);
	}
	if (tk->valid && now >= created(tk) && now - created(tk) < tk->lifetime)
		return;
	/* too old, in the future (clock stepped back), or no keys: one
	 * process rotates, the others see its file */
	if (flock(tk->fd, LOCK_EX) < 0) {
		log_warn("ticket keys: lock: %s", strerror(errno));
		return;
	}
	if (keys_read(tk) == 0 && (!tk->valid || now < created(tk) ||
	    now - created(tk) >= tk->lifetime) && keys_rotate(tk, now) < 0)
		log_warn("ticket keys: rotation: %s", strerror(errno));
	(void)flock(tk->fd, LOCK_UN);
}

static int
mac_init(EVP_MAC_CTX *hctx, const unsigned char *key)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)(key + NAME_LEN), 32);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: 1 = key set up, 2 = decrypted with the
 * previous key (issue a new ticket), 0 = no ticket / unknown key (full
 * handshake), -1 = error. */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ticket_keys *tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
	    ex_index);
	const unsigned char *k;
	int i;

	if (tk == NULL)
		return 0;
	keys_refresh(tk);
	if (!tk->valid)
		return 0;
	if (enc) {
		k = key_at(tk, 0);
		memcpy(name, k, NAME_LEN);
		if (RAND_bytes(iv, 16) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
		    k + NAME_LEN + 32, iv) != 1 || mac_init(hctx, k) < 0)
			return -1;
		return 1;
	}
	for (i = 0; i < 2; i++) {
		k = key_at(tk, i);
		if (CRYPTO_memcmp(name, k, NAME_LEN) != 0)
			continue;
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL,
		    k + NAME_LEN + 32, iv) != 1 || mac_init(hctx, k) < 0)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

static void
ticket_keys_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct ticket_keys *tk = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (tk == NULL)
		return;
	close(tk->fd);
	explicit_bzero(tk->buf, sizeof(tk->buf));
	free(tk);
}

int
tls_ticket_keys_use(SSL_CTX *ctx, const char *path, long lifetime,
    char **error_r)
{
	struct ticket_keys *tk;
	int fd;

	if (ex_index < 0) {
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    ticket_keys_free);
		if (ex_index < 0) {
			*error_r = xstrdup("ticket keys: no ex_data index");
			return -1;
		}
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	tk = xcalloc(1, sizeof(*tk));
	tk->fd = fd;
	tk->lifetime = lifetime > 0 ? lifetime : 1;
	keys_refresh(tk);
	if (!tk->valid) {
		*error_r = xasprintf("%s: cannot set up ticket keys: %s", path,
		    strerror(errno));
		ticket_keys_free(NULL, tk, NULL, 0, 0, NULL);
		return -1;
	}
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1 ||
	    SSL_CTX_set_ex_data(ctx, ex_index, tk) != 1) {
		ticket_keys_free(NULL, tk, NULL, 0, 0, NULL);
		*error_r = xstrdup("ticket keys: cannot install the callback");
		return -1;
	}
	return 0;
}

void
tls_ticket_keys_set_clock(time_t (*clock)(void))
{
	clock_fn = clock != NULL ? clock : clock_now;
}
