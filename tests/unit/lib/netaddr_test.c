/* Unit tests: addresses and CIDR networks (lib/netaddr.c). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tests/unit/check.h"
#include "netaddr.h"

static void
test_parse_format(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"192.0.2.1", "192.0.2.1"},
		{"2001:DB8:0:0::1", "2001:db8::1"},
		{"::ffff:198.51.100.7", "198.51.100.7"},  /* v4-mapped unwraps */
		{"::1", "::1"},
	};
	static const char *bad[] = {"", "192.0.2", "192.0.2.256", "1.2.3.4.5", "gggg::1", "IPv6:::1",
	    "10.1", " 192.0.2.1"};
	struct net_addr a;
	char buf[NET_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(net_addr_parse(cases[i].in, &a) == 0, "parse %s", cases[i].in);
		CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), cases[i].out, "format %s", cases[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(net_addr_parse(bad[i], &a) != 0, "accepted bad address '%s'", bad[i]);
}

static void
test_sockaddr(void)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct net_addr a;
	char buf[NET_ADDR_STRLEN];

	inet_pton(AF_INET6, "::ffff:203.0.113.9", &sin6.sin6_addr);
	CHECK(net_addr_from_sockaddr((struct sockaddr *)&sin6, &a) == 0 && a.family == AF_INET,
	    "v4-mapped sockaddr_in6 unwraps to AF_INET");
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "203.0.113.9", "v4-mapped text");
	inet_pton(AF_INET, "192.0.2.55", &sin.sin_addr);
	CHECK(net_addr_from_sockaddr((struct sockaddr *)&sin, &a) == 0, "sockaddr_in");
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "192.0.2.55", "sockaddr_in text");
	CHECK(net_addr_from_sockaddr(NULL, &a) != 0 && a.family == 0, "NULL sockaddr");
}

static void
test_cidr(void)
{
	static const struct {
		const char *net, *addr;
		int in;
	} cases[] = {
		{"10.200.0.0/24", "10.200.0.77", 1},
		{"10.200.0.0/24", "10.200.1.77", 0},
		{"10.200.0.0/24", "::ffff:10.200.0.5", 1},
		{"0.0.0.0/0", "203.0.113.1", 1},
		{"0.0.0.0/0", "2001:db8::1", 0},
		{"2001:db8::/32", "2001:db8:ffff::1", 1},
		{"2001:db8::/32", "2001:db9::1", 0},
		{"fd00::/8", "fdff:1::1", 1},
		{"::1", "::1", 1},
		{"192.0.2.1", "192.0.2.1", 1},
		{"192.0.2.1", "192.0.2.2", 0},
		{"::ffff:10.0.0.0/104", "10.1.2.3", 1},
		{"10.0.0.0/8", "2001:db8::a00:1", 0},
	};
	static const char *bad[] = {"10.0.0.1/8", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/",
	    "10.0.0.0/x", "/8", "example.com", "10.0.0.0/-1", "::ffff:10.0.0.0/64"};
	struct net_cidr n;
	struct net_addr a;
	const char *why;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(net_cidr_parse(cases[i].net, &n, &why) == 0, "parse cidr %s", cases[i].net);
		CHECK(net_addr_parse(cases[i].addr, &a) == 0, "parse addr %s", cases[i].addr);
		CHECK(net_cidr_contains(&n, &a) == (cases[i].in != 0), "%s in %s: want %d",
		    cases[i].addr, cases[i].net, cases[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(net_cidr_parse(bad[i], &n, &why) != 0, "accepted bad network '%s'", bad[i]);
}

static void
test_mask(void)
{
	struct net_addr a;
	char buf[NET_ADDR_STRLEN];

	net_addr_parse("2001:db8:1:2:3:4:5:6", &a);
	net_addr_mask(&a, 64);
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "2001:db8:1:2::", "mask /64");
	net_addr_parse("2001:db8:1:2:3:4:5:6", &a);
	net_addr_mask(&a, 52);
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "2001:db8:1::", "mask /52");
	net_addr_parse("198.51.100.77", &a);
	net_addr_mask(&a, 24);
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "198.51.100.0", "mask /24");
	net_addr_parse("198.51.100.77", &a);
	net_addr_mask(&a, 32);
	CHECK_STR(net_addr_format(&a, buf, sizeof(buf)), "198.51.100.77", "mask /32 is identity");
}

