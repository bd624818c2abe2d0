/*
 * header_eval.c - SpamAssassin's header eval: tests as it defines them
 * (its HeaderEval plugin), for its rule set (header_eval.h).  Input:
 * untrusted header values.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "header_eval.h"
#include "html.h"
#include "mem.h"
#include "mime.h"
#include "msg_date.h"
#include "relays.h"
#include "spam_jit.h"
#include "str.h"

/* The first header called name: its decoded value, or raw as written;
 * NULL when there is none. */
static const char *
first(const struct mime_msg *m, const char *name, int raw)
{
	const struct mime_header *h = mime_header_get(m, name);

	return h == NULL ? NULL : raw ? h->raw : h->value;
}

/* Every header called name, values joined by "\n" (SpamAssassin's
 * get() of a header that occurs more than once). */
static void
joined(const struct mime_msg *m, const char *name, struct buf *b)
{
	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0) {
			if (b->len > 0)
				(void)buf_appendc(b, '\n');
			(void)buf_appends(b, m->hdrs[i].value);
		}
}

void
sa_quotemeta(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (!isalnum((unsigned char)*v) && *v != '_')
			(void)buf_appendc(b, '\\');
		(void)buf_appendc(b, *v);
	}
}

/* The fixed patterns (no "%Q"), compiled on first use and kept: they
 * are string literals, known by address (once per process, not for use
 * from several threads). */
#define FIXED_MAX 64
static struct {
	const char *pat;
	uint32_t opts;
	pcre2_code *re;
} fixed[FIXED_MAX];
static pcre2_match_context *mctx;

/* mctx, made the first time: the match limit every pattern here runs
 * with */
static pcre2_match_context *
match_ctx(void)
{
	if (mctx == NULL) {
		mctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(mctx, 200000);
	}
	return mctx;
}

/* pat (with each "%Q" replaced by q quoted) against s: 1 on a match,
 * the first group copied to g (size gn) when g is not NULL. */
static int
match(const char *pat, const char *q, uint32_t opts, const char *s, char *g, size_t gn)
{
	struct buf p;
	pcre2_code *re = NULL;
	pcre2_match_data *md;
	int err, rc, keep = strstr(pat, "%Q") == NULL;
	size_t k = 0;
	PCRE2_SIZE off;

	if (keep) {
		for (k = 0; k < FIXED_MAX && fixed[k].pat != NULL; k++)
			if (fixed[k].pat == pat && fixed[k].opts == opts) {
				re = fixed[k].re;
				break;
			}
		if (k == FIXED_MAX)
			abort();        /* more fixed patterns than slots: a build error */
	}
	if (re == NULL) {
		buf_init(&p, 64 * 1024);
		for (const char *c = pat; *c; c++)
			if (c[0] == '%' && c[1] == 'Q') {
				sa_quotemeta(&p, q);
				c++;
			} else {
				(void)buf_appendc(&p, *c);
			}
		re = pcre2_compile((PCRE2_SPTR)buf_cstr(&p), p.len, opts, &err, &off, NULL);
		buf_free(&p);
		if (re == NULL)
			return 0;
		if (keep) {
			spam_jit_fixed(re);
			fixed[k].pat = pat;
			fixed[k].opts = opts;
			fixed[k].re = re;
		}
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, match_ctx());
	if (rc >= 2 && g != NULL) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t n = ov[3] - ov[2];
		if (n >= gn)
			n = gn - 1;
		memcpy(g, s + ov[2], n);
		g[n] = '\0';
	}
	pcre2_match_data_free(md);
	if (!keep)
		pcre2_code_free(re);
	return rc >= 0;
}

int
he_header_count_range(const struct mime_msg *m, const char *hdr, double min, double max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nhdrs; i++) {
		int seen = 0;
		if (strcasecmp(m->hdrs[i].name, hdr) != 0)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcasecmp(m->hdrs[k].name, hdr) == 0 &&
			    strcmp(m->hdrs[k].value, m->hdrs[i].value) == 0;
		n += !seen;
	}
	return (double)n >= min && (double)n <= max;
}

int
he_subject_all_caps(const struct mime_msg *m)
{
	static const char *const prefixes[] = {
		"Re", "Fwd", "Fw", "Aw", "Antwort", "WG", "SV", "VB", "VS", "VL",
	};
	const char *v = first(m, "Subject", 0), *raw = first(m, "Subject", 1);
	const char *s, *e;
	size_t letters = 0, upper = 0;
	int again = 1, space = 0;

	if (v == NULL)
		return 0;
	for (s = v; *s && isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	while (again) {         /* reply and forward prefixes, repeated */
		again = 0;
		for (size_t i = 0; i < NELEM(prefixes); i++) {
			size_t l = strlen(prefixes[i]);
			if ((size_t)(e - s) > l && strncasecmp(s, prefixes[i], l) == 0 && s[l] == ':') {
				for (s += l + 1; s < e && isspace((unsigned char)*s); s++)
					;
				again = 1;
				break;
			}
		}
	}
	for (const char *p = s; p < e; p++) {
		space |= isspace((unsigned char)*p) != 0;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
			letters++;
			upper += *p >= 'A' && *p <= 'Z';
		}
	}
	if (!space || e - s < 10)
		return 0;
	/* text in these charsets reads as capitals to this test */
	if (raw != NULL && match("=\\?[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|"
	    "windows-1251|georgianps|pt154|tis)[-_a-z0-9]*\\?", "", PCRE2_CASELESS, raw, NULL, 0))
		return 0;
	return letters > 0 && letters == upper;
}

int
he_to_in_subject(const struct mime_msg *m, const char *test)
{
	const char *to = first(m, "To", 0), *subject = first(m, "Subject", 0);
	char *addr, *at;
	int r = 0;

	if (to == NULL)
		return 0;
	addr = mime_addr(to);
	if (addr[0] == '\0') {
		free(addr);
		return 0;
	}
	if (subject == NULL)
		subject = "";
	if (strcmp(test, "address") == 0) {
		r = match("\\b%Q\\b", addr, PCRE2_CASELESS, subject, NULL, 0);
	} else if (strcmp(test, "user") == 0) {
		if ((at = strchr(addr, '@')) != NULL)
			*at = '\0';
		r = match("^(?:(?:re|fw):\\s*(?:\\w+\\s+)?%Q$|(?-i:%Q)\\s*[,:;!?-](?:$|\\s)|%Q$|"
		    ",\\s*%Q[,:;!?-]$)", addr, PCRE2_CASELESS, subject, NULL, 0);
	}
	free(addr);
	return r;
}

/* Valid UTF-8: no stray continuation bytes, no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static int
valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t k;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

int
he_illegal_chars(const struct mime_msg *m, const char *hdr, double ratio, double count)
{
	struct buf b;
	const unsigned char *s;
	size_t n, illegal = 0, exempt = 0;
	int nonascii = 0, controls = 0, r = 0;

	buf_init(&b, 4 * 1024 * 1024);
	if (strcasecmp(hdr, "ALL") == 0) {
		for (size_t i = 0; i < m->nhdrs; i++)
			(void)buf_printf(&b, "%s: %s\n", m->hdrs[i].name, m->hdrs[i].raw);
	} else {
		const char *v = first(m, hdr, 1);
		if (v != NULL)
			(void)buf_appends(&b, v);
	}
	s = (const unsigned char *)buf_cstr(&b);
	n = b.len;
	for (size_t i = 0; i < n; i++) {
		nonascii |= s[i] >= 0x80;
		controls |= s[i] <= 0x08 || s[i] == 0x0b || s[i] == 0x0c ||
		    (s[i] >= 0x0e && s[i] <= 0x1f);
	}
	{
		int blank = 1;
		for (size_t i = 0; i < n && blank; i++)
			blank = isspace(s[i]) != 0;
		if (blank)
			goto out;
	}
	if (nonascii && valid_utf8(s, n) && !controls)
		goto out;       /* UTF-8 text (RFC 6532) */
	for (size_t i = 0; i < n; i++) {
		illegal += s[i] <= 0x08 || s[i] == 0x0b || s[i] == 0x0c ||
		    (s[i] >= 0x0e && s[i] <= 0x1f) || s[i] >= 0x7f;
		exempt += s[i] == 0xa2 || s[i] == 0xa3 || s[i] == 0xae;
	}
	/* one cent, pound or registered sign is all right in a Subject */
	if (illegal > 0 && strcasecmp(hdr, "Subject") == 0 && exempt == 1)
		illegal--;
	r = (double)illegal / (double)n >= ratio && (double)illegal >= count;
out:
	buf_free(&b);
	return r;
}

int
he_ratware_name_id(const struct mime_msg *m)
{
	struct buf id;
	char tail[1024];
	const char *from = first(m, "From", 0);
	int r = 0;

	buf_init(&id, 1024 * 1024);
	joined(m, "Message-Id", &id);
	joined(m, "Resent-Message-Id", &id);
	joined(m, "X-Message-Id", &id);
	if (from != NULL &&
	    match("<[A-Z]{28}\\.([^>]+?)>", "", 0, buf_cstr(&id), tail, sizeof(tail)))
		r = match("\"[^\"]+\"\\s*<%Q>", tail, 0, from, NULL, 0);
	buf_free(&id);
	return r;
}

