/*
 * rllocal - GCRA buckets in a fixed, striped, open-addressing table.
 * See rllocal.h.
 *
 * A key hashes to one stripe and to a window of RLLOCAL_PROBE slots inside
 * it.  Looking a key up never walks further than that window, so every
 * operation is a small constant amount of work under one (or, for two
 * tiers, two) stripe locks.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rllocal.h"

#define RLLOCAL_STRIPES 16
#define RLLOCAL_PROBE 8

struct rllocal_key {
	uint8_t tier, family, prefix, pad;
	uint8_t bytes[16];
};

struct rllocal_entry {
	struct rllocal_key key;
	bool used;
	int64_t tat_us;   /* theoretical arrival time */
	int64_t seen_us;  /* last request */
};

struct rllocal_stripe {
	pthread_mutex_t lock;
	struct rllocal_entry *v;
};

struct rllocal {
	size_t per_stripe;
	struct rllocal_stripe stripes[RLLOCAL_STRIPES];
};

struct rllocal *
rllocal_new(size_t max_entries)
{
	struct rllocal *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->per_stripe = (max_entries + RLLOCAL_STRIPES - 1) / RLLOCAL_STRIPES;
	if (t->per_stripe < RLLOCAL_PROBE)
		t->per_stripe = RLLOCAL_PROBE;
	for (size_t i = 0; i < RLLOCAL_STRIPES; i++) {
		pthread_mutex_init(&t->stripes[i].lock, NULL);
		t->stripes[i].v = calloc(t->per_stripe, sizeof(struct rllocal_entry));
		if (t->stripes[i].v == NULL) {
			rllocal_free(t);
			return NULL;
		}
	}
	return t;
}

void
rllocal_free(struct rllocal *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < RLLOCAL_STRIPES; i++) {
		free(t->stripes[i].v);
		pthread_mutex_destroy(&t->stripes[i].lock);
	}
	free(t);
}

size_t
rllocal_capacity(const struct rllocal *t)
{
	return t->per_stripe * RLLOCAL_STRIPES;
}

static struct rllocal_key
rllocal_key_of(const struct rllocal_req *r)
{
	struct rllocal_key k;

	memset(&k, 0, sizeof(k));
	k.tier = (uint8_t)r->tier;
	k.family = r->net.family == AF_INET ? 4 : 6;
	k.prefix = (uint8_t)r->prefix;
	memcpy(k.bytes, r->net.bytes, sizeof(k.bytes));
	return k;
}

/* FNV-1a: short keys, no adversary can pick which stripe a network lands in cheaply. */
static uint64_t
rllocal_hash(const struct rllocal_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static bool
rllocal_live(const struct rllocal_entry *e, int64_t now)
{
	return e->used && e->tat_us > now && now - e->seen_us < RLLOCAL_IDLE_US;
}

/* True if `e` is one of the `n` entries in `avoid`. */
static bool
rllocal_taken(const struct rllocal_entry *e, struct rllocal_entry *const *avoid, int n)
{
	for (int i = 0; i < n; i++)
		if (avoid[i] == e)
			return true;
	return false;
}

/*
 * The entry for `k` in its window, creating it (as an empty bucket) in a
 * free slot, or over the live entry with the smallest TAT.  `avoid` holds
 * the `navoid` slots the caller already holds for its other buckets (at
 * most RLLOCAL_MAX_REQS - 1 of the RLLOCAL_PROBE candidates, so one is
 * always left).  Stripe lock held.
 */

static struct rllocal_entry *
rllocal_slot(struct rllocal *t, const struct rllocal_key *k, uint64_t h, int64_t now,
    struct rllocal_entry *const *avoid, int navoid)
{
	struct rllocal_entry *v = t->stripes[h % RLLOCAL_STRIPES].v, *pick = NULL;
	size_t start = (size_t)((h / RLLOCAL_STRIPES) % t->per_stripe);

	for (size_t i = 0; i < RLLOCAL_PROBE; i++) {
		struct rllocal_entry *e = &v[(start + i) % t->per_stripe];

		if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0)
			return e;
	}
	for (size_t i = 0; i < RLLOCAL_PROBE; i++) {
		struct rllocal_entry *e = &v[(start + i) % t->per_stripe];

		if (rllocal_taken(e, avoid, navoid))
			continue;
		if (!rllocal_live(e, now)) {
			pick = e;
			break;
		}
		if (pick == NULL || e->tat_us < pick->tat_us)
			pick = e;
	}
	pick->key = *k;
	pick->used = true;
	pick->tat_us = now;
	pick->seen_us = now;
	return pick;
}

