/*
 * netlist_test - the lookup form of struct net_list (net_list_build, the
 * bisection in net_list_contains) and the sorted shadowing behind
 * net_list_public_size, against the plain definitions: an address is in
 * the list when some entry contains it (net_cidr_contains over every
 * entry), and an entry is shadowed when it lies within another one (the
 * first of equal ones counting).  Random lists from a fixed seed, both
 * families, dense enough that networks nest, repeat and touch, probed at
 * the first and last address of every entry, just outside each end, and
 * at random; then the hostile spellings written out.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../check.h"
#include "netaddr.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned
width(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* The plain definition, entry by entry. */
static bool
ref_contains(const struct net_list *l, const struct net_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (net_cidr_contains(&l->v[i], a))
			return true;
	return false;
}

/* a + 1 (delta 1) or a - 1 (delta -1) within its family; false on wrapping. */
static bool
addr_step(struct net_addr *a, int delta)
{
	for (int i = (int)width(a->family) / 8 - 1; i >= 0; i--) {
		uint8_t old = a->bytes[i];

		a->bytes[i] = (uint8_t)(old + delta);
		if ((delta > 0 && old != 0xff) || (delta < 0 && old != 0x00))
			return true;
	}
	return false;
}

static void
last_of(const struct net_cidr *c, struct net_addr *out)
{
	*out = c->addr;
	for (unsigned b = c->prefix; b < width(c->addr.family); b++)
		out->bytes[b / 8] |= (uint8_t)(0x80u >> (b % 8));
}

/*
 * A random network near `base`: the first `fixed` bits are base's, the
 * rest random, the prefix anywhere from `fixed` - 4 to the full width, so
 * that networks of one list overlap, repeat and sit side by side.  One in
 * eight is made from text, as a v4-mapped IPv6 spelling when IPv4.
 */
static void
random_net(const struct net_addr *base, unsigned fixed, struct net_cidr *c)
{
	unsigned w = width(base->family), lo;
	uint64_t r[2] = {rng(), rng()};

	if (fixed > w)
		fixed = w;
	lo = fixed > 4 ? fixed - 4 : 0;

	memset(c, 0, sizeof(*c));
	c->addr = *base;
	memcpy(c->addr.bytes, r, w / 8);
	for (unsigned b = 0; b < fixed && b < w; b++) {
		uint8_t bit = (uint8_t)(0x80u >> (b % 8));

		c->addr.bytes[b / 8] = (uint8_t)((c->addr.bytes[b / 8] & ~bit) |
		    (base->bytes[b / 8] & bit));
	}
	c->prefix = lo + (unsigned)(rng() % (w - lo + 1));
	net_addr_mask(&c->addr, c->prefix);
	if (rng() % 8 == 0) {
		char text[NET_ADDR_STRLEN + 16], a[NET_ADDR_STRLEN];
		struct net_cidr p;
		const char *why;

		net_addr_format(&c->addr, a, sizeof(a));
		if (c->addr.family == AF_INET)
			snprintf(text, sizeof(text), "::ffff:%s/%u", a, c->prefix + 96);
		else
			snprintf(text, sizeof(text), "%s/%u", a, c->prefix);
		CHECK(net_cidr_parse(text, &p, &why) == 0 && p.prefix == c->prefix &&
		    net_addr_equal(&p.addr, &c->addr), "parse %s", text);
	}
}

static void
random_base(int family, struct net_addr *base)
{
	uint64_t r[2] = {rng(), rng()};

	memset(base, 0, sizeof(*base));
	base->family = family;
	memcpy(base->bytes, r, width(family) / 8);
	switch (rng() % 8) {
	case 0:   /* the very bottom or top of the space, where +1/-1 wrap */
		memset(base->bytes, rng() % 2 ? 0xff : 0x00, width(family) / 8);
		break;
	case 1:   /* the end of a 64-bit half (IPv6) or of a /8 (IPv4): a carry */
		memset(base->bytes + width(family) / 16, 0xff, width(family) / 16);
		break;
	default:
		break;
	}
}

/* a + delta within the family's width, wrapping. */
static void
addr_add(struct net_addr *a, int64_t delta)
{
	uint64_t d = (uint64_t)delta;
	unsigned carry = 0;

	for (int i = (int)width(a->family) / 8 - 1, k = 0; i >= 0; i--, k++) {
		/* Beyond its 64 bits a negative delta is all ones. */
		unsigned db = k < 8 ? (unsigned)(d >> (8 * k)) & 0xff : delta < 0 ? 0xff : 0;
		unsigned sum = a->bytes[i] + db + carry;

		a->bytes[i] = (uint8_t)sum;
		carry = sum >> 8;
	}
}

