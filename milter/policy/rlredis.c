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
 * One command within the decision's deadline.  NULL: the context is dead,
 * or -- with *late set -- the deadline passed before anything was sent
 * (waiting for a free context under load): the context is still good, and
 * Redis did nothing wrong.
 */
static redisReply *
rlredis_timed_cmd(struct rlpool_slot *slot, int64_t deadline_ms, int argc, const char **argv,
    const size_t *lens, bool *late)
{
	long left = (long)(deadline_ms - monotime_ms());

	*late = left < 1;
	if (*late)
		return NULL;
	/*
	 * The socket timeout must not exceed the time left; setting it costs
	 * two system calls, so only when it must shrink, or when it is far
	 * shorter than the time left (it never exceeds the decision's budget).
	 */
	if (left < slot->tmo_ms || left > slot->tmo_ms + slot->tmo_ms / 8) {
		if (redisSetTimeout(slot->c, rlconn_tv(left)) != REDIS_OK)
			return NULL;
		slot->tmo_ms = left;
	}
	return redisCommandArgv(slot->c, argc, argv, lens);
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
 * EVALSHA, and EVAL when the script cache lost it.  Returns the reply (or
 * NULL with the context dead); the caller frees it.
 */
static redisReply *
rlredis_eval(struct rlredis *r, struct rlpool_slot *slot, int64_t deadline_ms, int argc,
    const char **argv, size_t *lens, bool *late)
{
	redisReply *rep = rlredis_timed_cmd(slot, deadline_ms, argc, argv, lens, late);

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = (const char *)r->conn.script;
		lens[1] = r->conn.script_len;
		rep = rlredis_timed_cmd(slot, deadline_ms, argc, argv, lens, late);
	}
	return rep;
}

enum rlredis_result
rlredis_gcra(struct rlredis *r, int nkeys, const char *const *keys,
    const long long *interval_us, const long long *tau_us, long *retry_after_ms, int *tier)
{
	int64_t deadline = monotime_ms() + r->conn.timeout_ms;
	const char *argv[9];
	size_t lens[9];
	char num[5][24], why[512];
	int argc = 0;
	bool late;
	struct rlpool_slot *slot;
	redisReply *rep;
	enum rlredis_result res = RLREDIS_UNAVAILABLE;

	if (nkeys < 1 || nkeys > 2)
		return RLREDIS_UNAVAILABLE;
	rlredis_start(r);
	if ((slot = rlpool_checkout(r->pool, deadline)) == NULL)
		return RLREDIS_UNAVAILABLE;
	snprintf(num[0], sizeof(num[0]), "%d", nkeys);
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->conn.sha;
	argv[argc++] = num[0];
	for (int i = 0; i < nkeys; i++)
		argv[argc++] = keys[i];
	for (int i = 0; i < nkeys; i++) {
		snprintf(num[1 + 2 * i], sizeof(num[0]), "%lld", interval_us[i]);
		snprintf(num[2 + 2 * i], sizeof(num[0]), "%lld", tau_us[i]);
		argv[argc++] = num[1 + 2 * i];
		argv[argc++] = num[2 + 2 * i];
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	rep = rlredis_eval(r, slot, deadline, argc, argv, lens, &late);
	if (rep == NULL && late) {
		rlpool_release(r->pool, slot, true, NULL);
		return RLREDIS_UNAVAILABLE;
	}
	if (rep == NULL) {
		rlconn_why(why, sizeof(why), "%s", slot->c->errstr);
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
		if (res == RLREDIS_UNAVAILABLE)
			rlredis_warn_reply(r, "not the script's {allowed, retry_after_ms, tier}");
		rlpool_release(r->pool, slot, res != RLREDIS_UNAVAILABLE, NULL);
	}
	freeReplyObject(rep);
	return res;
}
