/*
 * ratelimit - keys, GCRA parameters, and the choice between the shared
 * limit in Redis and the local fallback.  See ratelimit.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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
	long long rcpt_interval_us, rcpt_tau_us;   /* the recipient budget */
	long long out_interval_us, out_tau_us;     /* the outbound limit */
};

/* One bucket of a decision: its key in Redis and in the local table. */
struct ratelimit_bucket {
	const char *key;
	struct rllocal_req local;   /* tier, net/prefix (or digest), T, tau, cost */
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
	ratelimit_params(&c->recipients, &rl->rcpt_interval_us, &rl->rcpt_tau_us);
	ratelimit_params(&c->outbound, &rl->out_interval_us, &rl->out_tau_us);
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

bool
ratelimit_wants_recipients(const struct ratelimit *rl)
{
	return rl != NULL && rl->c->recipients_enabled;
}

/*
 * A login or sender as one key word: lower case (a limit must not be
 * escaped by spelling the name in capitals), bytes outside '!'..'~' and
 * the three that matter to us as %XX.  Names longer than
 * RATELIMIT_WHO_MAX are cut: two such names sharing their first 320
 * bytes share a bucket, which errs towards limiting.
 */
static void
ratelimit_escape_who(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; in[i] != '\0' && i < RATELIMIT_WHO_MAX && o + 4 < outsz; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch <= ' ' || ch >= 0x7f || ch == '%' || ch == '{' || ch == '}')
			o += (size_t)snprintf(out + o, outsz - o, "%%%02X", ch);
		else
			out[o++] = (char)tolower(ch);
	}
	out[o] = '\0';
}

int
ratelimit_format_outbound_key(const struct conf_ratelimit *c, const char *sasl,
    const char *sender, char key[RATELIMIT_OUT_KEY_MAX])
{
	bool by_login = sasl != NULL && sasl[0] != '\0';
	char who[3 * RATELIMIT_WHO_MAX + 1];
	int len;

	ratelimit_escape_who(by_login ? sasl : sender != NULL ? sender : "", who, sizeof(who));
	len = snprintf(key, RATELIMIT_OUT_KEY_MAX, "%srl:" RATELIMIT_KEY_VERSION ":{out:%s:%s}",
	    c->redis.prefix, by_login ? "sasl" : "from", who);
	return len > 0 && len < RATELIMIT_OUT_KEY_MAX ? 0 : -1;
}

/* A name's bucket in the local table: the first 16 bytes of its key's SHA-256. */
static int
ratelimit_digest(const char *key, struct net_addr *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	memset(out, 0, sizeof(*out));
	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
		return -1;
	memcpy(out->bytes, md, 16);
	return 0;
}

static enum ratelimit_result
ratelimit_local(struct ratelimit *rl, const struct ratelimit_bucket *b, int n,
    struct ratelimit_info *info)
{
	struct rllocal_req req[RLLOCAL_MAX_REQS];
	int64_t wait_us = 0;
	int which = 0;

	info->source = RATELIMIT_SOURCE_LOCAL;
	for (int i = 0; i < n; i++)
		req[i] = b[i].local;
	if (rllocal_check(rl->local, req, n, monotime_us(), &wait_us, &which))
		return RATELIMIT_ALLOWED;
	info->tier = which;
	info->retry_after_ms = (long)((wait_us + 999) / 1000);
	return RATELIMIT_LIMITED;
}

/* Redis could not decide: on_redis_error. */
static enum ratelimit_result
ratelimit_fallback(struct ratelimit *rl, const struct ratelimit_bucket *b, int n,
    struct ratelimit_info *info)
{
	switch (rl->c->on_redis_error) {
	case CONF_REDIS_ERROR_LOCAL:
		return ratelimit_local(rl, b, n, info);
	case CONF_REDIS_ERROR_ACCEPT:
		return RATELIMIT_ALLOWED;
	case CONF_REDIS_ERROR_TEMPFAIL:
		return RATELIMIT_ERROR;
	}
	return RATELIMIT_ERROR;
}

