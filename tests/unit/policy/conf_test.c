/* Unit tests: hopmilter.conf parsing, defaults and errors with line numbers (milter/policy/conf.c). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tests/unit/check.h"
#include "tests/unit/hostiletext.h"
#include "milter/policy/authres.h"
#include "milter/policy/conf.h"

static void
test_defaults(void)
{
	struct conf *c;
	char err[1024];
	struct net_addr a;

	CHECK(conf_load_string("empty.conf", "", &c, err, sizeof(err)) == 0, "empty config: %s", err);
	if (c == NULL)
		return;
	CHECK(strncmp(c->socket, "unix:/", 6) == 0, "default socket %s", c->socket);
	CHECK(c->user[0] == '\0', "default user empty");
	CHECK(!c->dry_run, "dry_run off");
	CHECK(c->ban_mode == CONF_MODE_ENFORCE && c->spf.mode == CONF_MODE_ENFORCE &&
	    c->ratelimit.mode == CONF_MODE_ENFORCE, "every check enforced by default");
	CHECK(!c->outbound.enabled && c->outbound.scrub_received, "outbound defaults");
	CHECK(c->syslog_facility == LOG_MAIL && c->log_level == LOG_INFO, "log defaults");
	CHECK(c->authserv_id[0] != '\0', "authserv_id defaults to the host name");
	net_addr_parse("127.0.0.1", &a);
	CHECK(net_list_contains(&c->trusted_networks, &a), "loopback trusted by default");
	net_addr_parse("::1", &a);
	CHECK(net_list_contains(&c->trusted_networks, &a), "::1 trusted by default");
	CHECK(c->spf.enabled && c->spf.received_spf, "SPF on, with Received-SPF");
	CHECK(c->spf.fail == CONF_SPF_REJECT && c->spf.softfail == CONF_SPF_ACCEPT &&
	    c->spf.permerror == CONF_SPF_ACCEPT && c->spf.temperror == CONF_SPF_TEMPFAIL,
	    "SPF actions: reject fail, tempfail temperror, accept the rest");
	CHECK(c->spf.dns_timeout_ms == 5000 && c->spf.timeout_ms == 15000, "SPF time limits");
	conf_free(c);
}

static void
test_full(void)
{
	static const char text[] =
	    "socket = \"inet:8891@127.0.0.1\"\n"
	    "user = \"hopmilter\"\n"
	    "pid_file = \"/run/hopmilter/hopmilter.pid\"\n"
	    "syslog_facility = local3\n"
	    "log_level = debug\n"
	    "authserv_id = \"mx.example.com\"\n"
	    "dry_run = true\n"
	    "trusted_networks = {\"10.200.0.0/24\"}\n"
	    "internal_networks = {\"192.168.0.0/16\", \"2001:db8:1::/48\"}\n"
	    "allowed_domains = {\"Example.COM.\", \".example.org\"}\n"
	    "banned_domains = {\"evil.example\", \"Ex\xc3\xa4mple.test.\", \"XN--BCHER-KVA.example\"}\n"
	    "allowed_domains += {\"m\xc3\xbc" "nchen.example\"}\n"
	    "outbound { enabled = true  scrub_received = false }\n"
	    "spf { enabled = false  fail = tempfail  softfail = reject  permerror = reject\n"
	    "  temperror = accept  received_spf = false  dns_timeout = 2s  timeout = 2500ms }\n";
	struct conf *c;
	char err[1024];
	struct net_addr a;

	CHECK(conf_load_string("full.conf", text, &c, err, sizeof(err)) == 0, "full config: %s", err);
	if (c == NULL)
		return;
	CHECK_STR(c->socket, "inet:8891@127.0.0.1", "socket");
	CHECK_STR(c->user, "hopmilter", "user");
	CHECK(c->syslog_facility == LOG_LOCAL3 && c->log_level == LOG_DEBUG, "log settings");
	CHECK_STR(c->authserv_id, "mx.example.com", "authserv_id");
	CHECK(c->dry_run && c->outbound.enabled && !c->outbound.scrub_received, "booleans");
	CHECK(c->ban_mode == CONF_MODE_SHADOW && c->spf.mode == CONF_MODE_OFF &&
	    c->ratelimit.mode == CONF_MODE_SHADOW, "dry_run: every check in shadow, one switched off stays off");
	CHECK(dset_match(c->allowed_domains, "example.com"), "allowed normalised");
	CHECK(!dset_match(c->allowed_domains, "www.example.com"), "no dot: exact only");
	CHECK(dset_match(c->allowed_domains, "example.org") &&
	    dset_match(c->allowed_domains, "x.example.org"), "leading dot: domain and subdomains");
	CHECK(dset_match(c->banned_domains, "a.evil.example"), "ban list covers subdomains");
	CHECK(dset_match(c->banned_domains, "xn--exmple-cua.test") &&
	    dset_match(c->banned_domains, "xn--bcher-kva.example"), "ban list: U-label and A-label entries");
	CHECK(dset_match(c->allowed_domains, "xn--mnchen-3ya.example"), "allowed: U-label entry");
	net_addr_parse("127.0.0.1", &a);
	CHECK(!net_list_contains(&c->trusted_networks, &a), "a set list replaces the default");
	net_addr_parse("2001:db8:1:5::1", &a);
	CHECK(net_list_contains(&c->internal_networks, &a), "internal IPv6");
	/* Every network list looked up per connection is in its built (bisection) form. */
	CHECK(c->trusted_networks.ranges != NULL && c->internal_networks.ranges != NULL &&
	    c->ratelimit.exempt_networks.ranges != NULL && c->spf.exempt_networks.ranges != NULL,
	    "network lists built at load");
	CHECK(!c->spf.enabled && !c->spf.received_spf, "spf booleans");
	CHECK(c->spf.fail == CONF_SPF_TEMPFAIL && c->spf.softfail == CONF_SPF_REJECT &&
	    c->spf.permerror == CONF_SPF_REJECT && c->spf.temperror == CONF_SPF_ACCEPT, "spf actions");
	CHECK(c->spf.dns_timeout_ms == 2000 && c->spf.timeout_ms == 2500, "spf durations");
	conf_free(c);
}

