/*
 * local.c - the local and virtual delivery agent: writes each
 * recipient's copy of a request from qmgr into its Maildir or mbox, as
 * the recipient (the effective uid switches around each delivery when we
 * run as root), and commits a batch of copies with one fsync per new/.
 * The qmgr side (requests, replies, batching window, drain) is the
 * skeleton in lib-queue/deliver_agent.c.
 *
 * Input: requests from qmgr (checked by the skeleton) and the queue
 * file content (copied, only scanned for Delivered-To headers).
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "deliver_agent.h"
#include "deliver_proto.h"
#include "forward.h"
#include "local.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "resolve.h"
#include "roles.h"
#include "service.h"
#include "str.h"

/* What a recipient's copy leaves for the batch commit. */
struct staged {
	char *sync_dir;         /* new/ to fsync before reporting, or NULL */
	struct maildir_stage *stage;    /* copy to commit first, or NULL */
};

/*
 * qmgr may send several requests without waiting (local and virtual
 * transports): the skeleton (deliver_agent.c) hands us every request
 * received, and commits them as a batch local_delivery_batch_delay
 * after the first one, or at once when it holds
 * local_delivery_batch_limit (qmgr reads the same parameter: no more
 * will join it then): local_commit fsyncs each Maildir's new/ touched
 * by the batch once, and only then are the replies sent (group commit;
 * a reply never precedes the fsync of its file and of its directory).
 * Requests arriving meanwhile (qmgr gives a new job to a connection
 * with a small batch in flight) share its fsyncs.  At one SMTP session
 * messages come about a millisecond apart, each in a batch of its own
 * without the delay.  Under load batches form anyway (requests pile up
 * while one commits).
 */
static const struct cfg_param local_params[] = {
	{ "local_delivery_batch_delay", CFG_STR, "2ms", 0, "How long the local and virtual agents keep a batch of deliveries open after its first request, so that the following ones share its fsync of each Maildir new/ (unit us, ms or s; a bare number is ms; at most 1s; 0: no waiting)" },
	{ "local_delivery_batch_limit", CFG_INT, "4", 0, "Requests that close a local/virtual delivery batch at once; qmgr gives new jobs to an agent whose batch holds fewer (1: no batches)" },
};
CONFIG_PARAMS(local_params);

/* local_delivery_batch_delay in microseconds (main.cf is trusted, but a
 * bad value stops the agent with the parameter's name). */
static long
batch_delay_us(void)
{
	const char *v = config_str("local_delivery_batch_delay");
	char num[32];
	size_t n = strspn(v, "0123456789");
	long long x;
	long mul;

	if (strcmp(v + n, "") == 0 || strcmp(v + n, "ms") == 0)
		mul = 1000;
	else if (strcmp(v + n, "us") == 0)
		mul = 1;
	else if (strcmp(v + n, "s") == 0)
		mul = 1000000;
	else
		mul = 0;
	snprintf(num, sizeof(num), "%.*s", (int)n, v);
	if (mul == 0 || n == 0 || n >= sizeof(num) ||
	    str_parse_ll(num, &x) < 0 || x > 1000000 / mul)
		fatal("local_delivery_batch_delay: bad time value \"%s\" (a "
		    "number with unit us, ms or s, at most 1s)", v);
	return (long)x * mul;
}

/* Set by deliver_mailbox: the new/ it left unsynced for the batch, and
 * the staged copy (virtual mailboxes) to commit with the batch. */
static char *batch_dir;
static struct maildir_stage *batch_stage;
static int staging;             /* deliver_mailbox may stage */

struct delivered_to {
	const char *rcpt;
	struct buf line;
};

/* qfile_read_range callback: 1 once "Delivered-To: <rcpt>" is found, 2
 * at the end of the header, else 0 (more). */
static int
delivered_to_chunk(const char *data, size_t n, void *arg)
{
	struct delivered_to *dt = arg;

	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n') {
			buf_appendc(&dt->line, data[i]);   /* truncates at max */
			continue;
		}
		if (dt->line.len == 0)
			return 2;
		if (str_prefix_ci(buf_cstr(&dt->line), "Delivered-To:")) {
			char *v = str_trim((char *)dt->line.data + 13);
			if (strcasecmp(v, dt->rcpt) == 0)
				return 1;
		}
		buf_reset(&dt->line);
	}
	return 0;
}

