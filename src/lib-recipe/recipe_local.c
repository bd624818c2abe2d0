/*
 * recipe_local.c - recipes as a step of local delivery: runs the
 * system-wide rcfile and the user's own one for one recipient, in a child
 * process with the recipient's rights, and maps procmail's exit status to
 * a delivery status.  Also the main.cf parameters of recipe delivery.
 *
 * Untrusted bytes: the message (read from the descriptor local delivery
 * prepared) and the rcfiles (see recipe_parse.c).
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "mem.h"
#include "recipe.h"

static const struct cfg_param recipe_params[] = {
	{ "recipe_delivery", CFG_BOOL, "yes", 0, "Run procmail-style recipes in local and virtual delivery when the recipient has a recipe file" },
	{ "recipe_system_file", CFG_STR, "/etc/procmailrc", 0, "System-wide rcfile run first, with the recipient's rights (procmail's /etc/procmailrc; empty: none)" },
	{ "recipe_user_file", CFG_STR, ".procmailrc", 0, "Recipe file of system users, relative to their home directory" },
	{ "recipe_virtual_file", CFG_STR, ".procmailrc", 0, "Recipe file of virtual users, in their Maildir (for an mbox mailbox: the mailbox path followed by this name)" },
	{ "recipe_regex_step_limit", CFG_INT, "1000000", 0, "PCRE2 match limit of one recipe condition; hitting it delivers to DEFAULT" },
	{ "recipe_process_limit", CFG_INT, "100", 0, "Programs (| ! ` ? and clones) one message may start; hitting it delivers to DEFAULT" },
	{ "recipe_nesting_limit", CFG_INT, "64", 0, "Deepest nesting of { } blocks in an rcfile; deeper files deliver to DEFAULT" },
	{ "recipe_vacation_file", CFG_STR, ".vacation.msg", 0, "Per-user vacation setting: when this file exists (home directory of system users, Maildir of virtual users) each message is first offered to `tempest vacation -m FILE`, with no recipe needed" },
};
CONFIG_PARAMS(recipe_params);

/* The per-user vacation setting: offer the message to `tempest vacation`
 * (which applies RFC 3834's rules and its once-per-interval memory); its
 * outcome never affects the delivery. */
static void
run_vacation(const struct rc_local *l, const char *data, size_t len)
{
	int p[2], st;
	pid_t pid;

	if (l->vacation_msg == NULL || access(l->vacation_msg, R_OK) != 0 ||
	    pipe(p) < 0)
		return;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execl(l->sendmail, "tempest", "vacation", "-m", l->vacation_msg,
		    "-a", l->rcpt != NULL ? l->rcpt : l->logname, (char *)NULL);
		_exit(75);
	}
	close(p[0]);
	while (len > 0) {
		ssize_t w = write(p[1], data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		data += w;
		len -= (size_t)w;
	}
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

static void
child(const struct rc_local *l)
{
	struct rc_config cfg;
	struct rc_msg msg;
	struct buf b;
	char tmp[65536], date[64], *rcfiles[1], *p;
	ssize_t r;
	size_t nrc = 0;
	time_t t = l->arrival > 0 ? (time_t)l->arrival : time(NULL);
	struct tm tm;
	int rc;

	if (geteuid() == 0 && l->uid >= 0) {
		gid_t g = (gid_t)(l->gid >= 0 ? l->gid : l->uid);
		if (l->uid == 0 || setgroups(1, &g) < 0 || setgid(g) < 0 ||
		    setuid((uid_t)l->uid) < 0)
			_exit(75);
	}
	clearenv();
	setenv("HOME", l->home, 1);
	setenv("LOGNAME", l->logname, 1);
	setenv("USER", l->logname, 1);
	setenv("SHELL", l->shell != NULL ? l->shell : "/bin/sh", 1);
	setenv("ORGMAIL", l->orgmail, 1);
	setenv("DEFAULT", l->orgmail, 1);
	setenv("MAILDIR", l->home, 1);
	setenv("LOCKEXT", ".lock", 1);
	setenv("MSGPREFIX", "msg.", 1);
	setenv("SHELLFLAGS", "-c", 1);
	setenv("SHELLMETAS", "&|<>~;?*[", 1);
	setenv("SENDMAIL", l->sendmail, 1);
	setenv("SENDMAILFLAGS", "-oi", 1);
	setenv("PROCMAIL_VERSION", "3.22", 1);
	setenv("TZ", "UTC", 0);
	if (l->config_dir != NULL)
		setenv("TEMPEST_CONFIG_DIR", l->config_dir, 1);
	{
		/* `tempest vacation` etc. work from recipes without a full path */
		const char *sl = strrchr(l->sendmail, '/');
		if (sl != NULL && sl != l->sendmail)
			p = xasprintf("%s/bin:%.*s:/usr/local/bin:/usr/bin:/bin",
			    l->home, (int)(sl - l->sendmail), l->sendmail);
		else
			p = xasprintf("%s/bin:/usr/local/bin:/usr/bin:/bin", l->home);
	}
	setenv("PATH", p, 1);
	free(p);
	if (gethostname(tmp, 255) == 0) {
		tmp[255] = '\0';
		setenv("HOST", tmp, 1);
	}
	if (chdir(l->home) < 0 && chdir("/") < 0)
		_exit(75);
	umask(077);
	/* the message, with a From_ line as procmail -d gets it */
	buf_init(&b, (size_t)1024 * 1024 * 1024);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
	buf_printf(&b, "From %s  %s\n", *l->sender != '\0' ? l->sender :
	    "MAILER-DAEMON", date);
	if (lseek(l->msgfd, 0, SEEK_SET) < 0)
		_exit(75);
	while ((r = read(l->msgfd, tmp, sizeof(tmp))) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			_exit(75);
		}
		if (buf_append(&b, tmp, (size_t)r) < 0)
			_exit(75);
	}
	close(l->msgfd);
	memset(&msg, 0, sizeof(msg));
	{
		size_t n = b.len;
		char *raw = buf_steal(&b);
		run_vacation(l, raw, n);
		rc_msg_set(&msg, raw, n);
	}
	rc_config_defaults(&cfg);
	cfg.sendmail_self = l->sendmail;
	cfg.delivery_mode = 1;
	cfg.tempfail_on_error = 1;
	cfg.etc_rcfile = l->etc_rcfile != NULL && *l->etc_rcfile != '\0' ?
	    l->etc_rcfile : NULL;
	cfg.regex_steps = (unsigned long)config_int("recipe_regex_step_limit");
	cfg.max_forks = (int)config_int("recipe_process_limit");
	cfg.limits.max_depth = (int)config_int("recipe_nesting_limit");
	if (l->user_rcfile != NULL && access(l->user_rcfile, R_OK) == 0)
		rcfiles[nrc++] = (char *)l->user_rcfile;
	rc = rc_run(&cfg, &msg, rcfiles, nrc);
	_exit(rc);
}

int
rc_local_deliver(const struct rc_local *l, char **error_r)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0) {
		*error_r = xasprintf("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(l);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	*error_r = xasprintf("recipe process killed by signal %d",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -1;
}

int
rc_local_enabled(void)
{
	return config_bool("recipe_delivery");
}

const char *
rc_local_param(const char *name)
{
	return config_str(name);
}
