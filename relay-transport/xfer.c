/*
 * xfer - the SMTP client state machine for one attempt.  See xfer.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monotime.h"
#include "netio.h"
#include "xfer.h"

struct xfer {
	const struct xfer_env *env;
	const struct route *route;
	const struct route_hop *hop;
	struct tlsc_ctx *tls;
	struct xfer_status *st;
	struct netio io;
	SSL *ssl;
	SSL_SESSION *resume;          /* offered to the handshake (hoprelayd's cache) */
	struct xfer_status own;       /* a kept connection's status (xfer_conn_*) */
	long long opened;             /* when a kept connection was opened (monotime_ms) */
	bool healthy;                 /* the connection can still carry a QUIT */
	struct smtpc_caps caps;
	char line[SMTPC_LINE_MAX];
};

const char *
xfer_stage_name(enum xfer_stage s)
{
	static const char *names[] = {
		[XFER_AT_CONNECT] = "connect", [XFER_AT_GREETING] = "initial greeting",
		[XFER_AT_EHLO] = "EHLO", [XFER_AT_STARTTLS] = "STARTTLS",
		[XFER_AT_TLS] = "TLS handshake", [XFER_AT_MAIL] = "MAIL FROM",
		[XFER_AT_RCPT] = "RCPT TO", [XFER_AT_DATA] = "DATA",
		[XFER_AT_BODY] = "message transfer", [XFER_AT_DOT] = "end of DATA",
	};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static enum xfer_result __attribute__((format(printf, 3, 4)))
xfer_fail(struct xfer *x, enum xfer_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->st->detail, sizeof(x->st->detail), fmt, ap);
	va_end(ap);
	x->st->result = r;
	return r;
}

/* A failed read or write: the connection is beyond use. */
static enum xfer_result
xfer_io_fail(struct xfer *x, enum netio_result nr)
{
	x->healthy = false;
	if (nr == NETIO_TOOLONG)
		return xfer_fail(x, XFER_PROTOCOL, "protocol error: %s", x->io.why);
	return xfer_fail(x, XFER_LOST, "lost connection during %s: %s",
	    xfer_stage_name(x->st->stage), x->io.why);
}

/*
 * Read one complete reply within `timeout_ms`: one deadline for all its
 * lines, and no more lines or bytes than smtpc allows one reply.
 */
static enum xfer_result
xfer_read_reply(struct xfer *x, struct smtpc_reply *r, long timeout_ms)
{
	long long deadline = monotime_ms() + timeout_ms;
	enum smtpc_feed f = SMTPC_MORE;

	smtpc_reply_init(r);
	while (f == SMTPC_MORE) {
		enum netio_result nr = netio_read_line(&x->io, x->line, sizeof(x->line), deadline);

		if (nr != NETIO_OK)
			return xfer_io_fail(x, nr);
		f = smtpc_reply_feed(r, x->line);
	}
	if (f == SMTPC_BAD) {
		x->healthy = false;
		return xfer_fail(x, XFER_PROTOCOL, "protocol error during %s: not an SMTP reply: %.80s",
		    xfer_stage_name(x->st->stage), x->line);
	}
	if (f == SMTPC_TOOBIG) {
		x->healthy = false;
		return xfer_fail(x, XFER_PROTOCOL, "protocol error during %s: a reply of more than "
		    "%d lines or %d bytes", xfer_stage_name(x->st->stage), SMTPC_REPLY_LINES_MAX,
		    SMTPC_REPLY_BYTES_MAX);
	}
	return XFER_OK;
}

static enum xfer_result
xfer_send(struct xfer *x, const char *cmd, size_t len, long timeout_ms)
{
	enum netio_result nr = netio_write(&x->io, cmd, len, monotime_ms() + timeout_ms);

	return nr == NETIO_OK ? XFER_OK : xfer_io_fail(x, nr);
}

/* Send `cmd` and read its reply into `r`. */
static enum xfer_result
xfer_command(struct xfer *x, const char *cmd, struct smtpc_reply *r, long timeout_ms)
{
	enum xfer_result xr = xfer_send(x, cmd, strlen(cmd), timeout_ms);

	return xr != XFER_OK ? xr : xfer_read_reply(x, r, timeout_ms);
}

/* Keep `r` as the reply that decided the attempt. */
static enum xfer_result
xfer_decided(struct xfer *x, enum xfer_result res, const struct smtpc_reply *r)
{
	x->st->reply = *r;
	x->st->have_reply = true;
	x->st->result = res;
	/* 421: the server is closing the connection. */
	if (r->code == 421)
		x->healthy = false;
	return res;
}

