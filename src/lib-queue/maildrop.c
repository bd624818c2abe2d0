/*
 * maildrop.c - maildrop envelope reader.  Hostile input: lengths are
 * capped at MAILDROP_FIELD_MAX, recipients at MAILDROP_RCPT_MAX, and no
 * field may contain NUL, CR, LF or TAB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "maildrop.h"
#include "mem.h"
#include "smtp_parse.h"

int
maildrop_envid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 100)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

int
maildrop_notify_ok(int notify)
{
	int all = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY;

	return notify == DSN_NOTIFY_NEVER || (notify > 0 && (notify & ~all) == 0);
}

int
maildrop_orcpt_ok(const char *s)
{
	const char *semi = strchr(s, ';');

	if (semi == NULL || semi == s || semi[1] == '\0' || strlen(s) > SMTP_PATH_MAX)
		return 0;
	for (const char *p = s; p < semi; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int
getbyte(int fd, off_t *pos)
{
	unsigned char c;

	if (pread(fd, &c, 1, *pos) != 1)
		return -1;
	(*pos)++;
	return c;
}

int
maildrop_read(int fd, struct maildrop *md, const char **error_r)
{
	char magic[sizeof(MAILDROP_MAGIC)];
	off_t pos = (off_t)strlen(MAILDROP_MAGIC);
	int next_notify = 0;    /* N and O of the next R */
	char *next_orcpt = NULL;
	char *data;

	memset(md, 0, sizeof(*md));
	md->rcpts = xcalloc(1, sizeof(char *));
	if (pread(fd, magic, strlen(MAILDROP_MAGIC), 0) !=
	    (ssize_t)strlen(MAILDROP_MAGIC) ||
	    memcmp(magic, MAILDROP_MAGIC, strlen(MAILDROP_MAGIC)) != 0) {
		*error_r = "bad maildrop file header";
		return -1;
	}
	for (;;) {
		int type = getbyte(fd, &pos), c, digits = 0;
		size_t len = 0, i;

		if (type < 0) {
			free(next_orcpt);
			*error_r = "maildrop file has no message";
			return -1;
		}
		if (type == 'M') {
			if (getbyte(fd, &pos) != ':') {
				free(next_orcpt);
				*error_r = "bad message record";
				return -1;
			}
			md->content_off = pos;
			break;
		}
		while ((c = getbyte(fd, &pos)) >= '0' && c <= '9' && digits < 6) {
			len = len * 10 + (size_t)(c - '0');
			digits++;
		}
		if (c != ':' || digits == 0 || len > MAILDROP_FIELD_MAX) {
			free(next_orcpt);
			*error_r = "bad record length";
			return -1;
		}
		data = xmalloc(len + 1);
		if (pread(fd, data, len, pos) != (ssize_t)len) {
			free(data);
			free(next_orcpt);
			*error_r = "truncated record";
			return -1;
		}
		data[len] = '\0';
		pos += (off_t)len;
		for (i = 0; i < len; i++)
			if (data[i] == '\0' || data[i] == '\r' || data[i] == '\n' ||
			    data[i] == '\t')
				break;
		if (i < len || getbyte(fd, &pos) != '\n') {
			free(data);
			free(next_orcpt);
			*error_r = "bad record content";
			return -1;
		}
		switch (type) {
		case 'V':
			if (!maildrop_envid_ok(data))
				goto bad_param;
			free(md->envid);
			md->envid = data;
			break;
		case 'Z':
			if (strcmp(data, "1") != 0 && strcmp(data, "2") != 0)
				goto bad_param;
			md->ret = data[0] - '0';
			free(data);
			break;
		case 'U':
			md->smtputf8 = 1;
			free(data);
			break;
		case 'B':
			if (strcmp(data, "8BITMIME") != 0 && strcmp(data, "7BIT") != 0)
				goto bad_param;
			md->body_8bit = data[0] == '8';
			free(data);
			break;
		case 'N':
			next_notify = 0;
			for (i = 0; i < len && i < 3 && data[i] >= '0' && data[i] <= '9'; i++)
				next_notify = next_notify * 10 + (data[i] - '0');
			if (i == 0 || i < len || !maildrop_notify_ok(next_notify))
				goto bad_param;
			free(data);
			break;
		case 'O':
			if (!maildrop_orcpt_ok(data))
				goto bad_param;
			free(next_orcpt);
			next_orcpt = data;
			break;
		case 'S':
			free(md->sender);
			md->sender = data;
			break;
		case 'F':
			free(md->fullname);
			md->fullname = data;
			break;
		case 'R':
			if (md->nrcpt >= MAILDROP_RCPT_MAX) {
				free(data);
				free(next_orcpt);
				*error_r = "too many recipients";
				return -1;
			}
			md->rcpts = xreallocarray(md->rcpts, md->nrcpt + 2,
			    sizeof(char *));
			md->notify = xreallocarray(md->notify, md->nrcpt + 1,
			    sizeof(*md->notify));
			md->orcpt = xreallocarray(md->orcpt, md->nrcpt + 1,
			    sizeof(*md->orcpt));
			md->notify[md->nrcpt] = next_notify;
			md->orcpt[md->nrcpt] = next_orcpt;
			next_notify = 0;
			next_orcpt = NULL;
			md->rcpts[md->nrcpt++] = data;
			md->rcpts[md->nrcpt] = NULL;
			break;
		default:
			free(data);
			break;
		}
	}
	free(next_orcpt);
	if (md->sender == NULL) {
		*error_r = "no sender";
		return -1;
	}
	return 0;
