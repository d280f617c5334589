/*
 * hist - latency histograms for the bench load driver.
 *
 * Log-linear buckets over microseconds: exact below 128 us, then 64
 * buckets per power of two (under 1.6% error), up to about 12 days.
 * Fixed size, no allocation: one per thread and step, merged at the end.
 */
#ifndef HOP_BENCH_HIST_H
#define HOP_BENCH_HIST_H

#include <stdint.h>

#define HIST_BUCKETS (128 + 34 * 64)

struct hist {
	uint64_t n;
	uint64_t count[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t usec);
/* Add every sample of `from` to `to`. */
void hist_merge(struct hist *to, const struct hist *from);
/* The value (us, a bucket's lower bound) under which `q` (0..1) of the samples lie; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
