/*
 * imap_search.h - SEARCH programs: parse the client's search keys into a
 * tree, then evaluate it per message.
 *
 * Untrusted bytes: the SEARCH arguments (already tokenised by
 * imap_parser).  Nesting is bounded by the parser; the number of keys by
 * the argument count.  Evaluation only reads the message through the
 * callbacks of struct imap_search_msg.
 */
#ifndef TEMPEST_IMAP_SEARCH_H
#define TEMPEST_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "imap_parser.h"
#include "imap_seqset.h"

/* System flags as bits (shared with lib-storage). */
#define IMAP_FLAG_SEEN      0x01
#define IMAP_FLAG_ANSWERED  0x02
#define IMAP_FLAG_FLAGGED   0x04
#define IMAP_FLAG_DELETED   0x08
#define IMAP_FLAG_DRAFT     0x10
#define IMAP_FLAG_RECENT    0x20

struct imap_search_msg {
	uint32_t seq, uid;
	unsigned flags;
	uint64_t modseq;
	time_t internaldate;
	void *ctx;
	/* the message with CRLF line ends, or -1 if it cannot be read */
	int (*load)(void *ctx, const char **data_r, size_t *len_r);
	uint64_t (*size)(void *ctx);
	int (*has_keyword)(void *ctx, const char *kw);
	/* optional: a header value with RFC 2047 encoded words decoded to
	 * UTF-8, appended to out (SEARCH matches the raw and the decoded
	 * value) */
	void (*decode_header)(const char *value, size_t len, struct buf *out);
	/* optional: whether the message is in the saved result ("$") */
	int (*in_saved)(void *ctx);
};

struct imap_search;

/*
 * Parse args[0..n) (after an optional "CHARSET x", handled here: only
 * UTF-8 and US-ASCII are accepted).  max_seq/max_uid resolve '*'.
 * NULL with *error_r set (static message); *badcharset_r is set when the
 * failure was an unknown charset (answer NO [BADCHARSET]).
 */
struct imap_search *imap_search_parse(const struct imap_arg *args,
    unsigned n, uint32_t max_seq, uint32_t max_uid, const char **error_r,
    int *badcharset_r);
void imap_search_free(struct imap_search **s);
int imap_search_match(struct imap_search *s, const struct imap_search_msg *m);
/* Whether the program uses MODSEQ (then the reply carries (MODSEQ n)). */
int imap_search_uses_modseq(const struct imap_search *s);

#endif