/*
 * A small network within 2^spread addresses either side of `base`: many
 * of them crowd a few hundred addresses, leaving gaps of one address,
 * neighbours that touch, and hosts inside wider entries.
 */
static void
cluster_net(const struct net_addr *base, unsigned spread, struct net_cidr *c)
{
	unsigned w = width(base->family);

	memset(c, 0, sizeof(*c));
	c->addr = *base;
	addr_add(&c->addr, (int64_t)(rng() % (2u << spread)) - (int64_t)(1u << spread));
	c->prefix = w - (unsigned)(rng() % (spread + 2));
	net_addr_mask(&c->addr, c->prefix);
}

static int diff_failures;

static void
probe(const struct net_list *l, const struct net_addr *a, const char *what)
{
	bool want = ref_contains(l, a), got = net_list_contains(l, a);
	char buf[NET_ADDR_STRLEN];

	if (got != want && diff_failures++ < 10)
		CHECK(got == want, "%zu entries: %s %s: got %d, want %d", l->n, what,
		    net_addr_format(a, buf, sizeof(buf)), got, want);
	check_count++;
}

/* Probe every entry at both ends and just outside them, and random addresses. */
static void
probe_list(const struct net_list *l, int nrandom)
{
	for (size_t i = 0; i < l->n; i++) {
		struct net_addr a = l->v[i].addr, z;

		probe(l, &a, "first");
		if (addr_step(&a, -1))
			probe(l, &a, "first-1");
		last_of(&l->v[i], &z);
		probe(l, &z, "last");
		if (addr_step(&z, 1))
			probe(l, &z, "last+1");
	}
	for (int i = 0; i < nrandom; i++) {
		struct net_addr a;

		random_base(rng() % 2 ? AF_INET : AF_INET6, &a);
		probe(l, &a, "random");
		if (l->n > 0) {
			/* Random host bits under a random entry's leading bits. */
			struct net_cidr c;

			random_net(&l->v[rng() % l->n].addr, l->v[rng() % l->n].prefix, &c);
			probe(l, &c.addr, "near");
		}
	}
}

/* Entry i lies within another (the first of equal ones counts): the definition. */
static bool
ref_shadowed(const struct net_list *l, size_t i)
{
	for (size_t j = 0; j < l->n; j++) {
		const struct net_cidr *in = &l->v[i], *out = &l->v[j];

		if (j != i && in->addr.family == out->addr.family && out->prefix <= in->prefix &&
		    net_cidr_contains(out, &in->addr) && (out->prefix < in->prefix || j < i))
			return true;
	}
	return false;
}

/*
 * net_list_public_size() and net_list_widest_public() over the list equal
 * the same over its unshadowed entries alone (kept in order), where no
 * entry shadows another: so the sort found exactly the shadowed ones.
 */
static void
check_shadowing(const struct net_list *l)
{
	static const int fam[] = {AF_INET, AF_INET6};
	struct net_list top = {0};
	size_t *from = calloc(l->n + 1, sizeof(*from));   /* top's entry k is l's from[k] */
	char b1[64], b2[64];

	for (size_t i = 0; i < l->n; i++)
		if (!ref_shadowed(l, i)) {
			from[top.n] = i;
			net_list_add(&top, &l->v[i]);
		}
	for (size_t f = 0; f < 2; f++) {
		const struct net_cidr *w1 = net_list_widest_public(l, fam[f]),
		    *w2 = net_list_widest_public(&top, fam[f]);

		CHECK(net_list_public_size(l, fam[f]) == net_list_public_size(&top, fam[f]),
		    "%zu entries, family %d: public size %.0f, unshadowed entries %.0f", l->n,
		    fam[f], net_list_public_size(l, fam[f]), net_list_public_size(&top, fam[f]));
		CHECK((w1 == NULL && w2 == NULL) || (w1 != NULL && w2 != NULL &&
		    w1->prefix == w2->prefix && net_addr_equal(&w1->addr, &w2->addr)),
		    "%zu entries: widest %s, of the unshadowed %s", l->n,
		    w1 ? net_cidr_format(w1, b1, sizeof(b1)) : "none",
		    w2 ? net_cidr_format(w2, b2, sizeof(b2)) : "none");
		/* And the same entry: of equal ones, the first written. */
		CHECK(w1 == NULL || w2 == NULL || w1 == &l->v[from[w2 - top.v]],
		    "%zu entries: widest is entry %td, want %zu", l->n, w1 - l->v,
		    w2 ? from[w2 - top.v] : 0);
	}
	free(from);
	net_list_free(&top);
}

