/*
 * header_eval.c - SpamAssassin's header eval: tests as it defines them
 * (its HeaderEval plugin), for its rule set (header_eval.h).  Input:
 * untrusted header values.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "header_eval.h"
#include "mem.h"
#include "mime.h"
#include "msg_date.h"

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
#define FIXED_MAX 16
static struct {
	const char *pat;
	uint32_t opts;
	pcre2_code *re;
} fixed[FIXED_MAX];
static pcre2_match_context *mctx;

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
			(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
			fixed[k].pat = pat;
			fixed[k].opts = opts;
			fixed[k].re = re;
		}
	}
	if (mctx == NULL) {
		mctx = pcre2_match_context_create(NULL);
		pcre2_set_match_limit(mctx, 200000);
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, mctx);
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

int
he_image_count(const struct mime_msg *m, const char *type, double min, int have_max,
    double max)
{
	static const char *const types[] = { "gif", "png", "jpeg" };
	int n = 0;

	for (size_t i = 0; i < m->nparts; i++) {
		const char *t = m->parts[i].ctype;
		if (strcmp(m->parts[i].encoding, "base64") != 0 || strncmp(t, "image/", 6) != 0)
			continue;
		t += 6;
		if (strcmp(t, "jpg") == 0)
			t = "jpeg";
		for (size_t k = 0; k < NELEM(types); k++)
			if (strcmp(t, types[k]) == 0 &&
			    (strcmp(type, "all") == 0 || strcmp(type, t) == 0))
				n++;
	}
	return (double)n >= min && (!have_max || (double)n <= max);
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
