/*
 * ratelimit - the per-client-network rate limit, as the policy sees it.
 *
 * One call per message decides: the client's network (IPv4 /32 and IPv6
 * /64 by default; v4-mapped addresses arrive unwrapped) and optionally its
 * subnet (the second tier) are checked and charged together by the GCRA
 * script in Redis (rlredis), so every edge node sharing that Redis shares
 * one exact limit.  A refused message is not charged.  When Redis cannot
 * answer, `on_redis_error` decides: the same GCRA in this process
 * (rllocal), accept, or an error the policy turns into a tempfail.  With
 * an empty redis.host there is no Redis at all: the local table decides.
 *
 * Keys (versioned, one hash tag so both tiers of a call live in one Redis
 * Cluster slot):
 *     one tier:   PREFIX "rl:v1:{" NET1 "}"          hopmilter:rl:v1:{192.0.2.7/32}
 *     two tiers:  PREFIX "rl:v1:{" NET2 "}"          hopmilter:rl:v1:{192.0.2.0/24}
 *                 PREFIX "rl:v1:{" NET2 "}" NET1     hopmilter:rl:v1:{192.0.2.0/24}192.0.2.7/32
 *
 * Lifetime: created by policy_new() from the policy's configuration, which
 * must outlive it.  A reload builds a new policy and so a new ratelimit
 * (new Redis connections, an empty local table); the shared state lives in
 * Redis and carries over.  ratelimit_check() is thread-safe.
 */
#ifndef HOP_RATELIMIT_H
#define HOP_RATELIMIT_H

#include <stddef.h>

#include "conf.h"
#include "netaddr.h"

/* Longest key: a 64-byte prefix, "rl:v1:{}" and two IPv6 CIDRs. */
#define RATELIMIT_KEY_MAX 192

struct ratelimit;

enum ratelimit_result {
	RATELIMIT_ALLOWED,
	RATELIMIT_LIMITED,   /* over the limit: try again after retry_after_ms */
	RATELIMIT_ERROR,     /* Redis unavailable and on_redis_error = tempfail */
};

enum ratelimit_source {
	RATELIMIT_SOURCE_REDIS,
	RATELIMIT_SOURCE_LOCAL,
	RATELIMIT_SOURCE_NONE,   /* Redis unavailable, decided by on_redis_error alone */
};

/* What a decision was about, for log lines. */
struct ratelimit_info {
	long retry_after_ms;        /* LIMITED only */
	int tier;                   /* LIMITED only: 1 client network, 2 subnet */
	enum ratelimit_source source;
	char net[NET_ADDR_STRLEN + 4];  /* the network of the tier concerned, CIDR form */
};

/* 0, or -1 with `err`.  `c` is borrowed (see above). */
int ratelimit_new(const struct conf_ratelimit *c, struct ratelimit **out, char *err,
    size_t errsz);
/* Start background work (Redis connections); call after the daemon forked. */
void ratelimit_start(struct ratelimit *rl);
void ratelimit_free(struct ratelimit *rl);

/* Decide for one message from `client` (family AF_INET or AF_INET6), and charge it if allowed. */
enum ratelimit_result ratelimit_check(struct ratelimit *rl, const struct net_addr *client,
    struct ratelimit_info *info);

const char *ratelimit_source_name(enum ratelimit_source s);

/*
 * The Redis keys for `client`: keys[0] is tier 1, keys[1] tier 2 when the
 * subnet tier is enabled.  Returns the number of keys (1 or 2), or -1 if
 * one does not fit.  Exposed for the unit tests.
 */
int ratelimit_format_keys(const struct conf_ratelimit *c, const struct net_addr *client,
    char keys[2][RATELIMIT_KEY_MAX]);

#endif
