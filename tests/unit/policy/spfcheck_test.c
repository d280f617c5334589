/*
 * Unit tests: SPF evaluation (milter/policy/spfcheck.c and its DNS layers) against
 * an offline zone served as wire-format DNS messages (spfzone.c) -- every result,
 * libspf2's INVALID mapped to temperror/permerror, include and redirect
 * chains, IPv6, the null sender and the HELO identity, explanations, the
 * deadline -- and the header values built from the answers (authres.c).
 * Addresses are TEST-NET / documentation ranges: libspf2 passes loopback
 * without looking at DNS.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "milter/policy/authres.h"
#include "tests/unit/check.h"
#include "log.h"
#include "milter/policy/spfcheck.h"

static void
quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

static const struct {
	const char *name;
	enum spfcheck_rr type;
	const char *data;
} zone[] = {
	{"pass.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:25::/48 -all"},
	{"pass.example", SPFCHECK_RR_TXT, "an unrelated TXT record"},
	{"soft.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/24 ~all"},
	{"neutral.example", SPFCHECK_RR_TXT, "v=spf1 ?all"},
	{"nospf.example", SPFCHECK_RR_A, "192.0.2.1"},
	{"syntax.example", SPFCHECK_RR_TXT, "v=spf1 ipx:192.0.2.1 -all"},
	{"two.example", SPFCHECK_RR_TXT, "v=spf1 -all"},
	{"two.example", SPFCHECK_RR_TXT, "v=spf1 +all"},
	{"temp.example", SPFCHECK_RR_TIMEOUT, NULL},
	{"deeptemp.example", SPFCHECK_RR_TXT, "v=spf1 include:temp.example -all"},
	{"inc.example", SPFCHECK_RR_TXT, "v=spf1 include:mid.example -all"},
	{"mid.example", SPFCHECK_RR_TXT, "v=spf1 include:pass.example ~all"},
	{"redir.example", SPFCHECK_RR_TXT, "v=spf1 redirect=pass.example"},
	{"noinc.example", SPFCHECK_RR_TXT, "v=spf1 include:nowhere.example -all"},
	{"mx.example", SPFCHECK_RR_TXT, "v=spf1 mx a:host.mx.example -all"},
	{"mx.example", SPFCHECK_RR_MX, "10 mail.mx.example"},
	{"mail.mx.example", SPFCHECK_RR_A, "198.51.100.20"},
	{"host.mx.example", SPFCHECK_RR_AAAA, "2001:db8:77::1"},
	{"loop.example", SPFCHECK_RR_TXT, "v=spf1 a:a1.loop.example a:a2.loop.example "
	    "a:a3.loop.example a:a4.loop.example a:a5.loop.example a:a6.loop.example "
	    "a:a7.loop.example a:a8.loop.example a:a9.loop.example a:a10.loop.example "
	    "a:a11.loop.example -all"},
	{"expl.example", SPFCHECK_RR_TXT, "v=spf1 -all exp=why.expl.example"},
	{"why.expl.example", SPFCHECK_RR_TXT, "%{i} may not send for %{d}"},
	{"helo.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.5 -all"},
};

static struct spfcheck *
checker(long timeout_ms)
{
	struct spfcheck_opts o = {.receiver = "mx.test.invalid", .dns_timeout_ms = 1000,
	    .timeout_ms = timeout_ms};
	struct spfcheck *sc;
	char err[256];

	if (spfcheck_new_offline(&o, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "spfcheck: %s\n", err);
		exit(2);
	}
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++)
		if (spfcheck_zone_add(sc, zone[i].name, zone[i].type, zone[i].data) != 0) {
			fprintf(stderr, "zone entry %s refused\n", zone[i].name);
			exit(2);
		}
	return sc;
}

static void
test_results(void)
{
	static const struct {
		const char *ip, *sender;
		enum spfcheck_result want;
	} cases[] = {
		{"192.0.2.7", "alice@pass.example", SPFCHECK_PASS},
		{"198.51.100.9", "alice@pass.example", SPFCHECK_FAIL},
		{"2001:db8:25::7", "alice@pass.example", SPFCHECK_PASS},
		{"2001:db8:26::7", "alice@pass.example", SPFCHECK_FAIL},
		{"198.51.100.9", "bob@soft.example", SPFCHECK_SOFTFAIL},
		{"198.51.100.9", "bob@neutral.example", SPFCHECK_NEUTRAL},
		{"198.51.100.9", "bob@nospf.example", SPFCHECK_NONE},
		{"198.51.100.9", "bob@nonexistent.example", SPFCHECK_NONE},
		{"198.51.100.9", "bob@syntax.example", SPFCHECK_PERMERROR},
		{"198.51.100.9", "bob@two.example", SPFCHECK_PERMERROR},
		{"198.51.100.9", "bob@loop.example", SPFCHECK_PERMERROR},
		{"198.51.100.9", "bob@noinc.example", SPFCHECK_PERMERROR},
		{"198.51.100.9", "bob@temp.example", SPFCHECK_TEMPERROR},
		{"198.51.100.9", "bob@deeptemp.example", SPFCHECK_TEMPERROR},
		{"192.0.2.99", "carol@inc.example", SPFCHECK_PASS},
		{"203.0.113.5", "carol@inc.example", SPFCHECK_FAIL},
		{"192.0.2.99", "carol@redir.example", SPFCHECK_PASS},
		{"203.0.113.5", "carol@redir.example", SPFCHECK_FAIL},
		{"198.51.100.20", "dave@mx.example", SPFCHECK_PASS},
		{"2001:db8:77::1", "dave@mx.example", SPFCHECK_PASS},
		{"198.51.100.21", "dave@mx.example", SPFCHECK_FAIL},
		{"::ffff:192.0.2.8", "alice@pass.example", SPFCHECK_PASS},
	};
	struct spfcheck *sc = checker(5000);
	struct spfcheck_answer a;
	struct net_addr ip;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		net_addr_parse(cases[i].ip, &ip);
		spfcheck_message(sc, &ip, "unchecked", cases[i].sender, &a);
		CHECK(a.result == cases[i].want, "%s from %s: got %s, want %s (%s)", cases[i].sender,
		    cases[i].ip, spfcheck_result_name(a.result), spfcheck_result_name(cases[i].want),
		    a.raw);
		CHECK(a.identity == SPFCHECK_ID_MAILFROM, "%s: MAIL FROM decides", cases[i].sender);
		CHECK(!a.deadline, "%s: no deadline", cases[i].sender);
	}
	spfcheck_free(sc);
}

static void
test_identities(void)
{
	struct spfcheck *sc = checker(5000);
	struct spfcheck_answer a;
	struct net_addr ip;

	/* Null sender: the HELO name stands in. */
	net_addr_parse("192.0.2.5", &ip);
	spfcheck_message(sc, &ip, "helo.example", "", &a);
	CHECK(a.result == SPFCHECK_PASS && a.identity == SPFCHECK_ID_HELO, "null sender, HELO pass");
	CHECK_STR(a.domain, "helo.example", "null sender: the HELO domain decided");
	net_addr_parse("198.51.100.9", &ip);
	spfcheck_message(sc, &ip, "Helo.Example.", "", &a);
	CHECK(a.result == SPFCHECK_FAIL && a.identity == SPFCHECK_ID_HELO, "null sender, HELO fail");
	/* A failing HELO decides even for a sender whose domain would pass. */
	net_addr_parse("192.0.2.6", &ip);
	spfcheck_message(sc, &ip, "helo.example", "alice@pass.example", &a);
	CHECK(a.result == SPFCHECK_FAIL && a.identity == SPFCHECK_ID_HELO, "HELO fail decides");
	/* A HELO pass does not: MAIL FROM is what DMARC needs. */
	net_addr_parse("192.0.2.5", &ip);
	spfcheck_message(sc, &ip, "helo.example", "bob@soft.example", &a);
	CHECK(a.helo_result == SPFCHECK_PASS && a.result == SPFCHECK_PASS &&
	    a.identity == SPFCHECK_ID_MAILFROM, "HELO pass, MAIL FROM decides");
	net_addr_parse("198.51.100.9", &ip);
	spfcheck_message(sc, &ip, "helo.example", "bob@soft.example", &a);
	CHECK(a.result == SPFCHECK_FAIL, "HELO fail beats MAIL FROM softfail");
	/* HELO names that are no domain name are not checked. */
	spfcheck_message(sc, &ip, "[198.51.100.9]", "bob@soft.example", &a);
	CHECK(a.helo_result == SPFCHECK_NONE && a.result == SPFCHECK_SOFTFAIL, "literal HELO skipped");
	spfcheck_message(sc, &ip, "localhost", "", &a);
	CHECK(a.result == SPFCHECK_NONE && a.identity == SPFCHECK_ID_HELO,
	    "null sender with a one-label HELO: none");
	/* No checkable sender domain (literal, none): none. */
	spfcheck_message(sc, &ip, "x.invalid", NULL, &a);
	CHECK(a.result == SPFCHECK_NONE && a.identity == SPFCHECK_ID_MAILFROM, "no domain: none");
	spfcheck_free(sc);
}

