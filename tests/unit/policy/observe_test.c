/*
 * Unit tests: what the control socket and the metrics show of the policy
 * (milter/policy/stats.c, the probe session, the effective configuration,
 * the ACCEPTED line's recipient list).  Counters are process-wide, so each
 * check compares a value before and after one action.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "tests/unit/policy/testpolicy.h"
#include "log.h"
#include "milter/policy/policy.h"
#include "milter/policy/ratelimit.h"
#include "milter/policy/stats.h"

/* The policy of these tests: domain lists, SPF off, and `extra`. */
static struct policy *
make_policy(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
	    "allowed_domains = {\"example.com\"}\n"
	    "banned_domains = {\"evil.example\"}\n"
	    "spf { enabled = false }\n"
	    "%s%s", strstr(extra, "ratelimit") ? "" : "ratelimit { enabled = false }\n", extra);
	return testpolicy_new(text);
}

/* A probe session needs a sockaddr of its own (testpolicy_session makes real ones). */
static struct sockaddr_in
v4(const char *ip)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET};

	inet_pton(AF_INET, ip, &s4.sin_addr);
	return s4;
}

/* The value of one exposition line ("name{labels}"), or -1 when it is missing. */
static double
metric(const char *series)
{
	char *buf = NULL, *p;
	size_t len = 0, n = strlen(series);
	FILE *fp = open_memstream(&buf, &len);
	double v = -1;

	stats_prometheus(fp);
	fclose(fp);
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	}
	free(buf);
	return v;
}

#define BANNED "hopmilter_refusals_total{reason=\"banned-domain\",action=\"reject\"}"
#define WOULD_BANNED "hopmilter_would_refusals_total{reason=\"banned-domain\",action=\"reject\"}"
#define RCPT_OK "hopmilter_recipients_total{result=\"accepted\"}"

static void
test_counters(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = testpolicy_session(p, "192.0.2.7");
	struct policy_verdict v;
	struct policy_edits e = {0};
	double banned = metric(BANNED), sessions = metric("hopmilter_sessions_total");
	double rcpt = metric(RCPT_OK), acc = metric("hopmilter_messages_accepted_total");

	CHECK(banned == 0 && sessions >= 1, "a fresh process: every reason listed at 0 (%g)", banned);
	policy_mail(s, "<x@evil.example>", NULL, "Q1", &v);
	CHECK(v.reason == POLICY_REASON_BANNED_DOMAIN, "banned sender refused");
	CHECK(metric(BANNED) == banned + 1, "the refusal is counted under its reason and action");
	policy_mail(s, "<a@good.example>", NULL, "Q2", &v);
	policy_rcpt(s, "<b@example.com>", "Q2", &v);
	policy_eom(s, "Q2", &e, &v);
	policy_edits_free(&e);
	CHECK(metric(RCPT_OK) == rcpt + 1 && metric("hopmilter_messages_accepted_total") == acc + 1,
	    "recipient and accepted message counted");

	/* Off: the hot path records nothing. */
	stats_set_enabled(false);
	policy_mail(s, "<x@evil.example>", NULL, "Q3", &v);
	CHECK(metric(BANNED) == banned + 1 && metric("hopmilter_counters_enabled") == 0,
	    "counters off: nothing counted");
	stats_set_enabled(true);
	policy_session_free(s);
	policy_unref(p);

	p = make_policy("dry_run = true\n");
	s = testpolicy_session(p, "192.0.2.7");
	policy_mail(s, "<x@evil.example>", NULL, "Q4", &v);
	CHECK(v.action == POLICY_CONTINUE && metric(WOULD_BANNED) == 1 &&
	    metric(BANNED) == banned + 1, "dry run: counted as a would-be refusal only");
	policy_session_free(s);
	policy_unref(p);
}

