/*
 * rlwire - a Redis command and its reply under a deadline and a size cap:
 * the RESP2 framing scanner, and the send and receive loops on the
 * context's socket.  See rlwire.h.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "monotime.h"
#include "rlconn.h"
#include "rlwire.h"

enum {
	RLWIRE_AT_TYPE,      /* the type byte of the next item */
	RLWIRE_AT_LINE,      /* its line: a status, an error, an integer or a length */
	RLWIRE_AT_LINE_LF,   /* the LF after the line's CR */
	RLWIRE_AT_BULK,      /* a bulk string's payload */
	RLWIRE_AT_BULK_CR,   /* the CRLF after it */
	RLWIRE_AT_BULK_LF,
};

/* ---------------------------------------------------------------- framing */

void
rlwire_scan_init(struct rlwire_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->need = 1;
}

/* The length of a '$' or '*' header: -1 or 0..10^18; -2 when malformed. */
static long long
rlwire_header_len(const char *line, size_t n)
{
	long long v = 0;

	if (n == 2 && line[0] == '-' && line[1] == '1')
		return -1;
	if (n == 0 || n > 18)
		return -2;   /* 18 digits hold every length a limit could allow */
	for (size_t i = 0; i < n; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -2;
		v = v * 10 + (line[i] - '0');
	}
	return v;
}

/* A complete line (its CRLF read): what it means for the rest of the reply. */
static enum rlwire_scan_state
rlwire_header(struct rlwire_scan *s)
{
	long long n;

	s->phase = RLWIRE_AT_TYPE;
	if (s->type != '$' && s->type != '*') {
		s->need--;   /* '+', '-', ':' are whole items */
		return RLWIRE_SCAN_MORE;
	}
	if ((n = rlwire_header_len(s->line, s->linelen)) == -2)
		return s->linelen > 18 ? RLWIRE_SCAN_TOOBIG : RLWIRE_SCAN_BAD;
	if (n == -1) {
		s->need--;   /* a nil */
		return RLWIRE_SCAN_MORE;
	}
	if (s->type == '$') {
		if (n > RLWIRE_MAX_BULK)
			return RLWIRE_SCAN_TOOBIG;
		s->skip = n;
		s->phase = n > 0 ? RLWIRE_AT_BULK : RLWIRE_AT_BULK_CR;
		return RLWIRE_SCAN_MORE;
	}
	if (n > RLWIRE_MAX_ELEMENTS)
		return RLWIRE_SCAN_TOOBIG;
	s->need += n - 1;   /* the array stands for its elements */
	return RLWIRE_SCAN_MORE;
}

/* One byte outside a bulk payload. */
static enum rlwire_scan_state
rlwire_byte(struct rlwire_scan *s, char c)
{
	switch (s->phase) {
	case RLWIRE_AT_TYPE:
		if (c == '\0' || strchr("+-:$*", c) == NULL)
			return RLWIRE_SCAN_BAD;   /* RESP3 types included: never asked for */
		s->type = c;
		s->linelen = 0;
		s->phase = RLWIRE_AT_LINE;
		return RLWIRE_SCAN_MORE;
	case RLWIRE_AT_LINE:
		if (c == '\r') {
			s->phase = RLWIRE_AT_LINE_LF;
			return RLWIRE_SCAN_MORE;
		}
		if (c == '\n')
			return RLWIRE_SCAN_BAD;
		if (++s->linelen > RLWIRE_MAX_LINE)
			return RLWIRE_SCAN_TOOBIG;
		if (s->linelen <= sizeof(s->line))
			s->line[s->linelen - 1] = c;
		return RLWIRE_SCAN_MORE;
	case RLWIRE_AT_LINE_LF:
		return c == '\n' ? rlwire_header(s) : RLWIRE_SCAN_BAD;
	case RLWIRE_AT_BULK_CR:
		s->phase = RLWIRE_AT_BULK_LF;
		return c == '\r' ? RLWIRE_SCAN_MORE : RLWIRE_SCAN_BAD;
	default: /* RLWIRE_AT_BULK_LF */
		s->phase = RLWIRE_AT_TYPE;
		s->need--;
		return c == '\n' ? RLWIRE_SCAN_MORE : RLWIRE_SCAN_BAD;
	}
}

enum rlwire_scan_state
rlwire_scan_feed(struct rlwire_scan *s, const char *buf, size_t len, size_t *used)
{
	enum rlwire_scan_state st = RLWIRE_SCAN_MORE;
	size_t i = 0;

	while (i < len && st == RLWIRE_SCAN_MORE) {
		size_t take = 1;

		if (s->phase == RLWIRE_AT_BULK)
			take = len - i < (size_t)s->skip ? len - i : (size_t)s->skip;
		if (take > RLWIRE_MAX_REPLY - s->total) {
			st = RLWIRE_SCAN_TOOBIG;
			break;
		}
		s->total += take;
		if (s->phase == RLWIRE_AT_BULK) {
			if ((s->skip -= (long long)take) == 0)
				s->phase = RLWIRE_AT_BULK_CR;
		} else {
			st = rlwire_byte(s, buf[i]);
		}
		i += take;
		if (st == RLWIRE_SCAN_MORE && s->need == 0 && s->phase == RLWIRE_AT_TYPE)
			st = RLWIRE_SCAN_DONE;
	}
	*used = i;
	return st;
}

/* ----------------------------------------------------------------- the wire */

