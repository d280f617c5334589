/*
 * hist - log-linear latency histograms.  See hist.h.
 */
#include "config.h"

#include "hist.h"

static unsigned
hist_index(uint64_t v)
{
	unsigned b, shift;

	if (v < 128)
		return (unsigned)v;
	b = 63u - (unsigned)__builtin_clzll(v);   /* v >= 2^b, b >= 7 */
	if (b > 40)
		return HIST_BUCKETS - 1;
	shift = b - 6;
	return 128 + (b - 7) * 64 + (unsigned)((v >> shift) - 64);
}

static uint64_t
hist_value(unsigned i)
{
	unsigned b, shift;

	if (i < 128)
		return i;
	b = (i - 128) / 64 + 7;
	shift = b - 6;
	return ((uint64_t)((i - 128) % 64) + 64) << shift;
}

void
hist_add(struct hist *h, uint64_t usec)
{
	h->count[hist_index(usec)]++;
	h->n++;
}

void
hist_merge(struct hist *to, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		to->count[i] += from->count[i];
	to->n += from->n;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > want)
			return hist_value(i);
	}
	return hist_value(HIST_BUCKETS - 1);
}
