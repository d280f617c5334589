/*
 * Unit tests: the limits of issue 16 in the policy core -- which client
 * names count as forward-confirmed (Postfix's and Sendmail's macros, and
 * their hostile spellings), that each exemption lifts the limit and
 * nothing else, the SPF exemption's Authentication-Results, the sender
 * domain exempt only with SPF pass, the outbound limit's reply and log,
 * and the recipient budget counting accepted recipients only.  The local
 * table decides (no Redis); SPF is an offline checker.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "log.h"
#include "milter/policy/policy.h"
#include "tests/unit/policy/testpolicy.h"

/* The SPF records these tests' senders have (offline: no DNS). */
static const struct testpolicy_rr zone[] = {
	{"pass.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/24 -all"},
	{"other.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/24 -all"},
	{"strict.example", SPFCHECK_RR_TXT, "v=spf1 -all"},
};

static struct policy *
make_policy(const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text), "authserv_id = \"mx.test.invalid\"\n"
	    "trusted_networks = {\"10.200.0.0/24\"}\nallowed_domains = {\"example.com\"}\n"
	    "banned_domains = {\"evil.example\"}\n"
	    "spf { enabled = false  fail = accept\n"
	    "  exempt_networks = {\"198.51.100.25/32\"}  exempt_client_names = {\"backup.partner.example\"} }\n"
	    "%s\n", extra);
	return testpolicy_new_spf(text, zone, sizeof(zone) / sizeof(zone[0]));
}

#define LIMITS "ratelimit { rate = 1  period = 1h  burst = 1  redis { host = \"\" }\n" \
	"  exempt_networks = {\"203.0.113.128/25\"}\n" \
	"  exempt_client_names = {\".big.example\", \"mx.single.example\"}\n" \
	"  exempt_sender_domains = {\"pass.example\"} }\n"

/* How many of `n` messages pass MAIL FROM for a client with these connect macros. */
static int
passes(struct policy *p, const char *ip, const char *name, const char *resolve, const char *from,
    int n)
{
	struct policy_session *s = testpolicy_session(p, ip);
	struct policy_verdict v;
	int ok = 0;

	policy_client_name(s, name, resolve);
	policy_helo(s, "mx1.big.example");   /* the HELO never counts */
	for (int i = 0; i < n; i++) {
		policy_mail(s, from, NULL, NULL, &v);
		ok += v.action == POLICY_CONTINUE;
		policy_abort(s);
	}
	policy_session_free(s);
	return ok;
}

static void
test_names(void)
{
	static const struct {
		const char *name, *resolve;
		bool exempt;
		const char *what;
	} cases[] = {
		{"mx1.big.example", NULL, true, "Postfix: a confirmed name below .big.example"},
		{"MX1.Big.Example.", NULL, true, "case and a trailing dot"},
		{"big.example", NULL, true, "the dotted entry covers the domain itself"},
		{"mx.single.example", NULL, true, "an exact entry"},
		{"a.mx.single.example", NULL, false, "an exact entry covers no subdomain"},
		{"mx1.big.example", "OK", true, "Sendmail: {client_resolve} OK"},
		{"mx1.big.example", "FORGED", false, "Sendmail: forged PTR"},
		{"mx1.big.example", "FAIL", false, "Sendmail: lookup failed"},
		{"mx1.big.example", "TEMP", false, "Sendmail: temporary failure"},
		{"mx1.big.example", "ok", false, "only Sendmail's exact OK"},
		{"mx1.big.example", "", false, "an empty {client_resolve}"},
		{"unknown", NULL, false, "Postfix: not confirmed"},
		{"UNKNOWN", NULL, false, "unknown in capitals"},
		{"[192.0.2.1]", NULL, false, "an address literal"},
		{"", NULL, false, "empty"},
		{NULL, NULL, false, "no macro"},
		{"evilbig.example", NULL, false, "a suffix without its dot"},
		{"mx1.big.example.evil.test", NULL, false, "the entry as a prefix"},
		{"mx1 .big.example", NULL, false, "a space"},
		{"mx1.big.example\n", NULL, false, "a line break"},
		{"mx1..big.example", NULL, false, "an empty label"},
		{"xn--bcher-kva.big.example", NULL, true, "a valid A-label is a name like any other"},
		{"xn--mx1.big.example", NULL, false, "an invalid A-label is no name"},
	};
	struct policy *p = make_policy(LIMITS);
	char ip[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ok;

		snprintf(ip, sizeof(ip), "192.0.2.%zu", 100 + i);
		ok = passes(p, ip, cases[i].name, cases[i].resolve, "<a@sender.example>", 3);
		CHECK(ok == (cases[i].exempt ? 3 : 1), "%s: %d of 3 passed (burst 1)", cases[i].what, ok);
	}
	{
		char longname[400];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		memcpy(longname + sizeof(longname) - 13, ".big.example", 13);
		CHECK(passes(p, "192.0.2.99", longname, NULL, "<a@sender.example>", 3) == 1,
		    "an over-long name is no name");
	}
	CHECK(passes(p, "203.0.113.200", NULL, NULL, "<a@sender.example>", 3) == 3,
	    "an exempt network, without any name");
	CHECK(passes(p, "203.0.113.5", NULL, NULL, "<a@sender.example>", 3) == 1,
	    "next to the exempt network");
	policy_unref(p);
}