/* One decision over `n` buckets: one script call, or the fallback. */
static enum ratelimit_result
ratelimit_decide(struct ratelimit *rl, const struct ratelimit_bucket *b, int n, bool costs,
    struct ratelimit_info *info)
{
	const char *keys[RLREDIS_MAX_KEYS];
	long long interval[RLREDIS_MAX_KEYS], tau[RLREDIS_MAX_KEYS], cost[RLREDIS_MAX_KEYS];
	int pos = 0;

	if (rl->redis == NULL)
		return ratelimit_local(rl, b, n, info);
	for (int i = 0; i < n; i++) {
		if (b[i].key == NULL)   /* a key that did not fit */
			return ratelimit_fallback(rl, b, n, info);
		keys[i] = b[i].key;
		interval[i] = b[i].local.interval_us;
		tau[i] = b[i].local.tau_us;
		cost[i] = b[i].local.cost > 0 ? b[i].local.cost : 1;
	}
	switch (rlredis_gcra(rl->redis, n, keys, interval, tau, costs ? cost : NULL,
	    &info->retry_after_ms, &pos)) {
	case RLREDIS_ALLOWED:
		info->source = RATELIMIT_SOURCE_REDIS;
		return RATELIMIT_ALLOWED;
	case RLREDIS_LIMITED:
		info->source = RATELIMIT_SOURCE_REDIS;
		info->tier = pos >= 1 && pos <= n ? b[pos - 1].local.tier : b[0].local.tier;
		return RATELIMIT_LIMITED;
	default:
		return ratelimit_fallback(rl, b, n, info);
	}
}

/* The client's buckets: tier 1, the subnet, and with `nrcpt` > 0 the recipient budget. */
static enum ratelimit_result
ratelimit_inbound(struct ratelimit *rl, const struct net_addr *client, unsigned nrcpt,
    struct ratelimit_info *info)
{
	const struct conf_rl_tier *tier[2] = {&rl->c->client, &rl->c->subnet};
	char keys[2][RATELIMIT_KEY_MAX], rkey[RATELIMIT_KEY_MAX + 8];
	struct ratelimit_bucket b[3];
	int nk, n = rl->c->subnet_enabled ? 2 : 1;
	struct net_cidr net;
	enum ratelimit_result res;
	char buf[NET_ADDR_STRLEN + 4];

	memset(info, 0, sizeof(*info));
	info->source = RATELIMIT_SOURCE_NONE;
	nk = ratelimit_format_keys(rl->c, client, keys);
	for (int i = 0; i < n; i++) {
		ratelimit_net(tier[i], client, &net, buf, sizeof(buf));
		b[i] = (struct ratelimit_bucket){.key = nk == n ? keys[i] : NULL,
		    .local = {.tier = i + 1, .net = net.addr, .prefix = net.prefix,
		    .interval_us = rl->interval_us[i], .tau_us = rl->tau_us[i], .cost = 1}};
	}
	if (nrcpt > 0 && rl->c->recipients_enabled) {
		long long cost = nrcpt < (unsigned long)rl->c->recipients.burst ?
		    (long long)nrcpt : rl->c->recipients.burst;
		int len = snprintf(rkey, sizeof(rkey), "%s:rcpt", keys[0]);

		b[n] = b[0];
		b[n].key = nk == n && len > 0 && (size_t)len < sizeof(rkey) ? rkey : NULL;
		b[n].local.tier = RATELIMIT_TIER_RECIPIENTS;
		b[n].local.interval_us = rl->rcpt_interval_us;
		b[n].local.tau_us = rl->rcpt_tau_us;
		b[n].local.cost = cost;
		n++;
		res = ratelimit_decide(rl, b, n, true, info);
	} else {
		res = ratelimit_decide(rl, b, n, false, info);
	}
	ratelimit_net(info->tier == RATELIMIT_TIER_SUBNET ? &rl->c->subnet : &rl->c->client,
	    client, &net, info->net, sizeof(info->net));
	return res;
}

enum ratelimit_result
ratelimit_check(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_info *info)
{
	return ratelimit_inbound(rl, client, 0, info);
}

enum ratelimit_result
ratelimit_check_envelope(struct ratelimit *rl, const struct net_addr *client, unsigned nrcpt,
    struct ratelimit_info *info)
{
	return ratelimit_inbound(rl, client, nrcpt, info);
}

