/*
 * postqueue.c - the queue tools with Postfix's names: `tempest mailq` /
 * `postqueue -p` (listing with deferral reasons), `postqueue -j` (one
 * JSON object per message), `postqueue -f` (flush), and `postsuper -d
 * (delete), -h (hold), -H (release), -r (requeue) ID|ALL`.
 *
 * Input: command-line arguments of a local administrator, queue files
 * (parsed by lib-queue, which checks every length) and defer/ID logs
 * written by qmgr (printed with control characters escaped).
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "roles.h"
#include "service.h"
#include "str.h"

/* The queues a message can be in, in mailq order. */
static const char *const queues[] = {
	QUEUE_INCOMING, QUEUE_ACTIVE, QUEUE_DEFERRED, QUEUE_HOLD,
};

static const char *qdir;

static void
tool_init(void)
{
	config_load_or_die(ctl_config_dir());
	qdir = config_str("queue_directory");
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids in one queue directory, sorted. */
static char **
queue_ids(const char *queue, size_t *n_r)
{
	char *dir = xasprintf("%s/%s", qdir, queue);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;

	if (d == NULL && errno != ENOENT)
		fprintf(stderr, "tempest: %s: %s\n", dir, strerror(errno));
	free(dir);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (!queue_valid_id(e->d_name))
				continue;
			v = xreallocarray(v, n + 2, sizeof(*v));
			v[n++] = xstrdup(e->d_name);
			v[n] = NULL;
		}
		closedir(d);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), id_cmp);
	*n_r = n;
	return v;
}

/* The recorded deferral reason of rcpt (malloc'ed) or NULL. */
static char *
defer_reason(const char *id, const char *rcpt)
{
	char *path = xasprintf("%s/defer/%s", qdir, id), *line = NULL, *r = NULL;
	size_t cap = 0, n = strlen(rcpt);
	FILE *fp = fopen(path, "r");

	free(path);
	if (fp == NULL)
		return NULL;
	while (getline(&line, &cap, fp) > 0) {
		char *t;
		if (strncmp(line, rcpt, n) != 0 || line[n] != '\t')
			continue;
		t = strchr(line + n + 1, '\t');
		if (t == NULL)
			continue;
		t++;
		t[strcspn(t, "\n")] = '\0';
		/* drop the DSN code, as Postfix shows only the text */
		if (strchr(t, ' ') != NULL && t[1] == '.')
			t = strchr(t, ' ') + 1;
		r = xstrdup(t);
		break;
	}
	free(line);
	fclose(fp);
	return r;
}

