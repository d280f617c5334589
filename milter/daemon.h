/*
 * daemon - the Unix chores of a mail filter daemon: detaching, the pid
 * file, dropping root, and the permissions of its unix socket.
 */
#ifndef HOP_DAEMON_H
#define HOP_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Fork into the background.  The parent waits until the child calls
 * daemon_ready() (then exits 0) or exits (then exits with the child's
 * status), so whoever started us learns whether start-up worked.
 * Returns the fd to hand to daemon_ready(), or -1 on error.
 */
int daemon_detach(void);
/* Tell the waiting parent that start-up succeeded; closes `fd`.  No-op for -1. */
void daemon_ready(int fd);

/*
 * systemd's Type=notify: true when systemd started us with NOTIFY_SOCKET
 * and the build has libsystemd.  The daemon then stays in the foreground
 * (systemd supervises the process it started) and logs to syslog.
 */
bool daemon_notify_wanted(void);
/* Send `state` ("READY=1", "RELOADING=1", "STOPPING=1") to systemd; no-op otherwise. */
void daemon_notify(const char *state);

/* Write our pid to `path` (mode 0644).  0 or -1 (errno set). */
int daemon_write_pidfile(const char *path);

/*
 * Look up `user`: uid, primary gid.  0, or -1 if there is no such user.
 */
int daemon_lookup_user(const char *user, uid_t *uid, gid_t *gid);
/* Become `user` for good (groups, gid, uid), and verify root cannot come back. */
int daemon_drop_privileges(const char *user, uid_t uid, gid_t gid);

/*
 * For a "unix:" or "local:" socket spec: the path, else NULL.  The result
 * points into `spec`.
 */
const char *daemon_unix_path(const char *spec);

#endif
