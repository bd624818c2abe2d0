/*
 * mail_header.c - header block splitting and unfolding (see
 * mail_header.h).  Untrusted input: any header block of any message or
 * MIME part; every scan is bounded by the length given.
 */
#include <string.h>
#include <strings.h>

#include "mail_header.h"

static size_t
line_end(const char *s, size_t n, size_t i)
{
	const char *nl = memchr(s + i, '\n', n - i);

	return nl != NULL ? (size_t)(nl - s) + 1 : n;
}

static int
empty_line(const char *s, size_t n, size_t i)
{
	return s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n');
}

static unsigned
is_long(size_t a, size_t b)
{
	return b - a > 999;
}

int
mail_field_is_body_line(const char *s, const struct mail_field *f)
{
	return f->name_len == 0 && s[f->start] != ' ' && s[f->start] != '\t';
}

size_t
mail_mbox_from_len(const char *s, size_t n)
{
	const char *nl;

	if (n < 5 || memcmp(s, "From ", 5) != 0)
		return 0;
	nl = memchr(s, '\n', n);
	return nl != NULL ? (size_t)(nl - s) + 1 : n;
}

int
mail_header_next(const char *s, size_t n, size_t *pos, struct mail_field *f)
{
	size_t i = *pos, e, colon, ne;

	if (i >= n)
		return 0;
	if (empty_line(s, n, i)) {
		*pos = line_end(s, n, i);
		return 0;
	}
	e = line_end(s, n, i);
	memset(f, 0, sizeof(*f));
	f->start = i;
	f->long_lines = is_long(i, e);
	f->end = f->value = f->value_end = e;
	*pos = e;
	if (s[i] == ' ' || s[i] == '\t')        /* no field to continue */
		return 1;
	for (colon = i; colon < e && s[colon] != ':' && s[colon] != ' ' &&
	    s[colon] != '\t' && s[colon] != '\n'; colon++)
		;
	ne = colon;
	while (colon < e && (s[colon] == ' ' || s[colon] == '\t'))
		colon++;                        /* "Subject : x" (obsolete) */
	if (colon >= e || s[colon] != ':' || ne == i)
		return 1;
	while (e < n && (s[e] == ' ' || s[e] == '\t')) {
		size_t e2 = line_end(s, n, e);
		f->long_lines += is_long(e, e2);
		e = e2;
	}
	f->name_len = ne - i;
	f->end = *pos = e;
	f->value = colon + 1;
	while (f->value < e && (s[f->value] == ' ' || s[f->value] == '\t'))
		f->value++;
	f->value_end = e;
	while (f->value_end > f->value &&
	    (s[f->value_end - 1] == '\n' || s[f->value_end - 1] == '\r'))
		f->value_end--;
	return 1;
}

size_t
mail_header_end(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (empty_line(s, n, i))
			return line_end(s, n, i);
		i = line_end(s, n, i);
	}
	return n;
}

int
mail_append_some(struct buf *out, const char *s, size_t n)
{
	size_t room = out->max - out->len;

	if (n <= room)
		return buf_append(out, s, n);
	(void)buf_append(out, s, room);
	return -1;
}

int
mail_unfold(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '\r' && s[j] != '\n')
			j++;
		if (j > i && mail_append_some(out, s + i, j - i) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}

void
mail_field_value(const char *hdr, const struct mail_field *f,
    struct buf *value)
{
	size_t l;

	buf_reset(value);
	(void)mail_unfold(hdr + f->value, f->value_end - f->value, value);
	l = value->len;
	while (l > 0 && (value->data[l - 1] == ' ' || value->data[l - 1] == '\t'))
		l--;
	buf_truncate(value, l);
}

int
mail_header_get(const char *hdr, size_t len, const char *name,
    struct buf *value)
{
	size_t pos = 0, nlen = strlen(name);
	struct mail_field f;

	buf_reset(value);
	while (mail_header_next(hdr, len, &pos, &f))
		if (f.name_len == nlen && strncasecmp(hdr + f.start, name, nlen) == 0) {
			mail_field_value(hdr, &f, value);
			return 0;
		}
	return -1;
}
