/*
 * roles.h - every entry point of the one tempest binary.
 *
 * `tempest [-c dir] [-v] COMMAND args` runs a command; `tempest daemon
 * ROLE ...` is how master starts a service.  Each entry is
 * `int NAME_main(int argc, char **argv)` with argv[0] the command name,
 * called after the global options are parsed (ctl_config_dir() is then
 * valid).  Entries are weak: a folder that is not in the tree (yet)
 * leaves its entry NULL and the command says so, so parallel work adds a
 * role by adding its folder, without editing the dispatcher.
 */
#ifndef TEMPEST_ROLES_H
#define TEMPEST_ROLES_H

#define ROLE(fn) int fn(int argc, char **argv) __attribute__((weak))

/* daemons (tempest daemon NAME) */
ROLE(master_main);
ROLE(smtpd_main);
ROLE(qmgr_main);
ROLE(local_main);
ROLE(pickup_main);
ROLE(smtp_main);
ROLE(auth_main);
ROLE(anvil_main);
ROLE(filter_main);
ROLE(imapd_main);
ROLE(imap_login_main);
ROLE(pop3d_main);
ROLE(pop3_login_main);
ROLE(web_main);

/* commands */
ROLE(ctl_start_main);
ROLE(ctl_stop_main);
ROLE(ctl_reload_main);
ROLE(ctl_status_main);
ROLE(ctl_flush_main);
ROLE(ctl_check_main);
ROLE(ctl_startfg_main);
ROLE(postconf_main);
ROLE(sendmail_main);
ROLE(mailq_main);
ROLE(newaliases_main);
ROLE(postmap_main);
ROLE(postqueue_main);
ROLE(postsuper_main);
ROLE(postcat_main);
ROLE(passwd_main);
ROLE(procmail_main);
ROLE(vacation_main);
ROLE(spamc_main);
ROLE(learn_main);
ROLE(quarantine_main);

/* The configuration directory: $TEMPEST_CONFIG_DIR (which tempest's
 * -c and a command's own -c set), else /etc/tempest. */
const char *ctl_config_dir(void);
/* Absolute path of the running tempest binary (for re-exec). */
const char *ctl_self_path(void);
/* 1 when `tempest daemon NAME` is a daemon built into this binary. */
int ctl_role_exists(const char *name);
/* The synopsis of command NAME (its `tempest NAME --help`) on stderr,
 * for the command's own answer to a wrong use. */
void ctl_usage(const char *name);

#endif
