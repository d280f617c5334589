/*
 * Unit tests: SPF in the policy core (milter/policy/policy.c) with an offline
 * checker: the verdict, reply and log line for each result under the
 * default and configured actions, dry run, trusted clients, the header
 * edits at end of message (forged Authentication-Results deleted before
 * ours are inserted) and the ACCEPTED line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/unit/check.h"
#include "log.h"
#include "milter/policy/policy.h"
#include "tests/unit/policy/testpolicy.h"

/* The SPF records of the tests' senders (offline: no DNS). */
static const struct testpolicy_rr zone[] = {
	{"pass.example", SPFCHECK_RR_TXT, "v=spf1 ip4:192.0.2.0/24 -all"},
	{"soft.example", SPFCHECK_RR_TXT, "v=spf1 ~all"},
	{"perm.example", SPFCHECK_RR_TXT, "v=spf1 ipx:1 -all"},
	{"temp.example", SPFCHECK_RR_TIMEOUT, NULL},
	{"exp.example", SPFCHECK_RR_TXT, "v=spf1 -all exp=why.exp.example"},
	{"why.exp.example", SPFCHECK_RR_TXT, "100%% not yours"},
	/* An explanation built from what the client sent (RFC 7208 section 7). */
	{"mac.example", SPFCHECK_RR_TXT, "v=spf1 -all exp=why.mac.example"},
	{"why.mac.example", SPFCHECK_RR_TXT, "%{l} via %{h} from %{i}"},
};

static struct policy *
make_policy(const char *spf)
{
	char text[2048];

	snprintf(text, sizeof(text), "authserv_id = \"mx.test.invalid\"\n"
	    "trusted_networks = {\"10.200.0.0/24\"}\nallowed_domains = {\"example.com\"}\n"
	    "ratelimit { enabled = false }\n"
	    "spf { enabled = false %s }\n", spf);
	return testpolicy_new_spf(text, zone, sizeof(zone) / sizeof(zone[0]));
}

static struct policy_session *
session(struct policy *p, const char *ip)
{
	struct policy_session *s = testpolicy_session(p, ip);

	policy_helo(s, "mail.client.example");
	return s;
}

/* MAIL FROM `from` by a client at `ip`; returns the verdict. */
static struct policy_verdict
mail(struct policy *p, const char *ip, const char *from)
{
	struct policy_session *s = session(p, ip);
	struct policy_verdict v;

	policy_mail(s, from, NULL, NULL, &v);
	policy_session_free(s);
	return v;
}

static void
test_defaults(void)
{
	struct policy *p = make_policy("");
	struct policy_verdict v;

	v = mail(p, "198.51.100.9", "<a@pass.example>");
	CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_SPF_FAIL, "fail rejected");
	CHECK_STR(v.rcode, "550", "fail rcode");
	CHECK_STR(v.xcode, "5.7.23", "fail xcode");
	CHECK_STR(v.text, "SPF validation failed: pass.example does not allow 198.51.100.9 to send "
	    "mail for it", "fail text carries the explanation");
	CHECK_STR(testpolicy_log, "NOQUEUE: BLOCKED reason=spf-fail action=reject ip=198.51.100.9 "
	    "from=<a@pass.example> helo=mail.client.example", "spf-fail log line");
	v = mail(p, "198.51.100.9", "<a@exp.example>");
	CHECK_STR(v.text, "SPF validation failed: 100%% not yours",
	    "the domain's explanation, escaped for smfi_setreply");
	v = mail(p, "198.51.100.9", "<a@temp.example>");
	CHECK(v.action == POLICY_TEMPFAIL && v.reason == POLICY_REASON_SPF_TEMPERROR, "temperror");
	CHECK(strcmp(v.rcode, "451") == 0 && strcmp(v.xcode, "4.7.24") == 0, "temperror 451 4.7.24");
	CHECK(strstr(testpolicy_log, "BLOCKED reason=spf-temperror action=tempfail ip=198.51.100.9 ") ==
	    testpolicy_log + strlen("NOQUEUE: "), "spf-temperror log line: %s", testpolicy_log);
	v = mail(p, "198.51.100.9", "<a@perm.example>");
	CHECK(v.action == POLICY_CONTINUE, "permerror accepted by default");
	v = mail(p, "198.51.100.9", "<a@soft.example>");
	CHECK(v.action == POLICY_CONTINUE, "softfail accepted by default");
	v = mail(p, "192.0.2.9", "<a@pass.example>");
	CHECK(v.action == POLICY_CONTINUE, "pass");
	v = mail(p, "10.200.0.9", "<a@pass.example>");
	CHECK(v.action == POLICY_CONTINUE, "trusted clients are not checked");
	policy_unref(p);
}

