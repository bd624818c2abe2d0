/*
 * queue_hash.h - XXH64 (xxHash, 64-bit), streaming: the checksum a queue
 * file's end record carries (doc/queue-format.md, "Commit without a
 * journal commit"), so that a file whose blocks were torn by a power
 * failure is told from a complete one without relying on its inode.
 *
 * Input: any bytes (queue file content, which holds untrusted message
 * text); the function only reads them.
 */
#ifndef TEMPEST_QUEUE_HASH_H
#define TEMPEST_QUEUE_HASH_H

#include <stddef.h>
#include <stdint.h>

struct qhash {
	uint64_t v[4];
	uint64_t total;
	unsigned char mem[32];
	size_t memlen;
};

void qhash_init(struct qhash *h, uint64_t seed);
void qhash_update(struct qhash *h, const void *p, size_t n);
uint64_t qhash_digest(const struct qhash *h);
/* One call: XXH64(p, n, seed). */
uint64_t qhash64(const void *p, size_t n, uint64_t seed);

#endif
