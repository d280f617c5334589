/*
 * ratelimit - the shared rate limits, as the policy sees it.
 *
 * Inbound, per client network: the client's network (IPv4 /32 and IPv6
 * /64 by default; v4-mapped addresses arrive unwrapped), optionally its
 * subnet (the second tier), and optionally a recipient budget of that
 * same client network, charged one unit per accepted recipient.
 * Outbound, for trusted clients: one bucket per SASL login, or per
 * envelope sender when there is none.  Every bucket of one decision is
 * checked and charged together by one call of the GCRA script in Redis
 * (rlredis), so every edge node sharing that Redis shares one exact limit,
 * and a decision is one round trip however many limits are on.  A refused
 * request is not charged.  When Redis cannot answer, `on_redis_error`
 * decides: the same GCRA in this process (rllocal), accept, or an error
 * the policy turns into a tempfail.  With an empty redis.host there is no
 * Redis at all: the local table decides.
 *
 * Keys (versioned, one hash tag per decision so every key of a call lives
 * in one Redis Cluster slot):
 *     one tier:   PREFIX "rl:v1:{" NET1 "}"          hopmilter:rl:v1:{192.0.2.7/32}
 *     two tiers:  PREFIX "rl:v1:{" NET2 "}"          hopmilter:rl:v1:{192.0.2.0/24}
 *                 PREFIX "rl:v1:{" NET2 "}" NET1     hopmilter:rl:v1:{192.0.2.0/24}192.0.2.7/32
 *     recipients: the tier-1 key and ":rcpt"         hopmilter:rl:v1:{192.0.2.7/32}:rcpt
 *     outbound:   PREFIX "rl:v1:{out:sasl:" LOGIN "}"     hopmilter:rl:v1:{out:sasl:alice}
 *                 PREFIX "rl:v1:{out:from:" SENDER "}"    hopmilter:rl:v1:{out:from:a@example.org}
 * LOGIN and SENDER are lower-cased, and every byte outside '!'..'~' and
 * '%', '{', '}' is written %XX, so a key is one printable word whose hash
 * tag is the whole name.  A call with costs is the v1 script's call with
 * optional arguments (redis/gcra.lua): the keys' meaning did not change.
 *
 * Lifetime: created by policy_new() from the policy's configuration, which
 * must outlive it.  A reload builds a new policy and so a new ratelimit
 * (new Redis connections, an empty local table); the shared state lives in
 * Redis and carries over.  The check functions are thread-safe.
 */
#ifndef HOP_RATELIMIT_H
#define HOP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "netaddr.h"

/* Longest key: a 64-byte prefix, "rl:v1:{}", two IPv6 CIDRs and ":rcpt". */
#define RATELIMIT_KEY_MAX 192
/* Longest outbound name (login or sender) kept in a key, before escaping. */
#define RATELIMIT_WHO_MAX 320
/* Longest outbound key: prefix, "rl:v1:{out:sasl:}" and the name, escaped. */
#define RATELIMIT_OUT_KEY_MAX (96 + 3 * RATELIMIT_WHO_MAX)

/* Which bucket refused: info.tier. */
enum ratelimit_tier {
	RATELIMIT_TIER_CLIENT = 1,
	RATELIMIT_TIER_SUBNET = 2,
	RATELIMIT_TIER_RECIPIENTS = 3,
	RATELIMIT_TIER_OUTBOUND = 4,
};

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
	int tier;                   /* LIMITED only: enum ratelimit_tier */
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

/*
 * The same at the end of the envelope, with the recipient budget: the
 * message and its `nrcpt` accepted recipients, in one call.  `nrcpt` is
 * charged as at most the budget's burst, so a message within Postfix's
 * recipient limit can always pass once the bucket is full again.
 */
enum ratelimit_result ratelimit_check_envelope(struct ratelimit *rl,
    const struct net_addr *client, unsigned nrcpt, struct ratelimit_info *info);

/*
 * One outbound message of a trusted client: `sasl` is the SASL login (NULL
 * or "" when none), else `sender` the envelope sender ("" for <>).
 */
enum ratelimit_result ratelimit_check_outbound(struct ratelimit *rl, const char *sasl,
    const char *sender, struct ratelimit_info *info);

/* Does this configuration charge recipients (then the decision waits for DATA)? */
bool ratelimit_wants_recipients(const struct ratelimit *rl);

const char *ratelimit_source_name(enum ratelimit_source s);

