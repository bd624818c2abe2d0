/* fuzz-filter-reply.c - libFuzzer target: the content filter's reply as
 * smtpd decodes it (filter_parse_reply, the bytes being the frame body)
 * and, for a split, checks its groups against the message's recipients
 * (filter_split_check): what passes puts each recipient in exactly one
 * group and names no other address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter_proto.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rcpts[] = { "a@x", "b@x", "a@x", "c@example.test" };
#define NR (sizeof(rcpts) / sizeof(rcpts[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	struct filter_reply rep;
	const char *why = NULL;
	size_t group[NR], seen[FILTER_MAX_GROUPS] = { 0 };

	ipc_msg_init(&m, FILTER_REPLY);
	if (buf_append(&m.body, data, size) < 0) {
		ipc_msg_free(&m);
		return 0;
	}
	if (filter_parse_reply(&m, &rep, &why) == 0) {
		if (rep.action == FILTER_SPLIT &&
		    filter_split_check(rcpts, NR, &rep, group, &why) == 0) {
			for (size_t i = 0; i < NR; i++) {
				if (group[i] >= rep.ngroups)
					abort();
				seen[group[i]]++;
			}
			for (size_t g = 0; g < rep.ngroups; g++) {
				/* every name of the group is one of the recipients */
				const char *p = rep.groups[g].recipients;
				size_t names = 0;
				while (*p != '\0') {
					size_t len = strcspn(p, "\n"), i;
					for (i = 0; i < NR; i++)
						if (strlen(rcpts[i]) == len &&
						    memcmp(rcpts[i], p, len) == 0)
							break;
					if (i == NR)
						abort();
					names++;
					p += len + (p[len] == '\n');
				}
				if (names != seen[g] || names == 0)
					abort();
			}
		}
		filter_reply_free(&rep);
	}
	ipc_msg_free(&m);
	return 0;
}
