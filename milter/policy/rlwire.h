/*
 * rlwire - one Redis command and its reply on a hiredis context, within one
 * deadline and a size cap, by our own poll/send/recv.
 *
 * hiredis 0.14's blocking calls bound each read(2) by the socket timeout,
 * not the reply: a reply trickled a byte at a time takes as long as the
 * server likes.  And its reader believes every length a reply declares:
 * "*2000000000" has it calloc 16 GB for the elements, "$4000000000" has it
 * buffer whatever arrives until then.  So rlwire sends the command itself,
 * and reads the raw reply itself: every header is checked as it arrives
 * (rlwire_scan: at most RLWIRE_MAX_ELEMENTS per aggregate, RLWIRE_MAX_BULK
 * per string, RLWIRE_MAX_LINE per line, RLWIRE_MAX_REPLY in all, RESP2
 * types only) before hiredis's reader is fed the bytes to build the reply
 * object, and the deadline holds whatever arrives.  What we ask for has
 * small replies (the script's three integers, a 40-digit SHA1, ROLE, a
 * Sentinel's address pair), so the limits are tight.
 *
 * Bytes after the end of the reply are a protocol error: the server would
 * be answering a question not yet asked.
 *
 * Nothing here keeps state or takes a lock; the context belongs to the
 * caller, who closes it after anything but RLWIRE_OK (and RLWIRE_LATE).
 * Only the rl* modules include this header.
 */
#ifndef HOP_RLWIRE_H
#define HOP_RLWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define RLWIRE_MAX_ELEMENTS 64     /* of one array */
#define RLWIRE_MAX_BULK 4096       /* of one bulk string */
#define RLWIRE_MAX_LINE 1024       /* of a status, error or header line */
#define RLWIRE_MAX_REPLY 65536     /* of the whole reply, in bytes */

enum rlwire_scan_state {
	RLWIRE_SCAN_MORE,     /* the reply goes on */
	RLWIRE_SCAN_DONE,     /* the reply ended (*used tells where) */
	RLWIRE_SCAN_TOOBIG,   /* a limit above was broken */
	RLWIRE_SCAN_BAD,      /* not a RESP2 reply */
};

/* The reply's framing as seen so far. */
struct rlwire_scan {
	int phase;               /* type byte, header line, bulk payload, its CRLF */
	char type;
	char line[24];           /* the length of a '$' or '*' header */
	size_t linelen;
	long long skip;          /* payload bytes left of the current bulk string */
	long long need;          /* items still expected to end the reply */
	size_t total;
};

void rlwire_scan_init(struct rlwire_scan *s);
/*
 * Scan `len` more bytes of the reply.  *used gets how many belong to it
 * (all of them unless RLWIRE_SCAN_DONE came early).
 */
enum rlwire_scan_state rlwire_scan_feed(struct rlwire_scan *s, const char *buf, size_t len,
    size_t *used);

enum rlwire_result {
	RLWIRE_OK,         /* *out holds the reply (it may be an error reply) */
	RLWIRE_LATE,       /* the deadline had passed before anything was sent */
	RLWIRE_TIMEOUT,    /* the deadline passed while sending or reading */
	RLWIRE_CLOSED,     /* the server closed or reset the connection */
	RLWIRE_IOERR,      /* another socket error */
	RLWIRE_TOOBIG,     /* the reply broke a size limit */
	RLWIRE_PROTOCOL,   /* not RESP2, or bytes after the reply */
};

/*
 * Send one command (argv/lens as for redisCommandArgv; lens may be NULL)
 * and read its whole reply before `deadline_ms` (monotime_ms()).  On
 * RLWIRE_OK *out is the reply, the caller's to free with freeReplyObject.
 * *got_byte says whether any reply byte arrived (a connection closed
 * before that may just have sat idle too long).  `why` says what went
 * wrong, in a form fit for a log line.
 */
enum rlwire_result rlwire_call(redisContext *c, int argc, const char **argv,
    const size_t *lens, int64_t deadline_ms, redisReply **out, bool *got_byte, char *why,
    size_t whysz);

/*
 * True when an idle context still looks usable: nothing to read on its
 * socket (after a close by the server -- its idle timeout, a proxy, a
 * failover -- there is the end of file; unsolicited bytes are no better).
 * Never waits.
 */
bool rlwire_idle_ok(const redisContext *c);

#endif
