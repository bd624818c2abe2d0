/*
 * lr.c - logistic regression over hashed features: feature extraction,
 * scoring, training and the blob encodings (see lr.h).  Pure functions.
 * Inputs: an analysed message (untrusted, bounded by the MIME limits;
 * only its first LR_HEAD_BYTES are read here) and store blobs, decoded
 * with a bound on every count and index.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bayes.h"
#include "log.h"
#include "lr.h"
#include "mail_header.h"
#include "mem.h"
#include "mime.h"
#include "report.h"

/* 64-bit hash -> weight index (Fibonacci hashing: the top bits of the
 * product mix every input bit) */
static uint32_t
fold(uint64_t h)
{
	return (uint32_t)((h * 0x9e3779b97f4a7c15ULL) >> (64 - LR_BITS));
}

/* Sort n indices (< 2^LR_BITS) in place: two radix passes of LR_BITS/2
 * bits (a message has a few thousand; qsort cost more than the rest of
 * the feature extraction). */
static void
sort_idx(uint32_t *x, size_t n)
{
	enum { RB = (LR_BITS + 1) / 2, NB = 1 << RB };
	uint32_t *tmp = xcalloc(n ? n : 1, sizeof(*tmp)), *src = x, *dst = tmp;
	size_t *cnt = xcalloc(NB, sizeof(*cnt));

	for (int pass = 0; pass < 2; pass++) {
		int sh = pass * RB;
		size_t sum = 0;
		memset(cnt, 0, NB * sizeof(*cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(src[i] >> sh) & (NB - 1)]++;
		for (size_t k = 0; k < NB; k++) {
			size_t c = cnt[k];
			cnt[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[cnt[(src[i] >> sh) & (NB - 1)]++] = src[i];
		src = dst;
		dst = src == x ? tmp : x;
	}
	/* two passes: the result is back in x */
	free(cnt);
	free(tmp);
}

/* The first LR_HEAD_BYTES of the message as received: a leading mbox
 * "From " line and our own X-Spam-* / X-Quarantine-Id header lines (a
 * message learned from a mailbox carries the verdict we added) left
 * out. */
static size_t
head_bytes(const char *d, size_t len, char *out)
{
	size_t i, o = 0;
	int in_header = 1;

	i = mail_mbox_from_len(d, len);
	while (i < len && o < LR_HEAD_BYTES) {
		const char *nl = memchr(d + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - d) + 1 : len, n;
		int skip = 0;

		if (in_header) {
			if (d[i] == '\n' || (d[i] == '\r' && end - i <= 2)) {
				in_header = 0;
			} else {
				char name[64];
				size_t k = 0;
				while (end < len && (d[end] == ' ' || d[end] == '\t')) {
					const char *n2 = memchr(d + end, '\n', len - end);
					end = n2 ? (size_t)(n2 - d) + 1 : len;
				}
				while (i + k < end && k < sizeof(name) - 1 &&
				    d[i + k] != ':' && d[i + k] != '\n')
					name[k] = d[i + k], k++;
				name[k] = '\0';
				skip = report_is_own_header(name);
			}
		}
		if (!in_header) {
			/* the body: copy the rest at once */
			end = len;
		}
		if (!skip) {
			n = end - i;
			if (n > LR_HEAD_BYTES - o)
				n = LR_HEAD_BYTES - o;
			memcpy(out + o, d + i, n);
			o += n;
		}
		i = end;
	}
	return o;
}

void
lr_features(const struct mime_msg *m, const uint64_t *tok, size_t ntok,
    uint32_t **x_r, size_t *n_r)
{
	char *head = xmalloc(LR_HEAD_BYTES);
	size_t hn = head_bytes(m->full ? m->full : "", m->full ? m->full_len : 0, head);
	size_t cap = (hn >= 4 ? hn - 3 : 0) + ntok, n = 0, u = 0;
	uint32_t *x = xcalloc(cap ? cap : 1, sizeof(*x));
	const uint64_t seed = bayes_hash("b4:", 3, BAYES_HASH_INIT);

	for (size_t i = 0; i + 4 <= hn; i++)
		x[n++] = fold(bayes_hash(head + i, 4, seed));
	for (size_t i = 0; i < ntok; i++)
		x[n++] = fold(tok[i]);
	free(head);
	if (n > 0) {
		sort_idx(x, n);
		for (size_t i = 0; i < n; i++)
			if (u == 0 || x[i] != x[u - 1])
				x[u++] = x[i];
	}
	*x_r = x;
	*n_r = u;
}

static double
sigmoid(double z)
{
	if (z < -35)
		return 1e-15;
	if (z > 35)
		return 1 - 1e-15;
	return 1.0 / (1.0 + exp(-z));
}

double
lr_predict(const float *w, const uint32_t *x, size_t n)
{
	double z = 0;

	for (size_t i = 0; i < n; i++)
		z += w[x[i]];
	return sigmoid(z);
}

void
lr_step(float *w, const uint32_t *x, size_t n, int spam, double rate)
{
	double d = rate * ((spam ? 1.0 : 0.0) - lr_predict(w, x, n));
	float fd = (float)d;

	for (size_t i = 0; i < n; i++)
		w[x[i]] += fd;
}

static int
cmp_sample(const void *a, const void *b)
{
	const struct lr_sample *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

void
lr_train(float *w, struct lr_sample *s, size_t n)
{
	memset(w, 0, LR_NWEIGHTS * sizeof(*w));
	if (n > 1)
		qsort(s, n, sizeof(*s), cmp_sample);
	for (int p = 0; p < LR_PASSES; p++)
		for (size_t i = 0; i < n; i++)
			lr_step(w, s[i].x, s[i].n, s[i].spam, LR_RATE);
}

void
lr_sample_encode(const uint32_t *x, size_t n, struct buf *out)
{
	uint32_t prev = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t gap = x[i] - prev;
		prev = x[i];
		while (gap >= 0x80) {
			(void)buf_appendc(out, (char)(0x80 | (gap & 0x7f)));
			gap >>= 7;
		}
		(void)buf_appendc(out, (char)gap);
	}
}

int
lr_sample_decode(const void *p, size_t len, uint32_t **x_r, size_t *n_r)
{
	const unsigned char *b = p;
	uint32_t *x = NULL, prev = 0;
	size_t n = 0, cap = 0, i = 0;

	*x_r = NULL;
	*n_r = 0;
	while (i < len) {
		uint64_t gap = 0;
		int shift = 0;
		for (;;) {
			if (i >= len || shift > 21)
				goto bad;
			gap |= (uint64_t)(b[i] & 0x7f) << shift;
			shift += 7;
			if (!(b[i++] & 0x80))
				break;
		}
		/* strictly increasing (the first may be 0) and in range */
		if ((n > 0 && gap == 0) || prev + gap >= LR_NWEIGHTS || n >= LR_MAX_FEATURES)
			goto bad;
		prev += (uint32_t)gap;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			x = xreallocarray(x, cap, sizeof(*x));
		}
		x[n++] = prev;
	}
	*x_r = x ? x : xcalloc(1, sizeof(*x));
	*n_r = n;
	return 0;
bad:
	free(x);
	return -1;
}

void
lr_weights_encode(const float *w, struct buf *out)
{
	unsigned char p[16384];

	/* in pieces: no second copy of the 4 MiB */
	for (size_t i = 0; i < LR_NWEIGHTS;) {
		size_t k = 0;
		for (; k < sizeof(p) && i < LR_NWEIGHTS; i++, k += 4) {
			uint32_t v;
			memcpy(&v, &w[i], 4);
			p[k] = (unsigned char)(v & 0xff);
			p[k + 1] = (unsigned char)((v >> 8) & 0xff);
			p[k + 2] = (unsigned char)((v >> 16) & 0xff);
			p[k + 3] = (unsigned char)(v >> 24);
		}
		(void)buf_append(out, p, k);
	}
}

int
lr_weights_decode(const void *p, size_t off, size_t len, float *w)
{
	const unsigned char *b = p;
	size_t all = (size_t)LR_NWEIGHTS * 4;
	unsigned inf = 0;

	if (off % 4 != 0 || len % 4 != 0 || off > all || len > all - off)
		return -1;
	w += off / 4;
	for (size_t i = 0; i < len / 4; i++) {
		uint32_t v;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(&v, b + 4 * i, 4);
#else
		v = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		    (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
#endif
		/* all exponent bits set: an infinity or a NaN */
		inf |= (v & 0x7f800000u) == 0x7f800000u;
		memcpy(&w[i], &v, 4);
	}
	return inf ? -1 : 0;
}

float *
lr_weights_alloc(void)
{
	/* written whole right away (training, loading): page by page that
	 * was a thousand page faults, most of a one-message spamc's time */
	return xmap((size_t)LR_NWEIGHTS * sizeof(float));
}

void
lr_weights_free(float *w)
{
	xunmap(w, (size_t)LR_NWEIGHTS * sizeof(float));
}
