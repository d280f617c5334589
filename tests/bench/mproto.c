/*
 * mproto - the MTA side of the milter protocol for the bench load driver.
 * See mproto.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "mproto.h"

/* What an MTA of protocol version 6 offers: every action, every step. */
#define MP_OFFER_ACTIONS SMFI_CURR_ACTS
#define MP_OFFER_STEPS SMFI_CURR_PROT
/* Longest reply packet we accept (a multi-line reply is a few KB). */
#define MP_MAX_PACKET (64 * 1024)

static int
mp_fail(struct mp_conn *c, const char *what)
{
	snprintf(c->err, sizeof(c->err), "%s: %s", what, errno ? strerror(errno) : "protocol error");
	return -1;
}

/* A connected stream socket to `sa`, or -1 with errno set. */
static int
mp_connect_sa(const struct sockaddr *sa, socklen_t len)
{
	int fd;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, sa, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
mp_connect_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	return mp_connect_sa((struct sockaddr *)&sun, sizeof(sun));
}

/* inet:PORT@ADDR with a numeric IPv4 address. */
static int
mp_connect_inet(const char *spec)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	const char *at = strchr(spec, '@');

	if (at == NULL || inet_pton(AF_INET, at + 1, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	sin.sin_port = htons((uint16_t)atoi(spec));
	return mp_connect_sa((struct sockaddr *)&sin, sizeof(sin));
}

int
mp_packet(struct mp_conn *c, char cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)(len + 1));

	if (c->wlen + 5 + len > sizeof(c->wbuf)) {
		errno = ENOBUFS;
		return mp_fail(c, "queue packet");
	}
	memcpy(c->wbuf + c->wlen, &n, 4);
	c->wbuf[c->wlen + 4] = (unsigned char)cmd;
	if (len > 0)
		memcpy(c->wbuf + c->wlen + 5, data, len);
	c->wlen += 5 + len;
	return 0;
}

int
mp_flush(struct mp_conn *c)
{
	size_t off = 0;

	while (off < c->wlen) {
		ssize_t n = write(c->fd, c->wbuf + off, c->wlen - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mp_fail(c, "write");
		off += (size_t)n;
	}
	c->wlen = 0;
	return 0;
}

/* Read exactly `len` bytes within the reply timeout. */
static int
mp_read_full(struct mp_conn *c, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t n;
		int r = poll(&p, 1, c->timeout_ms);

		if (r == 0) {
			errno = ETIMEDOUT;
			return mp_fail(c, "read");
		}
		if (r < 0 && errno == EINTR)
			continue;
		n = r < 0 ? -1 : read(c->fd, (char *)buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			return mp_fail(c, "read");
		}
		off += (size_t)n;
	}
	return 0;
}

/* One packet from the filter: its command, data (kept in c->rbuf when it fits). */
static int
mp_read_packet(struct mp_conn *c, size_t *len)
{
	uint32_t n;
	unsigned char cmd;

	if (mp_read_full(c, &n, 4) != 0)
		return -1;
	n = ntohl(n);
	if (n < 1 || n > MP_MAX_PACKET) {
		errno = EPROTO;
		return mp_fail(c, "reply length");
	}
	if (mp_read_full(c, &cmd, 1) != 0)
		return -1;
	*len = n - 1;
	/* Edits at end of message can be longer than rbuf: read them in pieces. */
	for (size_t left = *len; left > 0;) {
		size_t k = left < sizeof(c->rbuf) ? left : sizeof(c->rbuf);

		if (mp_read_full(c, c->rbuf, k) != 0)
			return -1;
		left -= k;
	}
	return cmd;
}

static bool
mp_is_final(int cmd)
{
	switch (cmd) {
	case SMFIR_CONTINUE: case SMFIR_ACCEPT: case SMFIR_REJECT: case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE: case SMFIR_DISCARD: case SMFIR_SHUTDOWN: case SMFIR_CONN_FAIL:
	case SMFIR_SKIP:
		return true;
	default:
		return false;
	}
}

int
mp_reply(struct mp_conn *c)
{
	if (mp_flush(c) != 0)
		return -1;
	/* Bounded: a filter may send edits, but not without end. */
	for (int i = 0; i < 10000; i++) {
		size_t len;
		int cmd = mp_read_packet(c, &len);

		if (cmd < 0 || mp_is_final(cmd))
			return cmd;
	}
	errno = EPROTO;
	return mp_fail(c, "endless edits");
}

