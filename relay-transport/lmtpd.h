/*
 * lmtpd - one LMTP session (RFC 2033) from the MTA, relayed command by
 * command to a next hop of one route: hoprelayd's core.
 *
 * Nothing is acknowledged before the next hop acknowledged it:
 *
 *   MAIL FROM   takes a connection to the first hop of the route that
 *               accepts the sender (cached, RSET-probed, or new; failover in
 *               order, as hoprelay does), and mirrors its reply; when no hop
 *               could be used the reply is 451 4.4.x with every hop's cause
 *   RCPT TO     is relayed and its reply mirrored: a recipient the hop
 *               refuses gets the hop's own reply (a 452 defers that one only)
 *   DATA        is relayed; the message streams through a fixed buffer as it
 *               arrives, and the hop's reply to the final dot is given once
 *               per recipient it accepted at RCPT (RFC 2033 section 4.2)
 *
 * No queue and no copy of the message: if the hop is lost in the middle of
 * DATA, the rest of the message is read and dropped and every recipient
 * gets 451 4.4.2, so the MTA keeps the message.  The one window for a
 * duplicate is RFC 1047's: the hop accepted the final dot and the session
 * died before the MTA read our replies.
 *
 * Runs on the calling thread with blocking I/O under deadlines; the
 * session's own state is private, the configuration comes through `ops`
 * and is held only for one transaction.
 */
#ifndef HOP_LMTPD_H
#define HOP_LMTPD_H

#include <stddef.h>

#include "hcache.h"
#include "route.h"

/* What one transaction works with: a configuration and its cache. */
struct lmtpd_gen {
	const struct route_conf *conf;
	struct hcache *cache;
};

/* How a session gets the installed configuration, and gives it back. */
struct lmtpd_ops {
	struct lmtpd_gen *(*acquire)(void *arg);
	void (*release)(void *arg, struct lmtpd_gen *gen);
	void *arg;
};

/*
 * Limits against a peer that is not the MTA it should be (anything that
 * can connect to the socket): every wait has a deadline counted from its
 * start, not renewed by each byte, so a client trickling a byte a second
 * is cut as surely as a silent one; on a timeout the session ends with
 * 421 4.4.2 and a log line.
 */
struct lmtpd_params {
	const char *route;        /* the route this socket serves */
	const char *myname;       /* for the greeting and LHLO */
	long timeout_ms;          /* a whole command line (and the wait for it); each
	                             piece of DATA (a line, or 16 KiB of a longer one);
	                             each write of our replies */
	long data_timeout_ms;     /* the whole message, 354 to the final dot */
	long max_rcpts;           /* per transaction; then 452 4.5.3 */
	long max_size;            /* bytes of message data as received; 0: only the hop's */
	unsigned long id;         /* session number, for the logs ("L12") */
};

#define LMTPD_MAX_RCPTS 1000  /* default max_rcpts (RFC 5321 section 4.5.3.1.8) */
#define LMTPD_MAX_ERRORS 10   /* bad commands before the session is closed */
#define LMTPD_MAX_JUNK 100    /* NOOP, RSET, LHLO, XFORWARD between two transactions;
                                 each one more counts as an error */
#define LMTPD_CMD_MAX 1024    /* a command line with its CRLF (RFC 5321 says 512; room for
                                 long addresses): longer gets 500 5.5.2 */
#define LMTPD_CMD_CUT 32768   /* a command line not ended by then: 421, closed */

/* Serve the connected socket `fd` until QUIT, EOF or a timeout; closes nothing. */
void lmtpd_session(int fd, const struct lmtpd_params *p, const struct lmtpd_ops *ops);

#endif
