/*
 * xfer - one attempt to hand the message to one address of one hop.
 *
 *   connect, 220, EHLO (HELO only when TLS is not required), STARTTLS,
 *   handshake, EHLO again, MAIL FROM and RCPT TO (pipelined when offered),
 *   DATA, the message, ".", QUIT
 *
 * The result says what happened and where; mapping it to an exit status
 * and the status line is outcome.c's job, deciding whether to try the next
 * hop is hoprelay.c's.
 *
 * Several recipients are all-or-nothing: when any RCPT TO is refused the
 * transaction is reset (RSET) and no message data is sent; the reported
 * reply is the most urgent refusal, a 4xx before a 5xx (deferring everyone
 * keeps the deliverable recipients safe).  DATA is therefore never
 * pipelined behind the RCPTs.
 */
#ifndef HOP_XFER_H
#define HOP_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "msgin.h"
#include "route.h"
#include "smtpc.h"
#include "tlsc.h"

enum xfer_result {
	XFER_OK,            /* the hop accepted the message for every recipient */
	XFER_CONNECT,       /* no connection (refused, unreachable, timed out, unresolvable) */
	XFER_LOST,          /* the connection broke or timed out after it was up */
	XFER_PROTOCOL,      /* the server spoke something other than SMTP */
	XFER_HOP_REFUSED,   /* not 2xx to the greeting, EHLO/HELO or STARTTLS */
	XFER_NO_STARTTLS,   /* tls = required and STARTTLS not offered */
	XFER_TLS,           /* the handshake failed */
	XFER_TLS_AUTH,      /* the server failed authentication (pin, name, chain) */
	XFER_INJECTION,     /* the server sent data after its 220 to STARTTLS */
	XFER_TEMP,          /* 4xx to MAIL, RCPT, DATA or the end of data */
	XFER_PERM,          /* 5xx to MAIL, RCPT, DATA or the end of data */
	XFER_NEED_8BITMIME, /* 8-bit message, server without 8BITMIME */
	XFER_NEED_SMTPUTF8, /* UTF-8 address, server without SMTPUTF8 */
	XFER_TOO_BIG,       /* over the server's announced SIZE */
	XFER_INPUT,         /* reading the message from stdin failed */
};

enum xfer_stage {
	XFER_AT_CONNECT, XFER_AT_GREETING, XFER_AT_EHLO, XFER_AT_STARTTLS, XFER_AT_TLS,
	XFER_AT_MAIL, XFER_AT_RCPT, XFER_AT_DATA, XFER_AT_BODY, XFER_AT_DOT,
};

/* The message and its envelope: the same for every attempt. */
struct xfer_env {
	const char *qid;
	const char *sender;            /* "" for the null sender */
	char *const *rcpts;
	size_t nrcpts;
	bool need_smtputf8;            /* an address has 8-bit bytes */
	long size;                     /* declared size; -1 unknown */
	struct msgin *msg;
};

struct xfer_status {
	enum xfer_result result;
	enum xfer_stage stage;
	bool have_reply;
	struct smtpc_reply reply;      /* the server reply that decided it */
	char detail[256];              /* what happened, when no reply tells */
	bool tls;                      /* the session was encrypted */
	struct tlsc_info tlsinfo;
	bool body_started;             /* message data went out (the server may have a partial copy) */
};

/*
 * Run one attempt against `sa` (an address of `hop`).  `tls` is the route's
 * context (NULL when tls = none).  Always fills *st; returns st->result.
 */
enum xfer_result xfer_run(const struct xfer_env *env, const struct route *route,
    const struct route_hop *hop, const struct sockaddr *sa, socklen_t salen,
    struct tlsc_ctx *tls, struct xfer_status *st);

/*
 * Kept connections, for hoprelayd: the session (connect, greeting, EHLO,
 * STARTTLS, handshake, EHLO) is set up once, then the caller runs any
 * number of transactions over it, one command at a time.  A connection is
 * used by one thread at a time.
 *
 * xfer_conn_open always sets *out (NULL only when out of memory); on
 * failure its status says why and the caller closes it.  `resume` is a
 * TLS session to offer (not kept past the call).  After any step the
 * status (xfer_conn_status) is what outcome_from_xfer() maps; a result
 * other than XFER_OK, a 421, or xfer_conn_doubt() makes the connection
 * unhealthy: it must be closed, never reused.
 */
struct xfer;
enum xfer_result xfer_conn_open(const struct route *route, const struct route_hop *hop,
    const struct sockaddr *sa, socklen_t salen, struct tlsc_ctx *tls, SSL_SESSION *resume,
    struct xfer **out);
const struct xfer_status *xfer_conn_status(const struct xfer *x);
const struct smtpc_caps *xfer_conn_caps(const struct xfer *x);
bool xfer_conn_healthy(const struct xfer *x);
/* When it was opened (monotime_ms). */
long long xfer_conn_opened(const struct xfer *x);
SSL *xfer_conn_ssl(const struct xfer *x);
/* Mark the connection unusable (a caller saw something out of sequence). */
void xfer_conn_doubt(struct xfer *x);
/* Send `cmd` (with its CRLF) and read the reply; XFER_OK when a reply was read. */
enum xfer_result xfer_conn_command(struct xfer *x, enum xfer_stage stage, const char *cmd,
    struct smtpc_reply *r, long timeout_ms);
/* Queue message data, already in DATA form (CRLF, dots doubled). */
enum xfer_result xfer_conn_write(struct xfer *x, const void *buf, size_t len);
/* Send the final "." and read the reply; XFER_OK when a reply was read. */
enum xfer_result xfer_conn_end_data(struct xfer *x, struct smtpc_reply *r);
/* QUIT when still healthy, close, free.  NULL is fine. */
void xfer_conn_close(struct xfer *x);

/* "RCPT TO", "end of data", ... for "(in reply to ...)". */
const char *xfer_stage_name(enum xfer_stage s);

#endif
