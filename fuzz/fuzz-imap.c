/*
 * fuzz-imap.c - libFuzzer target for lib-imap's parsers of untrusted
 * bytes: the command parser (the literal check of a raw line, the SEARCH
 * program it feeds, evaluated over a fixed message and over the input
 * bytes as a message, and sequence sets), the MIME structure / ENVELOPE / section extraction of stored
 * messages, modified UTF-7 names (both directions) and dates.  The first byte picks the
 * parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_date.h"
#include "imap_message.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_seqset.h"
#include "imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct smsg {
	const char *data;
	size_t len;
};

static int
s_load(void *ctx, const char **data_r, size_t *len_r)
{
	const struct smsg *m = ctx;

	*data_r = m->data;
	*len_r = m->len;
	return 0;
}

static uint64_t
s_size(void *ctx)
{
	return ((const struct smsg *)ctx)->len;
}

static int
s_has_keyword(void *ctx, const char *kw)
{
	(void)ctx;
	return strcmp(kw, "$Junk") == 0;
}

static void
fuzz_command(const char *d, size_t n)
{
	static const char fixed[] = "From: \"A\" <a@example.org>\r\n"
	    "To: b@example.net\r\nSubject: free offer\r\n"
	    "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nBuy now\r\n";
	struct smsg msgs[2] = { { fixed, sizeof(fixed) - 1 }, { d, n } };
	uint64_t lsize;
	int nonsync;
	struct imap_limits lim = { 16, 10000 };
	struct imap_command cmd;
	const char *err;
	char *tag;
	int bc;

	(void)imap_line_literal(d, n, &lsize, &nonsync);
	if (imap_parse_command(d, n, &lim, &cmd, &tag, &err) < 0) {
		free(tag);
		return;
	}
	free(tag);
	struct imap_search *s = imap_search_parse(cmd.args, cmd.count, 10, 100,
	    &err, &bc);
	/* the search program over a fixed message and over the input bytes */
	for (size_t i = 0; s != NULL && i < 2; i++) {
		struct imap_search_msg m = { 3, 30, IMAP_FLAG_SEEN, 7,
		    1057049557, &msgs[i], s_load, s_size, s_has_keyword, NULL,
		    NULL };
		(void)imap_search_match(s, &m);
		(void)imap_search_uses_modseq(s);
	}
	imap_search_free(&s);
	if (cmd.count > 0 && cmd.args[0].type == IMAP_ARG_ATOM) {
		struct seqset set;
		if (imap_seqset_parse(cmd.args[0].str, 1000, &set, &err) == 0) {
			imap_seqset_resolve(&set, 50);
			(void)imap_seqset_contains(&set, 7);
			imap_seqset_free(&set);
		}
	}
	imap_command_free(&cmd);
}

static void
fuzz_message(const char *d, size_t n)
{
	static const char *const sections[] = { "", "HEADER", "TEXT", "1",
	    "1.MIME", "2.1", "2.HEADER", "1.2.3", "HEADER.FIELDS (From To)",
	    "2.HEADER.FIELDS.NOT (Subject)" };
	struct imap_part *p = imap_message_parse(d, n);
	struct buf out, tmp;
	const char *r, *err;
	size_t rl;

	buf_init(&out, 1 << 24);
	buf_init(&tmp, 1 << 24);
	imap_write_bodystructure(&out, d, p, 1);
	imap_write_envelope(&out, d, p->hdr_len);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		(void)imap_section_get(d, n, p, sections[i], 0, &tmp, &r, &rl, &err);
		(void)imap_section_get(d, n, p, sections[i], 1, &tmp, &r, &rl, &err);
	}
	imap_part_free(&p);
	buf_free(&out);
	buf_free(&tmp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	struct buf b;
	time_t t;

	if (size < 1)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		fuzz_command(s, size - 1);
		break;
	case 1:
		fuzz_message(s, size - 1);
		break;
	case 2:
		buf_init(&b, 65536);
		(void)imap_utf7_to_utf8(s, &b);
		buf_reset(&b);
		/* UTF-8 names of UTF8=ACCEPT clients; what it makes is valid */
		if (imap_utf8_to_utf7(s, &b) == 0 && b.len > 0 &&
		    !imap_utf7_is_valid(buf_cstr(&b)))
			abort();
		buf_free(&b);
		break;
	case 3:
		(void)imap_date_parse(s, &t);
		(void)imap_datetime_parse(s, &t);
		(void)imap_rfc822_date_parse(s, &t);
		break;
	}
	free(s);
	return 0;
}