bad_param:
	free(data);
	free(next_orcpt);
	*error_r = "bad envelope parameter";
	return -1;
}

void
maildrop_free(struct maildrop *md)
{
	size_t i;

	free(md->sender);
	free(md->fullname);
	free(md->envid);
	for (i = 0; i < md->nrcpt; i++) {
		free(md->rcpts[i]);
		if (md->orcpt != NULL)
			free(md->orcpt[i]);
	}
	free(md->rcpts);
	free(md->notify);
	free(md->orcpt);
	memset(md, 0, sizeof(*md));
}

static void
record(struct buf *b, char type, const char *data)
{
	(void)buf_printf(b, "%c%zu:%s\n", type, strlen(data), data);
}

int
maildrop_write(const char *qdir, const struct maildrop *md,
    const char *content, size_t len, char **error_r)
{
	struct buf env;
	unsigned char rnd[8];
	char *dir, *path;
	size_t i;
	int fd, ret = -1;

	buf_init(&env, BUF_UNLIMITED);
	buf_appends(&env, MAILDROP_MAGIC);
	record(&env, 'S', md->sender);
	if (md->fullname != NULL)
		record(&env, 'F', md->fullname);
	if (md->envid != NULL)
		record(&env, 'V', md->envid);
	if (md->ret)
		record(&env, 'Z', md->ret == 2 ? "2" : "1");
	if (md->smtputf8)
		record(&env, 'U', "1");
	if (md->body_8bit)
		record(&env, 'B', "8BITMIME");
	for (i = 0; i < md->nrcpt; i++) {
		if (md->notify != NULL && md->notify[i] != 0) {
			char n[16];
			snprintf(n, sizeof(n), "%d", md->notify[i]);
			record(&env, 'N', n);
		}
		if (md->orcpt != NULL && md->orcpt[i] != NULL)
			record(&env, 'O', md->orcpt[i]);
		record(&env, 'R', md->rcpts[i]);
	}
	buf_appends(&env, "M:");
	dir = xasprintf("%s/%s", qdir, "maildrop");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		*error_r = xasprintf("no randomness: %s", strerror(errno));
		free(dir);
		buf_free(&env);
		return -1;
	}
	path = xasprintf("%s/%02X%02X%02X%02X%02X%02X%02X%02X", dir, rnd[0],
	    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("create %s: %s", path, strerror(errno));
	} else if (fd_write_all(fd, env.data, env.len) < 0 ||
	    fd_write_all(fd, content, len) < 0 ||
	    fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
		*error_r = xasprintf("write %s: %s", path, strerror(errno));
		unlink(path);
	} else
		ret = 0;
	if (fd >= 0)
		close(fd);
	if (ret == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(path);
	free(dir);
	buf_free(&env);
	return ret;
}
