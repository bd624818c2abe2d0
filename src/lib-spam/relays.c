/* relays.c - Received: headers into relays (see relays.h).
 *
 * A Received: line is free text each MTA writes its own way; what a
 * relay is made of (the connecting host's IP, the reverse DNS name the
 * receiving MTA found for it, the HELO name it gave, the receiving host)
 * is read by an ordered table of patterns, one per known layout, the
 * first that matches winning, the way SpamAssassin's Received parser
 * does, so that rules written against its X-Spam-Relays-* strings see
 * the same fields.  Lines that are no handover between hosts are
 * skipped; a line none of the patterns takes but that holds a [IP] and a
 * "by" host is still a relay with those two fields. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "buf.h"
#include "header_eval.h"
#include "mem.h"
#include "mime.h"
#include "netaddr.h"
#include "relays.h"
#include "spam_jit.h"

#define IP4 "(?:\\d{1,3}\\.){3}\\d{1,3}"
#define IP6 "(?:IPv6:)?(?:[0-9A-Fa-f]{0,4}:){2,7}(?:" IP4 "|[0-9A-Fa-f]{1,4})?"
#define IP "(?:" IP4 "|" IP6 ")"
#define LOCALHOST "(?:localhost(?:\\.localdomain)?|127\\.0\\.0\\.1|::1)"

enum {
	F_LOOKED = 1,           /* the MTA looks the name up: none means none */
	F_HELO_IS_RDNS = 2,     /* helo = rdns (the MTA writes one name when both agree) */
	F_SKIP = 4,             /* no handover between hosts */
	F_FETCH = 8,            /* a mail fetcher's handover */
	F_SUB = 16,             /* group "sub" holds helo=… and ident=… */
	F_IDENT_IN_RDNS = 32,   /* rdns may be "ident@name" or "IDENT:ident@name" */
	F_NO_ID = 64,           /* the id the line gives is not the relay's */
	F_SOFTDNSERR = 128,     /* rdns "softdnserr": no name */
	F_NO_HELO = 256,        /* no HELO name even when the line seems to give one */
	F_UNVERIFIED = 512,     /* rdns "unverified": no name */
	F_NO_HELO_UNSET = 1024, /* no HELO name unless the pattern gives one */
};

/* The layouts, tried in order on the line after its "from ".  `when`: a
 * substring the line must hold for the pattern to be tried (a cheap
 * guard, and the layout's marker). */
struct layout {
	const char *when;
	const char *pat;
	unsigned flags;         /* F_* */
	pcre2_code *re;         /* compiled on first use */
	uint32_t opts;          /* PCRE2 compile options */
};

