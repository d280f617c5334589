/*
 * Unit tests: outbound scrubbing (milter/policy/scrub.c): inner addresses
 * and names in header values, name patterns, DKIM-covered headers kept,
 * and the corpus of real headers (tests/corpus/scrub-headers.txt) through
 * the policy core as the milter drives it.
 */
#include "config.h"

#include <stdlib.h>
#include <strings.h>

#include "tests/unit/check.h"
#include "domain.h"
#include "log.h"
#include "netaddr.h"
#include "milter/policy/policy.h"
#include "milter/policy/scrub.h"
#include "tests/unit/policy/testpolicy.h"

static struct net_list
nets(const char **list)
{
	struct net_list l = {0};

	for (; *list != NULL; list++) {
		struct net_cidr n;
		const char *why;

		if (net_cidr_parse(*list, &n, &why) == 0)
			net_list_add(&l, &n);
	}
	net_list_build(&l);   /* as the configuration does: the bisection, not the scan */
	return l;
}

static void
test_addresses(void)
{
	static const char *trusted_s[] = {"10.200.0.0/24", "fd00:200::/64", NULL};
	static const char *internal_s[] = {"192.168.0.0/16", "2001:db8:1::/48", NULL};
	static const struct {
		const char *value;
		int internal;
	} cases[] = {
		{"from core.inner (core.inner [10.200.0.3]) by hop1 (Postfix) with ESMTPS id X", 1},
		{"from mail.example.net (mail.example.net [203.0.113.5]) by mx.example.com", 0},
		{"from [192.168.7.20] (helo=laptop) by core.inner with esmtpsa", 1},
		{"from laptop (helo=192.168.7.20)\n\tby core.inner", 1},
		{"from core (core\n\t[10.200.0.9])\n\tby hop1 with ESMTP", 1},           /* folded */
		{"from x ([IPv6:fd00:200::5]) by hop", 1},
		{"from x ([IPv6:FD00:200:0:0::5]) by hop", 1},
		{"from x (x [IPv6:2001:db8:1:ffff::1]) by y", 1},
		{"from x (x [IPv6:2001:db8:2::1]) by y", 0},
		{"from x (x [::ffff:10.200.0.4]) by y", 1},                             /* v4-mapped */
		{"from x (x [fe80::1%eth0]) by y", 0},
		{"from x (x 10.200.0.8:25) by y", 1},                                    /* with port */
		{"by mx.example.com; Sun, 22 Nov 2026 08:30:00 +0000", 0},               /* times */
		{"from host10.200.0.1.example (unknown [203.0.113.1])", 0},             /* inside a name */
		{"from x by y for <user@[10.200.0.2]>;", 1},                             /* literal in for */
		{"from a (b [10.200.0.1.]) by c", 1},
		{"", 0},
		{"10.200.0.255", 1},
		{"10.200.1.0", 0},
	};
	struct net_list t = nets(trusted_s), in = nets(internal_s);
	struct net_addr found;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(scrub_names_internal(cases[i].value, &t, &in, &found) == (cases[i].internal != 0),
		    "case %zu \"%s\": want %d", i, cases[i].value, cases[i].internal);
	CHECK(!scrub_names_internal("from x [10.200.0.3]", NULL, NULL, NULL), "no lists: nothing internal");
	CHECK(scrub_names_internal("from x [10.200.0.3]", NULL, &t, NULL), "second list alone");
	net_list_free(&t);
	net_list_free(&in);
}

/*
 * Other spellings of an address (hopmilter.conf(5), scrub_received): each
 * inner one, and the same spelling of an outside address next to it.
 */
