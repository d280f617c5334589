/*
 * Unit tests: the Redis circuit breaker (milter/policy/rlbreaker.c): the
 * backoff from 100ms doubling up to retry_interval (and never below
 * 100ms), each transition logged once -- redis=down with its reason,
 * redis=up with the server, the Sentinel master and the script -- and a
 * change of master server logged even while up.
 */
#include "config.h"

#include <string.h>

#include "tests/unit/check.h"
#include "log.h"
#include "milter/policy/rlbreaker.h"

static char last_line[1024];
static int lines;

static void
capture(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)arg;
	snprintf(last_line, sizeof(last_line), "%s", text);
	lines++;
}

static void
test_backoff(void)
{
	static const struct {
		long retry_ms;
		long want[6];
	} cases[] = {
		{500, {100, 200, 400, 500, 500, 500}},
		{100, {100, 100, 100, 100, 100, 100}},
		{50, {100, 100, 100, 100, 100, 100}},     /* never below 100ms */
		{0, {100, 100, 100, 100, 100, 100}},
		{-1, {100, 100, 100, 100, 100, 100}},
		{3000, {100, 200, 400, 800, 1600, 3000}},
		{250, {100, 200, 250, 250, 250, 250}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rlbreaker b;

		rlbreaker_init(&b, cases[i].retry_ms, "redis", "", "sha");
		CHECK(b.state == RLBREAKER_STARTING, "case %zu: starts in STARTING", i);
		for (int k = 0; k < 6; k++) {
			long got = rlbreaker_backoff(&b);

			CHECK(got == cases[i].want[k], "retry %ld, wait %d: got %ld, want %ld",
			    cases[i].retry_ms, k, got, cases[i].want[k]);
		}
		/* A handshake that works starts the backoff over. */
		rlbreaker_close(&b, "127.0.0.1:6379");
		CHECK(rlbreaker_backoff(&b) == 100, "case %zu: a success resets the backoff", i);
	}
}

static void
test_transitions(void)
{
	struct rlbreaker b;

	lines = 0;
	rlbreaker_init(&b, 1000, "redis.example", "", "0123abcd");
	CHECK(lines == 0, "init logs nothing");

	rlbreaker_trip(&b, "connect redis.example:6379: Connection refused");
	CHECK(b.state == RLBREAKER_DOWN, "trip from STARTING: DOWN");
	CHECK(lines == 1, "trip from STARTING logged");
	CHECK_STR(last_line, "ratelimit: redis=down server=redis.example "
	    "error=\"connect redis.example:6379: Connection refused\"", "down line");
	rlbreaker_trip(&b, "another reason");
	rlbreaker_trip(&b, "and another");
	CHECK(lines == 1, "already down: no more lines (got %d)", lines);

	rlbreaker_close(&b, "192.0.2.1:6379");
	CHECK(b.state == RLBREAKER_UP, "close: UP");
	CHECK(lines == 2, "close logged");
	CHECK_STR(last_line, "ratelimit: redis=up server=192.0.2.1:6379 script=0123abcd", "up line");
	CHECK_STR(b.server, "192.0.2.1:6379", "server kept for later lines");
	rlbreaker_close(&b, "192.0.2.1:6379");
	CHECK(lines == 2, "the pool filling: no line per connection");

	/* The same master name can move (a failover): say where it is now. */
	rlbreaker_close(&b, "192.0.2.2:6380");
	CHECK(lines == 3, "new server while up: logged");
	CHECK_STR(last_line, "ratelimit: redis=up server=192.0.2.2:6380 script=0123abcd",
	    "up line after the move");

	rlbreaker_trip(&b, "READONLY You can't write against a read only replica.");
	CHECK(lines == 4 && b.state == RLBREAKER_DOWN, "trip from UP logged once");
	CHECK(strstr(last_line, "redis=down server=192.0.2.2:6380 ") != NULL,
	    "down line names the last good server: %s", last_line);
}

static void
test_sentinel_names(void)
{
	struct rlbreaker b;

	rlbreaker_init(&b, 1000, "mymaster", "mymaster", "feedbeef");
	rlbreaker_trip(&b, "sentinel 127.0.0.1:mymaster knows no such master");
	CHECK(strstr(last_line, "redis=down server=mymaster ") != NULL,
	    "before any handshake the master's name stands for the server: %s", last_line);
	rlbreaker_close(&b, "127.0.0.1:7001");
	CHECK_STR(last_line, "ratelimit: redis=up server=127.0.0.1:7001 master=mymaster script=feedbeef",
	    "up line with the master's name");
}

/* An over-long server name is cut, never written past the buffer. */
static void
test_long_server(void)
{
	struct rlbreaker b;
	char host[1000];

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	rlbreaker_init(&b, 1000, host, "", "sha");
	CHECK(strlen(b.server) == sizeof(b.server) - 1, "initial name cut to the buffer");
	rlbreaker_close(&b, host);
	CHECK(strlen(b.server) == sizeof(b.server) - 1, "server cut to the buffer");
}

int
main(void)
{
	log_set_sink(capture, NULL);
	test_backoff();
	test_transitions();
	test_sentinel_names();
	test_long_server();
	return check_done("rlbreaker_test");
}
