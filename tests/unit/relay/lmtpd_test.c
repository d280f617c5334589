/*
 * Unit tests: lmtpd's server side against a hostile peer, over a socket
 * pair with the session on its own thread (relay-transport/lmtpd.c).  No
 * next hop: the configuration is never there (MAIL gets 451), so these
 * cases are what is decided before a hop is involved: command lines
 * (over-long, endless, NUL, bare CR, control characters), deadlines that
 * a trickle does not renew, the error and junk limits, the size limit at
 * MAIL.  The log goes to a sink so each case can check its line.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "log.h"
#include "monotime.h"
#include "relay-transport/lmtpd.h"

static char logged[8192];

static void
sink(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)arg;
	if (strlen(logged) + strlen(text) + 2 < sizeof(logged)) {
		strcat(logged, text);
		strcat(logged, "\n");
	}
}

static struct lmtpd_gen *
no_gen(void *arg)
{
	(void)arg;
	return NULL;
}

static void
no_release(void *arg, struct lmtpd_gen *gen)
{
	(void)arg;
	(void)gen;
}

static const struct lmtpd_ops ops = {.acquire = no_gen, .release = no_release};

static struct lmtpd_params params;

struct run {
	int fd;
	pthread_t t;
};

static void *
session_main(void *arg)
{
	struct run *r = arg;

	lmtpd_session(r->fd, &params, &ops);
	close(r->fd);
	return NULL;
}

/* Start a session; returns the test's end of the pair. */
static int
start(struct run *r, long timeout_ms)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("socketpair");
		exit(99);
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	params = (struct lmtpd_params){.route = "r", .myname = "me.test", .timeout_ms = timeout_ms,
	    .data_timeout_ms = timeout_ms * 4, .max_rcpts = 5, .max_size = 20000, .id = 1};
	logged[0] = '\0';
	r->fd = sv[0];
	if (pthread_create(&r->t, NULL, session_main, r) != 0)
		exit(99);
	return sv[1];
}

/* Write what the session still reads; false once it stopped reading. */
static bool
put(int fd, const void *s, size_t len)
{
	return send(fd, s, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* Everything the session says until it closes (or 20 s); the time it took in *ms. */
static char *
replies(int fd, long long *ms)
{
	static char buf[65536];
	size_t n = 0;
	long long t0 = monotime_ms();

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&pf, 1, 20000) <= 0)
			break;
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (ms != NULL)
		*ms = monotime_ms() - t0;
	return buf;
}

/* The reply codes of the final lines ("220 250 500 ..."). */
static const char *
codes(const char *text)
{
	static char out[4096];
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = text; *p != '\0' && n + 5 < sizeof(out); ) {
		const char *eol = strstr(p, "\r\n");

		if (eol == NULL)
			break;
		if (eol - p >= 4 && p[3] == ' ') {
			memcpy(out + n, p, 3);
			n += 3;
			out[n++] = ' ';
			out[n] = '\0';
		}
		p = eol + 2;
	}
	if (n > 0)
		out[n - 1] = '\0';
	return out;
}

static int
count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

static void
finish(struct run *r, int fd)
{
	close(fd);
	pthread_join(r->t, NULL);
}

static void
test_bad_bytes(void)
{
	static const char in[] = "LHLO x\r\nNOOP\0x\r\nMAIL FROM:<a@b.example>\rRCPT TO:<c@d.example>\r\n"
	    "NOOP\r\r\nNOOP\tx\r\n\xff\xfe\x80\r\nNOOP\nQUIT\r\n";
	struct run r;
	int fd = start(&r, 5000);

	put(fd, in, sizeof(in) - 1);
	CHECK_STR(codes(replies(fd, NULL)), "220 250 500 500 500 500 502 250 221",
	    "NUL, bare CR, CR CR LF, tab: 500; 8-bit junk: 502; bare LF ends a line");
	finish(&r, fd);
}

