/* test-scram.c - SCRAM-SHA-256 server and client sides against the RFC
 * 7677 example and each other, secrets (Dovecot format), and malformed
 * client and server messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scram.h"
#include "userdb.h"
#include "test.h"

#define SECRET "4096,W22ZaJ0SNY7soEsUEjb6gQ==,WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define C1 "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define S1 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define C2 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define S2 "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static int
first(struct scram_server *st, const char *m)
{
	const char *err;

	return scram_client_first(st, m, strlen(m), &err);
}

static void
test_rfc7677(void)
{
	struct scram_server st;
	const char *err = NULL;
	char *final = NULL;

	T_INTEQ(first(&st, C1), 0);
	T_STREQ(st.user, "user");
	T_STREQ(st.gs2_header, "n,,");
	T_STREQ(st.client_first_bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
	T_INTEQ(scram_secret_parse(SECRET, &st.secret), 0);
	st.have_secret = 1;
	T_STREQ(scram_server_first(&st, SNONCE), S1);
	T_INTEQ(scram_client_final(&st, C2, strlen(C2), &final, &err), 1);
	T_STREQ(final, S2);
	free(final);
	/* a wrong proof */
	{
		char bad[] = C2;
		bad[strlen(bad) - 5] = 'A';
		T_INTEQ(scram_client_final(&st, bad, strlen(bad), &final, &err), 0);
	}
	/* unknown user: the exchange runs, then fails */
	st.have_secret = 0;
	T_INTEQ(scram_client_final(&st, C2, strlen(C2), &final, &err), 0);
	scram_server_free(&st);
}