static void
test_explanations(void)
{
	struct spfcheck *sc = checker(5000);
	struct spfcheck_answer a;
	struct net_addr ip;

	net_addr_parse("198.51.100.9", &ip);
	spfcheck_message(sc, &ip, "", "eve@expl.example", &a);
	CHECK(a.result == SPFCHECK_FAIL, "exp= record fails");
	CHECK_STR(a.detail, "198.51.100.9 may not send for expl.example", "the domain's explanation");
	spfcheck_message(sc, &ip, "", "eve@pass.example", &a);
	CHECK_STR(a.detail, "pass.example does not allow 198.51.100.9 to send mail for it",
	    "our default explanation");
	spfcheck_message(sc, &ip, "", "eve@temp.example", &a);
	CHECK(a.detail[0] != '\0', "temperror says what went wrong: %s", a.detail);
	spfcheck_free(sc);
}

static void
test_deadline(void)
{
	/* A spent budget: every lookup is refused at once, and the result is temperror. */
	struct spfcheck *sc = checker(0);
	struct spfcheck_answer a;
	struct net_addr ip;

	net_addr_parse("192.0.2.7", &ip);
	spfcheck_message(sc, &ip, "helo.example", "alice@pass.example", &a);
	CHECK(a.result == SPFCHECK_TEMPERROR && a.deadline, "spent budget: temperror (%s)",
	    spfcheck_result_name(a.result));
	spfcheck_identity(sc, &ip, "helo.example", "alice@pass.example", &a);
	CHECK(a.result == SPFCHECK_TEMPERROR && a.deadline, "one identity, spent budget");
	spfcheck_free(sc);
	/* The same checker with time: the deadline of the last call is gone. */
	sc = checker(2000);
	spfcheck_identity(sc, &ip, "helo.example", "alice@pass.example", &a);
	CHECK(a.result == SPFCHECK_PASS && !a.deadline, "budget left: pass");
	spfcheck_free(sc);
}