int
he_outlook_message_id(const struct mime_msg *m)
{
	const double x = 0.0023283064365387, y = 27111902.8329849;
	struct buf id, rcvd;
	char hex[16];
	const char *date = first(m, "Date", 0);
	long long token, expected;
	int64_t t = 0;
	int r = 0;

	buf_init(&id, 1024 * 1024);
	joined(m, "Message-Id", &id);
	joined(m, "Resent-Message-Id", &id);
	joined(m, "X-Message-Id", &id);
	if (!match("^<[0-9a-f]{4}([0-9a-f]{8})\\$[0-9a-f]{8}\\$[0-9a-f]{8}@", "", 0,
	    buf_cstr(&id), hex, sizeof(hex)))
		goto out;
	token = strtoll(hex, NULL, 16);
	if (date == NULL || msg_date_parse(date, strlen(date), &t) < 0)
		t = 0;
	expected = (long long)((double)t * x + y);
	if (llabs(token - expected) < 250)
		goto out;
	/* SpamAssassin reads the first date in all the Received: lines */
	buf_init(&rcvd, 1024 * 1024);
	joined(m, "Received", &rcvd);
	if (msg_date_parse(buf_cstr(&rcvd), rcvd.len, &t) < 0)
		t = 0;
	buf_free(&rcvd);
	expected = (long long)((double)t * x + y);
	r = llabs(token - expected) >= 250;
out:
	buf_free(&id);
	return r;
}

/* A leaf of SpamAssassin's MIME tree (multiparts and attached messages
 * are not). */
static int
mime_leaf(const struct mime_part *p)
{
	return strncmp(p->ctype, "multipart/", 10) != 0 &&
	    strcmp(p->ctype, "message/rfc822") != 0 &&
	    strcmp(p->ctype, "message/global") != 0;
}

int
he_ascii_text_illegal(const struct mime_msg *m)
{
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (mime_leaf(p) && strcmp(p->ctype, "text/plain") == 0 &&
		    (p->charset[0] == '\0' || strcmp(p->charset, "us-ascii") == 0) &&
		    p->ascii_illegal)
			return 1;
	}
	return 0;
}

double
he_multipart_ratio(const struct mime_msg *m)
{
	int alt = 0, have_text = 0, have_html = 0;
	size_t text = 0, html = 0;

	/* the last text/plain and text/html leaves not attached: their
	 * bytes as sent, counted from the first multipart/alternative on
	 * (0 before it) */
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		if (strcmp(p->ctype, "multipart/alternative") == 0)
			alt = 1;
		if (!mime_leaf(p) || strstr(p->disposition, "attachment") != NULL)
			continue;
		if (strcmp(p->ctype, "text/plain") == 0) {
			text = alt ? p->raw_len : 0;
			have_text = 1;
		} else if (strcmp(p->ctype, "text/html") == 0) {
			html = alt ? p->raw_len : 0;
			have_html = 1;
		}
	}
	if (!alt)
		return 1.0;
	return have_text && have_html && html > 0 ? (double)text / (double)html : 1.0;
}

int
he_check_for_mime(const struct mime_msg *m, const char *test)
{
	static const char *const counts[] = {
		"mime_base64_count", "mime_qp_count", "mime_attachment",
		"mime_body_html_count", "mime_body_text_count",
		"mime_base64_encoded_text", "mime_bad_iso_charset",
	};
	int n = 0, k = -1;

	if (strcmp(test, "mime_qp_long_line") == 0)
		return m->st.qp_long_lines > 0;
	for (size_t i = 0; i < NELEM(counts); i++)
		if (strcmp(test, counts[i]) == 0)
			k = (int)i;
	if (k < 0)
		return -1;
	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		int text = strncmp(p->ctype, "text", 4) == 0;
		int b64 = strstr(p->encoding, "base64") != NULL;
		switch (k) {
		case 0: n += b64; break;
		case 1:
			/* the excess encoding in its lines when there are
			 * quoted-printable lines, else the parts so encoded
			 * (SpamAssassin's MIMEEval overwrites the count) */
			if (m->st.qp_bytes > 0)
				return (int)m->st.qp_excess;
			n += !b64 && strstr(p->encoding, "quoted-printable") != NULL;
			break;
		case 2: n += strstr(p->disposition, "attachment") != NULL; break;
		case 3: n += strcmp(p->ctype, "text/html") == 0; break;
		case 4: n += text && strcmp(p->ctype, "text/html") != 0; break;
		case 5:
			/* text sent in base64 though it is plain ASCII */
			n |= text && b64 && (p->charset[0] == '\0' ||
			    match("(?:us-ascii|ansi_x3\\.4-1968|iso-ir-6|ansi_x3\\.4-1986|"
			    "iso_646\\.irv:1991|ascii|iso646-us|us|ibm367|cp367|csascii)", "",
			    0, p->charset, NULL, 0)) &&
			    strncmp(p->disposition, "attachment", 10) != 0 &&
			    strncmp(p->disposition, "inline", 6) != 0;
			break;
		case 6:
			n |= match("iso-\\S+-\\S+\\b", "", PCRE2_CASELESS, p->charset, NULL, 0) &&
			    !match("iso-(?:8859-\\d{1,2}|2022-(?:jp|kr))\\b", "", 0, p->charset,
			    NULL, 0);
			break;
		}
	}
	return n;
}

/* (each_image's f for counting) */
static double
img_one(const struct mime_part *p, const void *arg)
{
	(void)p;
	(void)arg;
	return 1;
}

/* The ImageInfo plugin's images: the base64 GIF, PNG and JPEG parts
 * ("jpg" taken as "jpeg") of type (or "all"), with sized only those whose
 * size it read; f called with each, its result summed. */
static double
each_image(const struct mime_msg *m, const char *type, int sized,
    double (*f)(const struct mime_part *, const void *), const void *arg)
{
	static const char *const types[] = { "gif", "png", "jpeg" };
	double sum = 0;

	for (size_t i = 0; i < m->nparts; i++) {
		const struct mime_part *p = &m->parts[i];
		const char *t = p->ctype;
		if (strcmp(p->encoding, "base64") != 0 || strncmp(t, "image/", 6) != 0 ||
		    (sized && (p->img_w == 0 || p->img_h == 0)))
			continue;
		t += 6;
		if (strcmp(t, "jpg") == 0)
			t = "jpeg";
		for (size_t k = 0; k < NELEM(types); k++)
			if (strcmp(t, types[k]) == 0 &&
			    (strcmp(type, "all") == 0 || strcmp(type, t) == 0))
				sum += f(p, arg);
	}
	return sum;
}

int
he_image_count(const struct mime_msg *m, const char *type, double min, int have_max,
    double max)
{
	double n = each_image(m, type, 0, img_one, NULL);

	return n >= min && (!have_max || n <= max);
}

static double
img_area(const struct mime_part *p, const void *arg)
{
	(void)arg;
	return (double)p->img_w * (double)p->img_h;
}

double
he_image_area(const struct mime_msg *m, const char *type)
{
	return each_image(m, type, 1, img_area, NULL);
}

/* (arg: {minh, minw, maxh, maxw}, a max below 0 for none) */
static double
img_in_range(const struct mime_part *p, const void *arg)
{
	const double *b = arg;

	return (double)p->img_h >= b[0] && (double)p->img_w >= b[1] &&
	    (b[2] < 0 || (double)p->img_h <= b[2]) && (b[3] < 0 || (double)p->img_w <= b[3]);
}

int
he_image_size_range(const struct mime_msg *m, const char *type, double minh,
    double minw, double maxh, double maxw)
{
	const double b[4] = { minh, minw, maxh, maxw };

	return each_image(m, type, 1, img_in_range, b) > 0;
}

static double
img_named(const struct mime_part *p, const void *arg)
{
	return p->filename[0] != '\0' && strcmp(p->filename, arg) == 0;
}

int
he_image_named(const struct mime_msg *m, const char *name)
{
	return each_image(m, "all", 1, img_named, name) > 0;
}

static double
img_name_re(const struct mime_part *p, const void *arg)
{
	return p->filename[0] != '\0' && he_match(arg, p->filename);
}

int
he_image_name_regex(const struct mime_msg *m, const char *re)
{
	return each_image(m, "all", 1, img_name_re, re) > 0;
}

/* A charset whose text this test would read as capitals. */
static int
caps_charset(const char *cs)
{
	return match("^[-_a-z0-9]*(?:koi|jp|jis|euc|gb|big5|isoir|cp1251|windows-1251|"
	    "georgianps|pt154|tis)[-_a-z0-9]*$", "", PCRE2_CASELESS, cs, NULL, 0);
}

/* "^(?:[A-Za-z0-9+/=]{60,76} ){2}": a line of leftover base64. */
static int
base64_line(const char *s, size_t n)
{
	size_t i = 0;

	for (int run = 0; run < 2; run++) {
		size_t k = 0;
		while (i + k < n && (isalnum((unsigned char)s[i + k]) || s[i + k] == '+' ||
		    s[i + k] == '/' || s[i + k] == '='))
			k++;
		if (k < 60 || k > 76 || i + k >= n || s[i + k] != ' ')
			return 0;
		i += k + 1;
	}
	return 1;
}