static struct layout layouts[] = {
	/* SquirrelMail: the browser's address, not the proxy's */
	{ " (SquirrelMail authenticated user ", "(?<![0-9.])(?<ip>" IP ")\\b(?![.-]).{10,80}by (?<by>\\S+) with HTTP", F_NO_HELO, NULL },
	{ " (NaSMail authenticated user ", "(?<![0-9.])(?<ip>" IP ")\\b(?![.-]).{10,80}by (?<by>\\S+) with HTTP", F_NO_HELO, NULL },
	/* Microsoft IIS, which writes the HELO and no reverse name */
	{ " SMTPSVC", "^(?<helo>\\S*) \\(\\[(?<ip>" IP ")\\][^)]{0,40}\\) by (?<by>\\S+) with Microsoft SMTPSVC", 0, NULL },
	{ " SMTPSVC", "^mail pickup service by \\S+ with Microsoft SMTPSVC$", F_SKIP, NULL },
	/* Exchange */
	{ " with ", "^(?<helo>\\S+) \\(\\[?(?<ip>" IP ")(?:%[A-Za-z0-9._~-]*)?\\]?\\) by (?<by>\\S+) .*with (?:Microsoft SMTP Server|mapi id) (?:\\([^)]+\\) )?\\d+\\.\\d+\\.\\d+\\.\\d+(?:$| )", F_NO_ID, NULL },
	/* Exim */
	{ "Exim", "\\bwith local(?:-\\S+)? ", F_SKIP, NULL },
	{ "Exim", "^\\[(?<ip>" IP ")\\] \\((?<sub>.*?)\\) by (?<by>\\S+) ", F_SUB, NULL },
	{ "Exim", "^(?<rdns>\\S+) \\(\\[(?<ip>" IP ")\\](?<sub>.*?)\\) by (?<by>\\S+) ", F_SUB | F_HELO_IS_RDNS, NULL },
	{ "Exim", "^(?<rdns>\\S+) \\[(?<ip>" IP ")\\](?::\\d+)? by (?<by>\\S+) ", F_HELO_IS_RDNS, NULL },
	/* Postfix: "helo (name[ip])", "name" being "unknown" when none */
	{ " (Postfix) with", "^(?<helo>\\S+) \\((?<rdns>\\S+) ?\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) ", F_LOOKED, NULL },
	/* webmail with a numeric HELO */
	{ "with HTTP", "^(?<ip>" IP ") \\(\\[" IP "\\]\\) by (?<by>\\S+)", 0, NULL },
	/* sendmail: "helo (ident@name [ip] …) by host (" */
	{ " by ", "^(?!.* by \\S+ \\(qmail-\\S+\\) with )(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\].*\\) by (?<by>\\S+) \\(", F_LOOKED | F_IDENT_IN_RDNS, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) with \\S+ \\(", F_LOOKED, NULL },
	{ "helo=", "^(?<rdns>\\S+) \\(\\[(?<ip>" IP ")\\] helo=(?<helo>\\S+)\\) by (?<by>\\S+) with ", 0, NULL },
	{ "<unknown", "^(?<helo>\\S+) \\(<unknown\\S*>\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+\\.\\S+)\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) ", F_LOOKED, NULL },
	{ "@[", "^(?<helo>\\S+) \\((?<ident>\\S*)@\\[(?<ip>" IP ")\\].*\\) by (?<by>\\S+) \\(", F_LOOKED, NULL },
	{ ".hotmail.msn.com ", "^(?:(?<ip>" IP ") )?.*?by (?<by>\\S+\\.hotmail\\.msn\\.com) ", 0, NULL },
	{ "(qpsmtpd/", "^(?<rdns>\\S+) \\((?:HELO|EHLO) (?<helo>\\S*)\\) \\((?<ip>" IP ")\\) by (?<by>\\S+) \\(qpsmtpd/\\S+\\) with (?:ESMTP|SMTP)", 0, NULL },
	{ "LHLO ", "^(?<rdns>\\S+) \\(LHLO (?<helo>\\S*)\\) \\((?<ip>" IP ")\\) by (?<by>\\S+) with LMTP", 0, NULL },
	{ "LO ", "^(?<rdns>\\S+) \\((?:HELO|EHLO) (?<helo>\\S*)\\) \\[(?<ip>" IP ")\\] by (?<by>\\S+) \\([^)]+\\) with (?:ESMTP|SMTP)", 0, NULL },
	{ "via smtpd", "^(?<helo>\\S+) \\(\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) via smtpd \\(for \\S+\\) with SMTP\\(", 0, NULL },
	/* qmail: "rdns (HELO helo) (ident@ip) by host with SMTP", the HELO
	 * part only when it differs from the name, "unknown" for no name.
	 * SpamAssassin writes the comments after "by host" as
	 * "(?: \(.+\))*"; "(?: \(.+\))?" takes the same lines (one ".+"
	 * spans any run of comments), without the 2^n ways to split n of
	 * them that a line with no "with" made PCRE2 try. */
	{ " by ", "^(?=\\S+(?: \\((?:HELO|EHLO) \\S*\\))? \\((?:\\S+@)?\\[?" IP "\\]?\\)(?: \\(envelope-sender <\\S+>\\))? by \\S+(?: \\(.+\\))? with (?:.* )?(?:SMTP|QMQP)(?! id ))"
	  "(?<rdns>\\S+) \\((?:HELO|EHLO) (?<helo>[^ ()]*)\\) \\((?:(?<ident>\\S*)@)?\\[?(?<ip>" IP ")\\]?\\)(?: \\(envelope-sender <\\S+>\\))? by (?<by>\\S+)", 0, NULL },
	{ " by ", "^(?=\\S+ \\((?:\\S+@)?\\[?" IP "\\]?\\)(?: \\(envelope-sender <\\S+>\\))? by \\S+(?: \\(.+\\))? with (?:.* )?(?:SMTP|QMQP)(?! id ))"
	  "(?<rdns>\\S+) \\((?:(?<ident>\\S*)@)?\\[?(?<ip>" IP ")\\]?\\)(?: \\(envelope-sender <\\S+>\\))? by (?<by>\\S+)", F_HELO_IS_RDNS, NULL },
	{ " via HTTP", "^\\[(?<ip>" IP ")\\] by (?<by>\\S+) via HTTP$", 0, NULL },
	{ " by ", "^\\S+ \\( \\[(?<ip>" IP ")\\]\\).*? by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^\\((?<helo>\\S+) \\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^\\[(?<ip>" IP ")\\] by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^\\(\\[?(?<ip>" IP ")\\]?\\) by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^(?<helo>\\S+) \\[(?<ip>" IP ")\\] by (?<by>\\S+) \\[" IP "\\] with ", F_LOOKED, NULL },
	{ " by ", "^(?<helo>\\S+) \\[\\((?<ip>" IP ")\\)\\] by (?<by>\\S+) \\(" IP "\\) ", 0, NULL },
	/* Lotus Domino, which never writes the reverse name */
	{ " (Lotus Domino ", "^(?<helo>\\S+) \\(\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) \\(Lotus", 0, NULL },
	{ " by ", "^(?<helo>\\S+) \\(\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) \\(", F_LOOKED, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\]\\).*? by (?<by>\\S+)\\b", F_LOOKED | F_SOFTDNSERR, NULL },
	{ " by ", "^(?<helo>\\S+) \\(\\[(?<ip>" IP ")(?:[.:]\\d+)?\\]\\).*? by (?<by>\\S+) ", F_LOOKED, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\]\\)(?: \\(authenticated bits=\\d+\\))? by (?<by>\\S+) \\(", F_LOOKED, NULL },
	/* fetchmail, getmail */
	{ "with ", "with (?:POP3|IMAP)", F_FETCH, NULL },
	{ "LO ", "^(?<rdns>\\S+) \\((?:HELO|EHLO) (?<helo>[^)]*)\\) \\((?:(?<ident>\\S*)@)?\\[?(?<ip>" IP ")\\]?\\).* by (?<by>\\S+) ", F_LOOKED, NULL },
	{ " by ", "^(?<rdns>\\S+) \\((?:(?<ident>\\S*)@)?\\[?(?<ip>" IP ")\\]?\\).* by (?<by>\\S+) ", F_LOOKED | F_HELO_IS_RDNS, NULL },
	{ " with http for ", "^\\[(?<ip>" IP ")\\] by (?<by>\\S+) with http for ", 0, NULL },
	{ " via smap ", "^(?<rdns>\\S+)\\((?<ip>" IP ")\\) by (?<by>\\S+) via smap ", F_LOOKED, NULL },
	{ " via smap ", "^(?<rdns>\\S+)\\((?<ip>" IP "), (?:HELO|EHLO) (?<helo>\\S*)\\) by (?<by>\\S+) via smap ", F_LOOKED, NULL },
	{ " (Post", "^\\[(?<ip>" IP ")\\] by (?<by>\\S+) \\(Post", 0, NULL },
	{ " (ArGoSoft", "^\\[(?<ip>" IP ")\\] by (?<by>\\S+) \\(ArGoSoft", 0, NULL },
	{ " by ", "^(?<ip>" IP ") by (?<by>\\S+) \\((?:SMTPL|InterScan)\\b", 0, NULL },
	{ " with BSMTP", "^\\S+ by \\S+ with BSMTP", F_SKIP, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) with ", F_LOOKED, NULL },
	{ "LO ", "^(?<rdns>\\S+) \\((?:HELO|EHLO) (?<helo>\\S*)\\) \\((?:(?<ident>\\S+)@)?(?<ip>" IP ").*?\\) by (?<by>\\S+) with ", F_LOOKED, NULL },
	{ "LO ", "^\\[(?<ip>" IP ")\\] \\((?:account \\S+ )?(?:HELO|EHLO) (?<helo>\\S*)\\) by (?<by>\\S+) \\(", 0, NULL },
	{ " (CommuniGate Pro", "^(?<rdns>\\S+) \\(\\[(?<ip>" IP ")\\] verified\\) by (?<by>\\S+) \\(", F_LOOKED | F_HELO_IS_RDNS, NULL },
	{ " by ", "^\\(\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) with ", 0, NULL },
	{ " by ", "^(?<helo>[^\\d]\\S+) \\((?<ip>" IP ")\\) by (?<by>\\S+) ", 0, NULL },
	{ " (Content Technologies ", "^\\S+ \\(\\S+\\) by \\S+ \\(Content Technologies ", F_SKIP, NULL },
	{ " by ", "^(?<helo>\\S+) \\(\\[(?<ip>" IP ")\\] \\[\\S+\\]\\) by (?<by>\\S+) with ", 0, NULL },
	{ " by ", "^(?<ip>" IP ") by (?<by>\\S+) with ", 0, NULL },
	{ " by ", "^(?<helo>\\S+) \\((?<rdns>\\S+)\\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) ", F_LOOKED, NULL },
	{ "LO ", "^\\[(?<ip>" IP ")\\]\\S+ \\((?:HELO|EHLO) (?<helo>\\S*)\\) by (?<by>\\S+) ", 0, NULL },
	{ "LO ", "^(?<ip>" IP ") \\((?:HELO|EHLO) (?<helo>\\S*)\\) by (?<by>\\S+) ", 0, NULL },
	{ " by ", "^\\[(?<ip>" IP ")\\] \\((?<sub>[^)]+)\\) by (?<by>\\S+) ", F_SUB, NULL },
	{ " by ", "^(?<rdns>\\S+) \\((?:\\S+@)?(?<ip>" IP ")\\) by (?<by>\\S+) with ", 0, NULL },
	/* Obtuse smtpd */
	{ " by ", "^(?<rdns>\\S+)\\((?<ip>" IP ")\\)(?:, claiming to be \"(?<helo>\\S+)\")? via \\S+ by (?<by>\\S+),", F_NO_HELO_UNSET, NULL },
	{ "X-Originating-IP: ", "^X-Originating-IP: (?<ip>" IP ")$", 0, NULL },
	/* no handover: local submission, list software, scanners */
	{ " by ", "^\\S+ \\([^\\s@]+@" LOCALHOST "\\) by \\S+ \\(", F_SKIP, NULL },
	{ " by ", "^\\S+ \\S+ by \\S+ with local-e?smtp ", F_SKIP, NULL },
	{ " by ", "^\\S+@\\S+ by \\S+ ", F_SKIP, NULL },
	{ "Unknown/Local (", "^Unknown/Local \\(", F_SKIP, NULL },
	{ NULL, "^" LOCALHOST " \\((?:\\S+@)?" LOCALHOST "[)\\[]", F_SKIP, NULL },
	{ " by ", "^\\S+ \\(\\S+@\\S+ \\[" LOCALHOST "\\]\\) ", F_SKIP, NULL },
	{ " by ", "^\\S+ by \\S+ with local", F_SKIP, NULL },
	{ " by ", "^\\S+ by \\S+ (?:with|via|for|\\()", F_SKIP, NULL },
	{ " by", "^\\S+ (?:(?:with|via|for) \\S+|\\(unverified\\)) by\\b", F_SKIP, NULL },
	{ " id ", "^\\S+ id \\S+$", F_SKIP, NULL },
	{ "(LSMTP for", "\\(LSMTP for", F_SKIP, NULL },
	{ "[[UNIX: localhost]]", "^localhost \\(localhost \\[\\[UNIX: localhost\\]\\]\\) by ", F_SKIP, NULL },
};