static void
test_configured(void)
{
	struct policy *p = make_policy("fail = tempfail softfail = reject permerror = reject "
	    "temperror = reject");
	struct policy_verdict v;

	v = mail(p, "198.51.100.9", "<a@pass.example>");
	CHECK(v.action == POLICY_TEMPFAIL && !strcmp(v.rcode, "451") && !strcmp(v.xcode, "4.7.23"),
	    "fail = tempfail: %s %s", v.rcode, v.xcode);
	v = mail(p, "198.51.100.9", "<a@soft.example>");
	CHECK(v.action == POLICY_REJECT && !strcmp(v.xcode, "5.7.23") &&
	    v.reason == POLICY_REASON_SPF_SOFTFAIL, "softfail = reject");
	v = mail(p, "198.51.100.9", "<a@perm.example>");
	CHECK(v.action == POLICY_REJECT && !strcmp(v.rcode, "550") && !strcmp(v.xcode, "5.7.24"),
	    "permerror = reject");
	v = mail(p, "198.51.100.9", "<a@temp.example>");
	CHECK(v.action == POLICY_REJECT && !strcmp(v.rcode, "550") && !strcmp(v.xcode, "5.7.24"),
	    "temperror = reject: %s %s", v.rcode, v.xcode);
	policy_unref(p);

	p = make_policy("fail = accept");
	v = mail(p, "198.51.100.9", "<a@pass.example>");
	CHECK(v.action == POLICY_CONTINUE, "fail = accept");
	policy_unref(p);
}

/* dry_run, and spf { mode = shadow } beside an enforced ban: WOULD-BLOCK, the mail goes on. */
static void
test_dry_run(void)
{
	static const char *texts[] = {
		"dry_run = true\nratelimit { enabled = false }\n",
		"spf { mode = shadow }\nbanned_domains = {\"evil.example\"}\n"
		    "ratelimit { enabled = false }\n",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char err[512];
		struct conf *c;
		struct policy *p;
		struct spfcheck *sc;
		struct spfcheck_opts o = {.receiver = "mx.test.invalid", .dns_timeout_ms = 1000,
		    .timeout_ms = 1000};
		struct policy_verdict v;

		if (conf_load_string("t", texts[i], &c, err, sizeof(err)) != 0 ||
		    policy_new(c, &p, err, sizeof(err)) != 0 ||
		    spfcheck_new_offline(&o, &sc, err, sizeof(err)) != 0)
			exit(2);
		CHECK(policy_conf(p)->spf.mode == CONF_MODE_SHADOW, "%zu: spf in shadow", i);
		spfcheck_zone_add(sc, "pass.example", SPFCHECK_RR_TXT, "v=spf1 -all");
		spfcheck_zone_add(sc, "evil.example", SPFCHECK_RR_TXT, "v=spf1 +all");
		policy_set_spfcheck(p, sc);
		v = mail(p, "198.51.100.9", "<a@pass.example>");
		CHECK(v.action == POLICY_CONTINUE && v.reason == POLICY_REASON_SPF_FAIL,
		    "%zu: shadow SPF refuses nothing", i);
		CHECK(strstr(testpolicy_log, "NOQUEUE: WOULD-BLOCK reason=spf-fail action=reject "
		    "ip=198.51.100.9 ") == testpolicy_log, "%zu: WOULD-BLOCK line: %s", i, testpolicy_log);
		if (i == 1) {
			v = mail(p, "198.51.100.9", "<a@evil.example>");
			CHECK(v.action == POLICY_REJECT && v.reason == POLICY_REASON_BANNED_DOMAIN,
			    "the ban is still enforced");
		}
		policy_unref(p);
	}
}

