/*
 * table_compile.h - a hash: table's text compiled into TEXT.db, the
 * SQLite table map(key COLLATE NOCASE, value) that maps.c reads in its
 * place while it exists (newaliases.c).
 */
#ifndef TEMPEST_TABLE_COMPILE_H
#define TEMPEST_TABLE_COMPILE_H

/* Compile src into src.db, replacing it atomically: aliases(5) syntax
 * ("name: value") when aliases, else postmap's "key value".  Problems
 * are said on stderr; 0, or -1 when nothing was replaced. */
int table_compile(const char *src, int aliases);

#endif
