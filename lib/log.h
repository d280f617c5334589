/*
 * log - one logging path for hopmilter and hoprelay.
 *
 * Messages go to syslog, or to stderr when the program runs in the
 * foreground.  Stderr lines carry an RFC 3339 timestamp, the host name and
 * "ident[pid]: " so that a captured stderr file reads like a syslog file
 * (fail2ban and the tests parse both the same way).
 *
 * Every function here is thread-safe; a message is written with a single
 * write(2) so concurrent lines never interleave.
 */
#ifndef HOP_LOG_H
#define HOP_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* Start logging.  `ident` must stay valid for the life of the process. */
void log_open(const char *ident, bool to_stderr, int facility);
/* Messages with a priority numerically above `max_prio` are dropped. */
void log_set_level(int max_prio);
bool log_enabled(int prio);
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Send every message to `fn` instead (unit tests use it to assert log
 * lines).  NULL restores the normal destination.
 */
void log_set_sink(void (*fn)(int prio, const char *text, void *arg), void *arg);

/* Map "mail", "local0".."local7", "daemon" to a LOG_ facility; -1 if unknown. */
int log_facility_from_name(const char *name);
/* Map "error", "warning", "notice", "info", "debug" to a priority; -1 if unknown. */
int log_level_from_name(const char *name);

#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
