/*
 * netcost - what a network list costs: the per-message lookup
 * (net_list_contains, which hopmilter calls for trusted_networks,
 * internal_networks and the ratelimit and spf exempt_networks of every
 * session) and the load (adding the entries, building the lookup form,
 * and net_list_public_size, the wide-trusted_networks check), for lists of
 * random IPv4 and IPv6 networks of several sizes.  Prints key=value lines:
 * CPU nanoseconds per lookup (the process's CPU time, so a busy machine
 * slows the numbers less than wall time would) for probes that miss every
 * network (the common case: most clients are in no exemption list) and
 * for probes inside a random entry.
 *
 * usage: netcost [ENTRIES...]   (default 1 100 10000 100000)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "netaddr.h"

static uint64_t netcost_state = 0x9e3779b97f4a7c15u;

static uint64_t
netcost_rand(void)
{
	netcost_state ^= netcost_state << 13;
	netcost_state ^= netcost_state >> 7;
	netcost_state ^= netcost_state << 17;
	return netcost_state;
}

static double
netcost_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * A random network: three of four IPv4 (prefix 16-32, so that 100 000 of
 * them leave most of the space uncovered), else IPv6 (prefix 32-128); v4
 * under 64.0.0.0/2, v6 under 2000::/4, so that the miss probes below (v4
 * in 192.0.0.0/2, v6 in 3000::/4) are outside every entry.
 */
static void
netcost_net(struct net_cidr *c)
{
	uint64_t r = netcost_rand(), s = netcost_rand();

	memset(c, 0, sizeof(*c));
	if (r % 4 != 0) {
		c->addr.family = AF_INET;
		c->prefix = 16 + (unsigned)(s % 17);
		memcpy(c->addr.bytes, &r, 4);
		c->addr.bytes[0] = (uint8_t)(0x40 | (c->addr.bytes[0] & 0x3f));
	} else {
		c->addr.family = AF_INET6;
		c->prefix = 32 + (unsigned)(s % 97);
		memcpy(c->addr.bytes, &r, 8);
		s = netcost_rand();
		memcpy(c->addr.bytes + 8, &s, 8);
		c->addr.bytes[0] = (uint8_t)(0x20 | (c->addr.bytes[0] & 0x0f));
	}
	net_addr_mask(&c->addr, c->prefix);
}

static void
netcost_miss(struct net_addr *a, int i)
{
	uint64_t r = netcost_rand(), s = netcost_rand();

	memset(a, 0, sizeof(*a));
	if (i % 4 != 0) {
		a->family = AF_INET;
		memcpy(a->bytes, &r, 4);
		a->bytes[0] = (uint8_t)(0xc0 | (a->bytes[0] & 0x3f));
	} else {
		a->family = AF_INET6;
		memcpy(a->bytes, &r, 8);
		memcpy(a->bytes + 8, &s, 8);
		a->bytes[0] = (uint8_t)(0x30 | (a->bytes[0] & 0x0f));
	}
}

#define NETCOST_PROBES 1024

/* CPU ns per lookup over the probes, repeated until 0.3 s of CPU. */
static double
netcost_lookup_ns(const struct net_list *l, const struct net_addr *probe, int expect)
{
	double t0 = netcost_cpu_ns(), t;
	long n = 0;

	do {
		for (int i = 0; i < NETCOST_PROBES; i++)
			if ((int)net_list_contains(l, &probe[i]) != expect) {
				fprintf(stderr, "netcost: probe %d: wrong answer\n", i);
				exit(1);
			}
		n += NETCOST_PROBES;
		t = netcost_cpu_ns() - t0;
	} while (t < 3e8);
	return t / (double)n;
}

static void
netcost_size(size_t n)
{
	struct net_list l = {0};
	struct net_addr miss[NETCOST_PROBES], hit[NETCOST_PROBES];
	double t0, t_add, t_build, t_size, size;

	t0 = netcost_cpu_ns();
	for (size_t i = 0; i < n; i++) {
		struct net_cidr c;

		netcost_net(&c);
		if (net_list_add(&l, &c) != 0)
			exit(1);
	}
	t_add = netcost_cpu_ns() - t0;
	t0 = netcost_cpu_ns();
	if (net_list_build(&l) != 0)
		exit(1);
	t_build = netcost_cpu_ns() - t0;
	t0 = netcost_cpu_ns();
	size = net_list_public_size(&l, AF_INET) + net_list_public_size(&l, AF_INET6);
	t_size = netcost_cpu_ns() - t0;
	for (int i = 0; i < NETCOST_PROBES; i++) {
		const struct net_cidr *c = &l.v[netcost_rand() % n];
		uint64_t r = netcost_rand(), s = netcost_rand();

		netcost_miss(&miss[i], i);
		/* Inside c: its network bits, random host bits. */
		hit[i].family = c->addr.family;
		memcpy(hit[i].bytes, &r, 8);
		memcpy(hit[i].bytes + 8, &s, 8);
		if (c->addr.family == AF_INET)
			memset(hit[i].bytes + 4, 0, 12);
		for (unsigned b = 0; b < c->prefix; b++) {
			uint8_t bit = (uint8_t)(0x80u >> (b % 8));

			hit[i].bytes[b / 8] = (uint8_t)((hit[i].bytes[b / 8] & ~bit) |
			    (c->addr.bytes[b / 8] & bit));
		}
	}
	printf("entries=%zu miss_ns_per_lookup=%.1f hit_ns_per_lookup=%.1f add_ms=%.2f "
	    "build_ms=%.2f public_size_ms=%.2f public_size=%.0f\n", n,
	    netcost_lookup_ns(&l, miss, 0), netcost_lookup_ns(&l, hit, 1), t_add / 1e6,
	    t_build / 1e6, t_size / 1e6, size);
	fflush(stdout);
	net_list_free(&l);
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = {1, 100, 10000, 100000};

	if (argc > 1)
		for (int i = 1; i < argc; i++)
			netcost_size(strtoul(argv[i], NULL, 10));
	else
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			netcost_size(sizes[i]);
	return 0;
}
