/*
 * maildrop.h - the file format of local submissions (queue_directory/
 * maildrop/), written by `tempest sendmail` (any local user) and read by
 * the pickup service (doc/queue-format.md).
 *
 *   "TEMPEST-MAILDROP 1\n"
 *   records "<type><length>:<data>\n": S sender, R recipient (repeated),
 *   F full name (optional), then M with the message up to end of file
 *   (LF line ends).
 * A file is complete when its mode is 0644 (written as 0600).  The reader
 * treats the file as hostile: the submitting user controls every byte.
 */
#ifndef TEMPEST_MAILDROP_H
#define TEMPEST_MAILDROP_H

#include <stddef.h>
#include <sys/types.h>

#define MAILDROP_MAGIC "TEMPEST-MAILDROP 1\n"
#define MAILDROP_RCPT_MAX 1000
#define MAILDROP_FIELD_MAX 1024

struct maildrop {
	char *sender;
	char *fullname;
	char **rcpts;           /* NULL-terminated */
	size_t nrcpt;
	off_t content_off;      /* message starts here, runs to EOF */
};

/* Parse the envelope of an open maildrop file.  0, or -1 with a static
 * reason in *error_r. */
int maildrop_read(int fd, struct maildrop *md, const char **error_r);
void maildrop_free(struct maildrop *md);

#endif