static void
test_exempt_still_checked(void)
{
	struct policy *p = make_policy(LIMITS);
	struct policy_session *s = testpolicy_session(p, "192.0.2.50");
	struct policy_verdict v;

	policy_client_name(s, "mx1.big.example", NULL);
	policy_mail(s, "<a@evil.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_BANNED_DOMAIN,
	    "an exempt client is still checked against the ban list");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_rcpt(s, "<x@elsewhere.example>", NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN,
	    "an exempt client may not relay");
	CHECK(policy_session_class(s) == POLICY_INTERNET, "an exempt client stays an internet client");
	policy_session_free(s);
	policy_unref(p);
}

static void
test_sender_domain(void)
{
	struct policy *p = make_policy("spf { enabled = true  fail = accept }\n" LIMITS);

	CHECK(passes(p, "192.0.2.20", NULL, NULL, "<a@pass.example>", 3) == 3,
	    "pass.example with SPF pass from its own network: exempt");
	CHECK(passes(p, "198.18.0.20", NULL, NULL, "<a@pass.example>", 3) == 1,
	    "pass.example from elsewhere (SPF fail): charged");
	CHECK(passes(p, "192.0.2.21", NULL, NULL, "<a@other.example>", 3) == 1,
	    "SPF pass for a domain not listed: charged");
	CHECK(passes(p, "192.0.2.22", NULL, NULL, "<a@sub.pass.example>", 3) == 1,
	    "a subdomain not listed (no record): charged");
	CHECK(passes(p, "192.0.2.23", NULL, NULL, "<a@PASS.EXAMPLE.>", 3) == 3,
	    "case and a trailing dot do not matter");
	policy_unref(p);
}

