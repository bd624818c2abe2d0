/*
 * procmail.c - `tempest procmail [-ptY] [-f from] [-a arg] [VAR=value...]
 * [rcfile...]`: a stand-alone procmail(1).  The message comes on stdin;
 * the command-line assignments are applied after the start-up defaults
 * and before the first rcfile; the exit status is procmail's.  Needs no
 * Tempest configuration directory.
 *
 * Untrusted bytes: the message on stdin (bounded by RC_MESSAGE_MAX) and
 * the rcfiles (parsed by lib-recipe).  One intended difference from
 * procmail: HOME, LOGNAME and USER are taken from the environment when
 * set (procmail takes them from the passwd entry).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "mem.h"
#include "recipe.h"
#include "roles.h"

#define RC_MESSAGE_MAX ((size_t)1024 * 1024 * 1024)
#define EX_USAGE_ 64
#define EX_TEMPFAIL_ 75

extern char **environ;

static char *
take_env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL ? xstrdup(v) : NULL;
}

static void
setdef(const char *name, const char *value)
{
	setenv(name, value, 1);
}

/* procmail's start-up environment */
static void
init_environment(int preserve)
{
	char *home = take_env("HOME"), *logname = take_env("LOGNAME");
	char *user = take_env("USER"), *tz = take_env("TZ");
	struct passwd *pw = getpwuid(getuid());
	char host[256], *p;

	if (!preserve)
		clearenv();
	if (tz != NULL)
		setdef("TZ", tz);
	if (logname == NULL && user != NULL)
		logname = xstrdup(user);
	if (logname == NULL)
		logname = xstrdup(pw != NULL ? pw->pw_name : "nobody");
	if (home == NULL)
		home = xstrdup(pw != NULL ? pw->pw_dir : "/");
	setdef("HOME", home);
	setdef("LOGNAME", logname);
	if (user != NULL)
		setdef("USER", user);
	setdef("SHELL", pw != NULL && pw->pw_shell != NULL && *pw->pw_shell != '\0' &&
	    strcmp(pw->pw_name, logname) == 0 ? pw->pw_shell : "/bin/sh");
	p = xasprintf("/var/mail/%s", logname);
	setdef("ORGMAIL", p);
	setdef("DEFAULT", p);
	free(p);
	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	setdef("HOST", host);
	setdef("LINEBUF", "2048");
	setdef("LOCKEXT", ".lock");
	setdef("MSGPREFIX", "msg.");
	setdef("SHELLFLAGS", "-c");
	setdef("SHELLMETAS", "&|<>~;?*[");
	setdef("SENDMAIL", ctl_self_path() != NULL && *ctl_self_path() != '\0' ?
	    ctl_self_path() : "/usr/sbin/sendmail");
	setdef("SENDMAILFLAGS", "-oi");
	setdef("PROCMAIL_VERSION", "3.22");
	setdef("COMSAT", "no");
	p = xasprintf("%s/bin:/usr/local/bin:/usr/bin:/bin", home);
	setdef("PATH", p);
	free(p);
	if (chdir(home) < 0) {
		if (chdir("/") < 0) {
			/* nothing better */
		}
	}
	setdef("MAILDIR", home);
	unsetenv("LASTFOLDER");
	unsetenv("EXITCODE");
	free(home);
	free(logname);
	free(user);
	free(tz);
}

static int
read_stdin(char **data_r, size_t *len_r)
{
	struct buf b;
	char tmp[65536];
	ssize_t r;

	buf_init(&b, RC_MESSAGE_MAX);
	buf_appends(&b, "");
	while ((r = read(0, tmp, sizeof(tmp))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			buf_free(&b);
			return -1;
		}
		if (buf_append(&b, tmp, (size_t)r) < 0) {
			buf_free(&b);
			return -1;
		}
	}
	*len_r = b.len;
	*data_r = buf_steal(&b);
	return 0;
}

int
procmail_main(int argc, char **argv)
{
	struct rc_config cfg;
	struct rc_msg msg;
	char **rcfiles = NULL, **assigns = NULL, **args = NULL;
	size_t nrc = 0, nas = 0, nargs = 0;
	int preserve = 0, tempfail = 0, mailfilter = 0, i, rc;
	char *data;
	size_t len;

	rc_config_defaults(&cfg);
	umask(077);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		for (a++; *a != '\0'; a++) {
			switch (*a) {
			case 'p': preserve = 1; break;
			case 't': tempfail = 1; break;
			case 'Y': case 'o': break;
			case 'm': mailfilter = 1; break;
			case 'v':
				printf("tempest procmail (procmail 3.22 compatible)\n");
				return 0;
			case 'f': case 'r': case 'a': case 'd': {
				char opt = *a;
				const char *val = a[1] != '\0' ? a + 1 :
				    (i + 1 < argc ? argv[++i] : NULL);
				if (val == NULL) {
					fprintf(stderr, "procmail: missing argument to -%c\n", opt);
					return EX_USAGE_;
				}
				if (opt == 'a') {
					args = xreallocarray(args, nargs + 1, sizeof(char *));
					args[nargs++] = (char *)val;
				}
				if (opt == 'd') {
					fprintf(stderr, "procmail: -d is done by Tempest's local delivery\n");
					return EX_USAGE_;
				}
				a = val + strlen(val) - 1;
				if (opt != 'a' && opt != 'f' && opt != 'r')
					break;
				goto nextarg;
			}
			default:
				ctl_usage("procmail");
				return EX_USAGE_;
			}
		}
nextarg:	;
	}
	init_environment(preserve);
	for (; i < argc; i++) {
		if (strchr(argv[i], '=') != NULL && (nrc == 0 || !mailfilter)) {
			assigns = xreallocarray(assigns, nas + 1, sizeof(char *));
			assigns[nas++] = argv[i];
			continue;
		}
		if (mailfilter && nrc > 0) {
			args = xreallocarray(args, nargs + 1, sizeof(char *));
			args[nargs++] = argv[i];
			continue;
		}
		rcfiles = xreallocarray(rcfiles, nrc + 2, sizeof(char *));
		if (argv[i][0] == '/' || mailfilter ||
		    (argv[i][0] == '.' && argv[i][1] == '/'))
			rcfiles[nrc++] = xstrdup(argv[i]);
		else
			rcfiles[nrc++] = xasprintf("%s/%s", getenv("HOME"), argv[i]);
	}
	if (nrc == 0) {
		rcfiles = xcalloc(2, sizeof(char *));
		rcfiles[nrc++] = xasprintf("%s/.procmailrc", getenv("HOME"));
	}
	if (read_stdin(&data, &len) < 0) {
		fprintf(stderr, "procmail: cannot read the message\n");
		return EX_TEMPFAIL_;
	}
	memset(&msg, 0, sizeof(msg));
	rc_msg_set(&msg, data, len);
	cfg.sendmail_self = ctl_self_path();
	cfg.tempfail_on_error = tempfail;
	cfg.assigns = assigns;
	cfg.nassigns = nas;
	cfg.args = args;
	cfg.nargs = nargs;
	rc = rc_run(&cfg, &msg, rcfiles, nrc);
	rc_msg_free(&msg);
	return rc;
}
