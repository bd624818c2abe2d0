/* test-queue-file.c - queue file round trip, truncation, done marks. */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cleanup.h"
#include "config.h"
#include "maildrop.h"
#include "mem.h"
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

	T_INTEQ(qfile_open(path, QF_RW, &qf, &err), 0);
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

	/* Truncated copies are refused (cut anywhere before the end of the
	 * X record; zeros pad the file to a whole block after it). */
	T_INTEQ(stat(path, &st), 0);
	T_INTEQ(st.st_size % QUEUE_FILE_BLOCK, 0);
	{
		FILE *in = fopen(path, "r");
		char *all = malloc((size_t)st.st_size + 1), *x;
		T_INTEQ(fread(all, 1, (size_t)st.st_size, in), (long)st.st_size);
		fclose(in);
		all[st.st_size] = '\0';
		x = strstr(all, "\nX16:");
		T_OK(x != NULL);
		T_OK(x != NULL && x[21] == '\n' && x[22] == '\0');
		st.st_size = x != NULL ? x - all + 22 : 0;
		free(all);
	}
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
	t_rmtree(dir);
}

/* A record length of 2^63 or more (a disk returning garbage) is refused,
 * not taken as a negative offset. */
/* The X record's checksum: every byte of a finished file counts (but a
 * D mark and the M length digits); start-up keeps, completes, removes
 * or sets aside as queue_incoming_check says. */
