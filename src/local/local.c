/*
 * local.c - the local and virtual delivery agent: takes delivery
 * requests from qmgr and writes each recipient's copy into its Maildir
 * or mbox, as the recipient (a forked child drops to the recipient's uid
 * when we run as root).
 *
 * Input: ipc requests from qmgr (checked field by field) and the queue
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

#include <event2/event.h>

#include "buf.h"
#include "config.h"
#include "deliver_proto.h"
#include "forward.h"
#include "ioev.h"
#include "ipc.h"
#include "local.h"
#include "log.h"
#include "mem.h"
#include "queue_file.h"
#include "resolve.h"
#include "roles.h"
#include "service.h"
#include "str.h"

/* One recipient's outcome, held until its Maildir's new/ is synced. */
struct result {
	int st;
	char *text;
	char *sync_dir;         /* new/ to fsync before reporting, or NULL */
	struct maildir_stage *stage;    /* copy to commit first, or NULL */
};

/* The reply to one request, not sent yet. */
struct pending {
	int64_t n;
	struct result *r;
	struct pending *next;
};

/* qmgr may send several requests without waiting (local and virtual
 * transports): every request already received is delivered, then each
 * Maildir's new/ touched by the batch is fsync'ed once, and only then
 * are the replies sent (group commit; a reply never precedes the fsync
 * of its file and of its directory). */
struct lconn {
	struct io *io;
	struct ipc_msg req;
	struct pending *head, *tail;
	size_t npending;        /* requests in head..tail */
	struct event *linger;   /* flush_results when it fires */
};

/*
 * A batch is committed LOCAL_LINGER_US after its first request, or at
 * once when it holds LOCAL_LINGER_MAX requests (qmgr's AGENT_JOIN: no
 * more will join it then): requests arriving meanwhile (qmgr gives a
 * new job to a connection with a small batch in flight) share its
 * fsyncs of new/ and its replies.  At one SMTP session messages come
 * about a millisecond apart, each in a batch of its own without this.
 * Under load batches form anyway (requests pile up while one commits).
 */
#define LOCAL_LINGER_US 2000
#define LOCAL_LINGER_MAX 4

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

