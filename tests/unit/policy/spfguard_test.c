/*
 * Unit tests: SPF on hostile input through spfcheck_message(), the
 * function the milter calls, with the guard layer of milter/policy/spfguard.c
 * and an offline zone served as wire-format DNS messages.
 *   - the bypasses libspf2 alone allowed: %{h} with a HELO that is no
 *     domain, redirect= before a mechanism, redirect= with "all", invalid
 *     records that libspf2 evaluated to pass, a NUL byte in a record;
 *   - the RFC 7208 section 4.6.4 budget over includes and redirects: 10
 *     terms pass and 11 are a permerror, 2 void lookups pass and 3 are a
 *     permerror, PTR names past 10 ignored, more than 10 MX names a
 *     permerror, the most a legal record can make stays under the
 *     per-message cap;
 *   - real-world shapes: a 2 kB record in 255-byte strings, includes 10
 *     deep, IPv6-only senders.
 * Addresses are documentation ranges (libspf2 passes loopback unasked).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter/policy/spfcheck.h"
#include "milter/policy/spfdns.h"
#include "milter/policy/spfguard.h"
#include "tests/unit/check.h"

static void
quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

static struct spfcheck *
checker(void)
{
	struct spfcheck_opts o = {.receiver = "mx.test.invalid", .dns_timeout_ms = 1000,
	    .timeout_ms = 10000};
	struct spfcheck *sc;
	char err[256];

	if (spfcheck_new_offline(&o, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "spfcheck: %s\n", err);
		exit(2);
	}
	return sc;
}

static void
add(struct spfcheck *sc, const char *name, enum spfcheck_rr type, const char *data)
{
	if (spfcheck_zone_add(sc, name, type, data) != 0) {
		fprintf(stderr, "zone entry %s refused\n", name);
		exit(2);
	}
}

/* One message: the result of MAIL FROM `sender` from `ip` with HELO `helo`. */
static enum spfcheck_result
run(struct spfcheck *sc, const char *ip, const char *helo, const char *sender,
    struct spfcheck_answer *a)
{
	struct net_addr addr;

	if (net_addr_parse(ip, &addr) != 0) {
		fprintf(stderr, "bad address %s\n", ip);
		exit(2);
	}
	spfcheck_message(sc, &addr, helo, sender, a);
	return a->result;
}

static void
expect(struct spfcheck *sc, const char *ip, const char *helo, const char *sender,
    enum spfcheck_result want, const char *detail_part, const char *what)
{
	struct spfcheck_answer a;
	enum spfcheck_result got = run(sc, ip, helo, sender, &a);

	CHECK(got == want, "%s: got %s (%s), want %s", what, spfcheck_result_name(got), a.detail,
	    spfcheck_result_name(want));
	if (detail_part != NULL)
		CHECK(strstr(a.detail, detail_part) != NULL, "%s: detail \"%s\" should say \"%s\"",
		    what, a.detail, detail_part);
}

