/*
 * smtp_parse.c - SMTP command, path and parameter parsing.
 *
 * Every byte here comes from an SMTP client.  All scanning is bounded by
 * the NUL terminator of the (already length-limited) command line and by
 * the fixed sizes in smtp_parse.h; output goes to struct bufs with maxima.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"
#include "str.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "BDAT", SMTP_BDAT },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
	{ "ETRN", SMTP_ETRN },
	/* HTTP verbs: Postfix drops such clients at once */
	{ "GET", SMTP_XNONSMTP }, { "POST", SMTP_XNONSMTP },
	{ "CONNECT", SMTP_XNONSMTP }, { "PUT", SMTP_XNONSMTP },
	{ "HEAD", SMTP_XNONSMTP }, { "USER", SMTP_XNONSMTP },
};

enum smtp_verb
smtp_parse_verb(const char *line, size_t len, const char **args_r)
{
	size_t n = 0, i;

	while (n < len && line[n] != ' ' && line[n] != '\t')
		n++;
	*args_r = line + n;
	while (**args_r == ' ' || **args_r == '\t')
		(*args_r)++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == n &&
		    strncasecmp(line, verbs[i].name, n) == 0)
			return verbs[i].verb;
	return SMTP_UNKNOWN;
}

const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

void
smtp_path_init(struct smtp_path *p)
{
	buf_init(&p->addr, SMTP_PATH_MAX);
	p->at = 0;
	p->utf8 = p->quoted = 0;
}

void
smtp_path_free(struct smtp_path *p)
{
	buf_free(&p->addr);
}

static int
is_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Validate a domain or address literal [s, s+n). */
static int
valid_domain(const char *s, size_t n, int *utf8)
{
	size_t i, label = 0;

	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return 0;
	if (s[0] == '[') {
		char tmp[64];
		unsigned char a[16];
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(tmp))
			return 0;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (strncasecmp(tmp, "IPv6:", 5) == 0)
			return inet_pton(AF_INET6, tmp + 5, a) == 1;
		return inet_pton(AF_INET, tmp, a) == 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c >= 0x80)
			*utf8 = 1;
		else if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* Validate a mailbox "local@domain" in [s, s+n); fills p. */
static int
parse_mailbox(const char *s, size_t n, int flags, struct smtp_path *p)
{
	size_t i = 0, local_end;
	int utf8 = 0;

	buf_reset(&p->addr);
	p->at = 0;
	p->quoted = 0;
	if (n == 0)
		return -1;
	if (s[0] == '"') {
		p->quoted = 1;
		for (i = 1; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				if (++i >= n || (unsigned char)s[i] < 0x20)
					return -1;
				continue;
			}
			if (c == '"')
				break;
			if (c < 0x20 || c == 0x7f)
				return -1;
			if (c >= 0x80)
				utf8 = 1;
		}
		if (i >= n)
			return -1;
		i++;
	} else {
		size_t start = i;
		while (i < n && s[i] != '@') {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (i == start || s[i - 1] == '.')
					return -1;
			} else if (c >= 0x80)
				utf8 = 1;
			else if (!is_atext(c))
				return -1;
			i++;
		}
		if (i == start || s[i - 1] == '.')
			return -1;
	}
	local_end = i;
	if (local_end > SMTP_LOCAL_MAX)
		return -1;
	if (i == n) {
		if (!(flags & SMTP_PATH_ALLOW_BARE))
			return -1;
	} else {
		if (s[i] != '@')
			return -1;
		if (!valid_domain(s + i + 1, n - i - 1, &utf8))
			return -1;
		p->at = local_end;
	}
	if (buf_append(&p->addr, s, n) < 0)
		return -1;
	p->utf8 = utf8;
	return 0;
}

int
smtp_parse_address(const char *s, int flags, struct smtp_path *p,
    const char **error_r)
{
	size_t n = strlen(s);

	if (n == 0 && (flags & SMTP_PATH_ALLOW_NULL)) {
		buf_reset(&p->addr);
		p->at = 0;
		p->utf8 = p->quoted = 0;
		return 0;
	}
	if (n > SMTP_PATH_MAX || parse_mailbox(s, n, flags, p) < 0) {
		*error_r = "5.1.3 Bad address syntax";
		return -1;
	}
	return 0;
}

int
smtp_parse_path_arg(const char *args, const char *keyword, int flags,
    struct smtp_path *p, const char **params_r, const char **error_r)
{
	size_t kl = strlen(keyword);
	const char *s = args, *end, *content;
	size_t clen;
	int from = strcasecmp(keyword, "FROM") == 0;
	const char *bad = from ? "5.1.7 Bad sender address syntax" :
	    "5.1.3 Bad recipient address syntax";