int
he_uppercase(const struct mime_msg *m, double min, double max)
{
	const char *ct = first(m, "Content-Type", 0);
	const char *s = m->body.data != NULL ? m->body.data : "";
	size_t n = m->body.len, len = 0, lower = 0, upper = 0;
	double pct;
	char cs[256];

	if (ct != NULL && (match("charset=\"([^\"]+)\"", "", PCRE2_CASELESS, ct, cs, sizeof(cs)) ||
	    match("charset='([^']+)'", "", PCRE2_CASELESS, ct, cs, sizeof(cs)) ||
	    match("charset=(\\S+)", "", PCRE2_CASELESS, ct, cs, sizeof(cs))) && caps_charset(cs))
		return 0;
	for (size_t i = 0; i < m->nparts; i++) {
		const char *c = m->parts[i].charset;
		int letter = 0;
		for (const char *p = c; *p && !letter; p++)
			letter = isalpha((unsigned char)*p) != 0;
		if (letter && caps_charset(c))
			return 0;
	}
	for (size_t a = 0; a < n;) {
		size_t e = a, i, js, je;
		while (e < n && s[e] != '\n')
			e++;
		/* lines of several words (\S\s+\S), not leftover base64 */
		for (i = a; i < e && isspace((unsigned char)s[i]); i++)
			;
		for (; i < e && !isspace((unsigned char)s[i]); i++)
			;
		for (; i < e && isspace((unsigned char)s[i]); i++)
			;
		if (i < e && !base64_line(s + a, e - a)) {
			/* shift-JIS "\e$B … \e(B", the first start to the last
			 * end, left out */
			js = je = e;
			for (size_t k = a; k + 2 < e; k++)
				if (s[k] == 0x1b && s[k + 1] == '$' && s[k + 2] == 'B') {
					js = k;
					break;
				}
			for (size_t k = e; js < e && k >= js + 6; k--)
				if (s[k - 3] == 0x1b && s[k - 2] == '(' && s[k - 1] == 'B') {
					je = k;
					break;
				}
			if (je == e)
				js = e;
			for (size_t k = a; k < e; k++) {
				if (k >= js && k < je)
					continue;
				len++;
				lower += (s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9');
				upper += s[k] >= 'A' && s[k] <= 'Z';
			}
			len += e < n;   /* (its lines keep their newline) */
		}
		a = e + 1;
	}
	if (len < 200 || upper + lower == 0)
		pct = 0;
	else
		pct = (double)upper / (double)(upper + lower) * 100;
	return pct > min && pct <= max;
}

int
he_base64_length(const struct mime_msg *m, double min, int have_max, double max)
{
	double l = (double)m->st.base64_max_line;

	if (have_max && l > max)
		return 0;
	return l >= min;
}

/* ---- registry boundaries ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
rb_sort(struct rb_lists *rb)
{
	for (int k = 0; k < 3; k++) {
		size_t i = 1;
		/* (a rule set read from the cache has them sorted already) */
		while (i < rb->n[k] && strcmp(rb->v[k][i - 1], rb->v[k][i]) <= 0)
			i++;
		if (i < rb->n[k])
			qsort(rb->v[k], rb->n[k], sizeof(char *), cmp_str);
	}
}

static int
rb_has(const struct rb_lists *rb, int k, const char *s)
{
	return rb != NULL && rb->n[k] > 0 &&
	    bsearch(&s, rb->v[k], rb->n[k], sizeof(char *), cmp_str) != NULL;
}

static int
us_state(const char *s, size_t n)
{
	static const char states[] = " ak al ar az ca co ct dc de fl ga gu hi ia "
	    "id il in ks ky la ma md me mi mn mo ms mt nc nd ne nh nj nm nv ny oh "
	    "ok or pa pr ri sc sd tn tx ut va vi vt wa wi wv wy ";
	char k[5];

	if (n != 2)
		return 0;
	snprintf(k, sizeof(k), " %.2s ", s);
	return strstr(states, k) != NULL;
}

