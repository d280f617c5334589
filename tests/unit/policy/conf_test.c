/* Unit tests: hopmilter.conf parsing, defaults and errors with line numbers (milter/policy/conf.c). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tests/unit/check.h"
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
		{"pid_file = \"relative.pid\"\n", "bad.conf: option 'pid_file': 'relative.pid' must be an absolute path"},
		{"allowed_domains = {\"a.example\"\n", "bad.conf:2: premature end of file"},
		{"spf {\n fail = bounce\n}\n", "bad.conf:2: option 'fail': 'bounce' is not one of: reject, tempfail, accept"},
		{"spf { dns_timeout = 5 }\n", "bad.conf:1: option 'dns_timeout': '5' needs a unit: ms, s, m or h"},
		{"spf { timeout = 30s }\n", "bad.conf: section 'spf': need 1s <= dns_timeout <= timeout <= 25s"},
		{"spf { dns_timeout = 10s  timeout = 5s }\n", "bad.conf: section 'spf': need 1s <= dns_timeout"},
		{"spf { dns_timeout = 500ms }\n", "bad.conf: section 'spf': need 1s"},
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
			CHECK(strncmp(err, "wide.conf: option 'trusted_networks': trusts more public ", 57) == 0 &&
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

int
main(void)
{
	test_defaults();
	test_full();
	test_errors();
	test_wide_trusted();
	return check_done("conf_test");
}