	if (strncasecmp(s, keyword, kl) != 0 || s[kl] != ':') {
		*error_r = from ? "5.5.4 Syntax: MAIL FROM:<address>" :
		    "5.5.4 Syntax: RCPT TO:<address>";
		return -1;
	}
	s += kl + 1;
	while (*s == ' ')
		s++;
	if (*s == '<') {
		int inq = 0;
		content = s + 1;
		for (end = content; *end != '\0'; end++) {
			if (inq && *end == '\\' && end[1] != '\0') {
				end++;
				continue;
			}
			if (*end == '"')
				inq = !inq;
			else if (*end == '>' && !inq)
				break;
		}
		if (*end != '>') {
			*error_r = bad;
			return -1;
		}
		clen = (size_t)(end - content);
		s = end + 1;
		if (*s != '\0' && *s != ' ') {
			*error_r = bad;
			return -1;
		}
	} else {
		if (flags & SMTP_PATH_STRICT) {
			*error_r = bad;
			return -1;
		}
		content = s;
		clen = strcspn(s, " ");
		s += clen;
	}
	while (*s == ' ')
		s++;
	*params_r = s;
	if (clen > SMTP_PATH_MAX) {
		*error_r = bad;
		return -1;
	}
	/* Strip an RFC 5321 source route "@a,@b:". */
	if (clen > 0 && content[0] == '@') {
		const char *colon = memchr(content, ':', clen);
		if (colon == NULL) {
			*error_r = bad;
			return -1;
		}
		clen -= (size_t)(colon + 1 - content);
		content = colon + 1;
	}
	if (clen == 0) {
		if (!(flags & SMTP_PATH_ALLOW_NULL)) {
			*error_r = bad;
			return -1;
		}
		buf_reset(&p->addr);
		p->at = 0;
		p->utf8 = p->quoted = 0;
		return 0;
	}
	if (parse_mailbox(content, clen, flags, p) < 0) {
		*error_r = bad;
		return -1;
	}
	return 0;
}

/* xtext's hexchar is upper case only (RFC 3461, 4) */
static int
hexval(int c)
{
	return c >= 'a' && c <= 'f' ? -1 : str_hexval(c);
}

int
smtp_xtext_decode(const char *s, size_t len, char *dst, size_t dstlen)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			int h, l;
			if (i + 2 >= len)
				return -1;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		/* no control bytes: the value goes into queue records
		 * (tab-separated), logs and DSN header lines */
		if (c < 0x20 || c == 0x7f || o + 1 >= dstlen)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

/* Iterate "KEY[=VALUE]" tokens: returns 1 with key/value spans, 0 at end. */
static int
next_param(const char **sp, const char **k, size_t *kl, const char **v,
    size_t *vl)
{
	const char *s = *sp, *eq;
	size_t n;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	n = strcspn(s, " ");
	eq = memchr(s, '=', n);
	*k = s;
	if (eq != NULL) {
		*kl = (size_t)(eq - s);
		*v = eq + 1;
		*vl = n - *kl - 1;
	} else {
		*kl = n;
		*v = NULL;
		*vl = 0;
	}
	*sp = s + n;
	return 1;
}

#define KEY(k, kl, name) ((kl) == strlen(name) && strncasecmp((k), (name), (kl)) == 0)
#define VAL(v, vl, name) ((v) != NULL && (vl) == strlen(name) && strncasecmp((v), (name), (vl)) == 0)

int
smtp_parse_mail_params(const char *params, struct smtp_mail_params *mp,
    const char **error_r)
{
	const char *k, *v;
	size_t kl, vl;
	int seen_size = 0, seen_body = 0;

	memset(mp, 0, sizeof(*mp));
	mp->size = -1;
	while (next_param(&params, &k, &kl, &v, &vl)) {
		if (KEY(k, kl, "SIZE") && v != NULL && !seen_size) {
			long long n = 0;
			size_t i;
			if (vl == 0 || vl > 18)
				goto bad;
			for (i = 0; i < vl; i++) {
				if (!isdigit((unsigned char)v[i]))
					goto bad;
				n = n * 10 + (v[i] - '0');
			}
			mp->size = n;
			seen_size = 1;
		} else if (KEY(k, kl, "BODY") && !seen_body) {
			if (VAL(v, vl, "8BITMIME"))
				mp->body_8bit = 1;
			else if (VAL(v, vl, "BINARYMIME"))
				mp->body_binary = 1;
			else if (!VAL(v, vl, "7BIT"))
				goto bad;
			seen_body = 1;
		} else if (KEY(k, kl, "SMTPUTF8") && v == NULL && !mp->smtputf8) {
			mp->smtputf8 = 1;
		} else if (KEY(k, kl, "RET") && mp->ret == 0) {
			if (VAL(v, vl, "FULL"))
				mp->ret = 1;
			else if (VAL(v, vl, "HDRS"))
				mp->ret = 2;
			else
				goto bad;
		} else if (KEY(k, kl, "ENVID") && v != NULL && mp->envid[0] == '\0') {
			if (vl > 100 || smtp_xtext_decode(v, vl, mp->envid,
			    sizeof(mp->envid)) < 0)
				goto bad;
		} else if (KEY(k, kl, "AUTH") && v != NULL) {
			if (smtp_xtext_decode(v, vl, mp->auth, sizeof(mp->auth)) < 0)
				goto bad;
		} else {
			*error_r = "5.5.4 Unsupported option";
			return -1;
		}
	}
	return 0;
bad:
	*error_r = "5.5.4 Bad parameter value";
	return -1;
}

