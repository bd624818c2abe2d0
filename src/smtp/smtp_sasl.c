/*
 * smtp_sasl.c - pure helpers of the SMTP client's SASL authentication
 * (see smtp_sasl.h).  Untrusted input: the text of one EHLO reply line
 * of the remote server (bounded by the session's line buffer); the rest
 * comes from main.cf and the password table.  No allocation.
 */
#include <string.h>
#include <strings.h>

#include "smtp_sasl.h"

static unsigned
mech_bit(const char *name, size_t n)
{
	if (n == 5 && strncasecmp(name, "PLAIN", 5) == 0)
		return SMTP_SASL_PLAIN;
	if (n == 5 && strncasecmp(name, "LOGIN", 5) == 0)
		return SMTP_SASL_LOGIN;
	if (n == 13 && strncasecmp(name, "SCRAM-SHA-256", 13) == 0)
		return SMTP_SASL_SCRAM;
	return n > 0 ? SMTP_SASL_OTHER : 0;
}

static unsigned
mech_words(const char *p)
{
	unsigned bits = 0;

	for (;;) {
		size_t n;
		p += strspn(p, " ,\t");
		if (*p == '\0')
			return bits;
		n = strcspn(p, " ,\t");
		bits |= mech_bit(p, n);
		p += n;
	}
}

int
smtp_sasl_ehlo_auth(const char *text, unsigned *mechs_r)
{
	if (strncasecmp(text, "AUTH", 4) != 0 ||
	    (text[4] != '\0' && text[4] != ' ' && text[4] != '='))
		return 0;
	*mechs_r |= mech_words(text + 4 + (text[4] != '\0'));
	return 1;
}

unsigned
smtp_sasl_mech_list(const char *list)
{
	return mech_words(list);
}

int
smtp_sasl_sec_options(const char *s, unsigned *flags_r, const char **error_r)
{
	static const struct { const char *name; unsigned bit; } opts[] = {
		{ "noplaintext", SMTP_SASL_NOPLAINTEXT },
		{ "noanonymous", SMTP_SASL_NOANONYMOUS },
		{ "noactive", SMTP_SASL_NOACTIVE },
		{ "nodictionary", SMTP_SASL_NODICTIONARY },
		{ "mutual_auth", SMTP_SASL_MUTUAL_AUTH },
	};
	unsigned flags = 0;

	for (;;) {
		size_t n, i;
		s += strspn(s, " ,\t");
		if (*s == '\0')
			break;
		n = strcspn(s, " ,\t");
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (strlen(opts[i].name) == n &&
			    strncasecmp(s, opts[i].name, n) == 0)
				break;
		if (i == sizeof(opts) / sizeof(opts[0])) {
			*error_r = "unknown SASL security option";
			return -1;
		}
		flags |= opts[i].bit;
		s += n;
	}
	*flags_r = flags;
	return 0;
}

unsigned
smtp_sasl_choose(unsigned offered, unsigned secflags, int tls)
{
	/* an external security layer (TLS) means the password is no
	 * longer sent in plaintext: noplaintext does not apply there (as
	 * in Cyrus SASL, which Postfix's smtp client uses) */
	if (tls)
		secflags &= ~(unsigned)SMTP_SASL_NOPLAINTEXT;
	/* SCRAM sends a proof, not the password, and checks the server's
	 * signature; a recorded exchange still allows an offline guess */
	if ((offered & SMTP_SASL_SCRAM) &&
	    !(secflags & SMTP_SASL_NODICTIONARY))
		return SMTP_SASL_SCRAM;
	/* PLAIN and LOGIN send the password in the clear (noplaintext),
	 * are open to dictionary attacks (nodictionary) and do not
	 * authenticate the server (mutual_auth) */
	if (secflags & (SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NODICTIONARY |
	    SMTP_SASL_MUTUAL_AUTH))
		return 0;
	if (offered & SMTP_SASL_PLAIN)
		return SMTP_SASL_PLAIN;
	if (offered & SMTP_SASL_LOGIN)
		return SMTP_SASL_LOGIN;
	return 0;
}

const char *
smtp_sasl_mech_name(unsigned mech)
{
	return mech == SMTP_SASL_PLAIN ? "PLAIN" : mech == SMTP_SASL_LOGIN ?
	    "LOGIN" : mech == SMTP_SASL_SCRAM ? "SCRAM-SHA-256" : "?";
}

int
smtp_sasl_split_secret(const char *value, char *user, size_t ulen,
    char *pass, size_t plen)
{
	const char *colon = strchr(value, ':');
	size_t un, pn;

	/* as Postfix: no ':' is a user name with an empty password */
	un = colon != NULL ? (size_t)(colon - value) : strlen(value);
	pn = colon != NULL ? strlen(colon + 1) : 0;
	if (un == 0 || un >= ulen || pn >= plen)
		return -1;
	memcpy(user, value, un);
	user[un] = '\0';
	memcpy(pass, colon != NULL ? colon + 1 : "", pn + 1);
	return 0;
}
