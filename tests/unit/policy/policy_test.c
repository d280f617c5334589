/*
 * Unit tests: the policy core (milter/policy/policy.c) driven without libmilter:
 * classes, verdicts, dry run, per-message reset, header scrubbing edits,
 * and the exact log lines (the fail2ban contract).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/unit/check.h"
#include "log.h"
#include "milter/policy/policy.h"
#include "tests/unit/policy/testpolicy.h"

static struct policy *
make_policy(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
	    "trusted_networks = {\"10.200.0.0/24\", \"fd00:200::/64\"}\n"
	    "internal_networks = {\"192.168.0.0/16\"}\n"
	    "allowed_domains = {\"example.com\", \".example.org\"}\n"
	    "banned_domains = {\"evil.example\"}\n"
	    "spf { enabled = false }\n"
	    "%s%s", strstr(extra, "ratelimit") ? "" : "ratelimit { enabled = false }\n", extra);
	return testpolicy_new(text);
}

static void
test_inbound(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = testpolicy_session(p, "192.0.2.7");
	struct policy_verdict v;
	struct policy_edits e = {0};

	CHECK(policy_session_class(s) == POLICY_INTERNET, "TEST-NET client is internet class");
	policy_helo(s, "bad helo\r\n");
	policy_mail(s, "<spam@Mail.EVIL.example.>", NULL, NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_BANNED_DOMAIN, "banned subdomain");
	CHECK_STR(v.rcode, "550", "banned rcode");
	CHECK_STR(v.xcode, "5.7.1", "banned xcode");
	CHECK_STR(testpolicy_log, "NOQUEUE: BLOCKED reason=banned-domain action=reject ip=192.0.2.7 "
	    "from=<spam@Mail.EVIL.example.> helo=bad\\x20helo\\x0d\\x0a", "banned log line");

	/* Same session, next message: nothing of the banned one remains. */
	policy_mail(s, "<alice@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "good sender continues");
	policy_rcpt(s, "<bob@Example.COM>", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "allowed domain, any case");
	policy_rcpt(s, "<carol@elsewhere.example>", NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN, "foreign rcpt");
	CHECK(strstr(testpolicy_log, "reason=unknown-rcpt-domain action=reject ip=192.0.2.7 "
	    "from=<alice@sender.example> to=<carol@elsewhere.example>") != NULL, "rcpt log: %s", testpolicy_log);
	policy_rcpt(s, "<dave@deep.sub.example.org>", "4Xb9Z1", &v);
	CHECK(v.action == POLICY_CONTINUE, "dotted entry covers subdomains");
	policy_rcpt(s, "<eve@www.example.com>", "4Xb9Z1", &v);
	CHECK(v.action == POLICY_REJECT, "undotted entry is exact");
	CHECK(strncmp(testpolicy_log, "4Xb9Z1: BLOCKED", 15) == 0, "queue id once known: %s", testpolicy_log);
	policy_rcpt(s, "<@relay.example:frank@example.com>", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "source route ignored");
	policy_rcpt(s, "<\"frank@elsewhere.example\"@example.com>", NULL, &v);
	CHECK(v.action == POLICY_REJECT, "quoted local part with @ routes further in");
	policy_rcpt(s, "<user@[192.0.2.1]>", NULL, &v);
	CHECK(v.action == POLICY_REJECT, "address literal is not an allowed domain");
	policy_rcpt(s, "<Postmaster>", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "bare postmaster accepted (RFC 5321 4.5.1)");
	policy_rcpt(s, "<root>", NULL, &v);
	CHECK(v.action == POLICY_REJECT, "other bare local part refused");
	policy_rcpt(s, "<x@example.com.evil.example>", NULL, &v);
	CHECK(v.action == POLICY_REJECT, "allowed name as a label of another domain");
	/* The open-relay matrix: every way of naming a foreign destination. */
	static const struct {
		const char *rcpt;
		bool local;
	} relay[] = {
		{"<x@evilexample.com>", false},              /* suffix without the dot */
		{"<x@example.com.>", true},                  /* trailing dot */
		{"<x@EXAMPLE.Com>", true},                   /* case */
		{"<x@example.com..>", false},                /* not a domain */
		{"<x%evil.example@example.com>", false},     /* percent hack */
		{"<evil.example!x@example.com>", false},     /* bang path */
		{"<x@evil.example@example.com>", false},     /* two @ */
		{"<\"x%evil.example\"@example.com>", false}, /* quoted: still routes further in */
		{"<\"x@evil.example\"@example.com>", false},
		{"<\"x y\"@example.com>", true},           /* quoted, no routing */
		{"<@example.com:x@evil.example>", false},    /* source route to elsewhere */
		{"<@example.com,@example.org:x@evil.example>", false},
		{"<x@[127.0.0.1]>", false},                  /* address literal */
		{"<x@xn--bcher-kva.example>", false},        /* IDN, A-label, not listed */
		{"<x@b\xc3\xbc" "cher.example>", false},        /* IDN, U-label (SMTPUTF8) */
		{"<x@example.com\xc2\xa0>", false},          /* trailing non-ASCII space */
		{"<x@example.com\r\n>", false},
		{"<x@sub.example.org>", true},
		{"<x%y@sub.example.org>", false},
	};
	for (size_t i = 0; i < sizeof(relay) / sizeof(relay[0]); i++) {
		policy_rcpt(s, relay[i].rcpt, NULL, &v);
		CHECK((v.action == POLICY_CONTINUE) == relay[i].local, "open relay matrix: %s %s",
		    relay[i].rcpt, relay[i].local ? "accepted" : "refused");
		if (!relay[i].local)
			CHECK(v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN && strcmp(v.rcode, "550") == 0,
			    "open relay matrix: %s refused as unknown-rcpt-domain", relay[i].rcpt);
	}
	policy_header(s, "Received", "from core [10.200.0.3] by hop");
	policy_eom(s, "4Xb9Z1", &e, &v);
	CHECK(v.action == POLICY_CONTINUE, "eom continues");
	CHECK(e.n == 0, "inbound mail is never scrubbed");
	CHECK_STR(testpolicy_log, "4Xb9Z1: ACCEPTED ip=192.0.2.7 class=internet from=<alice@sender.example> "
	    "to=<bob@Example.COM>,<dave@deep.sub.example.org>,<@relay.example:frank@example.com>,"
	    "<Postmaster>,<x@example.com.>,<x@EXAMPLE.Com>,<\"x\\x20y\"@example.com>,<x@sub.example.org> "
	    "nrcpt=8 refused=21 scrubbed=0 scrubbed_names=- spf=skipped",
	    "accepted log line names every recipient");
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

static void
test_trusted(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = testpolicy_session(p, "::ffff:10.200.0.3");
	struct policy_verdict v;
	struct policy_edits e = {0};

	policy_mail(s, "<core@example.com>", NULL, NULL, &v);
	CHECK(policy_session_class(s) == POLICY_TRUSTED, "v4-mapped trusted peer");
	policy_mail(s, "<someone@evil.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "ban list is for the internet side only");
	policy_rcpt(s, "<x@outside.example>", NULL, &v);
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_OUTBOUND_DISABLED, "outbound off");
	CHECK(strstr(testpolicy_log, "BLOCKED reason=outbound-disabled action=reject ip=10.200.0.3 ") != NULL,
	    "outbound log: %s", testpolicy_log);
	policy_rcpt(s, "<bob@example.com>", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "trusted to a local domain");
	policy_header(s, "Received", "from laptop ([192.168.7.20]) by core");
	policy_header(s, "received", "from mx.outside.example ([203.0.113.5]) by core");
	policy_header(s, "Subject", "10.200.0.3 in a subject stays");
	policy_header(s, "RECEIVED", "from core ([IPv6:fd00:200::3]) by hop");
	policy_eom(s, "Q1", &e, &v);
	CHECK(v.action == POLICY_CONTINUE, "trusted eom");
	CHECK(e.n == 2, "two deletions, got %zu", e.n);
	if (e.n == 2) {
		CHECK(!e.v[0].insert && e.v[0].index == 3, "highest index first (%u)", e.v[0].index);
		CHECK(!e.v[1].insert && e.v[1].index == 1, "then the lower one (%u)", e.v[1].index);
		CHECK(strcasecmp(e.v[0].name, "Received") == 0, "header name as the message spells it: %s", e.v[0].name);
	}
	CHECK(strstr(testpolicy_log, "ACCEPTED ip=10.200.0.3 class=trusted ") != NULL &&
	    strstr(testpolicy_log, " scrubbed=2 scrubbed_names=Received:2 ") != NULL, "accepted trusted: %s", testpolicy_log);
	policy_edits_free(&e);

	/* A second message on the same connection starts from zero. */
	policy_mail(s, "<core@example.com>", NULL, NULL, &v);
	policy_rcpt(s, "<bob@example.com>", NULL, &v);
	policy_header(s, "Received", "from somewhere ([192.168.1.1]) by core");
	policy_eom(s, NULL, &e, &v);
	CHECK(e.n == 1 && e.v[0].index == 1, "index counting restarts per message");
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

static void
test_auth_and_outbound(void)
{
	struct policy *p = make_policy("outbound { enabled = true  scrub_received = false }\n");
	struct policy_session *s = testpolicy_session(p, "2001:db8::99");
	struct policy_verdict v;
	struct policy_edits e = {0};

	policy_mail(s, "<roamer@example.com>", "roamer", NULL, &v);
	CHECK(policy_session_class(s) == POLICY_TRUSTED, "SASL login makes a message trusted");
	policy_rcpt(s, "<friend@outside.example>", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "outbound enabled");
	policy_header(s, "Received", "from laptop ([192.168.7.20]) by core");
	policy_eom(s, NULL, &e, &v);
	CHECK(e.n == 0, "scrub_received = false keeps headers");
	CHECK(strstr(testpolicy_log, "class=authenticated") != NULL, "auth class logged: %s", testpolicy_log);
	policy_edits_free(&e);

	policy_mail(s, "<x@sender.example>", "", NULL, &v);
	CHECK(policy_session_class(s) == POLICY_INTERNET, "empty {auth_authen} is not a login");
	policy_session_free(s);
	policy_unref(p);
}

/*
 * Every mode and dry_run: the ban follows its mode, relay protection never
 * does.  A foreign recipient from the internet and an outbound recipient
 * while outbound is disabled are refused (BLOCKED, 550 5.7.1) in all of them.
 */
static void
test_modes(void)
{
	static const struct {
		const char *conf;
		enum conf_mode ban;      /* what the ban does */
	} modes[] = {
		{"", CONF_MODE_ENFORCE},
		{"dry_run = true\n", CONF_MODE_SHADOW},
		{"dry_run = true\nbanned_domains_mode = enforce\n", CONF_MODE_SHADOW},
		{"banned_domains_mode = shadow\nspf { mode = shadow }\n"
		    "ratelimit { mode = shadow  redis { host = \"\" } }\n", CONF_MODE_SHADOW},
		{"banned_domains_mode = off\nspf { mode = off }\nratelimit { mode = off }\n",
		    CONF_MODE_OFF},
		{"dry_run = true\nbanned_domains_mode = off\n", CONF_MODE_OFF},
		{"banned_domains_mode = ENFORCE\n", CONF_MODE_ENFORCE},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct policy *p = make_policy(modes[i].conf);
		struct policy_session *s = testpolicy_session(p, "198.51.100.9");
		struct policy_session *t = testpolicy_session(p, "10.200.0.9");
		struct policy_verdict v;
		const char *rcpts[] = {"<x@foreign.example>", "<x%foreign.example@example.com>",
		    "<x@example.com.foreign.example>", "<x@[192.0.2.1]>"};

		CHECK(policy_conf(p)->ban_mode == modes[i].ban, "mode %zu: ban mode", i);
		testpolicy_log[0] = '\0';
		policy_mail(s, "<a@evil.example>", NULL, NULL, &v);
		if (modes[i].ban == CONF_MODE_ENFORCE) {
			CHECK(v.action == POLICY_REJECT, "mode %zu: ban enforced", i);
			CHECK(strncmp(testpolicy_log, "NOQUEUE: BLOCKED reason=banned-domain ", 38) == 0,
			    "mode %zu: %s", i, testpolicy_log);
		} else if (modes[i].ban == CONF_MODE_SHADOW) {
			CHECK(v.action == POLICY_CONTINUE && v.reason == POLICY_REASON_BANNED_DOMAIN,
			    "mode %zu: shadow ban continues, reason kept", i);
			CHECK(strncmp(testpolicy_log, "NOQUEUE: WOULD-BLOCK reason=banned-domain action=reject "
			    "ip=198.51.100.9 ", 72) == 0, "mode %zu: shadow line: %s", i, testpolicy_log);
		} else {
			CHECK(v.action == POLICY_CONTINUE && v.reason == POLICY_REASON_NONE &&
			    testpolicy_log[0] == '\0', "mode %zu: ban off: not even logged", i);
		}
		policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
		for (size_t r = 0; r < sizeof(rcpts) / sizeof(rcpts[0]); r++) {
			policy_rcpt(s, rcpts[r], NULL, &v);
			CHECK(v.action == POLICY_REJECT &&
			    v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN, "mode %zu: %s refused", i,
			    rcpts[r]);
			CHECK_STR(v.rcode, "550", "mode %zu: rcode", i);
			CHECK_STR(v.xcode, "5.7.1", "mode %zu: xcode", i);
			CHECK(strncmp(testpolicy_log, "NOQUEUE: BLOCKED reason=unknown-rcpt-domain ", 44) == 0,
			    "mode %zu: relay refusal is BLOCKED: %s", i, testpolicy_log);
		}
		policy_rcpt(s, "<x@example.com>", NULL, &v);
		CHECK(v.action == POLICY_CONTINUE, "mode %zu: own domain accepted", i);
		policy_mail(t, "<core@example.com>", NULL, NULL, &v);
		policy_rcpt(t, "<x@foreign.example>", NULL, &v);
		CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_OUTBOUND_DISABLED,
		    "mode %zu: outbound disabled enforced", i);
		CHECK(strstr(testpolicy_log, "BLOCKED reason=outbound-disabled ") != NULL,
		    "mode %zu: %s", i, testpolicy_log);
		policy_session_free(s);
		policy_session_free(t);
		policy_unref(p);
	}
}

/*
 * Domains compared as domains: a ban or an allowed domain written in one
 * IDN form matches the other, in any case, with a trailing dot; an invalid
 * IDN from a client matches no allowed domain and does not escape a ban.
 */
static void
test_idn(void)
{
	struct policy *p = make_policy("banned_domains += {\"ex\xc3\xa4mple.test\", \"xn--bcher-kva.example\"}\n"
	    "allowed_domains += {\"xn--mnchen-3ya.example\", \".b\xc3\xbc" "cher.example\"}\n");
	struct policy_session *s = testpolicy_session(p, "198.51.100.9");
	struct policy_verdict v;
	static const char *banned[] = {
		"<a@ex\xc3\xa4mple.test>", "<a@EX\xc3\x84MPLE.TEST.>", "<a@xn--exmple-cua.test>",
		"<a@XN--EXMPLE-CUA.Test.>", "<a@mx.ex\xc3\xa4mple.test>", "<a@b\xc3\xbc" "cher.example>",
		"<a@xn--zz.evil.example>", "<a@\xe2\x98\xba.evil.example>", "<a@xn--zz.xn--exmple-cua.test>",
	};
	static const char *allowed[] = {
		"<x@m\xc3\xbcnchen.example>", "<x@M\xc3\x9cNCHEN.Example.>", "<x@xn--mnchen-3ya.example>",
		"<x@sub.XN--BCHER-KVA.example>",
	};
	static const char *refused[] = {
		"<x@xn--zz.m\xc3\xbcnchen.example>", "<x@xn--zz.xn--bcher-kva.example>",
		"<x@\xe2\x98\xba.b\xc3\xbc" "cher.example>", "<x@xn--mnchen-3yb.example>",
		"<x@m\xc3\xbcnchen.example\xe3\x80\x82" "elsewhere.example>", "<x@\xc3\x28.example.com>",
	};

	for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
		policy_mail(s, banned[i], NULL, NULL, &v);
		CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_BANNED_DOMAIN,
		    "%s banned", banned[i]);
	}
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "ordinary sender");
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		policy_rcpt(s, allowed[i], NULL, &v);
		CHECK(v.action == POLICY_CONTINUE, "%s accepted", allowed[i]);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		policy_rcpt(s, refused[i], NULL, &v);
		CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_UNKNOWN_RCPT_DOMAIN,
		    "%s refused as unknown", refused[i]);
	}
	policy_session_free(s);
	policy_unref(p);
}