static void
test_random(void)
{
	static const size_t sizes[] = {0, 1, 2, 3, 5, 8, 13, 30, 60, 100, 200, 400, 1000, 3000, 10000};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (int round = 0; round < (sizes[s] >= 10000 ? 1 : sizes[s] >= 1000 ? 2 : 30); round++) {
			struct net_list l = {0};
			struct net_addr base4, base6;
			/*
			 * How many leading bits the entries share (dense lists nest
			 * and touch), or, in one round of two, a cluster of small
			 * networks around one address.
			 */
			unsigned fixed4 = (unsigned)(rng() % 30), fixed6 = (unsigned)(rng() % 126);
			bool cluster = rng() % 2 == 0;
			unsigned spread = (unsigned)(rng() % 10);

			random_base(AF_INET, &base4);
			random_base(AF_INET6, &base6);
			for (size_t i = 0; i < sizes[s]; i++) {
				struct net_cidr c;

				if (cluster)
					cluster_net(rng() % 3 == 0 ? &base6 : &base4, spread, &c);
				else if (rng() % 3 == 0)
					random_net(&base6, fixed6, &c);
				else
					random_net(&base4, fixed4, &c);
				CHECK(net_list_add(&l, &c) == 0, "add");
				if (i > 0 && rng() % 10 == 0)   /* a duplicate of an earlier entry */
					CHECK(net_list_add(&l, &l.v[rng() % l.n]) == 0, "add duplicate");
			}
			/* Unbuilt: the scan. */
			probe_list(&l, 50);
			CHECK(net_list_build(&l) == 0 && l.ranges != NULL, "build");
			probe_list(&l, 500);
			if (sizes[s] <= 400)
				check_shadowing(&l);
			net_list_free(&l);
		}
	}
	CHECK(diff_failures == 0, "%d lookups differ from the definition", diff_failures);
}

static void
list_of(struct net_list *l, const char *const *nets)
{
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; nets[i] != NULL; i++) {
		struct net_cidr c;
		const char *why;

		CHECK(net_cidr_parse(nets[i], &c, &why) == 0 && net_list_add(l, &c) == 0,
		    "list entry %s", nets[i]);
	}
	CHECK(net_list_build(l) == 0, "build");
}

static bool
has(const struct net_list *l, const char *addr)
{
	struct net_addr a;

	if (net_addr_parse(addr, &a) != 0) {
		CHECK(0, "probe %s does not parse", addr);
		return false;
	}
	CHECK(net_list_contains(l, &a) == ref_contains(l, &a), "%s: lookup and definition differ",
	    addr);
	return net_list_contains(l, &a);
}

