/* fuzz-lr.c - libFuzzer target for the logistic regression's inputs:
 * arbitrary bytes as a message (MIME analysis, Bayes tokens, the byte
 * head and its header skipping in lr_features), whose features must
 * survive the sample encoding round trip; and the same bytes as a
 * stored sample blob for lr_sample_decode, whose output must be sorted
 * and in range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bayes.h"
#include "lr.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg m;
	uint64_t *tok;
	uint32_t *x, *y;
	size_t nt, nx, ny;
	struct buf b;

	if (size > 262144)
		return 0;
	mime_parse(&m, (const char *)data, size, NULL);
	bayes_tokenize(&m, &tok, &nt);
	lr_features(&m, tok, nt, &x, &nx);
	buf_init(&b, BUF_UNLIMITED);
	lr_sample_encode(x, nx, &b);
	if (lr_sample_decode(b.data ? b.data : "", b.len, &y, &ny) < 0 || ny != nx ||
	    (nx > 0 && memcmp(x, y, nx * sizeof(*x)) != 0))
		abort();
	free(y);
	buf_free(&b);
	free(x);
	free(tok);
	mime_free(&m);

	if (lr_sample_decode(data, size, &y, &ny) == 0) {
		for (size_t i = 0; i < ny; i++)
			if (y[i] >= LR_NWEIGHTS || (i > 0 && y[i] <= y[i - 1]))
				abort();
		free(y);
	}
	return 0;
}