static enum xfer_result
xfer_greeting(struct xfer *x)
{
	struct smtpc_reply r;
	enum xfer_result xr;

	x->st->stage = XFER_AT_GREETING;
	xr = xfer_read_reply(x, &r, x->route->timeouts.greeting);
	if (xr != XFER_OK)
		return xr;
	return smtpc_reply_class(&r) == 2 ? XFER_OK : xfer_decided(x, XFER_HOP_REFUSED, &r);
}

static enum xfer_result
xfer_ehlo(struct xfer *x)
{
	char cmd[300];
	struct smtpc_reply r;
	enum xfer_result xr;

	x->st->stage = XFER_AT_EHLO;
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", x->route->helo_name);
	if ((xr = xfer_command(x, cmd, &r, x->route->timeouts.command)) != XFER_OK)
		return xr;
	if (smtpc_reply_class(&r) == 2) {
		smtpc_caps_parse(&r, &x->caps);
		return XFER_OK;
	}
	/* An old server: HELO, but never when TLS is required (no STARTTLS then). */
	if (smtpc_reply_class(&r) != 5 || x->route->tls == ROUTE_TLS_REQUIRED || x->st->tls)
		return xfer_decided(x, XFER_HOP_REFUSED, &r);
	snprintf(cmd, sizeof(cmd), "HELO %s\r\n", x->route->helo_name);
	if ((xr = xfer_command(x, cmd, &r, x->route->timeouts.command)) != XFER_OK)
		return xr;
	memset(&x->caps, 0, sizeof(x->caps));
	return smtpc_reply_class(&r) == 2 ? XFER_OK : xfer_decided(x, XFER_HOP_REFUSED, &r);
}

static enum xfer_result
xfer_handshake(struct xfer *x)
{
	static const enum xfer_result map[] = {
		[TLSC_OK] = XFER_OK, [TLSC_AUTH] = XFER_TLS_AUTH,
		[TLSC_FAILED] = XFER_TLS, [TLSC_TIMEOUT] = XFER_TLS,
	};
	enum tlsc_result tr;

	x->st->stage = XFER_AT_TLS;
	tr = tlsc_handshake_resume(x->tls, x->io.fd, x->hop, x->resume,
	    monotime_ms() + x->route->timeouts.command, &x->ssl, &x->st->tlsinfo);
	if (tr != TLSC_OK) {
		x->healthy = false;
		return xfer_fail(x, map[tr], "%s", x->st->tlsinfo.why);
	}
	x->io.ssl = x->ssl;
	x->st->tls = true;
	/* RFC 3207: forget everything learnt before TLS and ask again. */
	return xfer_ehlo(x);
}

static enum xfer_result
xfer_starttls(struct xfer *x)
{
	bool required = x->route->tls == ROUTE_TLS_REQUIRED;
	struct smtpc_reply r;
	enum xfer_result xr;

	if (x->route->tls == ROUTE_TLS_NONE || x->tls == NULL)
		return XFER_OK;
	if (!x->caps.starttls)
		return required ? xfer_fail(x, XFER_NO_STARTTLS,
		    "TLS is required, but the server does not offer STARTTLS") : XFER_OK;
	x->st->stage = XFER_AT_STARTTLS;
	if ((xr = xfer_command(x, "STARTTLS\r\n", &r, x->route->timeouts.command)) != XFER_OK)
		return xr;
	if (smtpc_reply_class(&r) != 2)
		return required ? xfer_decided(x, XFER_HOP_REFUSED, &r) : XFER_OK;
	/*
	 * Anything after the 220 was sent before the handshake, in the clear:
	 * a man in the middle injecting commands or replies (RFC 3207 section
	 * 6, CVE-2011-0411).  It is never read as a reply: the session ends.
	 */
	if (netio_pending(&x->io) > 0) {
		x->healthy = false;
		return xfer_fail(x, XFER_INJECTION,
		    "the server sent data after its reply to STARTTLS (command injection?)");
	}
	return xfer_handshake(x);
}

/* What the message needs that the server may lack; checked before MAIL FROM. */
static enum xfer_result
xfer_check_content(struct xfer *x, long size)
{
	if (x->env->need_smtputf8 && !x->caps.smtputf8)
		return xfer_fail(x, XFER_NEED_SMTPUTF8,
		    "an envelope address needs SMTPUTF8, which the server does not offer");
	if (msgin_eightbit(x->env->msg) == MSGIN_8BIT && !x->caps.eightbitmime)
		return xfer_fail(x, XFER_NEED_8BITMIME,
		    "the message has 8-bit data and the server does not offer 8BITMIME");
	if (x->caps.size_max > 0 && size > 0 && (unsigned long)size > x->caps.size_max)
		return xfer_fail(x, XFER_TOO_BIG,
		    "message size %ld exceeds the limit of %lu the server announced", size,
		    x->caps.size_max);
	return XFER_OK;
}