enum ratelimit_result
ratelimit_check_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    struct ratelimit_info *info)
{
	char key[RATELIMIT_OUT_KEY_MAX];
	struct ratelimit_bucket b = {.key = key, .local = {.tier = RATELIMIT_TIER_OUTBOUND,
	    .prefix = 128, .interval_us = rl->out_interval_us, .tau_us = rl->out_tau_us,
	    .cost = 1}};

	memset(info, 0, sizeof(*info));
	info->source = RATELIMIT_SOURCE_NONE;
	/* Neither can fail short of a broken libcrypto: then no limit can be told apart. */
	if (ratelimit_format_outbound_key(rl->c, sasl, sender, key) != 0 ||
	    ratelimit_digest(key, &b.local.net) != 0)
		return RATELIMIT_ERROR;
	return ratelimit_decide(rl, &b, 1, false, info);
}

/* ------------------------------------------------------- control socket */

bool
ratelimit_has_outbound(const struct ratelimit *rl)
{
	return rl != NULL && rl->c->outbound_enabled;
}

/*
 * One bucket's view from its TAT, for a request of `cost` units: how many
 * units fit now, and how long until this request would (the script's rule:
 * allowed when TAT + (cost - 1) * T - now <= tau).
 */
static void
ratelimit_tier_view(long long interval_us, long long tau_us, long long now_us,
    long long tat_us, long long cost, struct ratelimit_tier_state *out)
{
	long long ahead = (tat_us > now_us ? tat_us : now_us) - now_us;
	long long over = ahead + (cost - 1) * interval_us - tau_us;

	out->remaining = ahead <= tau_us ? (long)((tau_us - ahead) / interval_us + 1) : 0;
	out->retry_after_ms = over > 0 ? (long)((over + 999) / 1000) : 0;
}

/*
 * The buckets of one control command, built as the decisions build them:
 * the local requests, and per bucket its tier, network, Redis key and burst.
 */
struct ratelimit_ctl {
	int n;
	bool keys_ok;                                  /* every key fit: Redis may be asked */
	struct rllocal_req req[RATELIMIT_SHOW_MAX];
	struct ratelimit_tier_state st[RATELIMIT_SHOW_MAX];
};

/* A client's buckets: tier 1, the subnet when on, the recipient budget when on. */
static void
ratelimit_client_ctl(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_ctl *x)
{
	const struct conf_rl_tier *tier[2] = {&rl->c->client, &rl->c->subnet};
	char keys[2][RATELIMIT_KEY_MAX];
	int n = rl->c->subnet_enabled ? 2 : 1;
	struct net_cidr net;

	memset(x, 0, sizeof(*x));
	x->keys_ok = ratelimit_format_keys(rl->c, client, keys) == n;
	for (int i = 0; i < n; i++) {
		x->st[i].tier = i + 1;
		x->st[i].burst = tier[i]->burst;
		ratelimit_net(tier[i], client, &net, x->st[i].net, sizeof(x->st[i].net));
		if (x->keys_ok)
			snprintf(x->st[i].key, sizeof(x->st[i].key), "%s", keys[i]);
		x->req[i] = (struct rllocal_req){.tier = i + 1, .net = net.addr, .prefix = net.prefix,
		    .interval_us = rl->interval_us[i], .tau_us = rl->tau_us[i], .cost = 1};
	}
	/* The budget has the client's network and the tier-1 key with ":rcpt" (ratelimit.h). */
	if (rl->c->recipients_enabled) {
		x->st[n] = x->st[0];
		x->st[n].tier = RATELIMIT_TIER_RECIPIENTS;
		x->st[n].burst = rl->c->recipients.burst;
		if (x->keys_ok && (size_t)snprintf(x->st[n].key, sizeof(x->st[n].key), "%s:rcpt",
		    keys[0]) >= RATELIMIT_KEY_MAX + 8)
			x->keys_ok = false;
		x->req[n] = x->req[0];
		x->req[n].tier = RATELIMIT_TIER_RECIPIENTS;
		x->req[n].interval_us = rl->rcpt_interval_us;
		x->req[n].tau_us = rl->rcpt_tau_us;
		n++;
	}
	x->n = n;
}

