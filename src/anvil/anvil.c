/*
 * anvil.c - the anvil service (master.cf: `anvil unix - - n - 1 anvil`,
 * as Postfix's anvil(8)): counts, for every client address, the sessions
 * it has open across all smtpd processes and its connections, MAIL and
 * RCPT commands, new TLS sessions and AUTH commands per
 * anvil_rate_time_unit, so that smtpd can enforce the
 * smtpd_client_*_limit parameters over the whole system.  Logs the peak
 * values every anvil_status_update_time and at exit ("statistics: ...").
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
#include "anvil_stats.h"
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
	{ "anvil_rate_time_unit", CFG_TIME, "60s", 's', "The time unit over which the anvil service counts client connection rates and other rates (smtpd_client_connection_rate_limit, smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit, smtpd_client_new_tls_session_rate_limit, smtpd_client_auth_rate_limit): a fixed window per client that starts with its first event after the previous window ended" },
	{ "anvil_status_update_time", CFG_TIME, "600s", 's', "How often the anvil service logs the peak connection count, the peak rates and the peak number of clients it remembered (\"statistics: max ...\" lines; also at exit)" },
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
static struct anvil_stats *stats;
static long long rate_unit;

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

static time_t
now_wall(void)
{
	return time(NULL);
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
	anvil_stats_rate(stats, ANVIL_EV_CONN, rate, key, now_wall());
	anvil_stats_count(stats, count, key, now_wall());
	anvil_stats_size(stats, anvil_table_size(table), now_wall());
	reply(p, ANVIL_OK, count, rate);
}

/* A rate event (ANVIL_MAIL ..) of key; ANVIL_NEWTLS_STATUS only asks.
 * As Postfix's anvil, these need no session announced by this peer: an
 * smtpd that reconnected (or a service without connection limits) is
 * still counted. */
static void
do_event(struct peer *p, int type, const char *key)
{
	enum anvil_event ev = type == ANVIL_MAIL ? ANVIL_EV_MAIL :
	    type == ANVIL_RCPT ? ANVIL_EV_RCPT : type == ANVIL_AUTH ?
	    ANVIL_EV_AUTH : ANVIL_EV_NEWTLS;
	unsigned count, rate;

	if (type == ANVIL_NEWTLS_STATUS) {
		reply(p, ANVIL_OK, anvil_table_count(table, key),
		    anvil_table_rate(table, key, ev, now_mono()));
		return;
	}
	if (anvil_table_event(table, key, ev, now_mono(), &count, &rate) < 0) {
		log_warn("table full: %s not counted", key);
		reply(p, ANVIL_FULL, 0, 0);
		return;
	}
	anvil_stats_rate(stats, ev, rate, key, now_wall());
	anvil_stats_size(stats, anvil_table_size(table), now_wall());
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
			    m.type >= ANVIL_CONNECT && m.type <= ANVIL_AUTH &&
			    m.type != ANVIL_REPLY) {
				if (m.type == ANVIL_CONNECT)
					do_connect(p, key);
				else if (m.type == ANVIL_DISCONNECT)
					do_disconnect(p, key);
				else
					do_event(p, m.type, key);
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

static void
log_stat(const char *line, void *arg)
{
	(void)arg;
	log_info("%s", line);
}

/* Every anvil_status_update_time and at exit, as Postfix's anvil. */
static void
status_update(void *arg)
{
	(void)arg;
	if (stats != NULL)
		anvil_stats_report(stats, rate_unit, log_stat, NULL);
}

static void
status_at_exit(void)
{
	status_update(NULL);
}

int
anvil_main(int argc, char **argv)
{
	long long unit, status;

	service_init(argc, argv, "anvil");
	service_require_unix("declare it as \"anvil unix - - n - 1 anvil\"");
	unit = config_time("anvil_rate_time_unit");
	if (unit < 1)
		fatal("anvil_rate_time_unit: must be at least 1s");
	status = config_time("anvil_status_update_time");
	if (status < 1)
		fatal("anvil_status_update_time: must be at least 1s");
	rate_unit = unit;
	table = anvil_table_new(ANVIL_TABLE_MAX, (time_t)unit);
	stats = anvil_stats_new();
	service_drop_privileges();
	service_listen(on_accept, NULL, ANVIL_PEERS);
	/* idle entries whose window ended are dropped once per unit */
	service_wakeup(on_wakeup, NULL, unit > 3600 ? 3600 : (int)unit);
	service_wakeup(status_update, NULL,
	    status > 86400 ? 86400 : (int)status);
	atexit(status_at_exit);
	return service_run();
}
