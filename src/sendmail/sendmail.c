/*
 * sendmail.c - the sendmail(1)-compatible submission command:
 *   tempest sendmail [-t] [-i|-oi] [-f sender] [-F name] [-bs|-bm]
 *                    [-o..] [-B 7BIT|8BITMIME] [-N never|success,delay,failure]
 *                    [-R hdrs|full] [-V envid] [-SMTPUTF8] [rcpt ...]
 * (also run as `sendmail` through argv[0]).  The message is written to
 * queue_directory/maildrop/ (durably: fsync before exit 0) and the pickup
 * service is poked; pickup moves it into the queue.  -bs speaks SMTP on
 * stdin/stdout through the local SMTP service.  -N, -R, -V, -B and
 * -SMTPUTF8 are Postfix's: the DSN NOTIFY of every recipient, RET, ENVID,
 * the body type and SMTPUTF8, as MAIL FROM and RCPT TO would give them.
 * Postfix's other modes run the command they stand for, with the
 * caller's own rights (no part of tempest is set-id): -bd `tempest
 * start`, -bp `mailq`, -bi `newaliases`, -q `tempest flush`.
 *
 * Input: the local user's message and arguments (untrusted as far as the
 * mail system goes; pickup re-validates everything).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "buf.h"
#include "fdio.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "master_cf.h"
#include "mem.h"
#include "netaddr.h"
#include "roles.h"
#include "service.h"
#include "smtp_parse.h"
#include "str.h"

#define SENDMAIL_LINE_MAX (1024 * 1024)

static void
usage(void)
{
	ctl_usage("sendmail");
	exit(EX_USAGE);
}

static char *
qualify(const char *addr)
{
	if (*addr == '\0' || strchr(addr, '@') != NULL)
		return xstrdup(addr);
	return xasprintf("%s@%s", addr, config_str("myorigin"));
}

/* Addresses from a To/Cc/Bcc header value: the <...> parts, or the
 * comma-separated words when there are no angle brackets. */
static void
header_addresses(const char *value, char ***rcpts, size_t *n)
{
	char **parts = str_split(value, ",", NULL);
	size_t i;

	for (i = 0; parts[i] != NULL; i++) {
		char *p = parts[i], *lt = strrchr(p, '<'), *gt;
		char *a;
		if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
			a = xstrndup(lt + 1, (size_t)(gt - lt - 1));
		} else {
			/* strip (comments) and white space */
			char *paren = strchr(p, '(');
			if (paren != NULL)
				*paren = '\0';
			a = xstrdup(str_trim(p));
		}
		if (*a != '\0') {
			*rcpts = xreallocarray(*rcpts, *n + 2, sizeof(char *));
			(*rcpts)[(*n)++] = qualify(a);
			(*rcpts)[*n] = NULL;
		}
		free(a);
	}
	str_split_free(&parts);
}

/* -N: "never" or a list of success, delay, failure (Postfix's
 * dsn_notify_mask()); 0 if bad. */
static int
notify_mask(const char *arg)
{
	char **w = str_split(arg, ",", NULL);
	int mask = 0, bad = 0;

	for (size_t i = 0; w[i] != NULL; i++) {
		const char *t = str_trim(w[i]);
		int bit = strcasecmp(t, "never") == 0 ? DSN_NOTIFY_NEVER :
		    strcasecmp(t, "success") == 0 ? DSN_NOTIFY_SUCCESS :
		    strcasecmp(t, "delay") == 0 ? DSN_NOTIFY_DELAY :
		    strcasecmp(t, "failure") == 0 ? DSN_NOTIFY_FAILURE : 0;
		if (bit == 0)
			bad = 1;
		mask |= bit;
	}
	str_split_free(&w);
	if (bad || !maildrop_notify_ok(mask))
		return 0;
	return mask;
}

