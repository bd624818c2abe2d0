/*
 * uri_extract.c - URIs found in message text and HTML attributes,
 * canonicalised for `uri` rules and Bayes tokens.  Input: untrusted
 * decoded text; each URI is capped at URI_MAX bytes, the list at l->max.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "buf.h"
#include "dl.h"
#include "log.h"
#include "mem.h"
#include "mime.h"
#include "uri.h"

static int
hexv(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/* Rewrite a numeric host (decimal 3232235777, hex 0xc0a80101, dotted with
 * octal/hex parts, fewer than four parts as in 127.1) as a dotted quad;
 * 0 if it is not numeric, 1 if it was already a plain dotted quad (four
 * decimal parts without leading zeros), 2 if it was written any other way. */
static int
numeric_host(char *host, size_t cap)
{
	unsigned long long parts[4];
	int np = 0, plain = 1;
	char *p = host;

	if (*p == '\0')
		return 0;
	while (*p && np < 4) {
		char *end;
		unsigned long long v;
		if (!isdigit((unsigned char)*p))
			return 0;
		if (p[0] == '0' && isalnum((unsigned char)p[1]))
			plain = 0;      /* octal 0300 or hex 0xc0 */
		v = strtoull(p, &end, 0);
		if (end == p)
			return 0;
		parts[np++] = v;
		p = end;
		if (*p == '.')
			p++;
		else if (*p != '\0')
			return 0;
	}
	if (*p != '\0' || np == 0)
		return 0;
	unsigned long long addr = 0;
	for (int i = 0; i < np - 1; i++) {
		if (parts[i] > 255)
			return 0;
		addr = (addr << 8) | parts[i];
	}
	if (parts[np - 1] >= (1ULL << (8 * (5 - np))))
		return 0;
	addr = (addr << (8 * (5 - np))) | parts[np - 1];
	snprintf(host, cap, "%llu.%llu.%llu.%llu", (addr >> 24) & 255,
	    (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
	return plain && np == 4 ? 1 : 2;
}

/* u added to l (taken over) unless there; hide: uri_list.hide (a form
 * found again shown wins); l->cur: the text URI adding it (uri_list.grp;
 * a form found again outside the text is always seen) */
static void
list_push_hide(struct uri_list *l, char *u, int hide)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], u) == 0) {
			if (!hide && l->hide != NULL)
				l->hide[i] = 0;
			if (l->cur == 0 && l->grp != NULL)
				l->grp[i] = 0;
			free(u);
			return;
		}
	if (l->n >= l->max) {
		free(u);
		return;
	}
	if (hide && l->hide == NULL)
		l->hide = xcalloc(l->max > 0 ? l->max : 1, 1);
	if (l->cur != 0 && l->grp == NULL)
		l->grp = xcalloc(l->max > 0 ? l->max : 1, sizeof(*l->grp));
	l->v = xgrowarray(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	if (l->hide != NULL)
		l->hide[l->n] = (unsigned char)(hide != 0);
	if (l->grp != NULL)
		l->grp[l->n] = l->cur;
	l->v[l->n++] = u;
}

static void
list_push(struct uri_list *l, char *u)
{
	list_push_hide(l, u, 0);
}

/* SpamAssassin's url_encode() of a URI with %-escapes: an escape of
 * 0x21-0x7e but for 0x7f decoded (so "%31%2E" reads "1."), the other
 * escapes kept; outside them control, blank, 8-bit bytes and '"', '%',
 * '<', '>' escaped (lower case). */
static char *
sa_url_decode(const char *s)
{
	struct buf b;

	buf_init(&b, 3 * URI_MAX + 64);
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			int v = hexv(s[i + 1]) * 16 + hexv(s[i + 2]);
			if (v >= 0x21 && v <= 0x7e)
				(void)buf_appendc(&b, (char)v);
			else
				(void)buf_append(&b, s + i, 3);
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '<' ||
		    c == '>')
			(void)buf_printf(&b, "%%%02x", c);
		else
			(void)buf_appendc(&b, (char)c);
	}
	return buf_steal(&b);
}

static void uri_add1(struct uri_list *l, const char *s, size_t n, struct mime_stats *st,
    int depth);

/* s[0..n) without its CRs and LFs (a URI in an attribute over lines),
 * malloc'ed; *len its length. */
static char *
no_breaks(const char *s, size_t n, size_t *len)
{
	char *c = xmalloc(n + 1);
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n' && s[i] != '\r')
			c[k++] = s[i];
	c[k] = '\0';
	*len = k;
	return c;
}

