/*
 * rlbreaker - the Redis circuit breaker's state, backoff and log lines.
 * See rlbreaker.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rlbreaker.h"
#include "stats.h"

void
rlbreaker_init(struct rlbreaker *b, long retry_interval_ms, const char *server,
    const char *master, const char *sha)
{
	b->state = RLBREAKER_STARTING;
	b->backoff_ms = RLBREAKER_BACKOFF_MIN_MS;
	b->retry_ms = retry_interval_ms < RLBREAKER_BACKOFF_MIN_MS ? RLBREAKER_BACKOFF_MIN_MS :
	    retry_interval_ms;
	snprintf(b->server, sizeof(b->server), "%s", server);
	b->master = master;
	b->sha = sha;
}

void
rlbreaker_trip(struct rlbreaker *b, const char *why)
{
	if (b->state != RLBREAKER_DOWN) {
		log_warning("ratelimit: redis=down server=%s error=\"%s\"", b->server, why);
		stats_redis_state(false);
	}
	b->state = RLBREAKER_DOWN;
}

void
rlbreaker_close(struct rlbreaker *b, const char *server)
{
	if (b->state != RLBREAKER_UP)
		stats_redis_state(true);
	if (b->state != RLBREAKER_UP || strcmp(b->server, server) != 0)
		log_notice("ratelimit: redis=up server=%s%s%s script=%s", server,
		    b->master[0] ? " master=" : "", b->master, b->sha);
	snprintf(b->server, sizeof(b->server), "%s", server);
	b->state = RLBREAKER_UP;
	b->backoff_ms = RLBREAKER_BACKOFF_MIN_MS;
}

long
rlbreaker_backoff(struct rlbreaker *b)
{
	long wait = b->backoff_ms;

	b->backoff_ms = wait * 2 > b->retry_ms ? b->retry_ms : wait * 2;
	return wait;
}
