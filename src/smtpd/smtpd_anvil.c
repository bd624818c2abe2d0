/*
 * smtpd_anvil.c - smtpd's side of the per-client limits counted by the
 * anvil service (smtpd_anvil.h).  Untrusted input reaching here: only
 * the client's address (from accept) and the fact that it sent a
 * command; the numbers come from anvil (anvil_client.c checks them).
 */
#include <sys/socket.h>
#include <stdlib.h>

#include "anvil_client.h"
#include "anvil_proto.h"
#include "config.h"
#include "ioev.h"
#include "log.h"
#include "mem.h"
#include "netaddr.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_ext.h"
#include "tls.h"

static const struct cfg_param smtpd_anvil_params[] = {
	{ "smtpd_client_connection_count_limit", CFG_INT, "50", 0, "Simultaneous sessions one client address may have with this service, counted across all smtpd processes by the anvil service; more get 421 4.7.0; 0 = no limit (not enforced while anvil is unreachable)" },
	{ "smtpd_client_connection_rate_limit", CFG_INT, "0", 0, "Connections one client address may make to this service per anvil_rate_time_unit, counted by the anvil service across all smtpd processes; more get 421 4.7.0; 0 = no limit" },
	{ "smtpd_client_message_rate_limit", CFG_INT, "0", 0, "MAIL FROM commands (message delivery requests) one client address may send to this service per anvil_rate_time_unit, whether or not they are accepted, counted by the anvil service across all smtpd processes; more get 450 4.7.1 (the session goes on); 0 = no limit" },
	{ "smtpd_client_recipient_rate_limit", CFG_INT, "0", 0, "RCPT TO commands one client address may send to this service per anvil_rate_time_unit, whether or not they are accepted, counted by the anvil service across all smtpd processes; more get 450 4.7.1 (the session goes on); 0 = no limit" },
	{ "smtpd_client_new_tls_session_rate_limit", CFG_INT, "0", 0, "New TLS sessions (handshakes that did not resume one) one client address may negotiate with this service per anvil_rate_time_unit, counted by the anvil service across all smtpd processes; over it STARTTLS gets 454 4.7.0, an SMTPS connection is closed before the handshake, and the session whose handshake went over it gets 421 4.7.0; 0 = no limit" },
	{ "smtpd_client_auth_rate_limit", CFG_INT, "0", 0, "AUTH commands one client address may send to this service per anvil_rate_time_unit, counted by the anvil service across all smtpd processes; more get 450 4.7.1 (the session goes on); 0 = no limit" },
	{ "smtpd_client_event_limit_exceptions", CFG_LIST, "$mynetworks", 0, "Client networks exempt from the smtpd_client_*_count_limit and smtpd_client_*_rate_limit parameters (not counted by anvil at all)" },
};
CONFIG_PARAMS(smtpd_anvil_params);

struct smtpd_anvil_limits smtpd_anvil_limits;

static struct netlist *exceptions;
static const char *hostname;

static long long
limit(const char *name)
{
	long long v = config_int(name);

	if (v < 0)
		fatal("%s: %lld is negative (0 = no limit)", name, v);
	return v;
}

void
smtpd_anvil_settings(void)
{
	char *err = NULL;

	smtpd_anvil_limits.conn_count =
	    limit("smtpd_client_connection_count_limit");
	smtpd_anvil_limits.conn_rate =
	    limit("smtpd_client_connection_rate_limit");
	smtpd_anvil_limits.mail = limit("smtpd_client_message_rate_limit");
	smtpd_anvil_limits.rcpt = limit("smtpd_client_recipient_rate_limit");
	smtpd_anvil_limits.newtls =
	    limit("smtpd_client_new_tls_session_rate_limit");
	smtpd_anvil_limits.auth = limit("smtpd_client_auth_rate_limit");
	hostname = config_str("myhostname");
	exceptions = netlist_parse(
	    config_str("smtpd_client_event_limit_exceptions"), &err);
	if (exceptions == NULL)
		fatal("smtpd_client_event_limit_exceptions: %s", err);
}

void
smtpd_anvil_open(const char *queue_dir)
{
	char *path = xasprintf("%s/private/anvil", queue_dir);

	anvil_client_init(path);
	free(path);
}

static int
exempt(struct session *s)
{
	return netlist_match(exceptions, (const struct sockaddr *)&s->sa);
}