static void
test_checksum(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", *err = NULL, path[512];
	char copy[600], id[QUEUE_ID_LEN + 1];
	struct cleanup_rcpt r[1] = { { "a@x.test", NULL, 0 } };
	struct cleanup *c;
	struct qfile qf;
	const char *why;
	struct stat st;
	char *all;
	FILE *f;
	off_t i, xend;
	int fd, bad = 0;

	T_OK(mkdtemp(dir) != NULL);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	c = cleanup_open(dir, "s@z.test", r, 1, NULL, 0, NULL, &err);
	T_OK(c != NULL);
	cleanup_line(c, "Subject: sum", 12, 1);
	cleanup_line(c, "", 0, 1);
	cleanup_line(c, "body", 4, 1);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	snprintf(id, sizeof(id), "%s", cleanup_id(c));
	cleanup_free(&c);
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, id);
	fd = open(path, O_RDWR);
	T_INTEQ(queue_file_checksum(fd, id, NULL), QF_CHECK_OK);
	/* a D mark does not change it */
	{
		size_t pending = 9;
		T_INTEQ(queue_file_checksum(fd, id, &pending), QF_CHECK_OK);
		T_INTEQ(pending, 1);
		T_INTEQ(qfile_open(path, QF_RW, &qf, &err), 0);
		T_INTEQ(qfile_mark_done(&qf, 0), 0);
		qfile_close(&qf);
		T_INTEQ(queue_file_checksum(fd, id, &pending), QF_CHECK_OK);
		T_INTEQ(pending, 0);
	}
	T_INTEQ(fstat(fd, &st), 0);
	all = malloc((size_t)st.st_size);
	T_INTEQ(pread(fd, all, (size_t)st.st_size, 0), (long)st.st_size);
	close(fd);
	xend = strstr(all, "\nX16:") - all + 22;

	/* any byte changed before the end of X (one block torn): BAD; after
	 * it (the padding): still OK */
	snprintf(copy, sizeof(copy), "%s/hold/%s", dir, id);
	for (i = 0; i < st.st_size; i += (i < xend + 40 ? 1 : 997)) {
		/* a garbled magic line: not taken for a queue file at all */
		int want = i < 16 ? QF_CHECK_NONE : i < xend ? QF_CHECK_BAD :
		    QF_CHECK_OK, got;
		all[i] ^= 0x20;
		f = fopen(copy, "w");
		fwrite(all, 1, (size_t)st.st_size, f);
		fclose(f);
		all[i] ^= 0x20;
		fd = open(copy, O_RDONLY);
		got = queue_file_checksum(fd, id, NULL);
		close(fd);
		/* a flipped D/R type byte or M length digit is no damage
		 * the checksum sees: the parse catches those */
		if (got != want && !(want == QF_CHECK_BAD &&
		    (all[i] == 'D' || all[i] == 'R' ||
		    (all[i] >= '0' && all[i] <= '9')))) {
			bad++;
			printf("offset %ld of %ld (%c): %d\n", (long)i,
			    (long)xend, all[i], got);
		}
	}
	T_INTEQ(bad, 0);

	/* start-up: mode lost (0600) but complete: kept, 0700 again */
	T_INTEQ(chmod(path, 0600), 0);
	T_INTEQ(queue_incoming_check(path, id, &why), QUEUE_CHECK_KEEP);
	T_OK(why != NULL);
	T_INTEQ(stat(path, &st), 0);
	T_INTEQ(st.st_mode & 0777, 0700);
	T_INTEQ(queue_incoming_check(path, id, &why), QUEUE_CHECK_KEEP);
	T_OK(why == NULL);
	/* a torn copy: removed when 0600, set aside when 0700 */
	all[60] ^= 1;
	f = fopen(copy, "w");
	fwrite(all, 1, (size_t)xend, f);
	fclose(f);
	T_INTEQ(chmod(copy, 0600), 0);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_REMOVE);
	T_INTEQ(chmod(copy, 0700), 0);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_CORRUPT);
	/* cut before X: the same */
	f = fopen(copy, "w");
	all[60] ^= 1;
	fwrite(all, 1, (size_t)xend - 30, f);
	fclose(f);
	T_INTEQ(chmod(copy, 0600), 0);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_REMOVE);
	/* complete but under another name (I record): the mode decides */
	f = fopen(copy, "w");
	fwrite(all, 1, (size_t)st.st_size, f);
	fclose(f);
	T_INTEQ(chmod(copy, 0600), 0);
	fd = open(copy, O_RDONLY);
	T_INTEQ(queue_file_checksum(fd, "000000000000", NULL), QF_CHECK_STALE);
	close(fd);
	/* an old-format end record without a checksum: the mode decides */
	f = fopen(copy, "w");
	fprintf(f, "%sT3:123\nI12:%s\nS7:x@y.tst\nM5:hello\nX0:\n",
	    QUEUE_FILE_MAGIC, id);
	fclose(f);
	T_INTEQ(chmod(copy, 0600), 0);
	fd = open(copy, O_RDONLY);
	T_INTEQ(queue_file_checksum(fd, id, NULL), QF_CHECK_NONE);
	close(fd);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_REMOVE);
	T_INTEQ(chmod(copy, 0700), 0);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_KEEP);
	T_INTEQ(qfile_open(copy, 0, &qf, &err), 0);
	qfile_close(&qf);
	/* an empty reserved file */
	f = fopen(copy, "w");
	fclose(f);
	T_INTEQ(chmod(copy, 0600), 0);
	T_INTEQ(queue_incoming_check(copy, id, &why), QUEUE_CHECK_REMOVE);
	unlink(copy);

	/* other queues after a power failure: a complete file whose mode
	 * was lost gets 0700 back, but not a finished one in active/ (all
	 * D: on its way to spare/), nor a torn or stale one */
	{
		static const char *const qs[] = { "active", "deferred",
		    "hold" };
		char p[4][700];
		size_t k;
		/* all[] is the file with its recipient marked D */
		for (k = 0; k < 3; k++) {
			snprintf(p[k], sizeof(p[k]), "%s/%s/%s", dir, qs[k], id);
			f = fopen(p[k], "w");
			fwrite(all, 1, (size_t)st.st_size, f);
			fclose(f);
			T_INTEQ(chmod(p[k], 0600), 0);
		}
		/* the same with the recipient pending, in active/ */
		all[strstr(all, "\nD") - all + 1] = 'R';
		snprintf(p[3], sizeof(p[3]), "%s/active/%s", dir,
		    "0000000000AA");
		f = fopen(p[3], "w");
		fwrite(all, 1, (size_t)st.st_size, f);
		fclose(f);
		T_INTEQ(chmod(p[3], 0600), 0);
		rename(p[3], p[0]);     /* replaces the finished one */
		queue_recover_modes(dir);
		for (k = 0; k < 3; k++) {
			T_INTEQ(stat(p[k], &st), 0);
			T_INTEQ(st.st_mode & 0777, 0700);
		}
		/* finished (all D) in active/: left 0600 */
		all[strstr(all, "\nR") - all + 1] = 'D';
		f = fopen(p[0], "w");
		fwrite(all, 1, (size_t)st.st_size, f);
		fclose(f);
		T_INTEQ(chmod(p[0], 0600), 0);
		/* torn in deferred/: left 0600 */
		all[100] ^= 1;
		f = fopen(p[1], "w");
		fwrite(all, 1, (size_t)st.st_size, f);
		fclose(f);
		T_INTEQ(chmod(p[1], 0600), 0);
		queue_recover_modes(dir);
		T_INTEQ(stat(p[0], &st), 0);
		T_INTEQ(st.st_mode & 0777, 0600);
		T_INTEQ(stat(p[1], &st), 0);
		T_INTEQ(st.st_mode & 0777, 0600);
	}
	free(all);
	t_rmtree(dir);
}

