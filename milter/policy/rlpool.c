/*
 * rlpool - the pool of Redis contexts, its lock and condition variables,
 * and the maintenance thread that connects and probes.  See rlpool.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "monotime.h"
#include "rlbreaker.h"
#include "rlpool.h"

struct rlpool {
	const struct rlconn_cfg *conn;
	const struct rlsentinel *sentinel;

	pthread_mutex_t lock;
	pthread_cond_t ready;   /* a context came free or the state changed */
	pthread_cond_t wake;    /* work (or stop) for the maintenance thread */
	struct rlpool_slot *slots;
	int nslots;
	struct rlbreaker breaker;
	bool sync_ok, started, stop;
	pthread_t thread;
};

/* ---------------------------------------------------------------- set-up */

static int
rlpool_init_sync(struct rlpool *p)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&p->ready, &ca);
	if (rc == 0 && (rc = pthread_cond_init(&p->wake, &ca)) != 0)
		pthread_cond_destroy(&p->ready);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		return -1;
	pthread_mutex_init(&p->lock, NULL);
	p->sync_ok = true;
	return 0;
}

int
rlpool_new(int nslots, const struct rlconn_cfg *conn, const struct rlsentinel *sentinel,
    long retry_interval_ms, struct rlpool **out, char *err, size_t errsz)
{
	struct rlpool *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL || (p->slots = calloc((size_t)nslots, sizeof(*p->slots))) == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	p->nslots = nslots;
	p->conn = conn;
	p->sentinel = sentinel;
	if (rlpool_init_sync(p) != 0) {
		snprintf(err, errsz, "cannot initialise the Redis pool's condition variables");
		goto fail;
	}
	rlbreaker_init(&p->breaker, retry_interval_ms,
	    rlsentinel_enabled(sentinel) ? sentinel->master : conn->host, sentinel->master,
	    conn->sha);
	*out = p;
	return 0;
fail:
	rlpool_free(p);
	return -1;
}

/* ------------------------------------------------------ breaker and slots */

/* Close every idle context: after an outage each one is suspect.  Lock held. */
static void
rlpool_close_idle(struct rlpool *p)
{
	for (int i = 0; i < p->nslots; i++) {
		if (p->slots[i].c != NULL && !p->slots[i].busy) {
			redisFree(p->slots[i].c);
			p->slots[i].c = NULL;
		}
	}
}

/* Trip the breaker and wake everyone.  Lock held. */
static void
rlpool_set_down(struct rlpool *p, const char *why)
{
	rlpool_close_idle(p);
	rlbreaker_trip(&p->breaker, why);
	pthread_cond_broadcast(&p->ready);
	pthread_cond_signal(&p->wake);
}

/* Close the breaker with a fresh context in slot `i`.  Lock held. */
static void
rlpool_set_up(struct rlpool *p, int i, redisContext *c, const char *server)
{
	p->slots[i].c = c;
	rlbreaker_close(&p->breaker, server);
	pthread_cond_broadcast(&p->ready);
}

/* A slot the maintenance thread should fill, or -1. */
static int
rlpool_empty_slot(const struct rlpool *p)
{
	for (int i = 0; i < p->nslots; i++)
		if (p->slots[i].c == NULL && !p->slots[i].busy)
			return i;
	return -1;
}

static void
rlpool_wait_wake(struct rlpool *p, int64_t until_ms)
{
	struct timespec ts = monotime_timespec(until_ms);

	while (!p->stop && monotime_ms() < until_ms)
		if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
			break;
}

/* (Discover,) connect and make ready.  `server` receives "host:port".  No lock held. */
static redisContext *
rlpool_handshake(const struct rlpool *p, char *server, size_t serversz, char *why,
    size_t whysz)
{
	char host[256];
	int port = p->conn->port;

	snprintf(host, sizeof(host), "%s", p->conn->host);
	if (rlsentinel_enabled(p->sentinel) &&
	    rlsentinel_discover(p->sentinel, p->conn->connect_ms, p->conn->timeout_ms, host,
	    sizeof(host), &port, why, whysz) != 0)
		return NULL;
	snprintf(server, serversz, "%s:%d", host, port);
	return rlconn_ready(p->conn, host, port, why, whysz);
}