static void
test_probe(void)
{
	struct policy *p = make_policy("ratelimit { rate = 1  period = 1h  burst = 1  redis { host = \"\" } }\n");
	struct sockaddr_in a = v4("192.0.2.9");
	struct policy_session *s;
	struct policy_verdict v;
	double banned = metric(BANNED), msgs = metric("hopmilter_messages_total");

	for (int i = 0; i < 3; i++) {
		s = policy_probe_new(p, (struct sockaddr *)&a);
		policy_mail(s, "<a@good.example>", NULL, NULL, &v);
		CHECK(v.action == POLICY_CONTINUE, "probe %d: allowed (never charged)", i);
		policy_session_free(s);
	}
	s = policy_probe_new(p, (struct sockaddr *)&a);
	testpolicy_log[0] = '\0';
	policy_mail(s, "<x@evil.example>", NULL, NULL, &v);
	CHECK(v.reason == POLICY_REASON_BANNED_DOMAIN && strcmp(v.rcode, "550") == 0,
	    "probe: the same verdict and reply as a session");
	CHECK(testpolicy_log[0] == '\0', "probe: no log line at notice or info (fail2ban never sees a test): %s",
	    testpolicy_log);
	CHECK(metric(BANNED) == banned && metric("hopmilter_messages_total") == msgs,
	    "probe: nothing counted");
	policy_session_free(s);

	/* A real session is charged and then limited: the probe sees the limit without charging. */
	s = testpolicy_session(p, "192.0.2.9");
	policy_mail(s, "<a@good.example>", NULL, "Q5", &v);
	CHECK(v.action == POLICY_CONTINUE, "the real message passes");
	policy_session_free(s);
	s = policy_probe_new(p, (struct sockaddr *)&a);
	policy_mail(s, "<a@good.example>", NULL, NULL, &v);
	CHECK(v.reason == POLICY_REASON_RATELIMITED && strcmp(v.rcode, "450") == 0,
	    "probe after a charged message: ratelimited");
	policy_session_free(s);
	policy_unref(p);
}

/* ratelimit show/reset on the local table, both tiers (no Redis configured). */
static void
test_show_reset(void)
{
	struct policy *p = make_policy("ratelimit { rate = 1  period = 1h  burst = 2"
	    "  subnet { enabled = true  rate = 1  period = 1h  burst = 3  ipv4_prefix = 24 }"
	    "  redis { host = \"\" } }\n");
	struct ratelimit *rl = policy_rl(p);
	struct policy_session *s = testpolicy_session(p, "192.0.2.7");
	struct ratelimit_state st;
	struct net_addr a7, a8;
	struct policy_verdict v;
	int redis, local;

	net_addr_parse("192.0.2.7", &a7);
	net_addr_parse("192.0.2.8", &a8);
	policy_mail(s, "<a@good.example>", NULL, "Q7", &v);
	CHECK(v.action == POLICY_CONTINUE, "one message from .7 passes (and is charged)");
	ratelimit_show(rl, &a7, &st);
	CHECK(st.ntiers == 2 && strcmp(st.redis, "none") == 0 && st.has_local, "two tiers, local only");
	CHECK(strcmp(st.in_local[0].net, "192.0.2.7/32") == 0 && st.in_local[0].burst == 2 &&
	    st.in_local[0].remaining == 1 && st.in_local[0].retry_after_ms == 0,
	    "tier 1 of .7: one of two left (%s %ld)", st.in_local[0].net, st.in_local[0].remaining);
	CHECK(strcmp(st.in_local[1].net, "192.0.2.0/24") == 0 && st.in_local[1].remaining == 2,
	    "tier 2: two of three left (%s %ld)", st.in_local[1].net, st.in_local[1].remaining);
	ratelimit_show(rl, &a8, &st);
	CHECK(st.in_local[0].remaining == 2 && st.in_local[1].remaining == 2,
	    "a neighbour: its own tier 1 full, the shared subnet charged");
	policy_mail(s, "<a@good.example>", NULL, "Q8", &v);
	ratelimit_show(rl, &a7, &st);
	CHECK(st.in_local[0].remaining == 0 && st.in_local[0].retry_after_ms > 3000000 &&
	    st.in_local[0].retry_after_ms <= 3600000, "tier 1 spent: retry in about an hour (%ld ms)",
	    st.in_local[0].retry_after_ms);
	policy_mail(s, "<a@good.example>", NULL, "Q9", &v);
	CHECK(v.reason == POLICY_REASON_RATELIMITED, "the third message is limited");
	ratelimit_reset(rl, &a7, &redis, &local);
	CHECK(redis == -2 && local == 2, "reset: no Redis, both local entries cleared (%d %d)", redis,
	    local);
	ratelimit_show(rl, &a7, &st);
	CHECK(st.in_local[0].remaining == 2 && st.in_local[1].remaining == 3, "after reset: full again");
	policy_mail(s, "<a@good.example>", NULL, "Q10", &v);
	CHECK(v.action == POLICY_CONTINUE, "after reset the next message passes");
	policy_session_free(s);
	policy_unref(p);
}