static void
test_huge_length(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", path[600], *err = NULL;
	static const char *lens[] = { "9223372036854775808",
	    "18446744073709551615", "99999999999999999999" };
	struct qfile qf;
	size_t i;

	T_OK(mkdtemp(dir) != NULL);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		FILE *f;
		snprintf(path, sizeof(path), "%s/AAAAAAAAAAAA", dir);
		f = fopen(path, "w");
		T_OK(f != NULL);
		fprintf(f, "%sT3:123\nM%s:hello\nSx@y.test\nX0:\n",
		    QUEUE_FILE_MAGIC, lens[i]);
		fclose(f);
		chmod(path, QUEUE_MODE_COMPLETE);
		T_INTEQ(qfile_open(path, 0, &qf, &err), -1);
		free(err);
		err = NULL;
		unlink(path);
	}
	t_rmtree(dir);
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
	/* not cut: the size stays (no size change, so the commit's
	 * fdatasync needs no inode write); the old tail lies behind X */
	T_OK(st.st_size > 20000);
	T_INTEQ(st.st_size % QUEUE_FILE_BLOCK, 0);
	T_INTEQ(qfile_open(path, 0, &qf, &err), 0);
	T_STREQ(qf.sender, "s2@z.test");
	T_OK(qf.content_len < sizeof(content));
	T_INTEQ(pread(qf.fd, content, qf.content_len, qf.content_off),
	    (long)qf.content_len);
	content[qf.content_len] = '\0';
	T_OK(strstr(content, "Subject: small\n") != NULL);
	T_OK(strstr(content, "\n\ntiny\n") != NULL);
	T_OK(strchr(content, 'x') == NULL);
	qfile_close(&qf);
	{
		/* the checksum: right for the new content, the old tail
		 * behind X does not count */
		int fd = open(path, O_RDWR);
		char ch;
		T_INTEQ(queue_file_checksum(fd, strrchr(path, '/') + 1,
		    NULL), QF_CHECK_OK);
		T_INTEQ(queue_file_checksum(fd, id1, NULL), QF_CHECK_STALE);
		char old[300];
		(void)ch;
		T_INTEQ(pread(fd, old, sizeof(old), 5000), (long)sizeof(old));
		T_OK(memchr(old, 'x', sizeof(old)) != NULL);
		close(fd);
	}

	/* the old name surviving a crash next to the new one: refused */
	snprintf(stale, sizeof(stale), "%s/active/%s", dir, id1);
	T_INTEQ(link(path, stale), 0);
	T_INTEQ(qfile_open(stale, 0, &qf, &err), -1);
	T_OK(err != NULL && strstr(err, "does not match") != NULL);
	free(err);
	/* read as a copy (postcat FILE): its id is the one inside */
	T_INTEQ(qfile_open(stale, QF_ANY_NAME, &qf, &err), 0);
	T_STREQ(qf.id, strrchr(path, '/') + 1);
	qfile_close(&qf);
	t_rmtree(dir);
}

/* Files in dir/queue with the given mode (0 = any). */
static int
count_files(const char *dir, const char *queue, int mode)
{
	char p[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, queue);
	d = opendir(p);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char f[900];
		struct stat st;
		if (!queue_valid_id(e->d_name))
			continue;
		snprintf(f, sizeof(f), "%s/%s", p, e->d_name);
		if (stat(f, &st) == 0 && (mode == 0 || (int)(st.st_mode & 0777) == mode))
			n++;
	}
	closedir(d);
	return n;
}

