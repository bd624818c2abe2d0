/*
 * queue_hash.c - XXH64 (see queue_hash.h), written after the public
 * xxHash specification (doc/xxhash_spec.md of the xxHash project); the
 * unit test checks it against reference values of libxxhash.
 *
 * Input: any bytes, read only, within the given length.
 */
#include <string.h>

#include "queue_hash.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t
rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t
round1(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t
merge(uint64_t acc, uint64_t v)
{
	acc ^= round1(0, v);
	return acc * P1 + P4;
}

void
qhash_init(struct qhash *h, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->v[0] = seed + P1 + P2;
	h->v[1] = seed + P2;
	h->v[2] = seed;
	h->v[3] = seed - P1;
}

static void
stripe(uint64_t v[4], const unsigned char *p)
{
	v[0] = round1(v[0], rd64(p));
	v[1] = round1(v[1], rd64(p + 8));
	v[2] = round1(v[2], rd64(p + 16));
	v[3] = round1(v[3], rd64(p + 24));
}

void
qhash_update(struct qhash *h, const void *data, size_t n)
{
	const unsigned char *p = data;

	h->total += n;
	if (h->memlen + n < 32) {
		memcpy(h->mem + h->memlen, p, n);
		h->memlen += n;
		return;
	}
	if (h->memlen > 0) {
		size_t k = 32 - h->memlen;
		memcpy(h->mem + h->memlen, p, k);
		stripe(h->v, h->mem);
		p += k;
		n -= k;
		h->memlen = 0;
	}
	while (n >= 32) {
		stripe(h->v, p);
		p += 32;
		n -= 32;
	}
	memcpy(h->mem, p, n);
	h->memlen = n;
}

uint64_t
qhash_digest(const struct qhash *h)
{
	const unsigned char *p = h->mem, *end = h->mem + h->memlen;
	uint64_t acc;

	if (h->total >= 32) {
		acc = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) +
		    rotl(h->v[3], 18);
		acc = merge(acc, h->v[0]);
		acc = merge(acc, h->v[1]);
		acc = merge(acc, h->v[2]);
		acc = merge(acc, h->v[3]);
	} else {
		acc = h->v[2] + P5;    /* v[2] is the seed */
	}
	acc += h->total;
	while (end - p >= 8) {
		acc ^= round1(0, rd64(p));
		acc = rotl(acc, 27) * P1 + P4;
		p += 8;
	}
	if (end - p >= 4) {
		acc ^= (uint64_t)rd32(p) * P1;
		acc = rotl(acc, 23) * P2 + P3;
		p += 4;
	}
	while (p < end) {
		acc ^= (uint64_t)*p * P5;
		acc = rotl(acc, 11) * P1;
		p++;
	}
	acc ^= acc >> 33;
	acc *= P2;
	acc ^= acc >> 29;
	acc *= P3;
	acc ^= acc >> 32;
	return acc;
}

uint64_t
qhash64(const void *p, size_t n, uint64_t seed)
{
	struct qhash h;

	qhash_init(&h, seed);
	qhash_update(&h, p, n);
	return qhash_digest(&h);
}
