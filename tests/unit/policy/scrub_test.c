/* Unit tests: finding internal addresses in Received headers (milter/policy/scrub.c). */
#include "config.h"

#include "tests/unit/check.h"
#include "netaddr.h"
#include "milter/policy/scrub.h"

static struct net_list
nets(const char **list)
{
	struct net_list l = {0};

	for (; *list != NULL; list++) {
		struct net_cidr n;
		const char *why;

		if (net_cidr_parse(*list, &n, &why) == 0)
			net_list_add(&l, &n);
	}
	return l;
}

int
main(void)
{
	static const char *trusted_s[] = {"10.200.0.0/24", "fd00:200::/64", NULL};
	static const char *internal_s[] = {"192.168.0.0/16", "2001:db8:1::/48", NULL};
	static const struct {
		const char *value;
		int internal;
	} cases[] = {
		{"from core.inner (core.inner [10.200.0.3]) by hop1 (Postfix) with ESMTPS id X", 1},
		{"from mail.example.net (mail.example.net [203.0.113.5]) by mx.example.com", 0},
		{"from [192.168.7.20] (helo=laptop) by core.inner with esmtpsa", 1},
		{"from laptop (helo=192.168.7.20)\n\tby core.inner", 1},
		{"from core (core\n\t[10.200.0.9])\n\tby hop1 with ESMTP", 1},           /* folded */
		{"from x ([IPv6:fd00:200::5]) by hop", 1},
		{"from x ([IPv6:FD00:200:0:0::5]) by hop", 1},
		{"from x (x [IPv6:2001:db8:1:ffff::1]) by y", 1},
		{"from x (x [IPv6:2001:db8:2::1]) by y", 0},
		{"from x (x [::ffff:10.200.0.4]) by y", 1},                             /* v4-mapped */
		{"from x (x [fe80::1%eth0]) by y", 0},
		{"from x (x 10.200.0.8:25) by y", 1},                                    /* with port */
		{"by mx.example.com; Sun, 22 Nov 2026 08:30:00 +0000", 0},               /* times */
		{"from host10.200.0.1.example (unknown [203.0.113.1])", 0},             /* inside a name */
		{"from x by y for <user@[10.200.0.2]>;", 1},                             /* literal in for */
		{"from a (b [10.200.0.1.]) by c", 1},
		{"", 0},
		{"10.200.0.255", 1},
		{"10.200.1.0", 0},
	};
	struct net_list t = nets(trusted_s), in = nets(internal_s);
	struct net_addr found;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(scrub_names_internal(cases[i].value, &t, &in, &found) == (cases[i].internal != 0),
		    "case %zu \"%s\": want %d", i, cases[i].value, cases[i].internal);
	CHECK(!scrub_names_internal("from x [10.200.0.3]", NULL, NULL, NULL), "no lists: nothing internal");
	CHECK(scrub_names_internal("from x [10.200.0.3]", NULL, &t, NULL), "second list alone");
	net_list_free(&t);
	net_list_free(&in);
	return check_done("scrub_test");
}