int
smtp_parse_rcpt_params(const char *params, struct smtp_rcpt_params *rp,
    const char **error_r)
{
	const char *k, *v;
	size_t kl, vl;

	memset(rp, 0, sizeof(*rp));
	while (next_param(&params, &k, &kl, &v, &vl)) {
		if (KEY(k, kl, "NOTIFY") && v != NULL && rp->notify == 0) {
			size_t i = 0;
			while (i < vl) {
				size_t n = 0;
				while (i + n < vl && v[i + n] != ',')
					n++;
				if (VAL(v + i, n, "NEVER"))
					rp->notify |= DSN_NOTIFY_NEVER;
				else if (VAL(v + i, n, "SUCCESS"))
					rp->notify |= DSN_NOTIFY_SUCCESS;
				else if (VAL(v + i, n, "FAILURE"))
					rp->notify |= DSN_NOTIFY_FAILURE;
				else if (VAL(v + i, n, "DELAY"))
					rp->notify |= DSN_NOTIFY_DELAY;
				else
					goto bad;
				i += n + 1;
			}
			if ((rp->notify & DSN_NOTIFY_NEVER) &&
			    rp->notify != DSN_NOTIFY_NEVER)
				goto bad;
			if (rp->notify == 0)
				goto bad;
		} else if (KEY(k, kl, "ORCPT") && v != NULL && rp->orcpt[0] == '\0') {
			const char *semi = memchr(v, ';', vl);
			if (semi == NULL || semi == v)
				goto bad;
			if (smtp_xtext_decode(v, vl, rp->orcpt, sizeof(rp->orcpt)) < 0)
				goto bad;
		} else {
			*error_r = "5.5.4 Unsupported option";
			return -1;
		}
	}
	return 0;
bad:
	*error_r = "5.5.4 Bad parameter value";
	return -1;
}

void
smtp_xtext_encode(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '+' || c == '=')
			(void)buf_printf(b, "+%02X", c);
		else
			(void)buf_appendc(b, (char)c);
	}
}

void
smtp_mail_params_format(struct buf *b, const struct smtp_mail_params *mp)
{
	if (mp->ret)
		(void)buf_appends(b, mp->ret == 2 ? " RET=HDRS" : " RET=FULL");
	if (mp->envid[0] != '\0') {
		(void)buf_appends(b, " ENVID=");
		smtp_xtext_encode(b, mp->envid);
	}
	if (mp->body_8bit)
		(void)buf_appends(b, " BODY=8BITMIME");
	if (mp->smtputf8)
		(void)buf_appends(b, " SMTPUTF8");
}

void
smtp_rcpt_params_format(struct buf *b, const struct smtp_rcpt_params *rp)
{
	if (rp->notify & DSN_NOTIFY_NEVER)
		(void)buf_appends(b, " NOTIFY=NEVER");
	else if (rp->notify != 0) {
		const char *sep = " NOTIFY=";
		if (rp->notify & DSN_NOTIFY_SUCCESS) {
			(void)buf_printf(b, "%sSUCCESS", sep);
			sep = ",";
		}
		if (rp->notify & DSN_NOTIFY_FAILURE) {
			(void)buf_printf(b, "%sFAILURE", sep);
			sep = ",";
		}
		if (rp->notify & DSN_NOTIFY_DELAY)
			(void)buf_printf(b, "%sDELAY", sep);
	}
	if (rp->orcpt[0] != '\0') {
		(void)buf_appends(b, " ORCPT=");
		smtp_xtext_encode(b, rp->orcpt);
	}
}
