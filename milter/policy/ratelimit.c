/*
 * ratelimit - keys, GCRA parameters, and the choice between the shared
 * limit in Redis and the local fallback.  See ratelimit.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monotime.h"
#include "ratelimit.h"
#include "rllocal.h"
#include "rlredis.h"
#include "rlscript.h"

/* Bump with any change of key layout or script semantics (see redis/gcra.lua). */
#define RATELIMIT_KEY_VERSION "v1"

struct ratelimit {
	const struct conf_ratelimit *c;
	struct rlredis *redis;      /* NULL: no Redis configured */
	struct rllocal *local;      /* NULL unless it may be needed */
	long long interval_us[2], tau_us[2];
};

const char *
ratelimit_source_name(enum ratelimit_source s)
{
	switch (s) {
	case RATELIMIT_SOURCE_REDIS: return "redis";
	case RATELIMIT_SOURCE_LOCAL: return "local";
	case RATELIMIT_SOURCE_NONE: return "none";
	}
	return "?";
}

const char *
ratelimit_redis_state(struct ratelimit *rl, char *server, size_t serversz)
{
	if (serversz > 0)
		server[0] = '\0';
	if (rl == NULL || rl->redis == NULL)
		return "none";
	return rlredis_state(rl->redis, server, serversz);
}

static bool
ratelimit_has_redis(const struct conf_ratelimit *c)
{
	return c->redis.host[0] != '\0' || c->redis.sentinel.master[0] != '\0';
}

/* GCRA in whole microseconds: T rounds down, a rate at most 1 ppm above the one configured. */
static void
ratelimit_params(const struct conf_rl_tier *t, long long *interval_us, long long *tau_us)
{
	*interval_us = (long long)t->period_ms * 1000 / t->rate;
	*tau_us = *interval_us * (t->burst - 1);
}

int
ratelimit_new(const struct conf_ratelimit *c, struct ratelimit **out, char *err, size_t errsz)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	*out = NULL;
	if (rl == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	rl->c = c;
	ratelimit_params(&c->client, &rl->interval_us[0], &rl->tau_us[0]);
	ratelimit_params(&c->subnet, &rl->interval_us[1], &rl->tau_us[1]);
	if (ratelimit_has_redis(c) &&
	    rlredis_new(&c->redis, rlscript_gcra, rlscript_gcra_len, &rl->redis, err, errsz) != 0) {
		free(rl);
		return -1;
	}
	if ((!ratelimit_has_redis(c) || c->on_redis_error == CONF_REDIS_ERROR_LOCAL) &&
	    (rl->local = rllocal_new((size_t)c->local_max_entries)) == NULL) {
		snprintf(err, errsz, "out of memory for the local rate-limit table");
		ratelimit_free(rl);
		return -1;
	}
	*out = rl;
	return 0;
}

void
ratelimit_start(struct ratelimit *rl)
{
	if (rl != NULL)
		rlredis_start(rl->redis);
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	rlredis_free(rl->redis);
	rllocal_free(rl->local);
	free(rl);
}

static unsigned
ratelimit_prefix_for(const struct conf_rl_tier *t, const struct net_addr *a)
{
	return a->family == AF_INET ? t->ipv4_prefix : t->ipv6_prefix;
}

/* `a` masked to the tier's prefix, as "net/len". */
static void
ratelimit_net(const struct conf_rl_tier *t, const struct net_addr *a, struct net_cidr *out,
    char *buf, size_t bufsz)
{
	out->addr = *a;
	out->prefix = ratelimit_prefix_for(t, a);
	net_addr_mask(&out->addr, out->prefix);
	net_cidr_format(out, buf, bufsz);
}

int
ratelimit_format_keys(const struct conf_ratelimit *c, const struct net_addr *client,
    char keys[2][RATELIMIT_KEY_MAX])
{
	char n1[NET_ADDR_STRLEN + 4], n2[NET_ADDR_STRLEN + 4];
	struct net_cidr net;
	int len;

	ratelimit_net(&c->client, client, &net, n1, sizeof(n1));
	if (!c->subnet_enabled) {
		len = snprintf(keys[0], RATELIMIT_KEY_MAX, "%srl:" RATELIMIT_KEY_VERSION ":{%s}",
		    c->redis.prefix, n1);
		return len > 0 && len < RATELIMIT_KEY_MAX ? 1 : -1;
	}
	ratelimit_net(&c->subnet, client, &net, n2, sizeof(n2));
	len = snprintf(keys[1], RATELIMIT_KEY_MAX, "%srl:" RATELIMIT_KEY_VERSION ":{%s}",
	    c->redis.prefix, n2);
	if (len <= 0 || len >= RATELIMIT_KEY_MAX)
		return -1;
	len = snprintf(keys[0], RATELIMIT_KEY_MAX, "%srl:" RATELIMIT_KEY_VERSION ":{%s}%s",
	    c->redis.prefix, n2, n1);
	return len > 0 && len < RATELIMIT_KEY_MAX ? 2 : -1;
}

