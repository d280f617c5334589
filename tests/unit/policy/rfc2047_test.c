/*
 * Unit tests: RFC 2047 encoded words as the reader outside decodes them
 * (milter/policy/rfc2047.c): B and Q in any case and charset, adjacent
 * words joined, malformed base64 and padding read leniently, NUL bytes,
 * wide charsets, over-long and many words, and what is not a word.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "milter/policy/rfc2047.h"

static void
test_table(void)
{
	static const struct {
		const char *in, *want;
		size_t words;
	} cases[] = {
		{"a =?utf-8?B?YWJj?= b", "a abc b", 1},
		{"=?utf-8?b?YWJj?=", "abc", 1},                       /* lower-case b */
		{"=?ISO-8859-1?B?YWJj?=", "abc", 1},                  /* any charset */
		{"=?UTF-8*en?B?YWJj?=", "abc", 1},                    /* RFC 2231 language */
		{"=??B?YWJj?=", "abc", 1},                            /* no charset */
		{"=?utf-8?Q?a=2Eb_c?=", "a.b c", 1},
		{"=?utf-8?q?a=2eb?=", "a.b", 1},                      /* lower-case q and hex */
		{"=?utf-8?Q?a=ZZ?=", "a=ZZ", 1},                      /* not hex: '=' itself */
		{"=?utf-8?Q?a=2?=", "a=2", 1},                        /* cut short */
		{"=?x?B?YWJj?= \r\n\t =?x?B?ZGVm?=", "abcdef", 2},   /* folded adjacent words join */
		{"=?x?B?YWJj?==?x?B?ZGVm?=", "abcdef", 2},
		{"=?x?B?YWJj?= z =?x?B?ZGVm?=", "abc z def", 2},      /* text between: kept */
		{"(=?x?B?YWJj?=)", "(abc)", 1},                       /* in a comment */
		{"=?x?B?YQ==YmM=?=", "abc", 1},                       /* padding inside */
		{"=?x?B?YWJ?=", "ab", 1},                             /* no padding */
		{"=?x?B?YWJjZA?=", "abcd", 1},
		{"=?x?B?YWJjZ?=", "abc", 1},                          /* a stray 6 bits */
		{"=?x?B?Y!W@J#j?=", "abc", 1},                        /* outside the alphabet: skipped */
		{"=?x?B?YW=Jj?=", "a&", 1},                            /* '=' ends the group early */
		{"=?x?B?=====?=", "", 1},
		{"=?x?B?\?=", "", 1},                                 /* empty text */
		{"=?x?B?AA==?=", " ", 1},                             /* NUL: a space */
		{"=?x?B?eABjb3JlLmludGVybmFs?=", "x core.internal", 1},
		{"=?x?Q?a=00b?=", "a b", 1},
		{"=?utf-16le?B?YwBvAHIAZQAuAGkAbgB0AGUAcgBuAGEAbAA=?=", "core.internal", 1},
		{"=?UTF-16?B?//5jAG8AcgBlAC4AaQBuAHQAZQByAG4AYQBsAA==?=", "  core.internal", 1},
		{"=?x?X?YWJj?=", "=?x?X?YWJj?=", 0},                  /* no such encoding */
		{"=?x?BB?YWJj?=", "=?x?BB?YWJj?=", 0},
		{"=?x?B?YWJj", "=?x?B?YWJj", 0},                      /* not closed */
		{"=?x?B?YW Jj?=", "=?x?B?YW Jj?=", 0},                /* white space inside */
		{"=?x y?B?YWJj?=", "=?x y?B?YWJj?=", 0},
		{"=?x?B?YWJj?", "=?x?B?YWJj?", 0},
		{"=?", "=?", 0},
		{"=", "=", 0},
		{"", "", 0},
		{"=?=?x?B?YWJj?=", "=?abc", 1},                       /* a word after a false start */
		{"=?x?Q?a?b?=", "=?x?Q?a?b?=", 0},                    /* '?' inside */
	};
	char out[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = rfc2047_decode(cases[i].in, out);

		CHECK_STR(out, cases[i].want, "case %zu", i);
		CHECK(n == cases[i].words, "case %zu: %zu words, want %zu", i, n, cases[i].words);
	}
	CHECK(rfc2047_has_words("x =?"), "has words");
	CHECK(!rfc2047_has_words("x ?= y"), "no words");
}

static void
test_bounds(void)
{
	char cs[80], in[512], out[512];

	/* A charset label up to 64 bytes is one; longer is not. */
	memset(cs, 'c', 64);
	cs[64] = '\0';
	snprintf(in, sizeof(in), "=?%s?B?YWJj?=", cs);
	rfc2047_decode(in, out);
	CHECK_STR(out, "abc", "64-byte charset");
	snprintf(in, sizeof(in), "=?%sc?B?YWJj?=", cs);
	rfc2047_decode(in, out);
	CHECK_STR(out, in, "65-byte charset: copied");

	/* Over-long (RFC 2047 says 75 at most): decoded anyway, as readers do. */
	size_t len = (size_t)snprintf(in, sizeof(in), "=?utf-8?B?");
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(in + len, sizeof(in) - len, "YWJj");
	snprintf(in + len, sizeof(in) - len, "Y29yZS5pbnRlcm5hbA==?=");
	rfc2047_decode(in, out);
	CHECK(strlen(out) == 313 && strcmp(out + 300, "core.internal") == 0, "over-long word (%zu)",
	    strlen(out));

	/* Many words, joined; the work stays linear (10000 words here). */
	size_t big = 10000 * 17 + 64;
	char *many = malloc(big), *dec = malloc(big);

	CHECK(many != NULL && dec != NULL, "malloc");
	if (many == NULL || dec == NULL)
		return;
	len = 0;
	for (int i = 0; i < 10000; i++)
		len += (size_t)snprintf(many + len, big - len, "=?x?B?YQ==?=\r\n\t");
	snprintf(many + len, big - len, "=?x?B?Yg==?=");
	CHECK(rfc2047_decode(many, dec) == 10001, "10001 words");
	CHECK(strlen(dec) == 10001 && dec[10000] == 'b' && strspn(dec, "a") == 10000, "joined");

	/* Never longer than the input, whatever it is. */
	srand(2047);
	for (int round = 0; round < 2000; round++) {
		static const char alpha[] = "=?BbQqx_AZaz09+/ \t\r\n!";
		size_t n = (size_t)(rand() % 200);

		for (size_t i = 0; i < n; i++)
			many[i] = alpha[rand() % (int)(sizeof(alpha) - 1)];
		many[n] = '\0';
		rfc2047_decode(many, dec);
		if (strlen(dec) > n) {
			CHECK(false, "round %d: %zu bytes out of %zu", round, strlen(dec), n);
			break;
		}
	}
	free(many);
	free(dec);
}

int
main(void)
{
	test_table();
	test_bounds();
	return check_done("rfc2047_test");
}
