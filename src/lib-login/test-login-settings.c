/*
 * test-login-settings.c - the parameters imapd and pop3d share are read
 * under the daemon's own prefix (login_settings.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "config.h"
#include "login_settings.h"
#include "netaddr.h"
#include "test.h"

/* Two daemons' tables, as imapd.c and pop3d.c declare theirs. */
#define PARAMS(p, wrapper, limit)					\
	{ p "_tls_wrappermode", CFG_BOOL, wrapper, 0, "test" },		\
	{ p "_disable_plaintext_auth", CFG_BOOL, "yes", 0, "test" },	\
	{ p "_trusted_networks", CFG_LIST, "$mynetworks", 0, "test" },	\
	{ p "_process_session_limit", CFG_INT, limit, 0, "test" },	\
	{ p "_client_connection_limit", CFG_INT, "50", 0, "test" },	\
	{ p "_user_connection_limit", CFG_INT, "10", 0, "test" },	\
	{ p "_post_login_service", CFG_STR, p, 0, "test" },		\
	{ p "_auth_failure_delay", CFG_TIME, "0s", 's', "test" },	\
	{ p "_auth_service", CFG_BOOL, "yes", 0, "test" }
static const struct cfg_param test_params[] = {
	PARAMS("one", "no", "1000"),
	PARAMS("two", "yes", "5000"),
};
CONFIG_PARAMS(test_params);

static int
trusted(const struct login_settings *set, const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return netlist_match(set->trusted_nets, (struct sockaddr *)&sin);
}

/* set holds the values expected of a prefix. */
static void
expect(const struct login_settings *set, int wrapper, int plain_off,
    int auth_service, long long session_limit, long long user_limit,
    long long delay, const char *service)
{
	T_INTEQ(set->tls_wrappermode, wrapper);
	T_INTEQ(set->plaintext_disabled, plain_off);
	T_INTEQ(set->use_auth_service, auth_service);
	T_INTEQ(set->session_limit, session_limit);
	T_INTEQ(set->ip_limit, 50);
	T_INTEQ(set->user_limit, user_limit);
	T_INTEQ(set->auth_delay, delay);
	T_STREQ(set->post_login_service, service);
}

static void
test_prefixes(void)
{
	struct login_settings one, two;
	char *err = NULL;

	T_INTEQ(config_load("/nonexistent/tempest-test", &err), 0);
	T_INTEQ(config_override("two_auth_failure_delay", "1m", &err), 0);
	T_INTEQ(config_override("two_trusted_networks", "192.0.2.0/24", &err), 0);
	T_INTEQ(config_override("two_user_connection_limit", "3", &err), 0);
	T_INTEQ(config_override("two_auth_service", "no", &err), 0);
	T_INTEQ(config_override("two_disable_plaintext_auth", "no", &err), 0);
	login_settings_load(&one, "one");
	login_settings_load(&two, "two");

	/* the defaults; $mynetworks expanded */
	expect(&one, 0, 1, 1, 1000, 10, 0, "one");
	T_OK(trusted(&one, "127.0.0.1"));
	T_OK(!trusted(&one, "192.0.2.7"));
	/* the other daemon's own values */
	expect(&two, 1, 0, 0, 5000, 3, 60, "two");
	T_OK(!trusted(&two, "127.0.0.1"));
	T_OK(trusted(&two, "192.0.2.7"));
	netlist_free(&one.trusted_nets);
	netlist_free(&two.trusted_nets);
}

int
main(void)
{
	T_RUN(test_prefixes);
	return t_done();
}