#define RB_LABELS 128
void
rb_domain(const struct rb_lists *rb, const char *host, char *out, size_t outlen)
{
	char d[256];
	const char *lab[RB_LABELS];
	size_t len[RB_LABELS], n = 0, j = 0, first = 0;

	/* lower case, dots collapsed, none leading or trailing */
	for (const char *p = host; *p && j + 1 < sizeof(d); p++) {
		if (*p == '.' && (j == 0 || d[j - 1] == '.'))
			continue;
		d[j++] = (char)tolower((unsigned char)*p);
	}
	while (j > 0 && d[j - 1] == '.')
		j--;
	d[j] = '\0';
	for (char *p = d; *p && n < RB_LABELS; ) {
		char *e = strchr(p, '.');
		lab[n] = p;
		len[n] = e ? (size_t)(e - p) : strlen(p);
		n++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	/* labels go to the host part until what is left is a public suffix
	 * or a single label; then one comes back */
	while (n - first > 1) {
		size_t left = n - first;
		const char *rest = lab[first];
		if (left == 2 && rb_has(rb, 1, rest))
			break;
		if (left == 3) {
			if (len[first + 2] == 2 && strncmp(lab[first + 2], "us", 2) == 0) {
				if (us_state(lab[first + 1], len[first + 1]))
					break;
			} else if (rb_has(rb, 2, rest))
				break;
		}
		if (left == 4 && len[first + 3] == 2 && strncmp(lab[first + 3], "us", 2) == 0 &&
		    ((len[first] == 3 && strncmp(lab[first], "pvt", 3) == 0 &&
		    len[first + 1] == 3 && strncmp(lab[first + 1], "k12", 3) == 0) ||
		    (len[first] == 2 && (strncmp(lab[first], "ci", 2) == 0 ||
		    strncmp(lab[first], "co", 2) == 0))) &&
		    us_state(lab[first + 2], len[first + 2]))
			break;
		first++;
	}
	if (first > 0)
		first--;
	snprintf(out, outlen, "%s", n > 0 ? lab[first] : "");
}

/* ---- more HeaderEval tests ---- */

int
he_missing_to(const struct mime_msg *m)
{
	return mime_header_get(m, "To") == NULL && mime_header_get(m, "Apparently-To") == NULL;
}

int
he_unresolved_template(const struct mime_msg *m)
{
	static const char tpl[] = "%[A-Z][A-Z_-]";
	static const char skip[] = "^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|"
	    "In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):";
	struct buf line;
	int r = 0;

	buf_init(&line, 1024 * 1024);
	/* each line of "Name: value" (a decoded value may hold more) */
	for (size_t i = 0; i < m->nhdrs && !r; i++) {
		const char *v = m->hdrs[i].value;
		buf_reset(&line);
		(void)buf_printf(&line, "%s: ", m->hdrs[i].name);
		for (int head = 1; ; head = 0) {
			size_t k = strcspn(v, "\n");
			(void)buf_append(&line, v, k);
			if (match(tpl, "", 0, buf_cstr(&line), NULL, 0) &&
			    !(head && match(skip, "", PCRE2_CASELESS, buf_cstr(&line), NULL, 0))) {
				r = 1;
				break;
			}
			if (v[k] == '\0')
				break;
			v += k + 1;
			buf_reset(&line);
		}
	}
	buf_free(&line);
	return r;
}

/* Every header called name as SpamAssassin's get() gives it: each value
 * unfolded (sa_unfold), with a newline; 0 when there is none. */
static int
get_all(const struct mime_msg *m, const char *name, struct buf *b)
{
	int found = 0;

	for (size_t i = 0; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0) {
			char *u = sa_unfold(m->hdrs[i].raw);
			size_t n = strlen(u);
			while (n > 0 && isspace((unsigned char)u[n - 1]))
				n--;        /* (as it stores values: trimmed) */
			(void)buf_append(b, u, n);
			(void)buf_appendc(b, '\n');
			free(u);
			found = 1;
		}
	return found;
}

int
he_gated_through_rcvd_remover(const struct mime_msg *m)
{
	struct buf list, dlto, rcvd;
	int r = 0, have_rcvd;

	buf_init(&list, 1024 * 1024);
	buf_init(&dlto, 1024 * 1024);
	buf_init(&rcvd, 1024 * 1024);
	have_rcvd = get_all(m, "Received", &rcvd);
	if (get_all(m, "Mailing-List", &list) &&
	    match("^contact \\S+\\@\\S+\\; run by ezmlm$", "", PCRE2_MULTILINE,
	    buf_cstr(&list), NULL, 0)) {
		(void)get_all(m, "Delivered-To", &dlto);
		r = match("^mailing list \\S+\\@\\S+", "", PCRE2_MULTILINE, buf_cstr(&dlto),
		    NULL, 0) &&
		    match("qmail \\d+ invoked (?:from network|by .{3,20})\\); \\d+ ... \\d+",
		    "", 0, buf_cstr(&rcvd), NULL, 0);
	}
	if (!r)
		r = !have_rcvd || match("from groups\\.msn\\.com \\(\\S+\\.msn\\.com ", "", 0,
		    buf_cstr(&rcvd), NULL, 0);
	buf_free(&list);
	buf_free(&dlto);
	buf_free(&rcvd);
	return r;
}

char *
he_addr(const struct mime_msg *m, const char *name)
{
	const char *v = first(m, name, 0);

	return v != NULL ? mime_addr(v) : xstrdup("");
}

/* The text after the last '@' of an address, cut to its last two
 * labels (its check_equal_from_domains), into d. */
static void
two_labels(const char *addr, char *d, size_t n)
{
	const char *at = strrchr(addr, '@'), *p, *dot1 = NULL, *dot2 = NULL;

	d[0] = '\0';
	if (at == NULL)
		return;
	for (p = at + 1; *p; p++)
		if (*p == '.') {
			dot2 = dot1;
			dot1 = p;
		}
	/* "x.y.z" -> "y.z" when something precedes the second-last dot
	 * and both labels after it are not empty */
	if (dot2 != NULL && dot2 > at + 1 && dot1 > dot2 + 1 && dot1[1] != '\0')
		at = dot2;
	snprintf(d, n, "%s", at + 1);
}

int
he_equal_from_domains(const struct mime_msg *m, const char *envfrom)
{
	char *from = he_addr(m, "From");
	char fd[256], ed[256];

	two_labels(from, fd, sizeof(fd));
	two_labels(envfrom, ed, sizeof(ed));
	free(from);
	return fd[0] != '\0' && ed[0] != '\0' && strcasecmp(fd, ed) != 0;
}

/* ---- RelayEval ---- */

/* Four decimal numbers 0-255 without leading zeros, dot-separated
 * (SpamAssassin's IS_IPV4_ADDRESS). */
static int
is_ipv4(const char *s)
{
	for (int k = 0; k < 4; k++) {
		int v = 0, nd = 0;
		for (; isdigit((unsigned char)*s) && nd <= 3; s++, nd++)
			v = v * 10 + (*s - '0');
		if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && s[-nd] == '0'))
			return 0;
		if (k < 3 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

int
re_helo_ip_mismatch(const struct relays *rl)
{
	size_t end = rl->ntrusted + rl->nuntrusted;

	for (size_t i = rl->ntrusted; i < end && i < RELAYS_KEPT; i++) {
		const struct relay *r = &rl->v[i];
		const char *d;
		if (!is_ipv4(r->helo) || relay_ip_private(r->helo))
			continue;
		/* the HELO's first three numbers and their dots */
		d = strrchr(r->helo, '.');
		if (is_ipv4(r->ip) && !relay_ip_private(r->ip) && strcmp(r->helo, r->ip) != 0 &&
		    strncmp(r->ip, r->helo, (size_t)(d - r->helo) + 1) != 0)
			return 1;
	}
	return 0;
}

/* Its hostname_to_domain(): an address as it is; the last two labels when
 * the last has three characters or more, or is "ie", "fr" or "de" (or
 * contains them), else the last three; lower case. */
static void
host_domain(const char *host, char *out, size_t n)
{
	char h[RELAY_FIELD_MAX];
	const char *p, *start;
	int labels = 0, letters = 0;
	size_t hl;

	for (hl = 0; host[hl] && hl + 1 < sizeof(h); hl++) {
		h[hl] = (char)tolower((unsigned char)host[hl]);
		letters |= isalpha((unsigned char)host[hl]) != 0;
	}
	/* (Perl's split drops empty trailing fields) */
	while (hl > 0 && h[hl - 1] == '.')
		hl--;
	h[hl] = '\0';
	if (!letters) {
		snprintf(out, n, "%s", h);
		return;
	}
	for (p = h; *p; p++)
		labels += *p == '.';
	labels += 1;
	{
		const char *last = strrchr(h, '.');
		const char *l = last ? last + 1 : h;
		int big = 0;
		size_t run = 0;
		for (const char *q = l; *q; q++) {
			run = isspace((unsigned char)*q) ? 0 : run + 1;
			if (run >= 3)
				big = 1;
		}
		if (strstr(l, "ie") || strstr(l, "fr") || strstr(l, "de"))
			big = 1;
		int keep = labels > 1 && big ? 2 : labels > 2 ? 3 : labels;
		start = h + hl;
		for (int k = 0; k < keep && start > h; ) {
			start--;
			if (*start == '.' && ++k == keep) {
				start++;
				break;
			}
		}
	}
	snprintf(out, n, "%s", start);
}

/* ^\w+(?:[\w.-]+\.)+\w+$ : a dotted name of word characters */
static int
dotted_name(const char *s)
{
	size_t n = strlen(s);
	const char *last = strrchr(s, '.');

	if (n == 0 || last == NULL || last == s || last[1] == '\0')
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			return 0;
	/* first character and everything after the last dot: word characters */
	if (!isalnum((unsigned char)s[0]) && s[0] != '_')
		return 0;
	for (const char *p = last + 1; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	/* a word character and at least one more before the last dot */
	return last - s >= 2;
}

int
re_forged_received_trail(const struct relays *rl)
{
	size_t end = rl->ntrusted + rl->nuntrusted, mismatch = 0;
	char prev[RELAY_FIELD_MAX] = "";
	int have_prev = 0;

	if (end > RELAYS_KEPT)
		end = RELAYS_KEPT;
	for (size_t i = rl->ntrusted; i < end; i++) {
		const struct relay *r = &rl->v[i];
		char by[RELAY_FIELD_MAX], from[RELAY_FIELD_MAX];
		int from_ok;
		host_domain(r->by, by, sizeof(by));
		host_domain(r->rdns, from, sizeof(from));
		from_ok = !(strcmp(r->ip, "127.0.0.1") == 0 &&
		    (strcmp(from, "localhost") == 0 || strcmp(from, "localhost.localdomain") == 0));
		if (dotted_name(by) && have_prev && dotted_name(prev) && strcmp(by, prev) != 0 &&
		    !(strcmp(by, "msn.com") == 0 && strcmp(prev, "hotmail.com") == 0))
			mismatch++;
		/* (a relay whose by is no dotted name leaves its from
		 * unchanged, localhost included) */
		if (!dotted_name(by) || from_ok) {
			snprintf(prev, sizeof(prev), "%s", from);
			have_prev = 1;
		} else
			have_prev = 0;
	}
	return mismatch > 1;
}

int
re_mailfrom_matches_rcvd(const struct relays *rl, const struct rb_lists *rb,
    const char *envfrom)
{
	const char *at = strrchr(envfrom, '@');
	char ad[256], rd[256];
	size_t from, to;
	int dotted = 0;

	/* / \@ ( [^\@]+ \. [^\@]+ ) \z/x: a dot with something on both
	 * sides after the last '@' */
	if (at == NULL || at[1] == '\0')
		return 0;
	for (const char *p = at + 2; *p && p[1]; p++)
		dotted |= *p == '.';
	if (!dotted)
		return 0;
	if (rl->nuntrusted > 0) {
		from = rl->ntrusted;
		to = from + 1;
	} else {
		from = 0;
		to = rl->ntrusted;
	}
	if (to > RELAYS_KEPT)
		to = RELAYS_KEPT;
	rb_domain(rb, at + 1, ad, sizeof(ad));
	for (size_t i = from; i < to; i++) {
		if (rl->v[i].rdns[0] == '\0')
			continue;
		rb_domain(rb, rl->v[i].rdns, rd, sizeof(rd));
		if (strcmp(ad, rd) == 0)
			return 1;
	}
	return 0;
}

int
he_freemail_role(const char *email)
{
	static const char role[] = "^(?:abuse|support|sales|info|helpdesk|contact|kontakt"
	    "|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-"
	    "|[a-f0-9]{8}(?:\\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})"
	    "|.+=.+=.+)\\@";

	return match(role, "", PCRE2_CASELESS | PCRE2_EXTENDED, email, NULL, 0);
}

/* A rule's argument pattern is the same on every message: compiled on
 * first use and kept by its text (once per process, not for use from
 * several threads; past HE_ARGS_MAX patterns, compiled per call). */
#define HE_ARGS_MAX 32
static struct {
	char *pat;
	pcre2_code *re;
} he_args[HE_ARGS_MAX];

int
he_match(const char *pat, const char *s)
{
	size_t k;
	int err, rc;
	PCRE2_SIZE off;
	pcre2_match_data *md;

	for (k = 0; k < HE_ARGS_MAX && he_args[k].pat != NULL; k++)
		if (strcmp(he_args[k].pat, pat) == 0)
			break;
	if (k == HE_ARGS_MAX)
		return he_match_opts(pat, s, 0);
	if (he_args[k].pat == NULL) {
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &err,
		    &off, NULL);
		if (re == NULL)
			return 0;       /* (not kept: tried again, and failing, next time) */
		spam_jit_fixed(re);
		he_args[k].pat = xstrdup(pat);
		he_args[k].re = re;
	}
	md = pcre2_match_data_create_from_pattern(he_args[k].re, NULL);
	rc = pcre2_match(he_args[k].re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, match_ctx());
	pcre2_match_data_free(md);
	return rc >= 0;
}

int
he_match_opts(const char *pat, const char *s, uint32_t opts)
{
	int err, rc;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &err, &off,
	    NULL);
	pcre2_match_data *md;

	if (re == NULL)
		return 0;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, match_ctx());
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0;
}

/* ---- ok_locales (SpamAssassin's Locales.pm) ---- */

int
locales_all(const char *locales)
{
	const char *p = locales;

	if (locales == NULL)
		return 1;
	while (*p) {
		size_t n;
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 3 && strncmp(p, "all", 3) == 0)
			return 1;
		p += n;
	}
	return 0;
}

