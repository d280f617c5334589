/*
 * Unit tests: the RESP2 framing scanner and one call over a socket pair
 * (milter/policy/rlwire.c).  Hostile replies are refused from their
 * header, before any byte of what they announce arrives.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "monotime.h"
#include "milter/policy/rlwire.h"

/* Scan `text` in one piece, then byte by byte: the same verdict and length both ways. */
static enum rlwire_scan_state
scan(const char *text, size_t len, size_t *used)
{
	struct rlwire_scan s;
	enum rlwire_scan_state one, st = RLWIRE_SCAN_MORE;
	size_t u1, total = 0;

	rlwire_scan_init(&s);
	one = rlwire_scan_feed(&s, text, len, &u1);
	rlwire_scan_init(&s);
	for (size_t i = 0; i < len && st == RLWIRE_SCAN_MORE; i++) {
		size_t u;

		st = rlwire_scan_feed(&s, text + i, 1, &u);
		total += u;
	}
	CHECK(one == st && (one == RLWIRE_SCAN_TOOBIG || one == RLWIRE_SCAN_BAD || u1 == total),
	    "whole and byte-wise scans differ for %.40s: %d/%zu vs %d/%zu", text, one, u1, st, total);
	*used = u1;
	return one;
}

static void
test_scan(void)
{
	static const struct {
		const char *text;
		enum rlwire_scan_state want;
		size_t used;   /* for DONE */
	} cases[] = {
		{"*3\r\n:1\r\n:0\r\n:1\r\n", RLWIRE_SCAN_DONE, 16},
		{"*3\r\n:0\r\n:1500\r\n:2\r\n", RLWIRE_SCAN_DONE, 19},
		{"+OK\r\n", RLWIRE_SCAN_DONE, 5},
		{"-NOSCRIPT No matching script. Please use EVAL.\r\n", RLWIRE_SCAN_DONE, 48},
		{"$40\r\n0123456789012345678901234567890123456789\r\n", RLWIRE_SCAN_DONE, 47},
		{"$0\r\n\r\n", RLWIRE_SCAN_DONE, 6},
		{"$-1\r\n", RLWIRE_SCAN_DONE, 5},
		{"*-1\r\n", RLWIRE_SCAN_DONE, 5},
		{"*0\r\n", RLWIRE_SCAN_DONE, 4},
		{"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n", RLWIRE_SCAN_DONE, 29},
		{"*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$1\r\n0\r\n",
		    RLWIRE_SCAN_DONE, 60},
		/* Incomplete: more to come. */
		{"*3\r\n:1\r\n", RLWIRE_SCAN_MORE, 0},
		{"$10\r\nabc", RLWIRE_SCAN_MORE, 0},
		/* Bytes after the end: DONE, and `used` stops at the end. */
		{"+OK\r\n+INJECTED\r\n", RLWIRE_SCAN_DONE, 5},
		/* The hostile headers: refused on sight. */
		{"*2000000000\r\n", RLWIRE_SCAN_TOOBIG, 0},
		{"$4000000000\r\n", RLWIRE_SCAN_TOOBIG, 0},
		{"*65\r\n", RLWIRE_SCAN_TOOBIG, 0},
		{"$4097\r\n", RLWIRE_SCAN_TOOBIG, 0},
		{"*99999999999999999999999\r\n", RLWIRE_SCAN_TOOBIG, 0},
		{"*64\r\n*64\r\n*64\r\n*64\r\n", RLWIRE_SCAN_MORE, 0},   /* nesting is hiredis's to refuse */
		/* Not RESP2. */
		{"%1\r\n", RLWIRE_SCAN_BAD, 0},
		{"_\r\n", RLWIRE_SCAN_BAD, 0},
		{"hello\r\n", RLWIRE_SCAN_BAD, 0},
		{"*-2\r\n", RLWIRE_SCAN_BAD, 0},
		{"$1x\r\n", RLWIRE_SCAN_BAD, 0},
		{"$\r\n", RLWIRE_SCAN_BAD, 0},
		{"$3\r\nabcXY", RLWIRE_SCAN_BAD, 0},
		{"+OK\n", RLWIRE_SCAN_BAD, 0},
		{"+OK\rX", RLWIRE_SCAN_BAD, 0},
	};
	size_t used;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum rlwire_scan_state st = scan(cases[i].text, strlen(cases[i].text), &used);

		CHECK(st == cases[i].want, "case %zu (%.30s): %d, want %d", i, cases[i].text, st,
		    cases[i].want);
		if (st == RLWIRE_SCAN_DONE)
			CHECK(used == cases[i].used, "case %zu: used %zu, want %zu", i, used,
			    cases[i].used);
	}
}