static struct cleanup *
open_msg(const char *dir, const char *subject)
{
	struct cleanup_rcpt r[1] = { { "a@x.test", NULL, 0 } };
	char *err = NULL;
	struct cleanup *c = cleanup_open(dir, "s@z.test", r, 1, NULL, 0, NULL,
	    &err);

	T_OK(c != NULL);
	if (c != NULL) {
		cleanup_line(c, subject, strlen(subject), 1);
		cleanup_line(c, "", 0, 1);
		cleanup_line(c, "body", 4, 1);
	}
	return c;
}

static void *
refill_thread(void *arg)
{
	(void)arg;
	qwriter_pool_refill_bg();
	return NULL;
}

/* Write one message into a reserved file and finish it. */
static void
one_message(const char *dir, const char *subject)
{
	char *err = NULL;
	struct cleanup *c = open_msg(dir, subject);

	T_OK(c != NULL);
	if (c == NULL)
		return;
	T_INTEQ(cleanup_entry_durable(c), 1);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	cleanup_free(&c);
}

/* The background refill: due once the pool is down to a quarter (never
 * before its first use, never twice at a time); it adds a full pool's
 * worth of durable reserved files while the writer goes on taking them,
 * and a writer finding the pool empty waits for it. */
static void
test_reserve_pool_background(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", *err = NULL;
	unsigned long refills;
	pthread_t t;
	int i;

	T_OK(mkdtemp(dir) != NULL);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	qwriter_pool_init(dir, 4);
	T_INTEQ(qwriter_pool_refill_due(), 0);          /* never used yet */
	for (i = 0; i < 2; i++) {
		one_message(dir, "Subject: fill");
		T_INTEQ(qwriter_pool_refill_due(), 0);  /* 3, then 2 left */
	}
	one_message(dir, "Subject: third");
	T_INTEQ(qwriter_pool_size(&refills), 1);
	T_INTEQ(refills, 1);
	T_INTEQ(qwriter_pool_refill_due(), 1);          /* 1 of 4 left */
	T_INTEQ(qwriter_pool_refill_due(), 0);          /* one at a time */
	T_INTEQ(pthread_create(&t, NULL, refill_thread, NULL), 0);
	one_message(dir, "Subject: last reserved");
	one_message(dir, "Subject: waits for the refill, or after it");
	T_INTEQ(pthread_join(t, NULL), 0);
	T_INTEQ(qwriter_pool_size(&refills), 3);
	T_INTEQ(refills, 2);
	T_INTEQ(count_files(dir, "incoming", 0700), 5);
	T_INTEQ(count_files(dir, "incoming", 0600), 3);
	/* every reserved file is locked by this writer: not swept */
	T_INTEQ(queue_sweep_incoming(dir, 0), 0);
	qwriter_pool_release();
	T_INTEQ(count_files(dir, "incoming", 0600), 0);
	T_INTEQ(count_files(dir, "spare", 0600), 3);
	qwriter_pool_init(dir, 0);
	t_rmtree(dir);
}

/* The reservation pool: files claimed ahead in incoming/ (0600, locked),
 * used one per message with the real arrival time, given back to spare/
 * at release; a dead writer's leftovers are swept, a live writer's file
 * and reserved files of a live process are not. */
