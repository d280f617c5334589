/*
 * hopmilter-ctl - ask the running hopmilter through its control socket.
 *
 * The tool only carries one command line there and the reply back (the
 * protocol is in hopmilter-ctl(8)); every decision is the daemon's.  Words
 * are sent separated by single spaces, so a word may not contain white
 * space or control characters: refused here, before anything is sent.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "monotime.h"

#define CTL_DEFAULT_SOCKET RUNSTATEDIR "/hopmilter/ctl.sock"
#define CTL_LINE_MAX 1024

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: hopmilter-ctl [-s SOCKET] [-t SECONDS] COMMAND [ARG...]\n"
	    "  -s SOCKET   the daemon's control_socket (default %s)\n"
	    "  -t SECONDS  give up waiting for the reply after this long (default 40)\n"
	    "commands:\n"
	    "  status\n"
	    "  metrics\n"
	    "  config\n"
	    "  test --ip ADDR [--helo NAME] [--sasl LOGIN] --from SENDER --rcpt RCPT [--rcpt RCPT ...]\n"
	    "  ratelimit show|reset [ip] ADDR\n"
	    "  ratelimit show|reset sasl LOGIN\n"
	    "  ratelimit show|reset sender ADDRESS\n"
	    "LOGIN and ADDRESS: a space, control or non-ASCII byte, and %%, written %%XX\n",
	    CTL_DEFAULT_SOCKET);
}

/* The command line from argv: words joined by one space, newline-terminated. */
static int
build_line(int argc, char **argv, char *line, size_t linesz)
{
	size_t len = 0;

	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		for (const char *p = argv[i]; *p != '\0'; p++) {
			if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
				fprintf(stderr, "hopmilter-ctl: argument %d: spaces, control characters "
				    "and non-ASCII bytes cannot be sent\n", i + 1);
				return -1;
			}
		}
		if (n == 0 || len + n + 2 > linesz) {
			fprintf(stderr, "hopmilter-ctl: %s\n", n == 0 ? "empty argument" :
			    "command longer than 1023 bytes");
			return -1;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], n);
		len += n;
	}
	line[len++] = '\n';
	line[len] = '\0';
	return (int)len;
}

int
main(int argc, char **argv)
{
	const char *path = CTL_DEFAULT_SOCKET;
	char line[CTL_LINE_MAX + 1], buf[8192];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	long long deadline;
	int opt, fd, len, timeout_s = 40, first = 1, ok = 0;
	size_t off = 0;
	char head[512];
	size_t headlen = 0;

	while ((opt = getopt(argc, argv, "+s:t:h")) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 't': timeout_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind == argc || timeout_s < 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((len = build_line(argc - optind, argv + optind, line, sizeof(line))) < 0)
		return EX_USAGE;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hopmilter-ctl: %s: path too long\n", path);
		return EX_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		fprintf(stderr, "hopmilter-ctl: %s: %s%s\n", path, strerror(e),
		    e == EACCES ? " (the socket is for root and the hopmilter group)" : "");
		return e == EACCES ? EX_NOPERM : EX_UNAVAILABLE;
	}
	for (size_t done = 0; done < (size_t)len;) {
		ssize_t n = write(fd, line + done, (size_t)len - done);

		if (n <= 0) {
			fprintf(stderr, "hopmilter-ctl: write: %s\n", strerror(errno));
			return EX_IOERR;
		}
		done += (size_t)n;
	}
	deadline = monotime_ms() + (long long)timeout_s * 1000;
	/* The status line decides where the rest goes: stdout after OK, stderr after ERR. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - monotime_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			fprintf(stderr, "hopmilter-ctl: no complete reply within %ds\n", timeout_s);
			return EX_TEMPFAIL;
		}
		if ((n = read(fd, buf, sizeof(buf))) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hopmilter-ctl: read: %s\n", strerror(errno));
			return EX_IOERR;
		}
		if (n == 0)
			break;
		off = 0;
		while (first && off < (size_t)n) {
			char ch = buf[off++];

			if (ch == '\n') {
				head[headlen] = '\0';
				first = 0;
				ok = strcmp(head, "OK") == 0;
				if (!ok)
					fprintf(stderr, "hopmilter-ctl: %s\n",
					    strncmp(head, "ERR ", 4) == 0 ? head + 4 : head);
			} else if (headlen < sizeof(head) - 1) {
				head[headlen++] = ch;
			}
		}
		if (!first && off < (size_t)n)
			fwrite(buf + off, 1, (size_t)n - off, ok ? stdout : stderr);
	}
	close(fd);
	if (first) {
		fprintf(stderr, "hopmilter-ctl: the daemon closed without a reply\n");
		return EX_PROTOCOL;
	}
	if (fflush(stdout) != 0)
		return EX_IOERR;
	return ok ? 0 : 1;
}
