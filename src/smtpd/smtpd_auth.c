/*
 * smtpd_auth.c - SMTP AUTH (RFC 4954) with the PLAIN and LOGIN
 * mechanisms, verified by the auth service (src/auth) without blocking
 * the event loop, and the sender-login restrictions
 * (reject_sender_login_mismatch and friends, smtpd_sender_login_maps).
 *
 * Untrusted bytes: the AUTH arguments and the client's base64 responses
 * (command lines bounded by smtpd.c; decoded by lib-auth/sasl.c into
 * bounded buffers).  Passwords are forwarded to the auth service and
 * cleansed; they are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "auth_client.h"
#include "buf.h"
#include "config.h"
#include "ioev.h"
#include "log.h"
#include "maps.h"
#include "mem.h"
#include "sasl.h"
#include "scram.h"
#include "service.h"
#include "smtpd.h"
#include "smtpd_anvil.h"
#include "smtpd_ext.h"
#include "str.h"

static const struct cfg_param smtpd_auth_params[] = {
	{ "smtpd_sasl_loglevel", CFG_INT, "0", 0, "SMTP AUTH logging: 0 failures, 1 also successes, 2 also each step" },
	{ "smtpd_sasl_authenticated_header", CFG_BOOL, "no", 0, "Put \"(Authenticated sender: user)\" into the Received: header" },
	{ "smtpd_sasl_received_header", CFG_BOOL, "$smtpd_sasl_authenticated_header", 0, "The same as smtpd_sasl_authenticated_header" },
	{ "smtpd_sasl_service", CFG_STR, "smtp", 0, "Service name sent to the auth service (and to PAM / saslauthd)" },
	{ "smtpd_sasl_mechanisms", CFG_STR, "PLAIN LOGIN", 0, "SASL mechanisms offered: PLAIN, LOGIN, SCRAM-SHA-256 (only for users whose stored password is a {SCRAM-SHA-256} secret)" },
	{ "broken_sasl_auth_clients", CFG_BOOL, "no", 0, "Also announce AUTH in the obsolete \"AUTH=\" form" },
	{ "smtpd_sender_login_maps", CFG_LIST, "", 0, "Sender address (or @domain) -> login names that may use it (comma separated); empty: a login owns only the address equal to its name" },
};

CONFIG_PARAMS(smtpd_auth_params);

static int enabled, loglevel, received_header, broken_clients;
static int mech_plain, mech_login, mech_scram;
static char mechs[64];
static char *socket_path;
static struct maplist *login_maps;

void
smtpd_auth_setup(void)
{
	char **m, *err = NULL;
	size_t i;

	enabled = config_bool("smtpd_sasl_auth_enable");
	loglevel = (int)config_int("smtpd_sasl_loglevel");
	received_header = config_bool("smtpd_sasl_received_header") ||
	    config_bool("smtpd_sasl_authenticated_header");
	broken_clients = config_bool("broken_sasl_auth_clients");
	m = str_split(config_str("smtpd_sasl_mechanisms"), STR_LIST_SEPS, NULL);
	for (i = 0; m[i] != NULL; i++) {
		if (strcasecmp(m[i], "PLAIN") == 0)
			mech_plain = 1;
		else if (strcasecmp(m[i], "LOGIN") == 0)
			mech_login = 1;
		else if (strcasecmp(m[i], "SCRAM-SHA-256") == 0)
			mech_scram = 1;
		else
			fatal("smtpd_sasl_mechanisms: unsupported mechanism %s",
			    m[i]);
	}
	str_split_free(&m);
	snprintf(mechs, sizeof(mechs), "%s%s%s", mech_plain ? "PLAIN " : "",
	    mech_login ? "LOGIN " : "", mech_scram ? "SCRAM-SHA-256 " : "");
	if (mechs[0] != '\0')
		mechs[strlen(mechs) - 1] = '\0';
	if (enabled && mechs[0] == '\0')
		fatal("smtpd_sasl_mechanisms: no mechanism left");
	socket_path = auth_socket_path(service_queue_dir(),
	    config_str("smtpd_sasl_path"));
	login_maps = maplist_open(config_str("smtpd_sender_login_maps"), &err);
	if (login_maps == NULL)
		fatal("smtpd_sender_login_maps: %s", err);
}

/* The auth socket as this process sees it (smtpd may be chrooted to
 * the queue directory; the path was made before the chroot). */
