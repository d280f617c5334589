/*
 * Unit tests: the in-process GCRA table (milter/policy/rllocal.c) with made-up
 * clocks: burst, steady rate, retry-after, refused requests not charged,
 * two tiers charged together, idle entries forgotten, the table's bound
 * and eviction, and many threads charging one bucket exactly.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "milter/policy/rllocal.h"

#define SEC 1000000LL

static struct rllocal_req
req(int tier, const char *ip, unsigned prefix, int64_t interval, int64_t burst)
{
	struct rllocal_req r = {.tier = tier, .prefix = prefix, .interval_us = interval,
	    .tau_us = interval * (burst - 1)};

	if (net_addr_parse(ip, &r.net) != 0)
		abort();
	net_addr_mask(&r.net, prefix);
	return r;
}

static bool
ask(struct rllocal *t, const struct rllocal_req *r, int n, int64_t now, int64_t *wait, int *tier)
{
	int64_t w = 0;
	int tr = 0;
	bool ok = rllocal_check(t, r, n, now, &w, &tr);

	if (wait != NULL)
		*wait = w;
	if (tier != NULL)
		*tier = tr;
	return ok;
}

static void
test_burst_and_rate(void)
{
	struct rllocal *t = rllocal_new(1024);
	struct rllocal_req r = req(1, "192.0.2.1", 32, 1 * SEC, 3);
	int64_t now = 1000 * SEC, wait;
	int tier, allowed = 0;

	for (int i = 0; i < 3; i++)
		CHECK(ask(t, &r, 1, now, NULL, NULL), "burst request %d allowed", i + 1);
	CHECK(!ask(t, &r, 1, now, &wait, &tier), "fourth refused");
	CHECK(wait == 1 * SEC && tier == 1, "retry after exactly T: %lld tier %d", (long long)wait, tier);
	for (int i = 0; i < 10; i++)
		CHECK(!ask(t, &r, 1, now + 999999, &wait, NULL), "still refused just before");
	CHECK(wait == 1, "refusals were not charged: wait %lld", (long long)wait);
	CHECK(ask(t, &r, 1, now + SEC, NULL, NULL), "allowed after retry-after");
	/* Steady rate: over 100 s of requests every 10 ms, 100 more are allowed. */
	for (int64_t at = now + SEC + 10000; at <= now + 101 * SEC; at += 10000)
		allowed += ask(t, &r, 1, at, NULL, NULL);
	CHECK(allowed == 100, "steady rate: %d allowed in 100 s, want 100", allowed);
	CHECK(rllocal_count(t, now + 101 * SEC) == 1, "one live entry");
	CHECK(rllocal_count(t, now + 200 * SEC) == 0, "bucket full again: entry carries nothing");
	rllocal_free(t);
}

static void
test_two_tiers(void)
{
	struct rllocal *t = rllocal_new(1024);
	int64_t now = 5 * SEC, wait;
	int tier, ok = 0;

	/* Hosts of 192.0.2.0/24: 2 each, 5 for the /24; 4 hosts x 3 tries. */
	for (int h = 1; h <= 4; h++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "192.0.2.%d", h);
		struct rllocal_req r[2] = {req(1, ip, 32, 60 * SEC, 2), req(2, ip, 24, 60 * SEC, 5)};
		for (int i = 0; i < 3; i++)
			ok += ask(t, r, 2, now, &wait, &tier);
	}
	CHECK(ok == 5, "the subnet allows 5 in all: %d", ok);
	struct rllocal_req o[2] = {req(1, "192.0.3.1", 32, 60 * SEC, 2), req(2, "192.0.3.1", 24, 60 * SEC, 5)};
	CHECK(ask(t, o, 2, now, NULL, NULL), "another /24 is separate");
	struct rllocal_req x[2] = {req(1, "192.0.2.9", 32, 60 * SEC, 2), req(2, "192.0.2.9", 24, 60 * SEC, 5)};
	CHECK(!ask(t, x, 2, now, &wait, &tier) && tier == 2, "new host, full subnet: tier 2 (%d)", tier);
	/* Tier 1 of .9 was not charged by that refusal: it still has its burst of 2. */
	struct rllocal_req x1 = req(1, "192.0.2.9", 32, 60 * SEC, 2);
	CHECK(ask(t, &x1, 1, now, NULL, NULL) && ask(t, &x1, 1, now, NULL, NULL),
	    "a refused two-tier call charged neither tier");
	rllocal_free(t);
}

