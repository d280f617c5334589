/*
 * rlconn - one hiredis connection to a Redis server, made ready for the
 * rate limit: connect (connect_timeout, then the command timeout on the
 * socket), AUTH (password, or ACL user and password), SELECT, ROLE (only a
 * master will do) and SCRIPT LOAD (which also proves that our SHA1 of the
 * script is the one Redis computes).  Also the commands Sentinel discovery
 * sends (rlsentinel) and the one-line error text every rl* module logs.
 *
 * Nothing here keeps state or takes a lock: every call blocks for at most
 * the timeouts it is given (each command with its whole reply, under
 * rlwire's size limits), and a context that saw an error is the caller's
 * to close (never to reuse: a late reply could be paired with the next
 * question).  Only the rl* modules include this header; the rest of
 * the tree uses rlredis.h.
 */
#ifndef HOP_RLCONN_H
#define HOP_RLCONN_H

#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

/* What a handshake needs, copied from the configuration by rlredis. */
struct rlconn_cfg {
	char *host;                           /* the server, unless Sentinel names one */
	int port;
	char *user, *password;
	int db;
	long timeout_ms, connect_ms;          /* command and connect timeouts */
	const unsigned char *script;          /* static storage, not copied */
	size_t script_len;
	char sha[41];                         /* the script's SHA1, hex */
};

/* `ms` as a struct timeval for hiredis. */
struct timeval rlconn_tv(long ms);

/*
 * printf into `why`, then every byte outside printable ASCII, and '"',
 * replaced by '?': error texts come from the network and go into log lines.
 */
void rlconn_why(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A connected context with the command timeout `timeout_ms` and TCP
 * keep-alive set on its socket; NULL with `why` on failure.
 */
redisContext *rlconn_connect(const char *host, int port, long connect_ms, long timeout_ms,
    char *why, size_t whysz);

/*
 * One command and its whole reply within `timeout_ms`, through rlwire (its
 * size limits apply); error replies included.  NULL with `why` otherwise:
 * the context is then dead.
 */
redisReply *rlconn_call(redisContext *c, int argc, const char **argv, const size_t *lens,
    long timeout_ms, char *why, size_t whysz);
/* The same, with an error reply also NULL with `why`. */
redisReply *rlconn_cmd(redisContext *c, int argc, const char **argv, long timeout_ms, char *why,
    size_t whysz);

/* AUTH with a password, or an ACL user and password; nothing when both are empty.  0 or -1. */
int rlconn_auth(redisContext *c, const char *user, const char *password, long timeout_ms,
    char *why, size_t whysz);

/*
 * Connect to host:port and make the context ready for EVALSHA: AUTH,
 * SELECT (when db is not 0), ROLE, SCRIPT LOAD.  NULL with `why` on failure.
 */
redisContext *rlconn_ready(const struct rlconn_cfg *cfg, const char *host, int port, char *why,
    size_t whysz);

#endif
