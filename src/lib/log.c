/*
 * log.c - stderr/syslog logging.  Messages may quote client bytes; those
 * are sanitised here (control characters become '?') so a client cannot
 * forge log lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "str.h"

static char log_ident[64] = "tempest";
static const char *log_rolename = "tempest";
static int log_dest = LOG_DEST_STDERR;
static int log_verb;
static long log_pid;

void
log_init(const char *role, int dest, int verbose)
{
	snprintf(log_ident, sizeof(log_ident), "tempest/%s", role);
	log_rolename = role;
	log_dest = dest;
	log_verb = verbose;
	log_pid = (long)getpid();
	if (dest & LOG_DEST_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

const char *
log_role(void)
{
	return log_rolename;
}

int
log_verbose(void)
{
	return log_verb;
}

static void log_emit(int, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_emit(int prio, const char *tag, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	str_mask_controls(msg);
	if (log_dest & LOG_DEST_SYSLOG)
		syslog(prio, "%s%s", tag, msg);
	if (log_dest & LOG_DEST_STDERR) {
		/* the time stamp is formatted once a second (per thread) */
		static __thread char ts[32];
		static __thread time_t ts_sec = -1;
		time_t now = time(NULL);
		if (now != ts_sec) {
			struct tm tm;
			localtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
			ts_sec = now;
		}
		if (log_pid == 0)
			log_pid = (long)getpid();
		fprintf(stderr, "%s %s[%ld]: %s%s\n", ts, log_ident,
		    log_pid, tag, msg);
	}
}

#define LOG_FN(name, prio, tag)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_emit(prio, tag, fmt, ap);				\
	va_end(ap);						\
}

LOG_FN(log_info, LOG_INFO, "")
LOG_FN(log_warn, LOG_WARNING, "warning: ")
LOG_FN(log_err, LOG_ERR, "error: ")

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verb)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "debug: ", fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}