static const char *
auth_path(void)
{
	static char *p;

	if (p == NULL)
		p = service_queue_path(socket_path);
	return p;
}

int
smtpd_auth_offered(struct session *s)
{
	if (!enabled)
		return 0;
	if (!s->tls && (config_bool("smtpd_tls_auth_only") ||
	    smtpd_tls_enforced()))
		return 0;
	return 1;
}

const char *
smtpd_auth_mechanisms(void)
{
	return mechs;
}

int
smtpd_auth_broken_clients(void)
{
	return broken_clients;
}

static void
auth_reset(struct smtpd_ext *x)
{
	auth_request_cancel(&x->req);   /* a SCRAM exchange between steps */
	x->auth_step = AUTH_STEP_NONE;
	x->auth_mech = NULL;
	if (x->login_user != NULL)
		explicit_bzero(x->login_user, strlen(x->login_user));
	FREE(x->login_user);
	FREE(x->auth_try_user);
	FREE(x->scram_user);
}

static void
reply_b64(struct session *s, const char *data)
{
	struct buf b;

	buf_init(&b, 4 * SCRAM_MSG_MAX);
	if (sasl_b64_encode(data, strlen(data), &b) < 0)
		panic("reply_b64: server message too long");
	smtpd_reply(s, "334 %s", buf_cstr(&b));
	buf_free(&b);
}

static void auth_done(enum auth_status st, const char *user,
    const char *reason, void *arg);

/* SCRAM round trips; the final result goes on to auth_done(). */
static void
scram_done(int st, const char *user, const char *reason, const char *data,
    void *arg)
{
	struct session *s = arg;
	struct smtpd_ext *x = smtpd_ext_get(s);

	if (st == AUTH_STATUS_MORE) {
		/* server-first: the request stays open */
		x->auth_step = AUTH_STEP_SCRAM_FINAL;
		reply_b64(s, data);
		smtpd_session_resume(s);
		return;
	}
	x->req = NULL;
	if (st == AUTH_OK) {
		/* RFC 4954: the server-final message goes in a 334, the
		 * client answers with an empty line, then 235 */
		x->auth_step = AUTH_STEP_SCRAM_ACK;
		x->scram_user = xstrdup(user);
		reply_b64(s, data);
		smtpd_session_resume(s);
		return;
	}
	auth_done((enum auth_status)st, user, reason, arg);
}

static void
auth_done(enum auth_status st, const char *user, const char *reason,
    void *arg)
{
	struct session *s = arg;
	struct smtpd_ext *x = smtpd_ext_get(s);

	x->req = NULL;
	switch (st) {
	case AUTH_OK:
		s->auth_user = xstrdup(*user != '\0' ? user :
		    x->auth_try_user != NULL ? x->auth_try_user : "");
		x->sasl_method = x->auth_mech;
		if (loglevel >= 1)
			log_info("%s: SASL %s authentication succeeded, "
			    "sasl_username=%s", s->client, x->auth_mech,
			    s->auth_user);
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAIL:
		log_warn("%s: SASL %s authentication failed: %s, "
		    "sasl_username=%s", s->client, x->auth_mech, reason,
		    x->auth_try_user != NULL ? x->auth_try_user : "");
		smtpd_reply(s, "535 5.7.8 Error: authentication failed: %s",
		    reason);
		break;
	case AUTH_LOCKED:
		log_warn("%s: SASL %s authentication refused: %s, "
		    "sasl_username=%s", s->client, x->auth_mech, reason,
		    x->auth_try_user != NULL ? x->auth_try_user : "");
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure: "
		    "%s", reason);
		break;
	default:
		log_warn("%s: SASL %s authentication failed: %s, "
		    "sasl_username=%s", s->client, x->auth_mech, reason,
		    x->auth_try_user != NULL ? x->auth_try_user : "");
		smtpd_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	auth_reset(x);
	smtpd_session_resume(s);
}