void
uri_add_relative(struct uri_list *l, const char *s, size_t n)
{
	struct buf b;

	while (n > 0 && isspace((unsigned char)*s)) { s++; n--; }
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n > URI_MAX)
		return;
	/* SpamAssassin keeps every attribute's URI as written too (line
	 * breaks dropped): "#top", "?q=1", "/a.gif", "images/a.gif",
	 * "javascript:go()" (an http, https, ftp or mailto one has its
	 * written form from uri_add, and may be a canonical one again) */
	if (!(n >= 5 && strncasecmp(s, "http:", 5) == 0) &&
	    !(n >= 6 && strncasecmp(s, "https:", 6) == 0) &&
	    !(n >= 4 && strncasecmp(s, "ftp:", 4) == 0) &&
	    !(n >= 7 && strncasecmp(s, "mailto:", 7) == 0)) {
		size_t k;
		list_push(l->also != NULL ? l->also : l, no_breaks(s, n, &k));
	}
	/* (what it passes over: a fragment, a query, a path on this host or
	 * relative to this page, one character; and what has a scheme or
	 * an '@') */
	if (n <= 1 || strchr("#?&", s[0]) != NULL ||
	    (s[0] == '/' && s[1] != '/') || (s[0] == '.' && (s[1] == '/' ||
	    (n > 2 && s[1] == '.' && s[2] == '/'))) || memchr(s, ':', n) != NULL ||
	    memchr(s, '@', n) != NULL || memchr(s, '\n', n) != NULL)
		return;
	buf_init(&b, URI_MAX + 16);
	(void)buf_appends(&b, s[0] == '/' ? "http:" : "http://");
	for (size_t i = 0; i < n; i++)
		(void)buf_appendc(&b, s[i] == '\\' ? '/' : s[i]);
	list_push(l->also != NULL ? l->also : l, buf_steal(&b));
}

/* ---- <base href> (SpamAssassin's HTML.pm target_uri, RFC 2396bis) ---- */

struct uparts {
	const char *scheme, *auth, *path, *query, *frag;        /* NULL: none */
	size_t sl, al, pl, ql, fl;
};

static void
uparse(const char *u, struct uparts *p)
{
	size_t k = strcspn(u, ":/?#");

	memset(p, 0, sizeof(*p));
	if (k > 0 && u[k] == ':') {
		p->scheme = u;
		p->sl = k;
		u += k + 1;
	}
	if (u[0] == '/' && u[1] == '/') {
		p->auth = u + 2;
		p->al = strcspn(p->auth, "/?#");
		u = p->auth + p->al;
	}
	p->path = u;
	p->pl = strcspn(u, "?#");
	u += p->pl;
	if (*u == '?') {
		p->query = u + 1;
		p->ql = strcspn(p->query, "#");
		u = p->query + p->ql;
	}
	if (*u == '#') {
		p->frag = u + 1;
		p->fl = strlen(p->frag);
	}
}

/* its _remove_dot_segments() of s[0..n), appended to out: "/./" is "/",
 * "/../" is "/" with the last segment of the output taken away, a final
 * "/." or "/.." the same and a last "/", other segments are copied (a
 * rest of "0" is false to Perl and ends it) */
static void
remove_dots(const char *s, size_t n, struct buf *out)
{
	size_t start = out->len, i = 0;

	if (n >= 2 && s[0] == '.' && s[1] == '/')
		i = 1;          /* "./x" -> "/x" */
	else if (n >= 3 && s[0] == '.' && s[1] == '.' && s[2] == '/')
		i = 2;
	while (i < n && !(n - i == 1 && s[i] == '0')) {
		size_t left = n - i, dots = 0, j;
		if (s[i] == '/' && left >= 2 && s[i + 1] == '.')
			dots = left >= 3 && s[i + 2] == '.' ? 2 : 1;
		if (dots > 0 && (left == dots + 1 || s[i + dots + 1] == '/')) {
			if (dots == 2) {
				size_t e = out->len;
				while (e > start && out->data[e - 1] != '/')
					e--;
				buf_truncate(out, e > start ? e - 1 : e);
			}
			if (left == dots + 1) {
				(void)buf_appendc(out, '/');
				break;
			}
			i += dots + 1;  /* (at the '/' that follows) */
			continue;
		}
		for (j = i + (s[i] == '/'); j < n && s[j] != '/'; j++)
			;
		(void)buf_append(out, s + i, j - i);
		i = j;
	}
}