static void
test_spellings(void)
{
	static const char *trusted_s[] = {"10.200.0.0/24", "fd00:200::/64", NULL};
	static const char *internal_s[] = {"192.168.0.0/16", "2001:db8:1::/48", NULL};
	static const struct {
		const char *inner, *outside, *want;  /* want: the inner address found */
	} cases[] = {
		/* Dashed, in host names (AWS, cloud and ISP reverse names). */
		{"from ip-10-200-0-3.ec2.internal", "from ip-10-201-0-3.ec2.internal", "10.200.0.3"},
		{"by 10-200-0-3.vpn.example", "by 10-201-0-3.vpn.example", "10.200.0.3"},
		{"host-192-168-1-5.internal", "host-192-169-1-5.internal", "192.168.1.5"},
		{"IP-10-200-0-3.EC2.INTERNAL.", "IP-10-201-0-3.EC2.INTERNAL.", "10.200.0.3"},
		{"(ip-10-200-0-3)", "(ip-10-201-0-3)", "10.200.0.3"},
		{"(helo=ip-10-200-0-3)", "(helo=ip-10-201-0-3)", "10.200.0.3"},
		{"from x\n\t(ip-10-200-0-3.ec2.internal\n\t [203.0.113.4])",
		 "from x\n\t(ip-10-201-0-3.ec2.internal\n\t [203.0.113.4])", "10.200.0.3"},
		{"mail-1-10-200-0-3.example", "mail-1-10-201-0-3.example", "10.200.0.3"},  /* one of many */
		{"a_10-200-0-3.example", "a_10-201-0-3.example", "10.200.0.3"},
		{"10.200-0.3", "10.201-0.3", "10.200.0.3"},                               /* mixed */
		{"app.10.200.0.3.nip.example", "app.10.201.0.3.nip.example", "10.200.0.3"},
		{"10-200-0-3.", "10-201-0-3.", "10.200.0.3"},
		/* Dotted with a trailing dot, or two. */
		{"from [10.200.0.3.]", "from [10.201.0.3.]", "10.200.0.3"},
		{"from 10.200.0.3..", "from 10.201.0.3..", "10.200.0.3"},
		/* Leading zeros: as a person reads them, and as inet_aton(3) does (octal). */
		{"from [010.200.000.003]", "from [010.201.000.003]", "10.200.0.3"},
		{"ip-010-200-000-003", "ip-010-201-000-003", "10.200.0.3"},
		{"from [012.200.0.3]", "from [012.201.0.3]", "10.200.0.3"},               /* octal 012 */
		{"from [0300.0250.1.5]", "from [0300.0251.1.5]", "192.168.1.5"},         /* octal only */
		{"from [00010.200.0.3]", NULL, NULL},                                   /* 5 digits: no field */
		{NULL, "from [0777.0250.1.5]", NULL},                                   /* octal 511 */
		/* IPv6 with a zone, in brackets. */
		{"from x ([fd00:200::5%eth0])", "from x ([fd01:200::5%eth0])", "fd00:200::5"},
		{"from x ([IPv6:FD00:200::5%ETH0])", "from x ([IPv6:2001:db8:2::5%eth0])", "fd00:200::5"},
		{"from x ([fd00:200::5%25eth0])", "from x ([2001:db8:2::5%25eth0])", "fd00:200::5"},
		{"from x ([2001:db8:1::9%1])", "from x ([2001:db8:2::9%1])", "2001:db8:1::9"},
		/* IPv4-mapped and -embedded IPv6. */
		{"from x (::ffff:10.200.0.3)", "from x (::ffff:10.201.0.3)", "10.200.0.3"},
		{"from x ([IPv6:::ffff:10.200.0.3])", "from x ([IPv6:::ffff:203.0.113.3])", "10.200.0.3"},
		{"from x ([IPv6:::FFFF:192.168.7.20])", "from x ([IPv6:::FFFF:192.169.7.20])", "192.168.7.20"},
		{"from x ([::ffff:ac8:3])", "from x ([::ffff:ac9:3])", "10.200.0.3"},     /* hex */
		{"from x ([64:ff9b::10.200.0.3])", "from x ([64:ff9b::10.201.0.3])", "10.200.0.3"},
		/* Not an address: versions, dates, times, ids, a name glued on. */
		{NULL, "Microsoft SMTP Server id 15.20.7633.12 via Frontend Transport", NULL},
		{NULL, "Tue, 1 Dec 2026 10:00:00 +0000; 2026-12-01", NULL},
		{NULL, "from host10.200.0.1.example", NULL},
		{NULL, "from host10-200-0-1.example", NULL},
		{NULL, "from ip-10-200-0-300.example", NULL},
		{NULL, "from 10-200-0-3a.example", NULL},
		{NULL, "from 1.10-200-0", NULL},
		{NULL, "with SMTP id a1-20020a170902e54100b001f6", NULL},
	};
	struct net_list t = nets(trusted_s), in = nets(internal_s);
	struct net_addr found;
	char text[NET_ADDR_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].inner != NULL) {
			bool got = scrub_names_internal(cases[i].inner, &t, &in, &found);

			CHECK(got == (cases[i].want != NULL), "spelling %zu \"%s\": want %s", i,
			    cases[i].inner, cases[i].want ? "inner" : "not inner");
			if (got && cases[i].want != NULL)
				CHECK_STR(net_addr_format(&found, text, sizeof(text)), cases[i].want,
				    "spelling %zu: the address found", i);
		}
		if (cases[i].outside != NULL)
			CHECK(!scrub_names_internal(cases[i].outside, &t, &in, &found),
			    "spelling %zu \"%s\": outside, want kept", i, cases[i].outside);
	}
	/* Link-local with a zone: inner only when listed (the address decides, not the zone). */
	static const char *ll_s[] = {"fe80::/10", NULL};
	struct net_list ll = nets(ll_s);

	CHECK(scrub_names_internal("by mbx02 ([fe80::c5a3:2b1e:9f4:7d21%12])", &ll, NULL, &found),
	    "fe80::/10 listed: a zoned link-local address is inner");
	CHECK(!scrub_names_internal("by mbx02 ([fe80::c5a3:2b1e:9f4:7d21%12])", &t, &in, &found),
	    "fe80::/10 not listed: kept");
	net_list_free(&ll);
	net_list_free(&t);
	net_list_free(&in);
}