static void
test_unknown_client(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = policy_session_new(p, NULL, NULL);
	struct policy_verdict v;

	policy_mail(s, "<>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "null sender");
	CHECK(policy_session_class(s) == POLICY_INTERNET, "no address: internet class");
	policy_rcpt(s, "<x@foreign.example>", NULL, &v);
	CHECK(v.action == POLICY_REJECT && strstr(testpolicy_log, "ip=unknown from=<>") != NULL,
	    "unknown client logged: %s", testpolicy_log);
	policy_session_free(s);
	policy_unref(p);
}

static void
test_install_reload(void)
{
	struct policy *a = make_policy(""), *b = make_policy("dry_run = true\n"), *cur;
	struct policy_session *s;

	policy_install(a);
	s = testpolicy_session(cur = policy_acquire(), "192.0.2.1");
	policy_unref(cur);
	policy_install(b);   /* old policy stays alive for the running session */
	CHECK(!policy_conf(policy_session_policy(s))->dry_run, "running session keeps its policy");
	cur = policy_acquire();
	CHECK(policy_conf(cur)->dry_run, "new sessions get the new one");
	{
		/* Both sides of the reload refuse a relay attempt. */
		struct policy_session *n = testpolicy_session(cur, "192.0.2.2");
		struct policy_verdict v;

		policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
		policy_rcpt(s, "<x@foreign.example>", NULL, &v);
		CHECK(v.action == POLICY_REJECT, "old policy, across the reload: relay refused");
		policy_mail(n, "<a@sender.example>", NULL, NULL, &v);
		policy_rcpt(n, "<x@foreign.example>", NULL, &v);
		CHECK(v.action == POLICY_REJECT, "new dry-run policy: relay refused");
		policy_session_free(n);
	}
	policy_unref(cur);
	policy_session_free(s);
	policy_install(NULL);
	CHECK(policy_acquire() == NULL, "uninstalled");
}

static void
test_ratelimit(void)
{
	struct policy *p = make_policy("ratelimit { rate = 1  period = 1h  burst = 2  redis { host = \"\" } }");
	struct policy_session *s = testpolicy_session(p, "192.0.2.44"), *t = testpolicy_session(p, "10.200.0.9");
	struct policy_verdict v;

	policy_helo(s, "h.example");
	policy_mail(s, "<a@evil.example>", NULL, NULL, &v);
	CHECK(v.reason == POLICY_REASON_BANNED_DOMAIN, "banned first, not charged");
	for (int i = 0; i < 2; i++) {
		policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
		CHECK(v.action == POLICY_CONTINUE, "within the burst %d", i);
	}
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_TEMPFAIL && v.reason == POLICY_REASON_RATELIMITED, "over the limit");
	CHECK_STR(v.rcode, "450", "ratelimited rcode");
	CHECK_STR(v.xcode, "4.7.1", "ratelimited xcode");
	CHECK_STR(v.text, "Too many messages from your network, try again in 3600 seconds", "retry-after hint");
	CHECK_STR(testpolicy_log, "NOQUEUE: BLOCKED reason=ratelimited action=tempfail ip=192.0.2.44 "
	    "from=<a@sender.example> helo=h.example", "ratelimited log line");
	policy_mail(s, "<a@sender.example>", "alice", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "authenticated: not limited");
	for (int i = 0; i < 5; i++) {
		policy_mail(t, "<core@example.com>", NULL, NULL, &v);
		CHECK(v.action == POLICY_CONTINUE, "trusted: not limited (%d)", i);
	}
	policy_session_free(s);
	policy_session_free(t);
	policy_unref(p);

	/* Dry run and shadow mode: logged as WOULD-BLOCK, the message goes on. */
	p = make_policy("dry_run = true\nratelimit { rate = 1  period = 1h  burst = 1  redis { host = \"\" } }");
	s = testpolicy_session(p, "2001:db8::44");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "dry run continues");
	CHECK(strncmp(testpolicy_log, "NOQUEUE: WOULD-BLOCK reason=ratelimited action=tempfail ip=2001:db8::44 ",
	    72) == 0, "dry-run line: %s", testpolicy_log);
	policy_session_free(s);
	policy_unref(p);

	p = make_policy("ratelimit { mode = shadow  rate = 1  period = 1h  burst = 1  redis { host = \"\" } }");
	s = testpolicy_session(p, "192.0.2.46");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE && v.reason == POLICY_REASON_RATELIMITED,
	    "shadow rate limit continues");
	CHECK(strncmp(testpolicy_log, "NOQUEUE: WOULD-BLOCK reason=ratelimited ", 40) == 0,
	    "shadow line: %s", testpolicy_log);
	policy_mail(s, "<a@evil.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_REJECT, "the ban stays enforced beside a shadow rate limit");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	policy_log_shadow(p, "test");
	CHECK_STR(testpolicy_log, "shadow mode, test: 2 decision(s) would have refused mail: "
	    "ratelimited=2", "shadow totals: %s", testpolicy_log);
	policy_session_free(s);
	policy_unref(p);
	/* No shadow decision: no line. */
	p = make_policy("");
	testpolicy_log[0] = '\0';
	policy_log_shadow(p, "test");
	CHECK(testpolicy_log[0] == '\0', "no shadow decision, no line: %s", testpolicy_log);
	policy_unref(p);

	/* Redis unreachable and on_redis_error = tempfail: 451 4.3.0. */
	p = make_policy("ratelimit { on_redis_error = tempfail  redis { port = 1  timeout = 300ms } }");
	s = testpolicy_session(p, "192.0.2.45");
	policy_mail(s, "<a@sender.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_TEMPFAIL && v.reason == POLICY_REASON_RATELIMIT_UNAVAILABLE,
	    "Redis away, tempfail policy");
	CHECK_STR(v.rcode, "451", "unavailable rcode");
	CHECK(strstr(testpolicy_log, "BLOCKED reason=ratelimit-unavailable action=tempfail ip=192.0.2.45 ") != NULL,
	    "unavailable log line: %s", testpolicy_log);
	policy_session_free(s);
	policy_unref(p);
}

