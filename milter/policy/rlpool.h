/*
 * rlpool - a fixed pool of ready Redis connections shared by the libmilter
 * worker threads, and the maintenance thread that fills it.
 *
 * One context serves one thread at a time.  The maintenance thread owns
 * every slow or risky step: (with Sentinel, discovery of the master first,
 * rlsentinel) then the handshake (rlconn_ready).  A decision only checks a
 * ready context out, uses it, and gives it back -- closed if it saw any
 * error.  The pool keeps the circuit breaker (rlbreaker) under its lock:
 * tripping it closes every idle context (after an outage each one is
 * suspect) and wakes every waiter; while it is open the maintenance thread
 * probes with a full handshake after the breaker's backoff.
 *
 * Threads: rlpool_checkout() and rlpool_release() are thread-safe.
 * rlpool_start() starts the maintenance thread (idempotent), with every
 * signal blocked in it.  rlpool_free() stops it and may wait for a
 * handshake in progress; no decision may be running.
 */
#ifndef HOP_RLPOOL_H
#define HOP_RLPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "rlconn.h"
#include "rlsentinel.h"

struct rlpool;

struct rlpool_slot {
	redisContext *c;  /* NULL: empty, the maintenance thread fills it */
	bool busy;        /* checked out, or being connected */
};

/*
 * `nslots` empty slots for the server `conn` names (or Sentinel finds,
 * when `sentinel` is enabled); `conn` and `sentinel` must outlive the pool.
 * Connects to nothing yet.  0, or -1 with `err`.
 */
int rlpool_new(int nslots, const struct rlconn_cfg *conn, const struct rlsentinel *sentinel,
    long retry_interval_ms, struct rlpool **out, char *err, size_t errsz);
void rlpool_start(struct rlpool *p);
void rlpool_free(struct rlpool *p);

/*
 * A ready context, checked out; NULL when the breaker is open or none
 * frees up before `deadline_ms` (CLOCK_MONOTONIC milliseconds).
 */
struct rlpool_slot *rlpool_checkout(struct rlpool *p, int64_t deadline_ms);

/*
 * Give `s` back.  `keep` false closes its context (it saw an error);
 * `down` (may be NULL) trips the breaker with that reason.
 */
void rlpool_release(struct rlpool *p, struct rlpool_slot *s, bool keep, const char *down);

/* "host:port" of the last good handshake (or the configured name), into `buf`. */
void rlpool_server(struct rlpool *p, char *buf, size_t bufsz);
/* "up", "down" or "starting", and the server as rlpool_server() gives it. */
const char *rlpool_state(struct rlpool *p, char *buf, size_t bufsz);

#endif
