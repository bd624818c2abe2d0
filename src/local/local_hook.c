/*
 * local_hook.c - what happens to a system user's mail before the default
 * mailbox: mailbox_command (a recipe engine or any MDA, run as the user
 * with the message on stdin).  Aliases and .forward come with the
 * forwarding work.
 */
#include <sys/wait.h>
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "deliver_proto.h"
#include "local.h"
#include "log.h"
#include "mem.h"

void
local_hook_init(void)
{
}

int
local_hook(const struct delivery *d, const char *user, struct buf *text)
{
	(void)d;
	(void)user;
	(void)text;
	return -1;
}