/* Lines written "(from …" (list managers, scanners) … */
static struct layout layouts_paren[] = {
	{ "(NAVGW ", "^(?<helo>\\S*) \\[(?<ip>" IP ")\\]\\) by (?<by>\\S+) \\(NAVGW .*?\\) with ", 0, NULL, 0 },
	{ "@localhost) by ", "^\\S+@localhost\\) by \\S+ ", F_SKIP, NULL, 0 },
	{ "(jqueuemail)", "^[^\\s@]+@[^)]+\\) by \\S+\\(jqueuemail\\) id [^\\s;]+", F_SKIP, NULL, 0 },
};

/* … and "FROM … BY …" (an old gateway). */
static struct layout layouts_upper[] = {
	{ " BY ", "^(?<helo>\\S+) \\((?<rdns>\\S+) \\[(?<ip>" IP ")\\]\\) BY (?<by>\\S+) (?:\\([^)]+\\) WITH SMTP )?ID <?(?<id>\\S+?)>?(?: FOR <[^>]+>)?$", F_LOOKED | F_UNVERIFIED, NULL, 0 },
};

/* Patterns used on the whole line, before the layouts. */
enum {
	P_FROM, P_LOCAL_FOR, P_FROM_BY_SEMI, P_DATE, P_ID, P_HELO_EQ, P_HELO,
	P_BY, P_AUTH_WITH, P_AUTH_COURIER, P_AUTH_SENDMAIL, P_AUTH_POSTFIX,
	P_AUTH_CGP, P_AUTH_VIA, P_ENVFROM, P_FIRST_WORD, P_BRACKET_IP, P_IP, P_COUNT
};
static struct layout pre[P_COUNT] = {
	[P_FROM] = { NULL, "^\\(?from ", 0, NULL, PCRE2_CASELESS },
	[P_LOCAL_FOR] = { NULL, "\\bwith local for\\b", 0, NULL, 0 },
	[P_FROM_BY_SEMI] = { NULL, "^from (?!\\[[\\d.]+\\] )\\S+ by [^\\s;]+ ?;", 0, NULL, PCRE2_CASELESS },
	[P_DATE] = { NULL, "[\\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?\\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) \\d+ \\d+:\\d+(?::\\d+)? \\S+$", 0, NULL, 0 },
	[P_ID] = { NULL, " id <?(?<v>[^\\s<>;]{3,})", 0, NULL, 0 },
	[P_HELO_EQ] = { NULL, "\\bhelo=(?<v>[-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)", 0, NULL, 0 },
	[P_HELO] = { NULL, "\\b(?:HELO|EHLO) (?<v>[-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)", 0, NULL, 0 },
	[P_BY] = { NULL, " by (?<v>\\S+)(?:[^-A-Za-z0-9;.]|$)", 0, NULL, 0 },
	[P_AUTH_WITH] = { NULL, "^(?=.* by ).*? with (?<v>(?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)", 0, NULL, PCRE2_CASELESS },
	[P_AUTH_COURIER] = { NULL, "^from .*?(?:\\]\\)|\\)\\]) \\(AUTH: (?<v>LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \\S+(?:, .*?)?\\) by ", 0, NULL, 0 },
	[P_AUTH_SENDMAIL] = { NULL, "^from .*?(?:\\](?: \\([^)]*\\))?\\)|\\)\\]) .*?\\(.*?authenticated.*?\\).*? by", 0, NULL, 0 },
	[P_AUTH_POSTFIX] = { NULL, "\\) \\(Authenticated sender: \\S+\\) by \\S+ \\((?<v>[^)]+)\\) with ", 0, NULL, 0 },
	[P_AUTH_CGP] = { NULL, "CommuniGate Pro (?:HTTP|SMTP|XIMSS|IMAP)", 0, NULL, 0 },
	[P_AUTH_VIA] = { NULL, "^(?=.* by ).* \\(via (?<v>HTTP.?)\\)(?: |;|$)", 0, NULL, PCRE2_CASELESS },
	[P_ENVFROM] = { NULL, "(?:return-path:? |envelope-(?:sender|from)[ =])(?<v>\\S+)\\b", 0, NULL, PCRE2_CASELESS },
	[P_FIRST_WORD] = { NULL, "^(?<v>\\S+)[^-A-Za-z0-9.]", 0, NULL, 0 },
	[P_BRACKET_IP] = { NULL, "\\[(?<v>" IP ")\\]", 0, NULL, 0 },
	[P_IP] = { NULL, "(?<v>" IP ")", 0, NULL, 0 },
};