/* The rate of an event of s's client, or -1 (exempt, or no answer). */
static long long
event(struct session *s, int type)
{
	unsigned rate;

	if (exempt(s) || anvil_client_event(type, service_name(), s->addr,
	    &rate) < 0)
		return -1;
	return rate;
}

int
smtpd_anvil_connect(struct session *s)
{
	const struct smtpd_anvil_limits *l = &smtpd_anvil_limits;
	unsigned count, rate;
	long long r;

	if (l->conn_count <= 0 && l->conn_rate <= 0 &&
	    (l->newtls <= 0 || !smtpd_tls_wrappermode()))
		return 0;
	if (exempt(s))
		return 0;
	/* SMTPS: no handshake for a client over its new TLS session rate
	 * (Postfix asks before it counts the connection) */
	if (l->newtls > 0 && smtpd_tls_wrappermode() &&
	    (r = event(s, ANVIL_NEWTLS_STATUS)) > l->newtls) {
		log_warn("Refusing TLS service request from %s for service %s",
		    s->client, service_name());
		return -1;
	}
	if ((l->conn_count <= 0 && l->conn_rate <= 0) ||
	    anvil_client_connect(service_name(), s->addr, &count, &rate,
	    &s->anvil_token) < 0)
		return 0;
	if (l->conn_count > 0 && count > l->conn_count) {
		log_warn("Connection concurrency limit exceeded: %u from %s "
		    "for service %s", count, s->client, service_name());
		smtpd_reply(s, "421 4.7.0 %s Error: too many connections from "
		    "%s", hostname, s->addr);
		return -1;
	}
	if (l->conn_rate > 0 && rate > l->conn_rate) {
		log_warn("Connection rate limit exceeded: %u from %s for "
		    "service %s", rate, s->client, service_name());
		smtpd_reply(s, "421 4.7.0 %s Error: too many connections from "
		    "%s", hostname, s->addr);
		return -1;
	}
	return 0;
}

void
smtpd_anvil_disconnect(struct session *s)
{
	anvil_client_disconnect(service_name(), s->addr, s->anvil_token);
	s->anvil_token = 0;
}

/* A per-client command rate (MAIL, RCPT, AUTH): 0, or -1 after
 * Postfix's warning and 450 reply. */
static int
rate_exceeded(struct session *s, int ev, long long limit, const char *what,
    const char *reply)
{
	long long rate = event(s, ev);

	if (rate <= limit)
		return 0;
	log_warn("%s rate limit exceeded: %lld from %s for service %s", what,
	    rate, s->client, service_name());
	smtpd_reply(s, "450 4.7.1 Error: %s from %s", reply, s->addr);
	return -1;
}

int
smtpd_anvil_mail(struct session *s)
{
	return rate_exceeded(s, ANVIL_MAIL, smtpd_anvil_limits.mail,
	    "Message delivery request", "too much mail");
}

int
smtpd_anvil_rcpt(struct session *s)
{
	return rate_exceeded(s, ANVIL_RCPT, smtpd_anvil_limits.rcpt,
	    "Recipient address", "too many recipients");
}

int
smtpd_anvil_starttls(struct session *s)
{
	/* asked, not counted: only a handshake that makes a new session
	 * counts (smtpd_anvil_newtls) */
	if (event(s, ANVIL_NEWTLS_STATUS) <= smtpd_anvil_limits.newtls)
		return 0;
	log_warn("Refusing STARTTLS request from %s for service %s",
	    s->client, service_name());
	smtpd_reply(s, "454 4.7.0 Error: too many new TLS sessions from %s",
	    s->client);
	return -1;
}

int
smtpd_anvil_newtls(struct session *s)
{
	long long rate;

	if (tls_session_reused(io_ssl(s->io)))
		return 0;
	rate = event(s, ANVIL_NEWTLS);
	if (rate <= smtpd_anvil_limits.newtls)
		return 0;
	/* too late to save the handshake's CPU; the limit bites at the
	 * next STARTTLS or SMTPS connection (as Postfix) */
	log_warn("New TLS session rate limit exceeded: %lld from %s for "
	    "service %s", rate, s->client, service_name());
	smtpd_reply(s, "421 4.7.0 %s Error: too many new TLS sessions from %s",
	    hostname, s->client);
	return -1;
}

int
smtpd_anvil_auth(struct session *s)
{
	return rate_exceeded(s, ANVIL_AUTH, smtpd_anvil_limits.auth,
	    "AUTH command", "too many AUTH commands");
}