static enum ratelimit_result
ratelimit_local(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_info *info)
{
	const struct conf_rl_tier *tier[2] = {&rl->c->client, &rl->c->subnet};
	struct rllocal_req req[2];
	int n = rl->c->subnet_enabled ? 2 : 1, which = 0;
	int64_t wait_us = 0;
	struct net_cidr net;
	char buf[NET_ADDR_STRLEN + 4];

	info->source = RATELIMIT_SOURCE_LOCAL;
	for (int i = 0; i < n; i++) {
		ratelimit_net(tier[i], client, &net, buf, sizeof(buf));
		req[i] = (struct rllocal_req){.tier = i + 1, .net = net.addr, .prefix = net.prefix,
		    .interval_us = rl->interval_us[i], .tau_us = rl->tau_us[i]};
	}
	if (rllocal_check(rl->local, req, n, monotime_us(), &wait_us, &which))
		return RATELIMIT_ALLOWED;
	info->tier = which;
	info->retry_after_ms = (long)((wait_us + 999) / 1000);
	return RATELIMIT_LIMITED;
}

/* Redis could not decide: on_redis_error. */
static enum ratelimit_result
ratelimit_fallback(struct ratelimit *rl, const struct net_addr *client,
    struct ratelimit_info *info)
{
	switch (rl->c->on_redis_error) {
	case CONF_REDIS_ERROR_LOCAL:
		return ratelimit_local(rl, client, info);
	case CONF_REDIS_ERROR_ACCEPT:
		return RATELIMIT_ALLOWED;
	case CONF_REDIS_ERROR_TEMPFAIL:
		return RATELIMIT_ERROR;
	}
	return RATELIMIT_ERROR;
}

enum ratelimit_result
ratelimit_check(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_info *info)
{
	char keys[2][RATELIMIT_KEY_MAX];
	const char *kp[2] = {keys[0], keys[1]};
	struct net_cidr net;
	enum ratelimit_result res;
	int n;

	memset(info, 0, sizeof(*info));
	info->source = RATELIMIT_SOURCE_NONE;
	if (rl->redis == NULL) {
		res = ratelimit_local(rl, client, info);
	} else if ((n = ratelimit_format_keys(rl->c, client, keys)) < 0) {
		res = ratelimit_fallback(rl, client, info);
	} else {
		switch (rlredis_gcra(rl->redis, n, kp, rl->interval_us, rl->tau_us,
		    &info->retry_after_ms, &info->tier)) {
		case RLREDIS_ALLOWED:
			info->source = RATELIMIT_SOURCE_REDIS;
			res = RATELIMIT_ALLOWED;
			break;
		case RLREDIS_LIMITED:
			info->source = RATELIMIT_SOURCE_REDIS;
			res = RATELIMIT_LIMITED;
			break;
		default:
			res = ratelimit_fallback(rl, client, info);
			break;
		}
	}
	ratelimit_net(info->tier == 2 ? &rl->c->subnet : &rl->c->client, client, &net, info->net,
	    sizeof(info->net));
	return res;
}

/* ------------------------------------------------------- control socket */

/* One tier's view from its TAT: how many messages fit now, or how long until one does. */
static void
ratelimit_tier_view(const struct conf_rl_tier *t, long long interval_us, long long tau_us,
    long long now_us, long long tat_us, struct ratelimit_tier_state *out)
{
	long long ahead = (tat_us > now_us ? tat_us : now_us) - now_us;

	out->burst = t->burst;
	if (ahead <= tau_us) {
		out->remaining = (long)((tau_us - ahead) / interval_us + 1);
		out->retry_after_ms = 0;
	} else {
		out->remaining = 0;
		out->retry_after_ms = (long)((ahead - tau_us + 999) / 1000);
	}
}

/* The requests of both tiers for the local table, and their networks. */
static int
ratelimit_local_reqs(struct ratelimit *rl, const struct net_addr *client,
    struct rllocal_req req[2], struct ratelimit_tier_state st[2])
{
	const struct conf_rl_tier *tier[2] = {&rl->c->client, &rl->c->subnet};
	int n = rl->c->subnet_enabled ? 2 : 1;
	struct net_cidr net;