/*
 * Run fn with the recipient's identity.  As root this switches the
 * effective uid/gid (and groups) for the duration of the delivery and
 * back, as Postfix's local/virtual agents do: no fork per delivery.  Not
 * as root, deliveries run as the mail system's own user.
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
	if (setgroups(1, &g) < 0 || setegid(g) < 0 || seteuid((uid_t)uid) < 0) {
		buf_printf(text, "4.3.0 cannot set user id %ld: %s", uid,
		    strerror(errno));
		if (seteuid(0) < 0 || setegid(0) < 0)
			fatal("cannot restore root privileges");
		return DELIVER_DEFER;
	}
	r = fn(d, arg, text);
	if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0)
		fatal("cannot restore root privileges: %s", strerror(errno));
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
	return mbox_deliver(d, path, text);
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

static void
handle_request(struct lconn *c)
{
	struct ipc_msg *m = &c->req;
	struct delivery d;
	struct pending *p;
	const char *id, *path, *sender, *attrs;
	int64_t off, len, arrival, n, i;
	int fd;
	struct buf text;

	memset(&d, 0, sizeof(d));
	if (m->type != DELIVER_REQUEST || ipc_get_str(m, &id) < 0 ||
	    ipc_get_str(m, &path) < 0 || ipc_get_int(m, &off) < 0 ||
	    ipc_get_int(m, &len) < 0 || ipc_get_int(m, &arrival) < 0 ||
	    ipc_get_str(m, &sender) < 0 || ipc_get_int(m, &n) < 0 ||
	    n < 0 || n > 1000 || off < 0 || len < 0) {
		log_warn("malformed delivery request");
		io_free(&c->io);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	p = xcalloc(1, sizeof(*p));
	p->n = n;
	p->r = xcalloc((size_t)n + 1, sizeof(*p->r));
	buf_init(&text, 4096);
	d.queue_id = id;
	d.fd = fd;
	d.content_off = (off_t)off;
	d.content_len = (size_t)len;
	d.arrival_us = arrival;
	d.sender = sender;
	for (i = 0; i < n; i++) {
		const char *rcpt, *orcpt;
		int64_t notify, roff;
		struct result *r = &p->r[i];

		if (ipc_get_str(m, &rcpt) < 0 || ipc_get_str(m, &orcpt) < 0 ||
		    ipc_get_int(m, &notify) < 0 || ipc_get_int(m, &roff) < 0) {
			r->st = DELIVER_DEFER;
			r->text = xstrdup("4.3.0 malformed request");
			continue;
		}
		buf_reset(&text);
		if (fd < 0) {
			buf_printf(&text, "4.3.0 open queue file: %s",
			    strerror(errno));
			r->st = DELIVER_DEFER;
		} else {
			d.rcpt = rcpt;
			d.orcpt = orcpt;
			d.rcpt_offset = (long long)roff;
			r->st = deliver_one(&d, &text);
			/* alias targets reached before a deferral (alias.c) */
			forward_finish(&d, r->st);
			if (r->st == DELIVER_SENT) {
				r->sync_dir = batch_dir;
				r->stage = batch_stage;
			} else {
				free(batch_dir);
				maildir_stage_free(&batch_stage);
			}
			batch_dir = NULL;
			batch_stage = NULL;
		}
		r->text = xstrdup(buf_cstr(&text));
	}
	if (ipc_get_str(m, &attrs) < 0)
		attrs = "";
	(void)attrs;
	if (fd >= 0)
		close(fd);
	buf_free(&text);
	if (c->tail != NULL)
		c->tail->next = p;
	else
		c->head = p;
	c->tail = p;
	c->npending++;
}

static void
pending_free(struct pending *p)
{
	int64_t i;

	for (i = 0; i < p->n; i++) {
		free(p->r[i].text);
		free(p->r[i].sync_dir);
		maildir_stage_free(&p->r[i].stage);
	}
	free(p->r);
	free(p);
}

/* fsync every new/ the batch touched, once, then send the replies. */
static void
flush_results(struct lconn *c)
{
	struct pending *p, *next;
	char **dirs = NULL;
	int *err = NULL;
	size_t nd = 0, k;
	int64_t i;

	/* staged copies: writeback of all of them first (when there are
	 * several), then each one fsync'ed and named; a failure turns its
	 * result into a deferral */
	for (p = c->head, k = 0; p != NULL; p = p->next)
		for (i = 0; i < p->n; i++)
			k += p->r[i].stage != NULL;
	for (p = c->head; p != NULL && k > 1; p = p->next)
		for (i = 0; i < p->n; i++)
			if (p->r[i].stage != NULL)
				maildir_stage_start(p->r[i].stage);
	for (p = c->head; p != NULL; p = p->next)
		for (i = 0; i < p->n; i++) {
			struct result *r = &p->r[i];
			char *why = NULL;
			if (r->stage == NULL)
				continue;
			if (maildir_stage_commit(r->stage, &why) < 0) {
				r->st = DELIVER_DEFER;
				free(r->text);
				r->text = why;
				FREE(r->sync_dir);
				maildir_stage_free(&r->stage);
			}
		}
	for (p = c->head; p != NULL; p = p->next)
		for (i = 0; i < p->n; i++) {
			const char *dir = p->r[i].sync_dir;
			if (dir == NULL)
				continue;
			for (k = 0; k < nd && strcmp(dirs[k], dir) != 0; k++)
				;
			if (k == nd) {
				dirs = xreallocarray(dirs, nd + 1, sizeof(*dirs));
				err = xreallocarray(err, nd + 1, sizeof(*err));
				dirs[nd] = xstrdup(dir);   /* replies free theirs */
				/* a staged copy holds new/ open already */
				if (p->r[i].stage != NULL)
					err[nd++] = fsync(p->r[i].stage->dirfd) < 0 ?
					    errno : 0;
				else
					err[nd++] = maildir_fsync_dir(dir) < 0 ?
					    errno : 0;
			}
		}
	for (p = c->head; p != NULL; p = next) {
		struct ipc_msg reply;

		next = p->next;
		for (i = 0; i < p->n; i++)
			maildir_stage_free(&p->r[i].stage);
		ipc_msg_init(&reply, DELIVER_REPLY);
		ipc_put_int(&reply, p->n);
		for (i = 0; i < p->n; i++) {
			struct result *r = &p->r[i];
			k = nd;
			if (r->sync_dir != NULL)
				for (k = 0; k < nd && strcmp(dirs[k], r->sync_dir) != 0;
				    k++)
					;
			if (k < nd && err[k] != 0) {
				char *t = xasprintf("4.3.0 fsync %s: %s",
				    r->sync_dir, strerror(err[k]));
				ipc_put_int(&reply, DELIVER_DEFER);
				ipc_put_str(&reply, t);
				free(t);
			} else {
				ipc_put_int(&reply, r->st);
				ipc_put_str(&reply, r->text);
			}
		}
		ipc_io_send(c->io, &reply);
		ipc_msg_free(&reply);
		pending_free(p);
	}
	c->head = c->tail = NULL;
	c->npending = 0;
	for (k = 0; k < nd; k++)
		free(dirs[k]);
	free(dirs);
	free(err);
}