/* The optional macro lists after the three words of the OPTNEG reply. */
static int
mp_parse_symlists(struct mp_conn *c, const unsigned char *p, size_t len)
{
	while (len >= 5) {
		uint32_t stage;
		size_t slen;

		memcpy(&stage, p, 4);
		stage = ntohl(stage);
		slen = strnlen((const char *)p + 4, len - 4);
		if (slen == len - 4 || stage >= MP_NSTAGES) {
			errno = EPROTO;
			return mp_fail(c, "macro list");
		}
		free(c->symlist[stage]);
		if ((c->symlist[stage] = strndup((const char *)p + 4, slen)) == NULL)
			return mp_fail(c, "macro list");
		p += 4 + slen + 1;
		len -= 4 + slen + 1;
	}
	return 0;
}

static int
mp_negotiate(struct mp_conn *c)
{
	uint32_t offer[3] = {htonl(SMFI_PROT_VERSION), htonl(MP_OFFER_ACTIONS),
	    htonl(MP_OFFER_STEPS)}, got[3];
	size_t len;
	int cmd;

	if (mp_packet(c, SMFIC_OPTNEG, offer, sizeof(offer)) != 0 || mp_flush(c) != 0)
		return -1;
	errno = 0;
	if ((cmd = mp_read_packet(c, &len)) < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || len < sizeof(got) || len > sizeof(c->rbuf))
		return mp_fail(c, "option negotiation reply");
	memcpy(got, c->rbuf, sizeof(got));
	c->actions = ntohl(got[1]);
	c->steps = ntohl(got[2]);
	return mp_parse_symlists(c, c->rbuf + sizeof(got), len - sizeof(got));
}

int
mp_open(struct mp_conn *c, const char *spec, int timeout_ms)
{
	memset(c->symlist, 0, sizeof(c->symlist));
	c->wlen = 0;
	c->err[0] = '\0';
	c->timeout_ms = timeout_ms;
	errno = 0;
	if (strncmp(spec, "unix:", 5) == 0)
		c->fd = mp_connect_unix(spec + 5);
	else if (strncmp(spec, "inet:", 5) == 0)
		c->fd = mp_connect_inet(spec + 5);
	else {
		c->fd = -1;
		errno = EINVAL;
	}
	if (c->fd < 0)
		return mp_fail(c, "connect");
	if (mp_negotiate(c) != 0) {
		mp_close(c);
		return -1;
	}
	return 0;
}

void
mp_close(struct mp_conn *c)
{
	if (c->fd >= 0) {
		if (mp_packet(c, SMFIC_QUIT, NULL, 0) == 0)
			(void)mp_flush(c);
		close(c->fd);
	}
	c->fd = -1;
	c->wlen = 0;
	for (int i = 0; i < MP_NSTAGES; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
}

bool
mp_skips(const struct mp_conn *c, uint32_t no_flag)
{
	return (c->steps & no_flag) != 0;
}

bool
mp_noreply(const struct mp_conn *c, uint32_t nr_flag)
{
	return (c->steps & nr_flag) != 0;
}

static const char *
mp_lookup(const struct mp_macro *vals, size_t nvals, const char *name, size_t nlen)
{
	for (size_t i = 0; i < nvals; i++)
		if (strlen(vals[i].name) == nlen && memcmp(vals[i].name, name, nlen) == 0)
			return vals[i].value;
	return NULL;
}

int
mp_macros(struct mp_conn *c, enum mp_stage stage, char cmd, const char *deflist,
    const struct mp_macro *vals, size_t nvals)
{
	const char *list = c->symlist[stage] != NULL ? c->symlist[stage] : deflist;
	unsigned char buf[2048];
	size_t len = 0;

	buf[len++] = (unsigned char)cmd;
	for (const char *p = list; *p != '\0';) {
		size_t nlen = strcspn(p, " ");
		const char *v = mp_lookup(vals, nvals, p, nlen);

		if (v != NULL) {
			size_t vlen = strlen(v);

			if (len + nlen + vlen + 2 > sizeof(buf)) {
				errno = ENOBUFS;
				return mp_fail(c, "macros");
			}
			memcpy(buf + len, p, nlen);
			buf[len + nlen] = '\0';
			memcpy(buf + len + nlen + 1, v, vlen + 1);
			len += nlen + vlen + 2;
		}
		p += nlen;
		p += strspn(p, " ");
	}
	return mp_packet(c, SMFIC_MACRO, buf, len);
}
