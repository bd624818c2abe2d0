/*
 * spam_cmd.h - helpers shared by `tempest spamc`, `tempest learn` and
 * `tempest quarantine`: configuration, reading messages (stdin, files,
 * directories, Maildirs, mbox files) with a size bound.
 */
#ifndef TEMPEST_SPAM_CMD_H
#define TEMPEST_SPAM_CMD_H

#include <stddef.h>

#include "buf.h"

#define SPAM_CMD_MAX_MESSAGE (64 * 1024 * 1024)

/* Load main.cf from -c / $TEMPEST_CONFIG_DIR / the default directory;
 * a missing directory or file means built-in defaults. */
void spam_cmd_config(void);
/* Run by root on the instance's own SQLite store (db NULL: the
 * spam_database of main.cf) that does not exist yet: create the empty
 * database file owned by mail_owner, so that the filter, running as
 * that user, can write it (SQLite gives the -wal and -shm files the
 * database file's owner when root opens them).  With --db (a file the
 * administrator names) nothing changes. */
void spam_cmd_store_owner(const char *db);
/* Call fn for each message in path: a file (one message, or an mbox
 * when mbox is set), a directory (one message per regular file) or a
 * Maildir (cur/ and new/).  Only regular files are read, as checked on
 * the opened file (never blocking on a FIFO): another path is refused,
 * another entry of a directory skipped.  Returns the number of files
 * that could not be read and of mbox messages skipped as over
 * SPAM_CMD_MAX_MESSAGE (each reported on stderr). */
int spam_cmd_each_message(const char *path, int mbox,
    void (*fn)(const char *data, size_t len, const char *name, void *arg),
    void *arg);

#endif
