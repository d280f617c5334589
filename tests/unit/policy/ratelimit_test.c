/*
 * Unit tests: the rate-limit facade (milter/policy/ratelimit.c): Redis key names
 * (version, hash tag, prefixes, IPv4/IPv6 masking, v4-mapped), GCRA
 * parameters through the local-only mode, the configuration section, and
 * what a script reply from Redis may mean (rlredis_interpret).
 */
#include "config.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "milter/policy/conf.h"
#include "milter/policy/ratelimit.h"
#include "milter/policy/rlredis.h"

static struct conf *
load(const char *text)
{
	struct conf *c;
	char err[1024];

	if (conf_load_string("rl.conf", text, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(2);
	}
	return c;
}

static void
test_keys(void)
{
	static const struct {
		const char *conf, *ip, *k1, *k2;
	} cases[] = {
		{"", "198.51.100.7", "hopmilter:rl:v1:{198.51.100.7/32}", NULL},
		{"", "::ffff:198.51.100.7", "hopmilter:rl:v1:{198.51.100.7/32}", NULL},
		{"", "2001:db8:1:2:3:4:5:6", "hopmilter:rl:v1:{2001:db8:1:2::/64}", NULL},
		{"ratelimit { ipv4_prefix = 24  ipv6_prefix = 48  redis { prefix = \"mx:\" } }",
		    "198.51.100.7", "mx:rl:v1:{198.51.100.0/24}", NULL},
		{"ratelimit { ipv4_prefix = 0 }", "198.51.100.7", "hopmilter:rl:v1:{0.0.0.0/0}", NULL},
		{"ratelimit { ipv6_prefix = 128 }", "2001:db8::1", "hopmilter:rl:v1:{2001:db8::1/128}", NULL},
		{"ratelimit { redis { prefix = \"\" } }", "192.0.2.1", "rl:v1:{192.0.2.1/32}", NULL},
		{"ratelimit { subnet { enabled = true } }", "198.51.100.7",
		    "hopmilter:rl:v1:{198.51.100.0/24}198.51.100.7/32", "hopmilter:rl:v1:{198.51.100.0/24}"},
		{"ratelimit { subnet { enabled = true } }", "2001:db8:1:2:3:4:5:6",
		    "hopmilter:rl:v1:{2001:db8:1::/48}2001:db8:1:2::/64", "hopmilter:rl:v1:{2001:db8:1::/48}"},
		{"ratelimit { ipv6_prefix = 128  subnet { enabled = true  ipv6_prefix = 127 } "
		    "redis { prefix = \"0123456789012345678901234567890123456789012345678901234567890123\" } }",
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		    "0123456789012345678901234567890123456789012345678901234567890123rl:v1:"
		    "{ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127}ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128",
		    "0123456789012345678901234567890123456789012345678901234567890123rl:v1:"
		    "{ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127}"},
	};
	char keys[2][RATELIMIT_KEY_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *c = load(cases[i].conf);
		struct net_addr a;
		int n;

		CHECK(net_addr_parse(cases[i].ip, &a) == 0, "case %zu: address", i);
		n = ratelimit_format_keys(&c->ratelimit, &a, keys);
		CHECK(n == (cases[i].k2 ? 2 : 1), "case %zu: %d keys", i, n);
		CHECK_STR(keys[0], cases[i].k1, "case %zu: tier-1 key", i);
		if (cases[i].k2 != NULL && n == 2)
			CHECK_STR(keys[1], cases[i].k2, "case %zu: tier-2 key", i);
		conf_free(c);
	}
}

static void
test_local_only(void)
{
	struct conf *c = load("ratelimit { rate = 2  period = 1h  burst = 2  redis { host = \"\" } }");
	struct ratelimit *rl;
	struct ratelimit_info info;
	struct net_addr a;
	char err[256];

	CHECK(ratelimit_new(&c->ratelimit, &rl, err, sizeof(err)) == 0, "new: %s", err);
	net_addr_parse("2001:db8:5:6::1", &a);
	CHECK(ratelimit_check(rl, &a, &info) == RATELIMIT_ALLOWED, "first allowed");
	CHECK(info.source == RATELIMIT_SOURCE_LOCAL, "decided locally");
	CHECK(ratelimit_check(rl, &a, &info) == RATELIMIT_ALLOWED, "second allowed (burst 2)");
	CHECK(ratelimit_check(rl, &a, &info) == RATELIMIT_LIMITED, "third limited");
	/* T = 30 min; the bucket holds 2, so the wait is just under 30 min. */
	CHECK(info.retry_after_ms > 1799000 && info.retry_after_ms <= 1800000,
	    "retry after ~30 min: %ld ms", info.retry_after_ms);
	CHECK(info.tier == 1, "tier 1");
	CHECK_STR(info.net, "2001:db8:5:6::/64", "network named in CIDR form");
	ratelimit_free(rl);
	conf_free(c);
}

/*
 * The recipient budget and the outbound limit through the local table (the
 * same GCRA as the script): c units pass iff TAT + (c - 1)T - now <= tau.
 */
static void
test_budget_local(void)
{
	struct conf *c = load("ratelimit { rate = 1  period = 1h  burst = 100\n"
	    "recipients { enabled = true  rate = 1  period = 1h  burst = 10 }\n"
	    "outbound { enabled = true  rate = 1  period = 1h  burst = 2 }\n"
	    "redis { host = \"\" } }");
	struct ratelimit *rl;
	struct ratelimit_info info;
	struct net_addr a, b;
	char err[256];
	int ok = 0;

	CHECK(ratelimit_new(&c->ratelimit, &rl, err, sizeof(err)) == 0, "new: %s", err);
	CHECK(ratelimit_wants_recipients(rl), "the budget is on: decide at DATA");
	net_addr_parse("192.0.2.1", &a);
	net_addr_parse("192.0.2.2", &b);
	for (int i = 0; i < 10; i++)
		ok += ratelimit_check_envelope(rl, &a, 3, &info) == RATELIMIT_ALLOWED;
	CHECK(ok == 3, "3 recipients against a burst of 10: floor(10/3) = 3 pass (%d)", ok);
	CHECK(info.tier == RATELIMIT_TIER_RECIPIENTS, "the recipient bucket refused (tier %d)", info.tier);
	CHECK(ratelimit_check_envelope(rl, &a, 1, &info) == RATELIMIT_ALLOWED,
	    "one recipient still fits (refusals cost nothing)");
	CHECK(ratelimit_check_envelope(rl, &a, 1, &info) == RATELIMIT_LIMITED, "then the budget is spent");
	CHECK(ratelimit_check_envelope(rl, &b, 5000, &info) == RATELIMIT_ALLOWED,
	    "more recipients than the burst: charged as the burst, passes on a full bucket");
	CHECK(ratelimit_check_envelope(rl, &b, 1, &info) == RATELIMIT_LIMITED, "and empties it");
	CHECK(ratelimit_check(rl, &b, &info) == RATELIMIT_ALLOWED,
	    "without recipients only the message tiers are asked");

	CHECK(ratelimit_check_outbound(rl, "alice", "x@example.com", &info) == RATELIMIT_ALLOWED &&
	    ratelimit_check_outbound(rl, "Alice", "y@example.com", &info) == RATELIMIT_ALLOWED,
	    "alice: burst 2, login without case, sender irrelevant");
	CHECK(ratelimit_check_outbound(rl, "ALICE", NULL, &info) == RATELIMIT_LIMITED &&
	    info.tier == RATELIMIT_TIER_OUTBOUND, "alice's third refused, outbound tier");
	CHECK(ratelimit_check_outbound(rl, "bob", "x@example.com", &info) == RATELIMIT_ALLOWED,
	    "bob has his own bucket");
	CHECK(ratelimit_check_outbound(rl, NULL, "alice", &info) == RATELIMIT_ALLOWED,
	    "a sender named like a login is another bucket (from: vs sasl:)");
	ratelimit_free(rl);
	conf_free(c);
}

static void
test_outbound_keys(void)
{
	struct conf *c = load("ratelimit { redis { prefix = \"mx:\" } }");
	char key[RATELIMIT_OUT_KEY_MAX], longname[600];

	CHECK(ratelimit_format_outbound_key(&c->ratelimit, "Alice", "a@b.example", key) == 0, "fits");
	CHECK_STR(key, "mx:rl:v1:{out:sasl:alice}", "by login, lower case");
	ratelimit_format_outbound_key(&c->ratelimit, "", "Bob@Example.COM", key);
	CHECK_STR(key, "mx:rl:v1:{out:from:bob@example.com}", "no login: by sender");
	ratelimit_format_outbound_key(&c->ratelimit, NULL, "", key);
	CHECK_STR(key, "mx:rl:v1:{out:from:}", "the null sender");
	ratelimit_format_outbound_key(&c->ratelimit, "a}b{c d%\x01\xc3\xa9", NULL, key);
	CHECK_STR(key, "mx:rl:v1:{out:sasl:a%7Db%7Bc%20d%25%01%C3%A9}",
	    "braces, space, percent, control and 8-bit bytes escaped: one word, one hash tag");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(ratelimit_format_outbound_key(&c->ratelimit, longname, NULL, key) == 0 &&
	    strlen(key) == strlen("mx:rl:v1:{out:sasl:}") + RATELIMIT_WHO_MAX,
	    "an over-long login cut to %d bytes", RATELIMIT_WHO_MAX);
	conf_free(c);
}

static void
test_conf(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"ratelimit {\n rate = 0\n}\n", "bad.conf:2: option 'rate': 0 must be at least 1"},
		{"ratelimit {\n period = 0s\n}\n", "bad.conf:2: option 'period': must be at least 1ms"},
		{"ratelimit {\n period = fast\n}\n", "bad.conf:2: option 'period': 'fast' is not a duration"},
		{"ratelimit {\n ipv4_prefix = 33\n}\n", "bad.conf:2: option 'ipv4_prefix': 33 is outside 0-32"},
		{"ratelimit {\n ipv6_prefix = 129\n}\n", "bad.conf:2: option 'ipv6_prefix': 129 is outside 0-128"},
		{"ratelimit {\n on_redis_error = panic\n}\n",
		    "bad.conf:2: option 'on_redis_error': 'panic' is not one of: local, accept, tempfail"},
		{"ratelimit {\n rate = 2000\n period = 1ms\n}\n",
		    "bad.conf:4: ratelimit: rate 2000 per 1ms is more than one message per microsecond"},
		{"ratelimit {\n subnet {\n enabled = true\n ipv4_prefix = 32\n }\n}\n",
		    "bad.conf:6: ratelimit.subnet: its prefixes must be shorter than the client's"},
		{"ratelimit {\n redis {\n port = 0\n }\n}\n", "bad.conf:3: option 'port': port 0 is outside 1-65535"},
		{"ratelimit {\n redis {\n prefix = \"a b\"\n }\n}\n",
		    "bad.conf:3: option 'prefix': 'a b': use printable characters, no space or brace"},
		{"ratelimit {\n redis {\n prefix = \"x{y}\"\n }\n}\n", "bad.conf:3: option 'prefix': 'x{y}'"},
		{"ratelimit {\n redis {\n pool_size = 0\n }\n}\n", "bad.conf:3: option 'pool_size': 0 is outside 1-64"},
		{"ratelimit {\n redis {\n timeout = 0ms\n }\n}\n", "bad.conf:3: option 'timeout': must be at least 1ms"},
		{"ratelimit {\n redis {\n sentinel {\n addresses = {\"127.0.0.1\"}\n }\n }\n}\n",
		    "bad.conf:4: option 'addresses': '127.0.0.1': expected HOST:PORT or [IPv6]:PORT"},
		{"ratelimit {\n redis {\n sentinel {\n addresses = {\"[::1]:99999\"}\n }\n }\n}\n",
		    "bad.conf:4: option 'addresses': '[::1]:99999': the port must be 1-65535"},
		{"ratelimit {\n redis {\n sentinel {\n master = \"mm\"\n }\n }\n}\n",
		    "bad.conf:7: ratelimit.redis.sentinel: set both 'master' and 'addresses', or neither"},
	};
	struct conf *c;
	char err[1024];

	c = load("");
	CHECK(c->ratelimit.enabled && c->ratelimit.client.rate == 30 &&
	    c->ratelimit.client.period_ms == 60000 && c->ratelimit.client.burst == 50,
	    "default: 30 messages per minute, burst 50");
	CHECK(c->ratelimit.subnet.rate == 120 && c->ratelimit.subnet.period_ms == 60000 &&
	    c->ratelimit.subnet.burst == 200, "default subnet: 120 per minute, burst 200");
	CHECK(!c->ratelimit.recipients_enabled && c->ratelimit.recipients.rate == 500 &&
	    c->ratelimit.recipients.period_ms == 3600000 && c->ratelimit.recipients.burst == 500,
	    "recipient budget off by default, 500 per hour, burst 500");
	CHECK(!c->ratelimit.outbound_enabled && c->ratelimit.outbound.rate == 200 &&
	    c->ratelimit.outbound.period_ms == 3600000 && c->ratelimit.outbound.burst == 100,
	    "outbound limit off by default, 200 per hour, burst 100");
	CHECK(c->ratelimit.client.ipv4_prefix == 32 && c->ratelimit.client.ipv6_prefix == 64, "default prefixes");
	CHECK(!c->ratelimit.subnet_enabled, "no subnet tier by default");
	CHECK(c->ratelimit.on_redis_error == CONF_REDIS_ERROR_LOCAL, "local fallback by default");
	CHECK_STR(c->ratelimit.redis.host, "127.0.0.1", "default host");
	CHECK(c->ratelimit.redis.port == 6379 && c->ratelimit.redis.db == 0, "default port, db");
	CHECK_STR(c->ratelimit.redis.prefix, "hopmilter:", "default prefix");
	conf_free(c);

	c = load("ratelimit {\n on_redis_error = tempfail\n redis {\n timeout = 250ms\n"
	    " connect_timeout = 1s\n user = \"hm\"\n password = \"pw\"\n db = 3\n"
	    " sentinel { master = \"mm\"  addresses = {\"10.0.0.1:26379\", \"[fd00::1]:26380\"} }\n }\n}\n");
	CHECK(c->ratelimit.on_redis_error == CONF_REDIS_ERROR_TEMPFAIL, "tempfail");
	CHECK(c->ratelimit.redis.timeout_ms == 250 && c->ratelimit.redis.connect_timeout_ms == 1000, "timeouts");
	CHECK(c->ratelimit.redis.db == 3, "db");
	CHECK(c->ratelimit.redis.sentinel.naddrs == 2, "two sentinels");
	if (c->ratelimit.redis.sentinel.naddrs == 2) {
		CHECK_STR(c->ratelimit.redis.sentinel.addrs[1].host, "fd00::1", "IPv6 sentinel host");
		CHECK(c->ratelimit.redis.sentinel.addrs[1].port == 26380, "IPv6 sentinel port");
	}
	conf_free(c);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(conf_load_string("bad.conf", bad[i].text, &c, err, sizeof(err)) != 0, "bad case %zu accepted", i);
		CHECK(strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "bad case %zu: got \"%s\", want \"%s\"",
		    i, err, bad[i].want);
	}
}