/*
 * Every bucket on the local table (no Redis): the recipient budget with
 * the address, the outbound bucket of a login and of a sender; the probe
 * peeks at each where a session charges it, and charges nothing.
 */
static void
test_show_reset_buckets(void)
{
	struct policy *p = make_policy("outbound { enabled = true }\ntrusted_networks = {\"10.9.0.0/16\"}\n"
	    "ratelimit { rate = 1  period = 1h  burst = 3"
	    "  recipients { enabled = true  rate = 1  period = 1h  burst = 4 }"
	    "  outbound { enabled = true  rate = 1  period = 1h  burst = 2 }"
	    "  redis { host = \"\" } }\n");
	struct ratelimit *rl = policy_rl(p);
	struct policy_session *s = testpolicy_session(p, "192.0.2.7"), *t, *pr;
	struct sockaddr_in sa = v4("192.0.2.7"), core = v4("10.9.0.1");
	struct ratelimit_state st;
	struct ratelimit_info info;
	struct net_addr a7;
	struct policy_verdict v;
	char name[600];
	int redis, local;

	net_addr_parse("192.0.2.7", &a7);
	CHECK(ratelimit_has_outbound(rl), "outbound on");
	/* The recipient budget: 3 of 4 spent by one message. */
	policy_mail(s, "<a@good.example>", NULL, "Q1", &v);
	for (int i = 0; i < 3; i++)
		policy_rcpt(s, "<b@example.com>", "Q1", &v);
	policy_data(s, "Q1", &v);
	CHECK(v.action == POLICY_CONTINUE, "3 recipients pass");
	ratelimit_show(rl, &a7, &st);
	CHECK(st.ntiers == 2 && strcmp(st.backend, "local") == 0 && st.in_local[1].tier ==
	    RATELIMIT_TIER_RECIPIENTS && st.in_local[1].burst == 4 && st.in_local[1].remaining == 1,
	    "show: the message tier and the budget, one recipient left (%d %ld)", st.ntiers,
	    st.in_local[1].remaining);
	CHECK(st.in_local[0].remaining == 2, "message tier: 2 of 3 left");
	/* The probe: 2 recipients are over the budget at the data step, 1 is not. */
	pr = policy_probe_new(p, (struct sockaddr *)&sa);
	policy_mail(pr, "<a@good.example>", NULL, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "probe: MAIL defers the charge to DATA");
	policy_rcpt(pr, "<b@example.com>", NULL, &v);
	policy_rcpt(pr, "<c@example.com>", NULL, &v);
	policy_data(pr, NULL, &v);
	CHECK(v.reason == POLICY_REASON_RECIPIENTS_RATELIMITED && strcmp(v.rcode, "450") == 0,
	    "probe: 2 recipients, recipients-ratelimited at DATA (%d)", v.reason);
	policy_mail(pr, "<a@good.example>", NULL, NULL, &v);
	policy_rcpt(pr, "<b@example.com>", NULL, &v);
	policy_data(pr, NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "probe: 1 recipient passes");
	policy_session_free(pr);
	ratelimit_show(rl, &a7, &st);
	CHECK(st.in_local[1].remaining == 1 && st.in_local[0].remaining == 2,
	    "the probes charged nothing");
	CHECK(ratelimit_peek_envelope(rl, &a7, 2, &info) == RATELIMIT_LIMITED &&
	    info.tier == RATELIMIT_TIER_RECIPIENTS && info.retry_after_ms > 0,
	    "peek_envelope(2): the budget refuses");
	CHECK(ratelimit_peek_envelope(rl, &a7, 100, &info) == RATELIMIT_LIMITED,
	    "peek_envelope(100): capped at the burst, still refused");
	CHECK(ratelimit_peek(rl, &a7, &info) == RATELIMIT_ALLOWED, "peek: the message tier alone passes");
	ratelimit_reset(rl, &a7, &redis, &local);
	CHECK(redis == -2 && local == 2, "reset ADDR: message and budget entries cleared (%d)", local);
	ratelimit_show(rl, &a7, &st);
	CHECK(st.in_local[0].remaining == 3 && st.in_local[1].remaining == 4, "full again");

	/* Outbound per login: two pass, the third is limited; show, reset. */
	t = testpolicy_session(p, "10.9.0.1");
	for (int i = 0; i < 3; i++)
		policy_mail(t, "<x@example.com>", "Alice", "QA", &v);
	CHECK(v.reason == POLICY_REASON_OUTBOUND_RATELIMITED, "alice's third: outbound-ratelimited");
	ratelimit_show_outbound(rl, "ALICE", NULL, &st);
	CHECK(st.ntiers == 1 && st.in_local[0].tier == RATELIMIT_TIER_OUTBOUND &&
	    st.in_local[0].remaining == 0 && st.in_local[0].retry_after_ms > 0 &&
	    strcmp(st.in_local[0].key, "hopmilter:rl:v1:{out:sasl:alice}") == 0,
	    "show sasl ALICE: the same bucket, spent (%s)", st.in_local[0].key);
	ratelimit_show_outbound(rl, "alice ", NULL, &st);
	CHECK(st.in_local[0].remaining == 2, "'alice ' is another bucket");
	ratelimit_show_outbound(rl, "hopmilter:rl:v1:{out:sasl:alice}", NULL, &st);
	CHECK(st.in_local[0].remaining == 2 &&
	    strcmp(st.in_local[0].key, "hopmilter:rl:v1:{out:sasl:hopmilter:rl:v1:%7Bout:sasl:alice%7D}") == 0,
	    "a login spelling a key is its own bucket (%s)", st.in_local[0].key);
	pr = policy_probe_new(p, (struct sockaddr *)&core);
	policy_mail(pr, "<x@example.com>", "alice", NULL, &v);
	CHECK(v.reason == POLICY_REASON_OUTBOUND_RATELIMITED, "probe --sasl alice: outbound-ratelimited");
	policy_mail(pr, "<x@example.com>", "bob", NULL, &v);
	policy_mail(pr, "<x@example.com>", "bob", NULL, &v);
	policy_mail(pr, "<x@example.com>", "bob", NULL, &v);
	CHECK(v.action == POLICY_CONTINUE, "probe --sasl bob, three times: passes");
	policy_session_free(pr);
	ratelimit_show_outbound(rl, "bob", NULL, &st);
	CHECK(st.in_local[0].remaining == 2, "the probes charged bob nothing");
	ratelimit_reset_outbound(rl, "alice", NULL, &redis, &local);
	CHECK(redis == -2 && local == 1, "reset sasl alice: one local entry");
	ratelimit_reset_outbound(rl, "alice", NULL, &redis, &local);
	CHECK(local == 0, "reset twice: nothing left to clear");
	policy_mail(t, "<x@example.com>", "alice", "QB", &v);
	CHECK(v.action == POLICY_CONTINUE, "after reset alice passes");

	/* Outbound per sender: the name policy_outbound_name() gives is the bucket. */
	for (int i = 0; i < 3; i++)
		policy_mail(t, "<Core@EXAMPLE.com>", NULL, "QC", &v);
	CHECK(v.reason == POLICY_REASON_OUTBOUND_RATELIMITED, "core's third: outbound-ratelimited");
	policy_outbound_name("<core@example.COM>", name, sizeof(name));
	CHECK_STR(name, "core@example.com", "the sender's bucket name: domain normalised");
	ratelimit_show_outbound(rl, NULL, name, &st);
	CHECK(st.in_local[0].remaining == 0 &&
	    strcmp(st.in_local[0].key, "hopmilter:rl:v1:{out:from:core@example.com}") == 0,
	    "show sender: spent (%s)", st.in_local[0].key);
	policy_outbound_name("<>", name, sizeof(name));
	CHECK_STR(name, "", "the null sender's bucket name");
	CHECK(ratelimit_peek_outbound(rl, NULL, "core@example.com", &info) == RATELIMIT_LIMITED &&
	    info.tier == RATELIMIT_TIER_OUTBOUND && info.source == RATELIMIT_SOURCE_LOCAL,
	    "peek_outbound: limited, from the local table");
	ratelimit_reset_outbound(rl, NULL, "core@example.com", &redis, &local);
	CHECK(local == 1, "reset sender: one entry");
	policy_mail(t, "<core@example.com>", NULL, "QD", &v);
	CHECK(v.action == POLICY_CONTINUE, "after reset core passes");
	policy_session_free(t);
	policy_session_free(s);
	policy_unref(p);

	/* With the outbound limit off there is no bucket to show or reset. */
	p = make_policy("ratelimit { rate = 1  period = 1h  burst = 3  redis { host = \"\" } }\n");
	rl = policy_rl(p);
	CHECK(!ratelimit_has_outbound(rl), "outbound off");
	ratelimit_show_outbound(rl, "alice", NULL, &st);
	CHECK(st.ntiers == 0, "no outbound bucket");
	ratelimit_reset_outbound(rl, "alice", NULL, &redis, &local);
	CHECK(redis == -2 && local == 0, "nothing reset");
	CHECK(ratelimit_peek_outbound(rl, "alice", NULL, &info) == RATELIMIT_ALLOWED, "no limit");
	policy_unref(p);
}

