/*
 * netio - one SMTP connection: non-blocking connect, line reads and full
 * writes, in plain text or through an established TLS session, each under
 * an absolute deadline.
 *
 * Deadlines are CLOCK_MONOTONIC milliseconds (monotime_ms() + timeout), so a
 * server that trickles one byte a minute cannot stretch a step past its
 * limit.  Socket timeouts (SO_RCVTIMEO) are not used: OpenSSL retries
 * internally and would ignore them.
 *
 * Reads are buffered.  Whatever the server sent beyond the reply being
 * read stays in the buffer, and netio_pending() tells the caller: after the
 * 220 to STARTTLS it must be nothing (RFC 3207 command injection).
 *
 * Writes are buffered too, and go out when a reply is read (or the buffer
 * is full, or netio_flush() is called): pipelined commands leave in one
 * segment and one TLS record, and the end of the message data travels
 * with its last piece.  The socket has TCP_NODELAY, so what is flushed is
 * sent at once: with Nagle's algorithm, a second write before the server
 * answered waited for its delayed ACK (40 ms on Linux) -- at the end of
 * every message.
 */
#ifndef HOP_NETIO_H
#define HOP_NETIO_H

#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "netaddr.h"

enum netio_result {
	NETIO_OK,
	NETIO_TIMEOUT,
	NETIO_EOF,        /* the server closed the connection */
	NETIO_ERROR,      /* a socket or TLS error; see `why` */
	NETIO_TOOLONG,    /* a line longer than the caller's buffer */
};

struct netio {
	int fd;
	SSL *ssl;         /* set once TLS is up; owned by the caller (tlsc) */
	char why[256];    /* the last error, for logs and status lines */
	size_t off, len;
	char buf[4096];
	size_t olen;      /* bytes waiting in obuf */
	char obuf[16384]; /* one full TLS record */
};

/*
 * Wait until `fd` is ready for `events` (POLLIN/POLLOUT) or the deadline
 * passes.  1 ready, 0 timed out, -1 error.
 */
int netio_wait(int fd, short events, long long deadline);

/* The addresses of `host` (a name or a literal) and `port`; free with freeaddrinfo. */
int netio_resolve(const char *host, unsigned port, struct addrinfo **out, char *why, size_t whysz);

/*
 * Connect to `sa`, first binding to `source` when it is not NULL.  On
 * success *n is ready for use.
 */
enum netio_result netio_connect(struct netio *n, const struct sockaddr *sa, socklen_t salen,
    const struct net_addr *source, long long deadline);

/*
 * Send what is buffered, then read one line, without its CRLF (or LF), into
 * `line`.  NETIO_TIMEOUT once `deadline` has passed, even when bytes keep
 * arriving: the caller passes one deadline for all the lines of a reply.
 */
enum netio_result netio_read_line(struct netio *n, char *line, size_t size, long long deadline);
/* Queue all of `buf`: it is sent by the next flush or read, or when the buffer fills. */
enum netio_result netio_write(struct netio *n, const void *buf, size_t len, long long deadline);
/* Send everything queued. */
enum netio_result netio_flush(struct netio *n, long long deadline);
/*
 * Bytes the server sent that nobody read yet: those in our buffer, plus
 * (without waiting) those queued in the kernel.  Only for the plain phase.
 */
size_t netio_pending(struct netio *n);
/*
 * Whether the server sent something not yet read, without waiting: reads
 * what can be read now (through TLS too, where the kernel's byte count
 * would include records that carry no data) into the buffer, and returns
 * the bytes buffered.  An end of file or an error is left for the next read
 * to find.  Only between complete writes (never inside a flush).
 */
size_t netio_peek_input(struct netio *n);
/* Close the socket.  The SSL object, if any, is the caller's to free first. */
void netio_close(struct netio *n);

#endif
