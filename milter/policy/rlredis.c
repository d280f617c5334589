/*
 * rlredis - the rate limit's use of Redis, as the rest of the tree sees it:
 * the settings copied from the configuration, the script's SHA1, and one
 * decision (EVALSHA, EVAL when Redis answers NOSCRIPT) within its deadline,
 * with what the reply means.  The pool, the handshake, Sentinel and the
 * breaker are rlpool, rlconn, rlsentinel and rlbreaker.  See rlredis.h.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "log.h"
#include "monotime.h"
#include "rlconn.h"
#include "rlpool.h"
#include "rlredis.h"
#include "rlsentinel.h"
#include "rlwire.h"
#include "stats.h"

#define RLREDIS_WARN_EVERY_MS 10000

struct rlredis {
	struct rlconn_cfg conn;        /* the server and the handshake */
	struct rlsentinel sentinel;    /* master "" : no Sentinel */
	struct rlpool *pool;
	atomic_llong last_warn_ms;
};

/* ---------------------------------------------------------------- set-up */

static void
rlredis_sha1_hex(const unsigned char *buf, size_t len, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return;
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int
rlredis_copy_settings(struct rlredis *r, const struct conf_redis *c)
{
	r->conn.host = strdup(c->host);
	r->conn.user = strdup(c->user);
	r->conn.password = strdup(c->password);
	if (r->conn.host == NULL || r->conn.user == NULL || r->conn.password == NULL ||
	    rlsentinel_copy(&r->sentinel, &c->sentinel) != 0)
		return -1;
	r->conn.port = c->port;
	r->conn.db = c->db;
	r->conn.timeout_ms = c->timeout_ms;
	r->conn.connect_ms = c->connect_timeout_ms;
	return 0;
}

int
rlredis_new(const struct conf_redis *c, const unsigned char *script, size_t len,
    struct rlredis **out, char *err, size_t errsz)
{
	struct rlredis *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL || rlredis_copy_settings(r, c) != 0) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	r->conn.script = script;
	r->conn.script_len = len;
	rlredis_sha1_hex(script, len, r->conn.sha);
	if (r->conn.sha[0] == '\0') {
		snprintf(err, errsz, "cannot compute the SHA1 of the rate-limit script");
		goto fail;
	}
	if (rlpool_new(c->pool_size, &r->conn, &r->sentinel, c->retry_interval_ms, &r->pool, err,
	    errsz) != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	rlredis_free(r);
	return -1;
}

void
rlredis_start(struct rlredis *r)
{
	if (r != NULL)
		rlpool_start(r->pool);
}

void
rlredis_free(struct rlredis *r)
{
	if (r == NULL)
		return;
	rlpool_free(r->pool);   /* first: its thread reads the settings */
	rlsentinel_free(&r->sentinel);
	free(r->conn.host);
	free(r->conn.user);
	free(r->conn.password);
	free(r);
}

const char *
rlredis_sha1(const struct rlredis *r)
{
	return r->conn.sha;
}

/* ------------------------------------------------------------- decisions */

/* Error replies that mean "this server cannot serve us now": open the breaker. */
static bool
rlredis_error_means_down(const char *msg)
{
	static const char *const prefixes[] = {
		"READONLY", "MASTERDOWN", "LOADING", "BUSY", "OOM", "MISCONF", "NOAUTH",
		"WRONGPASS", "NOPERM", "CLUSTERDOWN", "TRYAGAIN",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

/* A warning about a reply nobody expected, at most every RLREDIS_WARN_EVERY_MS. */
static void
rlredis_warn_reply(struct rlredis *r, const char *what)
{
	long long now = monotime_ms(), last = atomic_load(&r->last_warn_ms);
	char safe[256], server[300];

	if (last != 0 && now - last < RLREDIS_WARN_EVERY_MS)
		return;
	if (!atomic_compare_exchange_strong(&r->last_warn_ms, &last, now))
		return;
	rlconn_why(safe, sizeof(safe), "%s", what);
	rlpool_server(r->pool, server, sizeof(server));
	log_warning("ratelimit: unexpected reply from redis server=%s: %s", server, safe);
}

/*
 * A ready context that still looks alive, before the deadline; NULL when
 * none is (the breaker is open, or the deadline passed).  A context the
 * server closed while it sat in the pool (its idle timeout, a proxy, a
 * failover) is closed here and the next one taken; the maintenance thread
 * refills the slot, and rlpool_checkout() waits for that within the
 * deadline, so the loop ends by then at the latest.
 */
static struct rlpool_slot *
rlredis_checkout(struct rlredis *r, int64_t deadline_ms)
{
	struct rlpool_slot *slot;

	while ((slot = rlpool_checkout(r->pool, deadline_ms)) != NULL && !rlwire_idle_ok(slot->c)) {
		log_debug("ratelimit: a pooled redis connection was closed while idle");
		rlpool_release(r->pool, slot, false, NULL);
	}
	return slot;
}

/* Map the script's {allowed, retry_after_ms, tier} (rlredis.h). */
enum rlredis_result
rlredis_interpret(const void *reply, int nkeys, long *retry_after_ms, int *tier)
{
	const redisReply *rep = reply;
	long long allowed, retry, t;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
		return RLREDIS_UNAVAILABLE;
	for (size_t i = 0; i < 3; i++)
		if (rep->element[i] == NULL || rep->element[i]->type != REDIS_REPLY_INTEGER)
			return RLREDIS_UNAVAILABLE;
	allowed = rep->element[0]->integer;
	retry = rep->element[1]->integer;
	t = rep->element[2]->integer;
	if (allowed == 1)
		return RLREDIS_ALLOWED;
	if (allowed != 0 || retry < 0 || retry > RLREDIS_RETRY_MAX || t < 1 || t > nkeys)
		return RLREDIS_UNAVAILABLE;
	*retry_after_ms = (long)retry;
	*tier = (int)t;
	return RLREDIS_LIMITED;
}

/*
 * EVALSHA, and EVAL when the script cache lost it, each with its whole
 * reply before the one deadline (rlwire).  *got_byte: a reply byte came.
 */
static enum rlwire_result
rlredis_eval(struct rlredis *r, struct rlpool_slot *slot, int64_t deadline_ms, int argc,
    const char **argv, size_t *lens, redisReply **rep, bool *got_byte, char *why, size_t whysz)
{
	enum rlwire_result res = rlwire_call(slot->c, argc, argv, lens, deadline_ms, rep, got_byte,
	    why, whysz);
	bool again;

	if (res == RLWIRE_OK && (*rep)->type == REDIS_REPLY_ERROR &&
	    strncmp((*rep)->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(*rep);
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = (const char *)r->conn.script;
		lens[1] = r->conn.script_len;
		res = rlwire_call(slot->c, argc, argv, lens, deadline_ms, rep, &again, why, whysz);
	}
	return res;
}

/* EVALSHA, the script, the key count, and per key: the key, T, tau and a cost. */
#define RLREDIS_ARGV_MAX (3 + 4 * RLREDIS_MAX_KEYS)
#define RLREDIS_NUM_MAX (1 + 3 * RLREDIS_MAX_KEYS)

/*
 * The command for one decision into argv/lens (num holds the numbers);
 * argc.  Without costs the call is byte for byte the one of a single
 * charge (redis/gcra.lua: the costs are optional arguments).
 */
static int
rlredis_build(const struct rlredis *r, int nkeys, const char *const *keys,
    const long long *interval_us, const long long *tau_us, const long long *cost,
    const char **argv, size_t *lens, char num[RLREDIS_NUM_MAX][24])
{
	int argc = 0, nn = 1;

	snprintf(num[0], 24, "%d", nkeys);
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->conn.sha;
	argv[argc++] = num[0];
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nkeys; i++) {
		snprintf(num[nn], 24, "%lld", interval_us[i]);
		argv[argc++] = num[nn++];
		snprintf(num[nn], 24, "%lld", tau_us[i]);
		argv[argc++] = num[nn++];
	}
	for (int i = 0; cost != NULL && i < nkeys; i++) {
		snprintf(num[nn], 24, "%lld", cost[i] > 0 ? cost[i] : 1);
		argv[argc++] = num[nn++];
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return argc;
}

/*
 * Send the decision's command on a pooled context and read its reply, all
 * before `deadline_ms`.  A connection that turns out closed before any
 * reply byte came (the idle check raced the server's close) is replaced
 * once.  On return *slot is the context used, or NULL (none to be had).
 */
static enum rlwire_result
rlredis_roundtrip(struct rlredis *r, int64_t deadline_ms, int argc, const char **argv,
    size_t *lens, struct rlpool_slot **slot, redisReply **rep, char *why, size_t whysz)
{
	enum rlwire_result res = RLWIRE_LATE;
	bool got;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((*slot = rlredis_checkout(r, deadline_ms)) == NULL)
			return RLWIRE_LATE;
		res = rlredis_eval(r, *slot, deadline_ms, argc, argv, lens, rep, &got, why, whysz);
		if (res != RLWIRE_CLOSED || got || attempt > 0)
			break;
		log_debug("ratelimit: redis connection closed before the reply (%s); once more "
		    "on another", why);
		rlpool_release(r->pool, *slot, false, NULL);
		*slot = NULL;
	}
	return res;
}

enum rlredis_result
rlredis_gcra(struct rlredis *r, int nkeys, const char *const *keys,
    const long long *interval_us, const long long *tau_us, const long long *cost,
    long *retry_after_ms, int *tier)
{
	int64_t deadline = monotime_ms() + r->conn.timeout_ms;
	const char *argv[RLREDIS_ARGV_MAX];
	size_t lens[RLREDIS_ARGV_MAX];
	char num[RLREDIS_NUM_MAX][24], why[512];
	int argc;
	struct rlpool_slot *slot = NULL;
	redisReply *rep = NULL;
	enum rlwire_result wr;
	int64_t t0;
	enum rlredis_result res = RLREDIS_UNAVAILABLE;

	if (nkeys < 1 || nkeys > RLREDIS_MAX_KEYS)
		return RLREDIS_UNAVAILABLE;
	rlredis_start(r);
	argc = rlredis_build(r, nkeys, keys, interval_us, tau_us, cost, argv, lens, num);
	t0 = stats_now_us();
	wr = rlredis_roundtrip(r, deadline, argc, argv, lens, &slot, &rep, why, sizeof(why));
	if (slot == NULL)
		return RLREDIS_UNAVAILABLE;   /* no context before the deadline, or the breaker is open */
	if (wr == RLWIRE_OK)
		stats_redis_roundtrip_us(stats_now_us() - t0);
	if (wr != RLWIRE_OK || rep->type == REDIS_REPLY_ERROR)
		stats_redis_error();
	if (wr == RLWIRE_LATE) {
		/* Nothing was sent: the context is clean, and Redis did nothing wrong. */
		rlpool_release(r->pool, slot, true, NULL);
		return RLREDIS_UNAVAILABLE;
	}
	if (wr != RLWIRE_OK) {
		/* A timeout, a close, an oversized or malformed reply: the breaker opens. */
		rlpool_release(r->pool, slot, false, why);
		return RLREDIS_UNAVAILABLE;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		rlconn_why(why, sizeof(why), "%s", rep->str);
		if (!rlredis_error_means_down(rep->str))
			rlredis_warn_reply(r, why);
		rlpool_release(r->pool, slot, false, rlredis_error_means_down(rep->str) ? why : NULL);
	} else {
		res = rlredis_interpret(rep, nkeys, retry_after_ms, tier);
		if (res == RLREDIS_UNAVAILABLE) {
			stats_redis_error();
			rlredis_warn_reply(r, "not the script's {allowed, retry_after_ms, tier}");
		}
		rlpool_release(r->pool, slot, res != RLREDIS_UNAVAILABLE, NULL);
	}
	freeReplyObject(rep);
	return res;
}

const char *
rlredis_state(struct rlredis *r, char *server, size_t serversz)
{
	return rlpool_state(r->pool, server, serversz);
}

/*
 * One command for the control socket on a pooled context: the reply, or
 * NULL (and the context closed; the decisions find out about an outage
 * themselves).  The caller releases the slot (rlpool_release) after a reply.
 */
static redisReply *
rlredis_ctl_cmd(struct rlredis *r, int argc, const char **argv, size_t *lens,
    struct rlpool_slot **slot)
{
	int64_t deadline = monotime_ms() + r->conn.timeout_ms;
	redisReply *rep;
	enum rlwire_result wr;
	char why[512];
	bool got;

	rlredis_start(r);
	if ((*slot = rlredis_checkout(r, deadline)) == NULL)
		return NULL;
	wr = rlwire_call((*slot)->c, argc, argv, lens, deadline, &rep, &got, why, sizeof(why));
	if (wr != RLWIRE_OK || rep->type == REDIS_REPLY_ERROR) {
		freeReplyObject(rep);
		/* Only a command never sent leaves the context clean. */
		rlpool_release(r->pool, *slot, wr == RLWIRE_LATE, NULL);
		return NULL;
	}
	return rep;
}

/* Read-only: the clock and each key, in one reply.  Missing keys come back as "". */
static const char rlredis_peek_script[] =
    "local t = redis.call('TIME') "
    "local r = {t[1], t[2]} "
    "for i = 1, #KEYS do r[#r + 1] = redis.call('GET', KEYS[i]) or '' end "
    "return r";

/* A decimal integer in a bulk or status string; -1 if it is not one. */
static long long
rlredis_reply_ll(const redisReply *e)
{
	char buf[32], *end;
	long long v;

	if (e == NULL || (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) ||
	    e->len == 0 || e->len >= sizeof(buf))
		return -1;
	memcpy(buf, e->str, e->len);
	buf[e->len] = '\0';
	v = strtoll(buf, &end, 10);
	return *end == '\0' && v >= 0 ? v : -1;
}

int
rlredis_peek(struct rlredis *r, int nkeys, const char *const *keys, long long *now_us,
    long long *tat_us)
{
	const char *argv[3 + RLREDIS_MAX_KEYS] = {"EVAL", rlredis_peek_script};
	size_t lens[3 + RLREDIS_MAX_KEYS];
	char num[8];
	redisReply *rep;
	long long sec, usec;
	struct rlpool_slot *slot;
	int rc = -1;

	if (nkeys < 1 || nkeys > RLREDIS_MAX_KEYS)
		return -1;
	snprintf(num, sizeof(num), "%d", nkeys);
	argv[2] = num;
	for (int i = 0; i < nkeys; i++)
		argv[3 + i] = keys[i];
	for (int i = 0; i < 3 + nkeys; i++)
		lens[i] = strlen(argv[i]);
	if ((rep = rlredis_ctl_cmd(r, 3 + nkeys, argv, lens, &slot)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)(2 + nkeys) &&
	    (sec = rlredis_reply_ll(rep->element[0])) >= 0 && (usec = rlredis_reply_ll(rep->element[1])) >= 0) {
		*now_us = sec * 1000000 + usec;
		rc = 0;
		for (int i = 0; i < nkeys; i++) {
			const redisReply *e = rep->element[2 + i];

			if (e->type == REDIS_REPLY_STRING && e->len == 0)
				tat_us[i] = *now_us;
			else if ((tat_us[i] = rlredis_reply_ll(e)) < 0)
				rc = -1;
		}
	}
	freeReplyObject(rep);
	rlpool_release(r->pool, slot, rc == 0, NULL);
	return rc;
}

int
rlredis_del(struct rlredis *r, int nkeys, const char *const *keys)
{
	const char *argv[1 + RLREDIS_MAX_KEYS] = {"DEL"};
	size_t lens[1 + RLREDIS_MAX_KEYS];
	redisReply *rep;
	struct rlpool_slot *slot;
	int rc = -1;

	if (nkeys < 1 || nkeys > RLREDIS_MAX_KEYS)
		return -1;
	for (int i = 0; i < nkeys; i++)
		argv[1 + i] = keys[i];
	for (int i = 0; i < 1 + nkeys; i++)
		lens[i] = strlen(argv[i]);
	if ((rep = rlredis_ctl_cmd(r, 1 + nkeys, argv, lens, &slot)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 && rep->integer <= nkeys)
		rc = (int)rep->integer;
	freeReplyObject(rep);
	rlpool_release(r->pool, slot, rc >= 0, NULL);
	return rc;
}
