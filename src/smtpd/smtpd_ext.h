/*
 * smtpd_ext.h - private interface between the extension hooks
 * (smtpd_ext.c), STARTTLS/SMTPS (smtpd_tls.c) and SMTP AUTH
 * (smtpd_auth.c).
 */
#ifndef TEMPEST_SMTPD_EXT_H
#define TEMPEST_SMTPD_EXT_H

#include <stddef.h>

#include "smtpd.h"

struct auth_request;

enum auth_step { AUTH_STEP_NONE, AUTH_STEP_PLAIN, AUTH_STEP_LOGIN_USER,
    AUTH_STEP_LOGIN_PASS, AUTH_STEP_SCRAM_FIRST, AUTH_STEP_SCRAM_FINAL,
    AUTH_STEP_SCRAM_ACK, AUTH_STEP_WAIT };

/* Per-session state of the extensions (session->ext). */
struct smtpd_ext {
	enum auth_step auth_step;
	const char *auth_mech;          /* "PLAIN" / "LOGIN" (static) */
	char *login_user;               /* LOGIN: user given in step 1 */
	char *auth_try_user;            /* user of the pending request */
	struct auth_request *req;       /* pending auth service request */
	const char *sasl_method;        /* mechanism that succeeded */
	char *scram_user;               /* SCRAM: user before the final ack */
	int greet_after_tls;            /* SMTPS: 220 once anvil counted */
};

struct smtpd_ext *smtpd_ext_get(struct session *s);

/* smtpd_tls.c */
void smtpd_tls_setup(void);
int smtpd_tls_available(void);          /* a context exists */
int smtpd_tls_wrappermode(void);
int smtpd_tls_enforced(void);           /* security level encrypt */
void smtpd_tls_wrap(struct session *s);
void smtpd_cmd_starttls(struct session *s, const char *args);
void smtpd_tls_established(struct session *s);
const char *smtpd_tls_received_clause(struct session *s);

/* smtpd_auth.c */
void smtpd_auth_setup(void);
/* AUTH is advertised and accepted now (enabled, and TLS if required). */
int smtpd_auth_offered(struct session *s);
const char *smtpd_auth_mechanisms(void);
int smtpd_auth_broken_clients(void);
void smtpd_cmd_auth(struct session *s, const char *args);
void smtpd_auth_response(struct session *s, const char *line);
void smtpd_auth_session_end(struct session *s);
const char *smtpd_auth_received_clause(struct session *s);
/* Restrictions owned by AUTH (reject_sender_login_mismatch and
 * friends): -1 not one of them, 0 no objection, 1 reject (reply set). */
int smtpd_auth_restriction(struct session *s, const char *name,
    char *reply, size_t rlen);

#endif