/* Remember the most urgent refusal: a 4xx outranks a 5xx, the first the later ones. */
static void
xfer_note_refusal(struct xfer *x, const struct smtpc_reply *r, enum xfer_stage stage,
    bool *refused)
{
	bool temp = smtpc_reply_class(r) != 5;

	if (*refused && !(temp && x->st->result == XFER_PERM))
		return;
	*refused = true;
	x->st->stage = stage;
	xfer_decided(x, temp ? XFER_TEMP : XFER_PERM, r);
}

static enum xfer_result
xfer_mail_cmd(struct xfer *x, long size, char *cmd, size_t cmdsz)
{
	struct smtpc_mail_params p = {
		.size = x->caps.size ? size : -1,
		.body8 = x->caps.eightbitmime && msgin_eightbit(x->env->msg) != MSGIN_7BIT,
		.smtputf8 = x->env->need_smtputf8,
	};

	if (smtpc_cmd_mail(cmd, cmdsz, x->env->sender, &p) == 0)
		return xfer_fail(x, XFER_PERM, "sender address too long");
	return XFER_OK;
}

/*
 * MAIL FROM and every RCPT TO.  With PIPELINING the commands go out
 * together and the replies are read afterwards, in order (RFC 2920).
 */
static enum xfer_result
xfer_envelope(struct xfer *x, long size)
{
	bool pipe = x->caps.pipelining, refused = false;
	long t = x->route->timeouts.command;
	char cmd[SMTPC_ADDR_MAX + 64];
	struct smtpc_reply r;
	enum xfer_result xr;

	x->st->stage = XFER_AT_MAIL;
	if ((xr = xfer_mail_cmd(x, size, cmd, sizeof(cmd))) != XFER_OK ||
	    (xr = xfer_send(x, cmd, strlen(cmd), t)) != XFER_OK)
		return xr;
	for (size_t i = 0; pipe && i < x->env->nrcpts; i++) {
		size_t n = smtpc_cmd_rcpt(cmd, sizeof(cmd), x->env->rcpts[i]);

		if ((xr = xfer_send(x, cmd, n, t)) != XFER_OK)
			return xr;
	}
	if ((xr = xfer_read_reply(x, &r, t)) != XFER_OK)
		return xr;
	if (smtpc_reply_class(&r) != 2)
		xfer_note_refusal(x, &r, XFER_AT_MAIL, &refused);
	for (size_t i = 0; i < x->env->nrcpts && (pipe || !refused); i++) {
		x->st->stage = refused ? x->st->stage : XFER_AT_RCPT;
		if (!pipe && (xr = xfer_send(x, cmd, smtpc_cmd_rcpt(cmd, sizeof(cmd),
		    x->env->rcpts[i]), t)) != XFER_OK)
			return xr;
		if ((xr = xfer_read_reply(x, &r, t)) != XFER_OK)
			return xr;
		if (smtpc_reply_class(&r) != 2)
			xfer_note_refusal(x, &r, XFER_AT_RCPT, &refused);
	}
	if (refused && x->healthy) {
		/* Nothing of the transaction may survive; the refusal stays the result. */
		struct xfer_status keep = *x->st;

		xfer_command(x, "RSET\r\n", &r, t);
		*x->st = keep;
	}
	return refused ? x->st->result : XFER_OK;
}

/*
 * A reply before the final dot is a protocol violation: a hop that answers
 * "250" to the data it has not read, then closes, would have hoprelay
 * report success for a message nobody has.  Looked for after the 354 and
 * before each piece of the message.
 * XXX A reply that arrives while the last piece (with the dot) is on its
 * way cannot be told from the real one.
 */
static enum xfer_result
xfer_check_early(struct xfer *x)
{
	if (netio_peek_input(&x->io) == 0)
		return XFER_OK;
	x->healthy = false;
	return xfer_fail(x, XFER_PROTOCOL, "protocol error during %s: the server replied before "
	    "the end of the message data", xfer_stage_name(x->st->stage));
}