static void
test_zone_input(void)
{
	struct spfcheck *sc = checker(1000);

	CHECK(spfcheck_zone_add(sc, "x.example", SPFCHECK_RR_A, "not-an-ip") != 0, "bad A refused");
	CHECK(spfcheck_zone_add(sc, "x.example", SPFCHECK_RR_TIMEOUT, "data") != 0,
	    "TIMEOUT with data refused (libspf2 would abort)");
	spfcheck_free(sc);
}

static struct spfcheck_answer
answer(enum spfcheck_result r, enum spfcheck_identity id, const char *sender, const char *helo,
    const char *domain)
{
	struct spfcheck_answer a;

	memset(&a, 0, sizeof(a));
	a.result = r;
	a.identity = id;
	snprintf(a.ip, sizeof(a.ip), "192.0.2.7");
	snprintf(a.sender, sizeof(a.sender), "%s", sender);
	snprintf(a.helo, sizeof(a.helo), "%s", helo);
	snprintf(a.domain, sizeof(a.domain), "%s", domain);
	return a;
}

static void
test_headers(void)
{
	char buf[2048];
	struct spfcheck_answer a = answer(SPFCHECK_PASS, SPFCHECK_ID_MAILFROM, "alice@pass.example",
	    "mail.pass.example", "pass.example");

	CHECK(authres_spf(&a, "mx.test.invalid", buf, sizeof(buf)) == 0, "A-R fits");
	CHECK_STR(buf, "mx.test.invalid; spf=pass smtp.mailfrom=pass.example", "A-R mailfrom");
	CHECK(authres_received_spf(&a, "mx.test.invalid", buf, sizeof(buf)) == 0, "R-SPF fits");
	CHECK_STR(buf, "pass (mx.test.invalid: domain of pass.example designates 192.0.2.7 as "
	    "permitted sender)\n\tclient-ip=192.0.2.7; envelope-from=\"alice@pass.example\";"
	    "\n\thelo=mail.pass.example;\n\treceiver=mx.test.invalid; identity=mailfrom;",
	    "Received-SPF pass");
	CHECK(authres_received_spf(&a, "mx.test.invalid", buf, 60) != 0, "too small a buffer");

	a = answer(SPFCHECK_FAIL, SPFCHECK_ID_HELO, "", "helo.example", "helo.example");
	authres_spf(&a, "mx.test.invalid", buf, sizeof(buf));
	CHECK_STR(buf, "mx.test.invalid; spf=fail smtp.helo=helo.example", "A-R helo");
	authres_received_spf(&a, "mx.test.invalid", buf, sizeof(buf));
	CHECK(strstr(buf, "envelope-from") == NULL && strstr(buf, "identity=helo;") != NULL,
	    "null sender Received-SPF: %s", buf);

	/* Client text cannot forge a key=value or end the field. */
	a = answer(SPFCHECK_SOFTFAIL, SPFCHECK_ID_MAILFROM, "\"x\\\"; identity=mailfrom; a\"@s.example",
	    "bad helo; identity=mailfrom\r\nX: y", "s.example");
	authres_received_spf(&a, "mx.test.invalid", buf, sizeof(buf));
	CHECK(strstr(buf, "envelope-from=\"\\\"x\\\\\\\"; identity=mailfrom; a\\\"@s.example\";") !=
	    NULL, "envelope-from quoted: %s", buf);
	CHECK(strstr(buf, "helo=\"bad helo; identity=mailfrom??X: y\";") != NULL,
	    "helo quoted, CR LF replaced: %s", buf);
	/* Found by fuzz_authres: a sender of quotes doubled past 998 per line. */
	{
		char sender[520];
		size_t line = 0, longest = 0;

		memset(sender, '"', sizeof(sender) - 1);
		sender[sizeof(sender) - 1] = '\0';
		a = answer(SPFCHECK_PASS, SPFCHECK_ID_MAILFROM, sender, "h.example", "q.example");
		CHECK(authres_received_spf(&a, "mx.test.invalid", buf, sizeof(buf)) == 0, "long sender fits");
		for (const char *p = buf; *p; p++) {
			line = *p == '\n' ? 0 : line + 1;
			longest = line > longest ? line : longest;
		}
		CHECK(longest < 998, "Received-SPF line of %zu characters", longest);
	}
	a = answer(SPFCHECK_NONE, SPFCHECK_ID_MAILFROM, "x@[192.0.2.1]", "h.example", "");
	authres_spf(&a, "mx.test.invalid", buf, sizeof(buf));
	CHECK_STR(buf, "mx.test.invalid; spf=none", "no domain: no property");
	a = answer(SPFCHECK_TEMPERROR, SPFCHECK_ID_MAILFROM, "a@t.example", "", "t(x).example");
	authres_received_spf(&a, "mx.test.invalid", buf, sizeof(buf));
	CHECK(strstr(buf, "(mx.test.invalid: temporary error looking up the SPF policy of "
	    "t?x?.example)") != NULL, "comment cannot be closed early: %s", buf);
}

