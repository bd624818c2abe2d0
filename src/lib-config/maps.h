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

#endif
