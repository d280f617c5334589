/*
 * hcache - the per-hop connection cache of hoprelayd.  See hcache.h.
 *
 * One mutex for the whole cache: it only guards short list operations,
 * never I/O, so contention is negligible next to a network round trip.
 */
#include "config.h"

#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hcache.h"
#include "monotime.h"
#include "netio.h"

struct hcache_idle {
	struct xfer *x;
	long long since;
};

struct hcache_slot {
	/*
	 * Routes that share a hop (host and port) share its cap: the slot of
	 * the first such route counts for all of them.
	 */
	struct hcache_slot *group;
	size_t nconn;                  /* busy + idle, of the whole group (leader only) */
	size_t nidle;
	struct hcache_idle *idle;      /* max_per_hop entries; newest last */
	SSL_SESSION *session;          /* the last resumable session, or NULL */
};

struct hcache {
	const struct route_conf *conf;
	struct tlsc_ctx *const *tls;
	struct hcache_limits lim;
	size_t *first;                 /* route i's slots start at first[i] */
	struct hcache_slot *slots;
	size_t nslots;
	pthread_mutex_t lock;
	pthread_cond_t freed;          /* a connection was closed or went idle */
	struct hcache_stats stats;
};

/* The hop of slot `i`. */
static const struct route_hop *
hcache_slot_hop(const struct hcache *c, size_t i)
{
	size_t r = 0;

	while (r + 1 < c->conf->nroutes && c->first[r + 1] <= i)
		r++;
	return &c->conf->routes[r].hops[i - c->first[r]];
}

/* Point every slot at the first slot with the same host and port. */
static void
hcache_group(struct hcache *c)
{
	for (size_t i = 0; i < c->nslots; i++) {
		const struct route_hop *h = hcache_slot_hop(c, i);

		c->slots[i].group = &c->slots[i];
		for (size_t k = 0; k < i; k++) {
			const struct route_hop *o = hcache_slot_hop(c, k);

			if (o->port == h->port && strcasecmp(o->host, h->host) == 0) {
				c->slots[i].group = c->slots[k].group;
				break;
			}
		}
	}
}