/* The match limit of every pattern here (PCRE2's default is 10,000,000,
 * some 45 ms of backtracking on one line). */
#define RELAY_MATCH_LIMIT 100000

static pcre2_match_data *md;
static pcre2_match_context *mctx;

static pcre2_code *
compiled(struct layout *l)
{
	int err;
	PCRE2_SIZE off;

	if (l->re == NULL) {
		l->re = pcre2_compile((PCRE2_SPTR)l->pat, PCRE2_ZERO_TERMINATED, l->opts, &err, &off, NULL);
		if (l->re == NULL)
			abort();        /* a fixed pattern: a build error */
		spam_jit_fixed(l->re);
	}
	if (md == NULL)
		md = pcre2_match_data_create(32, NULL);
	if (mctx == NULL) {
		mctx = pcre2_match_context_create(NULL);
		if (mctx == NULL)
			abort();
		pcre2_set_match_limit(mctx, RELAY_MATCH_LIMIT);
	}
	return l->re;
}

/* l's pattern against s (n bytes): 1 on a match.  A match that runs
 * into RELAY_MATCH_LIMIT is no match, so that no line, whatever the
 * layouts' backtracking makes of it, costs more than that. */
static int
run(struct layout *l, const char *s, size_t n)
{
	pcre2_code *re = compiled(l);   /* (creates md and mctx on the first call) */

	return pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, mctx) >= 0;
}

