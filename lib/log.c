/*
 * log - syslog or syslog-shaped stderr lines.  See log.h.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "hopmilter";
static bool log_stderr = true;
static atomic_int log_max_prio = LOG_INFO;
static char log_host[256] = "localhost";
static void (*log_sink)(int, const char *, void *);
static void *log_sink_arg;

void
log_open(const char *ident, bool to_stderr, int facility)
{
	log_ident = ident;
	log_stderr = to_stderr;
	if (gethostname(log_host, sizeof(log_host) - 1) != 0)
		snprintf(log_host, sizeof(log_host), "localhost");
	/* Keep only the first label, as syslog daemons do. */
	log_host[strcspn(log_host, ".")] = '\0';
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_set_level(int max_prio)
{
	atomic_store(&log_max_prio, max_prio);
}

bool
log_enabled(int prio)
{
	return prio <= atomic_load(&log_max_prio);
}

/* Write "2026-11-22T08:30:00.123456+00:00 host ident[pid]: text\n" at once. */
static void
log_write_stderr(const char *text)
{
	char line[4096], stamp[64];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%06ld+00:00 %s %s[%ld]: %s\n", stamp,
	    (long)tv.tv_usec, log_host, log_ident, (long)getpid(), text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Truncated: keep the line a line. */
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A failed write to stderr has nowhere to be reported. */
	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR)
		;
}

void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char text[3072];

	if (!log_enabled(prio))
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (log_sink != NULL)
		log_sink(prio, text, log_sink_arg);
	else if (log_stderr)
		log_write_stderr(text);
	else
		syslog(prio, "%s", text);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void
log_set_sink(void (*fn)(int prio, const char *text, void *arg), void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

int
log_facility_from_name(const char *name)
{
	static const struct {
		const char *name;
		int facility;
	} table[] = {
		{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
		{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
		{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
		{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].facility;
	return -1;
}

int
log_level_from_name(const char *name)
{
	static const struct {
		const char *name;
		int prio;
	} table[] = {
		{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
		{"info", LOG_INFO}, {"debug", LOG_DEBUG},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(name, table[i].name) == 0)
			return table[i].prio;
	return -1;
}
