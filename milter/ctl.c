/*
 * ctl - the control socket: accept, read one line, answer, close.  See ctl.h.
 *
 * Everything is non-blocking and driven by one poll() loop, so no client
 * can hold the thread: a client that sends nothing, sends forever, or
 * never reads its reply is dropped when its CTL_TIMEOUT_MS run out.  A
 * command runs to completion inside the loop (the other control clients
 * wait; mail never does); only `test` can take long, bounded by the SPF
 * time budget of the configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctlcmd.h"
#include "log.h"
#include "monotime.h"
#include "policy/stats.h"

struct ctl_client {
	int fd;                 /* -1: free */
	int64_t deadline_ms;
	char line[CTL_LINE_MAX];
	size_t len;
	char *out;              /* the reply, once the command ran */
	size_t outlen, outoff;
};

int
ctl_open(const char *path, bool as_root, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hopmilter: control_socket %s: path too long\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Replace a stale socket, never anything else the path may name. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			fprintf(stderr, "hopmilter: control_socket %s exists and is not a socket\n", path);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		fprintf(stderr, "hopmilter: control socket: %s\n", strerror(errno));
		return -1;
	}
	/*
	 * Created 0660 at once: there is no moment when others may connect.
	 * The directory may belong to the service user, who could swap the
	 * socket for a symlink after bind(): lchown() never follows one, and
	 * there is no chmod() by name to redirect.
	 */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0 || listen(fd, 64) != 0 || (as_root && lchown(path, 0, gid) != 0)) {
		fprintf(stderr, "hopmilter: control_socket %s: %s (does its directory exist?)\n", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
ctl_drop(struct ctl_client *c)
{
	char junk[4096];

	/*
	 * Closing with unread input makes the client's read fail (ECONNRESET)
	 * before it sees our reply: swallow what already arrived, a bounded amount.
	 */
	for (int i = 0; i < 16 && read(c->fd, junk, sizeof(junk)) > 0; i++)
		;
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Run the command in the line; the reply waits in c->out. */
static void
ctl_run(struct ctl_client *c)
{
	FILE *fp = open_memstream(&c->out, &c->outlen);

	if (fp == NULL) {
		ctl_drop(c);
		return;
	}
	c->line[c->len] = '\0';
	stats_ctl(STATS_CTL_SERVED);
	ctlcmd_run(c->line, fp);
	if (fclose(fp) != 0) {
		ctl_drop(c);
		return;
	}
	c->outoff = 0;
	/* A command may take long (test: SPF); the client gets a full budget to read. */
	c->deadline_ms = monotime_ms() + CTL_TIMEOUT_MS;
}

static void
ctl_set_reply(struct ctl_client *c, const char *text)
{
	free(c->out);
	c->out = strdup(text);
	c->outlen = c->out != NULL ? strlen(c->out) : 0;
	c->outoff = 0;
	if (c->out == NULL)
		ctl_drop(c);
}

/* Bytes arrived: a complete line runs; too long or a NUL is an error line. */
static void
ctl_read(struct ctl_client *c)
{
	ssize_t n = read(c->fd, c->line + c->len, sizeof(c->line) - 1 - c->len);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_drop(c);
		return;
	}
	if (memchr(c->line + c->len, '\0', (size_t)n) != NULL) {
		c->len += (size_t)n;
		ctl_set_reply(c, "ERR malformed command: NUL byte\n");
		return;
	}
	c->len += (size_t)n;
	if ((nl = memchr(c->line, '\n', c->len)) != NULL) {
		c->len = (size_t)(nl - c->line);
		if (c->len > 0 && c->line[c->len - 1] == '\r')
			c->len--;
		ctl_run(c);
	} else if (c->len >= sizeof(c->line) - 1) {
		ctl_set_reply(c, "ERR command line too long (at most 1023 bytes)\n");
	}
}

static void
ctl_write(struct ctl_client *c)
{
	ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_drop(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff == c->outlen)
		ctl_drop(c);
}

/* A connection beyond the limit: one line if the buffer takes it, then closed. */
static void
ctl_refuse(int fd)
{
	static const char busy[] = "ERR busy: too many control connections\n";

	stats_ctl(STATS_CTL_BUSY);
	if (write(fd, busy, sizeof(busy) - 1) < 0) {
		/* nothing to do: the client is gone or not reading */
	}
	close(fd);
}

static void
ctl_accept(int lfd, struct ctl_client *cl)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;

		if (fd < 0)
			return;
		for (i = 0; i < CTL_MAX_CLIENTS && cl[i].fd >= 0; i++)
			;
		if (i == CTL_MAX_CLIENTS) {
			ctl_refuse(fd);
			continue;
		}
		cl[i].fd = fd;
		cl[i].deadline_ms = monotime_ms() + CTL_TIMEOUT_MS;
	}
}

static void *
ctl_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	struct ctl_client cl[CTL_MAX_CLIENTS];
	struct pollfd pfd[CTL_MAX_CLIENTS + 1];

	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		memset(&cl[i], 0, sizeof(cl[i]));
		cl[i].fd = -1;
	}
	for (;;) {
		int64_t now = monotime_ms(), wait = CTL_TIMEOUT_MS;
		int map[CTL_MAX_CLIENTS], n = 1;

		pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (cl[i].fd < 0)
				continue;
			if (now >= cl[i].deadline_ms) {
				stats_ctl(STATS_CTL_TIMEOUT);
				ctl_drop(&cl[i]);
				continue;
			}
			if (cl[i].deadline_ms - now < wait)
				wait = cl[i].deadline_ms - now;
			pfd[n] = (struct pollfd){.fd = cl[i].fd, .events = cl[i].out ? POLLOUT : POLLIN};
			map[n - 1] = i;
			n++;
		}
		if (poll(pfd, (nfds_t)n, (int)wait) < 0) {
			if (errno != EINTR)
				usleep(10000);
			continue;
		}
		for (int k = 1; k < n; k++) {
			struct ctl_client *c = &cl[map[k - 1]];

			if (c->fd < 0 || pfd[k].revents == 0)
				continue;
			if (c->out != NULL)
				ctl_write(c);
			else
				ctl_read(c);
			if (c->fd >= 0 && c->out != NULL && c->outoff == 0)
				ctl_write(c);   /* most replies fit the socket buffer at once */
		}
		if (pfd[0].revents & POLLIN)
			ctl_accept(lfd, cl);
	}
	return NULL;
}

int
ctl_start(int fd)
{
	pthread_t tid;

	if (pthread_create(&tid, NULL, ctl_thread, (void *)(intptr_t)fd) != 0)
		return -1;
	pthread_detach(tid);
	return 0;
}
