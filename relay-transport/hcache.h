/*
 * hcache - hoprelayd's connections to next hops: opened on demand, kept
 * idle for a while after a transaction and reused (like Postfix smtp(8)'s
 * connection cache), capped per hop, with the hop's last TLS session kept
 * for resumption.
 *
 * One cache belongs to one installed configuration (the routes and their
 * TLS contexts): a reload builds a new cache, and the old one is freed with
 * its configuration once no transaction uses it, so a connection or a TLS
 * session never outlives the pins and names it was checked against.
 *
 * Thread-safe: any session thread may get and put; a connection belongs to
 * exactly one thread between hcache_get() and hcache_put().  No lock is held
 * during network I/O.
 *
 * A connection is reused for at most max_age_ms after it was opened: the
 * next hop applies its own reloads (hopmilter's policy, Postfix's
 * restrictions) to new sessions only, so a kept session must not carry
 * an old policy for long.
 *
 * An idle connection is reused only after RSET got a 250 within a short
 * limit; anything else (an error, a timeout, any other reply) closes it
 * and another is tried or opened.  The cache never holds a connection a
 * caller doubted: hcache_put() closes unhealthy ones.
 */
#ifndef HOP_HCACHE_H
#define HOP_HCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "route.h"
#include "tlsc.h"
#include "xfer.h"

/* RSET on reuse, and QUIT on close: short, the hop is only being probed. */
#define HCACHE_PROBE_TIMEOUT 10000

struct hcache;

struct hcache_limits {
	size_t max_per_hop;     /* connections per host and port, busy and idle together */
	long idle_ms;           /* how long an idle connection is kept; 0: never */
	long max_age_ms;        /* no reuse of a connection older than this */
};

/*
 * A cache for the routes of `conf`, whose TLS contexts are `tls[i]` (NULL
 * for tls = none).  Both must outlive the cache.  NULL when out of memory.
 */
struct hcache *hcache_new(const struct route_conf *conf, struct tlsc_ctx *const *tls,
    const struct hcache_limits *lim);
/* Close every idle connection and free; no connection may be out. */
void hcache_free(struct hcache *c);

/*
 * A ready connection to hop `hop` of route `route` (indices into conf):
 * a reused one, or a new one (every address of the hop in turn).  On
 * failure NULL, with *st telling why (outcome_from_xfer maps it).
 * *reused says which.
 */
struct xfer *hcache_get(struct hcache *c, size_t route, size_t hop, struct xfer_status *st,
    bool *reused);
/* Give a connection back: kept idle when healthy, else closed. */
void hcache_put(struct hcache *c, size_t route, size_t hop, struct xfer *x);
/* Close idle connections kept longer than the limit. */
void hcache_sweep(struct hcache *c);

/* Counters for the logs and the tests. */
struct hcache_stats {
	unsigned long opened, reused, resumed, closed_idle, probe_failed;
};
void hcache_stats(struct hcache *c, struct hcache_stats *out);

#endif