static struct lconn *current;

static void
conn_end(struct lconn *c)
{
	struct pending *p, *next;

	/* unreported deliveries: qmgr defers them, and the retry finds
	 * each copy (duplicate suppressed) and syncs its new/ then */
	for (p = c->head; p != NULL; p = next) {
		next = p->next;
		pending_free(p);
	}
	io_free(&c->io);
	ipc_msg_free(&c->req);
	if (c->linger != NULL)
		event_free(c->linger);
	if (current == c)
		current = NULL;
	free(c);
	service_session_end();
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct lconn *c = arg;
	int r;

	(void)io;
	switch (evt) {
	case IO_IN:
		while ((r = ipc_io_take(c->io, &c->req)) == 1) {
			handle_request(c);
			if (c->io == NULL) {
				conn_end(c);
				return;
			}
		}
		if (r < 0) {
			log_warn("malformed frame from qmgr");
			conn_end(c);
			break;
		}
		if (c->head == NULL)
			break;
		if (c->npending >= LOCAL_LINGER_MAX || service_draining()) {
			event_del(c->linger);
			flush_results(c);
		} else if (!evtimer_pending(c->linger, NULL)) {
			struct timeval tv = { 0, LOCAL_LINGER_US };
			evtimer_add(c->linger, &tv);
		}
		break;
	case IO_LOWAT:
		if (service_draining())
			conn_end(c);
		break;
	default:
		conn_end(c);
		break;
	}
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flush_results(arg);
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct lconn *c = xcalloc(1, sizeof(*c));

	(void)sa;
	(void)salen;
	(void)arg;
	ipc_msg_init(&c->req, 0);
	c->io = io_new(fd, on_io, c);
	c->linger = evtimer_new(io_base(), on_linger, c);
	current = c;
}

static void
on_drain(void *arg)
{
	(void)arg;
	/* idle connection: close it so qmgr reconnects to the new generation */
	if (current != NULL && current->head == NULL &&
	    io_outlen(current->io) == 0)
		conn_end(current);
}

int
local_main(int argc, char **argv)
{
	service_init(argc, argv, argv[0]);
	resolve_init();
	local_hook_init();
	service_drop_privileges();
	service_on_drain(on_drain, NULL);
	service_listen(on_accept, NULL, 1);
	return service_run();
}
