/*
 * postconf.c - tempest postconf: print parameters ([-n|-d] [-h] [name...])
 * or edit main.cf as Postfix's postconf does (-e name=value..., -X
 * name..., -# name...).  Run by whoever may write main.cf; the edit is
 * written to a new file beside it, synced and renamed over it, so a
 * daemon (re)reading main.cf sees the old or the new file, never half
 * of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fdio.h"
#include "mem.h"
#include "roles.h"
#include "str.h"

/* Larger than any main.cf; config.c reads logical lines of 1 MiB. */
#define MAIN_CF_MAX (16 * 1024 * 1024)

/* The whole of path into b; a missing file is empty.  0 or -1. */
static int
read_main_cf(const char *path, struct buf *b, struct stat *st, int *exists_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, e;

	*exists_r = fd >= 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	r = fstat(fd, st) < 0 ? -1 : fd_read_all(fd, b);
	e = errno;
	close(fd);
	errno = e;              /* for the caller's message */
	return r;
}

/* Replace path by text: a new file with the old one's owner and mode,
 * synced, renamed over it, the directory synced.  0 or -1. */
static int
replace_file(const char *path, const struct buf *text, const struct stat *st,
    int exists)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd, dfd, r = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (exists) {
		(void)!fchown(fd, st->st_uid, st->st_gid);
		(void)fchmod(fd, st->st_mode & 07777);
	}
	if (fd_write_all(fd, text->data, text->len) < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		goto out;
	}
	if (slash != NULL)
		*slash = '\0';
	dfd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	r = 0;
out:
	free(dir);
	free(tmp);
	return r;
}

/* postconf -e/-X/-#: the edits named by args (name=value for -e). */
static int
edit(enum config_edit_op op, int argc, char **argv)
{
	static const char *const opt[] = { "-e", "-X", "-#" };
	char *path = xasprintf("%s/main.cf", ctl_config_dir());
	struct config_edit *ed = xcalloc((size_t)argc + 1, sizeof(*ed));
	char **copies = xcalloc((size_t)argc + 1, sizeof(*copies));
	struct buf in, out;
	struct stat st;
	size_t n = 0;
	int exists, r = 1;

	buf_init(&in, MAIN_CF_MAX);
	buf_init(&out, MAIN_CF_MAX);
	if (argc == 0) {
		fprintf(stderr, "postconf: %s needs at least one %s\n", opt[op],
		    op == CONFIG_EDIT_SET ? "name=value" : "name");
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		char *name = copies[i] = xstrdup(argv[i]), *value = NULL;
		char *eq = strchr(name, '='), *err = NULL;
		int known;
		size_t j;

		if (op == CONFIG_EDIT_SET) {
			if (eq == NULL) {
				fprintf(stderr, "postconf: %s: missing '=' after "
				    "the parameter name\n", argv[i]);
				goto out;
			}
			*eq = '\0';
			value = str_trim(eq + 1);
		}
		name = str_trim(name);
		if (!config_edit_valid(name, value)) {
			fprintf(stderr, "postconf: %s: %s\n", argv[i],
			    value != NULL && strpbrk(value, "\r\n") != NULL ?
			    "a value is one line" : "bad parameter name");
			goto out;
		}
		if (value != NULL && config_check_value(name, value, &known, &err) < 0) {
			fprintf(stderr, "postconf: %s; main.cf not changed\n", err);
			free(err);
			goto out;
		}
		if (value != NULL && !known)
			fprintf(stderr, "postconf: warning: %s: unknown parameter "
			    "(written: only $%s uses it)\n", name, name);
		for (j = 0; j < n && strcmp(ed[j].name, name) != 0; j++)
			;
		ed[j].name = name;      /* a name given twice: the last wins */
		ed[j].value = value;
		if (j == n)
			n++;
	}
	if (read_main_cf(path, &in, &st, &exists) < 0) {
		fprintf(stderr, "postconf: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (config_edit_text(in.data != NULL ? (const char *)in.data : "", in.len,
	    op, ed, n, &out) < 0) {
		fprintf(stderr, "postconf: %s: too large to edit\n", path);
		goto out;
	}
	for (size_t j = 0; op != CONFIG_EDIT_SET && j < n; j++)
		if (ed[j].found == 0)
			fprintf(stderr, "postconf: warning: %s: not set in %s\n",
			    ed[j].name, path);
	if (op == CONFIG_EDIT_SET || in.len != out.len ||
	    (in.len > 0 && memcmp(in.data, out.data, in.len) != 0)) {
		if (replace_file(path, &out, &st, exists) < 0) {
			fprintf(stderr, "postconf: %s: %s\n", path, strerror(errno));
			goto out;
		}
	}
	r = 0;
out:
	for (int i = 0; i < argc; i++)
		free(copies[i]);
	free(copies);
	free(ed);
	buf_free(&in);
	buf_free(&out);
	free(path);
	return r;
}

int
postconf_main(int argc, char **argv)
{
	enum config_print what = CONFIG_PRINT_ALL;
	int values_only = 0, op = -1, c;
	char *err = NULL;

	optind = 1;
	while ((c = getopt(argc, argv, "ndhc:eX#")) != -1) {
		switch (c) {
		case 'n': what = CONFIG_PRINT_SET; break;
		case 'd': what = CONFIG_PRINT_DEFAULTS; break;
		case 'h': values_only = 1; break;
		case 'c': setenv("TEMPEST_CONFIG_DIR", optarg, 1); break;
		case 'e': op = CONFIG_EDIT_SET; break;
		case 'X': op = CONFIG_EDIT_REMOVE; break;
		case '#': op = CONFIG_EDIT_COMMENT; break;
		default:
			ctl_usage("postconf");
			return 2;
		}
	}
	if (op >= 0)
		return edit((enum config_edit_op)op, argc - optind, argv + optind);
	if (config_load(ctl_config_dir(), &err) < 0) {
		fprintf(stderr, "postconf: fatal: %s\n", err);
		return 1;
	}
	return config_print(stdout, what, values_only, argv + optind);
}