static void
test_spf_exempt(void)
{
	struct policy *p = make_policy("spf { enabled = true  fail = reject }\n"
	    "ratelimit { enabled = false }");
	struct policy_session *s = testpolicy_session(p, "198.51.100.25");
	struct policy_verdict v;
	struct policy_edits e = {0};

	policy_helo(s, "backup.partner.example");
	policy_mail(s, "<a@strict.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "SPF fail not applied to an SPF-exempt network");
	policy_rcpt(s, "<b@example.com>", NULL, &v);
	policy_eom(s, "Q1", &e, &v);
	CHECK(e.n == 1 && e.v[0].insert && !strcmp(e.v[0].name, "Authentication-Results"),
	    "one header: Authentication-Results, no Received-SPF (%zu)", e.n);
	if (e.n >= 1)
		CHECK_STR(e.v[0].value, "mx.test.invalid; spf=none reason=\"client in spf.exempt_networks\" "
		    "smtp.mailfrom=strict.example", "spf=none with the reason");
	policy_edits_free(&e);
	policy_rcpt(s, "<b@elsewhere.example>", NULL, &v);
	CHECK(v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN, "SPF-exempt: still no relay");
	policy_mail(s, "<a@evil.example>", NULL, NULL, &v);
	CHECK(v.reason == POLICY_REASON_BANNED_DOMAIN, "SPF-exempt: still banned");
	policy_session_free(s);

	s = testpolicy_session(p, "192.0.2.77");
	policy_client_name(s, "backup.partner.example", NULL);
	policy_mail(s, "<a@strict.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "SPF-exempt by confirmed name");
	policy_session_free(s);

	s = testpolicy_session(p, "192.0.2.78");
	policy_client_name(s, "unknown", NULL);
	policy_helo(s, "backup.partner.example");
	policy_mail(s, "<a@strict.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_SPF_FAIL,
	    "the same name as HELO only: SPF applies");
	policy_session_free(s);
	policy_unref(p);
}

static void
test_outbound(void)
{
	struct policy *p = make_policy("ratelimit { redis { host = \"\" }\n"
	    "  outbound { enabled = true  rate = 1  period = 1h  burst = 2 } }\n"
	    "outbound { enabled = true }");
	struct policy_session *s = testpolicy_session(p, "10.200.0.5");
	struct policy_verdict v;
	int ok = 0;

	for (int i = 0; i < 4; i++) {
		policy_mail(s, "<a@example.com>", "alice", NULL, &v);
		ok += v.action == POLICY_CONTINUE;
	}
	CHECK(ok == 2, "alice: burst 2 (%d)", ok);
	CHECK(v.action == POLICY_TEMPFAIL && !strcmp(v.rcode, "451") && !strcmp(v.xcode, "4.7.1") &&
	    v.reason == POLICY_REASON_OUTBOUND_RATELIMITED, "451 4.7.1 outbound-ratelimited");
	CHECK(strncmp(v.text, "Too many messages from this sender, try again in ", 49) == 0 &&
	    testpolicy_reply_safe(v.text), "reply text: %s", v.text);
	policy_mail(s, "<a@example.com>", "bob", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "bob, same session and sender: his own bucket");
	policy_mail(s, "<a@example.com>", "alice\r\n250 ok", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "a different login is a different bucket");
	CHECK(strstr(testpolicy_log, "\\x0d\\x0a") != NULL || strstr(testpolicy_log, "ACCEPTED") == NULL,
	    "no raw line break from a login reaches the log: %s", testpolicy_log);
	policy_session_free(s);

	/* Without SASL: per envelope sender, the address compared without case. */
	s = testpolicy_session(p, "10.200.0.6");
	ok = 0;
	for (int i = 0; i < 3; i++) {
		policy_mail(s, i == 1 ? "<App@Example.COM>" : "<app@example.com>", NULL, NULL, &v);
		ok += v.action == POLICY_CONTINUE;
	}
	CHECK(ok == 2, "per sender, any case: burst 2 (%d)", ok);
	policy_session_free(s);

	/* Internet clients are not touched by the outbound limit. */
	CHECK(passes(p, "192.0.2.9", NULL, NULL, "<app@example.com>", 3) == 3,
	    "an internet client: outbound limit not applied (inbound limit default)");
	policy_unref(p);

	/* Redis away and on_redis_error = tempfail: 451 4.3.0, not a fake "too many". */
	p = make_policy("ratelimit { on_redis_error = tempfail  redis { port = 1  timeout = 300ms }\n"
	    "  outbound { enabled = true } }\noutbound { enabled = true }");
	s = testpolicy_session(p, "10.200.0.7");
	policy_mail(s, "<a@example.com>", "carol", NULL, &v);
	CHECK(v.action == POLICY_TEMPFAIL && v.reason == POLICY_REASON_RATELIMIT_UNAVAILABLE &&
	    !strcmp(v.rcode, "451") && !strcmp(v.xcode, "4.3.0"),
	    "outbound with Redis away (tempfail): ratelimit-unavailable 451 4.3.0");
	policy_session_free(s);
	policy_unref(p);
}

static void
test_recipients(void)
{
	struct policy *p = make_policy("ratelimit { rate = 1  period = 1h  burst = 100  redis { host = \"\" }\n"
	    "  recipients { enabled = true  rate = 1  period = 1h  burst = 5 } }");
	struct policy_session *s = testpolicy_session(p, "192.0.2.30");
	struct policy_verdict v;
	struct policy_edits e = {0};

	CHECK(policy_wants_data(p), "the face must ask for DATA");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "MAIL: nothing decided yet");
	for (int i = 0; i < 3; i++)
		policy_rcpt(s, "<b@example.com>", NULL, &v);
	for (int i = 0; i < 4; i++)
		policy_rcpt(s, "<b@elsewhere.example>", NULL, &v);
	policy_data(s, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "3 accepted recipients of a budget of 5: pass (4 refused, free)");
	policy_abort(s);
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	for (int i = 0; i < 3; i++)
		policy_rcpt(s, "<b@example.com>", NULL, &v);
	policy_data(s, "Q2", &v);
	CHECK(v.action == POLICY_TEMPFAIL && v.reason == POLICY_REASON_RECIPIENTS_RATELIMITED &&
	    !strcmp(v.rcode, "450") && !strcmp(v.xcode, "4.7.1"), "3 more: 450 4.7.1 rcpt-ratelimited");
	CHECK(strstr(testpolicy_log, "Q2: BLOCKED reason=rcpt-ratelimited action=tempfail ip=192.0.2.30 ")
	    == testpolicy_log, "log: %s", testpolicy_log);
	policy_abort(s);
	/* The MTA skipped DATA (negotiated before a reload): decided at end of message. */
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_rcpt(s, "<b@example.com>", NULL, &v);
	policy_eom(s, "Q3", &e, &v);
	CHECK(v.action == POLICY_CONTINUE, "one more recipient fits (4 of 5), decided at EOM");
	policy_edits_free(&e);
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_rcpt(s, "<b@example.com>", NULL, &v);
	policy_rcpt(s, "<c@example.com>", NULL, &v);
	policy_eom(s, "Q4", &e, &v);
	CHECK(v.action == POLICY_TEMPFAIL && e.n == 0,
	    "4 used of 5, 2 more at EOM: tempfail, no edits");
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

int
main(void)
{
	log_set_level(LOG_DEBUG);
	testpolicy_capture(LOG_INFO);
	test_names();
	test_exempt_still_checked();
	test_sender_domain();
	test_spf_exempt();
	test_outbound();
	test_recipients();
	return check_done("exempt_test");
}
