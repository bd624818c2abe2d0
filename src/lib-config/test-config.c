/* test-config.c - main.cf and master.cf parsing, golden postconf -n. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "config.h"
#include "maps.h"
#include "master_cf.h"
#include "test.h"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	static char buf[65536];
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
test_basic(void)
{
	char *err = NULL, out[65536];
	FILE *fp;
	const char *bad;

	T_INTEQ(config_load("testdata/basic", &err), 0);
	T_STREQ(config_str("mydestination"),
	    "mail.example.test, localhost.example.test, localhost");
	T_STREQ(config_str("myorigin"), "mail.example.test");
	T_STREQ(config_str("virtual_mailbox_domains"), "example.test , other.test");
	T_STREQ(config_str("banner_extra"), "fallback $literal");
	T_STREQ(config_str("smtpd_banner"), "mail.example.test ESMTP Tempest (0.1)");
	T_INTEQ(config_int("message_size_limit"), 20480000);
	T_INTEQ(config_bool("smtpd_helo_required"), 1);
	T_INTEQ(config_time("queue_run_delay"), 600);
	T_INTEQ(config_time("maximal_queue_lifetime"), 5 * 86400);
	T_STREQ(config_str("config_directory"), "testdata/basic");
	T_INTEQ(config_is_set("myorigin"), 0);

	fp = fmemopen(out, sizeof(out), "w");
	config_print(fp, CONFIG_PRINT_SET, 0, NULL);
	fclose(fp);
	T_STREQ(out, slurp("testdata/basic/postconf-n.ref"));

	T_INTEQ(config_override("message_size_limit", "1000", &err), 0);
	T_INTEQ(config_int("message_size_limit"), 1000);
	T_INTEQ(config_override("smtpd_helo_required", "perhaps", &err), -1);
	free(err);
	T_INTEQ(config_check_docs(&bad), 0);
}

static void
test_errors(void)
{
	char *err = NULL;

	T_INTEQ(config_load("testdata/badbool", &err), -1);
	T_STREQ(err, "testdata/badbool/main.cf:2: bad boolean value for "
	    "smtpd_helo_required: \"maybe\" (use yes or no)");
	free(err);
	err = NULL;
	T_INTEQ(config_load("testdata/cont", &err), -1);
	T_STREQ(err, "testdata/cont/main.cf:1: continuation line without a parameter");
	free(err);
}

/* config_edit_text() on text, the result as a string (static). */
static const char *
edited(const char *text, enum config_edit_op op, struct config_edit *ed, size_t n)
{
	static char res[4096];
	struct buf b;

	buf_init(&b, sizeof(res) - 1);
	if (config_edit_text(text, strlen(text), op, ed, n, &b) < 0)
		snprintf(res, sizeof(res), "(error)");
	else
		snprintf(res, sizeof(res), "%.*s", (int)b.len, b.data ? (char *)b.data : "");
	buf_free(&b);
	return res;
}

