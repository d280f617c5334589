/*
 * Unit tests: the RFC 7208 grammar check, the rewrite for libspf2 and the
 * explanation expansion of milter/policy/spfrec.c, as tables -- the valid
 * spellings (case, trailing dot, macros at the end, /0, odd modifier
 * names) and the hostile ones (NUL, control and 8-bit bytes, bad top
 * labels, bad macros, duplicate modifiers, leading-zero CIDRs, over-long
 * terms and records, too many macros).
 */
#include "config.h"

#include <stdlib.h>
#include <sys/socket.h>

#include "milter/policy/spfrec.h"
#include "tests/unit/check.h"

#define MARK "hm0-test"

/* The client: 192.0.2.1 or 2001:db8::1. */
static const unsigned char v4addr[4] = {192, 0, 2, 1};
static const unsigned char v6addr[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

static const struct {
	const char *rec;
	int family;
	enum spfrec_result want;
	const char *rewrite;   /* NULL: do not compare */
	size_t len;            /* 0: strlen(rec); else the bytes, NULs included */
} vet_cases[] = {
	/* Valid, and what libspf2 gets. */
	{"v=spf1 -all", AF_INET, SPFREC_OK, "v=spf1 -all", 0},
	{"V=SPF1 IP4:192.0.2.0/24 -ALL", AF_INET, SPFREC_OK, "v=spf1 all", 0},
	{"v=spf1 ip4:198.51.100.0/24 ~ip4:192.0.2.0/31 -all", AF_INET, SPFREC_OK, "v=spf1 ~all", 0},
	{"v=spf1 ip4:192.0.2.2/32 ip6:2001:db8::/32 a -all", AF_INET, SPFREC_OK, "v=spf1 a -all", 0},
	{"v=spf1 ip4:192.0.2.0/24 ?ip6:2001:db8::/32 a -all", AF_INET6, SPFREC_OK, "v=spf1 ?all", 0},
	{"v=spf1 ip6:2001:db8::2 ip6:2001:db9::/32 mx -all", AF_INET6, SPFREC_OK,
	    "v=spf1 mx -all", 0},
	{"v=spf1 a a a a a a a a a a a a a -all", AF_INET, SPFREC_OK,
	    "v=spf1 a a a a a a a a a a a", 0},
	{"v=spf1   a   mx  ", AF_INET, SPFREC_OK, "v=spf1 a mx", 0},
	{"v=spf1 a:mail.example.com. -all", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1 include:_spf.%{d}", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1 a:foo-bar.123-45 -all", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1 a/24//64 -all", AF_INET, SPFREC_OK, "v=spf1 a/24 -all", 0},
	{"v=spf1 a/24//64 -all", AF_INET6, SPFREC_OK, "v=spf1 a//64 -all", 0},
	{"v=spf1 ip4:1.2.3.4/0 -all", AF_INET, SPFREC_OK, "v=spf1 all", 0},
	{"v=spf1 ip4:1.2.3.4/0 -all", AF_INET6, SPFREC_OK, "v=spf1 -all", 0},
	{"v=spf1 -ip6:::1/0 ~all", AF_INET6, SPFREC_OK, "v=spf1 -all", 0},
	{"v=spf1 a/0 -all", AF_INET, SPFREC_OK, "v=spf1 a:%{d}." MARK " -all", 0},
	{"v=spf1 a/0 -all", AF_INET6, SPFREC_OK, "v=spf1 a -all", 0},
	{"v=spf1 mx:example.com.//0 -all", AF_INET6, SPFREC_OK,
	    "v=spf1 mx:example.com." MARK " -all", 0},
	{"v=spf1 redirect=b.example a:c.example", AF_INET, SPFREC_OK,
	    "v=spf1 a:c.example redirect=b.example", 0},
	{"v=spf1 redirect=b.example ip4:192.0.2.99", AF_INET, SPFREC_OK,
	    "v=spf1 redirect=b.example", 0},
	{"v=spf1 redirect=b.example ip4:192.0.2.1", AF_INET, SPFREC_OK, "v=spf1 all", 0},
	{"v=spf1 redirect=b.example -all", AF_INET, SPFREC_OK, "v=spf1 -all", 0},
	{"v=spf1 a.b-c_d=%{d} moo=x -all", AF_INET, SPFREC_OK, "v=spf1 -all", 0},
	{"v=spf1 exp=why.%{d} -all", AF_INET, SPFREC_OK, "v=spf1 -all exp=why.%{d}", 0},
	{"v=spf1 a:%{H}", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1", AF_INET, SPFREC_OK, "v=spf1", 0},
	/* Not SPF version 1 at all. */
	{"v=spf10 -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"spf1 -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	/* Bytes a record may not hold. */
	{"v=spf1 a:foo.example.com\0 -all", AF_INET, SPFREC_SYNTAX, NULL,
	    sizeof("v=spf1 a:foo.example.com\0 -all") - 1},
	{"v=spf1 -all\0", AF_INET, SPFREC_SYNTAX, NULL, sizeof("v=spf1 -all\0") - 1},
	{"v=spf1 a:foo.example.com\t-all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:f\xc3\xa9.example.com -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:foo.example.com\xff -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	/* Domain-specs. */
	{"v=spf1 a:museum", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:111.222.33.44", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:abc.123", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:example.-com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:example.com:8080", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a: -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 include", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 exists:foo.example.com/24", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ptr:", AF_INET, SPFREC_SYNTAX, NULL, 0},
	/* Macros. */
	{"v=spf1 a:%{x}.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:%{c}.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:%{d0}.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:%{d129}.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:%{d1000}.example.com", AF_INET, SPFREC_LIMIT, NULL, 0},
	{"v=spf1 a:%{d.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:%{d|}.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a:foo%.example.com", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 exists:%{l2r/-}.user.%{d2}", AF_INET, SPFREC_LIMIT, NULL, 0},
	{"v=spf1 exists:%{l,}.user.%{d2}", AF_INET, SPFREC_LIMIT, NULL, 0},
	{"v=spf1 exists:%{l2r+-_=.}.user.%{d2}", AF_INET, SPFREC_OK, NULL, 0},
	{"v=spf1 exists:%{L2R-}.%%{dR}.%{iR}.x", AF_INET, SPFREC_OK,
	    "v=spf1 exists:%{L2r-}.%%{dR}.%{ir}.x", 0},
	{"v=spf1 a:%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}", AF_INET, SPFREC_LIMIT, NULL, 0},
	/* CIDRs. */
	{"v=spf1 ip4:192.0.2.0/032", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ip4:192.0.2.0/33", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ip6:2001:db8::/129", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 a//0128", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ip4:192.0.02.1", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ip4:192.0.2", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 ip6:2001:db8::g", AF_INET, SPFREC_SYNTAX, NULL, 0},
	/* Mechanisms and modifiers. */
	{"v=spf1 redirect:b.example", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 foo:b.example", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 all:x", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 redirect=a.example redirect=b.example", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 exp=a.example EXP=b.example -all", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 redirect=", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 moo=%{x}", AF_INET, SPFREC_SYNTAX, NULL, 0},
	{"v=spf1 1moo=x", AF_INET, SPFREC_SYNTAX, NULL, 0},
};

static void
test_vet(void)
{
	char out[SPFREC_OUT_MAX], why[200];

	for (size_t i = 0; i < sizeof(vet_cases) / sizeof(vet_cases[0]); i++) {
		struct spfrec_rewrite rw = {vet_cases[i].family,
		    vet_cases[i].family == AF_INET6 ? v6addr : v4addr, MARK};
		const char *r = vet_cases[i].rec;
		size_t len = vet_cases[i].len > 0 ? vet_cases[i].len : strlen(r);
		enum spfrec_result got;

		got = spfrec_vet(r, len, &rw, out, sizeof(out), why, sizeof(why));
		CHECK(got == vet_cases[i].want, "vet \"%s\": got %d (%s), want %d", r, got, why,
		    vet_cases[i].want);
		if (got != SPFREC_OK)
			CHECK(why[0] != '\0' && out[0] == '\0', "vet \"%s\": a reason, no rewrite", r);
		if (vet_cases[i].rewrite != NULL)
			CHECK_STR(out, vet_cases[i].rewrite, "rewrite of \"%s\"", r);
	}
}

/* The limits: at the limit accepted, past it refused. */
static void
test_limits(void)
{
	static char rec[SPFREC_MAX_RECORD + 64], out[SPFREC_OUT_MAX];
	struct spfrec_rewrite rw = {AF_INET, v4addr, MARK};
	char why[200];
	size_t n;

	/* A 4096-byte record of ip4 terms, the largest accepted. */
	n = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	while (n + 20 <= SPFREC_MAX_RECORD)
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, " ip4:192.0.2.%u", (unsigned)(n % 250));
	while (n < SPFREC_MAX_RECORD)
		rec[n++] = ' ';
	rec[n] = '\0';
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_OK,
	    "a %zu-byte record: %s", n, why);
	rec[n++] = ' ';
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_LIMIT,
	    "a %zu-byte record is over the limit", n);
	/* A term of SPFREC_MAX_TERM bytes, then one more. */
	n = (size_t)snprintf(rec, sizeof(rec), "v=spf1 a:");
	while (n < 7 + SPFREC_MAX_TERM - 4)
		rec[n++] = 'x';
	memcpy(rec + n, ".com", 5);
	n += 4;
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_OK,
	    "a %d-byte term: %s", SPFREC_MAX_TERM, why);
	memmove(rec + 10, rec + 9, n - 9 + 1);
	n++;
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_LIMIT,
	    "a %d-byte term", SPFREC_MAX_TERM + 1);
	/* Eleven DNS terms of 60-byte names do not fit libspf2's 511 bytes: refused, not cut. */
	n = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, " include:%02d.%s.example.com", i,
		    "a-rather-long-label-for-an-include-target-of-forty");
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_LIMIT &&
	    strstr(why, "too large") != NULL, "eleven long includes: %s", why);
	/*
	 * A '/' inside a domain-spec is no CIDR (fuzz_spfrec: the size estimate
	 * stopped there, and libspf2 silently dropped the last mechanism).
	 */
	n = (size_t)snprintf(rec, sizeof(rec), "v=spf1");
	for (int i = 0; i < 2; i++) {
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, " a:p/");
		for (int j = 0; j < 230; j++)
			rec[n++] = 'x';
		n += (size_t)snprintf(rec + n, sizeof(rec) - n, ".com");
	}
	n += (size_t)snprintf(rec + n, sizeof(rec) - n, " a:b.com a:c.com a:d.com -all");
	CHECK(spfrec_vet(rec, n, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_LIMIT,
	    "two 240-byte terms with a '/' inside: %s", why);
	/* Eight macros in a term are fine. */
	snprintf(rec, sizeof(rec), "v=spf1 exists:%%{i}.%%{s}.%%{l}.%%{o}.%%{d}.%%{h}.%%{v}.%%{p}");
	CHECK(spfrec_vet(rec, strlen(rec), &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_OK,
	    "eight macros: %s", why);
}

static void
test_explain(void)
{
	static const struct {
		const char *text;
		bool ok;
	} cases[] = {
		{"Sorry %{s}, %{c} may not send on %{r} at %{t}", true},
		{"plain words and %% and %_ and %-", true},
		{"bad %{x} macro", false},
		{"bad % alone", false},
		{"tab\tinside", false},
		{"", true},
	};
	const struct spfrec_vars v = {
		.s = "~jack&jill=up-a_b3.c@e8.example.com", .l = "~jack&jill=up-a_b3.c",
		.o = "e8.example.com", .d = "e8.example.com",
		.i = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.E.B.A.B.E.F.A.C",
		.p = "unknown", .v = "ip6", .h = "mx.example.org", .c = "cafe:babe::1",
		.r = "mx.test.invalid", .t = "1234",
	};
	char out[SPFREC_OUT_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(spfrec_explain_ok(cases[i].text, strlen(cases[i].text)) == cases[i].ok,
		    "explain-string \"%s\"", cases[i].text);
	/* Upper case: URL-escaped, upper-case hex, only the unreserved characters kept. */
	spfrec_expand("l=%{L} %{l}", 11, &v, out, sizeof(out));
	CHECK_STR(out, "l=~jack%26jill%3Dup-a_b3.c ~jack&jill=up-a_b3.c", "%%{L}");
	spfrec_expand("%{ir}.%{v}.arpa", 15, &v, out, sizeof(out));
	CHECK_STR(out, "C.A.F.E.B.A.B.E.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.ip6.arpa",
	    "%%{ir}");
	spfrec_expand("%{d2}|%{d1r}|%{l-}|%{L2-}", 25, &v, out, sizeof(out));
	CHECK_STR(out, "example.com|e8|~jack&jill=up.a_b3.c|~jack%26jill%3Dup.a_b3.c", "transformers");
	spfrec_expand("a%_b%-c%%d", 10, &v, out, sizeof(out));
	CHECK_STR(out, "a b%20c%d", "%%_ %%- %%%%");
	CHECK(spfrec_expand("%{s}%{s}%{s}", 12, &v, out, 20) == -1, "too long for the buffer");
	/* fuzz_spfrec found the delimiter set read past its end with several delimiters. */
	spfrec_expand("%{l-=.}|%{l1r=-}", 16, &v, out, sizeof(out));
	CHECK_STR(out, "~jack&jill.up.a_b3.c|~jack&jill", "several delimiters");
}

/*
 * The record is `len` bytes, not a C string (fuzz_spfrec found a scan past
 * its end): each case sits at the very end of its own allocation.
 */
static void
test_unterminated(void)
{
	static const char *const recs[] = {"v=spf1 a", "v=spf1 mx", "v=spf1 include",
		"v=spf1 -all", "v=spf1 a:%{d}", "v=spf1 ip4:192.0.2.1", "v=spf1 x=%{"};
	struct spfrec_rewrite rw = {AF_INET, v4addr, MARK};
	char out[SPFREC_OUT_MAX], why[200];

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		size_t len = strlen(recs[i]);
		char *r = malloc(len);
		enum spfrec_result got;

		if (r == NULL)
			return;
		memcpy(r, recs[i], len);
		got = spfrec_vet(r, len, &rw, out, sizeof(out), why, sizeof(why));
		CHECK(got == (i == 2 || i == 6 ? SPFREC_SYNTAX : SPFREC_OK),
		    "unterminated \"%s\": %d (%s)", recs[i], got, why);
		free(r);
	}
}

int
main(void)
{
	test_unterminated();
	test_vet();
	test_limits();
	test_explain();
	return check_done("spfrec_test");
}
