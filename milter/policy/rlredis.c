/*
 * rlredis - pool of hiredis contexts, handshake (AUTH, SELECT, SCRIPT
 * LOAD, Sentinel discovery and ROLE), the circuit breaker, and EVALSHA with
 * the NOSCRIPT fallback.  See rlredis.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "log.h"
#include "rlredis.h"
#include "stats.h"

#define RL_BACKOFF_MIN_MS 100
#define RL_WARN_EVERY_MS 10000

enum rl_state {
	RL_STARTING,  /* no handshake finished yet: decisions wait (up to timeout) */
	RL_UP,
	RL_DOWN,      /* breaker open: decisions do not touch the network */
};

struct rl_slot {
	redisContext *c;  /* NULL: empty, the maintenance thread fills it */
	bool busy;        /* checked out, or being connected */
	long tmo_ms;      /* the command timeout set on c's socket */
};

struct rlredis {
	/* Settings, copied from the configuration. */
	char *host, *user, *password;
	int port, db;
	long timeout_ms, connect_ms, retry_ms;
	char *s_master, *s_user, *s_password;
	struct conf_hostport *s_addrs;
	size_t s_n;
	const unsigned char *script;
	size_t script_len;
	char sha[41];

	pthread_mutex_t lock;
	pthread_cond_t ready;   /* a context came free or the state changed */
	pthread_cond_t wake;    /* work (or stop) for the maintenance thread */
	struct rl_slot *slots;
	int nslots;
	enum rl_state state;
	bool sync_ok, started, stop;
	pthread_t thread;
	char server[300];       /* "host:port" of the last good handshake */
	atomic_llong last_warn_ms;
};

/* ------------------------------------------------------------------ time */

static int64_t
rl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec
rl_abstime(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	return ts;
}

static struct timeval
rl_tv(long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

/* Error texts come from the network: keep them to one printable line. */
static void __attribute__((format(printf, 3, 4)))
rl_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	for (char *p = why; *p != '\0'; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '"')
			*p = '?';
}

/* ------------------------------------------------------------ set-up */

static void
rl_sha1_hex(const unsigned char *buf, size_t len, char out[41])
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
rl_copy_settings(struct rlredis *r, const struct conf_redis *c)
{
	const struct conf_sentinel *s = &c->sentinel;

	r->host = strdup(c->host);
	r->user = strdup(c->user);
	r->password = strdup(c->password);
	r->s_master = strdup(s->master);
	r->s_user = strdup(s->user);
	r->s_password = strdup(s->password);
	if (r->host == NULL || r->user == NULL || r->password == NULL || r->s_master == NULL ||
	    r->s_user == NULL || r->s_password == NULL)
		return -1;
	if (s->naddrs > 0 && (r->s_addrs = calloc(s->naddrs, sizeof(*r->s_addrs))) == NULL)
		return -1;
	for (; r->s_n < s->naddrs; r->s_n++) {
		r->s_addrs[r->s_n].port = s->addrs[r->s_n].port;
		if ((r->s_addrs[r->s_n].host = strdup(s->addrs[r->s_n].host)) == NULL)
			return -1;
	}
	r->port = c->port;
	r->db = c->db;
	r->timeout_ms = c->timeout_ms;
	r->connect_ms = c->connect_timeout_ms;
	r->retry_ms = c->retry_interval_ms < RL_BACKOFF_MIN_MS ? RL_BACKOFF_MIN_MS :
	    c->retry_interval_ms;
	return 0;
}

static int
rl_init_sync(struct rlredis *r)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&r->ready, &ca);
	if (rc == 0 && (rc = pthread_cond_init(&r->wake, &ca)) != 0)
		pthread_cond_destroy(&r->ready);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	r->sync_ok = true;
	return 0;
}