static enum xfer_result
xfer_body(struct xfer *x)
{
	struct msgin *m = x->env->msg;
	const unsigned char *p;
	size_t len;
	enum netio_result nr;

	x->st->stage = XFER_AT_BODY;
	msgin_forbid_8bit(m, !x->caps.eightbitmime);
	for (;;) {
		switch (msgin_next(m, &p, &len)) {
		case MSGIN_END:
			/* The last piece and ".": sent now, while this is still the transfer. */
			if (xfer_check_early(x) != XFER_OK)
				return x->st->result;
			nr = netio_flush(&x->io, monotime_ms() + x->route->timeouts.data_block);
			return nr == NETIO_OK ? XFER_OK : xfer_io_fail(x, nr);
		case MSGIN_STOP_8BIT:
			/* Closing before "." makes the server discard what it got. */
			x->healthy = false;
			return xfer_fail(x, XFER_NEED_8BITMIME, "the message has 8-bit data and the "
			    "server does not offer 8BITMIME (transfer abandoned before its end)");
		case MSGIN_ERROR:
			x->healthy = false;
			return xfer_fail(x, XFER_INPUT, "cannot read the message: %s", strerror(m->err));
		case MSGIN_OK:
			break;
		}
		if (xfer_check_early(x) != XFER_OK)
			return x->st->result;
		x->st->body_started = true;
		nr = netio_write(&x->io, p, len, monotime_ms() + x->route->timeouts.data_block);
		if (nr != NETIO_OK)
			return xfer_io_fail(x, nr);
	}
}

static enum xfer_result
xfer_data(struct xfer *x)
{
	struct smtpc_reply r;
	enum xfer_result xr;

	x->st->stage = XFER_AT_DATA;
	if ((xr = xfer_command(x, "DATA\r\n", &r, x->route->timeouts.data_init)) != XFER_OK)
		return xr;
	if (r.code != 354)
		return xfer_decided(x, smtpc_reply_class(&r) == 5 ? XFER_PERM :
		    smtpc_reply_class(&r) == 4 ? XFER_TEMP : XFER_PROTOCOL, &r);
	if ((xr = xfer_body(x)) != XFER_OK)
		return xr;
	x->st->stage = XFER_AT_DOT;
	if ((xr = xfer_read_reply(x, &r, x->route->timeouts.data_done)) != XFER_OK)
		return xr;
	return xfer_decided(x, smtpc_reply_class(&r) == 2 ? XFER_OK :
	    smtpc_reply_class(&r) == 5 ? XFER_PERM : XFER_TEMP, &r);
}

/*
 * Say goodbye if the connection can still carry it; the answer does not
 * matter.  The wait is short: the outcome is already decided, and a hop
 * that accepted the message and then hangs must not keep hoprelay alive
 * until the MTA's time limit kills it -- the message would be deferred
 * and sent twice.
 */
#define XFER_QUIT_TIMEOUT 10000

static void
xfer_quit(struct xfer *x)
{
	struct smtpc_reply r;
	struct xfer_status keep = *x->st;
	long t = x->route->timeouts.command < XFER_QUIT_TIMEOUT ? x->route->timeouts.command :
	    XFER_QUIT_TIMEOUT;

	if (x->healthy && x->io.fd >= 0)
		xfer_command(x, "QUIT\r\n", &r, t);
	*x->st = keep;
	tlsc_close(x->ssl);
	x->ssl = NULL;
	netio_close(&x->io);
}

static enum xfer_result
xfer_session(struct xfer *x)
{
	long size = x->env->size >= 0 ? x->env->size : msgin_size(x->env->msg);
	enum xfer_result xr;

	if ((xr = xfer_greeting(x)) != XFER_OK || (xr = xfer_ehlo(x)) != XFER_OK ||
	    (xr = xfer_starttls(x)) != XFER_OK || (xr = xfer_check_content(x, size)) != XFER_OK ||
	    (xr = xfer_envelope(x, size)) != XFER_OK)
		return xr;
	return xfer_data(x);
}

enum xfer_result
xfer_run(const struct xfer_env *env, const struct route *route, const struct route_hop *hop,
    const struct sockaddr *sa, socklen_t salen, struct tlsc_ctx *tls, struct xfer_status *st)
{
	struct xfer x = {.env = env, .route = route, .hop = hop, .tls = tls, .st = st};
	enum netio_result nr;

	memset(st, 0, sizeof(*st));
	st->stage = XFER_AT_CONNECT;
	nr = netio_connect(&x.io, sa, salen, route->have_source ? &route->source : NULL,
	    monotime_ms() + route->timeouts.connect);
	if (nr != NETIO_OK)
		return xfer_fail(&x, XFER_CONNECT, "%s", x.io.why);
	x.healthy = true;
	st->result = xfer_session(&x);
	xfer_quit(&x);
	return st->result;
}

