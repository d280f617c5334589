/*
 * Unit tests: netio's deadlines and look-ahead over a socket pair
 * (relay-transport/netio.c).  The "server" end is written by the test
 * before the client reads, so every case is deterministic.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "monotime.h"
#include "relay-transport/netio.h"

static struct netio io;   /* large: kept out of the stack */

/* A connected pair: io reads sv[0] (non-blocking, as netio_connect makes it); the test writes *peer. */
static void
pair(int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("socketpair");
		exit(99);
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	memset(&io, 0, sizeof(io));
	io.fd = sv[0];
	*peer = sv[1];
}

static void
put(int fd, const char *s)
{
	size_t len = strlen(s);

	if (write(fd, s, len) != (ssize_t)len) {
		perror("write");
		exit(99);
	}
}

/* The deadline holds while lines keep arriving: no line is read after it. */
static void
test_deadline_with_data_waiting(void)
{
	char line[64];
	int peer;

	pair(&peer);
	for (int i = 0; i < 200; i++)
		put(peer, "220-more\r\n");
	CHECK(netio_read_line(&io, line, sizeof(line), monotime_ms() + 60000) == NETIO_OK &&
	    strcmp(line, "220-more") == 0, "a line before the deadline");
	CHECK(netio_read_line(&io, line, sizeof(line), monotime_ms() - 1) == NETIO_TIMEOUT,
	    "a buffered line after the deadline: timeout");
	CHECK(strstr(io.why, "timed out") != NULL, "why: %s", io.why);
	netio_close(&io);
	close(peer);
}

/* netio_peek_input sees what the server sent unasked, and keeps it for reading. */
static void
test_peek(void)
{
	char line[64];
	int peer;

	pair(&peer);
	CHECK(netio_peek_input(&io) == 0, "nothing sent: nothing to see");
	put(peer, "250 early\r\n");
	CHECK(netio_peek_input(&io) == 11, "an early reply is seen (%zu)", netio_peek_input(&io));
	CHECK(netio_read_line(&io, line, sizeof(line), monotime_ms() + 60000) == NETIO_OK &&
	    strcmp(line, "250 early") == 0, "and still read afterwards");
	CHECK(netio_peek_input(&io) == 0, "consumed");
	/* The rest of a packet behind the line just read. */
	put(peer, "354 go ahead\r\n250 queued\r\n");
	CHECK(netio_read_line(&io, line, sizeof(line), monotime_ms() + 60000) == NETIO_OK &&
	    strcmp(line, "354 go ahead") == 0, "354 read");
	CHECK(netio_peek_input(&io) == 12, "the 250 behind it is seen");
	/* A closed peer is not input: the next read reports it. */
	netio_close(&io);
	close(peer);
	pair(&peer);
	close(peer);
	CHECK(netio_peek_input(&io) == 0, "end of file: nothing to see");
	CHECK(netio_read_line(&io, line, sizeof(line), monotime_ms() + 60000) == NETIO_EOF,
	    "end of file found by the next read");
	netio_close(&io);
}

int
main(void)
{
	test_deadline_with_data_waiting();
	test_peek();
	return check_done("netio_test");
}
