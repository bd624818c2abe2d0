/*
 * imap_seqset.h - IMAP sequence sets ("1:3,7,9:*").
 *
 * Untrusted bytes: the set as the client wrote it.  The number of ranges
 * is bounded by the caller; numbers must fit in 32 bits and be non-zero.
 * After imap_seqset_resolve() the ranges are sorted and merged, so
 * membership is a binary search however large the set.
 */
#ifndef TEMPEST_IMAP_SEQSET_H
#define TEMPEST_IMAP_SEQSET_H

#include <stdint.h>

#define SEQ_STAR UINT32_MAX

struct seq_range {
	uint32_t lo, hi;
};

struct seqset {
	struct seq_range *v;
	unsigned n;
};

/* 0, or -1 with a static message in *error_r. */
int imap_seqset_parse(const char *s, unsigned max_ranges, struct seqset *r,
    const char **error_r);
/* Replace '*' with star, order each range, sort and merge the ranges. */
void imap_seqset_resolve(struct seqset *set, uint32_t star);
int imap_seqset_contains(const struct seqset *set, uint32_t n);
void imap_seqset_free(struct seqset *set);

#endif
