/* test-queue-file.c - queue file round trip, truncation, done marks. */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cleanup.h"
#include "config.h"
#include "queue_file.h"
#include "test.h"

static void
test_roundtrip(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", *err = NULL, path[512];
	struct cleanup_rcpt r[2] = { { "a@x.test", NULL, 0 },
	    { "b@y.test", "rfc822;B@y.test", 6 } };
	char *attrs[] = { "helo=client.test", NULL };
	struct cleanup *c;
	struct qfile qf;
	char content[256];
	struct stat st;

	T_OK(mkdtemp(dir) != NULL);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	c = cleanup_open(dir, "s@z.test", r, 2, "ENV1", 1, attrs, &err);
	T_OK(c != NULL);
	cleanup_received(c, "Received: from x\n\tby y");
	cleanup_line(c, "Subject: hi", 11, 1);
	cleanup_line(c, "", 0, 1);
	cleanup_line(c, "body", 4, 1);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, cleanup_id(c));
	cleanup_free(&c);

	T_INTEQ(qfile_open(path, 1, &qf, &err), 0);
	T_STREQ(qf.sender, "s@z.test");
	T_STREQ(qf.envid, "ENV1");
	T_INTEQ(qf.ret, 1);
	T_INTEQ(qf.nrcpt, 2);
	T_STREQ(qf.rcpts[1].addr, "b@y.test");
	T_STREQ(qf.rcpts[1].orcpt, "rfc822;B@y.test");
	T_INTEQ(qf.rcpts[1].notify, 6);
	T_STREQ(qfile_attr(&qf, "helo"), "client.test");
	T_OK(qf.content_len < sizeof(content));
	T_INTEQ(pread(qf.fd, content, qf.content_len, qf.content_off),
	    (long)qf.content_len);
	content[qf.content_len] = '\0';
	T_OK(strncmp(content, "Received: from x\n\tby y\nSubject: hi\n"
	    "Message-Id: <", 48) == 0);
	T_OK(strstr(content, "\nDate: ") != NULL);
	T_OK(strstr(content, "\n\nbody\n") != NULL);
	T_INTEQ(qfile_mark_done(&qf, 0), 0);
	qfile_close(&qf);
	T_INTEQ(qfile_open(path, 0, &qf, &err), 0);
	T_INTEQ(qf.rcpts[0].done, 1);
	T_INTEQ(qfile_pending(&qf), 1);
	qfile_close(&qf);

	/* Truncated copies are refused. */
	T_INTEQ(stat(path, &st), 0);
	for (off_t cut = 1; cut < st.st_size; cut += 7) {
		char tpath[600];
		FILE *in = fopen(path, "r"), *out;
		char *b = malloc((size_t)cut);
		/* same name (the id inside must match it), another queue */
		snprintf(tpath, sizeof(tpath), "%s/hold/%s", dir,
		    strrchr(path, '/') + 1);
		out = fopen(tpath, "w");
		T_INTEQ(fread(b, 1, (size_t)cut, in), (long)cut);
		fwrite(b, 1, (size_t)cut, out);
		fclose(in);
		fclose(out);
		chmod(tpath, 0700);
		if (qfile_open(tpath, 0, &qf, &err) == 0) {
			T_CHECK(0, "truncated at %ld accepted", (long)cut);
			qfile_close(&qf);
		} else
			{ free(err); err = NULL; }
		unlink(tpath);
		free(b);
	}
	/* Mode 0600 (never finished) is refused. */
	chmod(path, 0600);
	T_INTEQ(qfile_open(path, 0, &qf, &err), -1);
	free(err);
}

/* A finished file moved to spare/ (as qmgr does) is taken by the next
 * writer: renamed to the new id, overwritten, its old tail cut off; a
 * stale second name of it is refused. */
static void
test_spare_reuse(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", *err = NULL, path[512];
	char spare[512], id1[QUEUE_ID_LEN + 1], stale[512];
	struct cleanup_rcpt r[1] = { { "a@x.test", NULL, 0 } };
	struct cleanup *c;
	struct qfile qf;
	char line[100], content[512];
	struct stat st;
	int i;

	T_OK(mkdtemp(dir) != NULL);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	c = cleanup_open(dir, "s@z.test", r, 1, NULL, 0, NULL, &err);
	T_OK(c != NULL);
	memset(line, 'x', sizeof(line));
	cleanup_line(c, "Subject: big", 12, 1);
	cleanup_line(c, "", 0, 1);
	for (i = 0; i < 200; i++)
		cleanup_line(c, line, sizeof(line), 1);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	snprintf(id1, sizeof(id1), "%s", cleanup_id(c));
	cleanup_free(&c);
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, id1);
	snprintf(spare, sizeof(spare), "%s/spare/%s", dir, id1);
	T_INTEQ(chmod(path, 0600), 0);
	T_INTEQ(rename(path, spare), 0);

	c = cleanup_open(dir, "s2@z.test", r, 1, NULL, 0, NULL, &err);
	T_OK(c != NULL);
	T_OK(strcmp(cleanup_id(c), id1) != 0);
	T_INTEQ(stat(spare, &st), -1);          /* taken */
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, cleanup_id(c));
	T_INTEQ(stat(path, &st), 0);
	T_INTEQ(st.st_mode & 0777, 0600);       /* not finished yet */
	cleanup_line(c, "Subject: small", 14, 1);
	cleanup_line(c, "", 0, 1);
	cleanup_line(c, "tiny", 4, 1);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	cleanup_free(&c);
	T_INTEQ(stat(path, &st), 0);
	T_INTEQ(st.st_mode & 0777, 0700);
	T_OK(st.st_size < 1000);                /* the old tail is gone */
	T_INTEQ(qfile_open(path, 0, &qf, &err), 0);
	T_STREQ(qf.sender, "s2@z.test");
	T_OK(qf.content_len < sizeof(content));
	T_INTEQ(pread(qf.fd, content, qf.content_len, qf.content_off),
	    (long)qf.content_len);
	content[qf.content_len] = '\0';
	T_OK(strstr(content, "Subject: small\n") != NULL);
	T_OK(strstr(content, "\n\ntiny\n") != NULL);
	T_OK(strchr(content, 'x') == NULL);
	T_INTEQ((long)(qf.content_off + (off_t)qf.content_len + 5),
	    (long)st.st_size);                  /* "\n" "X0:\n" ends it */
	qfile_close(&qf);

	/* the old name surviving a crash next to the new one: refused */
	snprintf(stale, sizeof(stale), "%s/active/%s", dir, id1);
	T_INTEQ(link(path, stale), 0);
	T_INTEQ(qfile_open(stale, 0, &qf, &err), -1);
	T_OK(err != NULL && strstr(err, "does not match") != NULL);
	free(err);
}

int
main(void)
{
	char *err = NULL;

	config_load("/nonexistent", &err);
	T_RUN(test_roundtrip);
	T_RUN(test_spare_reuse);
	return t_done();
}
