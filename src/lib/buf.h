/*
 * buf.h - the one bounded, binary-safe buffer type.
 *
 * Every byte that arrives from the network is stored in a struct buf whose
 * `max` is the hard limit for that use.  Appends that would exceed `max`
 * append nothing and return -1, so callers turn an oversize input into a
 * protocol error instead of unbounded growth.  The data is always followed
 * by a NUL byte (not counted in len) so it can be used as a C string when
 * it holds no NULs.
 */
#ifndef TEMPEST_BUF_H
#define TEMPEST_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char *data;     /* NULL until the first append */
	size_t len;     /* bytes in use */
	size_t cap;     /* bytes allocated (always > len once allocated) */
	size_t max;     /* hard limit on len */
};

#define BUF_UNLIMITED ((size_t)-1 / 2)

/* Initialise an empty buffer whose length may never exceed max. */
void buf_init(struct buf *b, size_t max);
/* Release the storage; the buffer may be reused after buf_init(). */
void buf_free(struct buf *b);
/* Forget the contents, keep the storage. */
void buf_reset(struct buf *b);
/* Append n bytes; returns 0, or -1 (nothing appended) if max would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appends(struct buf *b, const char *s);
int buf_appendc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append n bytes as 2n lowercase hex digits; 0, or -1 (nothing
 * appended) if max would be exceeded. */
int buf_append_hex(struct buf *b, const void *p, size_t n);
/* Append the bytes that the n hex digits at s (either case) stand for;
 * -1 (nothing appended) on an odd n, a character that is not a hex
 * digit, or when max would be exceeded. */
int buf_append_unhex(struct buf *b, const char *s, size_t n);
/* Replace the contents with s. */
int buf_set(struct buf *b, const char *s);
/* Remove the first n bytes (n is clamped to len). */
void buf_consume(struct buf *b, size_t n);
/* Shorten to n bytes (no-op if n >= len). */
void buf_truncate(struct buf *b, size_t n);
/* The contents as a NUL-terminated string ("" when empty). */
const char *buf_cstr(const struct buf *b);
/* Take ownership of the storage as a malloc'ed NUL-terminated string. */
char *buf_steal(struct buf *b);

#endif