static struct dset *
names(const char **list)
{
	struct dset *d = dset_new();

	for (; *list != NULL; list++) {
		char norm[DOMAIN_MAX + 2];
		const char *why, *n = *list;
		bool dot = n[0] == '.';

		if (domain_normalize(dot ? n + 1 : n, norm, sizeof(norm), &why) == 0)
			dset_add(d, norm, dot);
	}
	return d;
}

static void
test_names(void)
{
	static const char *list[] = {".corp.example", "core.internal", "EXCH02.", NULL};
	static const struct {
		const char *value;
		const char *want;  /* NULL: no inner name */
	} cases[] = {
		{"by core.corp.example (Postfix, from userid 1000)", "core.corp.example"},
		{"by corp.example", "corp.example"},                   /* the dotted entry itself */
		{"by CORE.Corp.EXAMPLE.", "core.corp.example"},
		{"(helo=laptop.corp.example)", "laptop.corp.example"},
		{"for <u@core.internal>", "core.internal"},
		{"from x.core.internal", NULL},                       /* exact entry: no subdomains */
		{"from internal", NULL},
		{"from exch02 (203.0.113.1)", "exch02"},
		{"from EXCH02.other.example", NULL},
		{"from xcorp.example", NULL},
		{"by relay.corp.example.attacker.example", NULL},
		{"from corp.example-mail.net", NULL},
		{"from x..laptop.corp.example", "laptop.corp.example"},
		{"from a_b.corp.example", "a_b.corp.example"},
		{"=?utf-8?q?laptop.corp.example?=", "laptop.corp.example"},
		{"from l\xc3\xa4ptop.corp.example", NULL /* any: checked below */},
		{"", NULL},
	};
	struct dset *d = names(list);
	char found[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = scrub_names_inner_host(cases[i].value, d, found, sizeof(found));

		if (strstr(cases[i].value, "\xc3") != NULL) {
			CHECK(got, "U-label under an inner suffix: \"%s\"", cases[i].value);
			continue;
		}
		CHECK(got == (cases[i].want != NULL), "case %zu \"%s\": want %s", i, cases[i].value,
		    cases[i].want ? cases[i].want : "none");
		if (got && cases[i].want != NULL)
			CHECK_STR(found, cases[i].want, "case %zu: the name found", i);
	}
	/* Over-long: 300 bytes of one label, then the name. */
	char longv[400];

	memset(longv, 'a', 300);
	snprintf(longv + 300, sizeof(longv) - 300, ".laptop.corp.example");
	CHECK(scrub_names_inner_host(longv, d, NULL, 0), "over-long token ending in an inner name");
	memset(longv, 'a', 70);
	snprintf(longv + 70, sizeof(longv) - 70, ".corp.example");
	CHECK(scrub_names_inner_host(longv, d, NULL, 0), "a 70-byte label before the suffix");
	CHECK(!scrub_names_inner_host("by core.corp.example", NULL, NULL, 0), "no list: nothing");
	dset_free(d);
}

