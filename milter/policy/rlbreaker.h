/*
 * rlbreaker - the circuit breaker in front of Redis: whether decisions may
 * use the network at all, and when to probe again.
 *
 * STARTING: no handshake has worked yet (decisions wait for one, up to
 * their timeout).  UP: the pool may serve.  DOWN (open): an I/O error, a
 * timeout or a reply saying Redis cannot serve tripped it; every decision
 * answers "unavailable" at once, without touching the network, while the
 * maintenance thread probes after a backoff of 100ms doubling up to
 * retry_interval.  The first full handshake that works closes it again.
 * Each transition is logged once (redis=down / redis=up), never per
 * decision, so a long outage costs two log lines, not one per message.
 *
 * No lock of its own: the caller (rlpool) holds its lock around every call.
 */
#ifndef HOP_RLBREAKER_H
#define HOP_RLBREAKER_H

#include <stdbool.h>
#include <stddef.h>

#define RLBREAKER_BACKOFF_MIN_MS 100

enum rlbreaker_state {
	RLBREAKER_STARTING,
	RLBREAKER_UP,
	RLBREAKER_DOWN,
};

struct rlbreaker {
	enum rlbreaker_state state;
	long backoff_ms;      /* the wait before the next probe */
	long retry_ms;        /* the longest wait (retry_interval) */
	char server[300];     /* "host:port" of the last good handshake */
	const char *master;   /* Sentinel master name or "", for the log (not owned) */
	const char *sha;      /* the script's SHA1, for the log (not owned) */
};

/*
 * STARTING.  `server` names the server in log lines until a handshake
 * works; `master` and `sha` must outlive the breaker.
 */
void rlbreaker_init(struct rlbreaker *b, long retry_interval_ms, const char *server,
    const char *master, const char *sha);

/* Open (DOWN), logging redis=down with `why` unless it already was. */
void rlbreaker_trip(struct rlbreaker *b, const char *why);

/*
 * A handshake with `server` worked: UP, the backoff back to its minimum,
 * logging redis=up unless it already was up with that server.
 */
void rlbreaker_close(struct rlbreaker *b, const char *server);

/* The wait before the next probe after a failed one; doubles the next. */
long rlbreaker_backoff(struct rlbreaker *b);

#endif
