/*
 * local_hook.c - what happens to a recipient's mail before the default
 * mailbox: procmail-style recipes (lib-recipe) when the recipient has a
 * recipe file - for system users recipe_system_file then
 * ~/recipe_user_file, run with the user's rights; for virtual users the
 * recipe_virtual_file in their Maildir.  Errors in the recipes are
 * logged with file:line by lib-recipe and the message still goes to the
 * mailbox.  Aliases and .forward come with the forwarding work.
 */
#include <sys/mman.h>
#include <sys/wait.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "deliver_proto.h"
#include "forward.h"
#include "local.h"
#include "log.h"
#include "mem.h"
#include "recipe.h"
#include "roles.h"

void
local_hook_init(void)
{
	forward_init();
}

/* Recipes for one recipient: DELIVER_* or -1 when no recipe file applies. */
static int
run_recipes(const struct delivery *d, long uid, long gid, const char *home,
    const char *logname, const char *shell, const char *mailbox,
    const char *user_rc, const char *vacation, struct buf *text)
{
	const char *etc = config_str("recipe_system_file");
	struct rc_local l;
	char *err = NULL;
	int fd, rc;

	if (!config_bool("recipe_delivery"))
		return -1;
	if (*etc == '\0' || access(etc, R_OK) != 0)
		etc = NULL;
	if (etc == NULL && access(user_rc, F_OK) != 0 &&
	    access(vacation, F_OK) != 0)
		return -1;
	fd = memfd_create("recipe-message", MFD_CLOEXEC);
	if (fd < 0 || local_copy_message(d, fd, 0) < 0) {
		buf_printf(text, "4.3.0 recipes: cannot copy the message: %s",
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return DELIVER_DEFER;
	}
	memset(&l, 0, sizeof(l));
	l.uid = uid, l.gid = gid;
	l.home = home, l.logname = logname, l.shell = shell;
	l.orgmail = mailbox;
	l.etc_rcfile = etc;
	l.user_rcfile = user_rc;
	l.sender = d->sender;
	l.sendmail = ctl_self_path();
	l.config_dir = ctl_config_dir();
	l.msgfd = fd;
	l.arrival = d->arrival_us / 1000000;
	l.vacation_msg = vacation;
	l.rcpt = d->rcpt;
	rc = rc_local_deliver(&l, &err);
	close(fd);
	if (rc < 0) {
		buf_printf(text, "4.3.0 recipes: %s", err);
		free(err);
		return DELIVER_DEFER;
	}
	log_info("%s: to=<%s>, recipes %s%s%s exit %d", d->queue_id, d->rcpt,
	    etc != NULL ? etc : "", etc != NULL ? " " : "", user_rc, rc);
	if (rc == 0) {
		buf_set(text, "2.0.0 delivered by recipes");
		return DELIVER_SENT;
	}
	if (rc == 75 || rc == 73 || rc < 64 || rc > 78) {
		buf_printf(text, "4.3.0 recipes: temporary failure (exit %d)", rc);
		return DELIVER_DEFER;
	}
	buf_printf(text, "5.3.0 recipes: delivery failed (exit %d)", rc);
	return DELIVER_BOUNCE;
}

int
local_hook(const struct delivery *d, const char *user, struct buf *text)
{
	const char *home_mailbox = config_str("home_mailbox");
	struct passwd *pw = getpwnam(user);
	char *mailbox, *rc_path, *vac;
	int r;

	/* aliases(5) and ~/.forward first (alias.c) */
	if ((r = forward_deliver(d, user, text)) >= 0)
		return r;
	if (pw == NULL || !config_bool("recipe_delivery"))
		return -1;
	if (*home_mailbox != '\0')
		mailbox = xasprintf("%s/%s", pw->pw_dir, home_mailbox);
	else
		mailbox = xasprintf("%s/%s", config_str("mail_spool_directory"),
		    pw->pw_name);
	rc_path = xasprintf("%s/%s", pw->pw_dir, config_str("recipe_user_file"));
	vac = xasprintf("%s/%s", pw->pw_dir, config_str("recipe_vacation_file"));
	r = run_recipes(d, (long)pw->pw_uid, (long)pw->pw_gid, pw->pw_dir,
	    pw->pw_name, pw->pw_shell, mailbox, rc_path, vac, text);
	free(mailbox);
	free(rc_path);
	free(vac);
	return r;
}

int
local_hook_virtual(const struct delivery *d, const char *mailbox, long uid,
    long gid, struct buf *text)
{
	size_t n = strlen(mailbox);
	char *home, *rc_path, *vac;
	int r;

	if (!config_bool("recipe_delivery"))
		return -1;
	if (n > 0 && mailbox[n - 1] == '/') {
		home = xstrndup(mailbox, n - 1);
		rc_path = xasprintf("%s%s", mailbox, config_str("recipe_virtual_file"));
	} else {
		const char *sl = strrchr(mailbox, '/');
		home = sl != NULL ? xstrndup(mailbox, (size_t)(sl - mailbox)) :
		    xstrdup(".");
		rc_path = xasprintf("%s%s", mailbox, config_str("recipe_virtual_file"));
	}
	vac = xasprintf("%s%s", mailbox, config_str("recipe_vacation_file"));
	r = run_recipes(d, uid, gid, home, d->rcpt, "/bin/sh", mailbox, rc_path,
	    vac, text);
	free(home);
	free(rc_path);
	free(vac);
	return r;
}
