/*
 * log.h - logging in Postfix's shape and the error convention.
 *
 * One line per event: "tempest/<role>[pid]: <queueid>: text".  Lines go to
 * stderr (foreground, tests) or syslog (mail facility).  Callers put the
 * session or queue id first in the message.
 *
 * Error convention (see STYLE): fatal() for environment/config problems
 * (logs and exits 1), panic() for bugs (logs and aborts); recoverable
 * errors return an int < 0 and set a `const char **error_r` or
 * `char **error_r` described at the function.
 */
#ifndef TEMPEST_LOG_H
#define TEMPEST_LOG_H

#include <stdarg.h>

enum log_dest { LOG_DEST_STDERR = 1, LOG_DEST_SYSLOG = 2 };

/* Set the role name ("smtpd"), destinations and verbosity (0 = info). */
void log_init(const char *role, int dest, int verbose);
const char *log_role(void);
int log_verbose(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
