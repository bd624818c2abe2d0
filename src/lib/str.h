/*
 * str.h - small string utilities: list splitting, trimming and the value
 * syntaxes of main.cf (booleans, times with units, sizes).
 */
#ifndef TEMPEST_STR_H
#define TEMPEST_STR_H

#include <stddef.h>

/* Separators of Postfix list values: comma and white space. */
#define STR_LIST_SEPS ", \t\r\n"

/* Split s at any of seps into a NULL-terminated array of fresh strings
 * (empty fields dropped).  *n_r (if not NULL) gets the count. */
char **str_split(const char *s, const char *seps, size_t *n_r);
void str_split_free(char ***list);
/* Trim leading/trailing ASCII white space in place; returns s+skip. */
char *str_trim(char *s);
void str_lower(char *s);
/* Replace control characters (below 0x20, and DEL) with '?' in place:
 * for peer-supplied text bound for logs and mail headers, where a bare
 * CR or LF would start a new line. */
void str_mask_controls(char *s);
/* The value of a hex digit (either case), or -1. */
int str_hexval(int c);
int str_prefix_ci(const char *s, const char *prefix);
int str_suffix_ci(const char *s, const char *suffix);
/* "yes"/"no" (and true/false, 1/0): 0 on success, -1 otherwise. */
int str_parse_bool(const char *s, int *r);
/* Non-negative decimal integer fitting in long long: 0 or -1. */
int str_parse_ll(const char *s, long long *r);
/* Postfix time value: number with optional unit s/m/h/d/w; a bare number
 * uses default_unit.  Result in seconds. 0 or -1. */
int str_parse_time(const char *s, char default_unit, long long *r);

#endif