/* The byte limits: a long status line, a reply that only grows. */
static void
test_scan_limits(void)
{
	static char big[RLWIRE_MAX_REPLY + 4096];
	struct rlwire_scan s;
	size_t used, n;

	memset(big, 'a', sizeof(big));
	big[0] = '-';
	CHECK(scan(big, RLWIRE_MAX_LINE + 2, &used) == RLWIRE_SCAN_TOOBIG, "line over the limit");
	memcpy(big + RLWIRE_MAX_LINE + 1, "\r\n", 2);
	CHECK(scan(big, RLWIRE_MAX_LINE + 3, &used) == RLWIRE_SCAN_DONE, "line at the limit");
	/* 64 elements of 4 KiB strings each: within every per-item limit, past the total. */
	rlwire_scan_init(&s);
	CHECK(rlwire_scan_feed(&s, "*64\r\n", 5, &used) == RLWIRE_SCAN_MORE, "array header");
	enum rlwire_scan_state st = RLWIRE_SCAN_MORE;
	for (int i = 0; i < 64 && st == RLWIRE_SCAN_MORE; i++) {
		n = (size_t)snprintf(big, sizeof(big), "$4096\r\n");
		memset(big + n, 'x', 4096);
		memcpy(big + n + 4096, "\r\n", 2);
		st = rlwire_scan_feed(&s, big, n + 4098, &used);
	}
	CHECK(st == RLWIRE_SCAN_TOOBIG && s.total <= RLWIRE_MAX_REPLY, "the reply's total is capped (%zu)",
	    s.total);
}

/* A blocking hiredis context on one end of a socket pair; the test plays the server on *peer. */
static redisContext *
pair(int *peer)
{
	int sv[2];
	redisContext *c;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || (c = redisConnectFd(sv[0])) == NULL) {
		perror("socketpair");
		exit(99);
	}
	*peer = sv[1];
	return c;
}

static void
put(int fd, const char *s, size_t len)
{
	if (write(fd, s, len) != (ssize_t)len) {
		perror("write");
		exit(99);
	}
}

/* rlwire_call against canned replies (written before the call: the socket buffers them). */
static void
test_call(void)
{
	static const struct {
		const char *reply;
		enum rlwire_result want;
		bool got_byte;
	} cases[] = {
		{"*3\r\n:1\r\n:0\r\n:1\r\n", RLWIRE_OK, true},
		{"*2000000000\r\n:1\r\n:1\r\n", RLWIRE_TOOBIG, true},
		{"$4000000000\r\nxxxxxxxxxxxxxxxx", RLWIRE_TOOBIG, true},
		{"+OK\r\n+SMUGGLED\r\n", RLWIRE_PROTOCOL, true},
		{"*3\r\n:1\r\n", RLWIRE_TIMEOUT, true},            /* the rest never comes */
		{"", RLWIRE_TIMEOUT, false},                        /* nothing ever comes */
		{"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", RLWIRE_PROTOCOL, true},
	};
	const char *argv[1] = {"PING"};
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int peer;
		redisContext *c = pair(&peer);
		redisReply *rep = NULL;
		bool got;
		int64_t t0 = monotime_ms();
		enum rlwire_result r;

		put(peer, cases[i].reply, strlen(cases[i].reply));
		r = rlwire_call(c, 1, argv, NULL, t0 + 200, &rep, &got, why, sizeof(why));
		CHECK(r == cases[i].want, "call %zu: %d, want %d (%s)", i, r, cases[i].want, why);
		CHECK(got == cases[i].got_byte, "call %zu: got_byte %d", i, got);
		CHECK((r == RLWIRE_OK) == (rep != NULL), "call %zu: a reply only with OK", i);
		CHECK(monotime_ms() - t0 < 5000, "call %zu: within its deadline (plus slack)", i);
		if (r == RLWIRE_OK)
			CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements == 3, "call %zu: the reply", i);
		freeReplyObject(rep);
		redisFree(c);
		close(peer);
	}
	/* The server closed: before any byte (an idle close), and the idle check sees it. */
	{
		int peer;
		redisContext *c = pair(&peer);
		redisReply *rep;
		bool got;

		CHECK(rlwire_idle_ok(c), "an open idle connection is fine");
		close(peer);
		CHECK(!rlwire_idle_ok(c), "a closed one is not");
		CHECK(rlwire_call(c, 1, argv, NULL, monotime_ms() + 200, &rep, &got, why, sizeof(why)) ==
		    RLWIRE_CLOSED && !got, "closed before any reply byte: %s", why);
		redisFree(c);
	}
	/* No time left: nothing is sent. */
	{
		int peer;
		redisContext *c = pair(&peer);
		redisReply *rep;
		bool got;
		char b[8];

		CHECK(rlwire_call(c, 1, argv, NULL, monotime_ms() - 1, &rep, &got, why, sizeof(why)) ==
		    RLWIRE_LATE, "late");
		fcntl(peer, F_SETFL, O_NONBLOCK);
		CHECK(read(peer, b, sizeof(b)) < 0, "nothing was sent");
		redisFree(c);
		close(peer);
	}
}

int
main(void)
{
	test_scan();
	test_scan_limits();
	test_call();
	return check_done("rlwire_test");
}