static void
test_spellings(void)
{
	static const struct {
		const char *nets[8];
		const char *in[8], *out[8];
	} cases[] = {
		/* A v4-mapped client is an IPv4 client. */
		{{"10.0.0.0/8", NULL}, {"::ffff:10.0.0.1", "::FFFF:10.255.255.255", "10.0.0.0", NULL},
		    {"::10.0.0.1", "9.255.255.255", "11.0.0.0", "::ffff:11.0.0.0", "a00::1", NULL}},
		/* A v4-mapped network is an IPv4 network. */
		{{"::ffff:192.0.2.0/120", NULL}, {"192.0.2.0", "192.0.2.255", "::ffff:192.0.2.7", NULL},
		    {"192.0.3.0", "192.0.1.255", "::c000:207", NULL}},
		/* /0 of one family is none of the other (v4-mapped clients are IPv4). */
		{{"0.0.0.0/0", NULL}, {"0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4", NULL},
		    {"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL}},
		{{"::/0", NULL}, {"::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
		    {"0.0.0.0", "1.2.3.4", "::ffff:1.2.3.4", NULL}},
		/* Hosts at the ends of the space. */
		{{"0.0.0.0/32", "255.255.255.255/32", "::/128",
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", NULL},
		    {"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
		    {"0.0.0.1", "255.255.255.254", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		    "::ffff:0:1" /* 0.0.0.1 */, NULL}},
		/* Duplicates, nesting, overlap in any order. */
		{{"198.51.100.7", "198.51.100.0/24", "198.51.100.7/32", "198.51.0.0/16",
		    "198.51.100.0/24", NULL}, {"198.51.0.0", "198.51.255.255", "198.51.100.7", NULL},
		    {"198.50.255.255", "198.52.0.0", NULL}},
		/* Adjacent halves and their neighbours, both families. */
		{{"10.0.0.128/25", "10.0.0.0/25", "2001:db8::8000/113", "2001:db8::/113", NULL},
		    {"10.0.0.0", "10.0.0.127", "10.0.0.128", "10.0.0.255", "2001:db8::", "2001:db8::ffff",
		    NULL}, {"9.255.255.255", "10.0.0.256" /* no address */, "10.0.1.0", "2001:db8::1:0",
		    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL}},
		/* Across the 64-bit halves of IPv6 (the low word carries into the high). */
		{{"2001:db8:0:1::/64", "2001:db8::/64", NULL},
		    {"2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::", "2001:db8:0:1:ffff:ffff:ffff:ffff",
		    NULL}, {"2001:db8:0:2::", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL}},
		/* One address apart across a carry: the gap must stay a gap. */
		{{"2001:db8::ffff:ffff:ffff:fff0/124", "2001:db8:0:1::1", "10.255.255.254/31", "11.0.0.1",
		    NULL}, {"2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::1", "10.255.255.255",
		    "11.0.0.1", NULL}, {"2001:db8:0:1::", "2001:db8:0:1::2", "11.0.0.0", "11.0.0.2",
		    NULL}},
		/* Empty. */
		{{NULL}, {NULL}, {"0.0.0.0", "::", "10.0.0.1", NULL}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct net_list l;

		list_of(&l, cases[i].nets);
		for (size_t k = 0; cases[i].in[k] != NULL; k++)
			CHECK(has(&l, cases[i].in[k]), "case %zu: %s in the list", i, cases[i].in[k]);
		for (size_t k = 0; cases[i].out[k] != NULL; k++) {
			struct net_addr a;

			if (net_addr_parse(cases[i].out[k], &a) != 0)
				continue;   /* a spelling that is no address matches nothing */
			CHECK(!has(&l, cases[i].out[k]), "case %zu: %s not in the list", i,
			    cases[i].out[k]);
		}
		net_list_free(&l);
	}
}

/* Adding to a built list unbuilds it: the new entry is found at once. */
static void
test_add_after_build(void)
{
	struct net_list l;
	struct net_cidr c;
	const char *why;

	list_of(&l, (const char *const[]){"192.0.2.0/24", NULL});
	CHECK(!has(&l, "203.0.113.9"), "before the add");
	CHECK(net_cidr_parse("203.0.113.0/24", &c, &why) == 0 && net_list_add(&l, &c) == 0, "add");
	CHECK(l.ranges == NULL, "an add drops the lookup form");
	CHECK(has(&l, "203.0.113.9") && has(&l, "192.0.2.1"), "after the add, unbuilt");
	CHECK(net_list_build(&l) == 0 && has(&l, "203.0.113.9") && !has(&l, "203.0.114.0"),
	    "after the add, rebuilt");
	/* Many entries through the geometric growth, in order. */
	for (unsigned i = 0; i < 5000; i++) {
		char text[32];

		snprintf(text, sizeof(text), "100.%u.%u.0/24", 64 + i / 256, i % 256);
		CHECK(net_cidr_parse(text, &c, &why) == 0 && net_list_add(&l, &c) == 0, "%s", text);
	}
	CHECK(l.n == 5002 && l.cap >= l.n, "5002 entries kept");
	CHECK(net_list_build(&l) == 0, "build");
	CHECK_STR(net_cidr_format(&l.v[5001], (char[64]){0}, 64), "100.83.135.0/24",
	    "the text form of the last entry as written");
	CHECK(has(&l, "100.64.0.0") && has(&l, "100.83.135.255") && !has(&l, "100.83.136.0") &&
	    !has(&l, "100.63.255.255"), "the 5000 adjacent /24s are one range");
	net_list_free(&l);
	CHECK(l.n == 0 && l.v == NULL && l.ranges == NULL, "freed");
	net_list_free(&l);   /* twice is harmless */
}

int
main(void)
{
	test_spellings();
	test_add_after_build();
	test_random();
	return check_done("netlist_test");
}
