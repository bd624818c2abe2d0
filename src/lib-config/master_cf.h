/*
 * master_cf.h - master.cf: the services the master process runs.
 *
 * Postfix's columns: service type private unpriv chroot wakeup maxproc
 * command [args].  "-" means the default.  Continuation lines start with
 * white space.  "-o name=value" arguments become per-service overrides.
 */
#ifndef TEMPEST_MASTER_CF_H
#define TEMPEST_MASTER_CF_H

#include <stddef.h>

enum svc_type { SVC_INET, SVC_UNIX, SVC_FIFO, SVC_PASS };

struct master_svc {
	char *name;             /* "smtp", "127.0.0.1:2525", "local" */
	enum svc_type type;
	int private_;           /* y: socket under queue_directory/private */
	int unpriv;             /* y: run as mail_owner */
	int chroot;             /* y: chroot to queue_directory */
	int wakeup;             /* seconds, 0 = none */
	int maxproc;            /* 0 = unlimited */
	char *command;          /* role name: smtpd, qmgr, ... */
	char **argv;            /* remaining args (NULL-terminated), -o removed */
	char **overrides;       /* "name=value" (NULL-terminated) */
	int line;
};

struct master_cf {
	struct master_svc *v;
	size_t n;
};

/* Parse DIR/master.cf.  0, or -1 with "file:line: message" in *error_r. */
int master_cf_load(const char *path, int default_maxproc,
    struct master_cf *cf, char **error_r);
void master_cf_free(struct master_cf *cf);
/* Free the strings of one entry (it may be dropped from cf->v). */
void master_svc_free(struct master_svc *s);

#endif