static void
test_patterns(void)
{
	const char *why;

	CHECK(scrub_name_matches("X-Originating-IP", "x-originating-ip"), "case");
	CHECK(!scrub_name_matches("X-Originating-IP", "X-Originating-IPs"), "whole name");
	CHECK(scrub_name_matches("X-MS-Exchange-Organization-*", "X-MS-EXCHANGE-ORGANIZATION-SCL"),
	    "prefix, case");
	CHECK(scrub_name_matches("X-MS-Exchange-Organization-*", "X-MS-Exchange-Organization-"),
	    "prefix alone");
	CHECK(!scrub_name_matches("X-MS-Exchange-Organization-*", "X-MS-Exchange-Organizatio"),
	    "shorter than the prefix");
	CHECK(scrub_name_matches("X-*", "x-mailer"), "X-*");
	CHECK(!scrub_name_matches("X-*", "Received"), "X-* is not everything");
	CHECK(scrub_pattern_check("X-Foo", &why) == 0, "a name");
	CHECK(scrub_pattern_check("X-Foo-*", &why) == 0, "a prefix");
	CHECK(scrub_pattern_check("*", &why) != 0, "'*' alone");
	CHECK(scrub_pattern_check("X-*-Foo", &why) != 0, "'*' inside");
	CHECK(scrub_pattern_check("X-Foo:", &why) != 0, "colon");
	CHECK(scrub_pattern_check("X Foo", &why) != 0, "space");
	CHECK(scrub_pattern_check("", &why) != 0, "empty");
	CHECK(scrub_pattern_check("X-F\xc3\xb6o", &why) != 0, "8-bit");
}

/* --------------------------------------------------- through the policy */

static char last_log[4096], warnings[8192];

static void
capture(int prio, const char *text, void *arg)
{
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s", text);
	if (prio <= LOG_WARNING && strlen(warnings) + strlen(text) + 2 < sizeof(warnings)) {
		strcat(warnings, text);
		strcat(warnings, "\n");
	}
}

#define INSIDE \
	"trusted_networks = {\"127.0.0.0/8\", \"::1/128\", \"10.200.0.0/24\", \"fd00:200::/64\"}\n" \
	"internal_networks = {\"192.168.0.0/16\", \"10.0.0.0/8\", \"172.16.0.0/12\", \"fd00::/8\"}\n" \
	"internal_names = {\".corp.example\", \"core.internal\", \"EXCH02.\", \".vpn.example.net\"}\n" \
	"allowed_domains = {\"example.com\"}\n" \
	"spf { enabled = false }\nratelimit { enabled = false }\n"

static struct policy *
make_policy(const char *extra)
{
	char text[4096];

	snprintf(text, sizeof(text), "%s%s", INSIDE, extra);
	return testpolicy_new(text);
}

/* A message's headers through the policy; the deletions in `e`. */
static void
run(struct policy *p, const char *ip, const char *const *hdrs, size_t n, struct policy_edits *e)
{
	struct policy_session *s = testpolicy_session(p, ip);
	struct policy_verdict v;

	policy_mail(s, "<alice@example.com>", NULL, "Q", &v);
	policy_rcpt(s, "<bob@example.com>", NULL, &v);
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(hdrs[i], ':');
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)(colon - hdrs[i]), hdrs[i]);
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		policy_header(s, name, colon);
	}
	policy_eom(s, "Q", e, &v);
	CHECK(v.action == POLICY_CONTINUE, "eom continues");
	policy_session_free(s);
}

/* Is (name, index) deleted in `e`? */
static bool
deleted(const struct policy_edits *e, const char *name, unsigned index)
{
	for (size_t i = 0; i < e->n; i++)
		if (!e->v[i].insert && strcasecmp(e->v[i].name, name) == 0 && e->v[i].index == index)
			return true;
	return false;
}

static size_t
ndeleted(const struct policy_edits *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		n += !e->v[i].insert;
	return n;
}

