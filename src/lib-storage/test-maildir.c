/* test-maildir.c - unit tests of Maildir++ folders, UID list, flags in
 * file names, save/copy/expunge and change reporting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_search.h"
#include "maildir.h"
#include "mem.h"
#include "test.h"

static char root[256];

static void
drop(const char *name, const char *body)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	f = fopen(p, "w");
	fputs(body, f);
	fclose(f);
}

static unsigned n_exp, n_flags, n_recent;
static uint32_t last_exp_uid;
static void cb_exp(void *c, unsigned s, uint32_t uid) { (void)c; (void)s; n_exp++; last_exp_uid = uid; }
static void cb_flags(void *c, unsigned s) { (void)c; (void)s; n_flags++; }
static void cb_recent(void *c, unsigned s) { (void)c; (void)s; n_recent++; }
static const struct maildir_sync_cb cb = { cb_exp, cb_flags, cb_recent, NULL };

static void
test_names(void)
{
	const char *err;

	T_INTEQ(maildir_name_check("Sent", &err), 0);
	T_INTEQ(maildir_name_check("a.b", &err), 0);
	T_INTEQ(maildir_name_check("../x", &err), -1);
	T_INTEQ(maildir_name_check("a/b", &err), -1);
	T_INTEQ(maildir_name_check("..", &err), -1);
	T_INTEQ(maildir_name_check(".x", &err), -1);
	T_INTEQ(maildir_name_check("x.", &err), -1);
	T_INTEQ(maildir_name_check("&Jjo", &err), -1);
	T_INTEQ(maildir_name_check("", &err), -1);
	char *n = maildir_name_normalize("inbox");
	T_STREQ(n, "INBOX");
	free(n);
}

static void
test_flow(void)
{
	struct mail_user *u;
	struct mailbox *a, *b;
	const char *err;
	char *e, *data;
	size_t len;
	uint32_t uv, uid, uids[2];

	u = maildir_user_open(root, &e);
	T_OK(u != NULL);
	T_OK(maildir_exists(u, "Sent"));
	T_OK(maildir_exists(u, "Trash"));
	drop("new/1000.A.host", "Subject: one\n\nbody\n");
	drop("new/1001.B.host", "Subject: two\n\nbody\n");
	T_INTEQ(maildir_open(u, "INBOX", 0, &a, &err), 0);
	T_INTEQ(a->count, 2);
	T_INTEQ(a->mails[0].uid, 1);
	T_INTEQ(a->mails[1].uid, 2);
	T_OK(a->mails[0].flags & IMAP_FLAG_RECENT);
	T_OK(strncmp(a->mails[0].fname, "cur/1000.A.host:2,", 18) == 0);
	T_INTEQ(maildir_read(a, 1, &data, &len), 0);
	T_INTEQ(len, 19);
	free(data);

	/* a second session sees the same UIDs, without \Recent */
	T_INTEQ(maildir_open(u, "INBOX", 0, &b, &err), 0);
	T_INTEQ(b->count, 2);
	T_INTEQ(b->mails[1].uid, 2);
	T_OK(!(b->mails[0].flags & IMAP_FLAG_RECENT));
	uint32_t uv0 = a->uidvalidity;
	T_INTEQ(b->uidvalidity, uv0);

	/* flags: a sets, b notices */
	uint64_t ms = a->mails[0].modseq;
	struct maildir_kw k1 = { { 1 } };
	T_INTEQ(maildir_set_flags(a, 0, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED, &k1), 0);
	T_INTEQ(maildir_commit(a), 0);
	T_OK(a->mails[0].modseq > ms);
	T_OK(strstr(a->mails[0].fname, ":2,FSa") != NULL);
	n_flags = 0;
	T_INTEQ(maildir_sync(b, 1, &cb), 0);
	T_INTEQ(n_flags, 1);
	T_INTEQ(b->mails[0].flags, IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED);
	T_INTEQ(b->mails[0].keywords, 1);
	/* reading with a stale name still works (b renamed nothing) */
	T_INTEQ(maildir_read(b, 0, &data, &len), 0);
	free(data);

	/* expunge in a; b sees it only when allowed */
	uint64_t ms_before = a->highestmodseq;
	uint32_t exp_uid = a->mails[1].uid;
	T_INTEQ(maildir_expunge(a, 1), 0);
	n_exp = 0;
	T_INTEQ(maildir_sync(a, 1, &cb), 0);
	T_INTEQ(n_exp, 1);
	T_INTEQ(last_exp_uid, exp_uid);
	T_INTEQ(a->count, 1);
	/* an expunge raises HIGHESTMODSEQ (QRESYNC) */
	T_OK(a->highestmodseq > ms_before);
	n_exp = 0;
	T_INTEQ(maildir_sync(b, 0, &cb), 0);
	T_INTEQ(n_exp, 0);
	T_INTEQ(b->count, 2);
	T_OK(b->mails[1].expunged);
	T_INTEQ(maildir_sync(b, 1, &cb), 0);
	T_INTEQ(n_exp, 1);
	T_INTEQ(b->count, 1);

	/* save and copy: new UIDs continue, never reused */
	T_INTEQ(maildir_save(u, "INBOX", "Subject: x\r\n\r\nhi\r\n", 18,
	    IMAP_FLAG_SEEN, NULL, 1000000000, &uv, &uid, &err), 0);
	T_INTEQ(uid, 3);
	T_INTEQ(uv, uv0);
	n_recent = 0;
	T_INTEQ(maildir_sync(a, 1, &cb), 0);
	T_INTEQ(a->count, 2);
	T_INTEQ(a->mails[1].uid, 3);
	T_INTEQ(a->mails[1].vsize, 18);
	T_INTEQ(maildir_internaldate(a, 1), 1000000000);
	T_INTEQ(maildir_read(a, 1, &data, &len), 0);
	T_INTEQ(len, 15);
	free(data);
	unsigned idx[2] = { 0, 1 };
	T_INTEQ(maildir_copy(a, idx, 2, "Trash", &uv, uids, &err), 0);
	T_INTEQ(uids[0], 1);
	T_INTEQ(uids[1], 2);
	T_INTEQ(maildir_copy(a, idx, 2, "Nope", &uv, uids, &err), -1);
	T_INTEQ(maildir_save(u, "Nope", "x", 1, 0, NULL, 0, &uv, &uid, &err), -1);

	maildir_close(&a);
	maildir_close(&b);
	/* persistence */
	T_INTEQ(maildir_open(u, "INBOX", 1, &a, &err), 0);
	T_INTEQ(a->count, 2);
	T_INTEQ(a->mails[0].uid, 1);
	T_INTEQ(a->mails[1].uid, 3);
	T_INTEQ(a->uidnext, 4);
	maildir_close(&a);

	/* folders */
	T_INTEQ(maildir_create(u, "Work", &err), 0);
	T_INTEQ(maildir_create(u, "Work.Old", &err), 0);
	T_INTEQ(maildir_create(u, "Work", &err), -1);
	T_INTEQ(maildir_delete(u, "Work", &err), -1);   /* has children */
	T_INTEQ(maildir_rename(u, "Work", "Job", &err), 0);
	T_OK(maildir_exists(u, "Job.Old"));
	T_OK(!maildir_exists(u, "Work"));
	T_INTEQ(maildir_delete(u, "Job.Old", &err), 0);
	T_INTEQ(maildir_delete(u, "INBOX", &err), -1);
	struct maildir_folder *v;
	unsigned n;
	T_INTEQ(maildir_list(u, &v, &n), 0);
	T_STREQ(v[0].name, "INBOX");
	T_INTEQ(n, 6);  /* INBOX Drafts Job Junk Sent Trash */
	maildir_list_free(v, n);
	T_INTEQ(maildir_keyword(u, "$Junk", 1), 0);
	T_INTEQ(maildir_keyword(u, "$junk", 0), 0);
	T_INTEQ(maildir_keyword(u, "Other", 0), -1);
	T_INTEQ(maildir_subscribe(u, "Job", 1), 0);
	char **subs = maildir_subscriptions(u, &n);
	T_INTEQ(n, 6);
	for (unsigned i = 0; i < n; i++)
		free(subs[i]);
	free(subs);
	maildir_user_free(&u);
}

