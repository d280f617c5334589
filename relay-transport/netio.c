/*
 * netio - deadline-bound socket and TLS I/O for one SMTP connection.
 * See netio.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/err.h>

#include "monotime.h"
#include "netio.h"

int
netio_wait(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};

	for (;;) {
		long long left = deadline - monotime_ms();
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

int
netio_resolve(const char *host, unsigned port, struct addrinfo **out, char *why, size_t whysz)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	char svc[16];
	int rc;

	/* XXX getaddrinfo has no timeout; hop addresses are normally literals. */
	snprintf(svc, sizeof(svc), "%u", port);
	rc = getaddrinfo(host, svc, &hints, out);
	if (rc != 0) {
		snprintf(why, whysz, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	return 0;
}

static int
netio_bind_source(int fd, int family, const struct net_addr *src, char *why, size_t whysz)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (src->family != family) {
		snprintf(why, whysz, "source_address is not of the hop's address family");
		return -1;
	}
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, src->bytes, 4);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, src->bytes, 16);
		len = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(why, whysz, "bind to source_address: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static enum netio_result
netio_connect_finish(struct netio *n, const struct sockaddr *sa, socklen_t salen,
    long long deadline)
{
	int err = 0, rc;
	socklen_t elen = sizeof(err);

	if (connect(n->fd, sa, salen) == 0)
		return NETIO_OK;
	if (errno != EINPROGRESS) {
		snprintf(n->why, sizeof(n->why), "%s", strerror(errno));
		return NETIO_ERROR;
	}
	rc = netio_wait(n->fd, POLLOUT, deadline);
	if (rc == 0) {
		snprintf(n->why, sizeof(n->why), "connection timed out");
		return NETIO_TIMEOUT;
	}
	if (rc < 0 || getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		err = errno;
	if (err != 0) {
		snprintf(n->why, sizeof(n->why), "%s", strerror(err));
		return NETIO_ERROR;
	}
	return NETIO_OK;
}

enum netio_result
netio_connect(struct netio *n, const struct sockaddr *sa, socklen_t salen,
    const struct net_addr *source, long long deadline)
{
	enum netio_result r;

	memset(n, 0, sizeof(*n));
	n->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		snprintf(n->why, sizeof(n->why), "socket: %s", strerror(errno));
		return NETIO_ERROR;
	}
	/* Our writes are whole commands or buffers: send each at once (netio.h). */
	(void)setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (source != NULL &&
	    netio_bind_source(n->fd, sa->sa_family, source, n->why, sizeof(n->why)) != 0) {
		netio_close(n);
		return NETIO_ERROR;
	}
	r = netio_connect_finish(n, sa, salen, deadline);
	if (r != NETIO_OK) {
		char why[sizeof(n->why)];

		memcpy(why, n->why, sizeof(why));
		netio_close(n);
		memcpy(n->why, why, sizeof(why));
	}
	return r;
}

/* What an SSL_read/SSL_write result means: wait for `*ev`, or fail. */
static enum netio_result
netio_ssl_status(struct netio *n, int rc, short *ev)
{
	int e = SSL_get_error(n->ssl, rc);
	unsigned long code;

	switch (e) {
	case SSL_ERROR_WANT_READ: *ev = POLLIN; return NETIO_OK;
	case SSL_ERROR_WANT_WRITE: *ev = POLLOUT; return NETIO_OK;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(n->why, sizeof(n->why), "connection closed by the server (TLS close_notify)");
		return NETIO_EOF;
	case SSL_ERROR_SYSCALL:
		if (errno == 0 || rc == 0) {
			snprintf(n->why, sizeof(n->why), "connection closed by the server");
			return NETIO_EOF;
		}
		snprintf(n->why, sizeof(n->why), "%s", strerror(errno));
		return NETIO_ERROR;
	default:
		code = ERR_get_error();
		snprintf(n->why, sizeof(n->why), "TLS: %s",
		    code ? ERR_reason_error_string(code) : "error");
		ERR_clear_error();
		return NETIO_ERROR;
	}
}

/*
 * One read attempt.  NETIO_OK with *got > 0 when bytes arrived, or with
 * *got == 0 when it must wait for *ev first.
 */
static enum netio_result
netio_read_some(struct netio *n, size_t *got, short *ev)
{
	size_t room = sizeof(n->buf) - n->len;
	ssize_t r;

	*got = 0;
	if (n->ssl != NULL) {
		int rc;

		ERR_clear_error();
		errno = 0;
		rc = SSL_read(n->ssl, n->buf + n->len, (int)room);
		if (rc > 0) {
			*got = (size_t)rc;
			return NETIO_OK;
		}
		return netio_ssl_status(n, rc, ev);
	}
	r = read(n->fd, n->buf + n->len, room);
	if (r > 0) {
		*got = (size_t)r;
		return NETIO_OK;
	}
	if (r == 0) {
		snprintf(n->why, sizeof(n->why), "connection closed by the server");
		return NETIO_EOF;
	}
	*ev = POLLIN;
	if (errno == EAGAIN || errno == EINTR)
		return NETIO_OK;
	snprintf(n->why, sizeof(n->why), "read: %s", strerror(errno));
	return NETIO_ERROR;
}

/*
 * Read until at least one byte arrived.  Reading comes first: OpenSSL may
 * hold decrypted bytes that poll(2) cannot see.
 */
static enum netio_result
netio_fill(struct netio *n, long long deadline)
{
	for (;;) {
		short ev = POLLIN;
		size_t got;
		enum netio_result r = netio_read_some(n, &got, &ev);
		int w;

		if (r != NETIO_OK)
			return r;
		if (got > 0) {
			n->len += got;
			return NETIO_OK;
		}
		w = netio_wait(n->fd, ev, deadline);
		if (w == 0) {
			snprintf(n->why, sizeof(n->why), "timed out waiting for the server");
			return NETIO_TIMEOUT;
		}
		if (w < 0) {
			snprintf(n->why, sizeof(n->why), "poll: %s", strerror(errno));
			return NETIO_ERROR;
		}
	}
}

enum netio_result
netio_read_line(struct netio *n, char *line, size_t size, long long deadline)
{
	enum netio_result fr = netio_flush(n, deadline);

	if (fr != NETIO_OK)
		return fr;
	for (;;) {
		char *nl;

		/*
		 * Checked before every line, not only when nothing is waiting: a
		 * server that never pauses would otherwise never meet its deadline.
		 */
		if (monotime_ms() >= deadline) {
			snprintf(n->why, sizeof(n->why), "timed out waiting for the server");
			return NETIO_TIMEOUT;
		}
		nl = memchr(n->buf + n->off, '\n', n->len - n->off);

		if (nl != NULL) {
			size_t l = (size_t)(nl - (n->buf + n->off));

			if (l > 0 && n->buf[n->off + l - 1] == '\r')
				l--;
			if (l >= size) {
				snprintf(n->why, sizeof(n->why), "reply line too long");
				return NETIO_TOOLONG;
			}
			memcpy(line, n->buf + n->off, l);
			line[l] = '\0';
			n->off = (size_t)(nl - n->buf) + 1;
			return NETIO_OK;
		}
		if (n->len - n->off >= size) {
			snprintf(n->why, sizeof(n->why), "reply line too long");
			return NETIO_TOOLONG;
		}
		/* Keep the unread part at the front so the buffer can fill. */
		memmove(n->buf, n->buf + n->off, n->len - n->off);
		n->len -= n->off;
		n->off = 0;
		if (n->len == sizeof(n->buf)) {
			snprintf(n->why, sizeof(n->why), "reply line too long");
			return NETIO_TOOLONG;
		}
		enum netio_result r = netio_fill(n, deadline);
		if (r != NETIO_OK)
			return r;
	}
}

/* One write attempt; *done gets the bytes taken (0 when it must wait for *ev). */
static enum netio_result
netio_write_some(struct netio *n, const char *p, size_t len, size_t *done, short *ev)
{
	*done = 0;
	if (n->ssl != NULL) {
		int rc;

		ERR_clear_error();
		errno = 0;
		rc = SSL_write(n->ssl, p, len > 65536 ? 65536 : (int)len);
		if (rc > 0) {
			*done = (size_t)rc;
			return NETIO_OK;
		}
		return netio_ssl_status(n, rc, ev);
	}
	ssize_t w = send(n->fd, p, len, MSG_NOSIGNAL);
	if (w >= 0) {
		*done = (size_t)w;
		return NETIO_OK;
	}
	*ev = POLLOUT;
	if (errno == EAGAIN || errno == EINTR)
		return NETIO_OK;
	snprintf(n->why, sizeof(n->why), "write: %s", strerror(errno));
	return errno == EPIPE || errno == ECONNRESET ? NETIO_EOF : NETIO_ERROR;
}

/* Write all of `buf` now. */
static enum netio_result
netio_write_all(struct netio *n, const char *p, size_t len, long long deadline)
{
	short ev = POLLOUT;

	while (len > 0) {
		size_t done;
		enum netio_result r = netio_write_some(n, p, len, &done, &ev);

		if (r != NETIO_OK)
			return r;
		p += done;
		len -= done;
		if (done > 0 || len == 0)
			continue;
		int w = netio_wait(n->fd, ev, deadline);
		if (w == 0) {
			snprintf(n->why, sizeof(n->why), "timed out sending to the server");
			return NETIO_TIMEOUT;
		}
		if (w < 0) {
			snprintf(n->why, sizeof(n->why), "poll: %s", strerror(errno));
			return NETIO_ERROR;
		}
	}
	return NETIO_OK;
}

enum netio_result
netio_flush(struct netio *n, long long deadline)
{
	size_t len = n->olen;

	n->olen = 0;
	return netio_write_all(n, n->obuf, len, deadline);
}

enum netio_result
netio_write(struct netio *n, const void *buf, size_t len, long long deadline)
{
	enum netio_result r;

	if (n->olen + len <= sizeof(n->obuf)) {
		memcpy(n->obuf + n->olen, buf, len);
		n->olen += len;
		return NETIO_OK;
	}
	if ((r = netio_flush(n, deadline)) != NETIO_OK)
		return r;
	if (len >= sizeof(n->obuf))
		return netio_write_all(n, buf, len, deadline);
	memcpy(n->obuf, buf, len);
	n->olen = len;
	return NETIO_OK;
}

size_t
netio_pending(struct netio *n)
{
	int queued = 0;
	size_t have = n->len - n->off;

	if (n->fd >= 0 && ioctl(n->fd, FIONREAD, &queued) == 0 && queued > 0)
		have += (size_t)queued;
	return have;
}

size_t
netio_peek_input(struct netio *n)
{
	size_t got = 0;
	short ev;

	if (n->off == n->len)
		n->off = n->len = 0;
	if (n->fd >= 0 && n->len < sizeof(n->buf) &&
	    netio_read_some(n, &got, &ev) == NETIO_OK && got > 0)
		n->len += got;
	return n->len - n->off;
}

void
netio_close(struct netio *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	n->ssl = NULL;
	n->off = n->len = n->olen = 0;
}
