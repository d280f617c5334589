/*
 * Unit tests: the Redis connection helpers (milter/policy/rlconn.c) that
 * need no Redis: error texts from the network made safe for one log line
 * (rlconn_why), millisecond timeouts as struct timeval, and a refused
 * connection reported with where it went, not crashed on.
 */
#include "config.h"

#include <string.h>

#include "tests/unit/check.h"
#include "milter/policy/rlconn.h"

static void
test_why(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"ERR unknown command", "ERR unknown command"},
		{"line\r\nInjected: x", "line??Injected: x"},
		{"tab\there", "tab?here"},
		{"quote \"closes\" the field", "quote ?closes? the field"},
		{"del\x7f", "del?"},
		{"utf8 j\xc3\xb6rg", "utf8 j??rg"},
		{"high \xff\x80", "high ??"},
		{"esc \x1b[31m", "esc ?[31m"},
		{"", ""},
	};
	char why[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rlconn_why(why, sizeof(why), "%s", cases[i].in);
		CHECK_STR(why, cases[i].want, "case %zu", i);
	}
	/* Formatted, then cleaned: the format's own text is kept. */
	rlconn_why(why, sizeof(why), "%s: %s", "AUTH", "WRONGPASS \"x\"\n");
	CHECK_STR(why, "AUTH: WRONGPASS ?x??", "format and argument both cleaned");

	/* Over-long: cut to the buffer, still terminated, still clean. */
	char big[300], small[16];

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rlconn_why(small, sizeof(small), "%s", big);
	CHECK(strlen(small) == sizeof(small) - 1, "cut to %zu bytes", sizeof(small) - 1);
	CHECK(strspn(small, "?") == strlen(small), "every cut byte cleaned: %s", small);
}

static void
test_tv(void)
{
	static const struct {
		long ms;
		long sec, usec;
	} cases[] = {
		{0, 0, 0}, {1, 0, 1000}, {999, 0, 999000}, {1000, 1, 0}, {1500, 1, 500000},
		{86400000, 86400, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timeval tv = rlconn_tv(cases[i].ms);

		CHECK(tv.tv_sec == cases[i].sec && tv.tv_usec == cases[i].usec,
		    "%ld ms: got %ld.%06ld", cases[i].ms, (long)tv.tv_sec, (long)tv.tv_usec);
	}
}

static void
test_connect_fails(void)
{
	static char host[] = "127.0.0.1", none[] = "";
	static const unsigned char script[] = "return 1";
	char why[512];
	struct rlconn_cfg cfg = {.host = host, .port = 1, .user = none, .password = none,
	    .timeout_ms = 500, .connect_ms = 500, .script = script, .script_len = 8,
	    .sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"};
	redisContext *c;

	/* Port 1 on loopback: nothing listens there on a test machine. */
	why[0] = '\0';
	c = rlconn_connect("127.0.0.1", 1, 500, 500, why, sizeof(why));
	CHECK(c == NULL, "refused: no context");
	CHECK(strncmp(why, "connect 127.0.0.1:1: ", 21) == 0, "refused: says where: %s", why);
	redisFree(c);

	why[0] = '\0';
	c = rlconn_ready(&cfg, cfg.host, cfg.port, why, sizeof(why));
	CHECK(c == NULL, "handshake with nobody: no context");
	CHECK(strncmp(why, "connect 127.0.0.1:1: ", 21) == 0, "handshake says where: %s", why);
	redisFree(c);
}

int
main(void)
{
	test_why();
	test_tv();
	test_connect_fails();
	return check_done("rlconn_test");
}