static void
test_bypasses(void)
{
	struct spfcheck *sc = checker();
	static const char nul_rec[] = "v=spf1 +all\0 -all";
	static const char nul_rec2[] = "v=spf1 ip4:192.0.2.9 -all\0ip4:198.51.100.0/24";

	add(sc, "h.example", SPFCHECK_RR_TXT, "v=spf1 exists:%{h}.ok.h.example -all");
	add(sc, "mail.good.example.ok.h.example", SPFCHECK_RR_A, "127.0.0.2");
	add(sc, "open.example", SPFCHECK_RR_TXT, "v=spf1 +all");
	add(sc, "before.example", SPFCHECK_RR_TXT, "v=spf1 redirect=open.example -ip4:192.0.2.66");
	add(sc, "withall.example", SPFCHECK_RR_TXT, "v=spf1 redirect=open.example -all");
	add(sc, "dupexp.example", SPFCHECK_RR_TXT, "v=spf1 exp=a.example exp=b.example +all");
	add(sc, "badmacro.example", SPFCHECK_RR_TXT, "v=spf1 a:%{z}.example ~all +all");
	add(sc, "cidr032.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/032 +all");
	add(sc, "toplabel.example", SPFCHECK_RR_TXT, "v=spf1 -a:foo.123 +all");
	add(sc, "ctrl.example", SPFCHECK_RR_TXT, "v=spf1 -ip4:192.0.2.66\x01 +all");
	spfcheck_zone_add_txt(sc, "nul.example", nul_rec, sizeof(nul_rec) - 1);
	spfcheck_zone_add_txt(sc, "nul2.example", nul_rec2, sizeof(nul_rec2) - 1);

	/* %{h} is the HELO as sent: a bogus one fails, it is no permerror. */
	expect(sc, "192.0.2.66", "JUMPIN' JUPITER", "a@h.example", SPFCHECK_FAIL, NULL,
	    "%{h} with a HELO that is no domain");
	expect(sc, "192.0.2.66", "[192.0.2.66]", "a@h.example", SPFCHECK_FAIL, NULL,
	    "%{h} with an address literal");
	expect(sc, "192.0.2.66", "x", "a@h.example", SPFCHECK_FAIL, NULL,
	    "%{h} with a one-label HELO");
	expect(sc, "192.0.2.66", "mail.good.example", "a@h.example", SPFCHECK_PASS, NULL,
	    "%{h} with the HELO the record allows");
	expect(sc, "192.0.2.66", "MAIL.GOOD.EXAMPLE", "a@h.example", SPFCHECK_PASS, NULL,
	    "%{h} in upper case");
	/* The HELO's trailing dot stays: "...example..ok.h.example" is no name, no match. */
	expect(sc, "192.0.2.66", "mail.good.example.", "a@h.example", SPFCHECK_FAIL, NULL,
	    "%{h} with a trailing dot");
	/* The label the rewrite uses for a/mx "/0", written by the client itself, is not honoured. */
	{
		char helo[128];

		add(sc, "victim.example", SPFCHECK_RR_TXT, "v=spf1 a:%{h} -all");
		add(sc, "attacker.example", SPFCHECK_RR_A, "203.0.113.50");
		snprintf(helo, sizeof(helo), "attacker.example.%s", spfguard_any_mark());
		expect(sc, "192.0.2.66", helo, "a@victim.example", SPFCHECK_FAIL, NULL,
		    "a HELO ending in the /0 mark");
	}
	/* A sender domain over 253 is not shortened into some other domain's record. */
	{
		char from[400];
		size_t o = (size_t)snprintf(from, sizeof(from), "a@");

		add(sc, "*.wild.example", SPFCHECK_RR_TXT, "v=spf1 +all");
		for (int i = 0; i < 40; i++)
			o += (size_t)snprintf(from + o, sizeof(from) - o, "abcdef.");
		snprintf(from + o, sizeof(from) - o, "wild.example");
		expect(sc, "192.0.2.66", "helo.test", from, SPFCHECK_NONE, NULL,
		    "a 292-byte sender domain under a wildcard that passes all");
		expect(sc, "192.0.2.66", "helo.test", "a@abcdef.wild.example", SPFCHECK_PASS, NULL,
		    "the wildcard itself");
	}
	/* redirect= runs after the mechanisms, and not at all with "all". */
	expect(sc, "192.0.2.66", "helo.test", "a@before.example", SPFCHECK_FAIL, NULL,
	    "redirect before a mechanism");
	expect(sc, "192.0.2.67", "helo.test", "a@before.example", SPFCHECK_PASS, NULL,
	    "redirect after no match");
	expect(sc, "192.0.2.66", "helo.test", "a@withall.example", SPFCHECK_FAIL, NULL,
	    "redirect with all");
	/* Records the RFC calls errors, each of which libspf2 evaluated to pass. */
	expect(sc, "192.0.2.66", "helo.test", "a@dupexp.example", SPFCHECK_PERMERROR, "exp=",
	    "two exp= modifiers");
	expect(sc, "192.0.2.66", "helo.test", "a@badmacro.example", SPFCHECK_PERMERROR,
	    "macro letter", "a bad macro letter");
	expect(sc, "192.0.2.66", "helo.test", "a@cidr032.example", SPFCHECK_PERMERROR, "CIDR",
	    "a CIDR of /032");
	expect(sc, "192.0.2.66", "helo.test", "a@toplabel.example", SPFCHECK_PERMERROR,
	    "top label", "a numeric top label");
	expect(sc, "192.0.2.66", "helo.test", "a@ctrl.example", SPFCHECK_PERMERROR, "0x01",
	    "a control character");
	/* A NUL in the TXT data, from the DNS message: the record is invalid, not cut short. */
	expect(sc, "192.0.2.66", "helo.test", "a@nul.example", SPFCHECK_PERMERROR, "NUL",
	    "NUL after +all");
	expect(sc, "198.51.100.5", "helo.test", "a@nul2.example", SPFCHECK_PERMERROR, NULL,
	    "NUL before more mechanisms");
	spfcheck_free(sc);
}

