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

/* "RCPT TO", "end of data", ... for "(in reply to ...)". */
const char *xfer_stage_name(enum xfer_stage s);

#endif