int
rlredis_new(const struct conf_redis *c, const unsigned char *script, size_t len,
    struct rlredis **out, char *err, size_t errsz)
{
	struct rlredis *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL || rl_copy_settings(r, c) != 0 ||
	    (r->slots = calloc((size_t)c->pool_size, sizeof(*r->slots))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	r->nslots = c->pool_size;
	r->script = script;
	r->script_len = len;
	rl_sha1_hex(script, len, r->sha);
	if (r->sha[0] == '\0') {
		snprintf(err, errsz, "cannot compute the SHA1 of the rate-limit script");
		goto fail;
	}
	if (rl_init_sync(r) != 0) {
		snprintf(err, errsz, "cannot initialise the Redis pool's condition variables");
		goto fail;
	}
	r->state = RL_STARTING;
	snprintf(r->server, sizeof(r->server), "%s", r->s_master[0] ? r->s_master : r->host);
	*out = r;
	return 0;
fail:
	rlredis_free(r);
	return -1;
}

const char *
rlredis_sha1(const struct rlredis *r)
{
	return r->sha;
}

/* ------------------------------------------------------------ handshake */

/* One command on a context of the maintenance thread; NULL + `why` on any failure. */
static redisReply *
rl_cmd(redisContext *c, int argc, const char **argv, char *why, size_t whysz)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, NULL);

	if (rep == NULL) {
		rl_why(why, whysz, "%s: %s", argv[0], c->errstr);
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		rl_why(why, whysz, "%s: %s", argv[0], rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* A command whose reply only has to be a non-error. */
static int
rl_cmd_ok(redisContext *c, int argc, const char **argv, char *why, size_t whysz)
{
	redisReply *rep = rl_cmd(c, argc, argv, why, whysz);

	freeReplyObject(rep);
	return rep != NULL ? 0 : -1;
}

static redisContext *
rl_connect(const struct rlredis *r, const char *host, int port, char *why, size_t whysz)
{
	redisContext *c = redisConnectWithTimeout(host, port, rl_tv(r->connect_ms));
	char where[300];

	snprintf(where, sizeof(where), "%s:%d", host, port);
	if (c == NULL || c->err) {
		rl_why(why, whysz, "connect %s: %s", where, c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	/* redisConnectWithTimeout bounds connect() only: set the command timeout too. */
	if (redisSetTimeout(c, rl_tv(r->timeout_ms)) != REDIS_OK ||
	    redisEnableKeepAlive(c) != REDIS_OK) {
		rl_why(why, whysz, "socket options %s: %s", where, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* AUTH with a password, or an ACL user and password; nothing when both are empty. */
static int
rl_auth(redisContext *c, const char *user, const char *password, char *why, size_t whysz)
{
	const char *argv[3] = {"AUTH", user, password};

	if (password[0] == '\0' && user[0] == '\0')
		return 0;
	if (user[0] == '\0') {
		argv[1] = password;
		return rl_cmd_ok(c, 2, argv, why, whysz);
	}
	return rl_cmd_ok(c, 3, argv, why, whysz);
}

/* Ask the sentinels in order for the master's address. */
static int
rl_discover(const struct rlredis *r, char *host, size_t hostsz, int *port, char *why,
    size_t whysz)
{
	const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", r->s_master};

	for (size_t i = 0; i < r->s_n; i++) {
		redisContext *c = rl_connect(r, r->s_addrs[i].host, r->s_addrs[i].port, why, whysz);
		redisReply *rep = NULL;

		if (c != NULL && rl_auth(c, r->s_user, r->s_password, why, whysz) == 0)
			rep = rl_cmd(c, 3, argv, why, whysz);
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[1]->type == REDIS_REPLY_STRING) {
			snprintf(host, hostsz, "%s", rep->element[0]->str);
			*port = atoi(rep->element[1]->str);
			freeReplyObject(rep);
			redisFree(c);
			return 0;
		}
		if (rep != NULL)
			rl_why(why, whysz, "sentinel %s:%s knows no such master",
			    r->s_addrs[i].host, r->s_master);
		freeReplyObject(rep);
		redisFree(c);
	}
	return -1;
}

/*
 * Only a master can take our writes.  Sentinel's answer may be stale
 * (failover in progress), and a plain `host` may have been demoted: believe
 * ROLE.  A server that will not say (an ACL without +role, a proxy) is
 * given the benefit of the doubt; a write would still meet READONLY.
 */
static int
rl_check_role(redisContext *c, char *why, size_t whysz)
{
	const char *argv[1] = {"ROLE"};
	redisReply *rep = redisCommandArgv(c, 1, argv, NULL);
	int rc = -1;

	if (rep == NULL) {
		rl_why(why, whysz, "ROLE: %s", c->errstr);
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR && (strncmp(rep->str, "NOPERM", 6) == 0 ||
	    strncmp(rep->str, "ERR unknown command", 19) == 0))
		rc = 0;
	else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0)
		rc = 0;
	else
		rl_why(why, whysz, "ROLE: not a master (failover in progress?)");
	freeReplyObject(rep);
	return rc;
}

/* SCRIPT LOAD: warms the script cache and proves our SHA1 is Redis's. */
static int
rl_load_script(const struct rlredis *r, redisContext *c, char *why, size_t whysz)
{
	const char *argv[3] = {"SCRIPT", "LOAD", (const char *)r->script};
	size_t lens[3] = {6, 4, r->script_len};
	redisReply *rep = redisCommandArgv(c, 3, argv, lens);
	int rc = -1;

	if (rep == NULL)
		rl_why(why, whysz, "SCRIPT LOAD: %s", c->errstr);
	else if (rep->type != REDIS_REPLY_STRING)
		rl_why(why, whysz, "SCRIPT LOAD: %s", rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
	else if (strcmp(rep->str, r->sha) != 0)
		rl_why(why, whysz, "SCRIPT LOAD: Redis says SHA1 %s, hopmilter computed %s", rep->str,
		    r->sha);
	else
		rc = 0;
	freeReplyObject(rep);
	return rc;
}

/*
 * A ready context: (discover,) connect, AUTH, SELECT, (ROLE,) SCRIPT LOAD.
 * `server` receives "host:port".  NULL with `why` on failure.
 */
static redisContext *
rl_handshake(const struct rlredis *r, char *server, size_t serversz, char *why, size_t whysz)
{
	char host[256], db[16];
	const char *sel[2] = {"SELECT", db};
	int port = r->port;
	redisContext *c;

	snprintf(host, sizeof(host), "%s", r->host);
	if (r->s_master[0] != '\0' && rl_discover(r, host, sizeof(host), &port, why, whysz) != 0)
		return NULL;
	snprintf(server, serversz, "%s:%d", host, port);
	if ((c = rl_connect(r, host, port, why, whysz)) == NULL)
		return NULL;
	snprintf(db, sizeof(db), "%d", r->db);
	if (rl_auth(c, r->user, r->password, why, whysz) != 0 ||
	    (r->db != 0 && rl_cmd_ok(c, 2, sel, why, whysz) != 0) ||
	    rl_check_role(c, why, whysz) != 0 ||
	    rl_load_script(r, c, why, whysz) != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------ breaker and pool */

/* Close every idle context: after an outage each one is suspect.  Lock held. */
static void
rl_close_idle(struct rlredis *r)
{
	for (int i = 0; i < r->nslots; i++) {
		if (r->slots[i].c != NULL && !r->slots[i].busy) {
			redisFree(r->slots[i].c);
			r->slots[i].c = NULL;
		}
	}
}

/* Open the breaker (logged on the transition only).  Lock held. */
static void
rl_set_down(struct rlredis *r, const char *why)
{
	rl_close_idle(r);
	if (r->state != RL_DOWN) {
		log_warning("ratelimit: redis=down server=%s error=\"%s\"", r->server, why);
		stats_redis_state(false);
	}
	r->state = RL_DOWN;
	pthread_cond_broadcast(&r->ready);
	pthread_cond_signal(&r->wake);
}

/* Close the breaker with a fresh context in slot `i`.  Lock held. */
static void
rl_set_up(struct rlredis *r, int i, redisContext *c, const char *server)
{
	r->slots[i].c = c;
	r->slots[i].tmo_ms = r->timeout_ms;   /* rl_connect set it */
	if (r->state != RL_UP)
		stats_redis_state(true);
	if (r->state != RL_UP || strcmp(r->server, server) != 0)
		log_notice("ratelimit: redis=up server=%s%s%s script=%s", server,
		    r->s_master[0] ? " master=" : "", r->s_master, r->sha);
	snprintf(r->server, sizeof(r->server), "%s", server);
	r->state = RL_UP;
	pthread_cond_broadcast(&r->ready);
}

/* A slot the maintenance thread should fill, or -1. */
static int
rl_empty_slot(const struct rlredis *r)
{
	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].c == NULL && !r->slots[i].busy)
			return i;
	return -1;
}

static void
rl_wait_wake(struct rlredis *r, int64_t until_ms)
{
	struct timespec ts = rl_abstime(until_ms);

	while (!r->stop && rl_now_ms() < until_ms)
		if (pthread_cond_timedwait(&r->wake, &r->lock, &ts) == ETIMEDOUT)
			break;
}

/*
 * The maintenance thread: fill empty slots; while the breaker is open,
 * probe with a full handshake after a backoff.  It never holds the lock
 * across network I/O.
 */
static void *
rl_main(void *arg)
{
	struct rlredis *r = arg;
	long backoff = RL_BACKOFF_MIN_MS;
	char why[512], server[300];

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		int i = rl_empty_slot(r);
		redisContext *c;

		if (i < 0) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		r->slots[i].busy = true;
		pthread_mutex_unlock(&r->lock);
		c = rl_handshake(r, server, sizeof(server), why, sizeof(why));
		pthread_mutex_lock(&r->lock);
		r->slots[i].busy = false;
		if (c != NULL && !r->stop) {
			rl_set_up(r, i, c, server);
			backoff = RL_BACKOFF_MIN_MS;
			continue;
		}
		redisFree(c);
		if (r->stop)
			break;
		if (r->state == RL_DOWN)
			log_debug("ratelimit: redis still down: %s", why);
		rl_set_down(r, why);
		rl_wait_wake(r, rl_now_ms() + backoff);
		backoff = backoff * 2 > r->retry_ms ? r->retry_ms : backoff * 2;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void
rlredis_start(struct rlredis *r)
{
	sigset_t all, old;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	if (!r->started) {
		/* libmilter's signal thread must be the one to get SIGTERM and friends. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&r->thread, NULL, rl_main, r) == 0)
			r->started = true;
		else
			log_error("ratelimit: cannot start the Redis maintenance thread");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&r->lock);
}

void
rlredis_free(struct rlredis *r)
{
	if (r == NULL)
		return;
	if (r->sync_ok) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		if (r->started)
			pthread_join(r->thread, NULL);
		pthread_cond_destroy(&r->ready);
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
	}
	for (int i = 0; r->slots != NULL && i < r->nslots; i++)
		redisFree(r->slots[i].c);
	free(r->slots);
	for (size_t i = 0; i < r->s_n; i++)
		free(r->s_addrs[i].host);
	free(r->s_addrs);
	free(r->host);
	free(r->user);
	free(r->password);
	free(r->s_master);
	free(r->s_user);
	free(r->s_password);
	free(r);
}

/* A ready context, or -1 when the breaker is open or none frees up in time. */
static int
rl_checkout(struct rlredis *r, int64_t deadline_ms)
{
	struct timespec ts = rl_abstime(deadline_ms);
	int got = -1;

	pthread_mutex_lock(&r->lock);
	while (got < 0 && r->state != RL_DOWN && !r->stop) {
		for (int i = 0; i < r->nslots && got < 0; i++) {
			if (r->slots[i].c != NULL && !r->slots[i].busy) {
				r->slots[i].busy = true;
				got = i;
			}
		}
		if (got < 0 && pthread_cond_timedwait(&r->ready, &r->lock, &ts) == ETIMEDOUT) {
			/* A wake-up meant for a free slot may have come with the timeout: pass it on. */
			pthread_cond_signal(&r->ready);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return got;
}

/*
 * Give slot `i` back.  `keep` false closes its context (it saw an error);
 * `down` (may be NULL) opens the breaker with that reason.
 */
static void
rl_release(struct rlredis *r, int i, bool keep, const char *down)
{
	pthread_mutex_lock(&r->lock);
	r->slots[i].busy = false;
	if (!keep || r->state != RL_UP) {
		redisFree(r->slots[i].c);
		r->slots[i].c = NULL;
		pthread_cond_signal(&r->wake);
	}
	if (down != NULL)
		rl_set_down(r, down);   /* wakes every waiter */
	else if (keep && r->state == RL_UP)
		/* One slot came free: one waiter can use it (waking all would only make them queue). */
		pthread_cond_signal(&r->ready);
	pthread_mutex_unlock(&r->lock);
}

/* ------------------------------------------------------------ decisions */

/* Error replies that mean "this server cannot serve us now": open the breaker. */
static bool
rl_error_means_down(const char *msg)
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

/* A warning about a reply nobody expected, at most every RL_WARN_EVERY_MS. */
static void
rl_warn_reply(struct rlredis *r, const char *what)
{
	long long now = rl_now_ms(), last = atomic_load(&r->last_warn_ms);
	char safe[256], server[sizeof(r->server)];

	if (last != 0 && now - last < RL_WARN_EVERY_MS)
		return;
	if (!atomic_compare_exchange_strong(&r->last_warn_ms, &last, now))
		return;
	rl_why(safe, sizeof(safe), "%s", what);
	pthread_mutex_lock(&r->lock);
	memcpy(server, r->server, sizeof(server));
	pthread_mutex_unlock(&r->lock);
	log_warning("ratelimit: unexpected reply from redis server=%s: %s", server, safe);
}

/*
 * One command within the decision's deadline.  NULL: the context is dead,
 * or -- with *late set -- the deadline passed before anything was sent
 * (waiting for a free context under load): the context is still good, and
 * Redis did nothing wrong.
 */
static redisReply *
rl_timed_cmd(struct rl_slot *slot, int64_t deadline_ms, int argc, const char **argv,
    const size_t *lens, bool *late)
{
	long left = (long)(deadline_ms - rl_now_ms());

	*late = left < 1;
	if (*late)
		return NULL;
	/*
	 * The socket timeout must not exceed the time left; setting it costs
	 * two system calls, so only when it must shrink, or when it is far
	 * shorter than the time left (it never exceeds the decision's budget).
	 */
	if (left < slot->tmo_ms || left > slot->tmo_ms + slot->tmo_ms / 8) {
		if (redisSetTimeout(slot->c, rl_tv(left)) != REDIS_OK)
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
rl_eval(struct rlredis *r, struct rl_slot *slot, int64_t deadline_ms, int argc,
    const char **argv, size_t *lens, bool *late)
{
	redisReply *rep = rl_timed_cmd(slot, deadline_ms, argc, argv, lens, late);

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = (const char *)r->script;
		lens[1] = r->script_len;
		rep = rl_timed_cmd(slot, deadline_ms, argc, argv, lens, late);
	}
	return rep;
}

enum rlredis_result
rlredis_gcra(struct rlredis *r, int nkeys, const char *const *keys,
    const long long *interval_us, const long long *tau_us, long *retry_after_ms, int *tier)
{
	int64_t deadline = rl_now_ms() + r->timeout_ms;
	const char *argv[9];
	size_t lens[9];
	char num[5][24], why[512];
	int argc = 0, slot;
	bool late;
	redisReply *rep;
	int64_t t0;
	enum rlredis_result res = RLREDIS_UNAVAILABLE;

	if (nkeys < 1 || nkeys > 2)
		return RLREDIS_UNAVAILABLE;
	rlredis_start(r);
	if ((slot = rl_checkout(r, deadline)) < 0)
		return RLREDIS_UNAVAILABLE;
	snprintf(num[0], sizeof(num[0]), "%d", nkeys);
	argv[argc++] = "EVALSHA";
	argv[argc++] = r->sha;
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
	t0 = stats_now_us();
	rep = rl_eval(r, &r->slots[slot], deadline, argc, argv, lens, &late);
	if (rep != NULL)
		stats_redis_roundtrip_us(stats_now_us() - t0);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		stats_redis_error();
	if (rep == NULL && late) {
		rl_release(r, slot, true, NULL);
		return RLREDIS_UNAVAILABLE;
	}
	if (rep == NULL) {
		rl_why(why, sizeof(why), "%s", r->slots[slot].c->errstr);
		rl_release(r, slot, false, why);
		return RLREDIS_UNAVAILABLE;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		rl_why(why, sizeof(why), "%s", rep->str);
		if (!rl_error_means_down(rep->str))
			rl_warn_reply(r, why);
		rl_release(r, slot, false, rl_error_means_down(rep->str) ? why : NULL);
	} else {
		res = rlredis_interpret(rep, nkeys, retry_after_ms, tier);
		if (res == RLREDIS_UNAVAILABLE)
			stats_redis_error();
		if (res == RLREDIS_UNAVAILABLE)
			rl_warn_reply(r, "not the script's {allowed, retry_after_ms, tier}");
		rl_release(r, slot, res != RLREDIS_UNAVAILABLE, NULL);
	}
	freeReplyObject(rep);
	return res;
}

const char *
rlredis_state(struct rlredis *r, char *server, size_t serversz)
{
	enum rl_state st;

	pthread_mutex_lock(&r->lock);
	st = r->state;
	snprintf(server, serversz, "%s", r->server);
	pthread_mutex_unlock(&r->lock);
	return st == RL_UP ? "up" : st == RL_DOWN ? "down" : "starting";
}

/*
 * One command for the control socket on a pooled context: the reply, or
 * NULL (and the context closed; the decisions find out about an outage
 * themselves).  On success the caller calls rl_release(r, *slot, true, NULL).
 */
static redisReply *
rl_ctl_cmd(struct rlredis *r, int argc, const char **argv, size_t *lens, int *slot)
{
	int64_t deadline = rl_now_ms() + r->timeout_ms;
	redisReply *rep;
	bool late;

	rlredis_start(r);
	if ((*slot = rl_checkout(r, deadline)) < 0)
		return NULL;
	rep = rl_timed_cmd(&r->slots[*slot], deadline, argc, argv, lens, &late);
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		if (rep != NULL)
			freeReplyObject(rep);
		rl_release(r, *slot, late, NULL);
		return NULL;
	}
	return rep;
}

/* Read-only: the clock and each key, in one reply.  Missing keys come back as "". */
static const char rl_peek_script[] =
    "local t = redis.call('TIME') "
    "local r = {t[1], t[2]} "
    "for i = 1, #KEYS do r[#r + 1] = redis.call('GET', KEYS[i]) or '' end "
    "return r";

/* A decimal integer in a bulk or status string; -1 if it is not one. */
static long long
rl_reply_ll(const redisReply *e)
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
	const char *argv[5] = {"EVAL", rl_peek_script, nkeys == 2 ? "2" : "1"};
	size_t lens[5];
	redisReply *rep;
	long long sec, usec;
	int slot, rc = -1;

	if (nkeys < 1 || nkeys > 2)
		return -1;
	for (int i = 0; i < nkeys; i++)
		argv[3 + i] = keys[i];
	for (int i = 0; i < 3 + nkeys; i++)
		lens[i] = strlen(argv[i]);
	if ((rep = rl_ctl_cmd(r, 3 + nkeys, argv, lens, &slot)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)(2 + nkeys) &&
	    (sec = rl_reply_ll(rep->element[0])) >= 0 && (usec = rl_reply_ll(rep->element[1])) >= 0) {
		*now_us = sec * 1000000 + usec;
		rc = 0;
		for (int i = 0; i < nkeys; i++) {
			const redisReply *e = rep->element[2 + i];

			if (e->type == REDIS_REPLY_STRING && e->len == 0)
				tat_us[i] = *now_us;
			else if ((tat_us[i] = rl_reply_ll(e)) < 0)
				rc = -1;
		}
	}
	freeReplyObject(rep);
	rl_release(r, slot, rc == 0, NULL);
	return rc;
}

int
rlredis_del(struct rlredis *r, int nkeys, const char *const *keys)
{
	const char *argv[3] = {"DEL"};
	size_t lens[3];
	redisReply *rep;
	int slot, rc = -1;

	if (nkeys < 1 || nkeys > 2)
		return -1;
	for (int i = 0; i < nkeys; i++)
		argv[1 + i] = keys[i];
	for (int i = 0; i < 1 + nkeys; i++)
		lens[i] = strlen(argv[i]);
	if ((rep = rl_ctl_cmd(r, 1 + nkeys, argv, lens, &slot)) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0 && rep->integer <= nkeys)
		rc = (int)rep->integer;
	freeReplyObject(rep);
	rl_release(r, slot, rc >= 0, NULL);
	return rc;
}