/* The outbound bucket of a login or sender: the key and digest of ratelimit_check_outbound(). */
static void
ratelimit_outbound_ctl(struct ratelimit *rl, const char *sasl, const char *sender,
    struct ratelimit_ctl *x)
{
	memset(x, 0, sizeof(*x));
	if (!rl->c->outbound_enabled)
		return;
	x->st[0].tier = RATELIMIT_TIER_OUTBOUND;
	x->st[0].burst = rl->c->outbound.burst;
	x->req[0] = (struct rllocal_req){.tier = RATELIMIT_TIER_OUTBOUND, .prefix = 128,
	    .interval_us = rl->out_interval_us, .tau_us = rl->out_tau_us, .cost = 1};
	/* Without a key or a digest there is no bucket to name: nothing shown, nothing reset. */
	if (ratelimit_format_outbound_key(rl->c, sasl, sender, x->st[0].key) != 0 ||
	    ratelimit_digest(x->st[0].key, &x->req[0].net) != 0)
		return;
	x->keys_ok = true;
	x->n = 1;
}

/*
 * Every bucket of `x` as Redis (one read-only round trip) and as the local
 * table see it, for a request costing req[i].cost units in each.
 */
static void
ratelimit_ctl_views(struct ratelimit *rl, const struct ratelimit_ctl *x,
    struct ratelimit_state *st)
{
	const char *kp[RATELIMIT_SHOW_MAX];
	long long now, tat[RATELIMIT_SHOW_MAX];

	memset(st, 0, sizeof(*st));
	st->ntiers = x->n;
	memcpy(st->in_redis, x->st, sizeof(st->in_redis));
	memcpy(st->in_local, x->st, sizeof(st->in_local));
	/* The local table keys a network by itself, a name by its key's digest: show that key. */
	for (int i = 0; i < x->n; i++)
		if (st->in_local[i].net[0] != '\0')
			st->in_local[i].key[0] = '\0';
	st->redis = "none";
	if (rl->redis != NULL) {
		st->redis = "unavailable";
		for (int i = 0; i < x->n; i++)
			kp[i] = x->st[i].key;
		if (x->n > 0 && x->keys_ok && rlredis_peek(rl->redis, x->n, kp, &now, tat) == 0) {
			st->redis = "ok";
			for (int i = 0; i < x->n; i++)
				ratelimit_tier_view(x->req[i].interval_us, x->req[i].tau_us, now, tat[i],
				    x->req[i].cost, &st->in_redis[i]);
		}
	}
	st->has_local = rl->local != NULL;
	if (st->has_local) {
		now = monotime_us();
		for (int i = 0; i < x->n; i++)
			ratelimit_tier_view(x->req[i].interval_us, x->req[i].tau_us, now,
			    rllocal_peek(rl->local, &x->req[i], now), x->req[i].cost, &st->in_local[i]);
	}
	if (strcmp(st->redis, "ok") == 0)
		st->backend = "redis";
	else if (rl->redis == NULL || rl->c->on_redis_error == CONF_REDIS_ERROR_LOCAL)
		st->backend = "local";
	else
		st->backend = rl->c->on_redis_error == CONF_REDIS_ERROR_ACCEPT ? "accept" : "tempfail";
}

/* The decision the views imply, by the script's rule: the bucket that waits longest refuses. */
static enum ratelimit_result
ratelimit_ctl_peek(struct ratelimit *rl, const struct ratelimit_ctl *x, struct ratelimit_info *info)
{
	struct ratelimit_state st;
	const struct ratelimit_tier_state *v;

	memset(info, 0, sizeof(*info));
	ratelimit_ctl_views(rl, x, &st);
	if (strcmp(st.backend, "redis") == 0) {
		info->source = RATELIMIT_SOURCE_REDIS;
		v = st.in_redis;
	} else if (strcmp(st.backend, "local") == 0) {
		info->source = RATELIMIT_SOURCE_LOCAL;
		v = st.in_local;
	} else {
		info->source = RATELIMIT_SOURCE_NONE;
		return strcmp(st.backend, "accept") == 0 ? RATELIMIT_ALLOWED : RATELIMIT_ERROR;
	}
	for (int i = 0; i < st.ntiers; i++) {
		if (v[i].retry_after_ms > info->retry_after_ms) {
			info->retry_after_ms = v[i].retry_after_ms;
			info->tier = v[i].tier;
		}
	}
	return info->tier != 0 ? RATELIMIT_LIMITED : RATELIMIT_ALLOWED;
}