/* Wait for `events` until the deadline: 1 ready, 0 timed out, -1 error. */
static int
rlwire_wait(int fd, short events, int64_t deadline_ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline_ms - monotime_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* A failed send/recv: closed by the server, or another error. */
static enum rlwire_result
rlwire_sockerr(const char *what, char *why, size_t whysz)
{
	if (errno == EPIPE || errno == ECONNRESET) {
		rlconn_why(why, whysz, "connection closed by the server (%s: %s)", what,
		    strerror(errno));
		return RLWIRE_CLOSED;
	}
	rlconn_why(why, whysz, "%s: %s", what, strerror(errno));
	return RLWIRE_IOERR;
}

static enum rlwire_result
rlwire_send(int fd, const char *p, size_t len, int64_t deadline_ms, char *why, size_t whysz)
{
	while (len > 0) {
		ssize_t n;
		int w = rlwire_wait(fd, POLLOUT, deadline_ms);

		if (w == 0) {
			rlconn_why(why, whysz, "timed out sending the command");
			return RLWIRE_TIMEOUT;
		}
		if (w < 0)
			return rlwire_sockerr("poll", why, whysz);
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return rlwire_sockerr("send", why, whysz);
		p += n;
		len -= (size_t)n;
	}
	return RLWIRE_OK;
}

/* What a scan verdict means for the call, with its reason. */
static enum rlwire_result
rlwire_scan_fail(enum rlwire_scan_state st, char *why, size_t whysz)
{
	if (st == RLWIRE_SCAN_TOOBIG) {
		rlconn_why(why, whysz, "reply too large (limits: %d elements, %d-byte strings, "
		    "%d-byte lines, %d bytes in all)", RLWIRE_MAX_ELEMENTS, RLWIRE_MAX_BULK,
		    RLWIRE_MAX_LINE, RLWIRE_MAX_REPLY);
		return RLWIRE_TOOBIG;
	}
	rlconn_why(why, whysz, "not a RESP2 reply");
	return RLWIRE_PROTOCOL;
}

/* One chunk read into `buf`: its length, or 0 with `*res` set. */
static size_t
rlwire_read_chunk(int fd, char *buf, size_t bufsz, int64_t deadline_ms,
    enum rlwire_result *res, char *why, size_t whysz)
{
	for (;;) {
		ssize_t n;
		int w = rlwire_wait(fd, POLLIN, deadline_ms);

		if (w == 0) {
			rlconn_why(why, whysz, "timed out waiting for the whole reply");
			*res = RLWIRE_TIMEOUT;
			return 0;
		}
		if (w < 0) {
			*res = rlwire_sockerr("poll", why, whysz);
			return 0;
		}
		n = recv(fd, buf, bufsz, MSG_DONTWAIT);
		if (n > 0)
			return (size_t)n;
		if (n == 0) {
			rlconn_why(why, whysz, "connection closed by the server");
			*res = RLWIRE_CLOSED;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR) {
			*res = rlwire_sockerr("recv", why, whysz);
			return 0;
		}
	}
}

static enum rlwire_result
rlwire_recv(redisContext *c, int64_t deadline_ms, redisReply **out, bool *got_byte, char *why,
    size_t whysz)
{
	struct rlwire_scan sc;
	enum rlwire_scan_state st = RLWIRE_SCAN_MORE;
	enum rlwire_result res = RLWIRE_OK;
	char buf[4096];
	void *rep = NULL;

	rlwire_scan_init(&sc);
	while (st == RLWIRE_SCAN_MORE) {
		size_t n = rlwire_read_chunk(c->fd, buf, sizeof(buf), deadline_ms, &res, why, whysz),
		    used;

		if (n == 0)
			return res;
		*got_byte = true;
		st = rlwire_scan_feed(&sc, buf, n, &used);
		if (st == RLWIRE_SCAN_TOOBIG || st == RLWIRE_SCAN_BAD)
			return rlwire_scan_fail(st, why, whysz);
		if (used < n) {
			rlconn_why(why, whysz, "bytes after the reply (answers to questions not asked)");
			return RLWIRE_PROTOCOL;
		}
		if (redisReaderFeed(c->reader, buf, used) != REDIS_OK)
			break;
	}
	if (st == RLWIRE_SCAN_DONE && redisReaderGetReply(c->reader, &rep) == REDIS_OK && rep != NULL) {
		*out = rep;
		return RLWIRE_OK;
	}
	rlconn_why(why, whysz, "unreadable reply: %s", c->reader->err ? c->reader->errstr :
	    "incomplete");
	return RLWIRE_PROTOCOL;
}

enum rlwire_result
rlwire_call(redisContext *c, int argc, const char **argv, const size_t *lens,
    int64_t deadline_ms, redisReply **out, bool *got_byte, char *why, size_t whysz)
{
	char *cmd = NULL;
	int len;
	enum rlwire_result r;

	*out = NULL;
	*got_byte = false;
	why[0] = '\0';
	if (monotime_ms() >= deadline_ms) {
		rlconn_why(why, whysz, "no time left to send the command");
		return RLWIRE_LATE;
	}
	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		rlconn_why(why, whysz, "out of memory");
		return RLWIRE_IOERR;
	}
	r = rlwire_send(c->fd, cmd, (size_t)len, deadline_ms, why, whysz);
	redisFreeCommand(cmd);
	return r == RLWIRE_OK ? rlwire_recv(c, deadline_ms, out, got_byte, why, whysz) : r;
}

bool
rlwire_idle_ok(const redisContext *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	return c->fd >= 0 && poll(&p, 1, 0) == 0;
}
