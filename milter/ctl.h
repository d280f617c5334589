/*
 * ctl - the control socket that hopmilter-ctl(8) talks to.
 *
 * A unix stream socket (the `control_socket` option) owned by root and the
 * daemon's group, mode 0660: who may write to it may see the counters and
 * the configuration and lift a rate limit, nobody else may connect at all.
 *
 * One thread serves it, apart from the mail threads, and nothing it does
 * holds a lock a mail thread waits for longer than a counter read: a slow,
 * hostile or vanished client costs at most its own time budget.  Limits
 * (documented in hopmilter-ctl(8), PROTOCOL): CTL_MAX_CLIENTS connections
 * at once (one more is told "ERR busy" and closed), CTL_LINE_MAX bytes for
 * the command line, CTL_TIMEOUT_MS from accept to the last byte of the
 * reply.  One command per connection; the daemon closes after the reply.
 *
 * The commands themselves (ctlcmd.h) are plain functions writing to a
 * FILE; this module is only the socket.
 */
#ifndef HOP_CTL_H
#define HOP_CTL_H

#include <stdbool.h>
#include <sys/types.h>

#define CTL_MAX_CLIENTS 32
#define CTL_LINE_MAX 1024
#define CTL_TIMEOUT_MS 5000

/*
 * Create the socket at `path` (a stale one is replaced) while still root:
 * owner root (or whoever we are), group `gid` when `as_root`, mode 0660.
 * Returns the listening fd, or -1 with the reason on stderr.
 */
int ctl_open(const char *path, bool as_root, gid_t gid);
/* Serve `fd` in a detached thread.  0, or -1. */
int ctl_start(int fd);

#endif