int
locale_charset_ok(const char *charset, const char *locales)
{
	static const struct { const char *loc, *cs; } table[] = {
		{ "ja", " EUCJP JISX020119760 JISX020819830 JISX020819900 JISX020819970 "
		    "JISX021219900 JISX021320001 JISX021320002 SHIFT_JIS SHIFTJIS "
		    "ISO2022JP SJIS JIS7 JISX0201 JISX0208 JISX0212 " },
		{ "ko", " EUCKR KSC56011987 " },
		{ "ru", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "ka", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "tg", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "be", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "uk", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "bg", " KOI8R KOI8U KOI8T ISOIR111 CP1251 GEORGIANPS PT154 CP866 " },
		{ "th", " TIS620 " },
		{ "zh", " GB1988 GB2312 GB231219800 GB18030 GBK BIG5HKSCS BIG5 EUCTW ISO2022CN " },
	};
	static const char *const always_prefix[] = {
		"ISO8859", "ISO10646", "UTF", "UCS", "CP125", "WINDOWS", "UNICODE11UTF7",
		"UNICODE11UTF8",
	};
	char cs[64], key[68];
	size_t n = 0;
	const char *p;

	/* upper case, letters and digits only, a leading "3D" (broken by
	 * quoted-printable) off, up to a ':' (several charsets: the first) */
	for (p = charset; *p && *p != ':' && n + 1 < sizeof(cs); p++)
		if (isalnum((unsigned char)*p))
			cs[n++] = (char)toupper((unsigned char)*p);
	cs[n] = '\0';
	if (strncmp(cs, "3D", 2) == 0)
		memmove(cs, cs + 2, n - 1);
	if (strcmp(cs, "USASCII") == 0 || strcmp(cs, "ASCII") == 0 ||
	    strcmp(cs, "IBM852") == 0 || strcmp(cs, "XUNKNOWN") == 0 || strcmp(cs, "ISO") == 0)
		return 1;
	for (size_t i = 0; i < sizeof(always_prefix) / sizeof(always_prefix[0]); i++)
		if (strncmp(cs, always_prefix[i], strlen(always_prefix[i])) == 0)
			return 1;
	snprintf(key, sizeof(key), " %s ", cs);
	for (p = locales != NULL ? locales : ""; *p; ) {
		char loc[3] = "en";
		size_t ln;
		p += strspn(p, " \t");
		ln = strcspn(p, " \t");
		if (ln == 0)
			break;
		/* "zh_TW" -> "zh"; "C" -> "en" */
		if (ln >= 2 && islower((unsigned char)p[0]) && islower((unsigned char)p[1])) {
			loc[0] = p[0];
			loc[1] = p[1];
		}
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			if (strcmp(table[i].loc, loc) == 0 && strstr(table[i].cs, key) != NULL)
				return 1;
		p += ln;
	}
	return 0;
}

/* The charset parameter of a Content-Type value as its
 * get_charset_from_ct_line() reads it, into cs; 0 when there is none. */
static int
ct_charset(const char *ct, char *cs, size_t n)
{
	const char *p;

	for (p = ct; (p = strcasestr(p, "charset=")) != NULL; p++) {
		const char *v = p + 8;
		size_t len;
		if (*v == '"' || *v == '\'') {
			const char *e = strchr(v + 1, *v);
			if (e == NULL || e == v + 1)
				continue;
			len = (size_t)(e - v - 1);
			v++;
		} else {
			len = strcspn(v, " \t\r\n");
			if (len == 0)
				continue;
		}
		snprintf(cs, n, "%.*s", (int)len, v);
		return 1;
	}
	return 0;
}

int
he_faraway_charset(const struct mime_msg *m, const char *locales)
{
	const char *ct = first(m, "Content-Type", 0);
	char cs[128];
	size_t hi = 0, lo = 0;

	if (locales_all(locales) || ct == NULL || !ct_charset(ct, cs, sizeof(cs)) ||
	    locale_charset_ok(cs, locales))
		return 0;
	/* its are_more_high_bits_set() on the body text: its bytes, as
	 * it counts them in the UTF-8 it made of the text */
	for (size_t i = 0; i < m->body.len; i++) {
		if ((unsigned char)m->body.data[i] < 0x80)
			lo++;
		else
			hi++;
	}
	return lo <= hi && hi > 3;
}

int
he_faraway_charset_headers(const struct mime_msg *m, const char *locales)
{
	static const char *const hdrs[] = { "From", "Subject" };

	if (locales_all(locales))
		return 0;
	for (size_t h = 0; h < 2; h++)
		for (size_t i = 0; i < m->nhdrs; i++) {
			const char *v = m->hdrs[i].raw;
			if (strcasecmp(m->hdrs[i].name, hdrs[h]) != 0)
				continue;
			/* =\?(.+?)\?.\?.*?\?= */
			for (const char *p = v; (p = strstr(p, "=?")) != NULL; p += 2) {
				const char *q = p[2] != '\0' ? strchr(p + 3, '?') : NULL, *e;
				char cs[128];
				if (q == NULL || q[1] == '\0' || q[2] != '?')
					continue;
				/* no "?=" after this word's start: none after
				 * any later word's either (searching again from
				 * each one was quadratic) */
				if ((e = strstr(q + 3, "?=")) == NULL)
					break;
				snprintf(cs, sizeof(cs), "%.*s", (int)(q - p - 2), p + 2);
				if (!locale_charset_ok(cs, locales))
					return 1;
				p = e;
			}
		}
	return 0;
}

int
he_mime_faraway_charset(const struct mime_msg *m, const char *locales)
{
	if (locales_all(locales))
		return 0;
	for (size_t i = 0; i < m->nparts; i++) {
		const char *cs = m->parts[i].charset;
		int letter = 0;
		for (const char *p = cs; *p; p++)
			letter |= isalpha((unsigned char)*p) != 0;
		if (letter && !locale_charset_ok(cs, locales))
			return 1;
	}
	return 0;
}

int
he_bulk_envfrom(const char *envfrom)
{
	static const char bulk[] = "(?:^(?:post|host|domain)master|^double-bounce"
	    "|^(?:sentto|owner|return|(?:gr)?bounced?)-.+|-(?:request|bounces?|admin|owner)"
	    "|\\b(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)\\@";

	return match(bulk, "", 0, envfrom, NULL, 0);
}

/* ---- forged webmail trails (HeaderEval) ---- */

/* An IPv4 address (a dotted quad of 0-255, not after ':') or an IPv6
 * one (hex groups and colons, an IPv4 tail allowed), as a pattern. */
#define IP_RE "(?:\\b(?<!:)(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)" \
	"(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}\\b" \
	"|(?:IPv6:|(?<![a-f0-9:]))(?:[a-f0-9]{0,4}:){2,7}(?:[a-f0-9]{1,4}" \
	"|(?:\\d{1,3}\\.){3}\\d{1,3})?(?![a-f0-9:]))"

/* get(name): every value, each with a newline; "" for none; with
 * blanks: white space runs one blank (its s/\s+/ /gs) */