/* Hand user + password to the auth service; the session waits. */
static void
auth_verify(struct session *s, const char *user, const char *password)
{
	struct smtpd_ext *x = smtpd_ext_get(s);

	x->auth_step = AUTH_STEP_WAIT;
	x->auth_try_user = xstrdup(user);
	if (loglevel >= 2)
		log_info("%s: SASL %s: asking the auth service for "
		    "sasl_username=%s", s->client, x->auth_mech, user);
	smtpd_session_pause(s);
	x->req = auth_request_start(auth_path(),
	    config_str("smtpd_sasl_service"), s->addr, x->auth_mech, user,
	    password, auth_done, s);
}

/* SCRAM client-first (decoded): the auth service runs the exchange. */
static void
auth_scram_first(struct session *s, const struct buf *msg)
{
	struct smtpd_ext *x = smtpd_ext_get(s);

	if (msg->len == 0 || memchr(buf_cstr(msg), '\0', msg->len) != NULL) {
		smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
		    "malformed SCRAM message");
		auth_reset(x);
		return;
	}
	x->auth_step = AUTH_STEP_WAIT;
	smtpd_session_pause(s);
	x->req = auth_scram_start(auth_path(), config_str("smtpd_sasl_service"),
	    s->addr, buf_cstr(msg), scram_done, s);
}

static void
auth_malformed(struct session *s, const char *why)
{
	struct smtpd_ext *x = smtpd_ext_get(s);

	log_warn("%s: SASL %s authentication failed: %s", s->client,
	    x->auth_mech != NULL ? x->auth_mech : "", why);
	auth_reset(x);
}

/* A decoded PLAIN message. */
static void
auth_plain(struct session *s, const struct buf *msg)
{
	const char *user, *password, *err;

	if (sasl_plain_parse(buf_cstr(msg), msg->len, &user, &password,
	    &err) < 0) {
		auth_malformed(s, err);
		smtpd_reply(s, "535 5.7.8 Error: authentication failed: %s", err);
		return;
	}
	auth_verify(s, user, password);
}

static int
decode(struct session *s, const char *b64, struct buf *out)
{
	if (sasl_b64_decode(b64, strlen(b64), out) < 0) {
		auth_malformed(s, "invalid base64 data");
		smtpd_reply(s, "501 5.5.2 Cannot decode response");
		return -1;
	}
	return 0;
}

