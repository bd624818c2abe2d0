/* test-smtp-reply-check.c - which reply lines smtpd passes on from the
 * content filter, and how they are cleaned. */
#include <string.h>
#include "smtp_reply_check.h"
#include "test.h"

static char out[SMTP_REPLY_CHECK_MAX + 1];
static const char *why;

static int
check(char want, const char *reply)
{
	why = NULL;
	return smtp_reply_check(want, reply, out, sizeof(out), &why);
}

static void
test_valid(void)
{
	T_INTEQ(check('5', "550 5.7.1 Message content rejected"), 0);
	T_STREQ(out, "550 5.7.1 Message content rejected");
	T_INTEQ(check('5', "554"), 0);
	T_STREQ(out, "554");
	T_INTEQ(check('4', "451 4.7.1 try later"), 0);
	T_INTEQ(check('2', "250 2.7.0 Ok: quarantined as 0123abcd"), 0);
	/* no enhanced code, or text that only looks like one later on */
	T_INTEQ(check('5', "550 rejected 4.7.1"), 0);
	T_INTEQ(check('5', "550 "), 0);
}

static void
test_cleaned(void)
{
	T_INTEQ(check('2', "250 2.7.0 Ok: \x1b[2Jquarantined \x7f\xff\t"), 0);
	T_STREQ(out, "250 2.7.0 Ok: ?[2Jquarantined ???");
}

static void
test_refused(void)
{
	T_INTEQ(check('5', "550 5.7.1 no\r\n250 2.0.0 Ok"), -1);
	T_STREQ(why, "CR or LF in the reply");
	T_STREQ(out, "");
	T_INTEQ(check('5', "550 5.7.1 no\n250 Ok"), -1);
	T_INTEQ(check('5', "550 no\r"), -1);
	T_INTEQ(check('5', "550-5.7.1 no"), -1);
	T_STREQ(why, "reply code does not suit the action");
	T_INTEQ(check('5', "250 2.0.0 Ok: queued"), -1);
	T_INTEQ(check('4', "550 5.7.1 no"), -1);
	T_INTEQ(check('2', "550 5.7.1 no"), -1);
	T_INTEQ(check('2', ""), -1);
	T_INTEQ(check('5', "55"), -1);
	T_INTEQ(check('5', "5x0 no"), -1);
	T_INTEQ(check('5', "ok"), -1);
	T_INTEQ(check('5', "5500 no"), -1);
	T_INTEQ(check('5', "550 4.7.1 no"), -1);
	T_STREQ(why, "enhanced status code does not suit the action");
	T_INTEQ(check('2', "250 5.0.0 x"), -1);
}

static void
test_length(void)
{
	char line[SMTP_REPLY_CHECK_MAX + 2];
	char small[16];

	memset(line, 'x', sizeof(line) - 1);
	memcpy(line, "550 ", 4);
	line[SMTP_REPLY_CHECK_MAX] = '\0';
	T_INTEQ(check('5', line), 0);
	T_INTEQ(strlen(out), SMTP_REPLY_CHECK_MAX);
	line[SMTP_REPLY_CHECK_MAX] = 'x';
	line[SMTP_REPLY_CHECK_MAX + 1] = '\0';
	T_INTEQ(check('5', line), -1);
	T_STREQ(why, "reply too long");
	/* the caller's buffer must hold the longest reply */
	T_INTEQ(smtp_reply_check('5', "550 x", small, sizeof(small), &why), -1);
	T_STREQ(small, "");
}

int
main(void)
{
	T_RUN(test_valid);
	T_RUN(test_cleaned);
	T_RUN(test_refused);
	T_RUN(test_length);
	return t_done();
}