/* Scan the message header for "Delivered-To: <rcpt>" (loop detection). */
static int
has_delivered_to(const struct delivery *d, const char *rcpt)
{
	struct delivered_to dt = { .rcpt = rcpt };
	int r;

	buf_init(&dt.line, 8192);
	/* the header is usually short: its first 8 KiB, then the rest */
	r = qfile_read_range(d->fd, d->content_off, d->content_len < 8192 ?
	    d->content_len : 8192, delivered_to_chunk, &dt);
	if (r == 0 && d->content_len > 8192)
		r = qfile_read_range(d->fd, d->content_off + 8192,
		    d->content_len - 8192, delivered_to_chunk, &dt);
	buf_free(&dt.line);
	return r == 1;
}

/* The supplementary group list is emptied once, before the first
 * delivery (every switch back leaves it empty: alias.c too). */
static int groups_empty;

/*
 * Run fn with the recipient's identity.  As root this switches the
 * effective uid/gid for the duration of the delivery and back, as
 * Postfix's local/virtual agents do: no fork per delivery.  Not as root,
 * deliveries run as the mail system's own user.  Postfix also sets the
 * group list to the one gid; with the list empty and that gid as the
 * effective gid the rights are the same (access checks take the
 * effective gid and the list), and each delivery makes four credential
 * changes instead of six (each one copies and commits the credentials:
 * 2-3 us here, measured).
 */
static int
as_user(long uid, long gid, int (*fn)(const struct delivery *, void *,
    struct buf *), const struct delivery *d, void *arg, struct buf *text)
{
	gid_t g;
	int r;

	if (geteuid() != 0 || uid < 0)
		return fn(d, arg, text);
	if (uid == 0) {
		buf_set(text, "4.3.0 refusing to deliver as root");
		return DELIVER_DEFER;
	}
	g = (gid_t)(gid >= 0 ? gid : uid);
	if (!groups_empty) {
		if (setgroups(0, NULL) < 0) {
			buf_printf(text, "4.3.0 cannot clear the group list: "
			    "%s", strerror(errno));
			return DELIVER_DEFER;
		}
		groups_empty = 1;
	}
	if (setegid(g) < 0 || seteuid((uid_t)uid) < 0) {
		buf_printf(text, "4.3.0 cannot set user id %ld: %s", uid,
		    strerror(errno));
		if (seteuid(0) < 0 || setegid(0) < 0)
			fatal("cannot restore root privileges");
		service_watch_master();         /* (the changes cleared it) */
		return DELIVER_DEFER;
	}
	r = fn(d, arg, text);
	if (seteuid(0) < 0 || setegid(0) < 0)
		fatal("cannot restore root privileges: %s", strerror(errno));
	service_watch_master();                 /* (the changes cleared it) */
	return r;
}

static int
deliver_mailbox(const struct delivery *d, void *arg, struct buf *text)
{
	const char *path = arg;
	size_t l = strlen(path);

	if (l > 0 && path[l - 1] == '/') {
		free(batch_dir);
		batch_dir = NULL;
		maildir_stage_free(&batch_stage);
		return maildir_deliver_stage(d, path, text, &batch_dir,
		    staging ? &batch_stage : NULL);
	}
	return mbox_deliver_mailbox(d, path, text);
}

static int
deliver_virtual(struct delivery *d, struct buf *text)
{
	char *path = NULL;
	long uid, gid;
	int r = resolve_virtual_mailbox(d->rcpt, &path, &uid, &gid);

	if (r < 0) {
		buf_set(text, "4.3.0 virtual_mailbox_maps lookup failed");
		return DELIVER_DEFER;
	}
	if (r == 0) {
		buf_printf(text, "5.1.1 unknown user: \"%s\"", d->rcpt);
		return DELIVER_BOUNCE;
	}
	if (uid >= 0 && uid < config_int("virtual_minimum_uid") &&
	    geteuid() == 0) {
		buf_printf(text, "4.3.0 bad virtual_uid_maps result %ld "
		    "(below virtual_minimum_uid)", uid);
		free(path);
		return DELIVER_DEFER;
	}
	r = local_hook_virtual(d, path, uid, gid, text);
	if (r < 0) {
		/* no alias or .forward state rides on a virtual mailbox
		 * (forward_finish): its copy can be committed with the batch */
		staging = 1;
		r = as_user(uid, gid, deliver_mailbox, d, path, text);
		staging = 0;
	}
	free(path);
	return r;
}