static void
test_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"socket = \"unix:/x\"\nbogus = 1\n", "bad.conf:2: no such option 'bogus'"},
		{"\n\ntrusted_networks = {\"10.0.0.0/8\",\n \"10.0.0.1/8\"}\n",
		    "bad.conf:4: option 'trusted_networks': '10.0.0.1/8': address has bits set beyond the prefix length"},
		{"internal_networks = {\"nonsense\"}\n",
		    "bad.conf:1: option 'internal_networks': 'nonsense': not an IP address"},
		{"\nallowed_domains = {\"exa mple.com\"}\n",
		    "bad.conf:2: option 'allowed_domains': 'exa mple.com': character not allowed in a domain"},
		{"banned_domains = {\"a..b\"}\n", "bad.conf:1: option 'banned_domains': 'a..b': empty label in domain"},
		{"# IDN\nbanned_domains = {\"ok.example\",\n  \"xn--zz.test\"}\n", "bad.conf:3: option 'banned_domains': 'xn--zz.test': invalid internationalised domain name (IDNA2008)"},
		{"allowed_domains = {\".\xe2\x98\xba.example\"}\n", "bad.conf:1: option 'allowed_domains': '.\xe2\x98\xba.example': invalid internationalised domain name (IDNA2008)"},
		{"socket = \"tcp:25\"\n", "bad.conf:1: option 'socket': 'tcp:25': expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST"},
		{"socket = \"inet:99999@127.0.0.1\"\n", "bad.conf:1: option 'socket': 'inet:99999@127.0.0.1': expected inet:PORT@HOST with a port in 1-65535"},
		{"socket = \"unix:relative.sock\"\n", "bad.conf:1: option 'socket': 'unix:relative.sock': the socket path must be absolute"},
		{"log_level = chatty\n", "bad.conf:1: option 'log_level': 'chatty' is not one of: error, warning, notice, info, debug"},
		{"syslog_facility = kern\n", "bad.conf:1: option 'syslog_facility': 'kern' is not one of: mail, daemon, user, local0, local1, local2, local3, local4, local5, local6, local7"},
		{"dry_run = maybe\n", "bad.conf:1: "},
		{"\nbanned_domains_mode = dry\n", "bad.conf:2: option 'banned_domains_mode': 'dry' is not one of: enforce, shadow, off"},
		{"spf {\n\n mode = log\n}\n", "bad.conf:3: option 'mode': 'log' is not one of: enforce, shadow, off"},
		{"ratelimit { mode = \"\" }\n", "bad.conf:1: option 'mode': '' is not one of: enforce, shadow, off"},
		{"outbound {\n enabled = true\n nope = 1\n}\n", "bad.conf:3: no such option 'nope'"},
		{"authserv_id = \"mx example\"\n", "bad.conf:1: option 'authserv_id': 'mx example': use a host name (letters, digits, '.', '-')"},
		{"\npid_file = \"relative.pid\"\n", "bad.conf:2: option 'pid_file': 'relative.pid': must be an absolute path"},
		{"allowed_domains = {\"a.example\"\n", "bad.conf:2: premature end of file"},
		{"spf {\n fail = bounce\n}\n", "bad.conf:2: option 'fail': 'bounce' is not one of: reject, tempfail, accept"},
		{"spf { dns_timeout = 5 }\n", "bad.conf:1: option 'dns_timeout': '5' needs a unit: ms, s, m or h"},
		{"spf { timeout = 30s }\n", "bad.conf:1: section 'spf': need 1s <= dns_timeout <= timeout <= 25s"},
		/* The line where the section ends: where libconfuse checks it. */
		{"spf {\n dns_timeout = 10s\n timeout = 5s\n}\n", "bad.conf:4: section 'spf': need 1s <= dns_timeout"},
		{"\nspf { dns_timeout = 500ms }\n", "bad.conf:2: section 'spf': need 1s"},
	};
	struct conf *c;
	char err[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CHECK(conf_load_string("bad.conf", cases[i].text, &c, err, sizeof(err)) != 0 && c == NULL,
		    "case %zu accepted", i);
		CHECK(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
		    "case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
	}
	CHECK(conf_load("/nonexistent/hopmilter.conf", &c, err, sizeof(err)) != 0, "missing file");
	CHECK_STR(err, "/nonexistent/hopmilter.conf: cannot read: No such file or directory", "missing file");
}

