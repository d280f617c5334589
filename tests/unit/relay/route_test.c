/* Unit tests: hoprelay.conf parsing, hop and pin syntax, route choice, errors with line numbers (relay-transport/route.c). */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "tests/unit/check.h"
#include "tests/unit/hostiletext.h"
#include "relay-transport/route.h"

#define PIN_A "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM="
#define PIN_B "qEHa3GZhDigRKqUk7NN1wEGbU+nEC/MXCAkYHcCoaHc="

static void
test_hops(void)
{
	static const struct {
		const char *text, *host, *fmt;
		unsigned port;
		bool literal;
	} good[] = {
		{"10.200.0.2:2525", "10.200.0.2", "10.200.0.2:2525", 2525, true},
		{"10.200.0.2", "10.200.0.2", "10.200.0.2:25", 25, true},
		{"[fd00:200::2]:25", "fd00:200::2", "[fd00:200::2]:25", 25, true},
		{"[::1]", "::1", "[::1]:25", 25, true},
		{"hop1.vpn.example:587", "hop1.vpn.example", "hop1.vpn.example:587", 587, false},
	};
	static const char *bad[] = {"", ":25", "fd00::2:25", "[fd00::2", "[10.0.0.1]:25",
	    "[hop1]:25", "host:0", "host:65536", "host:25x", "host:", "bad host:25", "a..b:25",
	    "[::1]x"};
	struct route_hop h;
	const char *why;
	char buf[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(route_parse_hop(good[i].text, &h, &why) == 0, "hop %s", good[i].text);
		CHECK_STR(h.host, good[i].host, "hop %s host", good[i].text);
		CHECK(h.port == good[i].port && h.is_literal == good[i].literal, "hop %s port/literal",
		    good[i].text);
		CHECK_STR(route_hop_format(&h, buf, sizeof(buf)), good[i].fmt, "hop %s format",
		    good[i].text);
	}
	for (size_t i = 0; i < sizeof(hostile_text) / sizeof(hostile_text[0]); i++)
		CHECK(route_parse_hop(bad[i], &h, &why) != 0, "bad hop '%s' accepted", bad[i]);
}

static void
test_pins(void)
{
	static const char *bad[] = {"", "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM",
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM==",
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rl!=",
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlN=",  /* non-zero padding bits */
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlP=",  /* the same, other bits */
	    "sha256/GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM=",
	    " TIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM=",  /* a blank OpenSSL would skip */
	    "\tTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM=",
	    "GTIFZ8xBpBcyvxqWsaxH2 urcvcinE3HErYvmgh1rlM=",  /* inside */
	    "GTIFZ8xBpBcyvxqWsaxH2\nurcvcinE3HErYvmgh1rlM=",
	    "GTIFZ8xBpBcyvxqWsaxH2-urcvcinE3HErYvmgh1rlM=",  /* base64url's alphabet */
	    "GTIFZ8xBpBcyvxqWsaxH2_urcvcinE3HErYvmgh1rlM=",
	    "GTIFZ8xBpBcyvxqWsaxH2=urcvcinE3HErYvmgh1rlM=",  /* padding inside */
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1r==",   /* 31 bytes, padded to 44 */
	    "============================================",
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rl\xc3=",
	    "GTIFZ8xBpBcyvxqWsaxH2yurcvcinE3HErYvmgh1rlM=\n"};
	static const unsigned char zero[32];
	struct route_pin p;
	const char *why;

	CHECK(route_parse_pin(PIN_A, &p, &why) == 0, "good pin");
	CHECK(p.sha256[0] == 0x19 && p.sha256[1] == 0x32 && p.sha256[31] == 0x53, "pin bytes");
	CHECK(route_parse_pin("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", &p, &why) == 0 &&
	    memcmp(p.sha256, zero, 32) == 0, "all-zero pin");
	CHECK(route_parse_pin("//////////////////////////////////////////8=", &p, &why) == 0 &&
	    p.sha256[0] == 0xff && p.sha256[31] == 0xff, "all-ones pin (+ and / digits)");
	for (size_t i = 0; i < sizeof(hostile_text) / sizeof(hostile_text[0]); i++)
		CHECK(route_parse_pin(bad[i], &p, &why) != 0, "bad pin %zu accepted", i);
}