/*
 * RFC 2047 words through the policy: a header naming the inside only in an
 * encoded word goes like the plain one (rfc2047.h says how words are read).
 */
static void
test_encoded(void)
{
	static const struct {
		const char *header;
		bool inner;
		const char *why;
	} cases[] = {
		{"X-Host: =?utf-8?B?bGFwdG9wLmNvcnAuZXhhbXBsZQ==?=", true, "a B-word"},
		{"X-Host: =?UTF-8?b?Q09SRS5JTlRFUk5BTC4=?=", true, "lower-case b, upper-case name, trailing dot"},
		{"X-Host: =?iso-8859-1*en?B?MTkyLjE2OC43LjIw?=", true, "an address, a charset with a language"},
		{"Received: from mail.example.com (=?utf-8?B?aXAtMTAtMC0wLTUuZWMyLmludGVybmFs?=)\n\tby mx.example.com",
		 true, "a dashed address in a comment"},
		{"X-Host: =?utf-8?B?Y29yZS5pbnRlcg==?=\n\t=?utf-8?B?bmFs?=", true, "split across folded words"},
		{"X-Host: =?utf-8?Q?core=2Einternal?=", true, "Q with =2E"},
		{"X-Host: =?utf-8?B?Y28=cmUuaW50ZXJuYWw=?=", true, "two padded groups"},
		{"X-Host: =?utf-8?B?Y29yZS5pbnRlcm5hbA?=", true, "no padding"},
		{"X-Host: =?utf-8?B?Y29y!ZS5pbnRl*cm5hbA==?=", true, "characters outside base64"},
		{"X-Host: =?utf-8?B?eABjb3JlLmludGVybmFs?=", true, "a NUL before the name"},
		{"X-Host: =?utf-16le?B?YwBvAHIAZQAuAGkAbgB0AGUAcgBuAGEAbAA=?=", true, "UTF-16"},
		{"X-Host: =?utf-8?B?w7xiZXIgbGFwdG9wLmNvcnAuZXhhbXBsZQ==?=", true, "UTF-8 text around the name"},
		{"X-Host: =?utf-8?B?bWFpbC5leGFtcGxlLmNvbQ==?=", false, "a public name"},
		{"X-Host: =?utf-8?B?MjAzLjAuMTEzLjc=?=", false, "a public address"},
		{"X-Host: =?utf-8?B?aXAtMjAzLTAtMTEzLTcuZXhhbXBsZQ==?=", false, "a public dashed address"},
		{"X-Host: =?utf-8?B?Y29yZS5pbnRlcm5hbC5leGFtcGxl?=", false, "a name that only starts like an inner one"},
		{"X-Host: =?utf-8?B?Y29yZS5pbnRlcg==?= x =?utf-8?B?bmFs?=", false, "text between two words: not joined"},
	};
	struct policy *p = make_policy("");
	struct policy_edits e = {0};
	const char *one[1];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		one[0] = cases[i].header;
		run(p, "10.200.0.10", one, 1, &e);
		CHECK(ndeleted(&e) == (cases[i].inner ? 1u : 0u), "encoded %zu (%s): want %s", i,
		    cases[i].why, cases[i].inner ? "removed" : "kept");
		policy_edits_free(&e);
	}

	/* Over-long: one word of 4000 bytes, the name at its end. */
	static const char pre[] = "X-Host: =?utf-8?B?", tail[] = "IGNvcmUuaW50ZXJuYWw=?=";
	static char big[6000 * 17];
	size_t len = (size_t)snprintf(big, sizeof(big), "%s", pre);

	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len, "eHh4");  /* "xxx" */
	snprintf(big + len, sizeof(big) - len, "%s", tail);                 /* " core.internal" */
	one[0] = big;
	run(p, "10.200.0.10", one, 1, &e);
	CHECK(ndeleted(&e) == 1, "over-long word: removed");
	policy_edits_free(&e);
	/* Many words (5000), the last one inner; then the same with a public last one. */
	for (int last = 0; last < 2; last++) {
		len = (size_t)snprintf(big, sizeof(big), "X-Host:");
		for (int i = 0; i < 5000; i++)
			len += (size_t)snprintf(big + len, sizeof(big) - len, "\n\t=?x?B?YQ==?=");
		snprintf(big + len, sizeof(big) - len, " =?x?Q?%s?=", last ? "=2Eexample=2Ecom" :
		    "=2Ecore=2Einternal");
		run(p, "10.200.0.10", one, 1, &e);
		CHECK(ndeleted(&e) == (last ? 0u : 1u), "5000 words, the last %s", last ? "public" : "inner");
		policy_edits_free(&e);
	}
	policy_unref(p);
}