static int
deliver_local(struct delivery *d, struct buf *text)
{
	const char *at = strrchr(d->rcpt, '@');
	char user[256], *path;
	const char *delim = config_str("recipient_delimiter");
	const char *home_mailbox = config_str("home_mailbox");
	struct passwd *pw;
	int r;

	snprintf(user, sizeof(user), "%.*s",
	    (int)(at != NULL ? (size_t)(at - d->rcpt) : strlen(d->rcpt)),
	    d->rcpt);
	if (*delim != '\0') {
		char *p = strpbrk(user, delim);
		if (p != NULL)
			*p = '\0';
	}
	str_lower(user);
	r = local_hook(d, user, text);
	if (r >= 0)
		return r;
	pw = getpwnam(user);
	if (pw == NULL) {
		buf_printf(text, "5.1.1 unknown user: \"%s\"", user);
		return DELIVER_BOUNCE;
	}
	if (*home_mailbox != '\0')
		path = xasprintf("%s/%s", pw->pw_dir, home_mailbox);
	else
		path = xasprintf("%s/%s", config_str("mail_spool_directory"),
		    pw->pw_name);
	r = as_user((long)pw->pw_uid, (long)pw->pw_gid, deliver_mailbox, d,
	    path, text);
	free(path);
	return r;
}

static int
deliver_one(struct delivery *d, struct buf *text)
{
	enum addr_class c;

	if (has_delivered_to(d, d->rcpt)) {
		buf_printf(text, "5.4.6 mail forwarding loop for %s", d->rcpt);
		return DELIVER_BOUNCE;
	}
	if (resolve_class_r(d->rcpt, &c) < 0) {
		buf_set(text, "4.3.0 address resolver failure: a domain table "
		    "is unavailable");
		return DELIVER_DEFER;
	}
	switch (c) {
	case ADDR_VIRTUAL:
	case ADDR_VIRTUAL_ALIAS:
		return deliver_virtual(d, text);
	case ADDR_LOCAL:
		return deliver_local(d, text);
	default:
		/* transport_maps "domain local:" routes other domains here:
		 * the local part names a local user or alias (Postfix local(8)) */
		if (strcmp(service_name(), "virtual") != 0)
			return deliver_local(d, text);
		buf_printf(text, "4.3.0 %s is not a local or virtual address",
		    d->rcpt);
		return DELIVER_DEFER;
	}
}

/* Deliver every recipient of req (the skeleton's deliver callback). */
static void
local_deliver(struct deliver_req *req)
{
	struct delivery d;
	struct staged *st = xcalloc(req->nrcpt, sizeof(*st));
	struct buf text;
	size_t i;

	req->ctx = st;
	memset(&d, 0, sizeof(d));
	buf_init(&text, 4096);
	d.queue_id = req->id;
	d.fd = req->fd;
	d.content_off = req->content_off;
	d.content_len = req->content_len;
	d.arrival_us = req->arrival_us;
	d.sender = req->sender;
	d.qpath = req->path;
	for (i = 0; i < req->nrcpt; i++) {
		struct deliver_rcpt *rc = &req->rcpts[i];
		int r;

		buf_reset(&text);
		d.rcpt = rc->addr;
		d.orcpt = rc->orcpt;
		d.notify = rc->notify;
		d.rcpt_offset = rc->offset;
		(void)forward_dsn_action();     /* reset */
		r = deliver_one(&d, &text);
		/* alias targets reached before a deferral (alias.c) */
		forward_finish(&d, r);
		if (r == DELIVER_SENT) {
			st[i].sync_dir = batch_dir;
			st[i].stage = batch_stage;
		} else {
			free(batch_dir);
			maildir_stage_free(&batch_stage);
		}
		batch_dir = NULL;
		batch_stage = NULL;
		/* the DSN action of a delivery (an alias's, else
		 * "delivered") rides on DELIVER_SENT */
		deliver_rcpt_set(rc, r == DELIVER_SENT ?
		    DELIVER_SENT_AS(forward_dsn_action()) : r, buf_cstr(&text));
	}
	buf_free(&text);
	deliver_req_done(req);
}

static void
local_req_free(struct deliver_req *req)
{
	struct staged *st = req->ctx;
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < req->nrcpt; i++) {
		free(st[i].sync_dir);
		maildir_stage_free(&st[i].stage);
	}
	free(st);
	req->ctx = NULL;
}

/* A recipient's copy did not make it: a deferral with why (malloc'ed). */
static void
rcpt_undo(struct deliver_rcpt *rc, struct staged *st, char *why)
{
	rc->status = DELIVER_DEFER;
	free(rc->text);
	rc->text = why;
	FREE(st->sync_dir);
	maildir_stage_free(&st->stage);
}