/* -bs: relay stdin/stdout to the first SMTP service of master.cf. */
static int
smtp_stdio(void)
{
	struct master_cf cf;
	char *err = NULL, *path = xasprintf("%s/master.cf", config_dir());
	size_t i;
	int fd = -1;

	if (master_cf_load(path, 100, &cf, &err) < 0) {
		fprintf(stderr, "sendmail: %s\n", err);
		return EX_CONFIG;
	}
	for (i = 0; i < cf.n && fd < 0; i++) {
		char *host = NULL, *port = NULL;
		struct sockaddr_in sin;
		if (cf.v[i].type != SVC_INET ||
		    strcmp(cf.v[i].command, "smtpd") != 0 ||
		    netaddr_split_hostport(cf.v[i].name, &host, &port) < 0)
			continue;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((unsigned short)atoi(port));
		if (*host == '\0' || inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin,
		    sizeof(sin)) < 0) {
			close(fd);
			fd = -1;
		}
		free(host);
		free(port);
	}
	master_cf_free(&cf);
	if (fd < 0) {
		fprintf(stderr, "sendmail: -bs: no SMTP service reachable\n");
		return EX_UNAVAILABLE;
	}
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { fd, POLLIN, 0 } };
		char buf[8192];
		ssize_t n;
		if (poll(p, 2, -1) < 0)
			break;
		if (p[1].revents) {
			n = read(fd, buf, sizeof(buf));
			if (n <= 0 || fd_write_all(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(fd, SHUT_WR);
				p[0].fd = -1;
				while ((n = read(fd, buf, sizeof(buf))) > 0)
					fd_write_all(1, buf, (size_t)n);
				break;
			}
			if (fd_write_all(fd, buf, (size_t)n) < 0)
				break;
		}
	}
	close(fd);
	return 0;
}