static void
test_claims(void)
{
	static const struct {
		const char *value;
		bool want;
	} cases[] = {
		{"mx.test.invalid; spf=pass smtp.mailfrom=x", true},
		{"MX.Test.Invalid;spf=pass", true},
		{"  (forged by me) mx.test.invalid 1; spf=pass", true},
		{"(nested (comment) here) mx.test.invalid; none", true},
		{"\"mx.test.invalid\"; dkim=pass", true},
		{"mx.test.invalid", true},
		/* Folded as an MTA passes it on (the milter sees the line breaks). */
		{"\n\tmx.test.invalid;\n\tspf=pass smtp.mailfrom=x", true},
		{"\r\n mx.test.invalid\r\n ; spf=pass", true},
		{" (a\r\n\tcomment) mx.test.invalid; none", true},
		{"mx.test.invalid.evil.example; spf=pass", false},
		{"other.example; spf=pass (mx.test.invalid)", false},
		{"mx.test.invalidx; spf=pass", false},
		{"(unterminated mx.test.invalid; spf=pass", false},
		/* Every spelling a forger may try (issue 21). */
		{"mx.test.invalid.; spf=pass", true},
		{"MX.TEST.INVALID.;spf=pass", true},
		{"mx.test.invalid 1; spf=pass", true},
		{"mx.test.invalid\n\t1 (version); spf=pass", true},
		{"mx.test.invalid(comment right after); spf=pass", true},
		{"mx.test.invalid/1; spf=pass", true},
		{"(c1)\r\n\t(c2 (nested))\r\n mx.test.invalid.\r\n\t(c3) 1 ; spf=pass", true},
		{"\"MX.test.invalid.\"; spf=pass", true},
		{"\" mx.test.invalid \"; spf=pass", true},
		{"\"mx.test\\.invalid\"; spf=pass", true},
		{"\"mx.test.invalid; spf=pass", true},
		{"mx.test.invalid..; spf=pass", false},
		{"xmx.test.invalid; spf=pass", false},
		{"mx-test.invalid; spf=pass", false},
		{"\"other.example\" mx.test.invalid; spf=pass", false},
		{";mx.test.invalid; spf=pass", false},
		{"", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(authres_claims(cases[i].value, "mx.test.invalid") == cases[i].want,
		    "claims(\"%s\") should be %d", cases[i].value, cases[i].want);
	/* Our own id written with a trailing dot or in capitals in the config. */
	CHECK(authres_claims("mx.test.invalid; spf=pass", "MX.Test.Invalid."), "config spelling");
	CHECK(!authres_claims("mx.test.invalid; spf=pass", "other.example"), "other id");
}

int
main(void)
{
	log_set_sink(quiet, NULL);
	test_results();
	test_identities();
	test_explanations();
	test_deadline();
	test_zone_input();
	test_headers();
	test_claims();
	return check_done("spfcheck_test");
}