static char *
get_joined(const struct mime_msg *m, const char *name, int squash)
{
	struct buf b;

	buf_init(&b, 4 * 1024 * 1024);
	(void)get_all(m, name, &b);
	if (squash) {
		size_t j = 0;
		for (size_t i = 0; i < b.len; i++) {
			int sp = isspace((unsigned char)b.data[i]);
			if (sp && j > 0 && b.data[j - 1] == ' ')
				continue;
			b.data[j++] = sp ? ' ' : b.data[i];
		}
		buf_truncate(&b, j);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* the first From: address ends in "domain" (as a word) */
static int
from_at(const struct mime_msg *m, const char *pat)
{
	char *a = he_addr(m, "From");
	int r = match(pat, "", PCRE2_CASELESS, a, NULL, 0);

	free(a);
	return r;
}

int
he_forged_gmail(const struct mime_msg *m)
{
	char *xgms, *xss, *xr, *rcvd;
	int r;

	if (!from_at(m, "\\bgmail\\.com$"))
		return 0;
	xgms = get_joined(m, "X-Gm-Message-State", 0);
	xss = get_joined(m, "X-Google-Smtp-Source", 0);
	xr = get_joined(m, "X-Received", 0);
	rcvd = get_joined(m, "Received", 0);
	r = !(match("by 10\\.\\S+ with SMTP id \\S+", "", 0, xr, NULL, 0) ||
	    match("by 2002\\:a\\d\\d\\:\\w+\\:\\S+ with SMTP id \\S+", "", 0, xr, NULL, 0) ||
	    match("by smtp\\.googlemail\\.com with ESMTPSA id \\S+", "", 0, rcvd, NULL, 0) ||
	    (strlen(xgms) >= 60 && strlen(xss) >= 60));
	free(xgms);
	free(xss);
	free(xr);
	free(rcvd);
	return r;
}

int
he_forged_yahoo(const struct mime_msg *m, const struct relays *rl)
{
	char *rcvd, *from;
	int r = 1;

	if (!from_at(m, "\\byahoo\\.com$"))
		return 0;
	rcvd = get_joined(m, "Received", 1);
	if (mime_header_get(m, "Resent-From") != NULL && mime_header_get(m, "Resent-To") != NULL) {
		char *x = get_joined(m, "X-Received", 1);
		if (x[0] != '\0') {
			free(rcvd);
			rcvd = x;
		} else
			free(x);
	}
	from = he_addr(m, "From");
	if (he_gated_through_rcvd_remover(m) ||
	    match(" rdns=\\S+\\.yahoo\\.com ", "", 0, rl->trusted, NULL, 0) ||
	    match("^[^\\]]+ rdns=\\S+\\.yahoo\\.com ", "", 0, rl->untrusted, NULL, 0) ||
	    match("by web\\S+\\.mail\\S*\\.yahoo\\.com via HTTP", "", 0, rcvd, NULL, 0) ||
	    match("by sonic\\S+\\.consmr\\.mail\\S*\\.yahoo\\.com with HTTP", "", 0, rcvd,
	    NULL, 0) ||
	    match("by smtp\\S+\\.yahoo\\.com with SMTP", "", 0, rcvd, NULL, 0) ||
	    match("from \\[" IP_RE "\\] by \\S+\\.(?:groups|scd|dcn)\\.yahoo\\.com with NNFMP",
	    "", 0, rcvd, NULL, 0) ||
	    (match("\\bmailer\\d+\\.bulk\\.scd\\.yahoo\\.com\\b", "", 0, rcvd, NULL, 0) &&
	    match("\\@reply\\.yahoo\\.com$", "", PCRE2_CASELESS, from, NULL, 0)) ||
	    match("by \\w+\\.\\w+\\.yahoo\\.com \\(\\d+\\.\\d+\\.\\d+\\/\\d+\\.\\d+\\.\\d+\\)"
	    "(?: with ESMTP)? id \\w+", "", 0, rcvd, NULL, 0))
		r = 0;
	free(rcvd);
	free(from);
	return r;
}

int
he_forged_eudoramail(const struct mime_msg *m)
{
	const char *ip;
	char *rcvd;
	int r;

	if (!from_at(m, "\\beudoramail\\.com$"))
		return 0;
	ip = first(m, "X-Sender-Ip", 0);
	rcvd = get_joined(m, "Received", 1);
	r = !(he_gated_through_rcvd_remover(m) ||
	    (match("by \\S*whowhere.com\\;", "", 0, rcvd, NULL, 0) && ip != NULL &&
	    match(IP_RE, "", 0, ip, NULL, 0)));
	free(rcvd);
	return r;
}

int
he_forged_juno(const struct mime_msg *m)
{
	const char *xo, *xm;
	char *rcvd;
	int r = 0;

	if (!from_at(m, "\\bjuno\\.com$") || he_gated_through_rcvd_remover(m))
		return 0;
	xo = first(m, "X-Originating-IP", 0);
	xm = first(m, "X-Mailer", 0);
	xo = xo != NULL ? xo : "";
	xm = xm != NULL ? xm : "";
	rcvd = get_joined(m, "Received", 1);
	if (xo[0] != '\0') {
		/* new style Juno has no X-Originating-IP */
		r = (!match("from.*\\b(?:juno|untd)\\.com.*[\\[\\(]" IP_RE "[\\]\\)].*by", "", 0,
		    rcvd, NULL, 0) && !match(" cookie\\.(?:juno|untd)\\.com ", "", 0, rcvd, NULL, 0)) ||
		    strstr(xm, "Juno ") == NULL;
	} else {
		/* (the plugin's tests here all end in "X-Originating-IP has
		 * no address", which an empty one has not) */
		r = 1;
	}
	free(rcvd);
	return r;
}

int
he_ma_non_text(const struct mime_msg *m)
{
	for (size_t i = 0; i < m->nparts; i++) {
		if (strcmp(m->parts[i].ctype, "multipart/alternative") != 0)
			continue;
		for (size_t k = i + 1; k < m->nparts && m->parts[k].depth > m->parts[i].depth; k++) {
			const struct mime_part *p = &m->parts[k];
			if (p->depth != m->parts[i].depth + 1 || !mime_leaf(p))
				continue;
			if (strcmp(p->ctype, "multipart/related") != 0 &&
			    strcmp(p->ctype, "application/rtf") != 0 &&
			    strncmp(p->ctype, "text/", 5) != 0)
				return 1;
		}
	}
	return 0;
}

unsigned
he_stock_info(const struct mime_msg *m)
{
	static pcre2_code *re;
	static int failed;
	char seen[16][32];
	unsigned n = 0;
	pcre2_match_data *md;

	if (re == NULL && !failed) {
		int err;
		PCRE2_SIZE off;
		re = pcre2_compile((PCRE2_SPTR)"(^trad(?:e|ing)date|company(?:name)?|"
		    "s\\w?(?:t\\w?o\\w?c\\w?k|y\\w?m(?:\\w?b\\w?o\\w?l)?)|t(?:arget|icker)|"
		    "(?:opening|current)p(?:rice)?|p(?:rojected|osition)|expectations|"
		    "weeks?high|marketperformance|(?:year|week|month|day|price)(?:target|estimates?)|"
		    "sector|r(?:ecommendation|ating))$", PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
		failed = re == NULL;
		if (re != NULL)
			spam_jit_fixed(re);
	}
	if (re == NULL || m->labels.len == 0)
		return 0;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	for (size_t i = 0; i < m->labels.len;) {
		const char *l = m->labels.data + i + 1;   /* after its NUL */
		size_t len = strnlen(l, m->labels.len - i - 1);
		i += len + 1;
		if (pcre2_match(re, (PCRE2_SPTR)l, len, 0, 0, md, match_ctx()) >= 2) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			size_t kl = ov[3] - ov[2], k;
			for (k = 0; k < n; k++)
				if (strlen(seen[k]) == kl && memcmp(seen[k], l + ov[2], kl) == 0)
					break;
			if (k == n && n < NELEM(seen) && kl < sizeof(seen[0])) {
				memcpy(seen[n], l + ov[2], kl);
				seen[n++][kl] = '\0';
			}
		}
	}
	pcre2_match_data_free(md);
	return n;
}

int
he_fake_aol_relay(const struct mime_msg *m)
{
	char *rcvd = get_joined(m, "Received", 1);
	int r = match(" rly-[a-z][a-z]\\d\\d\\.", "", PCRE2_CASELESS, rcvd, NULL, 0) &&
	    !match("\\/AOL-\\d+\\.\\d+\\.\\d+\\)", "", 0, rcvd, NULL, 0) &&
	    !match("ESMTP id (?:RELAY|MAILRELAY|MAILIN)", "", 0, rcvd, NULL, 0);

	free(rcvd);
	return r;
}

/* its check_for_msn_groups_headers(): a post an MSN group's server sent */
static int
msn_group_post(const struct mime_msg *m, const char *envfrom)
{
	char *to = get_joined(m, "To", 0), *rcvd = get_joined(m, "Received", 0);
	char *mid = get_joined(m, "Message-Id", 0), list[256] = "", server[256] = "";
	int r = 0;

	if (match("<(\\S+)\\@groups\\.msn\\.com>", "", PCRE2_CASELESS, to, list, sizeof(list)) &&
	    match("from mail pickup service by ((?:p\\d\\d\\.)groups\\.msn\\.com)\\b", "", 0,
	    rcvd, server, sizeof(server))) {
		if (strcmp(list, "notifications") == 0) {
			r = match("^<\\S+\\@%Q>", server, 0, mid, NULL, 0);
		} else if (match("^<%Q-\\S+\\@groups\\.msn\\.com>", list, 0, mid, NULL, 0)) {
			r = match("%Q-bounce\\@groups\\.msn\\.com", list, 0, envfrom, NULL, 0);
		}
	}
	free(to);
	free(rcvd);
	free(mid);
	return r;
}

int
he_hotmail_trail(const struct mime_msg *m, const char *envfrom)
{
	char *rcvd = get_joined(m, "Received", 1), *ip = NULL, *orig = NULL, *from = NULL;
	int r = 0, has_ip, has_orig;

	if (match("from mail pickup service by hotmail\\.com with Microsoft SMTPSVC;", "", 0,
	    rcvd, NULL, 0) || msn_group_post(m, envfrom) || he_gated_through_rcvd_remover(m))
		goto out;
	ip = get_joined(m, "X-Originating-Ip", 0);
	orig = get_joined(m, "X-OriginatorOrg", 0);
	has_ip = match(IP_RE, "", 0, ip, NULL, 0);
	has_orig = match("hotmail\\.com|msonline\\-outlook", "", 0, orig, NULL, 0);
	if ((has_ip && match("from (?:\\S*\\.)?hotmail.com \\(\\S+\\.hotmail(?:\\.msn)?\\.com[ \\)]",
	    "", 0, rcvd, NULL, 0)) ||
	    (has_orig && match("from \\S*\\.outbound\\.protection\\.outlook\\.com "
	    "\\(\\S+\\.outbound\\.protection\\.outlook\\.com[ \\)]", "", 0, rcvd, NULL, 0)) ||
	    (has_orig && match("from \\S*\\.(?:eur|nam)prd\\d+\\.prod\\.outlook\\.com \\("
	    IP_RE "\\)", "", 0, rcvd, NULL, 0)) ||
	    (has_ip && match("from \\S*\\.hotmail.com \\(\\[" IP_RE "\\][ \\):]", "", 0, rcvd,
	    NULL, 0)) ||
	    (has_ip && match("from \\S+ by \\S+\\.hotmail(?:\\.msn)?\\.com with HTTP\\;", "", 0,
	    rcvd, NULL, 0)) ||
	    (has_ip && match("from \\[66\\.218.\\S+\\] by \\S+\\.yahoo\\.com", "", 0, rcvd,
	    NULL, 0)))
		goto out;
	if (match("(?:from |HELO |helo=)\\S*hotmail\\.com\\b", "", 0, rcvd, NULL, 0)) {
		r = 1;
	} else {
		from = he_addr(m, "From");
		r = match("\\bhotmail\\.com$", "", PCRE2_CASELESS, from, NULL, 0) ? 2 : 0;
	}
out:
	free(rcvd);
	free(ip);
	free(orig);
	free(from);
	return r;
}

static int fqdn_valid(const char *h);

/* ---- SpamAssassin 4's address parser ---- */

#define SA_QS "\"(?:|(?:[^\"\\\\]++|\\\\.)*+)\""
#define SA_MAILRE "(?:" SA_QS "|[^@\\s<>()\\[\\],:;]+)\\@(?:[^\"\\s<>()\\[\\],:;]+|\\[[\\d:.]+\\])"
#define SA_COMMENT "\\((?:|(?:[^()\\\\]++|\\\\.)*+)\\)"

enum { SA_RE_ADDR, SA_RE_MAIL, SA_RE_MAIL_LT, SA_RE_COMMENT, SA_RE_MAIL_ANY, SA_RE_N };
static const char *const sa_addr_pats[SA_RE_N] = {
	/* its $header_address_re: (1) phrase and (2) <address>, or (3) an
	 * address, or (4) a phrase; (5) a comment after */
	"^\\s*(?:(?:((?:" SA_QS "|[^\",;<]++)+)\\s*)?<\\s*([^>@]*\\S+|\\s*)\\s*>"
	    "(?:\\s*<\\s*(?:(?:" SA_QS ")?\\S+|\\s*)\\s*>)*|(" SA_MAILRE ")|((?:"
	    SA_QS "|[^\",;<]++)+))(?:\\s*\\(((?:|(?:[^()\\\\]++|\\\\.)*+))\\))?\\s*(?:[,;]|\\z)",
	"^" SA_MAILRE "$",
	"<(" SA_MAILRE ")>",
	SA_COMMENT,
	SA_MAILRE,
};
static pcre2_code *sa_addr_re[SA_RE_N];

static pcre2_code *
sa_re(int k)
{
	if (sa_addr_re[k] == NULL) {
		int err;
		PCRE2_SIZE off;
		sa_addr_re[k] = pcre2_compile((PCRE2_SPTR)sa_addr_pats[k], PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS, &err, &off, NULL);
		if (sa_addr_re[k] == NULL)
			abort();        /* a fixed pattern: a build error */
		spam_jit_fixed(sa_addr_re[k]);
	}
	return sa_addr_re[k];
}

static int
sa_full_mail(const char *s, size_t n)
{
	pcre2_match_data *md = pcre2_match_data_create(2, NULL);
	int rc;

	rc = pcre2_match(sa_re(SA_RE_MAIL), (PCRE2_SPTR)s, n, 0, 0, md, match_ctx());
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* s[0..n) without its comments "(...)" (no nesting), into a new string */
static char *
sa_strip_comments(const char *s, size_t n)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	struct buf b;
	size_t at = 0;

	buf_init(&b, BUF_UNLIMITED);
	while (at <= n && pcre2_match(sa_re(SA_RE_COMMENT), (PCRE2_SPTR)s, n, at, 0, md,
	    match_ctx()) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		(void)buf_append(&b, s + at, ov[0] - at);
		at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	if (at < n)
		(void)buf_append(&b, s + at, n - at);
	pcre2_match_data_free(md);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

/* its _valid_parsed_address(): not '""@...', not a single '"' */
static int
sa_valid_parsed(const char *a)
{
	size_t q = 0;

	for (const char *p = a; *p; p++)
		q += *p == '"';
	return strncmp(a, "\"\"@", 3) != 0 && q != 1;
}

/* an address cut after the part behind its first '@' (a second '@' and
 * what follows dropped) */
static void
sa_cut_at2(char *a)
{
	char *at = strchr(a, '@');

	if (at != NULL && (at = strchr(at + 1, '@')) != NULL)
		*at = '\0';
}

/* a phrase rebuilt: quoted parts unescaped (\x is x, \\ is \), comments
 * left out of the rest */
static char *
sa_phrase(const char *s, size_t n)
{
	struct buf b;

	buf_init(&b, BUF_UNLIMITED);
	for (size_t i = 0, j; i < n; i = j) {
		if (s[i] == '"') {
			for (j = i + 1; j < n && s[j] != '"'; j += s[j] == '\\' && j + 1 < n ? 2 : 1)
				;
			for (size_t k = i + 1; k < j && k < n; k++) {
				if (s[k] == '\\' && k + 1 < j && s[k + 1] == '\\')
					k++;    /* (the second one is kept) */
				else if (s[k] == '\\')
					continue;
				(void)buf_appendc(&b, s[k]);
			}
			j++;            /* (past the closing quote) */
		} else {
			char *c;
			for (j = i; j < n && s[j] != '"'; j++)
				;
			c = sa_strip_comments(s + i, j - i);
			(void)buf_appends(&b, c);
			free(c);
		}
	}
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

size_t
he_parse_addresses(const char *value, char **addr, char **name, size_t max)
{
	pcre2_match_data *md = pcre2_match_data_create(6, NULL);
	struct buf v;
	size_t n = 0, at = 0, len;
	const char *s;

	/* trailing white space off, "\\" pairs dropped */
	buf_init(&v, BUF_UNLIMITED);
	for (const char *p = value; *p; p++) {
		if (p[0] == '\\' && p[1] == '\\') {
			p++;
			continue;
		}
		(void)buf_appendc(&v, *p);
	}
	while (v.len > 0 && isspace((unsigned char)v.data[v.len - 1]))
		v.len--;
	s = v.data != NULL ? v.data : "";
	len = v.len;
	/* a group's "name:" (and all of an empty group "name:;") */
	{
		size_t k = strcspn(s, "\"()<>:");
		if (k > 0 && k < len && s[k] == ':') {
			k++;
			while (k < len && isspace((unsigned char)s[k]))
				k++;
			at = k < len && s[k] == ';' ? len : k;
		}
	}
	while (at < len && n < max &&
	    pcre2_match(sa_re(SA_RE_ADDR), (PCRE2_SPTR)s + at, len - at, 0, 0, md, match_ctx()) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		const char *b = s + at;
		char *a = NULL, *ph = NULL, *cm = NULL;
		int lt = ov[4] != PCRE2_UNSET;

		if (ov[2] != PCRE2_UNSET)
			ph = sa_phrase(b + ov[2], ov[3] - ov[2]);
		else if (ov[8] != PCRE2_UNSET)
			ph = sa_phrase(b + ov[8], ov[9] - ov[8]);
		if (lt) {
			a = sa_strip_comments(b + ov[4], ov[5] - ov[4]);
			if (!sa_full_mail(a, strlen(a)))
				FREE(a);
		} else if (ov[6] != PCRE2_UNSET) {
			a = xstrndup(b + ov[6], ov[7] - ov[6]);
		}
		if (a != NULL && !sa_valid_parsed(a))
			FREE(a);
		if (ov[10] != PCRE2_UNSET)
			cm = xstrndup(b + ov[10], ov[11] - ov[10]);
		if (ph != NULL) {
			const char *h = strchr(ph, '@');
			char host[256];
			size_t hl = h != NULL ? strcspn(h + 1, "@") : 0;
			if (a == NULL && h != NULL && sa_full_mail(ph, strlen(ph)) &&
			    sa_valid_parsed(ph) && hl < sizeof(host)) {
				memcpy(host, h + 1, hl);
				host[hl] = '\0';
				if (fqdn_valid(host)) {
					a = ph;
					ph = NULL;
				}
			}
			if (ph != NULL && ((a != NULL && strcmp(ph, a) == 0) || ph[0] == '\0'))
				FREE(ph);
		}
		if (ph == NULL && cm != NULL) {
			ph = cm;
			cm = NULL;
		}
		free(cm);
		if (a != NULL)
			sa_cut_at2(a);
		addr[n] = a;
		name[n] = ph;
		n++;
		if (ov[1] == 0)
			break;          /* (cannot be: every form takes a byte) */
		at += ov[1];
	}
	/* what is left with an '@': its <address> forms */
	if (at < len && memchr(s + at, '@', len - at) != NULL) {
		size_t q = at;
		while (n < max && q < len &&
		    pcre2_match(sa_re(SA_RE_MAIL_LT), (PCRE2_SPTR)s, len, q, 0, md, match_ctx()) >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			char *a = xstrndup(s + ov[2], ov[3] - ov[2]);
			q = ov[1];
			if (!sa_valid_parsed(a)) {
				free(a);
				continue;
			}
			sa_cut_at2(a);
			addr[n] = a;
			name[n] = NULL;
			n++;
		}
	}
	/* nothing found in a value with an '@': SpamAssassin asks
	 * Email::Address::XS, whose RFC 5322 parser takes the address it can
	 * read at the start of such a value; the first address form in it
	 * stands for that here (without a name) */
	if (n == 0 && max > 0 && memchr(s, '@', len) != NULL &&
	    pcre2_match(sa_re(SA_RE_MAIL_ANY), (PCRE2_SPTR)s, len, 0, 0, md, match_ctx()) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		char *a = xstrndup(s + ov[0], ov[1] - ov[0]);
		if (sa_valid_parsed(a)) {
			sa_cut_at2(a);
			addr[n] = a;
			name[n++] = NULL;
		} else {
			free(a);
		}
	}
	pcre2_match_data_free(md);
	buf_free(&v);
	return n;
}

char *
he_first_address(const char *value)
{
	char *a[16], *nm[16], *r = NULL;
	size_t n = he_parse_addresses(value, a, nm, NELEM(a));

	for (size_t k = 0; k < n; k++) {
		if (r == NULL && a[k] != NULL)
			r = a[k];
		else
			free(a[k]);
		free(nm[k]);
	}
	return r;
}

/* ---- an anchor's text against its link (HTML_TEXT_HREF) ---- */

struct href_rec {
	unsigned part;
	const char *href, *text;
	size_t hl, tl;
};

/* The next HTML_TEXT_HREF entry of b from *i; 0 at the end. */
static int
href_next(const struct buf *b, size_t *i, struct href_rec *h)
{
	while (*i < b->len) {
		const char *e = b->data + *i + 1, *end;   /* after its NUL */
		size_t n = strnlen(e, b->len - *i - 1);
		char *q;
		unsigned long part, hl;

		*i += n + 1;
		end = e + n;
		part = strtoul(e, &q, 10);
		if (q >= end || *q != ':')
			continue;
		hl = strtoul(q + 1, &q, 10);
		if (q >= end || *q != ':' || hl > (size_t)(end - q - 1))
			continue;
		h->part = (unsigned)part;
		h->href = q + 1;
		h->hl = hl;
		h->text = q + 1 + hl;
		h->tl = (size_t)(end - h->text);
		return 1;
	}
	return 0;
}

/* SpamAssassin's is_fqdn_valid(): at most 253 bytes without trailing
 * dots, two labels or more of 1-63 letters, digits, '_' and inner '-',
 * '_' only from the third level down. */
static int
fqdn_valid(const char *h)
{
	size_t n = strlen(h), labels = 1;

	while (n > 0 && h[n - 1] == '.')
		n--;
	if (n > 253)
		return 0;
	for (size_t i = 0; i < n; i++)
		labels += h[i] == '.';
	if (labels < 2)
		return 0;
	for (size_t i = 0, k = labels; i <= n; k--) {
		size_t j = i;
		while (j < n && h[j] != '.')
			j++;
		if (j == i || j - i > 63 || h[i] == '-' || h[j - 1] == '-')
			return 0;
		for (size_t x = i; x < j; x++)
			if (!(isalnum((unsigned char)h[x]) || h[x] == '_' || h[x] == '-') ||
			    (h[x] == '_' && k <= 2))
				return 0;
		i = j + 1;
	}
	return 1;
}

/* its is_domain_valid(): a dot, no blank, the last label a TLD */
static int
domain_valid(const struct rb_lists *rb, const char *d)
{
	const char *dot = strrchr(d, '.');

	return dot != NULL && dot[1] != '\0' && strpbrk(d, " \t\r\n\f\v") == NULL &&
	    rb_has(rb, 0, dot + 1);
}

/* uri_to_domain()'s /%(?:2[1-9a-f]|[3-6][0-9a-f]|7[0-9a-e])/ on a
 * lower-case name: a %-escape of a printable character (0x21-0x7e),
 * which it skips (the decoded form is in the list too). */
static int
escaped_printable(const char *h)
{
	for (const char *p = strchr(h, '%'); p != NULL; p = strchr(p + 1, '%')) {
		int hi = p[1], lo = hi != '\0' ? p[2] : '\0';
		if (!((hi >= '2' && hi <= '7') && ((lo >= '0' && lo <= '9') ||
		    (lo >= 'a' && lo <= 'f'))))
			continue;
		if (!(hi == '2' && lo == '0') && !(hi == '7' && lo == 'f'))
			return 1;
	}
	return 0;
}

/* The registered domain of an href "http(s)://host..." into out, or 0:
 * its host an address, or not a valid name with a known TLD (the
 * plugin's trim_domain, uri_to_domain and is_domain_valid). */
static int
href_domain(const struct rb_lists *rb, const char *href, size_t hl, char *out, size_t n)
{
	char host[256];
	size_t a, k = 0;

	if (hl >= 7 && strncasecmp(href, "http://", 7) == 0)
		a = 7;
	else if (hl >= 8 && strncasecmp(href, "https://", 8) == 0)
		a = 8;
	else
		return 0;
	while (a < hl && strchr("/:?#", href[a]) == NULL && k < sizeof(host) - 1)
		host[k++] = (char)tolower((unsigned char)href[a++]);
	host[k] = '\0';
	if (k == 0 || is_ipv4(host))
		return 0;
	rb_domain(rb, host, out, n);
	/* (uri_to_domain of the trimmed name: no %-escaped printable, a
	 * valid name, a known TLD) */
	return !escaped_printable(out) &&
	    fqdn_valid(out) && domain_valid(rb, out);
}

int
he_uri_has_domain(const struct rb_lists *rb, const char *uri, int ip)
{
	char *u = xstrdup(uri), *h = u, *c;
	int r = 0;

	str_lower(u);
	if (strncmp(u, "javascript:", 11) == 0 || strncmp(u, "cid:", 4) == 0 ||
	    strncmp(u, "file:", 5) == 0)
		goto out;
	if (strncmp(u, "mailto:", 7) == 0) {
		h = u + 7;
		h[strcspn(h, "?")] = '\0';
		if ((c = strchr(h, '@')) == NULL || strchr(c + 1, '@') != NULL)
			goto out;
		h = c + 1;
	} else {
		size_t k = 0;
		while (h[k] >= 'a' && h[k] <= 'z')
			k++;
		if (k > 0 && h[k] == ':') {     /* the scheme and up to two '/' */
			h += k + 1;
			for (int sl = 0; sl < 2 && *h == '/'; sl++)
				h++;
		}
		h[strcspn(h, "/?#")] = '\0';
		if ((c = strrchr(h, '@')) != NULL)
			h = c + 1;
		if ((c = strrchr(h, ':')) != NULL && strspn(c + 1, "0123456789") == strlen(c + 1))
			*c = '\0';
	}
	/* (an escaped printable: the decoded form is in the list too) */
	if (escaped_printable(h))
		goto out;
	{
		struct in6_addr a6;
		r = (ip && (is_ipv4(h) || inet_pton(AF_INET6, h, &a6) == 1)) ||
		    (fqdn_valid(h) && domain_valid(rb, h));
	}
out:
	free(u);
	return r;
}

static int
cmp_href(const void *x, const void *y)
{
	const struct href_rec *a = x, *b = y;
	int c = memcmp(a->href, b->href, a->hl < b->hl ? a->hl : b->hl);

	return c != 0 ? c : a->hl < b->hl ? -1 : a->hl > b->hl;
}

/* One HTML part's test: recs[0..n) its anchors (sorted here). */
static int
https_mismatch_part(const struct rb_lists *rb, struct href_rec *recs, size_t n,
    double min, int have_max, double max)
{
	unsigned anchors = 0;
	int hit = 0;

	qsort(recs, n, sizeof(*recs), cmp_href);
	for (size_t i = 0, e; i < n; i = e) {
		char dom[256];
		for (e = i + 1; e < n && cmp_href(&recs[i], &recs[e]) == 0; e++)
			;
		if (!href_domain(rb, recs[i].href, recs[i].hl, dom, sizeof(dom)))
			continue;
		anchors++;
		for (size_t k = i; k < e && !hit; k++) {
			const char *t = recs[k].text;
			size_t tl = recs[k].tl, a, j;
			char host[256], d[256];
			for (a = 0; a + 8 <= tl && strncasecmp(t + a, "https://", 8) != 0; a++)
				;
			if (a + 8 > tl)
				continue;
			a += 8;
			for (j = 0; a < tl && !isspace((unsigned char)t[a]) &&
			    strchr("/:?#", t[a]) == NULL && j < sizeof(host) - 1; a++)
				host[j++] = t[a];
			host[j] = '\0';
			if (j == 0)
				continue;
			/* (an address is compared as it is: never the link's
			 * domain, which is a name) */
			if (is_ipv4(host) || (rb_domain(rb, host, d, sizeof(d)),
			    domain_valid(rb, d) && strcmp(d, dom) != 0))
				hit = 1;
		}
	}
	return hit && anchors >= min && (!have_max || anchors < max);
}

int
he_https_http_mismatch(const struct mime_msg *m, const struct rb_lists *rb,
    double min, int have_max, double max)
{
	const struct buf *b = &m->html_texts[HTML_TEXT_HREF];
	struct href_rec h, *recs = NULL;
	size_t i = 0, n = 0;
	int r = 0;

	if (min == 0)
		min = 1;
	while (!r && href_next(b, &i, &h)) {
		if (n > 0 && recs[n - 1].part != h.part) {
			r = https_mismatch_part(rb, recs, n, min, have_max, max);
			n = 0;
		}
		recs = xreallocarray(recs, n + 1, sizeof(*recs));
		recs[n++] = h;
	}
	if (!r && n > 0)
		r = https_mismatch_part(rb, recs, n, min, have_max, max);
	free(recs);
	return r;
}

int
he_https_ip_mismatch(const struct mime_msg *m)
{
	const struct buf *b = &m->html_texts[HTML_TEXT_HREF];
	static const char ip[] = "^https?:/*(?:[^\\@/]+\\@)?\\d+\\.\\d+\\.\\d+\\.\\d+";
	struct href_rec h;
	size_t i = 0;

	while (href_next(b, &i, &h)) {
		char *href = xstrndup(h.href, h.hl), *text;
		int link_ip = match(ip, "", PCRE2_CASELESS, href, NULL, 0), r;
		free(href);
		if (!link_ip)
			continue;
		text = xstrndup(h.text, h.tl);
		r = !match("^https:/*(?:[^\\@/]+\\@)?\\d+\\.\\d+\\.\\d+\\.\\d+", "",
		    PCRE2_CASELESS, text, NULL, 0) && strcasestr(text, "https:") != NULL;
		free(text);
		if (r)
			return 1;
	}
	return 0;
}

int
he_ratware_envfrom(const struct mime_msg *m, const struct rb_lists *rb, const char *envfrom)
{
	char *to = he_addr(m, "To"), dom[256], pat[600];
	const char *at = strchr(to, '@'), *dot;
	int r = 0;

	if (envfrom[0] == '\0' || to[0] == '\0' || at == NULL || at == to || at[1] == '\0' ||
	    match("^SRS\\d[=+-]", "", PCRE2_CASELESS, envfrom, NULL, 0))
		goto out;
	rb_domain(rb, at + 1, dom, sizeof(dom));
	/* its is_domain_valid(): a dot, no blank, the last label a TLD */
	dot = strrchr(dom, '.');
	if (dot == NULL || dot[1] == '\0' || strpbrk(dom, " \t\r\n") != NULL ||
	    !rb_has(rb, 0, dot + 1))
		goto out;
	{
		struct buf q;
		buf_init(&q, sizeof(pat));
		(void)buf_appends(&q, "\\b");
		sa_quotemeta(&q, dom);
		(void)buf_appendc(&q, '.');
		{
			char *user = xstrndup(to, (size_t)(at - to));
			sa_quotemeta(&q, user);
			free(user);
		}
		(void)buf_appendc(&q, '@');
		r = he_match_opts(buf_cstr(&q), envfrom, PCRE2_CASELESS);
		buf_free(&q);
	}
out:
	free(to);
	return r;
}