/* Copy named group `name` of the last match into dst (size dn); 0 when
 * the pattern has no such group or it is unset. */
static int
group(const struct layout *l, const char *name, const char *s, char *dst, size_t dn)
{
	int k = pcre2_substring_number_from_name(l->re, (PCRE2_SPTR)name);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	size_t len;

	if (k < 0 || ov[2 * k] == PCRE2_UNSET)
		return 0;
	len = ov[2 * k + 1] - ov[2 * k];
	if (len >= dn)
		len = dn - 1;
	memcpy(dst, s + ov[2 * k], len);
	dst[len] = '\0';
	return 1;
}

static int
pre_value(int p, const char *s, size_t n, char *dst, size_t dn)
{
	if (!run(&pre[p], s, n))
		return 0;
	return group(&pre[p], "v", s, dst, dn);
}

/* src into dst (size dn), cut to fit. */
static void
set(char *dst, size_t dn, const char *src)
{
	size_t n = strlen(src);

	if (n >= dn)
		n = dn - 1;
	memmove(dst, src, n);
	dst[n] = '\0';
}

/* Characters that would break the pseudo-header's "[ k=v … ]" form. */
static void
defang(char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || strchr("#[]()<>|", *s) != NULL)
			*s = '!';
}

/* helo=… and ident=… inside an Exim comment. */
static void
sub_fields(const char *sub, struct relay *r)
{
	const char *p;

	if ((p = strstr(sub, "helo=")) != NULL)
		snprintf(r->helo, sizeof(r->helo), "%.*s", (int)strcspn(p + 5, " \t"), p + 5);
	if ((p = strstr(sub, "ident=")) != NULL)
		snprintf(r->ident, sizeof(r->ident), "%.*s", (int)strcspn(p + 6, " \t"), p + 6);
}

/* The fields as a relay holds them: no trailing dots on the name, no
 * "unknown" name, the address without brackets, "IPv6:", zone or
 * IPv4-mapped prefix. */
static void
finish(struct relay *r)
{
	size_t n = strlen(r->rdns);
	char *p;

	while (n > 0 && r->rdns[n - 1] == '.')
		r->rdns[--n] = '\0';
	if (strcasecmp(r->rdns, "unknown") == 0 || r->rdns[0] == '[')
		r->rdns[0] = '\0';
	if (strncasecmp(r->ip, "IPv6:", 5) == 0)
		memmove(r->ip, r->ip + 5, strlen(r->ip + 5) + 1);
	if (r->ip[0] == '[')
		memmove(r->ip, r->ip + 1, strlen(r->ip));
	n = strlen(r->ip);
	if (n > 0 && r->ip[n - 1] == ']')
		r->ip[--n] = '\0';
	if ((p = strchr(r->ip, '%')) != NULL)
		*p = '\0';
	if (strncasecmp(r->ip, "::ffff:", 7) == 0 && strchr(r->ip + 7, '.') != NULL)
		memmove(r->ip, r->ip + 7, strlen(r->ip + 7) + 1);
	n = strlen(r->by);
	if (n > 0 && r->by[n - 1] == ';')
		r->by[n - 1] = '\0';
	if (r->envfrom[0] != '\0') {
		char *e = r->envfrom;
		while (*e == '<' || isspace((unsigned char)*e))
			e++;
		memmove(r->envfrom, e, strlen(e) + 1);
		n = strlen(r->envfrom);
		while (n > 0 && (r->envfrom[n - 1] == '>' || isspace((unsigned char)r->envfrom[n - 1])))
			r->envfrom[--n] = '\0';
	}
	defang(r->ip);
	defang(r->rdns);
	defang(r->helo);
	defang(r->by);
	defang(r->ident);
	defang(r->envfrom);
}

/* The line with runs of white space as one blank, none at the ends, no
 * trailing semicolons, at most RELAY_LINE_MAX - 1 bytes. */
