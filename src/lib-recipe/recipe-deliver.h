/*
 * recipe-deliver.h - folder delivery and lockfiles (lib-recipe internal).
 */
#ifndef TEMPEST_RECIPE_DELIVER_H
#define TEMPEST_RECIPE_DELIVER_H

#include <stddef.h>

enum ftype { FT_FILE, FT_MAILDIR, FT_MH, FT_DIR };

/* Folder type of a (expanded) name; *dir_r gets the directory for the
 * directory types (malloc'ed) or NULL. */
enum ftype rc_folder_type(const char *name, char **dir_r);
/*
 * Deliver data to names[0], hard-linking into names[1..] (directory
 * folders only, as procmail).  data is procmail's in-memory message (or
 * the selected part); tail_nl: its last byte is the newline procmail
 * added, which Maildir leaves out (as the From_ line); raw: no >From
 * quoting in mbox.  *shown_r: the file name(s) for LASTFOLDER.
 */
int rc_deliver(const char *const *names, size_t n, const char *data,
    size_t len, int tail_nl, int raw, const char *msgprefix, char **shown_r,
    char **error_r);
/* procmail-style lockfile: 0, or -1 with *error_r. */
int rc_lock_create(const char *path, int timeout_s, char **error_r);
void rc_lock_remove(const char *path);

#endif