/* name.example: "v=spf1 include:<name>1.example -all", ... `depth` levels, the last passes. */
static void
add_chain(struct spfcheck *sc, const char *name, int depth, const char *last)
{
	char n[64], rec[128];

	for (int i = 0; i < depth; i++) {
		snprintf(n, sizeof(n), i == 0 ? "%s.example" : "%s%d.example", name, i);
		snprintf(rec, sizeof(rec), "v=spf1 include:%s%d.example -all", name, i + 1);
		add(sc, n, SPFCHECK_RR_TXT, rec);
	}
	snprintf(n, sizeof(n), "%s%d.example", name, depth);
	add(sc, n, SPFCHECK_RR_TXT, last);
}

static void
test_budget(void)
{
	struct spfcheck *sc = checker();
	struct spfcheck_answer a;
	char rec[1024];
	size_t o;

	/* Terms: includes 10 deep pass, 11 deep are one term too many. */
	add_chain(sc, "ten", 10, "v=spf1 ip4:192.0.2.0/24 -all");
	add_chain(sc, "eleven", 11, "v=spf1 ip4:192.0.2.0/24 -all");
	expect(sc, "192.0.2.1", "helo.test", "a@ten.example", SPFCHECK_PASS, NULL,
	    "includes 10 deep");
	expect(sc, "192.0.2.1", "helo.test", "a@eleven.example", SPFCHECK_PERMERROR,
	    "more than 10 DNS-querying terms", "includes 11 deep");
	/* Terms across a redirect and an include: 5 a + redirect + include + 4 a = 11. */
	add(sc, "r1.example", SPFCHECK_RR_TXT, "v=spf1 a:n1.r1.example a:n2.r1.example "
	    "a:n3.r1.example a:n4.r1.example a:n5.r1.example redirect=r2.example");
	add(sc, "r2.example", SPFCHECK_RR_TXT, "v=spf1 include:r3.example -all");
	add(sc, "r3.example", SPFCHECK_RR_TXT, "v=spf1 a:n1.r1.example a:n2.r1.example "
	    "a:n3.r1.example a:n4.r1.example ip4:192.0.2.0/24 -all");
	for (int i = 1; i <= 5; i++) {
		snprintf(rec, sizeof(rec), "n%d.r1.example", i);
		add(sc, rec, SPFCHECK_RR_A, "203.0.113.1");
	}
	expect(sc, "192.0.2.1", "helo.test", "a@r1.example", SPFCHECK_PERMERROR,
	    "more than 10", "11 terms over redirect and include");
	/* Void lookups: two are allowed, the third is a permerror. */
	add(sc, "void2.example", SPFCHECK_RR_TXT,
	    "v=spf1 a:no1.void.example mx:no2.void.example ip4:192.0.2.0/24 -all");
	add(sc, "void3.example", SPFCHECK_RR_TXT, "v=spf1 a:no1.void.example "
	    "mx:no2.void.example exists:no3.void.example ip4:192.0.2.0/24 -all");
	expect(sc, "192.0.2.1", "helo.test", "a@void2.example", SPFCHECK_PASS, NULL,
	    "two void lookups");
	expect(sc, "192.0.2.1", "helo.test", "a@void3.example", SPFCHECK_PERMERROR,
	    "void lookups", "three void lookups");
	/* PTR: 11 names, the client's is the 11th: ignored, so no match (and no permerror). */
	add(sc, "ptr.example", SPFCHECK_RR_TXT, "v=spf1 ptr:ptr.example ~all");
	for (int i = 1; i <= 11; i++) {
		snprintf(rec, sizeof(rec), "h%d.ptr.example", i);
		add(sc, "10.2.0.192.in-addr.arpa", SPFCHECK_RR_PTR, rec);
		add(sc, rec, SPFCHECK_RR_A, i == 11 ? "192.0.2.10" : "203.0.113.9");
	}
	expect(sc, "192.0.2.10", "helo.test", "a@ptr.example", SPFCHECK_SOFTFAIL, NULL,
	    "the 11th PTR name is not looked at");
	/* MX: more than 10 names is a permerror. */
	add(sc, "mx11.example", SPFCHECK_RR_TXT, "v=spf1 mx -all");
	for (int i = 1; i <= 11; i++) {
		snprintf(rec, sizeof(rec), "%d m%d.mx11.example", i, i);
		add(sc, "mx11.example", SPFCHECK_RR_MX, rec);
		snprintf(rec, sizeof(rec), "m%d.mx11.example", i);
		add(sc, rec, SPFCHECK_RR_A, "203.0.113.7");
	}
	expect(sc, "192.0.2.10", "helo.test", "a@mx11.example", SPFCHECK_PERMERROR, NULL,
	    "11 MX names");
	/* The most a legal check asks: 10 mx terms of 10 names each, all misses. */
	o = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	for (int i = 1; i <= 10; i++)
		o += (size_t)snprintf(rec + o, sizeof(rec) - o, " mx:d%d.big.example", i);
	snprintf(rec + o, sizeof(rec) - o, " -all");
	add(sc, "big.example", SPFCHECK_RR_TXT, rec);
	add(sc, "helo.big.example", SPFCHECK_RR_TXT, rec);
	for (int i = 1; i <= 10; i++)
		for (int j = 1; j <= 10; j++) {
			char n[64], d[80];

			snprintf(n, sizeof(n), "d%d.big.example", i);
			snprintf(d, sizeof(d), "%d m%d.d%d.big.example", j, j, i);
			add(sc, n, SPFCHECK_RR_MX, d);
			snprintf(d, sizeof(d), "m%d.d%d.big.example", j, i);
			add(sc, d, SPFCHECK_RR_A, "203.0.113.8");
		}
	run(sc, "192.0.2.10", "helo.big.example", "a@big.example", &a);
	CHECK(a.result == SPFCHECK_FAIL, "10 x 10 MX names, HELO and MAIL FROM: got %s (%s)",
	    spfcheck_result_name(a.result), a.detail);
	/* The HELO fails and decides: its record, 10 MX lookups, 100 address lookups. */
	CHECK(spfdns_queries() == 111, "lookups of the message: %d, want 111",
	    spfdns_queries());
	/* The per-message cap, lowered so that the same message runs into it. */
	spfguard_set_message_cap(100);
	expect(sc, "192.0.2.10", "helo.big.example", "a@big.example", SPFCHECK_PERMERROR,
	    "too many DNS lookups", "the per-message cap");
	spfguard_set_message_cap(0);
	expect(sc, "192.0.2.10", "helo.big.example", "a@big.example", SPFCHECK_FAIL, NULL,
	    "the default cap again");
	spfcheck_free(sc);
}

