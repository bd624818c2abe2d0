/* test-scram.c - SCRAM-SHA-256 server side against the RFC 7677 example,
 * secrets (Dovecot format), and malformed client messages. */
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

int
main(void)
{
	T_RUN(test_rfc7677);
	T_RUN(test_malformed);
	T_RUN(test_secrets);
	return t_done();
}
