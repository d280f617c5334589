/*
 * daemon - detach, systemd readiness, pid file, privilege drop.  See daemon.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "daemon.h"

int
daemon_detach(void)
{
	int fds[2], nul;
	pid_t pid;
	char c;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		int status;

		close(fds[1]);
		/* One byte means "running"; EOF means the child gave up. */
		if (read(fds[0], &c, 1) == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(fds[0]);
	if (setsid() < 0)
		return -1;
	if (chdir("/") != 0)
		return -1;
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
		/* stderr stays open until ready: start-up errors still reach the caller. */
		if (nul > STDERR_FILENO)
			close(nul);
	}
	return fds[1];
}

void
daemon_ready(int fd)
{
	int nul;

	if (fd < 0)
		return;
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, STDERR_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
	if (write(fd, "1", 1) != 1) {
		/* The parent is gone; nothing to tell. */
	}
	close(fd);
}

bool
daemon_notify_wanted(void)
{
#ifdef HAVE_LIBSYSTEMD
	const char *s = getenv("NOTIFY_SOCKET");

	return s != NULL && s[0] != '\0';
#else
	return false;
#endif
}

void
daemon_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	/* Fire and forget: a lost notification shows as a start timeout. */
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

int
daemon_write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int
daemon_lookup_user(const char *user, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
daemon_drop_privileges(const char *user, uid_t uid, gid_t gid)
{
	if (initgroups(user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
		return -1;
	/* Paranoia: a partial drop must not go unnoticed. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

const char *
daemon_unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}