static void
test_accepted_recipients(void)
{
	struct policy *p = make_policy("");
	struct policy_session *s = testpolicy_session(p, "192.0.2.7");
	struct policy_verdict v;
	struct policy_edits e = {0};
	char r[64];

	policy_mail(s, "<a@good.example>", NULL, "Q6", &v);
	policy_rcpt(s, "<\"a,b\"@example.com>", "Q6", &v);
	for (int i = 1; i < 12; i++) {
		snprintf(r, sizeof(r), "<u%d@example.com>", i);
		policy_rcpt(s, r, "Q6", &v);
	}
	policy_rcpt(s, "<x@foreign.example>", "Q6", &v);
	policy_eom(s, "Q6", &e, &v);
	CHECK_STR(testpolicy_log, "Q6: ACCEPTED ip=192.0.2.7 class=internet from=<a@good.example> "
	    "to=<\"a\\x2cb\"@example.com>,<u1@example.com>,<u2@example.com>,<u3@example.com>,"
	    "<u4@example.com>,<u5@example.com>,<u6@example.com>,<u7@example.com>,<u8@example.com>,"
	    "<u9@example.com>,+2 nrcpt=12 refused=1 scrubbed=0 scrubbed_names=- spf=skipped",
	    "the first 10 recipients, a comma escaped, then the count of the others");
	policy_edits_free(&e);
	policy_session_free(s);
	policy_unref(p);
}