/* trusted_networks wider than a /8 / a /32 of public space: refused unless allowed. */
static void
test_wide_trusted(void)
{
	static const struct {
		const char *nets;
		const char *want;   /* NULL: accepted */
	} cases[] = {
		{"\"0.0.0.0/0\"", "IPv4 addresses than a /8 (widest: 0.0.0.0/0)"},
		{"\"::/0\"", "IPv6 addresses than a /32 (widest: ::/0)"},
		{"\"::ffff:0:0/96\"", "IPv4 addresses than a /8 (widest: 0.0.0.0/0)"},
		{"\"::FFFF:0.0.0.0/96\"", "IPv4 addresses than a /8 (widest: 0.0.0.0/0)"},
		{"\"0.0.0.0/1\", \"128.0.0.0/1\"", "IPv4 addresses than a /8 (widest: 0.0.0.0/1)"},
		{"\"2000::/3\"", "IPv6 addresses than a /32 (widest: 2000::/3)"},
		{"\"44.0.0.0/8\", \"45.0.0.0/31\"", "IPv4 addresses than a /8 (widest: 44.0.0.0/8)"},
		{"\"2a00::/31\"", "IPv6 addresses than a /32 (widest: 2a00::/31)"},
		/* A wide entry hidden behind a narrow one still counts. */
		{"\"10.200.0.0/24\", \"0.0.0.0/0\", \"10.0.0.0/8\"", "(widest: 0.0.0.0/0)"},
		{"\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\", \"100.64.0.0/10\", "
		    "\"127.0.0.0/8\", \"169.254.0.0/16\", \"fc00::/7\", \"fe80::/10\", \"::1\"", NULL},
		{"\"44.0.0.0/8\"", NULL},
		{"\"2a00::/32\", \"fd00::/8\"", NULL},
		{"\"44.0.0.0/8\", \"44.0.0.0/9\", \"44.0.0.0/8\"", NULL},   /* overlaps count once */
	};
	char text[512], err[1024];
	struct conf *c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "trusted_networks = {%s}\n", cases[i].nets);
		err[0] = '\0';
		c = NULL;
		if (cases[i].want == NULL) {
			CHECK(conf_load_string("wide.conf", text, &c, err, sizeof(err)) == 0,
			    "case %zu refused: %s", i, err);
		} else {
			CHECK(conf_load_string("wide.conf", text, &c, err, sizeof(err)) != 0 && c == NULL,
			    "case %zu accepted", i);
			CHECK(strncmp(err, "wide.conf:1: option 'trusted_networks': trusts more public ", 59) == 0 &&
			    strstr(err, cases[i].want) != NULL &&
			    strstr(err, "Set allow_wide_trusted_networks = true if that is meant") != NULL,
			    "case %zu: got \"%s\"", i, err);
		}
		conf_free(c);
		/* The explicit option lets every one through. */
		snprintf(text, sizeof(text), "trusted_networks = {%s}\nallow_wide_trusted_networks = true\n",
		    cases[i].nets);
		c = NULL;
		CHECK(conf_load_string("wide.conf", text, &c, err, sizeof(err)) == 0,
		    "case %zu with allow_wide_trusted_networks: %s", i, err);
		conf_free(c);
	}
}