static void
test_real_world(void)
{
	struct spfcheck *sc = checker();
	char rec[2400];
	size_t o;

	/* 2 kB in one TXT record (the zone sends it as 255-byte strings, as servers do). */
	o = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	for (int i = 0; o < 1950; i++)
		o += (size_t)snprintf(rec + o, sizeof(rec) - o, i % 2 ? " ip4:203.0.%d.0/24" :
		    " ip6:2001:db8:%x::/48", i);
	snprintf(rec + o, sizeof(rec) - o, " ip4:192.0.2.128/25 ip6:2001:db8:ffff::/48"
	    " include:_spf.big.example ~all");
	CHECK(strlen(rec) > 2000, "the record is %zu bytes", strlen(rec));
	add(sc, "long.example", SPFCHECK_RR_TXT, rec);
	add(sc, "_spf.big.example", SPFCHECK_RR_TXT, "v=spf1 ip4:198.51.100.0/24 -all");
	expect(sc, "192.0.2.200", "helo.test", "a@long.example", SPFCHECK_PASS, NULL,
	    "2 kB record, an address near its end");
	expect(sc, "2001:db8:ffff::25", "helo.test", "a@long.example", SPFCHECK_PASS, NULL,
	    "2 kB record, IPv6 near its end");
	expect(sc, "198.51.100.7", "helo.test", "a@long.example", SPFCHECK_PASS, NULL,
	    "2 kB record, through its include");
	expect(sc, "192.0.2.1", "helo.test", "a@long.example", SPFCHECK_SOFTFAIL, NULL,
	    "2 kB record, no match");
	/* IPv6-only senders: a/mx find AAAA records, an IPv4 client finds none. */
	add(sc, "v6.example", SPFCHECK_RR_TXT, "v=spf1 a mx//64 -all");
	add(sc, "v6.example", SPFCHECK_RR_AAAA, "2001:db8:6::1");
	add(sc, "v6.example", SPFCHECK_RR_MX, "10 out.v6.example");
	add(sc, "out.v6.example", SPFCHECK_RR_AAAA, "2001:db8:66::1");
	expect(sc, "2001:db8:6::1", "helo.test", "a@v6.example", SPFCHECK_PASS, NULL,
	    "IPv6-only: a");
	expect(sc, "2001:db8:66::abcd", "helo.test", "a@v6.example", SPFCHECK_PASS, NULL,
	    "IPv6-only: mx//64");
	expect(sc, "2001:db8:67::1", "helo.test", "a@v6.example", SPFCHECK_FAIL, NULL,
	    "IPv6-only: another network");
	expect(sc, "192.0.2.1", "helo.test", "a@v6.example", SPFCHECK_FAIL, NULL,
	    "IPv6-only domain, IPv4 client");
	spfcheck_free(sc);
}

int
main(void)
{
	log_set_sink(quiet, NULL);
	test_bypasses();
	test_budget();
	test_real_world();
	return check_done("spfguard_test");
}
