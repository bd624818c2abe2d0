/*
 * pickup.c - moves local submissions from maildrop/ into the queue
 * through cleanup, as Postfix's pickup does.  Every maildrop file was
 * written by an arbitrary local user: the envelope is re-parsed with
 * bounds (maildrop.c), addresses re-checked with the SMTP path parser,
 * the submitting uid is taken from the file owner, never its contents.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "mem.h"
#include "queue_file.h"
#include "roles.h"
#include "resolve.h"
#include "service.h"
#include "smtp_parse.h"

#define PICKUP_LINE_MAX 2048

static void
pickup_file(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *err = NULL, *received;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	struct maildrop md;
	const char *why = NULL;
	struct cleanup_rcpt *r = NULL;
	struct cleanup *c = NULL;
	char *attrs[5];
	size_t i, na;

	if (fd < 0)
		goto out;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 0777) != 0644) {
		/* still being written (0600), or not ours to take */
		if (S_ISREG(st.st_mode) && time(NULL) - st.st_mtime > 86400) {
			log_warn("removing stale maildrop file %s", name);
			unlink(path);
		}
		goto out;
	}
	if (maildrop_read(fd, &md, &why) < 0) {
		log_warn("uid=%ld: discarding maildrop file %s: %s",
		    (long)st.st_uid, name, why);
		maildrop_free(&md);
		unlink(path);
		goto out;
	}
	r = xcalloc(md.nrcpt + 1, sizeof(*r));
	for (i = 0; i < md.nrcpt; i++) {
		struct smtp_path p;
		const char *perr;
		smtp_path_init(&p);
		if (smtp_parse_address(md.rcpts[i], SMTP_PATH_ALLOW_UTF8, &p,
		    &perr) < 0) {
			log_warn("uid=%ld: discarding maildrop file %s: bad "
			    "recipient", (long)st.st_uid, name);
			smtp_path_free(&p);
			maildrop_free(&md);
			unlink(path);
			goto out;
		}
		smtp_path_free(&p);
		r[i].addr = md.rcpts[i];
		r[i].orcpt = md.orcpt[i];
		r[i].notify = md.notify[i];
	}
	na = 0;
	attrs[na++] = xasprintf("uid=%ld", (long)st.st_uid);
	attrs[na++] = xstrdup("protocol=local");
	if (md.smtputf8)
		attrs[na++] = xstrdup("smtputf8=yes");
	if (md.body_8bit)
		attrs[na++] = xstrdup("body=8BITMIME");
	attrs[na] = NULL;
	c = cleanup_open(service_queue_dir(), md.sender, r, md.nrcpt, md.envid,
	    md.ret, attrs, &err);
	for (i = 0; i < na; i++)
		free(attrs[i]);
	if (c == NULL) {
		log_warn("maildrop file %s: %s", name, err);
		if (err[0] == '5')
			unlink(path);
		free(err);
		maildrop_free(&md);
		goto out;
	}
	{
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		received = xasprintf("Received: by %s (%s, from userid %ld)\n"
		    "\tid %s; %s", config_str("myhostname"),
		    config_str("mail_name"), (long)st.st_uid, cleanup_id(c), date);
		cleanup_received(c, received);
		free(received);
	}
	{
		FILE *fp = fdopen(dup(fd), "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		if (fp == NULL || fseeko(fp, md.content_off, SEEK_SET) < 0) {
			log_warn("maildrop file %s: cannot read", name);
			if (fp != NULL)
				fclose(fp);
			cleanup_abort(&c);
			maildrop_free(&md);
			goto out;
		}
		while ((len = getline(&line, &cap, fp)) >= 0) {
			int eol = len > 0 && line[len - 1] == '\n';
			size_t n = (size_t)len - (size_t)eol, o = 0;
			while (n - o > PICKUP_LINE_MAX) {
				cleanup_line(c, line + o, PICKUP_LINE_MAX, 0);
				o += PICKUP_LINE_MAX;
			}
			cleanup_line(c, line + o, n - o, eol);
		}
		free(line);
		fclose(fp);
	}
	if (cleanup_finish(c, 1, &err) < 0 ||
	    queue_fsync_dir(service_queue_dir(), QUEUE_INCOMING) < 0) {
		log_warn("maildrop file %s: %s", name, err ? err : strerror(errno));
		free(err);
		cleanup_abort(&c);
		maildrop_free(&md);
		goto out;
	}
	log_info("%s: uid=%ld from=<%s>", cleanup_id(c), (long)st.st_uid,
	    md.sender);
	cleanup_free(&c);
	maildrop_free(&md);
	unlink(path);
	service_trigger_wake("qmgr");
out:
	free(r);
	if (fd >= 0)
		close(fd);
	free(path);
}

static void
scan(void *arg)
{
	char *dir = xasprintf("%s/%s", service_queue_dir(), QUEUE_MAILDROP);
	DIR *d = opendir(dir);
	struct dirent *e;

	(void)arg;
	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				pickup_file(dir, e->d_name);
		closedir(d);
	}
	free(dir);
}

static void
on_trigger(void *arg, const char *data, size_t len)
{
	(void)data;
	(void)len;
	scan(arg);
}

int
pickup_main(int argc, char **argv)
{
	service_init(argc, argv, "pickup");
	resolve_init();         /* tables open before a chroot */
	service_drop_privileges();
	scan(NULL);
	service_triggers(on_trigger, NULL);
	service_wakeup(scan, NULL, 0);
	return service_run();
}