static size_t
normalize(const char *line, size_t n, char *l)
{
	size_t j = 0;
	int blank = 0;

	for (size_t i = 0; i < n && j < RELAY_LINE_MAX - 1; i++) {
		unsigned char c = (unsigned char)line[i];
		if (isspace(c) || c == '\0') {
			blank = j > 0;
			continue;
		}
		if (blank && j < RELAY_LINE_MAX - 2)
			l[j++] = ' ';
		blank = 0;
		l[j++] = (char)c;
	}
	while (j > 0 && (l[j - 1] == ';' || l[j - 1] == ' '))
		j--;
	l[j] = '\0';
	return j;
}

/* The first layout of tab (n entries) that matches s: RELAY_SKIP,
 * RELAY_FETCH or RELAY_OK with *r filled; -1 when none does. */
static int
try_layouts(struct layout *tab, size_t n, const char *s, size_t len, struct relay *r)
{
	char *p;

	for (size_t i = 0; i < n; i++) {
		struct layout *lo = &tab[i];
		char sub[RELAY_LINE_MAX];
		int softdnserr;

		if (lo->when != NULL && strstr(s, lo->when) == NULL)
			continue;
		if (!run(lo, s, len))
			continue;
		if (lo->flags & F_SKIP)
			return RELAY_SKIP;
		if (lo->flags & F_FETCH)
			return RELAY_FETCH;
		if (lo->flags & F_NO_HELO_UNSET)
			r->helo[0] = '\0';
		(void)group(lo, "ip", s, r->ip, sizeof(r->ip));
		(void)group(lo, "rdns", s, r->rdns, sizeof(r->rdns));
		(void)group(lo, "helo", s, r->helo, sizeof(r->helo));
		(void)group(lo, "by", s, r->by, sizeof(r->by));
		(void)group(lo, "ident", s, r->ident, sizeof(r->ident));
		if (lo->flags & F_HELO_IS_RDNS)
			set(r->helo, sizeof(r->helo), r->rdns);
		if ((lo->flags & F_SUB) && group(lo, "sub", s, sub, sizeof(sub)))
			sub_fields(sub, r);
		if (lo->flags & F_NO_HELO)
			r->helo[0] = '\0';
		if (lo->flags & F_NO_ID)
			r->id[0] = '\0';
		(void)group(lo, "id", s, r->id, sizeof(r->id));
		if ((lo->flags & F_UNVERIFIED) && strcmp(r->rdns, "unverified") == 0)
			r->rdns[0] = '\0';
		softdnserr = (lo->flags & F_SOFTDNSERR) && strcmp(r->rdns, "softdnserr") == 0;
		if (softdnserr)
			r->rdns[0] = '\0';     /* (a lookup that failed) */
		if (lo->flags & F_IDENT_IN_RDNS) {
			char *at = strchr(r->rdns, '@');
			if (at != NULL) {
				const char *id0 = strncmp(r->rdns, "IDENT:", 6) == 0 ? r->rdns + 6 : r->rdns;
				snprintf(r->ident, sizeof(r->ident), "%.*s", (int)(at - id0), id0);
				memmove(r->rdns, at + 1, strlen(at + 1) + 1);
			}
		}
		/* an "ident@" group keeps no "@" */
		if ((p = strchr(r->ident, '@')) != NULL && p[1] == '\0')
			*p = '\0';
		finish(r);
		r->no_rdns = (lo->flags & F_LOOKED) && !softdnserr && r->rdns[0] == '\0';
		return RELAY_OK;
	}
	return -1;
}