static void
set_mtime(const char *sub, time_t t)
{
	char p[512];
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	snprintf(p, sizeof(p), "%s/.Skip/%s", root, sub);
	utimensat(AT_FDCWD, p, ts, 0);
}

static void
test_readdir_skip(void)
{
	struct mail_user *u;
	struct mailbox *a;
	const char *err;
	char *e, *data, p[512];
	size_t len;
	time_t old = time(NULL) - 100;

	u = maildir_user_open(root, &e);
	T_INTEQ(maildir_create(u, "Skip", &err), 0);
	drop(".Skip/new/2000.A.host", "Subject: a\n\nx\n");
	drop(".Skip/cur/2001.B.host:2,S", "Subject: b\n\ny\n");
	set_mtime("new", old);
	set_mtime("cur", old);
	/* first open scans and records the (old) mtimes */
	T_INTEQ(maildir_open(u, "Skip", 1, &a, &err), 0);
	T_INTEQ(a->count, 2);
	maildir_close(&a);
	/* a file slipped in while the mtime stayed: the list alone is used */
	drop(".Skip/cur/2002.C.host:2,", "Subject: c\n\nz\n");
	set_mtime("cur", old);
	T_INTEQ(maildir_open(u, "Skip", 1, &a, &err), 0);
	T_INTEQ(a->count, 2);
	T_STREQ(a->mails[0].fname, "cur/2001.B.host:2,S");
	T_INTEQ(a->mails[0].flags, IMAP_FLAG_SEEN);
	T_STREQ(a->mails[1].fname, "new/2000.A.host");
	T_INTEQ(maildir_read(a, 0, &data, &len), 0);
	free(data);
	T_INTEQ(maildir_read(a, 1, &data, &len), 0);
	free(data);
	maildir_close(&a);
	/* any real change of the directory brings a full scan back */
	snprintf(p, sizeof(p), "%s/.Skip/cur/2001.B.host:2,S", root);
	unlink(p);
	T_INTEQ(maildir_open(u, "Skip", 1, &a, &err), 0);
	T_INTEQ(a->count, 2);
	T_INTEQ(a->mails[1].uid, 3);    /* 2002.C, B gone */
	maildir_close(&a);
	maildir_user_free(&u);
}