struct entry {
	bool remove;
	char id[64];
	char *header;        /* "Name: value", folds as "\n\t" / "\n " as the milter gets them */
	char name[128];
	unsigned index;      /* among the corpus message's headers of that name */
};

static size_t
load_corpus(struct entry *v, size_t max)
{
	const char *dir = getenv("srcdir");
	char path[1024], line[2048];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/corpus/scrub-headers.txt", dir ? dir : ".");
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	struct entry *cur = NULL;

	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n");

		line[len] = '\0';
		if (line[0] == '#')
			continue;
		if (len == 0) {
			cur = NULL;
			continue;
		}
		if (cur == NULL && (strncmp(line, "remove ", 7) == 0 || strncmp(line, "keep ", 5) == 0)) {
			if (n == max)
				break;
			cur = &v[n++];
			memset(cur, 0, sizeof(*cur));
			cur->remove = line[0] == 'r';
			snprintf(cur->id, sizeof(cur->id), "%.*s", (int)strcspn(line + (cur->remove ? 7 : 5),
			    ":"), line + (cur->remove ? 7 : 5));
			continue;
		}
		if (cur == NULL)
			continue;
		if (cur->header == NULL) {
			cur->header = strdup(line);
			snprintf(cur->name, sizeof(cur->name), "%.*s", (int)strcspn(line, ":"), line);
		} else {
			size_t old = strlen(cur->header);
			char *h = realloc(cur->header, old + len + 2);

			if (h == NULL)
				exit(2);
			h[old] = '\n';
			memcpy(h + old + 1, line, len + 1);
			cur->header = h;
		}
	}
	fclose(f);
	return n;
}

static void
test_corpus(void)
{
	static struct entry v[256];
	size_t n = load_corpus(v, 256), nremove = 0;
	struct policy *p = make_policy("outbound { enabled = true }\n");
	const char *hdrs[256] = {0};
	struct policy_edits e = {0};

	CHECK(n >= 60, "the corpus has its entries (%zu)", n);
	for (size_t i = 0; i < n; i++) {
		/* Alone in a message. */
		const char *one[1] = {v[i].header};

		run(p, "10.200.0.10", one, 1, &e);
		CHECK(deleted(&e, v[i].name, 1) == v[i].remove && ndeleted(&e) == (v[i].remove ? 1u : 0u),
		    "corpus %s alone: want %s", v[i].id, v[i].remove ? "removed" : "kept");
		policy_edits_free(&e);
		/* Its index in the message of every entry. */
		v[i].index = 1;
		for (size_t j = 0; j < i; j++)
			v[i].index += strcasecmp(v[j].name, v[i].name) == 0;
		nremove += v[i].remove;
		hdrs[i] = v[i].header;
	}
	/* All in one message: the same verdicts, at the right indices. */
	run(p, "10.200.0.10", hdrs, n, &e);
	for (size_t i = 0; i < n; i++)
		CHECK(deleted(&e, v[i].name, v[i].index) == v[i].remove,
		    "corpus %s (%s #%u) in one message: want %s", v[i].id, v[i].name, v[i].index,
		    v[i].remove ? "removed" : "kept");
	CHECK(ndeleted(&e) == nremove, "exactly the removals: %zu of %zu", ndeleted(&e), nremove);
	/* Applied in order: per name, the highest index first. */
	for (size_t i = 0; i + 1 < e.n; i++)
		if (!e.v[i].insert && !e.v[i + 1].insert && strcasecmp(e.v[i].name, e.v[i + 1].name) == 0)
			CHECK(e.v[i].index > e.v[i + 1].index, "deletions of %s downwards", e.v[i].name);
	CHECK(strstr(last_log, " scrubbed_names=Received:") != NULL, "ACCEPTED names: %s", last_log);
	policy_edits_free(&e);

	/*
	 * The same from the internet side: nothing is scrubbed.  Only every
	 * Received-SPF goes, as from any internet client (a forged one would
	 * fool OpenDMARC; see spf_policy_test).
	 */
	run(p, "203.0.113.9", hdrs, n, &e);
	{
		size_t nrspf = 0, drspf = 0;

		for (size_t i = 0; i < n; i++)
			nrspf += strcasecmp(v[i].name, "Received-SPF") == 0;
		for (size_t i = 0; i < e.n; i++)
			drspf += !e.v[i].insert && strcasecmp(e.v[i].name, "Received-SPF") == 0;
		CHECK(nrspf > 0 && drspf == nrspf, "internet: every Received-SPF deleted (%zu of %zu)",
		    drspf, nrspf);
		CHECK(ndeleted(&e) == drspf, "internet-class mail is not scrubbed (%zu)",
		    ndeleted(&e) - drspf);
	}
	policy_edits_free(&e);
	policy_unref(p);
	for (size_t i = 0; i < n; i++)
		free(v[i].header);
}