/* The reply, as bytes on the wire, through hiredis's parser into rlredis_interpret(). */
static enum rlredis_result
interpret(const char *wire, int nkeys, long *retry, int *tier)
{
	redisReader *rd = redisReaderCreate();
	void *reply = NULL;
	enum rlredis_result r = RLREDIS_UNAVAILABLE;

	if (redisReaderFeed(rd, wire, strlen(wire)) == REDIS_OK &&
	    redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL)
		r = rlredis_interpret(reply, nkeys, retry, tier);
	else
		r = (enum rlredis_result)-1;
	freeReplyObject(reply);
	redisReaderFree(rd);
	return r;
}

static void
test_interpret(void)
{
	static const struct {
		const char *wire;
		int nkeys;
		enum rlredis_result want;
		long retry;
		int tier;
	} cases[] = {
		{"*3\r\n:1\r\n:0\r\n:0\r\n", 1, RLREDIS_ALLOWED, -1, -1},
		{"*3\r\n:0\r\n:20000\r\n:1\r\n", 1, RLREDIS_LIMITED, 20000, 1},
		{"*3\r\n:0\r\n:0\r\n:2\r\n", 2, RLREDIS_LIMITED, 0, 2},
		{"*3\r\n:0\r\n:86400000\r\n:1\r\n", 1, RLREDIS_LIMITED, 86400000, 1},
		/* A retry of LLONG_MAX once overflowed the reply's arithmetic. */
		{"*3\r\n:0\r\n:9223372036854775807\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n:0\r\n:86400001\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n:0\r\n:-5\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n:0\r\n:100\r\n:2\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},   /* tier 2 of 1 key */
		{"*3\r\n:0\r\n:100\r\n:0\r\n", 2, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n:2\r\n:100\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},   /* allowed is 0 or 1 */
		{"*2\r\n:1\r\n:0\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n:0\r\n$3\r\n100\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"-NOSCRIPT No matching script\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{"*3\r\n*1\r\n:1\r\n:0\r\n:1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
		{":1\r\n", 1, RLREDIS_UNAVAILABLE, -1, -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long retry = -1;
		int tier = -1;
		enum rlredis_result r = interpret(cases[i].wire, cases[i].nkeys, &retry, &tier);

		CHECK(r == cases[i].want, "reply %zu: result %d, want %d", i, (int)r, (int)cases[i].want);
		if (cases[i].want == RLREDIS_LIMITED)
			CHECK(retry == cases[i].retry && tier == cases[i].tier,
			    "reply %zu: retry %ld tier %d", i, retry, tier);
	}
}

int
main(void)
{
	test_keys();
	test_local_only();
	test_budget_local();
	test_outbound_keys();
	test_conf();
	test_interpret();
	return check_done("ratelimit_test");
}