/* A list from a NULL-terminated array of CIDR texts. */
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
}

static void
test_public_size(void)
{
	static const struct {
		const char *nets[6];
		double v4, v6;
		const char *widest4;
	} cases[] = {
		{{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fd00::/8", NULL},
		    0, 0, NULL},
		{{"100.64.0.0/10", "169.254.0.0/16", "fe80::/10", "::1", "2001:db8::/32", NULL}, 0, 0, NULL},
		{{"198.51.100.7", NULL}, 0, 0, NULL},   /* documentation range */
		{{"44.0.0.0/8", NULL}, 16777216.0, 0, "44.0.0.0/8"},
		{{"44.0.0.0/8", "44.1.0.0/16", "44.1.2.3", NULL}, 16777216.0, 0, "44.0.0.0/8"},
		{{"44.1.0.0/16", "44.1.0.0/16", NULL}, 65536.0, 0, "44.1.0.0/16"},
		{{"192.0.2.1", "8.8.8.8", NULL}, 1, 0, "8.8.8.8/32"},
		/* All of IPv4 less the special blocks: 3 /8, a /10, 2 /16, a /12, 4 /24, a /15, 2 /4. */
		{{"0.0.0.0/0", NULL}, 4294967296.0 - 592708608.0, 0, "0.0.0.0/0"},
		{{"0.0.0.0/1", "128.0.0.0/1", NULL}, 4294967296.0 - 592708608.0, 0, "0.0.0.0/1"},
		{{"::ffff:0:0/96", NULL}, 4294967296.0 - 592708608.0, 0, "0.0.0.0/0"},
		{{"10.0.0.0/7", NULL}, 16777216.0, 0, "10.0.0.0/7"},   /* 11.0.0.0/8 is public */
		{{"2a00::/32", "fc00::/7", NULL}, 0, 79228162514264337593543950336.0, NULL},
	};
	struct net_list l;
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct net_cidr *w;

		list_of(&l, cases[i].nets);
		CHECK(net_list_public_size(&l, AF_INET) == cases[i].v4, "case %zu: IPv4 %.0f, want %.0f",
		    i, net_list_public_size(&l, AF_INET), cases[i].v4);
		CHECK(net_list_public_size(&l, AF_INET6) == cases[i].v6, "case %zu: IPv6 %.0f, want %.0f",
		    i, net_list_public_size(&l, AF_INET6), cases[i].v6);
		w = net_list_widest_public(&l, AF_INET);
		if (cases[i].widest4 == NULL)
			CHECK(w == NULL, "case %zu: no widest", i);
		else
			CHECK_STR(w ? net_cidr_format(w, buf, sizeof(buf)) : NULL, cases[i].widest4,
			    "case %zu: widest", i);
		net_list_free(&l);
	}
	/* IPv6: everything, and the global unicast block, are far past any limit. */
	list_of(&l, (const char *const[]){"::/0", NULL});
	CHECK(net_list_public_size(&l, AF_INET6) > 3.4e38 * 0.98, "::/0 is nearly all public");
	net_list_free(&l);
	list_of(&l, (const char *const[]){"2000::/3", NULL});
	CHECK(net_list_public_size(&l, AF_INET6) > 4.2e37 * 0.99, "2000::/3 less 2001:db8::/32");
	net_list_free(&l);
}

int
main(void)
{
	test_parse_format();
	test_sockaddr();
	test_cidr();
	test_mask();
	test_public_size();
	return check_done("netaddr_test");
}