/* The error for a wide trusted_networks names the line of its widest entry. */
static void
test_wide_trusted_line(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"# one\ntrusted_networks = {\"10.0.0.0/8\",\n  \"0.0.0.0/0\",\n  \"::1\"}\n",
		    "wide.conf:3: option 'trusted_networks': trusts more public IPv4"},
		/* Added later with +=: that line. */
		{"trusted_networks = {\"10.0.0.0/8\"}\n\n\ntrusted_networks += {\"2000::/3\"}\n",
		    "wide.conf:4: option 'trusted_networks': trusts more public IPv6"},
		/* Assigned again: the second list's line, not the first's. */
		{"trusted_networks = {\"10.0.0.0/8\", \"::1\"}\ntrusted_networks = {\"::1\",\n \"44.0.0.0/7\"}\n",
		    "wide.conf:3: option 'trusted_networks': trusts more public IPv4"},
		/* The switch after the list still lets it through (order does not matter). */
		{"trusted_networks = {\"0.0.0.0/0\"}\nallow_wide_trusted_networks = true\n", NULL},
		{"allow_wide_trusted_networks = true\ntrusted_networks = {\"0.0.0.0/0\"}\n", NULL},
		{"allow_wide_trusted_networks = false\ntrusted_networks = {\"0.0.0.0/0\"}\n",
		    "wide.conf:2: option 'trusted_networks'"},
	};
	char err[1024];
	struct conf *c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		c = NULL;
		err[0] = '\0';
		rc = conf_load_string("wide.conf", cases[i].text, &c, err, sizeof(err));
		if (cases[i].want == NULL)
			CHECK(rc == 0, "line case %zu refused: %s", i, err);
		else
			CHECK(rc != 0 && strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
			    "line case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		conf_free(c);
	}
}

/*
 * Hostile values for every string option: a control character (through
 * an escape or written as is), a NUL escape that would silently cut the
 * value, megabytes, empty where empty means nothing.  Each is refused at
 * its own line and the message never repeats a control character.
 */
static void
test_hostile_strings(void)
{
	static const char *const opts[] = {
		"socket = \"unix:/run/a@z.sock\"\n",
		"user = \"hop@milter\"\n",
		"pid_file = \"/run/a@z.pid\"\n",
		"authserv_id = \"mx@.example\"\n",
		"control_socket = \"/run/c@.sock\"\n",
		"metrics_listen = \"127.0.0.1:9717@\"\n",
		"trusted_networks = {\"::1\", \"10.0.0.0/8@\"}\n",
		"internal_networks = {\"10.0.0.0/8@\"}\n",
		"internal_names = {\"a@.example\"}\n",
		"allowed_domains = {\"ok.example\", \"a@.example\"}\n",
		"banned_domains = {\"file:/etc/a@\"}\n",
		"syslog_facility = \"ma@il\"\n",
		"log_level = \"inf@o\"\n",
		"banned_domains_mode = \"shad@ow\"\n",
		"outbound { remove_headers = {\"X-A@\"} }\n",
		"outbound { scrub_headers = {\"X-@*\"} }\n",
		"spf { exempt_networks = {\"10.0.0.0/8@\"} }\n",
		"spf { exempt_client_names = {\"a@.example\"} }\n",
		"spf { timeout = \"5@s\" }\n",
		"ratelimit { exempt_networks = {\"10.0.0.0/8@\"} }\n",
		"ratelimit { exempt_client_names = {\"a@.example\"} }\n",
		"ratelimit { exempt_sender_domains = {\"a@.example\"} }\n",
		"ratelimit { redis { host = \"red@is.example\" } }\n",
		"ratelimit { redis { user = \"hop@\" } }\n",
		"ratelimit { redis { password = \"se@ret\" } }\n",
		"ratelimit { redis { prefix = \"hop@:\" } }\n",
		"ratelimit { redis { sentinel { master = \"my@master\" } } }\n",
		"ratelimit { redis { sentinel { addresses = {\"10.0.0.1:26379@\"} } } }\n",
		"ratelimit { redis { sentinel { user = \"u@\" } } }\n",
		"ratelimit { redis { sentinel { password = \"p@\" } } }\n",
	};
	char text[1024], want[256], err[1024];
	struct conf *c;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (size_t j = 0; j < sizeof(hostile_text) / sizeof(hostile_text[0]); j++) {
			/* Two lines first, so the line number is not the default 1. */
			int n = snprintf(text, sizeof(text), "# hostile\n\n");

			check_fill(text + n, sizeof(text) - (size_t)n, opts[i], hostile_text[j].ins);
			snprintf(want, sizeof(want), "bad.conf:3: %s", hostile_text[j].want);
			c = NULL;
			err[0] = '\0';
			CHECK(conf_load_string("bad.conf", text, &c, err, sizeof(err)) != 0 && c == NULL,
			    "%s accepted", text);
			CHECK(strncmp(err, "bad.conf:3: ", 12) == 0 && strstr(err, hostile_text[j].want) != NULL,
			    "%s: got \"%s\", want \"%s\"", text, err, want);
			CHECK(strpbrk(err, "\n\r\t\x1b\x7f\x01") == NULL, "%s: the message is one plain line", text);
			conf_free(c);
		}
	}
}