static void
test_load(void)
{
	static const char text[] =
	    "syslog_facility = local2\n"
	    "log_level = debug\n"
	    "default_route = \"core\"\n"
	    "route core {\n"
	    "  hops = {\"10.200.0.2:25\", \"[fd00:200::2]:25\"}\n"
	    "  ca_file = \"/etc/hopmilter/ca.pem\"\n"
	    "  pins = {\"" PIN_A "\", \"" PIN_B "\"}\n"
	    "  server_name = \"hop1.vpn.example\"\n"
	    "  client_cert = \"/etc/hopmilter/edge.pem\"\n"
	    "  helo_name = \"edge.vpn.example\"\n"
	    "  source_address = \"10.200.0.1\"\n"
	    "  connect_timeout = 5s\n"
	    "  data_done_timeout = 2m\n"
	    "}\n"
	    "route plain { hops = {\"127.0.0.1:10025\"}  tls = none }\n";
	struct route_conf *c;
	const struct route *r;
	char err[1024];

	CHECK(route_load_string("ok.conf", text, &c, err, sizeof(err)) == 0, "load: %s", err);
	if (c == NULL)
		return;
	CHECK(c->nroutes == 2 && c->syslog_facility == LOG_LOCAL2 && c->log_level == LOG_DEBUG,
	    "globals");
	r = route_find(c, "CORE");
	CHECK(r != NULL && strcmp(r->name, "core") == 0, "route by name, any case");
	if (r != NULL) {
		CHECK(r->nhops == 2 && r->hops[1].port == 25 && strcmp(r->hops[1].host, "fd00:200::2") == 0,
		    "hops");
		CHECK(r->npins == 2 && r->tls == ROUTE_TLS_REQUIRED, "pins and default tls");
		CHECK(r->have_source && r->source.family == AF_INET, "source address");
		CHECK(r->timeouts.connect == 5000 && r->timeouts.data_done == 120000, "set timeouts");
		CHECK(r->timeouts.greeting == 300000 && r->timeouts.command == 300000 &&
		    r->timeouts.data_init == 120000 && r->timeouts.data_block == 180000,
		    "RFC 5321 4.5.3.2 defaults");
		CHECK_STR(r->client_key, "", "client_key empty: key in client_cert");
		CHECK_STR(r->helo_name, "edge.vpn.example", "helo_name");
	}
	r = route_find(c, "example.com");
	CHECK(r != NULL && strcmp(r->name, "core") == 0, "unknown nexthop: default route");
	r = route_find(c, "plain");
	CHECK(r != NULL && r->tls == ROUTE_TLS_NONE && r->helo_name[0] != '\0', "tls none, helo default");
	route_conf_free(c);

	CHECK(route_load_string("nodef.conf", "route a { hops = {\"1.2.3.4\"} tls = none }\n", &c,
	    err, sizeof(err)) == 0, "no default route: %s", err);
	CHECK(c != NULL && route_find(c, "example.com") == NULL, "no default: unknown nexthop has no route");
	route_conf_free(c);
}

static void
test_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"route a {\n hops = {\"10.0.0.1:25\"}\n bogus = 1\n}\n", "bad.conf:3: no such option 'bogus'"},
		{"route a {\n hops = {\"10.0.0.1:25\",\n \"fd00::1:25\"}\n}\n",
		    "bad.conf:3: option 'hops': 'fd00::1:25': write an IPv6 address as [address]:port"},
		{"route a {\n hops = {\"h:99999\"}\n}\n",
		    "bad.conf:2: option 'hops': 'h:99999': the port must be a number in 1-65535"},
		{"route a {\n hops = {\"10.0.0.1\"}\n pins = {\"abc\"}\n}\n",
		    "bad.conf:3: option 'pins': 'abc': a pin is 44 characters of base64 (hoprelay --probe prints it)"},
		{"route a {\n hops = {\"10.0.0.1\"}\n tls = maybe\n}\n",
		    "bad.conf:3: option 'tls': 'maybe' is not one of: required, opportunistic, none"},
		{"route a {\n hops = {\"10.0.0.1\"}\n connect_timeout = 10\n}\n",
		    "bad.conf:3: option 'connect_timeout': '10' needs a unit: ms, s, m or h"},
		{"route a {\n hops = {\"10.0.0.1\"}\n ca_file = \"ca.pem\"\n}\n",
		    "bad.conf:3: option 'ca_file': 'ca.pem' must be an absolute path"},
		{"route a {\n hops = {\"10.0.0.1\"}\n source_address = \"hop1\"\n}\n",
		    "bad.conf:3: option 'source_address': 'hop1' is not an IP address"},
		{"route a {\n hops = {\"10.0.0.1\"}\n server_name = \"a b\"\n}\n",
		    "bad.conf:3: option 'server_name': 'a b': character not allowed in a domain"},
		{"\n\nroute a {\n hops = {\"10.0.0.1\"}\n}\n",
		    "bad.conf:5: route 'a': tls = required needs 'ca_file' or 'pins' to authenticate the server"},
		{"route a {\n tls = none\n}\n", "bad.conf:3: route 'a': needs at least one entry in 'hops'"},
		{"route a {\n hops = {\"10.0.0.1\"}\n tls = opportunistic\n pins = {\"" PIN_A "\"}\n}\n",
		    "bad.conf:5: route 'a': 'ca_file', 'pins' and 'server_name' need tls = required"},
		{"route a {\n hops = {\"10.0.0.1\"}\n tls = none\n client_cert = \"/c.pem\"\n}\n",
		    "bad.conf:5: route 'a': 'client_cert' needs TLS"},
		{"route a {\n hops = {\"10.0.0.1\"}\n tls = none\n connect_timeout = 0s\n}\n",
		    "bad.conf:5: route 'a': timeouts must be longer than 0ms"},
		{"route a { hops = {\"10.0.0.1\"} tls = none }\nroute a { hops = {\"10.0.0.2\"} tls = none }\n",
		    "bad.conf:2: found duplicate title 'a'"},
		{"default_route = \"b\"\nroute a { hops = {\"10.0.0.1\"} tls = none }\n",
		    "bad.conf:1: option 'default_route': no route named 'b'"},
		{"route a { hops = {\"10.0.0.1\"} tls = none }\n\ndefault_route = \"b\"\n",
		    "bad.conf:3: option 'default_route': no route named 'b'"},
		{"log_level = debug\n", "bad.conf: no route defined"},
		{"log_level = loud\n", "bad.conf:1: option 'log_level': 'loud' is not one of: error, warning, notice, info, debug"},
		{"route a { hops = {\"10.0.0.1\"\n", "bad.conf:2: premature end of file"},
	};
	struct route_conf *c;
	char err[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		CHECK(route_load_string("bad.conf", cases[i].text, &c, err, sizeof(err)) != 0 && c == NULL,
		    "case %zu accepted", i);
		CHECK_STR(err, cases[i].want, "case %zu", i);
	}
	CHECK(route_load("/nonexistent/hoprelay.conf", &c, err, sizeof(err)) != 0, "missing file");
	CHECK_STR(err, "/nonexistent/hoprelay.conf: cannot read: No such file or directory", "missing file");
}

