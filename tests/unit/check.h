/*
 * check - a minimal table-driven unit test helper.
 *
 * CHECK(cond, fmt, ...) records a failure with file, line and a message and
 * carries on, so one run reports every broken case of a table.
 * check_done() prints a summary and returns the exit status for main().
 */
#ifndef HOP_CHECK_H
#define HOP_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		check_count++;                                                  \
		if (!(cond)) {                                                  \
			check_failures++;                                       \
			fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

/* CHECK_STR(got, want, fmt, ...): string equality; fmt describes the case. */
#define CHECK_STR(got, want, ...) check_str(__FILE__, __LINE__, (got), (want), __VA_ARGS__)

static inline void __attribute__((format(printf, 5, 6)))
check_str(const char *file, int line, const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;

	check_count++;
	if (got != NULL && strcmp(got, want) == 0)
		return;
	check_failures++;
	fprintf(stderr, "%s:%d: FAIL: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": got \"%s\", want \"%s\"\n", got ? got : "(null)", want);
}

/* Test text: `tmpl` with its first '@' replaced by `ins`, into `out`. */
static inline void
check_fill(char *out, size_t outsz, const char *tmpl, const char *ins)
{
	const char *at = strchr(tmpl, '@');

	snprintf(out, outsz, "%.*s%s%s", (int)(at - tmpl), tmpl, ins, at + 1);
}

static inline int
check_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures == 0 ? 0 : 1;
}

#endif