/* Megabytes in any string option: refused at the line, the value not repeated. */
static void
test_long_strings(void)
{
	static const struct {
		const char *fmt;
		size_t max;
	} opts[] = {
		{"authserv_id = \"@\"\n", 255},
		{"user = \"@\"\n", 4096},
		{"pid_file = \"/@\"\n", 4096},
		{"internal_names = {\"@\"}\n", 4096},
		{"banned_domains = {\"ok.example\", \"@\"}\n", 4096},
		{"outbound { scrub_headers = {\"@\"} }\n", 4096},
		{"ratelimit { redis { password = \"@\" } }\n", 4096},
		{"ratelimit { redis { prefix = \"@\" } }\n", 64},
		{"ratelimit { redis { sentinel { master = \"@\" } } }\n", 4096},
		{"log_level = \"@\"\n", 64},
		{"spf { timeout = \"@\" }\n", 64},
	};
	size_t big = 3 * 1024 * 1024;
	char *v = malloc(big + 1), *text = malloc(big + 256), err[1024], want[128];
	struct conf *c;

	if (v == NULL || text == NULL) {
		CHECK(0, "out of memory");
		free(v);
		free(text);
		return;
	}
	memset(v, 'a', big);
	v[big] = '\0';
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int n = snprintf(text, big + 256, "\n");

		check_fill(text + n, big + 256 - (size_t)n, opts[i].fmt, v);
		c = NULL;
		CHECK(conf_load_string("big.conf", text, &c, err, sizeof(err)) != 0 && c == NULL,
		    "option %zu: 3 MB accepted", i);
		snprintf(want, sizeof(want), "is longer than %zu bytes", opts[i].max);
		CHECK(strncmp(err, "big.conf:2: option '", 20) == 0 && strstr(err, want) != NULL &&
		    strlen(err) < 200, "option %zu: got \"%.200s\", want \"%s\"", i, err, want);
		conf_free(c);
	}
	free(v);
	free(text);
}

/*
 * authserv_id: RFC 8601 "value" (a token; a host name in practice), at
 * most 255 bytes, no control character, ';', space or other tspecial.  A
 * U-label is taken as its A-label; the forged-header check matches either
 * spelling, upper case and a trailing dot.
 */