/*
 * Hostile text in every string option of hoprelay.conf, the route title
 * included: a control character (escaped or raw), a NUL escape that would
 * cut the value, megabytes.  Refused at the line, in one plain line.
 */
static void
test_hostile_strings(void)
{
	static const char *const opts[] = {
		"\ndefault_route = \"co@re\"\nroute core { hops = {\"10.0.0.1\"} tls = none }\n",
		"\nroute core { hops = {\"10.0.0.1\", \"10.0.0.2:25@\"} tls = none }\n",
		"\nroute core { hops = {\"10.0.0.1\"} pins = {\"@\"} }\n",
		"\nroute core { hops = {\"10.0.0.1\"} ca_file = \"/etc/c@.pem\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = none client_cert = \"/etc/c@.pem\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = none client_key = \"/etc/k@.pem\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} server_name = \"h@.example\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = none helo_name = \"h@.example\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = none source_address = \"10.0.0.9@\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = \"no@ne\" }\n",
		"\nroute core { hops = {\"10.0.0.1\"} tls = none connect_timeout = \"5@s\" }\n",
		"\nlog_level = \"inf@o\"\nroute core { hops = {\"10.0.0.1\"} tls = none }\n",
		"\nsyslog_facility = \"ma@il\"\nroute core { hops = {\"10.0.0.1\"} tls = none }\n",
		"\nroute \"co@re\" { hops = {\"10.0.0.1\"} tls = none }\n",
	};
	char text[1024], err[1024];
	struct route_conf *c;

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		for (size_t j = 0; j < sizeof(hostile_text) / sizeof(hostile_text[0]); j++) {
			check_fill(text, sizeof(text), opts[i], hostile_text[j].ins);
			c = NULL;
			err[0] = '\0';
			CHECK(route_load_string("bad.conf", text, &c, err, sizeof(err)) != 0 && c == NULL,
			    "%s accepted", text);
			CHECK(strncmp(err, "bad.conf:2: ", 12) == 0 && strstr(err, hostile_text[j].want) != NULL &&
			    strpbrk(err, "\n\t\x1b\x7f") == NULL,
			    "%s: got \"%s\", want \"%s\"", text, err, hostile_text[j].want);
			route_conf_free(c);
		}
	}
	/* Megabytes, and an empty route name. */
	size_t big = 3 * 1024 * 1024;
	char *v = malloc(big + 1), *t = malloc(big + 256);

	if (v != NULL && t != NULL) {
		memset(v, 'a', big);
		v[big] = '\0';
		check_fill(t, big + 256, "\nroute core { hops = {\"10.0.0.1\"} tls = none helo_name = \"@\" }\n", v);
		CHECK(route_load_string("big.conf", t, &c, err, sizeof(err)) != 0 &&
		    strcmp(err, "big.conf:2: option 'helo_name': the value is longer than 4096 bytes") == 0,
		    "3 MB helo_name: %.200s", err);
		check_fill(t, big + 256, "\nroute \"@\" { hops = {\"10.0.0.1\"} tls = none }\n", v);
		CHECK(route_load_string("big.conf", t, &c, err, sizeof(err)) != 0 &&
		    strcmp(err, "big.conf:2: a route's name is longer than 255 bytes") == 0,
		    "3 MB route name: %.200s", err);
	}
	free(v);
	free(t);
	CHECK(route_load_string("bad.conf", "\n\nroute \"\" { hops = {\"10.0.0.1\"} tls = none }\n", &c, err,
	    sizeof(err)) != 0 && strcmp(err, "bad.conf:3: a route's name must not be empty") == 0,
	    "empty route name: %s", err);
}

int
main(void)
{
	test_hops();
	test_pins();
	test_load();
	test_errors();
	test_hostile_strings();
	return check_done("route_test");
}