static int
kw_parse_str(const char *s, struct maildir_kw *kw)
{
	memset(kw, 0, sizeof(*kw));
	return maildir_kw_parse(s, strlen(s), kw);
}

static void
test_kw_parse(void)
{
	struct maildir_kw kw;
	char *f;

	T_INTEQ(kw_parse_str("26", &kw), 0);
	T_OK(maildir_kw_has(&kw, 26));
	T_OK(!maildir_kw_has(&kw, 27));
	T_INTEQ(kw_parse_str("26,64,1023", &kw), 0);
	T_OK(maildir_kw_has(&kw, 64) && maildir_kw_has(&kw, 1023));
	f = maildir_kw_format(&kw);
	T_STREQ(f, "26,64,1023");
	free(f);
	/* rejected: empty, out of range, order, junk, leading zero */
	static const char *const bad[] = {
		"", ",", "26,", ",26", "25", "0", "1024", "99999999", "27,26",
		"26,26", "26,,27", "026", "-26", "+26", "26 ", "2a", "26;27",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&kw, 0, sizeof(kw));
		maildir_kw_set(&kw, 3);
		T_INTEQ(maildir_kw_parse(bad[i], strlen(bad[i]), &kw), -1);
		/* unchanged on error */
		T_OK(maildir_kw_has(&kw, 3) && !maildir_kw_has(&kw, 26));
	}
	/* length bound: no read past len */
	T_INTEQ(maildir_kw_parse("30,40", 2, &kw), 0);
	T_OK(maildir_kw_has(&kw, 30) && !maildir_kw_has(&kw, 40));
	/* letters only: no field */
	memset(&kw, 0, sizeof(kw));
	maildir_kw_set(&kw, 0);
	maildir_kw_set(&kw, 25);
	T_OK(maildir_kw_format(&kw) == NULL);
}