/*
 * A BLOCKED line whose client fields cannot add, split or move a field:
 * printable ASCII only, exactly `fields` space-separated fields, "ip=IP"
 * fourth after the queue id, and every field after the prefix a key=value.
 */
static bool
log_line_is_safe(const char *line, const char *ip, int fields)
{
	char want_ip[64], copy[sizeof(testpolicy_log)];
	int n = 0;

	for (const char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return false;
	snprintf(want_ip, sizeof(want_ip), "ip=%s", ip);
	snprintf(copy, sizeof(copy), "%s", line);
	for (char *save = NULL, *f = strtok_r(copy, " ", &save); f != NULL;
	    f = strtok_r(NULL, " ", &save)) {
		n++;
		if (n == 5 && strcmp(f, want_ip) != 0)
			return false;
		if (n > 2 && strchr(f, '=') == NULL)
			return false;
	}
	return n == fields;
}

/* What a hostile client may put in its HELO, sender and recipient. */
static const char *const hostile_local[] = {
	"a%s%n%x", "\"a\r\nb\"", "\"250 ok\r\n\"", "\"\x01\x07\x7f\x1b[2J\"", "\"\xc3\xa9\xff\"",
	"\"%%%\"", "\"a b=c ip=1.2.3.4\"",
};

static void
hostile_helo(char *buf, size_t sz, size_t i)
{
	static const char *const h[] = {"h%x%%y", "h\r\n250 ok", "h\x01\x7f\xc3\xa9", "ip=6.6.6.6 x"};

	if (i < sizeof(h) / sizeof(h[0])) {
		snprintf(buf, sz, "%s", h[i]);
		return;
	}
	memset(buf, '%', sz - 1);   /* longer than any buffer on the way */
	buf[sz - 1] = '\0';
}

/* Check one refusal: reason, reply text and log line. */
static void
check_hostile(const struct policy_verdict *v, enum policy_reason want, const char *ip,
    int fields, const char *what)
{
	CHECK(v->action != POLICY_CONTINUE && v->reason == want, "%s: refused as %s (got %s)",
	    what, policy_reason_name(want), policy_reason_name(v->reason));
	CHECK(testpolicy_reply_safe(v->text), "%s: reply text safe: %s", what, v->text);
	CHECK(log_line_is_safe(testpolicy_log, ip, fields), "%s: log line keeps its %d fields: %s", what,
	    fields, testpolicy_log);
}

/*
 * Every refusal path with hostile HELO, sender and recipient strings: the
 * reply text reaches smfi_setreply as safe text and the log line keeps
 * its fields.  (spf-fail, whose explanation expands client text, is in
 * spf_policy_test.)
 */
static void
test_hostile_text(void)
{
	struct policy *p = make_policy("ratelimit { rate = 1  period = 1h  burst = 1  redis { host = \"\" } }");
	struct policy_verdict v;
	char helo[700], addr[900], what[64];

	for (size_t h = 0; h < 5; h++)
		for (size_t l = 0; l < sizeof(hostile_local) / sizeof(hostile_local[0]); l++) {
			struct policy_session *s = testpolicy_session(p, "192.0.2.66"), *t = testpolicy_session(p, "10.200.0.66");

			hostile_helo(helo, sizeof(helo), h);
			policy_helo(s, helo);
			policy_helo(t, helo);
			snprintf(what, sizeof(what), "helo %zu local %zu", h, l);
			snprintf(addr, sizeof(addr), "<%s@evil.example>", hostile_local[l]);
			policy_mail(s, addr, NULL, NULL, &v);
			check_hostile(&v, POLICY_REASON_BANNED_DOMAIN, "192.0.2.66", 7, what);
			snprintf(addr, sizeof(addr), "<%s@sender.example>", hostile_local[l]);
			policy_mail(s, addr, NULL, NULL, &v);   /* the burst, or already limited */
			policy_mail(s, addr, NULL, NULL, &v);
			check_hostile(&v, POLICY_REASON_RATELIMITED, "192.0.2.66", 7, what);
			snprintf(addr, sizeof(addr), "<%s@foreign.example>", hostile_local[l]);
			policy_rcpt(s, addr, NULL, &v);
			check_hostile(&v, POLICY_REASON_UNKNOWN_RCPT_DOMAIN, "192.0.2.66", 8, what);
			policy_mail(t, addr, NULL, NULL, &v);
			policy_rcpt(t, addr, NULL, &v);
			check_hostile(&v, POLICY_REASON_OUTBOUND_DISABLED, "10.200.0.66", 8, what);
			policy_session_free(s);
			policy_session_free(t);
		}
	policy_unref(p);
}

int
main(void)
{
	log_set_level(LOG_DEBUG);
	testpolicy_capture(LOG_DEBUG);
	test_inbound();
	test_trusted();
	test_auth_and_outbound();
	test_modes();
	test_idn();
	test_unknown_client();
	test_install_reload();
	test_ratelimit();
	test_hostile_text();
	return check_done("policy_test");
}