/*
 * Kept connections (hoprelayd): the same session set-up, then the caller
 * runs the transaction command by command.  The status of every step lands
 * in the connection's own xfer_status, so outcome_from_xfer() maps it the
 * same way as a whole attempt.
 */
enum xfer_result
xfer_conn_open(const struct route *route, const struct route_hop *hop,
    const struct sockaddr *sa, socklen_t salen, struct tlsc_ctx *tls, SSL_SESSION *resume,
    struct xfer **out)
{
	struct xfer *x = calloc(1, sizeof(*x));
	enum netio_result nr;
	enum xfer_result xr;

	*out = x;
	if (x == NULL)
		return XFER_CONNECT;
	x->route = route;
	x->hop = hop;
	x->tls = tls;
	x->resume = resume;
	x->st = &x->own;
	x->io.fd = -1;
	x->opened = monotime_ms();
	x->st->stage = XFER_AT_CONNECT;
	nr = netio_connect(&x->io, sa, salen, route->have_source ? &route->source : NULL,
	    monotime_ms() + route->timeouts.connect);
	if (nr != NETIO_OK)
		return xfer_fail(x, XFER_CONNECT, "%s", x->io.why);
	x->healthy = true;
	if ((xr = xfer_greeting(x)) != XFER_OK || (xr = xfer_ehlo(x)) != XFER_OK ||
	    (xr = xfer_starttls(x)) != XFER_OK)
		return xr;
	x->resume = NULL;
	x->st->result = XFER_OK;
	return XFER_OK;
}

const struct xfer_status *
xfer_conn_status(const struct xfer *x)
{
	return x->st;
}

const struct smtpc_caps *
xfer_conn_caps(const struct xfer *x)
{
	return &x->caps;
}

long long
xfer_conn_opened(const struct xfer *x)
{
	return x->opened;
}

bool
xfer_conn_healthy(const struct xfer *x)
{
	return x->healthy;
}

SSL *
xfer_conn_ssl(const struct xfer *x)
{
	return x->ssl;
}

void
xfer_conn_doubt(struct xfer *x)
{
	x->healthy = false;
}

enum xfer_result
xfer_conn_command(struct xfer *x, enum xfer_stage stage, const char *cmd,
    struct smtpc_reply *r, long timeout_ms)
{
	struct tlsc_info tlsinfo = x->st->tlsinfo;
	enum xfer_result xr;

	/* A new step: only what the session set-up learnt (TLS) carries over. */
	memset(x->st, 0, sizeof(*x->st));
	x->st->tlsinfo = tlsinfo;
	x->st->stage = stage;
	x->st->tls = x->ssl != NULL;
	if (!x->healthy)
		return xfer_fail(x, XFER_LOST, "connection already unusable");
	if ((xr = xfer_command(x, cmd, r, timeout_ms)) != XFER_OK)
		return xr;
	if (r->code == 421)
		x->healthy = false;
	x->st->reply = *r;
	x->st->have_reply = true;
	return XFER_OK;
}

enum xfer_result
xfer_conn_write(struct xfer *x, const void *buf, size_t len)
{
	enum netio_result nr;

	x->st->stage = XFER_AT_BODY;
	x->st->body_started = true;
	x->st->have_reply = false;      /* the 354 decided nothing */
	nr = netio_write(&x->io, buf, len, monotime_ms() + x->route->timeouts.data_block);
	return nr == NETIO_OK ? XFER_OK : xfer_io_fail(x, nr);
}

enum xfer_result
xfer_conn_end_data(struct xfer *x, struct smtpc_reply *r)
{
	enum xfer_result xr;

	x->st->stage = XFER_AT_DOT;
	x->st->have_reply = false;
	/*
	 * The server must stay silent until it has the final dot: anything
	 * already waiting is out of sequence (and could pass for the reply).
	 */
	if (netio_pending(&x->io) > 0) {
		x->healthy = false;
		return xfer_fail(x, XFER_PROTOCOL, "protocol error: the server sent data before the "
		    "end of the message");
	}
	if ((xr = xfer_send(x, ".\r\n", 3, x->route->timeouts.data_block)) != XFER_OK ||
	    (xr = xfer_read_reply(x, r, x->route->timeouts.data_done)) != XFER_OK)
		return xr;
	if (r->code == 421)
		x->healthy = false;
	x->st->reply = *r;
	x->st->have_reply = true;
	return XFER_OK;
}

void
xfer_conn_close(struct xfer *x)
{
	if (x == NULL)
		return;
	xfer_quit(x);
	free(x);
}