int
relay_parse(const char *line, size_t n, struct relay *r)
{
	char l[RELAY_LINE_MAX], v[RELAY_FIELD_MAX];
	size_t len;
	int rc;
	const char *s;
	char *p;

	memset(r, 0, sizeof(*r));
	len = normalize(line, n, l);
	if (!run(&pre[P_FROM], l, len) ||
	    run(&pre[P_LOCAL_FOR], l, len) ||
	    run(&pre[P_FROM_BY_SEMI], l, len))
		return RELAY_SKIP;
	if (run(&pre[P_DATE], l, len)) {
		len = pcre2_get_ovector_pointer(md)[0];
		l[len] = '\0';
	}
	if ((p = strstr(l, ")by ")) != NULL && len < RELAY_LINE_MAX - 1) {
		memmove(p + 2, p + 1, len - (size_t)(p + 1 - l) + 1);
		p[1] = ' ';
		len++;
	}

	if (pre_value(P_ID, l, len, v, sizeof(v)))
		set(r->id, sizeof(r->id), v);
	if (pre_value(P_HELO_EQ, l, len, v, sizeof(v)) || pre_value(P_HELO, l, len, v, sizeof(v)))
		set(r->helo, sizeof(r->helo), v);
	if (pre_value(P_BY, l, len, v, sizeof(v)))
		set(r->by, sizeof(r->by), v);
	if (pre_value(P_AUTH_WITH, l, len, v, sizeof(v)) ||
	    pre_value(P_AUTH_COURIER, l, len, v, sizeof(v)))
		set(r->auth, sizeof(r->auth), v);
	else if (strstr(l, "authenticated") != NULL && run(&pre[P_AUTH_SENDMAIL], l, len))
		set(r->auth, sizeof(r->auth), "Sendmail");
	else if (pre_value(P_AUTH_POSTFIX, l, len, v, sizeof(v)))
		snprintf(r->auth, sizeof(r->auth), strcmp(v, "Postfix") == 0 ? "%s" : "Postfix (%s)", v);
	else if (strstr(l, " (account ") != NULL && run(&pre[P_AUTH_CGP], l, len))
		set(r->auth, sizeof(r->auth), "Communigate");
	else if (pre_value(P_AUTH_VIA, l, len, v, sizeof(v)))
		set(r->auth, sizeof(r->auth), v);

	if (strncmp(l, "from ", 5) == 0) {
		s = l + 5;
		len -= 5;
		if (pre_value(P_ENVFROM, s, len, v, sizeof(v)))
			set(r->envfrom, sizeof(r->envfrom), v);
		if ((rc = try_layouts(layouts, NELEM(layouts), s, len, r)) >= 0)
			return rc;
		if (r->helo[0] == '\0' && pre_value(P_FIRST_WORD, s, len, v, sizeof(v)))
			set(r->helo, sizeof(r->helo), v);
	} else if (strncmp(l, "(from ", 6) == 0) {
		s = l + 6;
		len -= 6;
		if ((rc = try_layouts(layouts_paren, NELEM(layouts_paren), s, len, r)) >= 0)
			return rc;
	} else if (strncmp(l, "FROM ", 5) == 0) {
		s = l + 5;
		len -= 5;
		if ((rc = try_layouts(layouts_upper, NELEM(layouts_upper), s, len, r)) >= 0)
			return rc;
	} else
		s = l;
	if (r->ip[0] == '\0' && pre_value(P_BRACKET_IP, s, strlen(s), v, sizeof(v)))
		set(r->ip, sizeof(r->ip), v);
	if (r->ip[0] != '\0' && r->by[0] != '\0') {
		finish(r);
		return RELAY_OK;
	}
	return RELAY_UNPARSEABLE;
}

void
relay_string(const struct relay *r, int internal, struct buf *out)
{
	if (out->len > 0)
		(void)buf_appendc(out, ' ');
	(void)buf_printf(out, "[ ip=%s rdns=%s helo=%s by=%s ident=%s envfrom=%s intl=%d id=%s auth=%s msa=0 ]",
	    r->ip, r->rdns, r->helo, r->by, r->ident, r->envfrom, internal ? 1 : 0, r->id, r->auth);
}

/* ip (as relay_parse leaves it) in nl. */
static int
ip_in(const struct netlist *nl, const char *ip)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return netlist_match(nl, (const struct sockaddr *)&s4);
	}
	if (inet_pton(AF_INET6, ip, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return netlist_match(nl, (const struct sockaddr *)&s6);
	}
	return 0;
}

/* A fixed list, parsed on first use. */
int
relay_ip_in_net(const char *net, const char *ip)
{
	char *err = NULL;
	struct netlist *nl = netlist_parse(net, &err);
	int r;

	if (nl == NULL) {
		free(err);
		return 0;
	}
	r = ip_in(nl, ip);
	netlist_free(&nl);
	return r;
}

static const struct netlist *
fixed_list(struct netlist **nl, const char *value)
{
	char *err = NULL;

	if (*nl == NULL && (*nl = netlist_parse(value, &err)) == NULL)
		abort();        /* a fixed list: a build error */
	return *nl;
}

int
relay_ip_private(const char *ip)
{
	static struct netlist *nl;

	return ip_in(fixed_list(&nl, "127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 "
	    "192.168.0.0/16 169.254.0.0/16 100.64.0.0/10 [::1]/128 [fe80::]/10 "
	    "[fc00::]/7"), ip);
}

/* Headers SpamAssassin's default configuration reads as one more, oldest
 * relay (the webmail user's address a provider records). */
static const char *const originating[] = {
	"X-Yahoo-Post-IP", "X-Originating-IP", "X-Apparently-From", "X-SenderIP",
	"X-AOL-IP", "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp",
};

/* Whether a relay's address is in the configured trusted networks
 * (loopback always is). */
static int
ip_trusted(const struct netlist *nl, const char *ip)
{
	static struct netlist *lo;

	return ip_in(fixed_list(&lo, "127.0.0.0/8 [::1]/128"), ip) || ip_in(nl, ip);
}

