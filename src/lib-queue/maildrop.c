/*
 * maildrop.c - maildrop envelope reader.  Hostile input: lengths are
 * capped at MAILDROP_FIELD_MAX, recipients at MAILDROP_RCPT_MAX, and no
 * field may contain NUL, CR, LF or TAB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildrop.h"
#include "mem.h"

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
		char *data;

		if (type < 0) {
			*error_r = "maildrop file has no message";
			return -1;
		}
		if (type == 'M') {
			if (getbyte(fd, &pos) != ':') {
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
			*error_r = "bad record length";
			return -1;
		}
		data = xmalloc(len + 1);
		if (pread(fd, data, len, pos) != (ssize_t)len) {
			free(data);
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
			*error_r = "bad record content";
			return -1;
		}
		switch (type) {
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
				*error_r = "too many recipients";
				return -1;
			}
			md->rcpts = xreallocarray(md->rcpts, md->nrcpt + 2,
			    sizeof(char *));
			md->rcpts[md->nrcpt++] = data;
			md->rcpts[md->nrcpt] = NULL;
			break;
		default:
			free(data);
			break;
		}
	}
	if (md->sender == NULL) {
		*error_r = "no sender";
		return -1;
	}
	return 0;
}

void
maildrop_free(struct maildrop *md)
{
	size_t i;

	free(md->sender);
	free(md->fullname);
	for (i = 0; i < md->nrcpt; i++)
		free(md->rcpts[i]);
	free(md->rcpts);
	memset(md, 0, sizeof(*md));
}