static void
test_conf(void)
{
	static const char *const bad[] = {
		"control_socket = \"relative/ctl.sock\"\n",
		"control_socket = \"/run/hopmilter/a-path-that-is-far-too-long-for-a-unix-socket-address-"
		    "because-sun-path-holds-only-108-bytes-on-linux.sock\"\n",
		"metrics_listen = \"localhost:9717\"\n",
		"metrics_listen = \"127.0.0.1\"\n",
		"metrics_listen = \"127.0.0.1:0\"\n",
		"metrics_listen = \"127.0.0.1:65536\"\n",
		"metrics_listen = \"[::1:9717\"\n",
		"counters = maybe\n",
	};
	struct conf *c;
	char err[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(conf_load_string("t.conf", bad[i], &c, err, sizeof(err)) != 0 &&
		    strncmp(err, "t.conf:1: ", 10) == 0, "refused with FILE:LINE: %s -> %s", bad[i], err);
	}
	CHECK(conf_load_string("t.conf", "metrics_listen = \"[::1]:9717\"\n"
	    "spf { mode = shadow }\n"
	    "control_socket = \"/run/h/ctl.sock\"\n"
	    "ratelimit { redis { password = \"s3cr%t\"  sentinel { password = \"other\" } } }\n",
	    &c, err, sizeof(err)) == 0, "good observation options: %s", err);
	CHECK(strstr(c->effective, "s3cr") == NULL && strstr(c->effective, "other") == NULL &&
	    strstr(c->effective, "password=\"********\"") != NULL, "effective config: secrets masked");
	CHECK(strstr(c->effective, "timeout=100ms") != NULL &&
	    strstr(c->effective, "on_redis_error=local") != NULL &&
	    strstr(c->effective, "syslog_facility=mail") != NULL &&
	    strstr(c->effective, "banned_domains_mode=enforce") != NULL &&
	    strstr(c->effective, "metrics_listen=\"[::1]:9717\"") != NULL &&
	    strstr(c->effective, "mode=shadow") != NULL,
	    "effective config: defaults, durations and enum names as the file spells them");
	CHECK(strstr(c->effective, "authserv_id=\"\"") == NULL,
	    "effective config: authserv_id is the host name, not the empty default");
	conf_free(c);
}

int
main(void)
{
	testpolicy_capture(LOG_INFO);
	test_counters();
	test_probe();
	test_show_reset();
	test_show_reset_buckets();
	test_accepted_recipients();
	test_conf();
	return check_done("observe_test");
}