static void
test_reserve_pool(void)
{
	char dir[] = "/tmp/test-queue-XXXXXX", *err = NULL, path[600];
	struct cleanup *c;
	struct qfile qf;
	struct timeval t0;
	unsigned long refills;
	pid_t pid;
	int status;

	T_OK(mkdtemp(dir) != NULL);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	qwriter_pool_init(dir, 4);
	T_INTEQ(qwriter_pool_size(&refills), 0);        /* lazily */
	T_INTEQ(refills, 0);
	gettimeofday(&t0, NULL);
	c = open_msg(dir, "Subject: one");
	T_INTEQ(cleanup_entry_durable(c), 1);
	T_INTEQ(qwriter_pool_size(&refills), 3);
	T_INTEQ(refills, 1);
	T_INTEQ(count_files(dir, "incoming", 0600), 4);
	/* everything is owned by a live writer: nothing swept */
	T_INTEQ(queue_sweep_incoming(dir, 0), 0);
	T_INTEQ(count_files(dir, "incoming", 0600), 4);
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	cleanup_free(&c);
	T_INTEQ(count_files(dir, "incoming", 0700), 1);

	/* the arrival time is the message's, not the reservation's */
	usleep(1100 * 1000);
	c = open_msg(dir, "Subject: two");
	T_INTEQ(cleanup_entry_durable(c), 1);
	T_INTEQ(qwriter_pool_size(&refills), 2);
	T_INTEQ(refills, 1);                            /* no new refill */
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, cleanup_id(c));
	cleanup_free(&c);
	T_INTEQ(qfile_open(path, 0, &qf, &err), 0);
	T_OK(qf.arrival_us >= ((long long)t0.tv_sec + 1) * 1000000 +
	    t0.tv_usec);
	qfile_close(&qf);

	/* given back: the unused ones go to spare/ */
	qwriter_pool_release();
	T_INTEQ(qwriter_pool_size(NULL), 0);
	T_INTEQ(count_files(dir, "incoming", 0600), 0);
	T_INTEQ(count_files(dir, "incoming", 0700), 2);
	T_INTEQ(count_files(dir, "spare", 0600), 2);

	/* a writer that dies (no exit handlers, as after kill -9) with a
	 * half-written message and reserved files */
	pid = fork();
	if (pid == 0) {
		struct cleanup *cc;
		qwriter_pool_init(dir, 4);
		cc = open_msg(dir, "Subject: dying");
		(void)cc;
		_exit(qwriter_pool_size(NULL) == 3 ? 0 : 1);
	}
	T_OK(pid > 0);
	T_INTEQ(waitpid(pid, &status, 0), pid);
	T_OK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	T_INTEQ(count_files(dir, "incoming", 0600), 4);
	T_INTEQ(count_files(dir, "spare", 0), 0);       /* it took both */
	/* a live writer (its file locked) next to the leftovers */
	qwriter_pool_init(dir, 0);                      /* no pool here */
	c = open_msg(dir, "Subject: live");
	T_INTEQ(cleanup_entry_durable(c), 0);
	T_INTEQ(count_files(dir, "incoming", 0600), 5);
	/* too young for a sweep that skips recent files */
	T_INTEQ(queue_sweep_incoming(dir, 3600), 0);
	T_INTEQ(queue_sweep_incoming(dir, 0), 4);
	T_INTEQ(count_files(dir, "incoming", 0600), 1); /* the live one */
	T_INTEQ(cleanup_finish(c, 1, &err), 0);
	snprintf(path, sizeof(path), "%s/incoming/%s", dir, cleanup_id(c));
	cleanup_free(&c);
	T_INTEQ(qfile_open(path, 0, &qf, &err), 0);
	qfile_close(&qf);
	T_INTEQ(count_files(dir, "incoming", 0700), 3);
	/* finished files are never swept */
	T_INTEQ(queue_sweep_incoming(dir, 0), 0);
	T_INTEQ(count_files(dir, "incoming", 0700), 3);

	/* a spare file with a second name (a stale name back after a power
	 * failure) is never reused: the writer drops its claim */
	{
		char spare[600], other[600];
		c = open_msg(dir, "Subject: x");
		T_INTEQ(cleanup_finish(c, 1, &err), 0);
		snprintf(path, sizeof(path), "%s/incoming/%s", dir,
		    cleanup_id(c));
		snprintf(spare, sizeof(spare), "%s/spare/%s", dir,
		    cleanup_id(c));
		snprintf(other, sizeof(other), "%s/hold/%s", dir,
		    cleanup_id(c));
		cleanup_free(&c);
		T_INTEQ(link(path, other), 0);
		T_INTEQ(chmod(path, 0600), 0);
		T_INTEQ(rename(path, spare), 0);
		c = open_msg(dir, "Subject: y");
		T_INTEQ(cleanup_finish(c, 1, &err), 0);
		cleanup_free(&c);
		T_INTEQ(count_files(dir, "hold", 0600), 1);     /* untouched */
		T_INTEQ(qfile_open(other, 0, &qf, &err), -1);   /* (0600) */
		free(err);
		err = NULL;
	}
	t_rmtree(dir);
}