static void
test_config(void)
{
	struct policy *p;
	struct policy_edits e = {0};
	const char *h1[] = {"X-Originating-IP: [203.0.113.77]", "X-Originating-IP: [192.168.7.20]",
		"X-Corp-Gateway: gw.corp.example", "X-Keep: nothing here"};
	char err[512];
	struct conf *c;

	/* Lists emptied: X-Originating-IP is then kept unless inner; X- no longer inspected. */
	p = make_policy("outbound { remove_headers = {}  scrub_headers = {\"X-Originating-IP\"} }\n");
	run(p, "10.200.0.10", h1, 4, &e);
	CHECK(ndeleted(&e) == 1 && deleted(&e, "X-Originating-IP", 2), "only the inner X-Originating-IP");
	policy_edits_free(&e);
	policy_unref(p);
	/* The defaults. */
	p = make_policy("");
	run(p, "10.200.0.10", h1, 4, &e);
	CHECK(ndeleted(&e) == 3 && deleted(&e, "X-Originating-IP", 1) &&
	    deleted(&e, "X-Originating-IP", 2) && deleted(&e, "X-Corp-Gateway", 1),
	    "defaults: X-Originating-IP listed, X-* inspected");
	CHECK(strstr(last_log, " scrubbed=3 scrubbed_names=X-Originating-IP:2,X-Corp-Gateway:1 ") != NULL,
	    "ACCEPTED: %s", last_log);
	policy_edits_free(&e);
	policy_unref(p);
	/* scrub_received = false leaves Received alone, not the other lists. */
	p = make_policy("outbound { scrub_received = false }\n");
	const char *h2[] = {"Received: by core.corp.example (Postfix)", "X-Originating-IP: 1.2.3.4"};
	run(p, "10.200.0.10", h2, 2, &e);
	CHECK(ndeleted(&e) == 1 && deleted(&e, "X-Originating-IP", 1), "scrub_received = false");
	policy_edits_free(&e);
	policy_unref(p);

	/* Wrong configuration: FILE:LINE: reason. */
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"internal_names = {\"a..b\"}\n", "bad.conf:1: option 'internal_names': 'a..b': empty label"},
		{"internal_names = {\".\"}\n", "bad.conf:1: option 'internal_names': '.': empty domain"},
		{"outbound {\n remove_headers = {\"*\"}\n}\n", "bad.conf:2: option 'remove_headers': '*': "},
		{"outbound {\n scrub_headers = {\"X-*-Y\"}\n}\n", "bad.conf:2: option 'scrub_headers': 'X-*-Y': "},
		{"outbound { remove_headers = {\"X-Foo:\"} }\n", "bad.conf:1: option 'remove_headers'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = NULL;
		CHECK(conf_load_string("bad.conf", bad[i].text, &c, err, sizeof(err)) != 0,
		    "refused: %s", bad[i].text);
		CHECK(strncmp(err, bad[i].want, strlen(bad[i].want)) == 0, "error \"%s\", want \"%s\"", err,
		    bad[i].want);
		conf_free(c);
	}
}

