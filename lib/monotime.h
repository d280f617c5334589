/*
 * monotime - the one monotonic clock of both programs.
 *
 * Every timeout and deadline in hopmilter and hoprelay is measured on
 * CLOCK_MONOTONIC, never on the wall clock: a clock step (NTP, an admin's
 * `date`) must neither fire a deadline early nor hold one open.  A deadline
 * is "monotime_ms() + timeout"; condition variables that wait for one are
 * created with pthread_condattr_setclock(CLOCK_MONOTONIC) and given
 * monotime_timespec(deadline).
 *
 * Thread-safe; no state.
 */
#ifndef HOP_MONOTIME_H
#define HOP_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* Now, in milliseconds on CLOCK_MONOTONIC. */
int64_t monotime_ms(void);
/* Now, in microseconds on CLOCK_MONOTONIC. */
int64_t monotime_us(void);
/* The instant `ms` (a monotime_ms() value) as a struct timespec. */
struct timespec monotime_timespec(int64_t ms);

#endif
