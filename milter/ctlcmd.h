/*
 * ctlcmd - the commands of the control socket (hopmilter-ctl(8), PROTOCOL).
 *
 * ctlcmd_run() takes one command line (no line end) and writes the whole
 * reply to `out`: a status line, "OK" or "ERR reason", then the body.
 * It never fails the daemon: an unknown, malformed or refused command is
 * an "ERR" line.  Called by the control thread only; reads the current
 * policy through policy_acquire(), like a mail session.
 */
#ifndef HOP_CTLCMD_H
#define HOP_CTLCMD_H

#include <stdio.h>

/* Longest argument list a command takes (test: --rcpt many times). */
#define CTLCMD_MAX_ARGS 64
/* Room for a decoded login or sender argument: a whole command line. */
#define CTLCMD_NAME_MAX 1024

void ctlcmd_run(char *line, FILE *out);

#endif