void
relays_of_message(const struct mime_msg *m, const struct netlist *trusted,
    struct relays *out)
{
	struct buf b[4];        /* trusted, untrusted, internal, external */
	int in_trusted = 1, in_internal = 1, fetch_ok = 1;
	size_t nsyn = 0;
	char syn[NELEM(originating)][96];
	char env_trusted[RELAY_FIELD_MAX] = "", env_untrusted[RELAY_FIELD_MAX] = "";
	int any_untrusted = 0;
	const char *env;
	size_t nkept = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	out->last_trusted = out->last_internal = -1;
	for (int k = 0; k < 4; k++)
		buf_init(&b[k], 1024 * 1024);
	for (size_t k = 0; k < NELEM(originating); k++)
		for (size_t i = 0; i < m->nhdrs; i++) {
			const char *v = m->hdrs[i].value;
			char ip[64];
			if (strcasecmp(m->hdrs[i].name, originating[k]) != 0)
				continue;
			if (run(&pre[P_IP], v, strlen(v)) &&
			    group(&pre[P_IP], "v", v, ip, sizeof(ip)))
				snprintf(syn[nsyn++], sizeof(syn[0]), "from X-Originating-IP: %s", ip);
			break;
		}
	for (size_t i = 0; i <= m->nhdrs + nsyn; i++) {
		struct relay r;
		const char *v;
		int rc;

		if (i < m->nhdrs) {
			if (strcasecmp(m->hdrs[i].name, "Received") != 0)
				continue;
			v = m->hdrs[i].value;
		} else if (i - m->nhdrs < nsyn)
			v = syn[i - m->nhdrs];
		else
			break;
		rc = relay_parse(v, strlen(v), &r);
		if (rc == RELAY_FETCH && fetch_ok) {
			buf_reset(&b[0]);
			buf_reset(&b[2]);
			buf_reset(&b[3]);
			env_trusted[0] = '\0';
			nkept = 0;
			out->ntrusted = 0;
		}
		if (rc == RELAY_UNPARSEABLE)
			out->nunparseable++;
		if (rc != RELAY_OK) {
			out->last_trusted += in_trusted;
			out->last_internal += in_internal;
			continue;
		}
		if (in_trusted && r.auth[0] == '\0' &&
		    !(trusted != NULL ? ip_trusted(trusted, r.ip) : relay_ip_private(r.ip)))
			in_trusted = in_internal = 0;
		relay_string(&r, in_internal, &b[in_trusted ? 0 : 1]);
		relay_string(&r, in_internal, &b[in_internal ? 2 : 3]);
		out->last_trusted += in_trusted;
		out->last_internal += in_internal;
		if (nkept < RELAYS_KEPT) {
			if (nkept == cap) {
				cap = cap ? 2 * cap : 4;
				out->v = xreallocarray(out->v, cap, sizeof(*out->v));
			}
			out->v[nkept++] = r;
		}
		if (in_trusted)
			out->ntrusted++;
		else
			out->nuntrusted++;
		if (in_trusted)
			memcpy(env_trusted, r.envfrom, sizeof(env_trusted));
		else if (!any_untrusted++)
			memcpy(env_untrusted, r.envfrom, sizeof(env_untrusted));
		fetch_ok = in_trusted;
	}
	env = any_untrusted ? env_untrusted : env_trusted;
	out->envfrom = xstrdup(strchr(env, '@') != NULL && env[0] != '@' ? env : "");
	out->trusted = b[0].data ? buf_steal(&b[0]) : xstrdup("");
	out->untrusted = b[1].data ? buf_steal(&b[1]) : xstrdup("");
	out->internal = b[2].data ? buf_steal(&b[2]) : xstrdup("");
	out->external = b[3].data ? buf_steal(&b[3]) : xstrdup("");
	for (int k = 0; k < 4; k++)
		buf_free(&b[k]);
}

/* 1 when a header called name follows a Received: line (a list or
 * forwarder may have written it for an earlier hop). */
static int
after_received(const struct mime_msg *m, const char *name)
{
	const struct mime_header *rcvd = mime_header_get(m, "Received");

	if (rcvd == NULL)
		return 0;
	for (size_t i = (size_t)(rcvd - m->hdrs) + 1; i < m->nhdrs; i++)
		if (strcasecmp(m->hdrs[i].name, name) == 0)
			return 1;
	return 0;
}

/* (relays.h) Each header's first address as SpamAssassin's parser finds
 * it (header_eval.h); a header where it finds none is passed over. */
char *
relays_envelope_from(const struct mime_msg *m, const struct relays *rl)
{
	static const char *const hdrs[] = {
		"X-Envelope-From", "Envelope-Sender", "Return-Path",
	};
	const struct mime_header *hd;

	if (rl->envfrom[0] != '\0')
		return xstrdup(rl->envfrom);
	if ((hd = mime_header_get(m, "X-Sender")) != NULL) {
		/* an address ("@ (Unverified)" is none) */
		char *x = he_first_address(hd->raw);
		int addr = x != NULL;
		free(x);
		for (size_t k = 0; addr && k < m->nhdrs; k++)
			if (strcasecmp(m->hdrs[k].name, "Received") == 0 &&
			    strstr(m->hdrs[k].value, "(fetchmail") != NULL)
				return NULL;
	}
	for (size_t h = 0; h < NELEM(hdrs); h++) {
		char *a;
		if ((hd = mime_header_get(m, hdrs[h])) == NULL)
			continue;
		if (after_received(m, hdrs[h])) {
			if (h == 0)
				return NULL;
			continue;
		}
		if ((a = he_first_address(hd->raw)) != NULL)
			return a;
	}
	return NULL;
}

void
relays_free(struct relays *rl)
{
	free(rl->trusted);
	free(rl->untrusted);
	free(rl->internal);
	free(rl->external);
	free(rl->envfrom);
	free(rl->v);
	memset(rl, 0, sizeof(*rl));
}