/* a maildrop file of these envelope records (then M:) in fd */
static int
maildrop_fd(const char *records)
{
	char path[] = "/tmp/test-maildrop-XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	T_OK(write(fd, MAILDROP_MAGIC, strlen(MAILDROP_MAGIC)) > 0);
	T_OK(write(fd, records, strlen(records)) == (ssize_t)strlen(records));
	T_OK(write(fd, "M:body\n", 7) == 7);
	return fd;
}

/* the envelope parameters (sendmail -N/-R/-V/-B/-SMTPUTF8, a quarantine
 * release): written, read back per recipient; bad values refused */
static void
test_maildrop_params(void)
{
	char dir[] = "/tmp/test-md-XXXXXX", *sub, *err = NULL;
	char *rcpts[] = { "a@x", "b@x", NULL }, *orcpt[] = { NULL, "rfc822;c@d" };
	int notify[] = { 1, 0 };
	struct maildrop md, rd;
	const char *why;
	DIR *d;
	struct dirent *e;
	int fd = -1;
	static const char *const bad[] = {
		"S0:\nN1:3\nR3:a@x\n",               /* NOTIFY never + success */
		"S0:\nN2:16\nR3:a@x\n",              /* unknown bit */
		"S0:\nN1:x\nR3:a@x\n",
		"S0:\nZ1:3\nR3:a@x\n",
		"S0:\nB6:BINARY\nR3:a@x\n",
		"S0:\nO5:a@b.c\nR3:a@x\n",           /* no type */
		"S0:\nO7:;a@b.cd\nR3:a@x\n",
		"S0:\nV0:\nR3:a@x\n",
	};

	T_OK(mkdtemp(dir) != NULL);
	sub = xasprintf("%s/maildrop", dir);
	T_INTEQ(queue_mkdirs(dir, &err), 0);
	memset(&md, 0, sizeof(md));
	md.sender = "s@x";
	md.rcpts = rcpts;
	md.nrcpt = 2;
	md.notify = notify;
	md.orcpt = orcpt;
	md.envid = "id+1";
	md.ret = 2;
	md.smtputf8 = 1;
	md.body_8bit = 1;
	T_INTEQ(maildrop_write(dir, &md, "Subject: x\n\nbody\n", 17, &err), 0);
	T_OK((d = opendir(sub)) != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			char *p = xasprintf("%s/%s", sub, e->d_name);
			fd = open(p, O_RDONLY);
			unlink(p);
			free(p);
		}
	closedir(d);
	T_OK(fd >= 0);
	T_INTEQ(maildrop_read(fd, &rd, &why), 0);
	close(fd);
	T_STREQ(rd.sender, "s@x");
	T_INTEQ(rd.nrcpt, 2);
	T_STREQ(rd.envid, "id+1");
	T_INTEQ(rd.ret, 2);
	T_INTEQ(rd.smtputf8, 1);
	T_INTEQ(rd.body_8bit, 1);
	T_INTEQ(rd.notify[0], 1);
	T_INTEQ(rd.notify[1], 0);
	T_OK(rd.orcpt[0] == NULL);
	T_STREQ(rd.orcpt[1], "rfc822;c@d");
	maildrop_free(&rd);
	/* a file of the first version: no parameters */
	fd = maildrop_fd("S3:s@x\nR3:a@x\n");
	T_INTEQ(maildrop_read(fd, &rd, &why), 0);
	T_OK(rd.envid == NULL && rd.ret == 0 && rd.notify[0] == 0 && rd.orcpt[0] == NULL);
	maildrop_free(&rd);
	close(fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = maildrop_fd(bad[i]);
		T_INTEQ(maildrop_read(fd, &rd, &why), -1);
		T_STREQ(why, "bad envelope parameter");
		maildrop_free(&rd);
		close(fd);
	}
	free(sub);
	t_rmtree(dir);
}

int
main(void)
{
	char *err = NULL;

	config_load("/nonexistent", &err);
	T_RUN(test_checksum);
	T_RUN(test_roundtrip);
	T_RUN(test_huge_length);
	T_RUN(test_spare_reuse);
	T_RUN(test_reserve_pool);
	T_RUN(test_reserve_pool_background);
	T_RUN(test_maildrop_params);
	return t_done();
}
