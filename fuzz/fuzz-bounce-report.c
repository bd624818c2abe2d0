/* fuzz-bounce-report.c - libFuzzer target: qmgr's report lines (their
 * texts come from delivery agents and, through the smtp client, from
 * remote servers' replies) split by dsn_lines_parse and turned into a
 * notice by dsn_report_build (qmgr/bounce_report.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce_report.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *lines = malloc(size + 1);
	struct dsn_rcpt *v;
	struct dsn_report r;
	struct buf out;
	size_t n;
	int with_action = size > 0 && (data[0] & 1);

	memcpy(lines, data, size);
	lines[size] = '\0';
	v = dsn_lines_parse(lines, with_action, "failed", &n);
	memset(&r, 0, sizeof(r));
	r.kind = size > 0 ? (enum dsn_kind)(data[0] % 3) : DSN_KIND_FAILURE;
	r.host = "mx.example.test";
	r.to = "a@example.test";
	r.queue_id = "0123456789AB";
	r.envid = "";
	r.sender = "a@example.test";
	r.arrival = "Sun, 29 Nov 2026 10:00:00 +0000";
	r.boundary = "B";
	r.rcpts = v;
	r.nrcpt = n;
	buf_init(&out, BUF_UNLIMITED);
	dsn_report_build(&r, &out);
	buf_free(&out);
	free(v);
	free(lines);
	return 0;
}
