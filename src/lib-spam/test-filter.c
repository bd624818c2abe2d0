/* test-filter.c - the content filter reply as smtpd decodes it
 * (filter_parse_reply) and checks a split verdict against the message's
 * recipients (filter_split_check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter_proto.h"
#include "ipc.h"
#include "test.h"

struct g {
	int action;
	const char *rcpts;
};

/* A FILTER_REPLY frame body as the filter writes it, decoded. */
static int
parse(int action, const struct g *groups, size_t ng, struct filter_reply *rep)
{
	struct ipc_msg m;
	const char *why = NULL;
	int r;

	ipc_msg_init(&m, FILTER_REPLY);
	ipc_put_int(&m, action);
	ipc_put_str(&m, "");
	ipc_put_str(&m, "");
	ipc_put_str(&m, "");
	ipc_put_str(&m, "7.5");
	ipc_put_str(&m, "");
	ipc_put_int(&m, (int64_t)ng);
	for (size_t i = 0; i < ng; i++) {
		ipc_put_int(&m, groups[i].action);
		ipc_put_str(&m, "X-Spam-Flag: YES\n");
		ipc_put_str(&m, "[SPAM] ");
		ipc_put_str(&m, groups[i].action == FILTER_QUARANTINE ? "q1" : "");
		ipc_put_str(&m, groups[i].rcpts);
	}
	r = filter_parse_reply(&m, rep, &why);
	ipc_msg_free(&m);
	return r;
}

static int
check(const char *const *rcpts, size_t n, const struct g *groups, size_t ng,
    size_t *group)
{
	struct filter_reply rep;
	const char *why = NULL;
	int r;

	if (parse(FILTER_SPLIT, groups, ng, &rep) < 0)
		return -2;
	r = filter_split_check(rcpts, n, &rep, group, &why);
	T_OK(r == 0 || why != NULL);
	filter_reply_free(&rep);
	return r;
}

static void
test_parse(void)
{
	struct filter_reply rep;
	const struct g two[] = { { FILTER_TAG, "a@x" }, { FILTER_QUARANTINE, "b@x" } };
	const struct g bad[] = { { FILTER_REJECT, "a@x" } };

	T_INTEQ(parse(FILTER_TAG, NULL, 0, &rep), 0);
	T_INTEQ(rep.action, FILTER_TAG);
	T_INTEQ(rep.ngroups, 0);
	T_STREQ(rep.score, "7.5");
	filter_reply_free(&rep);
	T_INTEQ(parse(FILTER_SPLIT, two, 2, &rep), 0);
	T_INTEQ(rep.ngroups, 2);
	T_INTEQ(rep.groups[1].action, FILTER_QUARANTINE);
	T_STREQ(rep.groups[1].quarantine_id, "q1");
	T_STREQ(rep.groups[0].recipients, "a@x");
	T_STREQ(rep.groups[0].subject_tag, "[SPAM] ");
	filter_reply_free(&rep);
	/* groups only with a split, a split only with groups, groups only
	 * tag or quarantine */
	T_INTEQ(parse(FILTER_TAG, two, 2, &rep), -1);
	T_INTEQ(parse(FILTER_SPLIT, NULL, 0, &rep), -1);
	T_INTEQ(parse(FILTER_SPLIT, bad, 1, &rep), -1);
	T_INTEQ(parse(6, NULL, 0, &rep), -1);
}

static void
test_split_check(void)
{
	const char *abc[] = { "a@x", "b@x", "c@x" };
	const char *aa[] = { "a@x", "a@x" };
	size_t grp[3];
	const struct g ok[] = { { FILTER_TAG, "c@x\na@x" }, { FILTER_QUARANTINE, "b@x" } };
	const struct g add[] = { { FILTER_TAG, "a@x\nb@x\nc@x\nd@x" } };
	const struct g twice[] = { { FILTER_TAG, "a@x\nb@x" }, { FILTER_TAG, "b@x\nc@x" } };
	const struct g missing[] = { { FILTER_TAG, "a@x\nb@x" } };
	const struct g empty[] = { { FILTER_TAG, "a@x\nb@x\nc@x" }, { FILTER_QUARANTINE, "" } };
	const struct g prefix[] = { { FILTER_TAG, "a@\nb@x\nc@x" } };
	const struct g trailing[] = { { FILTER_TAG, "a@x\nb@x\nc@x\n" } };
	const struct g both[] = { { FILTER_TAG, "a@x\na@x" } };
	const struct g one[] = { { FILTER_TAG, "a@x" } };

	T_INTEQ(check(abc, 3, ok, 2, grp), 0);
	T_INTEQ(grp[0], 0);
	T_INTEQ(grp[1], 1);
	T_INTEQ(grp[2], 0);
	T_INTEQ(check(abc, 3, add, 1, grp), -1);
	T_INTEQ(check(abc, 3, twice, 2, grp), -1);
	T_INTEQ(check(abc, 3, missing, 1, grp), -1);
	T_INTEQ(check(abc, 3, empty, 2, grp), -1);
	T_INTEQ(check(abc, 3, prefix, 1, grp), -1);
	T_INTEQ(check(abc, 3, trailing, 1, grp), 0);
	/* a recipient given twice in the session is two recipients */
	T_INTEQ(check(aa, 2, both, 1, grp), 0);
	T_INTEQ(check(aa, 2, one, 1, grp), -1);
	/* more groups than recipients */
	T_INTEQ(check(abc, 1, ok, 2, grp), -1);
}

int
main(void)
{
	T_RUN(test_parse);
	T_RUN(test_split_check);
	return t_done();
}
