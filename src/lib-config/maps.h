/*
 * maps.h - Postfix-style lookup tables ("type:name").
 *
 * Types: texthash:/file and hash:/file (the "key value" source text,
 * re-read when it changes; Tempest needs no postmap step; a hash: table
 * compiled by `tempest newaliases` into /file.db, an SQLite table
 * map(key COLLATE NOCASE, value), is read instead while it exists),
 * inline:{k=v,..},
 * static:value, passwd-file:/file (Dovecot-style user table: key = first
 * field, value = home field), unix:passwd.byname (system users), and
 * proxy:X (the same as X).  Keys are compared case-insensitively.
 *
 * A table file that cannot be read (missing, a directory, unreadable,
 * a read error) is a temporary error, never an empty table: lookups
 * return -1 until it can be read again, and callers turn that into
 * Postfix's answers (smtpd 451 4.3.0, deferred delivery).  The table is
 * named in the log ("table hash:/x is unavailable: open /x: ...").
 *
 * Changes: a process that can see the file re-reads it in place when its
 * identity, size or times change (checked at most once a second; a key
 * not found re-checks the file unless it was checked less than 1 ms ago,
 * doc/tables.md).  A
 * chrooted process cannot: maps_prepare_chroot() (called by the service
 * skeleton just before chroot(2)) keeps every table file open, copies
 * the system users for unix:passwd.byname and opens compiled hash:
 * databases; from then on nothing is read by name, and maps_changed()
 * reports a table whose open file changed (fstat: replaced, removed or
 * written) or that failed a lookup, so the process can exit between
 * sessions and master starts a fresh one that opens the tables again
 * outside the chroot (Postfix's "table X has changed -- restarting").
 */
#ifndef TEMPEST_MAPS_H
#define TEMPEST_MAPS_H

struct map;
struct maplist;

/* Open one table; NULL with *error_r for an unknown type or bad syntax. */
struct map *map_open(const char *spec, char **error_r);
void map_free(struct map **m);
/* 1 found (*value_r valid until the next lookup on m), 0 not found,
 * -1 temporary error. */
int map_lookup(struct map *m, const char *key, const char **value_r);

/* A list of tables (a parameter value), searched in order. */
struct maplist *maplist_open(const char *value, char **error_r);
void maplist_free(struct maplist **ml);
int maplist_lookup(struct maplist *ml, const char *key, const char **value_r);
int maplist_empty(const struct maplist *ml);

/* Just before chroot(2): make every open table usable without its path
 * (see above).  Tables opened afterwards are unavailable (a bug). */
void maps_prepare_chroot(void);
/* In a chrooted process: the "type:name" of the first table that changed
 * on disk since it was loaded (*unavailable_r = 0) or that is unavailable
 * and failed a lookup (*unavailable_r = 1); NULL when none (always NULL
 * in a process that re-reads its tables in place).  Cheap: one fstat()
 * per table file. */
const char *maps_changed(int *unavailable_r);

#endif