static void
test_eom_headers(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = session(p, "192.0.2.9");
	struct policy_verdict v;
	struct policy_edits e = {0};

	policy_mail(s, "<a@pass.example>", NULL, NULL, &v);
	policy_rcpt(s, "<b@example.com>", NULL, &v);
	policy_header(s, "Authentication-Results", "mx.test.invalid; spf=pass");
	policy_header(s, "Authentication-Results", "other.example; spf=fail");
	policy_header(s, "authentication-results", " (forged) MX.TEST.INVALID; dkim=pass");
	policy_eom(s, "QID1", &e, &v);
	CHECK(v.action == POLICY_CONTINUE, "message accepted");
	CHECK(e.n == 4, "two deletions, two insertions: %zu", e.n);
	if (e.n == 4) {
		CHECK(!e.v[0].insert && e.v[0].index == 3 &&
		    !strcmp(e.v[0].name, "Authentication-Results"), "delete forged #3 first");
		CHECK(!e.v[1].insert && e.v[1].index == 1, "then forged #1; #2 is someone else's");
		CHECK(e.v[2].insert && e.v[2].index == 0 &&
		    !strcmp(e.v[2].name, "Authentication-Results"), "then insert ours at the top");
		CHECK_STR(e.v[2].value, "mx.test.invalid; spf=pass smtp.mailfrom=pass.example", "A-R");
		CHECK(e.v[3].insert && !strcmp(e.v[3].name, "Received-SPF") &&
		    !strncmp(e.v[3].value, "pass (mx.test.invalid: ", 23), "Received-SPF last");
	}
	CHECK(strstr(testpolicy_log, "QID1: ACCEPTED ip=192.0.2.9 class=internet from=<a@pass.example> "
	    "to=<b@example.com> nrcpt=1 refused=0 scrubbed=0 scrubbed_names=- spf=pass") == testpolicy_log,
	    "ACCEPTED with spf=pass: %s", testpolicy_log);
	policy_edits_free(&e);

	/* Next message, same session: nothing carried over; the null sender uses HELO. */
	policy_mail(s, "<>", NULL, NULL, &v);
	policy_eom(s, "QID2", &e, &v);
	CHECK(e.n == 2 && !strcmp(e.v[0].value, "mx.test.invalid; spf=none smtp.helo="
	    "mail.client.example"), "null sender: A-R names the HELO: %s", e.n ? e.v[0].value : "");
	policy_edits_free(&e);
	policy_session_free(s);

	/* Trusted: no SPF, no headers of ours, but forged ones still go. */
	s = session(p, "10.200.0.4");
	policy_mail(s, "<a@pass.example>", NULL, NULL, &v);
	policy_header(s, "Authentication-Results", "mx.test.invalid; spf=pass");
	policy_eom(s, "QID3", &e, &v);
	CHECK(e.n == 1 && !e.v[0].insert, "trusted: only the forged header deleted");
	CHECK(strstr(testpolicy_log, "spf=skipped") != NULL, "trusted: spf=skipped: %s", testpolicy_log);
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

static void
test_received_spf_off(void)
{
	struct policy *p = make_policy("received_spf = false");
	struct policy_session *s = session(p, "192.0.2.9");
	struct policy_verdict v;
	struct policy_edits e = {0};

	policy_mail(s, "<a@soft.example>", NULL, NULL, &v);
	policy_eom(s, NULL, &e, &v);
	CHECK(e.n == 1 && !strcmp(e.v[0].name, "Authentication-Results") &&
	    strstr(e.v[0].value, "spf=softfail") != NULL, "only A-R with received_spf = false");
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

/*
 * Every Received-SPF an internet client brings is deleted, whatever
 * received_spf says (OpenDMARC reads the first one and cannot tell a
 * forged one from ours); a trusted client's are kept.
 */
static void
test_received_spf_forged(void)
{
	static const char *confs[] = {"received_spf = false", "received_spf = true",
	    "received_spf = false  mode = shadow"};

	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		struct policy *p = make_policy(confs[i]);
		struct policy_session *s = session(p, "192.0.2.9");
		struct policy_verdict v;
		struct policy_edits e = {0};
		size_t del = 0, ins = 0;
		bool order_ok = true;

		policy_mail(s, "<a@soft.example>", NULL, NULL, &v);
		policy_header(s, "Received-SPF", "pass (forged) envelope-from=\"a@soft.example\"");
		policy_header(s, "Received", "from x");
		policy_header(s, "received-spf", "Pass");
		policy_header(s, "RECEIVED-SPF", "none");
		policy_eom(s, NULL, &e, &v);
		for (size_t k = 0; k < e.n; k++) {
			if (!e.v[k].insert && strcasecmp(e.v[k].name, "Received-SPF") == 0) {
				/* Highest index first, and before any insertion. */
				order_ok &= ins == 0 && e.v[k].index == 3 - del;
				del++;
			} else if (e.v[k].insert) {
				ins++;
			}
		}
		CHECK(del == 3 && order_ok, "%s: all three deleted, from the last: %zu", confs[i], del);
		CHECK(ins == (i == 1 ? 2u : 1u), "%s: %zu headers of ours", confs[i], ins);
		policy_edits_free(&e);
		policy_session_free(s);

		s = session(p, "10.200.0.4");
		policy_mail(s, "<a@example.com>", NULL, NULL, &v);
		policy_header(s, "Received-SPF", "pass (the core's own)");
		policy_eom(s, NULL, &e, &v);
		CHECK(e.n == 0, "%s: a trusted client's Received-SPF is kept", confs[i]);
		policy_edits_free(&e);
		policy_session_free(s);
		policy_unref(p);
	}
}

/*
 * The reply text never carries raw client bytes: the domain's explanation
 * expands the client's local part and HELO name (%{l}, %{h}) into it.
 */
static void
test_hostile_reply_text(void)
{
	static const char *const helos[] = {"mail.client.example", "h%x%%y", "h\r\n250 ok", "h\x01\x7f\xc3\xa9"};
	static const char *const froms[] = {
		"<a%b%%c@mac.example>", "<\"a\r\nb\"@mac.example>", "<\"a%\x07\xff\"@mac.example>",
		"<a%s%n%x@mac.example>",
	};
	struct policy *p = make_policy("");
	struct policy_verdict v;
	int refused = 0;

	for (size_t h = 0; h < sizeof(helos) / sizeof(helos[0]); h++)
		for (size_t f = 0; f < sizeof(froms) / sizeof(froms[0]); f++) {
			struct policy_session *s = testpolicy_session(p, "198.51.100.9");

			policy_helo(s, helos[h]);
			policy_mail(s, froms[f], NULL, NULL, &v);
			if (v.action != POLICY_CONTINUE) {
				refused++;
				CHECK(testpolicy_reply_safe(v.text), "reply text safe for helo %zu from %zu: %s",
				    h, f, v.text);
				CHECK(strchr(testpolicy_log, '\r') == NULL && strchr(testpolicy_log, '\n') == NULL,
				    "log line has no CR/LF: %s", testpolicy_log);
			}
			policy_session_free(s);
		}
	CHECK(refused == 16, "every hostile sender refused by SPF (%d of 16)", refused);
	v = mail(p, "198.51.100.9", "<a%b@mac.example>");
	CHECK_STR(v.text, "SPF validation failed: a%%b via mail.client.example from 198.51.100.9",
	    "the client's local part arrives escaped in the explanation");
	policy_unref(p);
}

int
main(void)
{
	log_set_level(LOG_DEBUG);
	testpolicy_capture(LOG_INFO);
	test_defaults();
	test_configured();
	test_dry_run();
	test_received_spf_forged();
	test_eom_headers();
	test_received_spf_off();
	test_hostile_reply_text();
	return check_done("spf_policy_test");
}