/* Printable copy: control characters as '?'. */
static char *
clean(const char *s)
{
	char *r = xstrdup(s), *p;

	for (p = r; *p != '\0'; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
	return r;
}

static void
json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 32 || c == 127)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static int
list_queue(int json)
{
	size_t q, i, k, total = 0, nmsg = 0;

	for (q = 0; q < NELEM(queues); q++) {
		size_t n;
		char **ids = queue_ids(queues[q], &n);
		for (i = 0; i < n; i++) {
			char *path = xasprintf("%s/%s/%s", qdir, queues[q], ids[i]);
			char *err = NULL, date[64], *snd;
			struct qfile qf;
			time_t t;
			struct tm tm;
			if (qfile_open(path, 0, &qf, &err) < 0) {
				/* being written, or gone meanwhile */
				free(err);
				free(path);
				continue;
			}
			free(path);
			t = (time_t)(qf.arrival_us / 1000000);
			snd = clean(qf.sender);
			if (json) {
				const char *sep = "";
				printf("{\"queue_name\": ");
				json_str(stdout, queues[q]);
				printf(", \"queue_id\": ");
				json_str(stdout, qf.id);
				printf(", \"arrival_time\": %lld, \"message_size\": "
				    "%zu, \"forced_expire\": false, \"sender\": ",
				    (long long)t, qf.content_len);
				json_str(stdout, qf.sender);
				printf(", \"recipients\": [");
				for (k = 0; k < qf.nrcpt; k++) {
					char *why;
					if (qf.rcpts[k].done)
						continue;
					printf("%s{\"address\": ", sep);
					json_str(stdout, qf.rcpts[k].addr);
					why = defer_reason(qf.id, qf.rcpts[k].addr);
					if (why != NULL) {
						printf(", \"delay_reason\": ");
						json_str(stdout, why);
						free(why);
					}
					printf("}");
					sep = ", ";
				}
				printf("]}\n");
			} else {
				char *last = NULL;
				if (nmsg == 0)
					printf("-Queue ID-  --Size-- ----Arrival "
					    "Time---- -Sender/Recipient-------\n");
				localtime_r(&t, &tm);
				strftime(date, sizeof(date), "%a %b %e %H:%M:%S",
				    &tm);
				printf("%-12s%c%8zu %s  %s\n", qf.id,
				    strcmp(queues[q], QUEUE_ACTIVE) == 0 ? '*' :
				    strcmp(queues[q], QUEUE_HOLD) == 0 ? '!' : ' ',
				    qf.content_len, date,
				    *snd ? snd : "MAILER-DAEMON");
				for (k = 0; k < qf.nrcpt; k++) {
					char *why, *a;
					if (qf.rcpts[k].done)
						continue;
					why = defer_reason(qf.id, qf.rcpts[k].addr);
					if (why != NULL && (last == NULL ||
					    strcmp(last, why) != 0)) {
						char *c = clean(why);
						printf("(%s)\n", c);
						free(c);
					}
					free(last);
					last = why;
					a = clean(qf.rcpts[k].addr);
					printf("%42s %s\n", "", a);
					free(a);
				}
				free(last);
				printf("\n");
			}
			total += qf.content_len;
			nmsg++;
			free(snd);
			qfile_close(&qf);
		}
		str_split_free(&ids);
	}
	if (!json) {
		if (nmsg == 0)
			printf("Mail queue is empty\n");
		else
			printf("-- %zu Kbytes in %zu Request%s.\n",
			    (total + 1023) / 1024, nmsg, nmsg == 1 ? "" : "s");
	}
	return 0;
}