/*
 * Redis as this limiter sees it: "up", "down" (breaker open), "starting"
 * or "none" (no Redis configured); `server` gets host:port of the last
 * good handshake ("" if none).
 */
const char *ratelimit_redis_state(struct ratelimit *rl, char *server, size_t serversz);

/*
 * For the control socket (hopmilter-ctl(8)).  Nothing here charges anyone.
 *
 * ratelimit_peek(): what ratelimit_check() would answer now, from one
 * read-only round trip to Redis (or a look at the local table when Redis
 * cannot answer and on_redis_error = local).  ratelimit_peek_envelope()
 * and ratelimit_peek_outbound(): the same for ratelimit_check_envelope()
 * (the message tiers and `nrcpt` recipients of the budget, nrcpt capped
 * at its burst as there) and for ratelimit_check_outbound().
 *
 * ratelimit_show(): every bucket of a client address -- its network, its
 * subnet (when on), its recipient budget (when on) -- as Redis and as the
 * local table see it.  ratelimit_reset(): empty all of them, in Redis and
 * in the local table.  ratelimit_show_outbound()/ratelimit_reset_outbound():
 * the same for the one outbound bucket of a SASL login (`sasl`), or of an
 * envelope sender (`sender`, the bucket name policy_outbound_name() gives)
 * when `sasl` is NULL: the key is built by the very function the mail
 * path uses, so what is shown or reset is what a message is charged to.
 * With the outbound limit off there is no such bucket: ntiers = 0.
 */
#define RATELIMIT_SHOW_MAX 3
struct ratelimit_tier_state {
	int tier;                        /* enum ratelimit_tier */
	char net[NET_ADDR_STRLEN + 4];   /* the bucket's network, CIDR form ("" for outbound) */
	char key[RATELIMIT_OUT_KEY_MAX]; /* its Redis key ("" when Redis did not answer) */
	long burst;                      /* configured */
	long remaining;                  /* units (messages, recipients) allowed back to back now */
	long retry_after_ms;             /* until the next one is allowed; 0 if remaining > 0 */
};

struct ratelimit_state {
	int ntiers;                      /* buckets filled in below (0 to RATELIMIT_SHOW_MAX) */
	const char *redis;               /* "ok", "unavailable", or "none" (not configured) */
	struct ratelimit_tier_state in_redis[RATELIMIT_SHOW_MAX];
	bool has_local;                  /* a local table exists (on_redis_error = local, or no Redis) */
	struct ratelimit_tier_state in_local[RATELIMIT_SHOW_MAX];
	/* Who decides a message now: "redis", "local", or on_redis_error's "accept"/"tempfail". */
	const char *backend;
};

enum ratelimit_result ratelimit_peek(struct ratelimit *rl, const struct net_addr *client,
    struct ratelimit_info *info);
enum ratelimit_result ratelimit_peek_envelope(struct ratelimit *rl,
    const struct net_addr *client, unsigned nrcpt, struct ratelimit_info *info);
enum ratelimit_result ratelimit_peek_outbound(struct ratelimit *rl, const char *sasl,
    const char *sender, struct ratelimit_info *info);
void ratelimit_show(struct ratelimit *rl, const struct net_addr *client,
    struct ratelimit_state *st);
void ratelimit_show_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    struct ratelimit_state *st);
/*
 * `redis_deleted`: keys deleted in Redis, -1 when it could not be asked, -2
 * with no Redis (or, outbound, no bucket: the limit is off).
 */
void ratelimit_reset(struct ratelimit *rl, const struct net_addr *client, int *redis_deleted,
    int *local_cleared);
void ratelimit_reset_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    int *redis_deleted, int *local_cleared);
/* Is the outbound limit on (else show/reset of a login or sender has no bucket)? */
bool ratelimit_has_outbound(const struct ratelimit *rl);

/*
 * The Redis keys for `client`: keys[0] is tier 1, keys[1] tier 2 when the
 * subnet tier is enabled.  Returns the number of keys (1 or 2), or -1 if
 * one does not fit.  Exposed for the unit tests.
 */
int ratelimit_format_keys(const struct conf_ratelimit *c, const struct net_addr *client,
    char keys[2][RATELIMIT_KEY_MAX]);
/* The outbound key (see above) into `key`; 0, or -1 if it does not fit. */
int ratelimit_format_outbound_key(const struct conf_ratelimit *c, const char *sasl,
    const char *sender, char key[RATELIMIT_OUT_KEY_MAX]);

#endif
