/*
 * anvil.c - the anvil service (master.cf: `anvil unix - - n - 1 anvil`,
 * as Postfix's anvil(8)): counts, for every client address, the sessions
 * it has open across all smtpd processes and its connections per
 * anvil_rate_time_unit, so that smtpd can enforce
 * smtpd_client_connection_count_limit and
 * smtpd_client_connection_rate_limit over the whole system.
 *
 * Peers are smtpd processes (mail_owner, they parse hostile input): each
 * frame is checked (lib/ipc, key length), each peer can only take back
 * sessions it announced, and its sessions are forgotten when its
 * connection ends (the smtpd process exited or lost us).  Memory is
 * bounded: ANVIL_TABLE_MAX addresses, ANVIL_PEER_MAX open keys per peer;
 * beyond that the answer is ANVIL_FULL and smtpd fails open.
 * It never decides: smtpd compares the numbers with its own limits.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anvil_proto.h"
#include "anvil_table.h"
#include "config.h"
#include "ioev.h"
#include "ipc.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "service.h"

#define ANVIL_TABLE_MAX 100000  /* addresses remembered */
#define ANVIL_PEER_MAX 65536    /* distinct open keys of one smtpd */
#define ANVIL_PEERS 4096        /* smtpd processes connected at once */

static const struct cfg_param anvil_params[] = {
	{ "anvil_rate_time_unit", CFG_TIME, "60s", 's', "The time unit over which client connection rates are counted by the anvil service (smtpd_client_connection_rate_limit)" },
};
CONFIG_PARAMS(anvil_params);

/* A key this peer has open sessions for. */
struct held {
	char *key;
	unsigned n;
};

struct peer {
	struct io *io;
	struct held *held;
	size_t nheld, cap;
};

static struct anvil_table *table;

static time_t
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct held *
find_held(struct peer *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->nheld; i++)
		if (strcmp(p->held[i].key, key) == 0)
			return &p->held[i];
	return NULL;
}

static void
reply(struct peer *p, int status, unsigned count, unsigned rate)
{
	struct ipc_msg m;

	ipc_msg_init(&m, ANVIL_REPLY);
	ipc_put_int(&m, status);
	ipc_put_int(&m, count);
	ipc_put_int(&m, rate);
	ipc_io_send(p->io, &m);
	ipc_msg_free(&m);
}

static void
do_connect(struct peer *p, const char *key)
{
	struct held *h = find_held(p, key);
	unsigned count, rate;

	if ((h == NULL && p->nheld >= ANVIL_PEER_MAX) ||
	    anvil_table_connect(table, key, now_mono(), &count, &rate) < 0) {
		log_warn("table full: %s not counted", key);
		reply(p, ANVIL_FULL, 0, 0);
		return;
	}
	if (h == NULL) {
		if (p->nheld == p->cap) {
			p->cap = p->cap ? 2 * p->cap : 16;
			p->held = xreallocarray(p->held, p->cap,
			    sizeof(*p->held));
		}
		h = &p->held[p->nheld++];
		h->key = xstrdup(key);
		h->n = 0;
	}
	h->n++;
	reply(p, ANVIL_OK, count, rate);
}

static void
do_disconnect(struct peer *p, const char *key)
{
	struct held *h = find_held(p, key);

	/* only sessions this peer announced: one smtpd cannot lower the
	 * counts of another's clients */
	if (h == NULL)
		return;
	anvil_table_disconnect(table, key);
	if (--h->n == 0) {
		free(h->key);
		*h = p->held[--p->nheld];
	}
}

static void
peer_free(struct peer *p)
{
	size_t i;

	for (i = 0; i < p->nheld; i++) {
		while (p->held[i].n-- > 0)
			anvil_table_disconnect(table, p->held[i].key);
		free(p->held[i].key);
	}
	free(p->held);
	io_free(&p->io);
	free(p);
	service_session_end();
}

static void
on_io(struct io *io, enum io_evt evt, void *arg)
{
	struct peer *p = arg;
	struct ipc_msg m;
	const char *key;
	int k;

	switch (evt) {
	case IO_IN:
		for (;;) {
			ipc_msg_init(&m, 0);
			k = ipc_io_take(io, &m);
			if (k == 1 && ipc_get_str(&m, &key) == 0 &&
			    m.rpos == m.body.len && strlen(key) <= ANVIL_KEY_MAX &&
			    (m.type == ANVIL_CONNECT ||
			    m.type == ANVIL_DISCONNECT)) {
				if (m.type == ANVIL_CONNECT)
					do_connect(p, key);
				else
					do_disconnect(p, key);
				ipc_msg_free(&m);
				continue;
			}
			ipc_msg_free(&m);
			if (k == 0)
				return;
			log_warn("malformed request: closing the connection");
			peer_free(p);
			return;
		}
	case IO_LOWAT:
	case IO_TLSREADY:
	case IO_TIMEOUT:
		break;
	case IO_EOF:
	case IO_ERROR:
		peer_free(p);
		break;
	}
}

static void
on_accept(int fd, const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct peer *p = xcalloc(1, sizeof(*p));

	(void)sa;
	(void)salen;
	(void)arg;
	/* no idle timeout: an smtpd keeps its connection while it runs */
	p->io = io_new(fd, on_io, p);
}

static void
on_wakeup(void *arg)
{
	(void)arg;
	anvil_table_expire(table, now_mono());
}

int
anvil_main(int argc, char **argv)
{
	long long unit;

	service_init(argc, argv, "anvil");
	service_require_unix("declare it as \"anvil unix - - n - 1 anvil\"");
	unit = config_time("anvil_rate_time_unit");
	if (unit < 1)
		fatal("anvil_rate_time_unit: must be at least 1s");
	table = anvil_table_new(ANVIL_TABLE_MAX, (time_t)unit);
	service_drop_privileges();
	service_listen(on_accept, NULL, ANVIL_PEERS);
	/* idle entries whose window ended are dropped once per unit */
	service_wakeup(on_wakeup, NULL, unit > 3600 ? 3600 : (int)unit);
	return service_run();
}