struct hcache *
hcache_new(const struct route_conf *conf, struct tlsc_ctx *const *tls,
    const struct hcache_limits *lim)
{
	struct hcache *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;
	size_t n = 0;

	if (c == NULL || (c->first = calloc(conf->nroutes + 1, sizeof(*c->first))) == NULL)
		goto fail;
	for (size_t i = 0; i < conf->nroutes; i++) {
		c->first[i] = n;
		n += conf->routes[i].nhops;
	}
	c->nslots = n;
	if ((c->slots = calloc(n + 1, sizeof(*c->slots))) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((c->slots[i].idle = calloc(lim->max_per_hop + 1, sizeof(struct hcache_idle))) == NULL)
			goto fail;
	c->conf = conf;
	c->tls = tls;
	c->lim = *lim;
	hcache_group(c);
	pthread_mutex_init(&c->lock, NULL);
	/* Deadlines are monotonic (monotime.h): so is the wait. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->freed, &ca);
	pthread_condattr_destroy(&ca);
	return c;
fail:
	if (c != NULL) {
		for (size_t i = 0; c->slots != NULL && i < c->nslots; i++)
			free(c->slots[i].idle);
		free(c->slots);
		free(c->first);
		free(c);
	}
	return NULL;
}

void
hcache_free(struct hcache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++) {
		for (size_t j = 0; j < c->slots[i].nidle; j++)
			xfer_conn_close(c->slots[i].idle[j].x);
		SSL_SESSION_free(c->slots[i].session);
		free(c->slots[i].idle);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->freed);
	free(c->slots);
	free(c->first);
	free(c);
}

static struct hcache_slot *
hcache_slot(struct hcache *c, size_t route, size_t hop)
{
	return &c->slots[c->first[route] + hop];
}

/* A connection is gone for good: free its place.  Called locked. */
static void
hcache_release(struct hcache *c, struct hcache_slot *s)
{
	s->group->nconn--;
	/* Waiters of any route of this hop may take the place. */
	pthread_cond_broadcast(&c->freed);
}

/* Close `x` and free its place. */
static void
hcache_discard(struct hcache *c, struct hcache_slot *s, struct xfer *x)
{
	xfer_conn_close(x);
	pthread_mutex_lock(&c->lock);
	hcache_release(c, s);
	pthread_mutex_unlock(&c->lock);
}

/* Is an idle connection still good?  RSET must get exactly a 250. */
static bool
hcache_probe(struct xfer *x)
{
	struct smtpc_reply r;

	if (xfer_conn_command(x, XFER_AT_MAIL, "RSET\r\n", &r, HCACHE_PROBE_TIMEOUT) != XFER_OK)
		return false;
	if (r.code != 250) {
		xfer_conn_doubt(x);
		return false;
	}
	return true;
}

/*
 * Take a place for a new connection, or an idle one (*x set).  Waits for a
 * place up to `deadline`; false when none came.  Called locked.
 */
static bool
hcache_claim(struct hcache *c, struct hcache_slot *s, long long deadline, struct xfer **x,
    struct xfer **evict)
{
	*x = *evict = NULL;
	for (;;) {
		if (s->nidle > 0) {
			*x = s->idle[--s->nidle].x;
			return true;
		}
		if (s->group->nconn < c->lim.max_per_hop) {
			s->group->nconn++;
			return true;
		}
		/* The hop is full: an idle connection of another route gives way. */
		for (size_t i = 0; i < c->nslots; i++) {
			struct hcache_slot *t = &c->slots[i];

			if (t != s && t->group == s->group && t->nidle > 0) {
				*evict = t->idle[0].x;
				memmove(&t->idle[0], &t->idle[1], (t->nidle - 1) * sizeof(t->idle[0]));
				t->nidle--;
				return true;    /* its place is ours */
			}
		}
		struct timespec ts = monotime_timespec(deadline);

		if (monotime_ms() >= deadline)
			return false;
		pthread_cond_timedwait(&c->freed, &c->lock, &ts);
	}
}

/* Open a connection to each address of the hop in turn. */
static struct xfer *
hcache_open(struct hcache *c, size_t route, size_t hop, SSL_SESSION *sess,
    struct xfer_status *st)
{
	const struct route *r = &c->conf->routes[route];
	const struct route_hop *h = &r->hops[hop];
	struct addrinfo *ai;
	struct xfer *x = NULL;

	memset(st, 0, sizeof(*st));
	st->result = XFER_CONNECT;
	if (netio_resolve(h->host, h->port, &ai, st->detail, sizeof(st->detail)) != 0)
		return NULL;
	for (struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
		enum xfer_result xr = xfer_conn_open(r, h, p->ai_addr, p->ai_addrlen, c->tls[route],
		    sess, &x);

		if (x != NULL)
			*st = *xfer_conn_status(x);
		if (xr == XFER_OK)
			break;
		xfer_conn_close(x);
		x = NULL;
	}
	freeaddrinfo(ai);
	return x;
}

struct xfer *
hcache_get(struct hcache *c, size_t route, size_t hop, struct xfer_status *st, bool *reused)
{
	struct hcache_slot *s = hcache_slot(c, route, hop);
	long long deadline = monotime_ms() + c->conf->routes[route].timeouts.connect;
	SSL_SESSION *sess;
	struct xfer *x, *evict;

	*reused = false;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (!hcache_claim(c, s, deadline, &x, &evict)) {
			pthread_mutex_unlock(&c->lock);
			memset(st, 0, sizeof(*st));
			st->result = XFER_CONNECT;
			snprintf(st->detail, sizeof(st->detail),
			    "all %zu connections to this hop are busy", c->lim.max_per_hop);
			return NULL;
		}
		if (x == NULL)
			break;          /* a place for a new connection */
		pthread_mutex_unlock(&c->lock);
		if (hcache_probe(x)) {
			*reused = true;
			pthread_mutex_lock(&c->lock);
			c->stats.reused++;
			pthread_mutex_unlock(&c->lock);
			return x;
		}
		hcache_discard(c, s, x);
		pthread_mutex_lock(&c->lock);
		c->stats.probe_failed++;
	}
	sess = s->session;
	if (sess != NULL)
		SSL_SESSION_up_ref(sess);
	pthread_mutex_unlock(&c->lock);
	xfer_conn_close(evict);     /* its place went to this connection */
	x = hcache_open(c, route, hop, sess, st);
	SSL_SESSION_free(sess);
	pthread_mutex_lock(&c->lock);
	if (x == NULL)
		hcache_release(c, s);
	else {
		c->stats.opened++;
		c->stats.resumed += st->tlsinfo.resumed;
	}
	pthread_mutex_unlock(&c->lock);
	return x;
}

void
hcache_put(struct hcache *c, size_t route, size_t hop, struct xfer *x)
{
	struct hcache_slot *s = hcache_slot(c, route, hop);
	SSL_SESSION *sess, *old = NULL;

	if (x == NULL)
		return;
	if (!xfer_conn_healthy(x) || c->lim.idle_ms <= 0 ||
	    monotime_ms() - xfer_conn_opened(x) >= c->lim.max_age_ms) {
		hcache_discard(c, s, x);
		return;
	}
	/* The newest session: TLS 1.3 tickets arrive after the handshake. */
	sess = tlsc_session_get(xfer_conn_ssl(x));
	pthread_mutex_lock(&c->lock);
	if (sess != NULL) {
		old = s->session;
		s->session = sess;
	}
	s->idle[s->nidle].x = x;
	s->idle[s->nidle++].since = monotime_ms();
	pthread_cond_broadcast(&c->freed);
	pthread_mutex_unlock(&c->lock);
	SSL_SESSION_free(old);
}

void
hcache_sweep(struct hcache *c)
{
	long long now = monotime_ms();

	for (size_t i = 0; i < c->nslots; i++) {
		struct hcache_slot *s = &c->slots[i];
		struct xfer *x = NULL;

		pthread_mutex_lock(&c->lock);
		/* The oldest first: entries are in the order they went idle. */
		if (s->nidle > 0 && now - s->idle[0].since >= c->lim.idle_ms) {
			x = s->idle[0].x;
			memmove(&s->idle[0], &s->idle[1], (s->nidle - 1) * sizeof(s->idle[0]));
			s->nidle--;
			c->stats.closed_idle++;
		}
		pthread_mutex_unlock(&c->lock);
		if (x != NULL) {
			hcache_discard(c, s, x);
			i--;    /* look at this slot again */
		}
	}
}

void
hcache_stats(struct hcache *c, struct hcache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	pthread_mutex_unlock(&c->lock);
}