static void
test_malformed(void)
{
	struct scram_server st;
	const char *err = NULL;
	char *final = NULL;
	static const char *bad_first[] = {
		"", "n", "n,", "x,,n=user,r=abc", "p=tls-unique,,n=user,r=abc",
		"n,,r=abc,n=user", "n,,n=user", "n,,n=us=er,r=abc",
		"n,,n=user,r=", "n,,n=user,r=a b", "n,a=other,n=user,r=abc",
		"n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,m=x", "n,,n=,r=abc",
		"n,,n=a:b,r=abc",
		/* attribute names are letters (RFC 5802 attr-val) */
		"n,,n=user,r=abc,,=x", "n,,n=user,r=abc,1=x", "n,,n=user,r=abc,=",
	};
	size_t i;

	for (i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++) {
		T_CHECK(first(&st, bad_first[i]) == -1, "accepted \"%s\"",
		    bad_first[i]);
	}
	T_INTEQ(first(&st, "y,a=u=2Cx,n=u=2Cx,r=abc,x=ext"), 0);
	T_STREQ(st.user, "u,x");
	scram_server_free(&st);

	T_INTEQ(first(&st, C1), 0);
	T_INTEQ(scram_secret_parse(SECRET, &st.secret), 0);
	st.have_secret = 1;
	/* final before server-first */
	T_INTEQ(scram_client_final(&st, C2, strlen(C2), &final, &err), -1);
	scram_server_first(&st, SNONCE);
	{
		static const char *bad_final[] = {
			"", "c=biws", "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		};
		for (i = 0; i < sizeof(bad_final) / sizeof(bad_final[0]); i++)
			T_CHECK(scram_client_final(&st, bad_final[i],
			    strlen(bad_final[i]), &final, &err) == -1,
			    "accepted \"%s\"", bad_final[i]);
	}
	scram_server_free(&st);
}

static void
test_secrets(void)
{
	struct scram_secret s;
	char *made = scram_secret_make("open sesame", 4096);

	T_OK(strncmp(made, "{SCRAM-SHA-256}4096,", 20) == 0);
	T_INTEQ(scram_secret_parse(made + 15, &s), 0);
	T_INTEQ(scram_secret_match(&s, "open sesame"), 1);
	T_INTEQ(scram_secret_match(&s, "open sesame!"), 0);
	/* PLAIN/LOGIN logins against a SCRAM secret, through userdb */
	T_INTEQ(userdb_password_match(made, "open sesame"), 1);
	T_INTEQ(userdb_password_match(made, "x"), 0);
	free(made);
	T_INTEQ(scram_secret_parse("0,AAAA,AAAA,AAAA", &s), -1);
	T_INTEQ(scram_secret_parse("4096,W22ZaJ0SNY7soEsUEjb6gQ==,AAAA,AAAA", &s), -1);
	T_INTEQ(scram_secret_parse("4096,W22ZaJ0SNY7soEsUEjb6gQ==", &s), -1);
	T_INTEQ(scram_secret_parse(SECRET ",extra", &s), -1);
	T_INTEQ(scram_secret_parse(SECRET, &s), 0);
	T_INTEQ(scram_secret_match(&s, "pencil"), 1);
}

static int
client_step(const char *pass, const char *s1, char **final_r,
    const char **err_r)
{
	struct scram_client c;
	char *cf = scram_client_start(&c, "user", pass, "rOprNGfwEbeRWgbNEkqO");
	int r;

	free(cf);
	*final_r = NULL;
	r = scram_client_server_first(&c, s1, strlen(s1), final_r, err_r);
	scram_client_free(&c);
	return r;
}

static void
test_client_rfc7677(void)
{
	struct scram_client c;
	const char *err = NULL;
	char *cf, *final = NULL;

	cf = scram_client_start(&c, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
	T_STREQ(cf, C1);
	free(cf);
	/* the server-final cannot come before the server-first */
	T_INTEQ(scram_client_server_final(&c, S2, strlen(S2), &err), -1);
	T_INTEQ(scram_client_server_first(&c, S1, strlen(S1), &final, &err), 0);
	T_STREQ(final, C2);
	T_OK(c.password == NULL);               /* wiped once used */
	free(final);
	/* a second server-first is refused */
	T_INTEQ(scram_client_server_first(&c, S1, strlen(S1), &final, &err), -1);
	T_INTEQ(scram_client_server_final(&c, S2, strlen(S2), &err), 1);
	scram_client_free(&c);

	/* a server that does not know the key */
	cf = scram_client_start(&c, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
	free(cf);
	T_INTEQ(scram_client_server_first(&c, S1, strlen(S1), &final, &err), 0);
	free(final);
	T_INTEQ(scram_client_server_final(&c,
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95H4=", 46, &err), 0);
	T_STREQ(err, "SCRAM server signature mismatch");
	T_INTEQ(scram_client_server_final(&c, "e=invalid-proof", 15, &err), 0);
	T_INTEQ(scram_client_server_final(&c, "v=AAAA", 6, &err), -1);
	T_INTEQ(scram_client_server_final(&c, "x", 1, &err), -1);
	scram_client_free(&c);

	/* user names with ',' and '=' are escaped */
	cf = scram_client_start(&c, "a,b=c", "p", "N");
	T_STREQ(cf, "n,,n=a=2Cb=3Dc,r=N");
	free(cf);
	scram_client_free(&c);
}

static void
test_client_bad_server_first(void)
{
	const char *err = NULL;
	char *final;

	/* a nonce that does not extend the client's, or only repeats it */
	T_INTEQ(client_step("pencil", "r=XOprNGfwEbeRWgbNEkqO%hv,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", &final, &err), -1);
	T_STREQ(err, "SCRAM server nonce does not extend the client's");
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqO,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", &final, &err), -1);
	/* too few iterations (a man in the middle's cheap proof), too many
	 * (CPU), not a number */
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", &final, &err), -1);
	T_STREQ(err, "SCRAM iteration count out of range");
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=9999999", &final, &err), -1);
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x", &final, &err), -1);
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096", &final, &err), -1);
	/* order, missing parts, bad salt, mandatory extension, NUL */
	T_INTEQ(client_step("pencil", "s=W22ZaJ0SNY7soEsUEjb6gQ==,"
	    "r=rOprNGfwEbeRWgbNEkqOx,i=4096", &final, &err), -1);
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
	    &final, &err), -1);
	T_INTEQ(client_step("pencil", "r=rOprNGfwEbeRWgbNEkqOx,s=!!!!,i=4096",
	    &final, &err), -1);
	T_INTEQ(client_step("pencil", "m=x,r=rOprNGfwEbeRWgbNEkqOx,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", &final, &err), -1);
	T_INTEQ(client_step("pencil", "", &final, &err), -1);
	T_INTEQ(client_step("pencil", ",", &final, &err), -1);
	T_OK(final == NULL);
	/* extensions after the iteration count are ignored */
	T_INTEQ(client_step("pencil", S1 ",x=y", &final, &err), 0);
	free(final);
}

/* Tempest's client against Tempest's server, with a fresh secret. */
static void
test_client_server(void)
{
	struct scram_client c;
	struct scram_server st;
	const char *err = NULL;
	char *secret = scram_secret_make("open, sesame=", 4096);
	char *cf, *cfin = NULL, *sfin = NULL;
	const char *sfirst;

	cf = scram_client_start(&c, "u=1,x", "open, sesame=", "cNonce-1");
	T_INTEQ(scram_client_first(&st, cf, strlen(cf), &err), 0);
	T_STREQ(st.user, "u=1,x");
	T_INTEQ(scram_secret_parse(secret + 15, &st.secret), 0);
	st.have_secret = 1;
	sfirst = scram_server_first(&st, "sNonce-2");
	T_INTEQ(scram_client_server_first(&c, sfirst, strlen(sfirst), &cfin,
	    &err), 0);
	T_INTEQ(scram_client_final(&st, cfin, strlen(cfin), &sfin, &err), 1);
	T_INTEQ(scram_client_server_final(&c, sfin, strlen(sfin), &err), 1);
	free(cf);
	free(cfin);
	free(sfin);
	free(secret);
	scram_client_free(&c);
	scram_server_free(&st);
}

int
main(void)
{
	T_RUN(test_client_rfc7677);
	T_RUN(test_client_bad_server_first);
	T_RUN(test_client_server);
	T_RUN(test_rfc7677);
	T_RUN(test_malformed);
	T_RUN(test_secrets);
	return t_done();
}