void
smtpd_cmd_auth(struct session *s, const char *args)
{
	struct smtpd_ext *x = smtpd_ext_get(s);
	char mech[32];
	const char *initial = NULL, *sp;
	struct buf dec;
	size_t n;

	if (!enabled) {
		smtpd_reply(s, "503 5.5.1 Error: authentication not enabled");
		return;
	}
	if (!smtpd_auth_offered(s)) {
		smtpd_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		return;
	}
	if (s->helo == NULL) {
		smtpd_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->auth_user != NULL) {
		smtpd_reply(s, "503 5.5.1 Error: already authenticated");
		return;
	}
	if (s->has_mail) {
		smtpd_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if (smtpd_anvil_limits.auth > 0 && smtpd_anvil_auth(s) < 0)
		return;
	sp = strchr(args, ' ');
	n = sp != NULL ? (size_t)(sp - args) : strlen(args);
	if (n == 0 || n >= sizeof(mech)) {
		smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	if (sp != NULL) {
		initial = sp + 1;
		if (*initial == '\0' || strchr(initial, ' ') != NULL) {
			smtpd_reply(s, "501 5.5.4 Syntax: AUTH mechanism "
			    "[initial-response]");
			return;
		}
	}
	if (mech_plain && strcasecmp(mech, "PLAIN") == 0)
		x->auth_mech = "PLAIN";
	else if (mech_login && strcasecmp(mech, "LOGIN") == 0)
		x->auth_mech = "LOGIN";
	else if (mech_scram && strcasecmp(mech, "SCRAM-SHA-256") == 0)
		x->auth_mech = "SCRAM-SHA-256";
	else {
		smtpd_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	buf_init(&dec, SCRAM_MSG_MAX);
	if (x->auth_mech[0] == 'S') {
		if (initial == NULL) {
			x->auth_step = AUTH_STEP_SCRAM_FIRST;
			smtpd_reply(s, "334 ");
		} else if (decode(s, initial, &dec) == 0)
			auth_scram_first(s, &dec);
	} else if (x->auth_mech[0] == 'P') {
		if (initial == NULL) {
			x->auth_step = AUTH_STEP_PLAIN;
			smtpd_reply(s, "334 ");
		} else if (strcmp(initial, "=") == 0) {
			/* empty initial response: not a valid PLAIN message */
			auth_malformed(s, "empty PLAIN message");
			smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
			    "malformed PLAIN message");
		} else if (decode(s, initial, &dec) == 0)
			auth_plain(s, &dec);
	} else {
		if (initial == NULL) {
			x->auth_step = AUTH_STEP_LOGIN_USER;
			smtpd_reply(s, "334 VXNlcm5hbWU6");        /* Username: */
		} else if (decode(s, initial, &dec) == 0) {
			x->login_user = xstrdup(buf_cstr(&dec));
			x->auth_step = AUTH_STEP_LOGIN_PASS;
			smtpd_reply(s, "334 UGFzc3dvcmQ6");        /* Password: */
		}
	}
	if (dec.data != NULL)
		explicit_bzero(dec.data, dec.cap);
	buf_free(&dec);
}

void
smtpd_auth_response(struct session *s, const char *line)
{
	struct smtpd_ext *x = smtpd_ext_get(s);
	struct buf dec;

	if (strcmp(line, "*") == 0) {
		auth_reset(x);
		smtpd_reply(s, "501 5.7.0 Authentication aborted");
		return;
	}
	if (x->auth_step == AUTH_STEP_SCRAM_ACK) {
		if (*line != '\0' && strcmp(line, "=") != 0) {
			auth_malformed(s, "unexpected data after SCRAM success");
			smtpd_reply(s, "535 5.7.8 Error: authentication failed");
			return;
		}
		s->auth_user = xstrdup(x->scram_user);
		x->sasl_method = x->auth_mech;
		if (loglevel >= 1)
			log_info("%s: SASL %s authentication succeeded, "
			    "sasl_username=%s", s->client, x->auth_mech,
			    s->auth_user);
		smtpd_reply(s, "235 2.7.0 Authentication successful");
		auth_reset(x);
		return;
	}
	buf_init(&dec, SCRAM_MSG_MAX);
	if (decode(s, line, &dec) < 0)
		goto out;
	switch (x->auth_step) {
	case AUTH_STEP_SCRAM_FIRST:
		auth_scram_first(s, &dec);
		break;
	case AUTH_STEP_SCRAM_FINAL:
		if (dec.len == 0 || memchr(buf_cstr(&dec), '\0', dec.len)) {
			auth_request_cancel(&x->req);
			auth_malformed(s, "malformed SCRAM message");
			smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
			    "malformed SCRAM message");
			break;
		}
		x->auth_step = AUTH_STEP_WAIT;
		smtpd_session_pause(s);
		auth_scram_final(x->req, buf_cstr(&dec));
		break;
	case AUTH_STEP_PLAIN:
		auth_plain(s, &dec);
		break;
	case AUTH_STEP_LOGIN_USER:
		if (!sasl_name_ok(buf_cstr(&dec), dec.len)) {
			auth_malformed(s, "invalid user name");
			smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
			    "invalid user name");
			break;
		}
		x->login_user = xstrdup(buf_cstr(&dec));
		x->auth_step = AUTH_STEP_LOGIN_PASS;
		smtpd_reply(s, "334 UGFzc3dvcmQ6");
		break;
	case AUTH_STEP_LOGIN_PASS:
		if (memchr(buf_cstr(&dec), '\0', dec.len) != NULL ||
		    !sasl_name_ok(x->login_user, strlen(x->login_user))) {
			auth_malformed(s, "invalid user name or password");
			smtpd_reply(s, "535 5.7.8 Error: authentication failed: "
			    "invalid user name or password");
			break;
		}
		{
			char *user = xstrdup(x->login_user);
			auth_verify(s, user, buf_cstr(&dec));
			free(user);
		}
		break;
	default:
		panic("smtpd_auth_response in step %d", (int)x->auth_step);
	}
out:
	if (dec.data != NULL)
		explicit_bzero(dec.data, dec.cap);
	buf_free(&dec);
}

