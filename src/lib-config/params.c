/*
 * params.c - the core parameters of main.cf, with Postfix's defaults where
 * Postfix has the parameter.  Other modules register their own tables with
 * CONFIG_PARAMS() next to the code that reads them.
 */
#include "config.h"

static const struct cfg_param core_params[] = {
	/* identity */
	{ "myhostname", CFG_STR, NULL, 0, "Internet host name of this mail system (default: gethostname(), never DNS)" },
	{ "mydomain", CFG_STR, NULL, 0, "Internet domain name of this mail system (default: $myhostname minus its first label)" },
	{ "myorigin", CFG_STR, "$myhostname", 0, "Domain appended to unqualified sender and recipient addresses" },
	{ "mydestination", CFG_LIST, "$myhostname, localhost.$mydomain, localhost", 0, "Domains delivered to local (system) users" },
	{ "mynetworks", CFG_LIST, "127.0.0.0/8 [::1]/128", 0, "Trusted client networks (permit_mynetworks)" },
	{ "inet_interfaces", CFG_LIST, "all", 0, "Addresses inet services listen on when master.cf names only a port" },
	{ "inet_protocols", CFG_LIST, "all", 0, "Address families: ipv4, ipv6 or all" },
	{ "mail_name", CFG_STR, "Tempest", 0, "Mail system name used in the SMTP greeting and Received headers" },
	{ "mail_version", CFG_STR, "0.1", 0, "Version of this mail system (read-only)" },
	{ "smtpd_banner", CFG_STR, "$myhostname ESMTP $mail_name", 0, "Text after the 220 code of the SMTP greeting" },
	/* directories and users */
	{ "config_directory", CFG_STR, CONFIG_DEFAULT_DIR, 0, "Directory of main.cf and master.cf" },
	{ "queue_directory", CFG_STR, "/var/spool/tempest", 0, "Root of the mail queue" },
	{ "data_directory", CFG_STR, "/var/lib/tempest", 0, "Directory of writable state (SQLite files, caches)" },
	{ "command_directory", CFG_STR, "/usr/sbin", 0, "Directory of the administrative commands" },
	{ "daemon_directory", CFG_STR, "/usr/libexec/tempest", 0, "Directory of the daemon programs (Tempest re-executes its own binary)" },
	{ "mail_owner", CFG_STR, "tempest", 0, "Unprivileged system user that owns the queue and runs the services when started as root" },
	{ "default_privs", CFG_STR, "nobody", 0, "Rights used for deliveries to external files and commands from aliases" },
	{ "maillog_file", CFG_STR, "", 0, "Log file instead of syslog; /dev/stderr logs to the terminal" },
	{ "syslog_name", CFG_STR, "tempest", 0, "Prefix of syslog tags" },
	{ "syslog_facility", CFG_STR, "mail", 0, "Syslog facility" },
	/* process management */
	{ "default_process_limit", CFG_INT, "100", 0, "Default maxproc of master.cf services" },
	{ "max_idle", CFG_TIME, "100s", 's', "Time an idle service process waits for work before it exits" },
	{ "smtpd_process_session_limit", CFG_INT, "100", 0, "Concurrent SMTP sessions one smtpd process serves (event-driven)" },
	/* SMTP server */
	{ "smtpd_helo_required", CFG_BOOL, "no", 0, "Require HELO or EHLO before MAIL FROM" },
	{ "smtpd_client_restrictions", CFG_LIST, "", 0, "Restrictions applied when a client connects (evaluated at RCPT)" },
	{ "smtpd_helo_restrictions", CFG_LIST, "", 0, "Restrictions on the HELO/EHLO name (evaluated at RCPT)" },
	{ "smtpd_sender_restrictions", CFG_LIST, "", 0, "Restrictions on MAIL FROM (evaluated at RCPT)" },
	{ "smtpd_relay_restrictions", CFG_LIST, "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination", 0, "Relay-control restrictions applied at RCPT TO before smtpd_recipient_restrictions" },
	{ "smtpd_recipient_restrictions", CFG_LIST, "", 0, "Restrictions applied at RCPT TO" },
	{ "smtpd_data_restrictions", CFG_LIST, "", 0, "Restrictions applied at DATA" },
	{ "smtpd_reject_unlisted_recipient", CFG_BOOL, "yes", 0, "Reject unknown local/virtual recipients at RCPT TO" },
	{ "smtpd_reject_unlisted_sender", CFG_BOOL, "no", 0, "Reject unknown local/virtual senders" },
	{ "smtpd_delay_reject", CFG_BOOL, "yes", 0, "Evaluate client/helo/sender restrictions at RCPT TO" },
	{ "message_size_limit", CFG_INT, "10240000", 0, "Largest message accepted, in bytes (SIZE extension)" },
	{ "header_size_limit", CFG_INT, "102400", 0, "Largest message header accepted, in bytes" },
	{ "line_length_limit", CFG_INT, "2048", 0, "Longest SMTP command line; longer message lines are split" },
	{ "smtpd_recipient_limit", CFG_INT, "1000", 0, "Most recipients accepted per message" },
	{ "smtpd_timeout", CFG_TIME, "300s", 's', "Time to wait for a client command or data" },
	{ "smtpd_soft_error_limit", CFG_INT, "10", 0, "Errors after which every reply is delayed by smtpd_error_sleep_time" },
	{ "smtpd_hard_error_limit", CFG_INT, "20", 0, "Errors after which the session is closed" },
	{ "smtpd_error_sleep_time", CFG_TIME, "1s", 's', "Delay before an error reply once the soft limit is reached" },
	{ "smtpd_junk_command_limit", CFG_INT, "100", 0, "NOOP/RSET/VRFY/HELP/unknown commands allowed before the session is closed" },
	{ "disable_vrfy_command", CFG_BOOL, "no", 0, "Refuse the VRFY command" },
	{ "smtpd_forbid_bare_newline", CFG_STR, "normalize", 0, "Bare LF in SMTP input: normalize (treat as CRLF, but only CRLF.CRLF ends DATA), reject (521 and disconnect) or no" },
	{ "smtpd_forbid_bare_newline_exclusions", CFG_LIST, "$mynetworks", 0, "Clients exempt from smtpd_forbid_bare_newline=reject" },
	{ "smtpd_peername_lookup", CFG_BOOL, "no", 0, "Look up client host names in DNS (off: no DNS without a configured resolver)" },
	{ "smtputf8_enable", CFG_BOOL, "yes", 0, "Offer SMTPUTF8 and accept UTF-8 addresses" },
	{ "smtpd_sasl_auth_enable", CFG_BOOL, "no", 0, "Offer SMTP AUTH" },
	{ "strict_rfc821_envelopes", CFG_BOOL, "no", 0, "Require <> around MAIL FROM and RCPT TO addresses" },
	{ "hopcount_limit", CFG_INT, "50", 0, "Most Received: headers before a message is bounced as a loop" },
	{ "smtpd_proxy_filter", CFG_STR, "", 0, "Reserved" },
	/* domains and address classes */
	{ "relay_domains", CFG_LIST, "", 0, "Domains this server relays to (besides local and virtual ones)" },
	{ "relayhost", CFG_STR, "", 0, "Next-hop for remote mail: [host]:port skips MX lookup" },
	{ "default_transport", CFG_STR, "smtp", 0, "Transport for remote destinations" },
	{ "local_transport", CFG_STR, "local:$myhostname", 0, "Transport for mydestination" },
	{ "virtual_transport", CFG_STR, "virtual", 0, "Transport for virtual_mailbox_domains" },
	{ "recipient_delimiter", CFG_STR, "", 0, "Separator between user name and address extension (e.g. +)" },
	{ "append_dot_mydomain", CFG_BOOL, "no", 0, "Append .$mydomain to host-only domains" },
	{ "local_recipient_maps", CFG_LIST, "proxy:unix:passwd.byname $alias_maps", 0, "Valid local recipients (empty: accept all)" },
	{ "alias_maps", CFG_LIST, "hash:/etc/aliases", 0, "Alias tables for local delivery" },
	{ "alias_database", CFG_LIST, "hash:/etc/aliases", 0, "Alias tables built by newaliases" },
	{ "virtual_alias_maps", CFG_LIST, "$virtual_maps", 0, "Address rewriting for all domains (virtual(5))" },
	{ "virtual_maps", CFG_LIST, "", 0, "Obsolete name of virtual_alias_maps" },
	{ "virtual_alias_domains", CFG_LIST, "$virtual_alias_maps", 0, "Domains with only aliases, no mailboxes" },
	{ "virtual_mailbox_domains", CFG_LIST, "$virtual_mailbox_maps", 0, "Domains whose users have virtual mailboxes" },
	{ "virtual_mailbox_base", CFG_STR, "", 0, "Prefix of virtual mailbox paths" },
	{ "virtual_mailbox_maps", CFG_LIST, "", 0, "Virtual recipient -> mailbox path relative to virtual_mailbox_base (trailing / = Maildir)" },
	{ "virtual_uid_maps", CFG_LIST, "", 0, "Virtual recipient -> owner uid of the mailbox (static:N for all)" },
	{ "virtual_gid_maps", CFG_LIST, "", 0, "Virtual recipient -> group id of the mailbox" },
	{ "virtual_minimum_uid", CFG_INT, "100", 0, "Smallest uid accepted from virtual_uid_maps" },
	{ "virtual_mailbox_limit", CFG_INT, "51200000", 0, "Largest virtual mailbox file (mbox), 0 = none" },
	/* local delivery */
	{ "mail_spool_directory", CFG_STR, "/var/mail", 0, "Directory of mbox spool files of system users" },
	{ "home_mailbox", CFG_STR, "", 0, "Mailbox relative to the home directory (ends in / for Maildir); empty = mail_spool_directory" },
	{ "mailbox_command", CFG_STR, "", 0, "Command that delivers to system users instead of the mailbox" },
	{ "mailbox_size_limit", CFG_INT, "51200000", 0, "Largest mbox file, 0 = none" },
	{ "local_destination_concurrency_limit", CFG_INT, "2", 0, "Parallel deliveries to one local recipient" },
	{ "default_destination_concurrency_limit", CFG_INT, "20", 0, "Parallel deliveries to one destination" },
	/* queue */
	{ "queue_run_delay", CFG_TIME, "300s", 's', "Time between scans of the deferred queue" },
	{ "minimal_backoff_time", CFG_TIME, "300s", 's', "Smallest retry delay of a deferred message" },
	{ "maximal_backoff_time", CFG_TIME, "4000s", 's', "Largest retry delay of a deferred message" },
	{ "maximal_queue_lifetime", CFG_TIME, "5d", 'd', "Age at which a deferred message is bounced" },
	{ "bounce_queue_lifetime", CFG_TIME, "5d", 'd', "Age at which an undeliverable bounce is dropped" },
	{ "delay_warning_time", CFG_TIME, "0h", 'h', "Age at which the sender is warned of delay (0 = never)" },
	{ "soft_bounce", CFG_BOOL, "no", 0, "Turn permanent delivery failures into temporary ones" },
	{ "notify_classes", CFG_LIST, "resource, software", 0, "Problems reported to postmaster" },
	{ "double_bounce_sender", CFG_STR, "double-bounce", 0, "Sender of bounces that must not bounce" },
	/* DNS */
	{ "dns_resolver_address", CFG_LIST, "", 0, "DNS servers to query (addr or addr:port); empty = no DNS lookups at all (resolv.conf is never read)" },
};

CONFIG_PARAMS(core_params);

/* Referenced by config.c so the linker keeps this table from the archive. */
void
config_params_core(void)
{
}