/*
 * The maintenance thread: fill empty slots; while the breaker is open,
 * probe with a full handshake after a backoff.  It never holds the lock
 * across network I/O.
 */
static void *
rlpool_main(void *arg)
{
	struct rlpool *p = arg;
	char why[512], server[300];

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		int i = rlpool_empty_slot(p);
		redisContext *c;

		if (i < 0) {
			pthread_cond_wait(&p->wake, &p->lock);
			continue;
		}
		p->slots[i].busy = true;
		pthread_mutex_unlock(&p->lock);
		c = rlpool_handshake(p, server, sizeof(server), why, sizeof(why));
		pthread_mutex_lock(&p->lock);
		p->slots[i].busy = false;
		if (c != NULL && !p->stop) {
			rlpool_set_up(p, i, c, server);
			continue;
		}
		redisFree(c);
		if (p->stop)
			break;
		if (p->breaker.state == RLBREAKER_DOWN)
			log_debug("ratelimit: redis still down: %s", why);
		rlpool_set_down(p, why);
		rlpool_wait_wake(p, monotime_ms() + rlbreaker_backoff(&p->breaker));
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void
rlpool_start(struct rlpool *p)
{
	sigset_t all, old;

	pthread_mutex_lock(&p->lock);
	if (!p->started) {
		/* libmilter's signal thread must be the one to get SIGTERM and friends. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		if (pthread_create(&p->thread, NULL, rlpool_main, p) == 0)
			p->started = true;
		else
			log_error("ratelimit: cannot start the Redis maintenance thread");
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_unlock(&p->lock);
}

void
rlpool_free(struct rlpool *p)
{
	if (p == NULL)
		return;
	if (p->sync_ok) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		if (p->started)
			pthread_join(p->thread, NULL);
		pthread_cond_destroy(&p->ready);
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
	}
	for (int i = 0; p->slots != NULL && i < p->nslots; i++)
		redisFree(p->slots[i].c);
	free(p->slots);
	free(p);
}

/* ------------------------------------------------------------- decisions */

struct rlpool_slot *
rlpool_checkout(struct rlpool *p, int64_t deadline_ms)
{
	struct timespec ts = monotime_timespec(deadline_ms);
	struct rlpool_slot *got = NULL;

	pthread_mutex_lock(&p->lock);
	while (got == NULL && p->breaker.state != RLBREAKER_DOWN && !p->stop) {
		for (int i = 0; i < p->nslots && got == NULL; i++) {
			if (p->slots[i].c != NULL && !p->slots[i].busy) {
				p->slots[i].busy = true;
				got = &p->slots[i];
			}
		}
		if (got == NULL && pthread_cond_timedwait(&p->ready, &p->lock, &ts) == ETIMEDOUT) {
			/* A wake-up meant for a free slot may have come with the timeout: pass it on. */
			pthread_cond_signal(&p->ready);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

void
rlpool_release(struct rlpool *p, struct rlpool_slot *s, bool keep, const char *down)
{
	pthread_mutex_lock(&p->lock);
	s->busy = false;
	if (!keep || p->breaker.state != RLBREAKER_UP) {
		redisFree(s->c);
		s->c = NULL;
		pthread_cond_signal(&p->wake);
	}
	if (down != NULL)
		rlpool_set_down(p, down);   /* wakes every waiter */
	else if (keep && p->breaker.state == RLBREAKER_UP)
		/* One slot came free: one waiter can use it (waking all would only make them queue). */
		pthread_cond_signal(&p->ready);
	pthread_mutex_unlock(&p->lock);
}

const char *
rlpool_state(struct rlpool *p, char *buf, size_t bufsz)
{
	enum rlbreaker_state st;

	pthread_mutex_lock(&p->lock);
	st = p->breaker.state;
	snprintf(buf, bufsz, "%s", p->breaker.server);
	pthread_mutex_unlock(&p->lock);
	return st == RLBREAKER_UP ? "up" : st == RLBREAKER_DOWN ? "down" : "starting";
}

void
rlpool_server(struct rlpool *p, char *buf, size_t bufsz)
{
	pthread_mutex_lock(&p->lock);
	snprintf(buf, bufsz, "%s", p->breaker.server);
	pthread_mutex_unlock(&p->lock);
}