void
ratelimit_show(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_state *st)
{
	struct ratelimit_ctl x;

	ratelimit_client_ctl(rl, client, &x);
	ratelimit_ctl_views(rl, &x, st);
}

void
ratelimit_show_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    struct ratelimit_state *st)
{
	struct ratelimit_ctl x;

	ratelimit_outbound_ctl(rl, sasl, sender, &x);
	ratelimit_ctl_views(rl, &x, st);
}

/* The client's message tiers, and with `nrcpt` > 0 the recipient budget at that cost. */
static enum ratelimit_result
ratelimit_peek_client(struct ratelimit *rl, const struct net_addr *client, unsigned nrcpt,
    struct ratelimit_info *info)
{
	struct ratelimit_ctl x;
	struct net_cidr net;
	enum ratelimit_result res;

	ratelimit_client_ctl(rl, client, &x);
	if (rl->c->recipients_enabled) {
		if (nrcpt == 0)
			x.n--;   /* ratelimit_check(): the message tiers alone */
		else
			x.req[x.n - 1].cost = nrcpt < (unsigned long)rl->c->recipients.burst ?
			    (long long)nrcpt : rl->c->recipients.burst;
	}
	res = ratelimit_ctl_peek(rl, &x, info);
	ratelimit_net(info->tier == RATELIMIT_TIER_SUBNET ? &rl->c->subnet : &rl->c->client,
	    client, &net, info->net, sizeof(info->net));
	return res;
}

enum ratelimit_result
ratelimit_peek(struct ratelimit *rl, const struct net_addr *client, struct ratelimit_info *info)
{
	return ratelimit_peek_client(rl, client, 0, info);
}

enum ratelimit_result
ratelimit_peek_envelope(struct ratelimit *rl, const struct net_addr *client, unsigned nrcpt,
    struct ratelimit_info *info)
{
	return ratelimit_peek_client(rl, client, nrcpt, info);
}

enum ratelimit_result
ratelimit_peek_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    struct ratelimit_info *info)
{
	struct ratelimit_ctl x;

	ratelimit_outbound_ctl(rl, sasl, sender, &x);
	if (x.n == 0) {
		memset(info, 0, sizeof(*info));
		info->source = RATELIMIT_SOURCE_NONE;
		/* Off: no limit.  A key that cannot be built: what the check answers. */
		return rl->c->outbound_enabled ? RATELIMIT_ERROR : RATELIMIT_ALLOWED;
	}
	return ratelimit_ctl_peek(rl, &x, info);
}

/* Delete every bucket of `x` in Redis and forget it in the local table. */
static void
ratelimit_ctl_reset(struct ratelimit *rl, const struct ratelimit_ctl *x, int *redis_deleted,
    int *local_cleared)
{
	const char *kp[RATELIMIT_SHOW_MAX];
	int64_t now = monotime_us();

	*redis_deleted = -2;
	*local_cleared = 0;
	if (x->n == 0)
		return;
	if (rl->redis != NULL) {
		*redis_deleted = -1;
		for (int i = 0; i < x->n; i++)
			kp[i] = x->st[i].key;
		if (x->keys_ok)
			*redis_deleted = rlredis_del(rl->redis, x->n, kp);
	}
	for (int i = 0; rl->local != NULL && i < x->n; i++)
		*local_cleared += rllocal_forget(rl->local, &x->req[i], now);
}

void
ratelimit_reset(struct ratelimit *rl, const struct net_addr *client, int *redis_deleted,
    int *local_cleared)
{
	struct ratelimit_ctl x;

	ratelimit_client_ctl(rl, client, &x);
	ratelimit_ctl_reset(rl, &x, redis_deleted, local_cleared);
}

void
ratelimit_reset_outbound(struct ratelimit *rl, const char *sasl, const char *sender,
    int *redis_deleted, int *local_cleared)
{
	struct ratelimit_ctl x;

	ratelimit_outbound_ctl(rl, sasl, sender, &x);
	ratelimit_ctl_reset(rl, &x, redis_deleted, local_cleared);
}
