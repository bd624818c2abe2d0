/*
 * mail_privs.c - drop root to the virtual mail identity (see mail_privs.h).
 * No untrusted input.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mail_privs.h"
#include "maps.h"

static long
static_id(const char *param)
{
	struct maplist *ml;
	const char *v;
	char *err = NULL, *end;
	long id = -1;

	ml = maplist_open(config_str(param), &err);
	if (ml == NULL) {
		free(err);
		return -1;
	}
	if (maplist_lookup(ml, "any", &v) == 1) {
		id = strtol(v, &end, 10);
		if (*end != '\0' || id < 0)
			id = -1;
	}
	maplist_free(&ml);
	return id;
}

void
mail_privs_drop(const char *role)
{
	long uid, gid;
	gid_t g;

	if (geteuid() != 0)
		return;
	uid = static_id("virtual_uid_maps");
	gid = static_id("virtual_gid_maps");
	if (uid < 0 || gid < 0) {
		struct passwd *pw = getpwnam(config_str("mail_owner"));
		if (pw == NULL)
			fatal("mail_owner %s: no such user", config_str("mail_owner"));
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (uid == 0) {
		log_warn("%s: virtual_uid_maps names uid 0: the mail store is "
		    "root's, so %s keeps root", role, role);
		return;
	}
	g = (gid_t)gid;
	if (setgroups(1, &g) < 0 || setgid(g) < 0 || setuid((uid_t)uid) < 0)
		fatal("%s: drop privileges to %ld: %s", role, uid, strerror(errno));
	if (setuid(0) == 0)
		fatal("%s: privileges not dropped", role);
}