	for (int i = 0; i < n; i++) {
		ratelimit_net(tier[i], client, &net, st[i].net, sizeof(st[i].net));
		req[i] = (struct rllocal_req){.tier = i + 1, .net = net.addr, .prefix = net.prefix,
		    .interval_us = rl->interval_us[i], .tau_us = rl->tau_us[i]};
	}
	return n;
}

/* The decision the tiers' views imply: the same rule as the script and rllocal_check(). */
static enum ratelimit_result
ratelimit_verdict(const struct ratelimit_tier_state *st, int n, struct ratelimit_info *info)
{
	for (int i = 0; i < n; i++) {
		if (st[i].remaining == 0 && st[i].retry_after_ms >= info->retry_after_ms) {
			info->retry_after_ms = st[i].retry_after_ms;
			info->tier = i + 1;
		}
	}
	return info->tier != 0 ? RATELIMIT_LIMITED : RATELIMIT_ALLOWED;
}

void
ratelimit_show(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_state *st)
{
	const struct conf_rl_tier *tier[2] = {&rl->c->client, &rl->c->subnet};
	char keys[2][RATELIMIT_KEY_MAX];
	const char *kp[2] = {keys[0], keys[1]};
	struct rllocal_req req[2];
	long long now, tat[2];
	int n;

	memset(st, 0, sizeof(*st));
	n = ratelimit_local_reqs(rl, client, req, st->in_redis);
	st->ntiers = n;
	memcpy(st->in_local, st->in_redis, sizeof(st->in_local));
	st->redis = "none";
	if (rl->redis != NULL) {
		st->redis = "unavailable";
		if (ratelimit_format_keys(rl->c, client, keys) == n &&
		    rlredis_peek(rl->redis, n, kp, &now, tat) == 0) {
			st->redis = "ok";
			for (int i = 0; i < n; i++) {
				memcpy(st->in_redis[i].key, keys[i], sizeof(st->in_redis[i].key));
				ratelimit_tier_view(tier[i], rl->interval_us[i], rl->tau_us[i], now, tat[i],
				    &st->in_redis[i]);
			}
		}
	}
	st->has_local = rl->local != NULL;
	if (st->has_local) {
		now = monotime_us();
		for (int i = 0; i < n; i++)
			ratelimit_tier_view(tier[i], rl->interval_us[i], rl->tau_us[i], now,
			    rllocal_peek(rl->local, &req[i], now), &st->in_local[i]);
	}
}

enum ratelimit_result
ratelimit_peek(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_info *info)
{
	struct ratelimit_state st;
	struct net_cidr net;
	enum ratelimit_result res;

	memset(info, 0, sizeof(*info));
	ratelimit_show(rl, client, &st);
	if (strcmp(st.redis, "ok") == 0) {
		info->source = RATELIMIT_SOURCE_REDIS;
		res = ratelimit_verdict(st.in_redis, st.ntiers, info);
	} else if (rl->redis == NULL || rl->c->on_redis_error == CONF_REDIS_ERROR_LOCAL) {
		info->source = RATELIMIT_SOURCE_LOCAL;
		res = ratelimit_verdict(st.in_local, st.ntiers, info);
	} else {
		info->source = RATELIMIT_SOURCE_NONE;
		res = rl->c->on_redis_error == CONF_REDIS_ERROR_ACCEPT ? RATELIMIT_ALLOWED :
		    RATELIMIT_ERROR;
	}
	ratelimit_net(info->tier == 2 ? &rl->c->subnet : &rl->c->client, client, &net, info->net,
	    sizeof(info->net));
	return res;
}

void
ratelimit_reset(struct ratelimit *rl, const struct net_addr *client, int *redis_deleted,
    int *local_cleared)
{
	char keys[2][RATELIMIT_KEY_MAX];
	const char *kp[2] = {keys[0], keys[1]};
	struct ratelimit_tier_state st[2];
	struct rllocal_req req[2];
	int n = ratelimit_local_reqs(rl, client, req, st);
	int64_t now = monotime_us();

	*redis_deleted = -2;
	if (rl->redis != NULL)
		*redis_deleted = ratelimit_format_keys(rl->c, client, keys) == n ?
		    rlredis_del(rl->redis, n, kp) : -1;
	*local_cleared = 0;
	for (int i = 0; rl->local != NULL && i < n; i++)
		*local_cleared += rllocal_forget(rl->local, &req[i], now);
}