char *
uri_resolve(const char *base, const char *ref)
{
	struct uparts r, b;
	struct buf out, path;
	const char *scheme, *auth, *query;
	size_t sl = 0, al = 0, ql = 0;

	uparse(ref, &r);
	uparse(base, &b);
	/* (not strict: a reference with the base's scheme is relative) */
	if (r.scheme != NULL && b.scheme != NULL && r.sl == b.sl &&
	    strncmp(r.scheme, b.scheme, r.sl) == 0)
		r.scheme = NULL;
	buf_init(&path, BUF_UNLIMITED);
	if (r.scheme != NULL || r.auth != NULL) {
		scheme = r.scheme;
		sl = r.sl;
		auth = r.auth;
		al = r.al;
		remove_dots(r.path, r.pl, &path);
		query = r.query;
		ql = r.ql;
		if (r.scheme == NULL) {
			scheme = b.scheme;
			sl = b.sl;
		}
	} else {
		if (r.pl == 0) {
			(void)buf_append(&path, b.path, b.pl);
			query = r.query != NULL ? r.query : b.query;
			ql = r.query != NULL ? r.ql : b.ql;
		} else {
			if (r.path[0] == '/') {
				remove_dots(r.path, r.pl, &path);
			} else {
				struct buf m;
				buf_init(&m, BUF_UNLIMITED);
				if (b.auth != NULL && b.pl == 0) {
					(void)buf_appendc(&m, '/');
				} else {
					const char *sl2 = NULL;
					for (size_t k = 0; k < b.pl; k++)
						if (b.path[k] == '/')
							sl2 = b.path + k;
					if (sl2 != NULL)
						(void)buf_append(&m, b.path, (size_t)(sl2 - b.path) + 1);
				}
				(void)buf_append(&m, r.path, r.pl);
				remove_dots(m.data != NULL ? m.data : "", m.len, &path);
				buf_free(&m);
			}
			query = r.query;
			ql = r.ql;
		}
		auth = b.auth;
		al = b.al;
		scheme = b.scheme;
		sl = b.sl;
	}
	buf_init(&out, BUF_UNLIMITED);
	if (scheme != NULL && !(sl == 1 && scheme[0] == '0')) {
		(void)buf_append(&out, scheme, sl);
		(void)buf_appendc(&out, ':');
	} else if (auth != NULL && al >= 3 && (strncasecmp(auth, "www", 3) == 0 ||
	    strncasecmp(auth, "ftp", 3) == 0)) {
		/* an authority "www<digits>." or "ftp<digits>." gets http: or ftp: */
		size_t d = 3;
		while (d < al && isdigit((unsigned char)auth[d]))
			d++;
		if (d < al && auth[d] == '.')
			(void)buf_appends(&out, tolower((unsigned char)auth[0]) == 'w' ? "http:" : "ftp:");
	}
	if (auth != NULL) {
		(void)buf_appends(&out, "//");
		(void)buf_append(&out, auth, al);
	}
	(void)buf_append(&out, path.data != NULL ? path.data : "", path.len);
	if (query != NULL) {
		(void)buf_appendc(&out, '?');
		(void)buf_append(&out, query, ql);
	}
	if (r.frag != NULL) {
		(void)buf_appendc(&out, '#');
		(void)buf_append(&out, r.frag, r.fl);
	}
	buf_free(&path);
	return out.data != NULL ? buf_steal(&out) : xstrdup("");
}

void
uri_add_target(struct uri_list *l, const char *s, size_t n)
{
	struct buf b;
	char *t, *d;
	size_t k = 0;

	if (n == 0 || n > URI_MAX)
		return;
	t = xstrndup(s, n);
	for (char *c = t; *c; c++)      /* backslashes as slashes */
		if (*c == '\\')
			*c = '/';
	d = memchr(t, '%', n) != NULL ? sa_url_decode(t) : xstrdup(t);
	free(t);
	/* no scheme: http:// (ftp:// for an ftp. host), as SpamAssassin */
	while (isalnum((unsigned char)d[k]) || d[k] == '-' || d[k] == '_')
		k++;
	buf_init(&b, URI_MAX + 16);
	if (k == 0 || d[k] != ':')
		(void)buf_appends(&b, strncasecmp(d, "ftp.", 4) == 0 ? "ftp://" : "http://");
	(void)buf_appends(&b, d);
	free(d);
	uri_add(l, buf_cstr(&b), b.len, NULL);
	buf_free(&b);
}

void
uri_add(struct uri_list *l, const char *s, size_t n, struct mime_stats *st)
{
	/* line breaks inside a URI (an attribute value over lines) are
	 * dropped, as SpamAssassin does */
	if (memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL) {
		size_t k;
		char *c = no_breaks(s, n, &k);
		uri_add1(l, c, k, st, 0);
		free(c);
	} else
		uri_add1(l, s, n, st, 0);
}