void
smtpd_auth_session_end(struct session *s)
{
	struct smtpd_ext *x = s->ext;

	if (x == NULL)
		return;
	auth_request_cancel(&x->req);
	auth_reset(x);
}

const char *
smtpd_auth_received_clause(struct session *s)
{
	static char clause[600];

	if (!received_header || s->auth_user == NULL)
		return "";
	snprintf(clause, sizeof(clause), "\n\t(Authenticated sender: %s)",
	    s->auth_user);
	return clause;
}

/* Whether login owns sender: smtpd_sender_login_maps (address, then
 * @domain), or, without maps, login == sender.  -1 on lookup error. */
static int
sender_owners(const char *sender, const char **owners_r)
{
	const char *at = strrchr(sender, '@');
	int r;

	*owners_r = NULL;
	if (maplist_empty(login_maps))
		return 0;
	r = maplist_lookup(login_maps, sender, owners_r);
	if (r == 0 && at != NULL)
		r = maplist_lookup(login_maps, at, owners_r);
	return r;
}

static int
owns(const char *owners, const char *login)
{
	char **v = str_split(owners, STR_LIST_SEPS, NULL);
	size_t i;
	int r = 0;

	for (i = 0; v[i] != NULL && !r; i++)
		r = strcasecmp(v[i], login) == 0;
	str_split_free(&v);
	return r;
}

int
smtpd_auth_restriction(struct session *s, const char *name, char *reply,
    size_t rlen)
{
	int check_auth = 0, check_unauth = 0, known;
	const char *sender = s->sender, *owners = NULL;

	if (strcmp(name, "reject_sender_login_mismatch") == 0)
		check_auth = check_unauth = 1;
	else if (strcmp(name, "reject_authenticated_sender_login_mismatch") == 0)
		check_auth = 1;
	else if (strcmp(name, "reject_unauthenticated_sender_login_mismatch") == 0 ||
	    strcmp(name, "reject_known_sender_login_mismatch") == 0)
		check_unauth = 1;
	else
		return -1;
	if (sender == NULL || *sender == '\0')
		return 0;       /* the null sender belongs to nobody */
	known = sender_owners(sender, &owners);
	if (known < 0) {
		snprintf(reply, rlen, "451 4.3.0 <%s>: Sender address rejected: "
		    "Temporary lookup failure", sender);
		return 1;
	}
	if (s->auth_user != NULL && check_auth) {
		int ok = known > 0 ? owns(owners, s->auth_user) :
		    maplist_empty(login_maps) &&
		    strcasecmp(sender, s->auth_user) == 0;
		if (!ok) {
			snprintf(reply, rlen, "553 5.7.1 <%s>: Sender address "
			    "rejected: not owned by user %s", sender,
			    s->auth_user);
			return 1;
		}
	} else if (s->auth_user == NULL && check_unauth && known > 0) {
		snprintf(reply, rlen, "553 5.7.1 <%s>: Sender address rejected: "
		    "not logged in", sender);
		return 1;
	}
	return 0;
}