/* Whether recipient i of req has a staged copy. */
#define STAGED(st, i) ((st) != NULL && (st)[i].stage != NULL)

/*
 * The batch commit: each staged copy's data written and its name linked
 * into new/, then every new/ the batch touched fsync'ed once, then each
 * staged copy fsync'ed; a failure turns the recipient into a deferral.
 * On ext4 the fsync of new/ is the batch's one journal commit (blocks,
 * sizes and names) and the copies' fsyncs find nothing left to commit;
 * fsyncing the copies first and linking them after (as a copy delivered
 * alone is) cost a second commit per batch.  A crash before the fsyncs
 * may leave a name for an incomplete copy: the retry's duplicate check
 * replaces it (maildir.c).  No reply goes out before all of this.
 */
static void
local_commit(struct deliver_req **reqs, size_t n)
{
	char **dirs = NULL;
	int *err = NULL;
	size_t nd = 0, k, j, i, nstaged = 0;

	/* writeback of all staged copies first (when there are several),
	 * then each one waited for and named */
	for (j = 0; j < n; j++)
		for (i = 0; i < reqs[j]->nrcpt; i++)
			nstaged += STAGED((struct staged *)reqs[j]->ctx, i);
	for (j = 0; j < n; j++) {
		struct staged *st = reqs[j]->ctx;
		for (i = 0; nstaged > 1 && i < reqs[j]->nrcpt; i++)
			if (STAGED(st, i))
				maildir_stage_start(st[i].stage);
	}
	for (j = 0; j < n; j++) {
		struct staged *st = reqs[j]->ctx;
		for (i = 0; i < reqs[j]->nrcpt; i++) {
			char *why = NULL;
			if (STAGED(st, i) &&
			    (maildir_stage_write(st[i].stage, &why) < 0 ||
			    maildir_stage_link(st[i].stage, &why) < 0))
				rcpt_undo(&reqs[j]->rcpts[i], &st[i], why);
		}
	}
	for (j = 0; j < n; j++) {
		struct staged *st = reqs[j]->ctx;
		for (i = 0; st != NULL && i < reqs[j]->nrcpt; i++) {
			const char *dir = st[i].sync_dir;
			if (dir == NULL)
				continue;
			for (k = 0; k < nd && strcmp(dirs[k], dir) != 0; k++)
				;
			if (k == nd) {
				dirs = xreallocarray(dirs, nd + 1, sizeof(*dirs));
				err = xreallocarray(err, nd + 1, sizeof(*err));
				dirs[nd] = xstrdup(dir);
				/* a staged copy holds new/ open already */
				if (st[i].stage != NULL)
					err[nd++] = fsync(st[i].stage->dirfd) < 0 ?
					    errno : 0;
				else
					err[nd++] = maildir_fsync_dir(dir) < 0 ?
					    errno : 0;
			}
		}
	}
	for (j = 0; j < n; j++) {
		struct staged *st = reqs[j]->ctx;
		for (i = 0; st != NULL && i < reqs[j]->nrcpt; i++) {
			char *why = NULL;
			for (k = 0; st[i].sync_dir != NULL && k < nd &&
			    strcmp(dirs[k], st[i].sync_dir) != 0; k++)
				;
			if (st[i].sync_dir != NULL && k < nd && err[k] != 0)
				rcpt_undo(&reqs[j]->rcpts[i], &st[i],
				    xasprintf("4.3.0 fsync %s: %s",
				    st[i].sync_dir, strerror(err[k])));
			else if (STAGED(st, i) &&
			    maildir_stage_sync(st[i].stage, &why) < 0)
				rcpt_undo(&reqs[j]->rcpts[i], &st[i], why);
		}
		local_req_free(reqs[j]);
	}
	for (k = 0; k < nd; k++)
		free(dirs[k]);
	free(dirs);
	free(err);
}

static void
local_setup(struct deliver_agent *a)
{
	long long limit;

	a->batch_delay_us = batch_delay_us();
	limit = config_int("local_delivery_batch_limit");
	a->batch_limit = limit < 1 ? 1 : limit > 1000 ? 1000 : (int)limit;
	resolve_init();
	local_hook_init();
}

int
local_main(int argc, char **argv)
{
	struct deliver_agent a = {
		.setup = local_setup,
		.deliver = local_deliver,
		.commit = local_commit,
		.req_free = local_req_free,
		.sessions = 1,
	};

	return deliver_agent_main(argc, argv, &a);
}
