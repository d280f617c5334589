/* Unit tests: envelope address parsing (lib/addr.c) and domain normalisation. */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "tests/unit/check.h"
#include "domain.h"

static void
test_addr(void)
{
	static const struct {
		const char *in;
		enum addr_status st;
		const char *local, *domain;
		int routed_local, source_route;
	} cases[] = {
		{"<alice@example.com>", ADDR_OK, "alice", "example.com", 0, 0},
		{"alice@Example.COM", ADDR_OK, "alice", "example.com", 0, 0},
		{"<bob@example.com.>", ADDR_OK, "bob", "example.com", 0, 0},
		{" <bob@EXAMPLE.org> ", ADDR_OK, "bob", "example.org", 0, 0},
		{"<>", ADDR_NULL, "", "", 0, 0},
		{"", ADDR_NULL, "", "", 0, 0},
		{"<postmaster>", ADDR_NO_DOMAIN, "postmaster", "", 0, 0},
		{"<\"a@b\"@example.com>", ADDR_OK, "\"a@b\"", "example.com", 0, 0},
		{"<\"x\\\"@y\"@example.com>", ADDR_OK, "\"x\\\"@y\"", "example.com", 0, 0},
		{"<\"unterminated@example.com>", ADDR_INVALID, "", "", 0, 0},
		{"<@relay.one,@relay.two:carol@Example.com>", ADDR_OK, "carol", "example.com", 0, 1},
		{"<@relay.one>", ADDR_INVALID, "", "", 0, 0},
		{"<user%other.example@example.com>", ADDR_OK, "user%other.example", "example.com", 1, 0},
		{"<host!user@example.com>", ADDR_OK, "host!user", "example.com", 1, 0},
		{"<\"user%x\"@example.com>", ADDR_OK, "\"user%x\"", "example.com", 0, 0},
		{"<user@[192.0.2.1]>", ADDR_LITERAL, "user", "[192.0.2.1]", 0, 0},
		{"<user@[IPv6:2001:db8::1]>", ADDR_LITERAL, "user", "[IPv6:2001:db8::1]", 0, 0},
		{"<user@exa mple.com>", ADDR_INVALID, "", "", 0, 0},
		{"<user@example..com>", ADDR_INVALID, "", "", 0, 0},
		{"<user@example.com..>", ADDR_INVALID, "", "", 0, 0},
		{"<@example.com>", ADDR_INVALID, "", "", 0, 0},
		{"<user@>", ADDR_INVALID, "", "", 0, 0},
		{"<user@example.com", ADDR_INVALID, "", "", 0, 0},
		{"user@example.com>", ADDR_INVALID, "", "", 0, 0},
		{"<jürgen@bücher.example>", ADDR_OK, "jürgen", "xn--bcher-kva.example", 0, 0},
		{"<a@BÜCHER.Example.>", ADDR_OK, "a", "xn--bcher-kva.example", 0, 0},
		{"<a@XN--BCHER-KVA.example>", ADDR_OK, "a", "xn--bcher-kva.example", 0, 0},
		{"<a@xn--zz.example>", ADDR_INVALID, "", "", 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addr a;
		enum addr_status st = addr_parse(cases[i].in, &a);

		CHECK(st == cases[i].st, "addr_parse(%s): status %d, want %d", cases[i].in, st,
		    cases[i].st);
		if (st != cases[i].st || st == ADDR_INVALID || st == ADDR_NULL)
			continue;
		CHECK_STR(a.local, cases[i].local, "local of %s", cases[i].in);
		if (st == ADDR_OK || st == ADDR_LITERAL)
			CHECK_STR(a.domain, cases[i].domain, "domain of %s", cases[i].in);
		CHECK(a.routed_local == cases[i].routed_local, "routed_local of %s", cases[i].in);
		CHECK(a.source_route == cases[i].source_route, "source_route of %s", cases[i].in);
	}
}

static void
test_domain(void)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"Example.COM", "example.com"}, {"example.com.", "example.com"},
		{"a-b_c.example", "a-b_c.example"}, {"xn--bcher-kva.example", "xn--bcher-kva.example"},
		/* IDN: one normal form for every spelling of exämple.test. */
		{"exämple.test", "xn--exmple-cua.test"}, {"EXÄMPLE.Test.", "xn--exmple-cua.test"},
		{"xn--exmple-cua.test", "xn--exmple-cua.test"},
		{"XN--EXMPLE-CUA.TEST.", "xn--exmple-cua.test"},
		{"Ex\x61\xcc\x88mple.test", "xn--exmple-cua.test"},   /* a + combining diaeresis: NFC */
		{"faß.de", "xn--fa-hia.de"},                           /* non-transitional */
		{"sub.bücher.example", "sub.xn--bcher-kva.example"},
	};
	static const char *bad[] = {
		"", ".", "..", "a..b", ".example.com", "exa mple.com",
		/* found by fuzz_addr: two trailing dots left one behind */
		"example.com..", "Exam\xbc..", "exam/ple.com", "[192.0.2.1]",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
		/* Invalid IDN: bad Punycode, a code point IDNA2008 forbids, either form. */
		"xn--zz.example", "xn--.example", "xn--a.test", "xn--exmple-xxx.test",
		"\xe2\x98\xba.example", "xn--ls8h.example", "b\xc3\xbc" "cher..example",
		"\xc3\x28.example",                                     /* not UTF-8 */
		"ex\xc3\xa4mple.test\xe3\x80\x82" "evil.example",          /* U+3002: UTS #46 makes it a dot */
	};
	static const struct {
		const char *in, *out;
	} loose[] = {
		{"xn--zz.Evil.Example.", "xn--zz.evil.example"},
		{"\xe2\x98\xba.evil.example", "\xe2\x98\xba.evil.example"},
		{"XN--LS8H.b\xc3\xbc" "cher.example", "xn--ls8h.xn--bcher-kva.example"},
	};
	char out[DOMAIN_MAX + 1], big[1100];
	const char *why;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(domain_normalize(ok[i].in, out, sizeof(out), &why) == 0, "normalize %s", ok[i].in);
		CHECK_STR(out, ok[i].out, "normalize %s", ok[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(domain_normalize(bad[i], out, sizeof(out), &why) != 0, "accepted bad domain '%s'",
		    bad[i]);
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		CHECK(domain_normalize_loose(loose[i].in, out, sizeof(out)) == 0, "loose %s", loose[i].in);
		CHECK_STR(out, loose[i].out, "loose %s", loose[i].in);
	}
	CHECK(domain_normalize_loose("a..evil.example", out, sizeof(out)) != 0, "loose: empty label");
	/* Long input never reaches libidn2 unbounded. */
	memset(big, 0xc3, sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(domain_normalize(big, out, sizeof(out), &why) != 0, "1 KiB of bytes refused");
	CHECK(domain_normalize_loose(big, out, sizeof(out)) != 0, "loose: 1 KiB refused");
}

int
main(void)
{
	test_addr();
	test_domain();
	return check_done("addr_test");
}
