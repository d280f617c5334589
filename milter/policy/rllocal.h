/*
 * rllocal - the rate limit in process memory: the same GCRA as
 * redis/gcra.lua, for when Redis cannot be asked (on_redis_error = local)
 * or no Redis is configured.
 *
 * A fixed-size table, split into stripes with a mutex each, so the worker
 * threads rarely wait for one another.  Memory never grows: an entry whose
 * bucket is full again (TAT reached) or that saw no request for
 * RLLOCAL_IDLE_US is free for reuse, and when every candidate slot of a
 * new key is live, the one closest to being empty (smallest TAT) is
 * evicted.  Time is whatever the caller passes (microseconds of
 * CLOCK_MONOTONIC in the daemon, made-up values in the unit tests).
 *
 * All functions are thread-safe except rllocal_free().
 */
#ifndef HOP_RLLOCAL_H
#define HOP_RLLOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/* An entry not asked about for this long is forgotten. */
#define RLLOCAL_IDLE_US (60LL * 1000000)

struct rllocal;

/* The most buckets one decision checks (ratelimit.h: message, subnet, recipients). */
#define RLLOCAL_MAX_REQS 4

/*
 * One bucket to check: a client network of one tier (or, for the buckets
 * keyed by a name, the name's digest in `net.bytes`), its GCRA parameters
 * and what this request costs.
 */
struct rllocal_req {
	int tier;                 /* part of the key: 1, 2, ... (ratelimit.h) */
	struct net_addr net;      /* already masked to `prefix` */
	unsigned prefix;
	int64_t interval_us;      /* T = period / rate */
	int64_t tau_us;           /* T * (burst - 1) */
	int64_t cost;             /* units charged (recipients); 0 counts as 1 */
};

/* A table of at least `max_entries` slots.  NULL when out of memory. */
struct rllocal *rllocal_new(size_t max_entries);
void rllocal_free(struct rllocal *t);

/*
 * Check `n` (1 to RLLOCAL_MAX_REQS) buckets at time `now_us` and charge all
 * of them only if every one allows.  A request of cost c is allowed when
 * TAT + (c - 1) * T - now <= tau, and advances TAT by c * T (the GCRA of
 * c requests at once, as redis/gcra.lua).  Returns true when allowed;
 * otherwise fills `*retry_after_us` and `*tier` (the tier that waits
 * longest).
 */
bool rllocal_check(struct rllocal *t, const struct rllocal_req *reqs, int n, int64_t now_us,
    int64_t *retry_after_us, int *tier);

/*
 * For the control socket: the TAT of one bucket at `now_us` (`now_us`
 * itself when the table knows nothing about it, i.e. a full bucket),
 * without charging or creating anything.  rllocal_forget() empties it;
 * true when there was something to forget.
 */
int64_t rllocal_peek(struct rllocal *t, const struct rllocal_req *req, int64_t now_us);
bool rllocal_forget(struct rllocal *t, const struct rllocal_req *req, int64_t now_us);

/* How many entries still hold information at `now_us` (tests, debugging). */
size_t rllocal_count(struct rllocal *t, int64_t now_us);
/* The number of slots. */
size_t rllocal_capacity(const struct rllocal *t);

#endif