static int
flush(void)
{
	if (service_trigger_send("qmgr", "F", 1) < 0) {
		fprintf(stderr, "tempest: flush: cannot reach qmgr (is the mail "
		    "system running?): %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int
mailq_main(int argc, char **argv)
{
	int json = argc > 1 && strcmp(argv[1], "-j") == 0;

	if (argc > 1 && !json) {
		fprintf(stderr, "usage: tempest mailq [-j]\n");
		return 2;
	}
	tool_init();
	return list_queue(json);
}

int
postqueue_main(int argc, char **argv)
{
	int c, r = 0, did = 0;

	tool_init();
	optind = 1;
	while ((c = getopt(argc, argv, "c:pjf")) != -1) {
		switch (c) {
		case 'c':
			break;  /* the config dir is the global -c */
		case 'p':
			r |= list_queue(0);
			did = 1;
			break;
		case 'j':
			r |= list_queue(1);
			did = 1;
			break;
		case 'f':
			r |= flush();
			did = 1;
			break;
		default:
			did = 0;
			goto usage;
		}
	}
	if (did)
		return r;
usage:
	fprintf(stderr, "usage: tempest postqueue -p | -j | -f\n");
	return 2;
}

/* ---- postsuper ---- */

enum op { OP_DELETE, OP_HOLD, OP_RELEASE, OP_REQUEUE };

static void
remove_logs(const char *id)
{
	char *p = xasprintf("%s/defer/%s", qdir, id);

	(void)unlink(p);
	free(p);
	p = xasprintf("%s/defer/%s.warned", qdir, id);
	(void)unlink(p);
	free(p);
	p = xasprintf("%s/defer/%s.done", qdir, id);
	(void)unlink(p);
	free(p);
}

static int
move(const char *from, const char *id, const char *to, int touch)
{
	char *src = xasprintf("%s/%s/%s", qdir, from, id);
	char *dst = xasprintf("%s/%s/%s", qdir, to, id);
	int r = rename(src, dst);

	if (r == 0 && touch)
		(void)utimes(dst, NULL);        /* due now */
	if (r < 0 && errno != ENOENT)
		fprintf(stderr, "tempest: postsuper: %s: %s\n", src,
		    strerror(errno));
	free(src);
	free(dst);
	return r == 0;
}

/* Apply op to id in the queues it may be in; 1 if done. */
static int
apply(enum op op, const char *id)
{
	size_t q;

	switch (op) {
	case OP_DELETE:
		for (q = 0; q < NELEM(queues); q++) {
			char *p = xasprintf("%s/%s/%s", qdir, queues[q], id);
			int ok = unlink(p) == 0;
			free(p);
			if (ok) {
				remove_logs(id);
				printf("postsuper: %s: removed\n", id);
				return 1;
			}
		}
		return 0;
	case OP_HOLD:
		/* active messages belong to qmgr until it lets go of them */
		if (move(QUEUE_INCOMING, id, QUEUE_HOLD, 0) ||
		    move(QUEUE_DEFERRED, id, QUEUE_HOLD, 0)) {
			printf("postsuper: %s: placed on hold\n", id);
			return 1;
		}
		return 0;
	case OP_RELEASE:
		if (move(QUEUE_HOLD, id, QUEUE_DEFERRED, 1)) {
			printf("postsuper: %s: released from hold\n", id);
			return 1;
		}
		return 0;
	case OP_REQUEUE:
		if (move(QUEUE_DEFERRED, id, QUEUE_INCOMING, 1) ||
		    move(QUEUE_HOLD, id, QUEUE_INCOMING, 1)) {
			char *p = xasprintf("%s/defer/%s", qdir, id);
			(void)unlink(p);
			free(p);
			printf("postsuper: %s: requeued\n", id);
			return 1;
		}
		return 0;
	}
	return 0;
}

static int
postsuper_run(enum op op, const char *arg)
{
	size_t q, i, n, count = 0;
	static const char *const what[] = { "Deleted", "Placed on hold",
	    "Released from hold", "Requeued" };

	if (strcmp(arg, "ALL") == 0) {
		for (q = 0; q < NELEM(queues); q++) {
			char **ids;
			if (strcmp(queues[q], QUEUE_ACTIVE) == 0 &&
			    op != OP_DELETE)
				continue;
			ids = queue_ids(queues[q], &n);
			for (i = 0; i < n; i++)
				count += (size_t)apply(op, ids[i]);
			str_split_free(&ids);
		}
	} else if (!queue_valid_id(arg)) {
		fprintf(stderr, "tempest: postsuper: invalid queue id: %s\n", arg);
		return 1;
	} else if (!apply(op, arg)) {
		fprintf(stderr, "tempest: postsuper: %s: no such message%s\n",
		    arg, op == OP_HOLD ? " in incoming or deferred" : "");
		return 1;
	}
	else
		count = 1;
	printf("postsuper: %s: %zu message%s\n", what[op], count,
	    count == 1 ? "" : "s");
	if (count > 0 && op == OP_REQUEUE)
		(void)service_trigger_send("qmgr", "I", 1);
	if (count > 0 && op == OP_RELEASE)
		(void)service_trigger_send("qmgr", "D", 1);
	return 0;
}

int
postsuper_main(int argc, char **argv)
{
	int c, r = 0, did = 0;

	tool_init();
	optind = 1;
	while ((c = getopt(argc, argv, "c:d:h:H:r:")) != -1) {
		switch (c) {
		case 'c':
			break;
		case 'd':
			r |= postsuper_run(OP_DELETE, optarg);
			did = 1;
			break;
		case 'h':
			r |= postsuper_run(OP_HOLD, optarg);
			did = 1;
			break;
		case 'H':
			r |= postsuper_run(OP_RELEASE, optarg);
			did = 1;
			break;
		case 'r':
			r |= postsuper_run(OP_REQUEUE, optarg);
			did = 1;
			break;
		default:
			goto usage;
		}
	}
	if (did)
		return r;
usage:
	fprintf(stderr, "usage: tempest postsuper [-d ID|ALL] [-h ID|ALL] "
	    "[-H ID|ALL] [-r ID|ALL]\n");
	return 2;
}