int
sendmail_main(int argc, char **argv)
{
	const char *sender_opt = NULL, *fullname = NULL;
	int extract = 0, dot_ends = 1, flush = 0, c;
	char mode = 'm';
	char **rcpts = xcalloc(1, sizeof(char *)), *sender, *err = NULL;
	size_t nrcpt = 0, i;
	struct buf hdr, content;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int in_headers = 1, have_from = 0, skip_header = 0;
	struct passwd *pw;
	struct maildrop md;
	int notify = 0;

	memset(&md, 0, sizeof(md));
	/* -SMTPUTF8 (Postfix): a long option among getopt's short ones */
	for (int a = 1; a < argc && strcmp(argv[a], "--") != 0; a++) {
		if (strcmp(argv[a], "-SMTPUTF8") == 0) {
			md.smtputf8 = 1;
			memmove(&argv[a], &argv[a + 1], (size_t)(argc - a) * sizeof(*argv));
			argc--;
			a--;
		}
	}
	/* sendmail options; unknown -o values are ignored */
	optind = 1;
	opterr = 0;
	while ((c = getopt(argc, argv, "tif:F:b:o:B:N:R:V:C:X:q::r:Uv")) != -1) {
		switch (c) {
		case 'N':
			if ((notify = notify_mask(optarg)) == 0) {
				fprintf(stderr, "sendmail: fatal: bad -N option value: %s "
				    "(never, or a list of success, delay, failure)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'R':
			if (strcasecmp(optarg, "full") == 0)
				md.ret = 1;
			else if (strcasecmp(optarg, "hdrs") == 0)
				md.ret = 2;
			else {
				fprintf(stderr, "sendmail: fatal: bad -R option value: %s "
				    "(hdrs or full)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'V':
			if (!maildrop_envid_ok(optarg)) {
				fprintf(stderr, "sendmail: fatal: bad -V option value: "
				    "the envelope id must be 1 to 100 printable ASCII "
				    "characters\n");
				return EX_USAGE;
			}
			free(md.envid);
			md.envid = xstrdup(optarg);
			break;
		case 'B':
			if (strcasecmp(optarg, "8BITMIME") == 0)
				md.body_8bit = 1;
			else if (strcasecmp(optarg, "7BIT") == 0)
				md.body_8bit = 0;
			else {
				fprintf(stderr, "sendmail: fatal: bad -B option value: %s "
				    "(7BIT or 8BITMIME)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 't': extract = 1; break;
		case 'i': dot_ends = 0; break;
		case 'f': case 'r': sender_opt = optarg; break;
		case 'F': fullname = optarg; break;
		case 'o':
			if (strcmp(optarg, "i") == 0)
				dot_ends = 0;
			break;
		case 'b':
			/* -bm (mail, the default), -bs (SMTP on stdin), and
			 * Postfix's other modes: -bd start the mail system,
			 * -bp list the queue, -bi rebuild the aliases */
			if (strlen(optarg) != 1 || strchr("msdpi", optarg[0]) == NULL) {
				fprintf(stderr, "sendmail: -b%s is not supported\n",
				    optarg);
				return EX_USAGE;
			}
			mode = optarg[0];
			break;
		case 'C':
			setenv("TEMPEST_CONFIG_DIR", optarg, 1);
			break;
		case 'q':
			/* -q: deliver the queue now; -qINTERVAL only goes
			 * with -bd, where master keeps its own schedule */
			if (optarg == NULL)
				flush = 1;
			break;
		case 'X': case 'U':
		case 'v':
			break;
		default:
			usage();
		}
	}
	if (mode == 'd' || mode == 'p' || mode == 'i' || flush) {
		char *name = mode == 'd' ? "start" : mode == 'p' ? "mailq" :
		    mode == 'i' ? "newaliases" : "flush";
		char *args[] = { name, NULL };
		int (*fn)(int, char **) = mode == 'd' ? ctl_start_main :
		    mode == 'p' ? mailq_main : mode == 'i' ? newaliases_main :
		    ctl_flush_main;
		if (optind != argc) {
			fprintf(stderr, "sendmail: %s: no recipients here\n",
			    flush ? "-q" : mode == 'd' ? "-bd" : mode == 'p' ?
			    "-bp" : "-bi");
			return EX_USAGE;
		}
		return fn != NULL ? fn(1, args) : EX_USAGE;
	}
	if (config_load(ctl_config_dir(), &err) < 0) {
		fprintf(stderr, "sendmail: fatal: %s\n", err);
		return EX_CONFIG;
	}
	if (mode == 's')
		return smtp_stdio();
	pw = getpwuid(getuid());
	if (sender_opt != NULL && strcmp(sender_opt, "<>") == 0)
		sender = xstrdup("<>");         /* the null sender: not qualified */
	else if (sender_opt != NULL)
		sender = qualify(sender_opt);
	else
		sender = qualify(pw != NULL ? pw->pw_name : "nobody");
	if (strcmp(sender, "<>") == 0) {
		free(sender);
		sender = xstrdup("");
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		rcpts = xreallocarray(rcpts, nrcpt + 2, sizeof(char *));
		rcpts[nrcpt++] = qualify(argv[i]);
		rcpts[nrcpt] = NULL;
	}

	buf_init(&hdr, BUF_UNLIMITED);
	buf_init(&content, BUF_UNLIMITED);
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (dot_ends && len == 1 && line[0] == '.')
			break;
		if (in_headers) {
			if (len == 0)
				in_headers = 0;
			else if (line[0] == ' ' || line[0] == '\t') {
				if (skip_header)
					continue;
				if (extract && (str_prefix_ci(buf_cstr(&hdr), "to:") ||
				    str_prefix_ci(buf_cstr(&hdr), "cc:") ||
				    str_prefix_ci(buf_cstr(&hdr), "bcc:")))
					buf_printf(&hdr, " %s", line);
			} else {
				if (extract && hdr.len > 0)
					header_addresses(strchr(hdr.data, ':') + 1,
					    &rcpts, &nrcpt);
				buf_reset(&hdr);
				skip_header = 0;
				if (str_prefix_ci(line, "from:"))
					have_from = 1;
				if (extract && (str_prefix_ci(line, "to:") ||
				    str_prefix_ci(line, "cc:") ||
				    str_prefix_ci(line, "bcc:")))
					buf_set(&hdr, line);
				if (extract && str_prefix_ci(line, "bcc:")) {
					skip_header = 1;
					continue;
				}
			}
			if (in_headers == 0 && !have_from) {
				/* add From: before the body */
				if (fullname != NULL)
					buf_printf(&content, "From: %s <%s>\n",
					    fullname, sender);
				else
					buf_printf(&content, "From: %s\n",
					    *sender ? sender : "MAILER-DAEMON");
				have_from = 1;
			}
		}
		buf_append(&content, line, (size_t)len);
		buf_appendc(&content, '\n');
	}
	free(line);
	if (extract && hdr.len > 0 && strchr(hdr.data, ':') != NULL)
		header_addresses(strchr(hdr.data, ':') + 1, &rcpts, &nrcpt);
	if (nrcpt == 0) {
		fprintf(stderr, "sendmail: fatal: no recipient addresses found "
		    "in message header\n");
		return EX_USAGE;
	}
	for (i = 0; i < nrcpt; i++) {
		struct smtp_path p;
		const char *perr;
		smtp_path_init(&p);
		if (smtp_parse_address(rcpts[i], SMTP_PATH_ALLOW_UTF8, &p,
		    &perr) < 0) {
			fprintf(stderr, "sendmail: fatal: bad address syntax: %s\n",
			    rcpts[i]);
			return EX_DATAERR;
		}
		smtp_path_free(&p);
	}
	md.sender = sender;
	md.fullname = (char *)fullname;
	md.rcpts = rcpts;
	md.nrcpt = nrcpt;
	if (notify != 0) {
		md.notify = xcalloc(nrcpt, sizeof(*md.notify));
		for (i = 0; i < nrcpt; i++)
			md.notify[i] = notify;
	}
	if (maildrop_write(config_str("queue_directory"), &md, content.data,
	    content.len, &err) < 0) {
		fprintf(stderr, "sendmail: fatal: %s\n", err);
		return EX_TEMPFAIL;
	}
	service_trigger_send("pickup", "W", 1);
	return 0;
}
