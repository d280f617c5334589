/*
 * rlredis - the shared rate limit's use of Redis: the one header the rest
 * of the tree includes (ratelimit, the unit tests, the fuzz harness).
 *
 * Behind it, one job per module, each with its contract at the top of its
 * header:
 *   rlpool      a fixed pool of blocking hiredis contexts shared by the
 *               libmilter worker threads, and the maintenance thread that
 *               fills it and probes while Redis is down
 *   rlconn      one connection and its handshake: connect (connect_timeout),
 *               AUTH (password, or ACL user and password), SELECT, ROLE
 *               (only a master will do), SCRIPT LOAD (which also checks that
 *               our SHA1 matches what Redis computes)
 *   rlwire      one command and its whole reply under a deadline, with every
               reply's declared sizes checked before hiredis sees them
   rlsentinel  with Sentinel, the discovery of the master first
 *   rlbreaker   the circuit breaker: state, backoff, redis=down/up lines
 *   rlredis     this: one decision, and what the script's reply means
 *
 * A decision only checks a ready context out and sends one EVALSHA --
 * EVAL when Redis answers NOSCRIPT (restart, failover, SCRIPT FLUSH) -- all
 * within one deadline of `timeout` milliseconds from its start to the last
 * byte of the reply, however Redis misbehaves (rlwire).  A context the
 * server closed while it sat in the pool is noticed at checkout and
 * replaced; one found closed before any reply byte came is replaced once
 * more, within the same deadline.
 *
 * A context that saw any error is closed, never reused: after a timeout a
 * late reply could be paired with the next question.  An I/O error, a
 * timeout, a reply too large or malformed (rlwire.h), or a reply saying
 * Redis cannot serve (READONLY, LOADING, BUSY,
 * MASTERDOWN, OOM, ...) opens the circuit breaker: state "down", logged
 * once as redis=down, and every decision answers RLREDIS_UNAVAILABLE at
 * once without touching the network.  The maintenance thread retries (with
 * Sentinel: rediscovers) after 100ms, doubling up to retry_interval; the
 * first full handshake that works closes the breaker (redis=up) and the
 * pool fills again.
 *
 * Threads: rlredis_gcra() is thread-safe.  rlredis_start() starts the
 * maintenance thread (idempotent); call it after the daemon has forked.
 * rlredis_free() stops it and may wait for a handshake in progress (at
 * most connect_timeout + 5 x timeout, and with Sentinel that much again per
 * sentinel asked); no decision may be running.
 */
#ifndef HOP_RLREDIS_H
#define HOP_RLREDIS_H

#include <stddef.h>

#include "conf.h"

struct rlredis;

enum rlredis_result {
	RLREDIS_ALLOWED,
	RLREDIS_LIMITED,
	RLREDIS_UNAVAILABLE,   /* down, timed out, or an unexpected reply */
};

/*
 * A pool for `c` (copied: `c` may go away).  `script`/`len` are the exact
 * bytes of the GCRA script (not copied: static storage).  Connects to
 * nothing yet.  0, or -1 with `err`.
 */
int rlredis_new(const struct conf_redis *c, const unsigned char *script, size_t len,
    struct rlredis **out, char *err, size_t errsz);
void rlredis_start(struct rlredis *r);
void rlredis_free(struct rlredis *r);

/* "up", "down" or "starting", and the host:port of the last good handshake. */
const char *rlredis_state(struct rlredis *r, char *server, size_t serversz);

/*
 * For the control socket, each one round trip within `timeout`, charging
 * nothing, over 1 to RLREDIS_MAX_KEYS keys.  rlredis_peek(): Redis's clock
 * and the TAT stored under each key (the clock itself for a missing key: a full bucket); 0 or -1.
 * rlredis_del(): delete the keys; how many existed, or -1.
 */
int rlredis_peek(struct rlredis *r, int nkeys, const char *const *keys, long long *now_us,
    long long *tat_us);
int rlredis_del(struct rlredis *r, int nkeys, const char *const *keys);

/* The script's SHA1, 40 hex digits. */
const char *rlredis_sha1(const struct rlredis *r);

/* The most keys one decision charges (message, subnet, recipients). */
#define RLREDIS_MAX_KEYS 4

/*
 * One decision: run the script over `nkeys` (1 to RLREDIS_MAX_KEYS) keys,
 * which must share one {hash tag}, with the microsecond parameters
 * interval[i], tau[i] and the cost of this request in each, cost[i] (NULL:
 * 1 each, and the costs are not sent).  On RLREDIS_LIMITED fills
 * `*retry_after_ms` and `*tier` (the position of the key that waits
 * longest, 1-based).
 */
enum rlredis_result rlredis_gcra(struct rlredis *r, int nkeys, const char *const *keys,
    const long long *interval_us, const long long *tau_us, const long long *cost,
    long *retry_after_ms, int *tier);

/*
 * What the script's reply means, for rlredis_gcra() and the fuzz harness:
 * `reply` is a hiredis redisReply (void * keeps hiredis out of this
 * header).  Anything but {allowed 0|1, retry_after_ms 0..RLREDIS_RETRY_MAX,
 * tier 1..nkeys} -- from a wrong script, a proxy, or a hostile server --
 * is RLREDIS_UNAVAILABLE, so no number from the network reaches the reply
 * text unchecked.
 */
#define RLREDIS_RETRY_MAX (24L * 3600 * 1000)
enum rlredis_result rlredis_interpret(const void *reply, int nkeys, long *retry_after_ms,
    int *tier);

#endif