static void
test_long_lines(void)
{
	static char big[70000];
	struct run r;
	long long ms;
	const char *out;
	int fd = start(&r, 5000);

	/* 2000 bytes, ended: 500, the session goes on. */
	memset(big, 'X', 2000);
	memcpy(big, "NOOP ", 5);
	memcpy(big + 2000, "\r\nNOOP\r\nQUIT\r\n", 14);
	put(fd, big, 2014);
	CHECK_STR(codes(replies(fd, NULL)), "220 500 250 221", "a 2000-byte line: 500, then on");
	finish(&r, fd);

	/* No line end in 64 KiB: 421 once 32 KiB came, and nothing more is read. */
	fd = start(&r, 5000);
	memset(big, 'A', sizeof(big));
	put(fd, big, 40000);
	out = replies(fd, &ms);
	CHECK(strstr(out, "421 4.7.0 me.test: command line too long") != NULL, "endless line: %s", out);
	CHECK(ms < 3000, "endless line: closed at once, not after the timeout (%lld ms)", ms);
	CHECK(!put(fd, big, sizeof(big)) || !put(fd, big, sizeof(big)) || !put(fd, big, sizeof(big)) ||
	    !put(fd, big, sizeof(big)), "endless line: the session reads no more");
	finish(&r, fd);
	CHECK(strstr(logged, "L1: session closed with 421 4.7.0: command line too long") != NULL,
	    "endless line: logged: %s", logged);
}

/* A byte every 100 ms never lets a 600 ms deadline pass between two reads: the line's does. */
static void
test_trickle(void)
{
	struct run r;
	long long t0 = monotime_ms(), ms;
	const char *out;
	int fd = start(&r, 600);

	for (int i = 0; i < 40 && put(fd, "N", 1); i++)
		usleep(100000);
	out = replies(fd, NULL);
	ms = monotime_ms() - t0;
	CHECK(strstr(out, "421 4.4.2 me.test: timeout waiting for a command") != NULL,
	    "trickled command: %s", out);
	CHECK(ms >= 550 && ms < 3500, "trickled command: cut after about 600 ms, not 4 s "
	    "(%lld ms)", ms);
	finish(&r, fd);
	CHECK(strstr(logged, "session closed with 421 4.4.2: timeout waiting for a command") != NULL,
	    "trickled command: logged: %s", logged);
}

static void
test_limits(void)
{
	char in[4096];
	size_t n = 0;
	struct run r;
	const char *out;
	int fd = start(&r, 5000);

	/* RCPT and DATA out of order count as errors: the tenth closes. */
	n = (size_t)snprintf(in, sizeof(in), "LHLO x\r\n");
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, i % 2 ? "DATA\r\n" : "RCPT TO:<a@b.example>\r\n");
	put(fd, in, n);
	out = replies(fd, NULL);
	CHECK(count(out, "503 5.5.1 need MAIL") == 10 && strstr(out, "421 4.7.0 too many errors"),
	    "ten 503: %s", out);
	finish(&r, fd);

	/* NOOP: 100 junk commands (the LHLO is one), then each one more is an error. */
	fd = start(&r, 5000);
	n = (size_t)snprintf(in, sizeof(in), "LHLO x\r\n");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "NOOP\r\n");
	put(fd, in, n);
	out = replies(fd, NULL);
	CHECK(count(out, "250 2.0.0 ok") == 109 && strstr(out, "421 4.7.0 too many errors"),
	    "150 NOOP: %d ok", count(out, "250 2.0.0 ok"));
	finish(&r, fd);

	/* The size limit: offered, and SIZE= over it refused before any hop. */
	fd = start(&r, 5000);
	n = (size_t)snprintf(in, sizeof(in), "LHLO x\r\nMAIL FROM:<a@b.example> SIZE=20001\r\n"
	    "MAIL FROM:<a@b.example> SIZE=20000\r\nQUIT\r\n");
	put(fd, in, n);
	out = replies(fd, NULL);
	CHECK(strstr(out, "250 SIZE 20000\r\n") != NULL, "LHLO offers SIZE 20000: %s", out);
	CHECK_STR(codes(out), "220 250 552 451 221", "SIZE=20001: 552; SIZE=20000 goes on (to no route)");
	CHECK(strstr(out, "552 5.3.4 message size 20001 exceeds the limit of 20000") != NULL, "%s", out);
	finish(&r, fd);
}

int
main(void)
{
	log_set_sink(sink, NULL);
	log_set_level(LOG_DEBUG);
	test_bad_bytes();
	test_long_lines();
	test_trickle();
	test_limits();
	return check_done("lmtpd_test");
}