static void
test_kw_many(void)
{
	struct mail_user *u;
	struct mailbox *a, *b;
	const char *err;
	char *e, name[64], p[512];
	uint32_t uv, uid, uids[1];
	struct maildir_kw kw;

	snprintf(p, sizeof(p), "%s/kw", root);
	T_OK((u = maildir_user_open(p, &e)) != NULL);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "kw%u", i);
		T_INTEQ(maildir_keyword(u, name, 1), i);
	}
	snprintf(p, sizeof(p), "kw/new/1000.A.host");
	drop(p, "Subject: a\n\nbody\n");
	T_INTEQ(maildir_open(u, "INBOX", 0, &a, &err), 0);
	T_INTEQ(maildir_open(u, "INBOX", 0, &b, &err), 0);
	T_INTEQ(a->count, 1);
	memset(&kw, 0, sizeof(kw));
	maildir_kw_set(&kw, 2);
	maildir_kw_set(&kw, 30);
	maildir_kw_set(&kw, 39);
	uint64_t ms = a->highestmodseq;
	T_INTEQ(maildir_set_flags(a, 0, IMAP_FLAG_SEEN, &kw), 0);
	T_INTEQ(maildir_commit(a), 0);
	T_OK(a->highestmodseq > ms);
	T_OK(strstr(a->mails[0].fname, ":2,Sc") != NULL);
	T_STREQ(a->mails[0].xkw, "30,39");
	/* another session sees the change */
	n_flags = 0;
	T_INTEQ(maildir_sync(b, 1, &cb), 0);
	T_INTEQ(n_flags, 1);
	T_STREQ(b->mails[0].xkw, "30,39");
	/* only an extra keyword changes: no rename, still seen */
	maildir_kw_set(&kw, 31);
	ms = a->mails[0].modseq;
	T_INTEQ(maildir_set_flags(a, 0, IMAP_FLAG_SEEN, &kw), 0);
	T_INTEQ(maildir_commit(a), 0);
	T_OK(a->mails[0].modseq > ms);
	n_flags = 0;
	T_INTEQ(maildir_sync(b, 1, &cb), 0);
	T_INTEQ(n_flags, 1);
	struct maildir_kw got;
	maildir_mail_kw(&b->mails[0], &got);
	T_INTEQ(memcmp(&got, &kw, sizeof(kw)), 0);
	/* copy and save carry them */
	unsigned idx[1] = { 0 };
	T_INTEQ(maildir_copy(a, idx, 1, "Trash", &uv, uids, &err), 0);
	T_INTEQ(maildir_save(u, "INBOX", "Subject: y\r\n\r\nx\r\n", 16, 0, &kw,
	    0, &uv, &uid, &err), 0);
	maildir_close(&a);
	maildir_close(&b);
	maildir_user_free(&u);
	/* after a restart */
	snprintf(p, sizeof(p), "%s/kw", root);
	T_OK((u = maildir_user_open(p, &e)) != NULL);
	T_INTEQ(u->nkeywords, 40);
	T_INTEQ(maildir_keyword(u, "KW39", 0), 39);
	T_INTEQ(maildir_open(u, "INBOX", 1, &a, &err), 0);
	T_INTEQ(a->count, 2);
	for (unsigned i = 0; i < 2; i++) {
		maildir_mail_kw(&a->mails[i], &got);
		T_INTEQ(memcmp(&got, &kw, sizeof(kw)), 0);
	}
	maildir_close(&a);
	T_INTEQ(maildir_open(u, "Trash", 1, &a, &err), 0);
	T_INTEQ(a->count, 1);
	maildir_mail_kw(&a->mails[0], &got);
	T_INTEQ(memcmp(&got, &kw, sizeof(kw)), 0);
	maildir_close(&a);
	/* an old T1 list (no kw field) stays readable, UIDs kept */
	drop("kw/.Junk/cur/2000.B.host:2,S", "Subject: b\n\nx\n");
	drop("kw/.Junk/tempest-uidlist", "T1 V77 N8 M3\n7 2 S 2000.B.host\n");
	T_INTEQ(maildir_open(u, "Junk", 0, &a, &err), 0);
	T_INTEQ(a->uidvalidity, 77);
	T_INTEQ(a->count, 1);
	T_INTEQ(a->mails[0].uid, 7);
	T_OK(a->mails[0].xkw == NULL);
	maildir_close(&a);
	/* a bad kw field is ignored, the message kept */
	drop("kw/.Junk/tempest-uidlist", "T2 V77 N8 M3\n7 2 S 30,x 2000.B.host\n");
	T_INTEQ(maildir_open(u, "Junk", 0, &a, &err), 0);
	T_INTEQ(a->count, 1);
	T_INTEQ(a->mails[0].uid, 7);
	T_OK(a->mails[0].xkw == NULL);
	maildir_close(&a);
	/* limits */
	char longname[MAILDIR_KEYWORD_MAX_LEN + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	T_INTEQ(maildir_keyword(u, longname, 1), -3);
	for (unsigned i = 40; i < MAILDIR_MAX_KEYWORDS; i++) {
		snprintf(name, sizeof(name), "kw%u", i);
		T_INTEQ(maildir_keyword(u, name, 1), i);
	}
	T_INTEQ(maildir_keyword(u, "onemore", 1), -2);
	T_INTEQ(maildir_keyword(u, "kw1023", 1), 1023);
	maildir_user_free(&u);
}

int
main(void)
{
	char cmd[300];

	snprintf(root, sizeof(root), "/tmp/test-maildir.XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	T_RUN(test_names);
	T_RUN(test_flow);
	T_RUN(test_readdir_skip);
	T_RUN(test_kw_parse);
	T_RUN(test_kw_many);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return t_done();
}