static void
test_idle_and_families(void)
{
	struct rllocal *t = rllocal_new(64);
	struct rllocal_req slow = req(1, "2001:db8:1:2::1", 64, 3600 * SEC, 1);
	struct rllocal_req same = req(1, "2001:db8:1:2:ffff::9", 64, 3600 * SEC, 1);
	struct rllocal_req v4 = req(1, "32.1.13.184", 32, 3600 * SEC, 1);

	CHECK(ask(t, &slow, 1, 0, NULL, NULL), "IPv6 first");
	CHECK(!ask(t, &same, 1, SEC, NULL, NULL), "same /64 shares the bucket");
	CHECK(ask(t, &v4, 1, SEC, NULL, NULL), "IPv4 with the same leading bytes is another key");
	CHECK(!ask(t, &slow, 1, 59 * SEC, NULL, NULL), "still limited at 59 s");
	CHECK(ask(t, &slow, 1, 59 * SEC + RLLOCAL_IDLE_US, NULL, NULL),
	    "forgotten after %lld s without a request", RLLOCAL_IDLE_US / SEC);
	rllocal_free(t);
}

static void
test_bounded(void)
{
	struct rllocal *t = rllocal_new(256);
	size_t cap = rllocal_capacity(t);
	int refused = 0;

	CHECK(cap >= 256 && cap < 512, "capacity %zu", cap);
	/* Ten times more clients than slots, all live (1 per hour): memory stays put. */
	for (int i = 0; i < 2560; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
		struct rllocal_req r = req(1, ip, 32, 3600 * SEC, 1);
		CHECK(ask(t, &r, 1, SEC + i, NULL, NULL), "client %d allowed", i);
	}
	CHECK(rllocal_count(t, SEC + 2560) <= cap, "never more live entries than slots");
	CHECK(rllocal_count(t, SEC + 2560) > cap / 2, "the table is used: %zu live",
	    rllocal_count(t, SEC + 2560));
	/* The most recent clients survive eviction (the oldest TATs go first). */
	for (int i = 2560 - 8; i < 2560; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.%d.%d.1", i / 256, i % 256);
		struct rllocal_req r = req(1, ip, 32, 3600 * SEC, 1);
		refused += !ask(t, &r, 1, SEC + 2560, NULL, NULL);
	}
	CHECK(refused == 8, "recent clients still limited: %d of 8", refused);
	rllocal_free(t);
}

#define THREADS 8
#define TRIES 500

struct shared {
	struct rllocal *t;
	int allowed[THREADS];
};

struct worker {
	struct shared *s;
	int id;
};

static void *
hammer(void *arg)
{
	struct worker *w = arg;
	struct rllocal_req r[2] = {req(1, "198.51.100.7", 32, 3600 * SEC, 100),
	    req(2, "198.51.100.7", 24, 3600 * SEC, 1000)};

	for (int i = 0; i < TRIES; i++)
		w->s->allowed[w->id] += ask(w->s->t, r, 2, 10 * SEC, NULL, NULL);
	return NULL;
}

static void
test_threads(void)
{
	struct shared s = {.t = rllocal_new(1024)};
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	int total = 0;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){.s = &s, .id = i};
		pthread_create(&tid[i], NULL, hammer, &w[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		total += s.allowed[i];
	}
	CHECK(total == 100, "8 threads x 500 on one bucket of burst 100: %d allowed", total);
	rllocal_free(s.t);
}

int
main(void)
{
	test_burst_and_rate();
	test_two_tiers();
	test_idle_and_families();
	test_bounded();
	test_threads();
	return check_done("rllocal_test");
}