/* A DKIM signature made inside: what it covers stays, with a warning. */
static void
test_dkim(void)
{
	struct policy *p = make_policy("");
	struct policy_edits e = {0};
	/* Top to bottom as the edge sees them: the hops' Received above the signature. */
	const char *h[] = {
		"Received: from hop1.vpn.example.net ([10.200.0.2]) by mx.example.com",
		"Received: from core.vpn.example.net ([10.200.0.10]) by hop1.vpn.example.net",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=hm;\n"
		"\th=From:To:Subject:\n\t Received : X-Originating-IP; bh=abc; b=def",
		"Received: by core.corp.example (Postfix, from userid 1000)",
		"X-Originating-IP: [192.168.7.20]",
		"X-Mailer-Host: laptop.corp.example",
	};

	warnings[0] = '\0';
	run(p, "10.200.0.10", h, 6, &e);
	CHECK(deleted(&e, "Received", 1) && deleted(&e, "Received", 2), "the hops' Received go");
	CHECK(!deleted(&e, "Received", 3), "the signed (bottom-most) Received stays");
	CHECK(!deleted(&e, "X-Originating-IP", 1), "signed X-Originating-IP stays");
	CHECK(deleted(&e, "X-Mailer-Host", 1), "unsigned X-Mailer-Host goes");
	CHECK(ndeleted(&e) == 3, "three deletions (%zu)", ndeleted(&e));
	CHECK(strstr(warnings, "keeping Received #3 (naming core.corp.example): a DKIM signature covers it")
	    != NULL, "warning names the Received: %s", warnings);
	CHECK(strstr(warnings, "keeping X-Originating-IP #1 (listed as X-Originating-IP)") != NULL,
	    "warning names X-Originating-IP: %s", warnings);
	CHECK(strstr(last_log, " scrubbed=3 scrubbed_names=Received:2,X-Mailer-Host:1 ") != NULL,
	    "ACCEPTED counts only what went: %s", last_log);
	policy_edits_free(&e);

	/* The signature below what it covers (order does not matter), "bh=" is not "h=". */
	const char *h2[] = {
		"X-Originating-IP: [192.168.7.20]",
		"Received: by core.corp.example (Postfix)",
		"DKIM-Signature: v=1; bh=X-Originating-IP:Received; h=from:to; b=x",
	};
	run(p, "10.200.0.10", h2, 3, &e);
	CHECK(ndeleted(&e) == 2, "bh= covers nothing (%zu)", ndeleted(&e));
	policy_edits_free(&e);
	const char *h3[] = {
		"Received: by core.corp.example (Postfix) id 2",
		"Received: by core.corp.example (Postfix) id 1",
		"DKIM-Signature: v=1; h=from:RECEIVED:to; b=x",
		"X-Originating-IP: [192.168.7.20]",
	};
	run(p, "10.200.0.10", h3, 4, &e);
	CHECK(ndeleted(&e) == 2 && deleted(&e, "Received", 1) && deleted(&e, "X-Originating-IP", 1),
	    "h= names compared without case; one listing covers the bottom one only");
	policy_edits_free(&e);
	/* Listed twice (over-signing) covers two; two signatures each once cover one. */
	const char *h4[] = {
		"Received: by core.corp.example (Postfix) id 2",
		"Received: by core.corp.example (Postfix) id 1",
		"DKIM-Signature: v=1; h=Received:Received:from; b=x",
	};
	run(p, "10.200.0.10", h4, 3, &e);
	CHECK(ndeleted(&e) == 0, "listed twice: both covered");
	policy_edits_free(&e);
	const char *h5[] = {
		"Received: by core.corp.example (Postfix) id 2",
		"ARC-Message-Signature: i=1; h=Received:from; b=x",
		"Received: by core.corp.example (Postfix) id 1",
		"DKIM-Signature: v=1; h=Received:from; b=x",
	};
	run(p, "10.200.0.10", h5, 4, &e);
	CHECK(ndeleted(&e) == 1 && deleted(&e, "Received", 1), "two signatures, once each: one covered");
	policy_edits_free(&e);
	policy_unref(p);
}

int
main(void)
{
	log_set_level(LOG_DEBUG);
	log_set_sink(capture, NULL);
	test_addresses();
	test_spellings();
	test_names();
	test_patterns();
	test_encoded();
	test_corpus();
	test_config();
	test_dkim();
	return check_done("scrub_test");
}