/*
 * libidn2 (and libunistring under it, the larger of the two to map and
 * relocate) is loaded when a URI first has a host outside ASCII, not by
 * every start of tempest (dl.h).  Where it cannot be loaded such hosts
 * stay as written, with one warning naming the library.
 */
static struct {
	__typeof__(idn2_to_ascii_8z) *to_ascii_8z;
	__typeof__(idn2_free) *free;
	int state;              /* 0 not tried, 1 loaded, -1 unavailable */
} idn;

static int
idn_loaded(void)
{
	const struct dl_sym syms[] = {
		{ "idn2_to_ascii_8z", (void **)&idn.to_ascii_8z },
		{ "idn2_free", (void **)&idn.free },
	};
	char *err = NULL;

	if (idn.state == 0) {
		idn.state = dl_load(IDN2_SONAME, syms, NELEM(syms), NULL, &err) == 0 ? 1 : -1;
		if (idn.state < 0)
			log_warn("URI host names outside ASCII are left as written: %s", err);
		free(err);
	}
	return idn.state > 0;
}

int
uri_idn_ascii(char *host, size_t *n, size_t cap)
{
	static const char *const dots[] = {
		"\xe2\x80\xa4", "\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1",
		"\xef\xb9\x92",
	};
	const unsigned char *u = (const unsigned char *)host;
	struct buf in;
	char *ace = NULL;
	size_t i, len;
	int latin1 = 1, high = 0;

	for (i = 0; i < *n; i++) {
		high |= u[i] >= 0x80;
		if (u[i] >= 0x80 && !(u[i] >= 0xc0 && u[i] != 0xd7 && u[i] != 0xf7 &&
		    u[i] != 0xdf && u[i] != 0xff))
			latin1 = 0;
		else if (u[i] < 0x80 && !isalnum(u[i]) && u[i] != '_' &&
		    u[i] != '.' && u[i] != '-')
			latin1 = 0;
	}
	if (!high || !idn_loaded())
		return 0;
	buf_init(&in, BUF_UNLIMITED);
	if (mime_utf8_valid(u, *n)) {
		for (i = 0; i < *n;) {
			size_t k;
			for (k = 0; k < NELEM(dots); k++)
				if (*n - i >= 3 && memcmp(host + i, dots[k], 3) == 0)
					break;
			if (k < NELEM(dots)) {
				(void)buf_appendc(&in, '.');
				i += 3;
			} else
				(void)buf_appendc(&in, host[i++]);
		}
	} else if (latin1) {
		for (i = 0; i < *n; i++)
			if (u[i] < 0x80)
				(void)buf_appendc(&in, host[i]);
			else {
				(void)buf_appendc(&in, (char)(0xc0 | (u[i] >> 6)));
				(void)buf_appendc(&in, (char)(0x80 | (u[i] & 0x3f)));
			}
	} else {
		buf_free(&in);
		return 0;
	}
	if (idn.to_ascii_8z(buf_cstr(&in), &ace,
	    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK || ace == NULL ||
	    (len = strlen(ace)) >= cap) {
		idn.free(ace);
		buf_free(&in);
		return 0;
	}
	for (i = 0; i < len; i++)
		host[i] = (char)tolower((unsigned char)ace[i]);
	host[len] = '\0';
	*n = len;
	idn.free(ace);
	buf_free(&in);
	return 1;
}

static void
uri_add1(struct uri_list *l, const char *s, size_t n, struct mime_stats *st, int depth)
{
	struct buf out, tail;
	size_t i = 0, hs, he, rest, port = 0, pl = 0;
	int odd_port;
	char delim = '\0';
	char scheme[16], host[512];
	size_t sl = 0, hl = 0;

	while (n > 0 && isspace((unsigned char)*s)) { s++; n--; }
	while (n > 0 && (isspace((unsigned char)s[n - 1]) ||
	    strchr(".,;:!?)'\"]>}", s[n - 1]) != NULL))
		n--;
	if (n == 0)
		return;
	if (n > URI_MAX) {
		n = URI_MAX;
		if (st != NULL)
			st->uri_truncated++;
	}
	/* scheme */
	while (i < n && i < sizeof(scheme) - 1 &&
	    (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i < n && s[i] == ':' && i > 0 && i < sizeof(scheme) - 1 &&
	    isalpha((unsigned char)s[0]) && memchr(s, '.', i) == NULL) {
		for (sl = 0; sl < i; sl++)
			scheme[sl] = (char)tolower((unsigned char)s[sl]);
		scheme[sl] = '\0';
		i++;
	} else if (n > 4 && strncasecmp(s, "www.", 4) == 0) {
		strcpy(scheme, "http");
		i = 0;
		goto authority;
	} else if (n > 4 && strncasecmp(s, "ftp.", 4) == 0) {
		strcpy(scheme, "ftp");
		i = 0;
		goto authority;
	} else {
		return;
	}
	if (strcmp(scheme, "hxxp") == 0 || strcmp(scheme, "hxxps") == 0 ||
	    strcmp(scheme, "h**p") == 0) {
		scheme[1] = scheme[2] = 't';
		if (st) st->uri_obfuscated++;
	}
	if (strcmp(scheme, "mailto") == 0) {
		buf_init(&out, URI_MAX + 16);
		(void)buf_appends(&out, "mailto:");
		for (; i < n; i++)
			(void)buf_appendc(&out, (char)tolower((unsigned char)s[i]));
		list_push(l, buf_steal(&out));
		return;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
	    strcmp(scheme, "ftp") != 0)
		return;
	/* tolerate http:\\ and extra slashes */
	while (i < n && (s[i] == '/' || s[i] == '\\'))
		i++;
authority:
	hs = i;
	while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#' && s[i] != '\\')
		i++;
	he = i;
	/* user@host: drop the user part (a classic disguise) */
	for (size_t k = he; k > hs; k--)
		if (s[k - 1] == '@') {
			if (st) st->uri_obfuscated++;
			hs = k;
			break;
		}
	/* a %-encoded '/', '?', '#' or '\\' ends the host as the raw one
	 * does ("http://8%31%2E%39.%38.%34%2Fnew" is host 81.9.8.4, path
	 * /new): the rest of the authority joins the path */
	rest = he;
	for (size_t k = hs; k < he && hl < sizeof(host) - 1; k++) {
		int c = (unsigned char)s[k];
		if (c == '%' && k + 2 < he && hexv(s[k + 1]) >= 0 && hexv(s[k + 2]) >= 0) {
			c = hexv(s[k + 1]) * 16 + hexv(s[k + 2]);
			k += 2;
			if (st) st->uri_obfuscated++;
			if (c == '/' || c == '?' || c == '#' || c == '\\') {
				delim = (char)(c == '\\' ? '/' : c);
				rest = k + 1;
				break;
			}
		}
		if (c == ':') {         /* port */
			port = k + 1;
			break;
		}
		host[hl++] = (char)tolower(c);
	}
	host[hl] = '\0';
	(void)uri_idn_ascii(host, &hl, sizeof(host));
	while (hl > 0 && host[hl - 1] == '.')
		host[--hl] = '\0';
	if (hl == 0)
		return;
	switch (numeric_host(host, sizeof(host))) {
	case 2:
		if (st) st->uri_numeric_encoded++;
		/* FALLTHROUGH */
	case 1:
		if (st) st->uri_numeric_host++;
		break;
	default:
		break;
	}
	buf_init(&tail, URI_MAX + 600);
	if (delim != '\0') {           /* the authority's rest, then the path */
		(void)buf_appendc(&tail, delim);
		(void)buf_append(&tail, s + rest, he - rest);
	} else if (i >= n || s[i] != '/') {
		(void)buf_appendc(&tail, '/');
	}
	for (; i < n; i++)
		(void)buf_appendc(&tail, s[i] == '\\' ? '/' : s[i]);
	/* the port's digits (at most 8); one other than the scheme's own:
	 * SpamAssassin's uri rules see the URI only with it */
	while (port != 0 && port + pl < he && pl < 8 && isdigit((unsigned char)s[port + pl]))
		pl++;
	odd_port = pl > 0 && !(strcmp(scheme, "http") == 0 && pl == 2 &&
	    strncmp(s + port, "80", 2) == 0) && !(strcmp(scheme, "https") == 0 &&
	    pl == 3 && strncmp(s + port, "443", 3) == 0);
	buf_init(&out, URI_MAX + 1200);
	(void)buf_printf(&out, "%s://%s%s", scheme, host, buf_cstr(&tail));
	/* and as written when that differs (SpamAssassin's uri rules see
	 * both: HTTP_ESCAPED_HOST reads the %-escapes of a host, URI_HEX a
	 * hex user part); a www. or ftp. one with the scheme it implies */
	if (sl == 0 || strncasecmp(s, scheme, sl) == 0) {
		struct buf raw;
		buf_init(&raw, URI_MAX + 16);
		if (sl == 0)
			(void)buf_printf(&raw, "%s://", scheme);
		(void)buf_append(&raw, s, n);
		/* and with its %-escapes decoded as SpamAssassin does (URI_HEX
		 * reads a user part written in escapes) */
		if (memchr(s, '%', n) != NULL) {
			char *d = sa_url_decode(buf_cstr(&raw));
			if (strcmp(d, buf_cstr(&raw)) != 0)
				list_push(l->also != NULL ? l->also : l, d);
			else
				free(d);
		}
		if (strcmp(buf_cstr(&raw), buf_cstr(&out)) != 0) {
			list_push_hide(l, buf_steal(&out), odd_port);
			list_push(l->also != NULL ? l->also : l, buf_steal(&raw));
		} else {
			buf_free(&raw);
			list_push_hide(l, buf_steal(&out), odd_port);
		}
	} else {
		list_push_hide(l, buf_steal(&out), odd_port);
	}
	/* and with its port, as written (SpamAssassin's uri rules see both;
	 * WEIRD_PORT looks for it) */
	if (pl > 0) {
		buf_init(&out, URI_MAX + 1200);
		(void)buf_printf(&out, "%s://%s:%.*s%s", scheme, host, (int)pl, s + port,
		    buf_cstr(&tail));
		list_push(l->also != NULL ? l->also : l, buf_steal(&out));
	}
	/* a redirector's target ("http://rd.example/?u=http://target/…"):
	 * SpamAssassin's hard-coded one, the first http: or https: after the
	 * host up to an '&' or '#', when it has a dot, is a URI too (a few
	 * levels deep) */
	if (depth < 4) {
		/* (in the URI with its %-escapes decoded, as SpamAssassin
		 * looks: "?url=http%3A%2F%2Fx.example" has one) */
		char *dec = strchr(buf_cstr(&tail), '%') != NULL ?
		    sa_url_decode(buf_cstr(&tail)) : NULL;
		const char *t = dec != NULL ? dec : buf_cstr(&tail);
		for (size_t k = 0; t[k] != '\0'; k++) {
			size_t e;
			if (strncasecmp(t + k, "http", 4) != 0)
				continue;
			e = k + 4 + (tolower((unsigned char)t[k + 4]) == 's');
			if (t[e] != ':')
				continue;
			e = k + strcspn(t + k, "&#");
			if (memchr(t + k, '.', e - k) != NULL)
				uri_add1(l, t + k, e - k, st, depth + 1);
			break;
		}
		free(dec);
	}
	buf_free(&tail);
}

/* A byte of a URI written in text: not a blank, control or delimiter;
 * in SpamAssassin's reading (sa) bytes outside ASCII too, but for the
 * Latin-1 no-break space byte its pattern ends one at. */
static int
uri_char(unsigned char c, int sa)
{
	return c > 32 && (c < 127 || (sa && c > 127 && c != 0xa0)) &&
	    c != '<' && c != '>' && c != '"' &&
	    c != '\'' && c != '`' && c != '{' && c != '}' && c != '|' &&
	    c != '^';
}

static int
local_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The code point of the UTF-8 sequence at s[0..n), 0 if none. */
static unsigned
utf8_cp(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] >= 0xc2 && s[0] <= 0xdf)
		return (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	if (n >= 3 && s[0] >= 0xe0 && s[0] <= 0xef)
		return (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 |
		    (s[2] & 0x3f);
	if (n >= 4 && s[0] >= 0xf0 && s[0] <= 0xf4)
		return (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3f) << 12 |
		    (unsigned)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return 0;
}

/* The IDN conversions own_idn_end() tries in one run of text (one end)
 * before it leaves the later "www." in it as ASCII: a run of junk glued
 * to many of them is not converted again from each. */
#define IDN_RUN_TRIES 4

/* Its failed conversions in the run of text that ends at run_end. */
struct idn_run {
	size_t run_end;
	unsigned fails;
};

/* Tempest's own reading of a URI written in text, its authority from
 * s[a] and its ASCII run to s[e]: where the host goes on in bytes
 * outside ASCII that make an IDN host (uri_idn_ascii(), "http://аpple.com/"
 * or "café.com"), the URI runs on through them and then through the
 * ASCII of its path; else it ends at e, the first such byte: after a
 * host glued to symbols or garbage, in a path, at a Unicode space, and
 * where CJK text follows a whole dotted name ("www.example.edu.去查询。",
 * "example.com获取": those scripts put no space between words, so that
 * is the sentence going on, not a label); after IDN_RUN_TRIES failed
 * conversions in one run, at e. */
static size_t
own_idn_end(const char *s, size_t n, size_t a, size_t e, struct idn_run *run)
{
	char host[512];
	size_t h = e, b = a, hl = 0;
	unsigned cp;
	int dotted = 0;

	if (e >= n || (unsigned char)s[e] < 0x80)
		return e;
	for (size_t k = a; k < e; k++) {
		if (s[k] == '/' || s[k] == '?' || s[k] == '#' || s[k] == '\\')
			return e;       /* past the host already */
		dotted |= s[k] == '.' && k + 1 < e;
	}
	cp = utf8_cp((const unsigned char *)s + e, n - e);
	if (cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff)
		return e;
	if (dotted && ((cp >= 0x2e80 && cp <= 0x9fff) || (cp >= 0xac00 && cp <= 0xd7af) ||
	    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xff00 && cp <= 0xffef)))
		return e;
	/* (no further than a host can be long: a run of text with no
	 * delimiter is not read again from each "www." in it) */
	while (h < n && uri_char((unsigned char)s[h], 1) && s[h] != '/' &&
	    s[h] != '?' && s[h] != '#' && s[h] != '\\')
		if (++h - a >= sizeof(host))
			return e;
	if (run->run_end == h && run->fails >= IDN_RUN_TRIES)
		return e;
	for (size_t k = h; k > a; k--)
		if (s[k - 1] == '@') {  /* (a user part, then the host) */
			b = k;
			break;
		}
	for (size_t k = b; k < h && s[k] != ':' && hl < sizeof(host) - 1; k++)
		host[hl++] = (char)tolower((unsigned char)s[k]);
	host[hl] = '\0';
	if (!uri_idn_ascii(host, &hl, sizeof(host))) {
		if (run->run_end != h) {
			run->run_end = h;
			run->fails = 0;
		}
		run->fails++;
		return e;
	}
	while (h < n && uri_char((unsigned char)s[h], 0))
		h++;
	return h;
}

/* An address written in text around the '@' at s[at] (not one inside a
 * URI, not a mailto: one, which the URI scan takes), as
 * "mailto:local@domain", lower case: SpamAssassin lists those with the
 * URIs (its unsubscribe rules look for them). */
static void
text_address(struct uri_list *l, const char *s, size_t n, size_t at)
{
	size_t b = at, e = at + 1, dots = 0;
	struct buf out;

	while (b > 0 && local_char((unsigned char)s[b - 1]))
		b--;
	while (b < at && s[b] == '.')
		b++;
	while (e < n && (isalnum((unsigned char)s[e]) || s[e] == '-' || s[e] == '.'))
		dots += s[e++] == '.';
	while (e > at + 1 && s[e - 1] == '.')
		e--, dots--;
	if (b == at || e == at + 1 || dots == 0 || e - b > 254)
		return;
	/* part of a URI ("http://user@host/", "mailto:a@b") */
	if ((b >= 1 && (s[b - 1] == '/' || s[b - 1] == ':' || s[b - 1] == '@')) )
		return;
	buf_init(&out, 300);
	(void)buf_appends(&out, "mailto:");
	for (size_t i = b; i < e; i++)
		(void)buf_appendc(&out, (char)tolower((unsigned char)s[i]));
	list_push(l->also != NULL ? l->also : l, buf_steal(&out));
}

/* The text URI about to be added gets the next number (uri_list.grp),
 * in the lists its forms go to; on = 0: none. */
static void
text_uri(struct uri_list *l, int on)
{
	uint32_t g = on && l->text ? ++l->groups : 0;

	l->cur = g;
	if (l->also != NULL)
		l->also->cur = g;
	if (l->sl != NULL)
		l->sl->cur = g;
}

/* SpamAssassin's URI-finding pattern's end delimiters ($tbirdenddelim)
 * and the characters a schemeless URI may follow ($scstartdelim),
 * bytes: Perl's \s, ESC and the Latin-1 no-break space among them */
static int
sa_end_delim(unsigned char c)
{
	return (c != '\0' && strchr("><\"`}]{[| \t\n\r\f\v", c) != NULL) ||
	    c == 0x1b || c == 0xa0;
}

static int
sa_start_delim(unsigned char c)
{
	return (c != '\0' && strchr("!\"#$&'()*+,/:;<=>?@[\\]^`{|}~ \t\n\r\f\v", c) != NULL) ||
	    c == 0x1b || c == 0xa0;
}

static int
host_char(unsigned char c)
{
	return (c < 0x80 && isalnum(c)) || c == '.' || c == '_' || c == '-';
}

/* A URI written without a scheme at s[i], as SpamAssassin's pattern
 * takes one ("example.com", "x.example.pm:8080/a"): a name of letters,
 * digits, '.', '_' and '-' ending in a label (the TLD the scan checks)
 * and one optional dot, then an optional port of 1-5 digits and an
 * optional path of 1-2048 bytes, ended by a delimiter or the text's end;
 * a ')' with no '(' before it ends it, and trailing punctuation is
 * dropped.  Added to l->sl as "http://" + it; the end, or i when none. */
static size_t
schemeless(struct uri_list *l, const char *s, size_t n, size_t i, size_t *nd)
{
	size_t j = i, he, e, dot = 0, k;
	struct buf b;

	while (j < n && host_char((unsigned char)s[j]))
		j++;
	he = j > i && s[j - 1] == '.' ? j - 1 : j;
	if (he == i || !isalnum((unsigned char)s[he - 1]))
		return i;
	for (k = i; k < he; k++)
		if (s[k] == '.')
			dot = k;
	if (dot == 0 || dot - i > 252)
		return i;
	e = j;
	if (e < n && s[e] == ':') {             /* a port */
		for (k = e + 1; k < n && k - e <= 6 && isdigit((unsigned char)s[k]); k++)
			;
		if (k == e + 1 || k - e > 6)
			return i;
		e = k;
	}
	if (e < n && s[e] == '/') {             /* a path, to the next delimiter */
		/* (*nd: the first delimiter at or after the last path asked
		 * about; the paths asked about only move on, so the text is
		 * read once however many candidates it holds) */
		if (*nd < e + 1)
			*nd = e + 1;
		while (*nd < n && !sa_end_delim((unsigned char)s[*nd]))
			(*nd)++;
		if (*nd == e + 1 || *nd - e - 1 > 2048)
			return i;
		e = *nd;
	}
	if (e < n && !sa_end_delim((unsigned char)s[e]))
		return i;
	/* what the URI keeps: to a ')' not after a '(', then without the
	 * punctuation at its end */
	for (k = i; k < e && s[k] != '(' && s[k] != ')'; k++)
		;
	j = k < e && s[k] == ')' ? k : e;
	while (j > i && s[j - 1] != '\0' && strchr("-~!@#^&*()_+=:;'?,.", s[j - 1]) != NULL)
		j--;
	buf_init(&b, URI_MAX + 16);
	(void)buf_appends(&b, "http://");
	(void)buf_append(&b, s + i, j - i);
	uri_add(l->sl, buf_cstr(&b), b.len, NULL);
	buf_free(&b);
	return e;
}

void
uri_extract_text(struct uri_list *l, const char *s, size_t n,
    struct mime_stats *st)
{
	static const char *const starts[] = {
		"http://", "https://", "ftp://", "hxxp://", "hxxps://",
		"www.", "ftp.", "mailto:", "http:\\\\", "https:\\\\",
	};

	size_t nd = 0;
	struct idn_run run = { SIZE_MAX, 0 };

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t e;
		int found = 0;

		if (c == '@') {
			text_uri(l, 1);
			text_address(l, s, n, i);
			text_uri(l, 0);
			continue;
		}
		if ((c == 'h' || c == 'H' || c == 'w' || c == 'W' || c == 'f' ||
		    c == 'F' || c == 'm' || c == 'M') &&
		    !(i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '.' ||
		    s[i - 1] == '@' || s[i - 1] == '/')))
			for (size_t k = 0; k < NELEM(starts) && !found; k++) {
				size_t sl = strlen(starts[k]);
				if (n - i <= sl || strncasecmp(s + i, starts[k], sl) != 0)
					continue;
				for (e = i + sl; e < n && uri_char((unsigned char)s[e], l->sa); e++)
					;
				/* (the authority: after "scheme://", or the whole
				 * "www." name) */
				if (!l->sa && starts[k][sl - 1] != ':')
					e = own_idn_end(s, n, starts[k][sl - 1] == '.' ? i : i + sl, e, &run);
				if (e > i + sl) {
					text_uri(l, 1);
					uri_add(l, s + i, e - i, st);
					text_uri(l, 0);
					i = e;
					found = 1;
				}
			}
		/* (not right after an '@': that is an address's domain) */
		if (!found && l->sl != NULL && l->text && c < 0x80 && isalnum(c) &&
		    (i == 0 || (sa_start_delim((unsigned char)s[i - 1]) && s[i - 1] != '@'))) {
			text_uri(l, 1);
			e = schemeless(l, s, n, i, &nd);
			text_uri(l, 0);
			if (e > i)
				i = e;
		}
	}
}

char *
uri_host(const char *uri)
{
	const char *p = strstr(uri, "://"), *e;

	if (p == NULL)
		return xstrdup("");
	p += 3;
	e = p + strcspn(p, "/?#");
	return xstrndup(p, (size_t)(e - p));
}

void
uri_list_free(struct uri_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	FREE(l->v);
	FREE(l->hide);
	FREE(l->grp);
	l->n = l->cap = 0;
}