static void
test_edit(void)
{
	const char *cf = "# top\n"
	    "myhostname = a.example\n"
	    "smtpd_banner = $myhostname\n"
	    "  ESMTP\n"
	    "# inside\n"
	    "\n"
	    "  Tempest\n"
	    "spam_level = 5\n"
	    "spam_level_x = 1\n"
	    "spam_level=6\n"
	    "last = x";
	struct config_edit set[] = {
		{ "smtpd_banner", "hi", 0 }, { "spam_level", "7", 0 },
		{ "new_one", "$myhostname", 0 },
	};
	struct config_edit rm[] = { { "smtpd_banner", NULL, 0 }, { "absent", NULL, 0 } };
	struct config_edit one[] = { { "a", "1", 0 } };

	/* the first setting replaced with its continuation lines, the
	 * comment and blank line between them kept, later settings of the
	 * name dropped, a new one appended, the last line ended */
	T_STREQ(edited(cf, CONFIG_EDIT_SET, set, 3), "# top\n"
	    "myhostname = a.example\n"
	    "smtpd_banner = hi\n"
	    "# inside\n"
	    "\n"
	    "spam_level = 7\n"
	    "spam_level_x = 1\n"
	    "last = x\n"
	    "new_one = $myhostname\n");
	T_INTEQ(set[0].found, 1);
	T_INTEQ(set[1].found, 2);
	T_INTEQ(set[2].found, 0);
	T_STREQ(edited(cf, CONFIG_EDIT_REMOVE, rm, 2), "# top\n"
	    "myhostname = a.example\n"
	    "# inside\n"
	    "\n"
	    "spam_level = 5\n"
	    "spam_level_x = 1\n"
	    "spam_level=6\n"
	    "last = x\n");
	T_INTEQ(rm[1].found, 0);
	T_STREQ(edited(cf, CONFIG_EDIT_COMMENT, rm, 1), "# top\n"
	    "myhostname = a.example\n"
	    "#smtpd_banner = $myhostname\n"
	    "#  ESMTP\n"
	    "# inside\n"
	    "\n"
	    "#  Tempest\n"
	    "spam_level = 5\n"
	    "spam_level_x = 1\n"
	    "spam_level=6\n"
	    "last = x\n");
	T_STREQ(edited("", CONFIG_EDIT_SET, one, 1), "a = 1\n");
	T_STREQ(edited("a = 0\r\nb = 2\r\n", CONFIG_EDIT_SET, one, 1),
	    "a = 1\nb = 2\r\n");
	/* refused: a value of two lines, a bad name; no room */
	one[0].value = "1\nb = 2";
	T_STREQ(edited("", CONFIG_EDIT_SET, one, 1), "(error)");
	one[0].name = "a b";
	one[0].value = "1";
	T_STREQ(edited("", CONFIG_EDIT_SET, one, 1), "(error)");
	T_INTEQ(config_edit_valid("smtpd_tls-x1", "v"), 1);
	T_INTEQ(config_edit_valid("", NULL), 0);
	one[0].name = "a";
	one[0].value = "x";
	{
		char big[5000];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[0] = 'q', big[1] = '=';
		T_STREQ(edited(big, CONFIG_EDIT_SET, one, 1), "(error)");
	}
}

static void
test_master_cf(void)
{
	struct master_cf cf;
	char *err = NULL;

	T_INTEQ(master_cf_load("testdata/master.cf", 100, &cf, &err), 0);
	T_INTEQ(cf.n, 4);
	T_STREQ(cf.v[0].name, "127.0.0.1:2525");
	T_INTEQ(cf.v[0].type, SVC_INET);
	T_INTEQ(cf.v[0].maxproc, 1);
	T_INTEQ(cf.v[0].private_, 0);
	T_STREQ(cf.v[0].overrides[0], "smtpd_helo_required=yes");
	T_STREQ(cf.v[0].overrides[1], "message_size_limit=1000");
	T_OK(cf.v[0].overrides[2] == NULL);
	T_INTEQ(cf.v[1].wakeup, 60);
	T_INTEQ(cf.v[3].maxproc, 100);
	T_INTEQ(cf.v[3].unpriv, 0);
	T_INTEQ(cf.v[3].private_, 1);
	master_cf_free(&cf);
}

static void
test_maps(void)
{
	char *err = NULL;
	struct maplist *ml = maplist_open("inline:{ a@x=b@y, c=d } static:all", &err);
	const char *v;

	T_OK(ml != NULL);
	T_INTEQ(maplist_lookup(ml, "A@X", &v), 1);
	T_STREQ(v, "b@y");
	T_INTEQ(maplist_lookup(ml, "zz", &v), 1);
	T_STREQ(v, "all");
	maplist_free(&ml);
	T_OK(maplist_open("bogus:thing", &err) == NULL);
	free(err);
}

int
main(void)
{
	T_RUN(test_basic);
	T_RUN(test_errors);
	T_RUN(test_edit);
	T_RUN(test_master_cf);
	T_RUN(test_maps);
	return t_done();
}