/* Lock the stripes of `h[0..n)` in index order (once when they coincide). */
static bool
rllocal_has(const size_t *v, int n, size_t x)
{
	for (int i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Lock (or unlock) the distinct stripes of `h`, always in ascending order. */
static void
rllocal_lock(struct rllocal *t, const uint64_t *h, int n, bool lock)
{
	size_t st[RLLOCAL_MAX_REQS];
	int m = 0;

	for (int i = 0; i < n; i++) {
		size_t x = h[i] % RLLOCAL_STRIPES;
		int j = m;

		if (rllocal_has(st, m, x))
			continue;
		while (j > 0 && st[j - 1] > x) {
			st[j] = st[j - 1];
			j--;
		}
		st[j] = x;
		m++;
	}
	if (lock) {
		for (int i = 0; i < m; i++)
			pthread_mutex_lock(&t->stripes[st[i]].lock);
	} else {
		for (int i = m; i-- > 0;)
			pthread_mutex_unlock(&t->stripes[st[i]].lock);
	}
}

bool
rllocal_check(struct rllocal *t, const struct rllocal_req *reqs, int n, int64_t now_us,
    int64_t *retry_after_us, int *tier)
{
	struct rllocal_key k[RLLOCAL_MAX_REQS];
	struct rllocal_entry *e[RLLOCAL_MAX_REQS] = {NULL};
	uint64_t h[RLLOCAL_MAX_REQS];
	int64_t tat[RLLOCAL_MAX_REQS], wait = 0;
	int wait_tier = 0;

	if (n < 1 || n > RLLOCAL_MAX_REQS)
		return true;
	for (int i = 0; i < n; i++) {
		k[i] = rllocal_key_of(&reqs[i]);
		h[i] = rllocal_hash(&k[i]);
	}
	rllocal_lock(t, h, n, true);
	for (int i = 0; i < n; i++) {
		int64_t cost = reqs[i].cost > 0 ? reqs[i].cost : 1;
		int64_t over;

		e[i] = rllocal_slot(t, &k[i], h[i], now_us, e, i);
		tat[i] = rllocal_live(e[i], now_us) ? e[i]->tat_us : now_us;
		e[i]->seen_us = now_us;
		over = tat[i] + (cost - 1) * reqs[i].interval_us - now_us - reqs[i].tau_us;
		if (over > wait) {
			wait = over;
			wait_tier = reqs[i].tier;
		}
		tat[i] += cost * reqs[i].interval_us;
	}
	if (wait_tier == 0) {
		for (int i = 0; i < n; i++)
			e[i]->tat_us = tat[i];
	}
	rllocal_lock(t, h, n, false);
	*retry_after_us = wait;
	*tier = wait_tier;
	return wait_tier == 0;
}

size_t
rllocal_count(struct rllocal *t, int64_t now_us)
{
	size_t n = 0;

	for (size_t s = 0; s < RLLOCAL_STRIPES; s++) {
		pthread_mutex_lock(&t->stripes[s].lock);
		for (size_t i = 0; i < t->per_stripe; i++)
			n += rllocal_live(&t->stripes[s].v[i], now_us);
		pthread_mutex_unlock(&t->stripes[s].lock);
	}
	return n;
}

/* The live entry for `req`, or NULL.  Stripe lock held. */
static struct rllocal_entry *
rllocal_find(struct rllocal *t, const struct rllocal_key *k, uint64_t h, int64_t now)
{
	struct rllocal_entry *v = t->stripes[h % RLLOCAL_STRIPES].v;
	size_t start = (size_t)((h / RLLOCAL_STRIPES) % t->per_stripe);

	for (size_t i = 0; i < RLLOCAL_PROBE; i++) {
		struct rllocal_entry *e = &v[(start + i) % t->per_stripe];

		if (e->used && memcmp(&e->key, k, sizeof(*k)) == 0)
			return rllocal_live(e, now) ? e : NULL;
	}
	return NULL;
}

int64_t
rllocal_peek(struct rllocal *t, const struct rllocal_req *req, int64_t now_us)
{
	struct rllocal_key k = rllocal_key_of(req);
	uint64_t h = rllocal_hash(&k);
	struct rllocal_entry *e;
	int64_t tat;

	pthread_mutex_lock(&t->stripes[h % RLLOCAL_STRIPES].lock);
	e = rllocal_find(t, &k, h, now_us);
	tat = e != NULL ? e->tat_us : now_us;
	pthread_mutex_unlock(&t->stripes[h % RLLOCAL_STRIPES].lock);
	return tat;
}

bool
rllocal_forget(struct rllocal *t, const struct rllocal_req *req, int64_t now_us)
{
	struct rllocal_key k = rllocal_key_of(req);
	uint64_t h = rllocal_hash(&k);
	struct rllocal_entry *e;

	pthread_mutex_lock(&t->stripes[h % RLLOCAL_STRIPES].lock);
	e = rllocal_find(t, &k, h, now_us);
	if (e != NULL)
		e->used = false;
	pthread_mutex_unlock(&t->stripes[h % RLLOCAL_STRIPES].lock);
	return e != NULL;
}