static void
test_authserv_id(void)
{
	static const struct {
		const char *value, *want;   /* want: the stored id, or the error's start */
		bool ok;
	} cases[] = {
		{"mx.example.com", "mx.example.com", true},
		{"MX.Example.COM", "MX.Example.COM", true},          /* kept as written */
		{"mx.example.com.", "mx.example.com.", true},
		{"xn--mnchen-3ya.example", "xn--mnchen-3ya.example", true},
		{"m\xc3\xbcnchen.example", "xn--mnchen-3ya.example", true},
		{"M\xc3\x9cNCHEN.example.", "xn--mnchen-3ya.example", true},
		{"mx_1.example", "mx_1.example", true},              /* a token, not a host name */
		{"mx.example;spf=pass", "bad.conf:1: option 'authserv_id'", false},
		{"mx example", "bad.conf:1: option 'authserv_id'", false},
		{"\\\"mx\\\"", "bad.conf:1: option 'authserv_id'", false},
		{"mx/1", "bad.conf:1: option 'authserv_id'", false},
		{"\xe2\x98\xba.example", "bad.conf:1: option 'authserv_id': '\xe2\x98\xba.example': invalid", false},
		{"m\xc3\xbcnchen example", "bad.conf:1: option 'authserv_id'", false},
		{"\xff.example", "bad.conf:1: option 'authserv_id'", false},
		{"mx\\0.example", "bad.conf:1: a string escape makes a NUL byte", false},
	};
	char text[1024], err[1024];
	struct conf *c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		snprintf(text, sizeof(text), "authserv_id = \"%s\"\n", cases[i].value);
		c = NULL;
		err[0] = '\0';
		rc = conf_load_string("bad.conf", text, &c, err, sizeof(err));
		if (cases[i].ok) {
			CHECK(rc == 0 && c != NULL && strcmp(c->authserv_id, cases[i].want) == 0,
			    "authserv_id case %zu: rc %d, id %s, err %s", i, rc, c ? c->authserv_id : "-", err);
		} else {
			CHECK(rc != 0 && strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
			    "authserv_id case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		}
		conf_free(c);
	}
	/* The Redis host: an address, a name, or "" for none; nothing else. */
	static const struct {
		const char *host;
		bool ok;
	} hosts[] = {
		{"", true}, {"127.0.0.1", true}, {"::1", true}, {"Redis.Example.", true},
		{"redis example", false}, {"redis:6379", false}, {"/run/redis.sock", false},
		{"a..b", false},
	};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		snprintf(text, sizeof(text), "\nratelimit {\n redis { host = \"%s\" }\n}\n",
		    hosts[i].host);
		c = NULL;
		err[0] = '\0';
		if (hosts[i].ok)
			CHECK(conf_load_string("bad.conf", text, &c, err, sizeof(err)) == 0,
			    "redis host '%s': %s", hosts[i].host, err);
		else
			CHECK(conf_load_string("bad.conf", text, &c, err, sizeof(err)) != 0 &&
			    strstr(err, "bad.conf:3: option 'host': ") == err &&
			    strstr(err, "use an IP address or a host name") != NULL,
			    "redis host '%s': got \"%s\"", hosts[i].host, err);
		conf_free(c);
	}
	/* 255 bytes: the limit, still accepted; 256: refused. */
	for (size_t len = 255; len <= 256; len++) {
		char v[300];

		memset(v, 'a', len);
		v[len] = '\0';
		snprintf(text, sizeof(text), "\nauthserv_id = \"%s\"\n", v);
		c = NULL;
		CHECK((conf_load_string("bad.conf", text, &c, err, sizeof(err)) == 0) == (len == 255),
		    "authserv_id of %zu bytes: %s", len, err);
		if (len == 256)
			CHECK_STR(err, "bad.conf:2: option 'authserv_id': the value is longer than 255 bytes",
			    "256 bytes");
		conf_free(c);
	}
	/* A U-label id: a forged header in any spelling of the name is recognised. */
	c = NULL;
	CHECK(conf_load_string("u.conf", "authserv_id = \"M\xc3\xbcnchen.Example\"\n", &c, err,
	    sizeof(err)) == 0, "U-label id: %s", err);
	if (c != NULL) {
		CHECK(authres_claims("xn--mnchen-3ya.example; spf=pass", c->authserv_id), "A-label");
		CHECK(authres_claims("XN--MNCHEN-3YA.EXAMPLE.; spf=pass", c->authserv_id), "upper case, dot");
		CHECK(authres_claims("m\xc3\xbcnchen.example; spf=pass", c->authserv_id), "U-label");
		CHECK(authres_claims("\"M\xc3\x9cnchen.example\"; spf=pass", c->authserv_id), "quoted U-label");
		CHECK(!authres_claims("xn--mnchen-3ya.example.evil; spf=pass", c->authserv_id), "longer name");
		conf_free(c);
	}
}

int
main(void)
{
	test_defaults();
	test_full();
	test_errors();
	test_wide_trusted();
	test_wide_trusted_line();
	test_hostile_strings();
	test_long_strings();
	test_authserv_id();
	return check_done("conf_test");
}
