/*
 * lmtpd - the LMTP server side of hoprelayd, relaying each command to the
 * next hop.  See lmtpd.h.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "esc.h"
#include "lmtpd.h"
#include "log.h"
#include "monotime.h"
#include "netio.h"
#include "outcome.h"
#include "smtpc.h"

#define LMTPD_STR2(x) #x
#define LMTPD_STR(x) LMTPD_STR2(x)
#define LMTPD_IN 16384
#define LMTPD_OUT 8192

struct lmtpd {
	int fd;
	const struct lmtpd_params *p;
	const struct lmtpd_ops *ops;
	bool dead;                      /* the MTA side failed: stop */
	bool timedout;                  /* ... because a deadline passed */
	long long deadline;             /* of the read under way (monotime_ms) */
	const char *waiting;            /* what for, for the log */
	bool lhlo;
	int errors;
	int junk;                       /* NOOP, RSET, LHLO, XFORWARD since the last MAIL */
	size_t off, len;
	char in[LMTPD_IN];
	size_t olen;
	char out[LMTPD_OUT];
	/* The transaction. */
	struct lmtpd_gen *gen;
	size_t route, hop;
	char hopname[ROUTE_HOST_MAX + 16];
	struct xfer *x;
	bool reused;
	bool have_mail;
	struct outcome lost;            /* why the hop connection went away mid-transaction */
	bool smtputf8, body8;
	bool forbid8;                   /* the hop lacks 8BITMIME: stop at an 8-bit byte */
	bool stopped8;                  /* ... and one came: the transfer was abandoned */
	bool toobig;                    /* over max_size: the transfer was abandoned */
	bool cr_end;                    /* the last piece of DATA ended with a CR */
	long long received;             /* bytes of this message from the MTA */
	long size;
	char **rcpts;                   /* accepted by the hop */
	size_t nrcpts;
	long long started;
	char qid[32];                   /* Postfix's queue id (XFORWARD IDENT), else "L<id>" */
	char conn[16];                  /* for the log: new, reused, resumed, "-" */
	char tls[128];
};

/* ---- the MTA side: buffered lines, replies ---- */

static bool
lmtpd_flush(struct lmtpd *d)
{
	/* One deadline for all of it: a peer reading a byte at a time does not renew it. */
	long long deadline = monotime_ms() + d->p->timeout_ms;
	size_t done = 0;

	while (done < d->olen && !d->dead) {
		ssize_t w = send(d->fd, d->out + done, d->olen - done, MSG_NOSIGNAL);

		if (w > 0)
			done += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			d->dead = true;
		else if (netio_wait(d->fd, POLLOUT, deadline) <= 0) {
			d->dead = d->timedout = true;
			d->waiting = "writing replies";
		}
	}
	d->olen = 0;
	return !d->dead;
}

static void __attribute__((format(printf, 2, 3)))
lmtpd_reply(struct lmtpd *d, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	memcpy(line + n, "\r\n", 2);
	n += 2;
	if (d->olen + (size_t)n > sizeof(d->out))
		lmtpd_flush(d);
	memcpy(d->out + d->olen, line, (size_t)n);
	d->olen += (size_t)n;
}

/*
 * Read more input.  Replies go out first, but only now, when the MTA has
 * nothing more for us: pipelined commands get their replies in one write.
 */
static bool
lmtpd_fill(struct lmtpd *d)
{
	if (!lmtpd_flush(d))
		return false;
	if (d->off > 0) {
		memmove(d->in, d->in + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	for (;;) {
		ssize_t r = read(d->fd, d->in + d->len, sizeof(d->in) - d->len);

		if (r > 0) {
			d->len += (size_t)r;
			return true;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			d->dead = true;
			return false;
		}
		/* The deadline of the whole line or piece, not of this read: a trickle does not renew it. */
		if (netio_wait(d->fd, POLLIN, d->deadline) <= 0) {
			d->dead = d->timedout = true;
			return false;
		}
	}
}

/*
 * The next piece of input: a whole line with its LF, or, for a line longer
 * than the buffer, the part that fits (*whole false).  NULL when the MTA
 * is gone.
 */
static const char *
lmtpd_piece(struct lmtpd *d, size_t *len, bool *whole)
{
	for (;;) {
		char *nl = memchr(d->in + d->off, '\n', d->len - d->off);
		const char *p = d->in + d->off;

		if (nl != NULL || (d->off == 0 && d->len == sizeof(d->in))) {
			*whole = nl != NULL;
			*len = nl != NULL ? (size_t)(nl - p) + 1 : d->len;
			d->off += *len;
			return p;
		}
		if (!lmtpd_fill(d))
			return NULL;
	}
}

enum lmtpd_line {
	LMTPD_LINE_OK,
	LMTPD_LINE_LONG,      /* over the limit, ended: 500, the session goes on */
	LMTPD_LINE_CTRL,      /* a NUL, bare CR or other control character: 500, goes on */
	LMTPD_LINE_CUT,       /* no line end within LMTPD_CMD_CUT bytes: 421, closed */
	LMTPD_LINE_GONE       /* the MTA closed or timed out */
};

/*
 * A command line without its CRLF (or bare LF), read within timeout_ms of
 * the start of the wait for it.  A line over `size` is read to its end and
 * dropped; one that goes on past LMTPD_CMD_CUT is not read further: no
 * client that speaks LMTP sends it, and reading on would let a peer keep
 * the session busy for as long as it likes.
 */
static enum lmtpd_line
lmtpd_command(struct lmtpd *d, char *cmd, size_t size)
{
	size_t len, total = 0;
	bool whole = false, toolong = false;

	d->deadline = monotime_ms() + d->p->timeout_ms;
	d->waiting = "a command";
	while (!whole) {
		const char *p = lmtpd_piece(d, &len, &whole);

		if (p == NULL)
			return LMTPD_LINE_GONE;
		if (total + len >= size)
			toolong = true;
		else
			memcpy(cmd + total, p, len);
		total += len;
		if (!whole && total >= LMTPD_CMD_CUT)
			return LMTPD_LINE_CUT;
	}
	if (toolong)
		return LMTPD_LINE_LONG;
	/* One line end only: a CR before it, or anywhere, is a control character. */
	total--;
	if (total > 0 && cmd[total - 1] == '\r')
		total--;
	cmd[total] = '\0';
	/*
	 * A NUL would hide the rest of the line from every string function; a
	 * bare CR or any other control character has no place in a command
	 * (RFC 5321 section 4.1.1) and could read as a line end further on.
	 */
	for (size_t i = 0; i < total; i++)
		if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f)
			return LMTPD_LINE_CTRL;
	return LMTPD_LINE_OK;
}

/* ---- replies derived from the hop ---- */

/* The hop's reply, as ours: code, enhanced status, text on one line. */
static void
lmtpd_mirror(struct lmtpd *d, const struct smtpc_reply *r)
{
	char one[SMTPC_TEXT_MAX + 8], status[16];
	const char *text;
	int code = r->code == 421 ? 451 : r->code;   /* the hop closes, not us */

	smtpc_reply_status(r, status, sizeof(status));
	if (code == 451 && status[0] != '4')
		status[0] = '4';
	smtpc_reply_oneline(r, one, sizeof(one));
	text = one + (strlen(one) > 4 ? 4 : strlen(one));
	if (r->enhanced[0] != '\0' && strncmp(text, r->enhanced, strlen(r->enhanced)) == 0)
		text += strlen(r->enhanced);
	text += strspn(text, " ");
	lmtpd_reply(d, "%03d %s %.400s", code, status, text);
}

/* An outcome (no usable reply from the hop) as a reply line. */
static void
lmtpd_outcome_reply(struct lmtpd *d, const struct outcome *o)
{
	const char *code = o->status[0] == '5' ? (strcmp(o->status, "5.3.4") == 0 ? "552" : "554") :
	    "451";

	lmtpd_reply(d, "%s %s %.400s", code, o->status, o->text);
}

/* What the log says of the hop connection; kept when the connection is lost. */
static void
lmtpd_note_conn(struct lmtpd *d)
{
	const struct xfer_status *st = xfer_conn_status(d->x);

	snprintf(d->conn, sizeof(d->conn), "%s", d->reused ? "reused" : st->tlsinfo.resumed ?
	    "resumed" : "new");
	if (st->tls)
		snprintf(d->tls, sizeof(d->tls), "tls=%s cipher=%s pin=%d", st->tlsinfo.version,
		    st->tlsinfo.cipher, st->tlsinfo.pin_index);
	else
		snprintf(d->tls, sizeof(d->tls), "tls=none");
}

static void
lmtpd_log(struct lmtpd *d, int prio, const char *rcpt, const char *result,
    const char *status, const char *what, const char *text)
{
	char to[600], esctext[SMTPC_TEXT_MAX + 8];
	long long ms = monotime_ms() - d->started;

	if (d->x != NULL)
		lmtpd_note_conn(d);
	esc_log(to, sizeof(to), rcpt);
	esc_log(esctext, sizeof(esctext), text);
	log_msg(prio, "%s: to=<%s> route=%s hop=%s result=%s status=%s conn=%s %s "
	    "delay=%lld.%02lld %s=\"%s\"", d->qid, to, d->p->route,
	    d->hopname[0] != '\0' ? d->hopname : "-", result, status, d->conn, d->tls,
	    ms / 1000, ms % 1000 / 10, what, esctext);
}

/* ---- the transaction ---- */

static void
lmtpd_end_transaction(struct lmtpd *d)
{
	if (d->x != NULL)
		hcache_put(d->gen->cache, d->route, d->hop, d->x);
	d->x = NULL;
	if (d->gen != NULL)
		d->ops->release(d->ops->arg, d->gen);
	d->gen = NULL;
	for (size_t i = 0; i < d->nrcpts; i++)
		free(d->rcpts[i]);
	free(d->rcpts);
	d->rcpts = NULL;
	d->nrcpts = 0;
	d->have_mail = false;
	d->hopname[0] = '\0';
	snprintf(d->qid, sizeof(d->qid), "L%lu", d->p->id);
	snprintf(d->conn, sizeof(d->conn), "-");
	snprintf(d->tls, sizeof(d->tls), "tls=none");
}

/* The hop connection broke: keep why, give it back (it will be closed). */
static void
lmtpd_hop_lost(struct lmtpd *d)
{
	lmtpd_note_conn(d);
	outcome_from_xfer(xfer_conn_status(d->x), d->hopname, &d->lost);
	if (d->lost.status[0] != '4')
		d->lost.status[0] = '4';
	xfer_conn_doubt(d->x);
	hcache_put(d->gen->cache, d->route, d->hop, d->x);
	d->x = NULL;
}

/* What the message needs that the hop lacks: a permanent outcome, as in pipe mode. */
static bool
lmtpd_hop_lacks(struct lmtpd *d, struct outcome *o)
{
	const struct smtpc_caps *caps = xfer_conn_caps(d->x);
	struct xfer_status st = {.result = XFER_OK, .stage = XFER_AT_MAIL};

	if (d->smtputf8 && !caps->smtputf8) {
		st.result = XFER_NEED_SMTPUTF8;
		snprintf(st.detail, sizeof(st.detail), "an envelope address needs SMTPUTF8, which "
		    "the server does not offer");
	} else if (caps->size_max > 0 && d->size > 0 && (unsigned long)d->size > caps->size_max) {
		st.result = XFER_TOO_BIG;
		snprintf(st.detail, sizeof(st.detail), "message size %ld exceeds the limit of %lu "
		    "the server announced", d->size, caps->size_max);
	}
	if (st.result == XFER_OK)
		return false;
	outcome_from_xfer(&st, d->hopname, o);
	return true;
}

/*
 * MAIL FROM on one hop: 1 accepted (d->x kept), 0 decided without it
 * (reply sent), -1 transient (try the next hop; *o says why).
 */
static int
lmtpd_mail_on_hop(struct lmtpd *d, const char *sender, struct outcome *o)
{
	struct xfer_status st;
	struct smtpc_reply r;
	struct smtpc_mail_params mp;
	char mailcmd[SMTPC_ADDR_MAX + 64];

	route_hop_format(&d->gen->conf->routes[d->route].hops[d->hop], d->hopname,
	    sizeof(d->hopname));
	snprintf(d->conn, sizeof(d->conn), "-");
	snprintf(d->tls, sizeof(d->tls), "tls=none");
	d->x = hcache_get(d->gen->cache, d->route, d->hop, &st, &d->reused);
	if (d->x == NULL) {
		outcome_from_xfer(&st, d->hopname, o);
		return -1;
	}
	if (lmtpd_hop_lacks(d, o)) {
		lmtpd_outcome_reply(d, o);
		return 0;
	}
	mp.size = xfer_conn_caps(d->x)->size ? d->size : -1;
	/*
	 * BODY=8BITMIME is what the MTA declared, not what the message holds:
	 * to a hop without 8BITMIME it goes as 7-bit, and the transfer is
	 * abandoned at the first 8-bit byte (as hoprelay does, msgin.h).
	 */
	mp.body8 = d->body8 && xfer_conn_caps(d->x)->eightbitmime;
	d->forbid8 = d->body8 && !xfer_conn_caps(d->x)->eightbitmime;
	d->stopped8 = false;
	mp.smtputf8 = d->smtputf8;
	if (smtpc_cmd_mail(mailcmd, sizeof(mailcmd), sender, &mp) == 0) {
		lmtpd_reply(d, "553 5.1.7 sender address too long");
		return 0;
	}
	if (xfer_conn_command(d->x, XFER_AT_MAIL, mailcmd, &r,
	    d->gen->conf->routes[d->route].timeouts.command) != XFER_OK) {
		outcome_from_xfer(xfer_conn_status(d->x), d->hopname, o);
		lmtpd_hop_lost(d);
		return -1;
	}
	if (smtpc_reply_class(&r) == 2) {
		lmtpd_mirror(d, &r);
		return 1;
	}
	outcome_from_xfer(&(struct xfer_status){.result = smtpc_reply_class(&r) == 5 ? XFER_PERM :
	    XFER_TEMP, .stage = XFER_AT_MAIL, .have_reply = true, .reply = r}, d->hopname, o);
	if (smtpc_reply_class(&r) == 5) {
		lmtpd_mirror(d, &r);
		return 0;
	}
	return -1;
}

/* Try the hops in order; the first failure's status leads (as hoprelay). */
static void
lmtpd_mail_relay(struct lmtpd *d, const char *sender)
{
	const struct route *r = &d->gen->conf->routes[d->route];
	struct outcome o, final;

	for (d->hop = 0; d->hop < r->nhops; d->hop++) {
		int rc = lmtpd_mail_on_hop(d, sender, &o);

		if (rc == 1) {
			d->have_mail = true;
			return;
		}
		if (rc == 0) {
			lmtpd_log(d, LOG_NOTICE, sender, "refused", o.status, "reason", o.text);
			break;
		}
		lmtpd_log(d, LOG_WARNING, sender, "deferred", o.status, "reason", o.text);
		if (d->hop == 0)
			final = o;
		else
			outcome_append(&final, &o);
		if (d->x != NULL)
			hcache_put(d->gen->cache, d->route, d->hop, d->x);
		d->x = NULL;
		if (d->hop + 1 == r->nhops)
			lmtpd_outcome_reply(d, &final);
	}
	if (r->nhops == 0)
		lmtpd_reply(d, "451 4.3.5 route %s has no hops", r->name);
	lmtpd_end_transaction(d);
}

/* ---- commands ---- */

/*
 * "<addr>" at `s`: the address into `out` (without brackets), the rest of
 * the line in *rest.  A quoted local part may hold '>'.  -1 when malformed.
 */
static int
lmtpd_path(const char *s, char *out, size_t outsz, const char **rest)
{
	bool quoted = false;
	size_t n = 0;

	s += strspn(s, " ");
	if (*s++ != '<')
		return -1;
	for (; *s != '\0' && (quoted || *s != '>'); s++) {
		if (n + 2 >= outsz)
			return -1;
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '\\' && quoted && s[1] != '\0')
			out[n++] = *s++;
		out[n++] = *s;
	}
	if (*s != '>')
		return -1;
	out[n] = '\0';
	*rest = s + 1;
	return 0;
}

/* MAIL FROM parameters: SIZE, BODY, SMTPUTF8 (what LHLO offered).  -1: unknown. */
static int
lmtpd_mail_params(struct lmtpd *d, const char *rest)
{
	char word[64];

	d->size = -1;
	d->body8 = d->smtputf8 = false;
	while (*(rest += strspn(rest, " ")) != '\0') {
		size_t n = strcspn(rest, " ");
		char *end;

		if (n >= sizeof(word))
			return -1;
		memcpy(word, rest, n);
		word[n] = '\0';
		rest += n;
		if (strncasecmp(word, "SIZE=", 5) == 0) {
			d->size = strtol(word + 5, &end, 10);
			if (end == word + 5 || *end != '\0' || d->size < 0)
				return -1;
		} else if (strcasecmp(word, "BODY=8BITMIME") == 0) {
			d->body8 = true;
		} else if (strcasecmp(word, "SMTPUTF8") == 0) {
			d->smtputf8 = true;
		} else if (strcasecmp(word, "BODY=7BIT") != 0) {
			return -1;
		}
	}
	return 0;
}

static void
lmtpd_cmd_mail(struct lmtpd *d, const char *args)
{
	char sender[SMTPC_ADDR_MAX + 1];
	const char *rest;
	enum smtpc_addr a;

	if (d->have_mail) {
		lmtpd_reply(d, "503 5.5.1 nested MAIL command");
		return;
	}
	if (lmtpd_path(args, sender, sizeof(sender), &rest) != 0 ||
	    (a = smtpc_addr_check(sender, true)) == SMTPC_ADDR_BAD) {
		lmtpd_reply(d, "553 5.1.7 bad sender address syntax");
		return;
	}
	if (lmtpd_mail_params(d, rest) != 0) {
		lmtpd_reply(d, "555 5.5.4 unsupported MAIL FROM parameter");
		return;
	}
	if (d->p->max_size > 0 && d->size > d->p->max_size) {
		lmtpd_reply(d, "552 5.3.4 message size %ld exceeds the limit of %ld", d->size,
		    d->p->max_size);
		return;
	}
	d->junk = 0;
	d->smtputf8 = d->smtputf8 || a == SMTPC_ADDR_UTF8;
	d->started = monotime_ms();
	d->gen = d->ops->acquire(d->ops->arg);
	if (d->gen == NULL || route_find(d->gen->conf, d->p->route) == NULL ||
	    strcasecmp(route_find(d->gen->conf, d->p->route)->name, d->p->route) != 0) {
		lmtpd_reply(d, "451 4.3.5 no route %s in the configuration", d->p->route);
		lmtpd_end_transaction(d);
		return;
	}
	d->route = (size_t)(route_find(d->gen->conf, d->p->route) - d->gen->conf->routes);
	lmtpd_mail_relay(d, sender);
}

static void
lmtpd_cmd_rcpt(struct lmtpd *d, const char *args)
{
	char rcpt[SMTPC_ADDR_MAX + 1], cmd[SMTPC_ADDR_MAX + 32], **more;
	const char *rest;
	struct smtpc_reply r;
	enum smtpc_addr a;

	if (!d->have_mail) {
		lmtpd_reply(d, "503 5.5.1 need MAIL command");
		d->errors++;
		return;
	}
	if (lmtpd_path(args, rcpt, sizeof(rcpt), &rest) != 0 ||
	    (a = smtpc_addr_check(rcpt, false)) == SMTPC_ADDR_BAD) {
		lmtpd_reply(d, "553 5.1.3 bad recipient address syntax");
		return;
	}
	if (*(rest + strspn(rest, " ")) != '\0') {
		lmtpd_reply(d, "555 5.5.4 unsupported RCPT TO parameter");
		return;
	}
	if (a == SMTPC_ADDR_UTF8 && !d->smtputf8) {
		lmtpd_reply(d, "553 5.6.7 a UTF-8 address needs MAIL FROM ... SMTPUTF8");
		return;
	}
	if (d->nrcpts >= (size_t)d->p->max_rcpts) {
		lmtpd_reply(d, "452 4.5.3 too many recipients");
		return;
	}
	if (d->x == NULL) {
		lmtpd_outcome_reply(d, &d->lost);
		return;
	}
	/* Room for the note first: once the hop said yes, the MTA must hear it. */
	if ((more = realloc(d->rcpts, (d->nrcpts + 1) * sizeof(*more))) == NULL ||
	    (d->rcpts = more, more[d->nrcpts] = strdup(rcpt)) == NULL) {
		lmtpd_reply(d, "452 4.3.0 out of memory");
		return;
	}
	smtpc_cmd_rcpt(cmd, sizeof(cmd), rcpt);
	if (xfer_conn_command(d->x, XFER_AT_RCPT, cmd, &r,
	    d->gen->conf->routes[d->route].timeouts.command) != XFER_OK) {
		free(more[d->nrcpts]);
		lmtpd_hop_lost(d);
		lmtpd_log(d, LOG_WARNING, rcpt, "deferred", d->lost.status, "reason", d->lost.text);
		lmtpd_outcome_reply(d, &d->lost);
		return;
	}
	lmtpd_mirror(d, &r);
	if (smtpc_reply_class(&r) != 2) {
		char one[SMTPC_TEXT_MAX + 8], status[16];

		free(more[d->nrcpts]);
		lmtpd_log(d, LOG_NOTICE, rcpt, smtpc_reply_class(&r) == 5 ? "bounced" : "deferred",
		    smtpc_reply_status(&r, status, sizeof(status)), "reply",
		    smtpc_reply_oneline(&r, one, sizeof(one)));
		return;
	}
	d->nrcpts++;
}

static bool
lmtpd_has8(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* Give up the transfer before its end: closing before the dot makes the hop discard it. */
static void
lmtpd_abandon(struct lmtpd *d)
{
	xfer_conn_doubt(d->x);
	hcache_put(d->gen->cache, d->route, d->hop, d->x);
	d->x = NULL;
}

/*
 * Relay the message data: each piece from the MTA goes to the hop as it
 * comes (line ends made CRLF, dots left doubled as they arrived).  When
 * the hop fails, or the message is over max_size, the rest is read and
 * dropped.  False when the MTA side failed before its final dot.
 *
 * The end is "." alone on a line ended by CRLF or a bare LF: the same
 * lines the hop will see as the end, since a bare LF goes on as CRLF.  A
 * bare CR inside a line goes on as it is (Postfix, the usual hop, does
 * not take it for a line end).
 */
static bool
lmtpd_stream(struct lmtpd *d)
{
	long long data_end = monotime_ms() + d->p->data_timeout_ms;
	bool bol = true, whole;
	size_t len;
	const char *p;

	d->received = 0;
	d->cr_end = false;
	d->waiting = "message data";
	for (;;) {
		long long now = monotime_ms();
		bool bare_lf;

		/* Each piece within timeout_ms, the whole message within data_timeout_ms. */
		d->deadline = now + d->p->timeout_ms < data_end ? now + d->p->timeout_ms : data_end;
		if ((p = lmtpd_piece(d, &len, &whole)) == NULL)
			return false;
		if (bol && whole && (strncmp(p, ".\r\n", len) == 0 || strncmp(p, ".\n", len) == 0) &&
		    (len == 3 || len == 2))
			return true;
		bol = whole;
		/* A CRLF split between two pieces is a CRLF, not a bare LF. */
		bare_lf = whole && (len >= 2 ? p[len - 2] != '\r' : !d->cr_end);
		d->cr_end = !whole && p[len - 1] == '\r';
		d->received += (long long)len;
		if (d->x == NULL)
			continue;
		if (d->p->max_size > 0 && d->received > d->p->max_size) {
			d->toobig = true;
			lmtpd_abandon(d);
			continue;
		}
		if (d->forbid8 && lmtpd_has8(p, len)) {
			d->stopped8 = true;
			lmtpd_abandon(d);
			continue;
		}
		if (bare_lf) {
			/* A bare LF: the wire wants CRLF. */
			if (xfer_conn_write(d->x, p, len - 1) != XFER_OK ||
			    xfer_conn_write(d->x, "\r\n", 2) != XFER_OK)
				lmtpd_hop_lost(d);
		} else if (xfer_conn_write(d->x, p, len) != XFER_OK) {
			lmtpd_hop_lost(d);
		}
	}
}

/* One reply per accepted recipient (RFC 2033 section 4.2), and one log line each. */
static void
lmtpd_per_rcpt(struct lmtpd *d, const struct smtpc_reply *r, const struct outcome *o)
{
	char one[SMTPC_TEXT_MAX + 8], status[16];

	for (size_t i = 0; i < d->nrcpts; i++) {
		if (r != NULL) {
			int cls = smtpc_reply_class(r);

			lmtpd_mirror(d, r);
			lmtpd_log(d, cls == 2 ? LOG_INFO : LOG_WARNING, d->rcpts[i], cls == 2 ? "sent" :
			    cls == 5 ? "bounced" : "deferred", smtpc_reply_status(r, status,
			    sizeof(status)), "reply", smtpc_reply_oneline(r, one, sizeof(one)));
		} else {
			lmtpd_outcome_reply(d, o);
			lmtpd_log(d, LOG_WARNING, d->rcpts[i], o->status[0] == '5' ? "bounced" :
			    "deferred", o->status, "reason", o->text);
		}
	}
}

static void
lmtpd_cmd_data(struct lmtpd *d)
{
	struct smtpc_reply r;

	if (!d->have_mail) {
		lmtpd_reply(d, "503 5.5.1 need MAIL command");
		d->errors++;
		return;
	}
	if (d->nrcpts == 0) {
		lmtpd_reply(d, "503 5.5.1 no valid recipients");
		d->errors++;
		lmtpd_end_transaction(d);
		return;
	}
	if (d->x == NULL) {
		lmtpd_outcome_reply(d, &d->lost);
		lmtpd_end_transaction(d);
		return;
	}
	if (xfer_conn_command(d->x, XFER_AT_DATA, "DATA\r\n", &r,
	    d->gen->conf->routes[d->route].timeouts.data_init) != XFER_OK) {
		lmtpd_hop_lost(d);
		lmtpd_outcome_reply(d, &d->lost);
		lmtpd_end_transaction(d);
		return;
	}
	if (r.code != 354) {
		if (smtpc_reply_class(&r) == 2)
			xfer_conn_doubt(d->x);      /* out of sequence */
		lmtpd_mirror(d, &r);
		lmtpd_end_transaction(d);
		return;
	}
	lmtpd_reply(d, "354 2.0.0 go ahead, end with <CRLF>.<CRLF>");
	d->toobig = false;
	if (!lmtpd_stream(d)) {
		/* The MTA is gone before its dot: the hop must not deliver a part. */
		if (d->x != NULL)
			xfer_conn_doubt(d->x);
		log_warning("%s: the MTA %s before the final dot (%lld bytes in): nothing relayed, "
		    "nothing acknowledged", d->qid, d->timedout ? "timed out" : "went away",
		    d->received);
		lmtpd_end_transaction(d);
		return;
	}
	if (d->x != NULL && xfer_conn_end_data(d->x, &r) != XFER_OK)
		lmtpd_hop_lost(d);
	if (d->x != NULL && smtpc_reply_class(&r) != 2 && smtpc_reply_class(&r) != 4 &&
	    smtpc_reply_class(&r) != 5) {
		xfer_conn_doubt(d->x);
		lmtpd_hop_lost(d);
	}
	if (d->toobig) {
		struct xfer_status st = {.result = XFER_TOO_BIG, .stage = XFER_AT_BODY};

		snprintf(st.detail, sizeof(st.detail), "message data over the limit of %ld bytes "
		    "(transfer abandoned before its end)", d->p->max_size);
		outcome_from_xfer(&st, d->hopname, &d->lost);
	} else if (d->stopped8) {
		struct xfer_status st = {.result = XFER_NEED_8BITMIME, .stage = XFER_AT_BODY};

		snprintf(st.detail, sizeof(st.detail), "the message has 8-bit data and the server "
		    "does not offer 8BITMIME (transfer abandoned before its end)");
		outcome_from_xfer(&st, d->hopname, &d->lost);
	}
	lmtpd_per_rcpt(d, d->x != NULL ? &r : NULL, &d->lost);
	/*
	 * The replies go out now.  If the MTA is gone, the hop has (or has
	 * refused) the message and the MTA heard nothing: it will send it
	 * again (RFC 1047's duplicate), never lose it.
	 */
	if (!lmtpd_flush(d))
		log_warning("%s: the MTA left before reading the %zu replies to its final dot: "
		    "the hop's decision stands, the MTA will retry (a possible duplicate)", d->qid,
		    d->nrcpts);
	lmtpd_end_transaction(d);
}

static void
lmtpd_cmd_lhlo(struct lmtpd *d, const char *args)
{
	if (*(args + strspn(args, " ")) == '\0') {
		lmtpd_reply(d, "501 5.5.4 LHLO needs a name");
		return;
	}
	lmtpd_end_transaction(d);
	d->lhlo = true;
	lmtpd_reply(d, "250-%s", d->p->myname);
	lmtpd_reply(d, "250-PIPELINING");
	lmtpd_reply(d, "250-ENHANCEDSTATUSCODES");
	lmtpd_reply(d, "250-8BITMIME");
	lmtpd_reply(d, "250-SMTPUTF8");
	lmtpd_reply(d, "250-XFORWARD IDENT");
	if (d->p->max_size > 0)
		lmtpd_reply(d, "250 SIZE %ld", d->p->max_size);
	else
		lmtpd_reply(d, "250 SIZE");
}

/*
 * XFORWARD IDENT=<queue id> (Postfix's lmtp_send_xforward_command): the
 * log lines of the next transaction carry the MTA's queue id.  Nothing else
 * is taken from it; a value that is not a plain queue id is ignored.
 */
static void
lmtpd_cmd_xforward(struct lmtpd *d, const char *args)
{
	const char *v;
	size_t n;

	if (d->have_mail) {
		lmtpd_reply(d, "503 5.5.1 XFORWARD inside a transaction");
		return;
	}
	for (v = args; (v = strstr(v, "IDENT=")) != NULL; v += 6) {
		if (v != args && v[-1] != ' ')
			continue;
		n = strspn(v + 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		if (n > 0 && n < sizeof(d->qid) && (v[6 + n] == ' ' || v[6 + n] == '\0'))
			snprintf(d->qid, sizeof(d->qid), "%.*s", (int)n, v + 6);
		break;
	}
	lmtpd_reply(d, "250 2.0.0 ok");
}

/* Does `line` start with command `word` (then end or `sep`)? *args gets the rest. */
static bool
lmtpd_is(const char *line, const char *word, const char **args)
{
	size_t n = strlen(word);

	if (strncasecmp(line, word, n) != 0)
		return false;
	if (line[n] != '\0' && line[n] != ' ' && word[n - 1] != ':')
		return false;
	*args = line + n;
	return true;
}

/* One command; false when the session ends. */
static bool
lmtpd_dispatch(struct lmtpd *d, const char *line)
{
	const char *args;

	/* Harmless one by one; endless, a way to hold a session without sending mail. */
	if ((lmtpd_is(line, "LHLO", &args) || lmtpd_is(line, "NOOP", &args) ||
	    lmtpd_is(line, "RSET", &args) || lmtpd_is(line, "XFORWARD", &args)) &&
	    ++d->junk > LMTPD_MAX_JUNK)
		d->errors++;
	if (lmtpd_is(line, "LHLO", &args))
		lmtpd_cmd_lhlo(d, args);
	else if (lmtpd_is(line, "QUIT", &args)) {
		lmtpd_reply(d, "221 2.0.0 bye");
		return false;
	} else if (lmtpd_is(line, "XFORWARD", &args))
		lmtpd_cmd_xforward(d, args);
	else if (lmtpd_is(line, "NOOP", &args))
		lmtpd_reply(d, "250 2.0.0 ok");
	else if (lmtpd_is(line, "RSET", &args)) {
		lmtpd_end_transaction(d);
		lmtpd_reply(d, "250 2.0.0 ok");
	} else if (!d->lhlo && (lmtpd_is(line, "MAIL FROM:", &args) ||
	    lmtpd_is(line, "RCPT TO:", &args) || lmtpd_is(line, "DATA", &args))) {
		lmtpd_reply(d, "503 5.5.1 send LHLO first");
		d->errors++;
	} else if (lmtpd_is(line, "MAIL FROM:", &args))
		lmtpd_cmd_mail(d, args);
	else if (lmtpd_is(line, "RCPT TO:", &args))
		lmtpd_cmd_rcpt(d, args);
	else if (lmtpd_is(line, "DATA", &args) && *args == '\0')
		lmtpd_cmd_data(d);
	else if (lmtpd_is(line, "HELO", &args) || lmtpd_is(line, "EHLO", &args)) {
		lmtpd_reply(d, "500 5.5.1 this is LMTP: use LHLO");
		d->errors++;
	} else {
		lmtpd_reply(d, "502 5.5.2 command not recognized");
		d->errors++;
	}
	return true;
}

/* Why the session ends early, said to the peer (if it still reads) and in the log. */
static void
lmtpd_close421(struct lmtpd *d, const char *status, const char *why)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "421 %s %s: %s, closing\r\n", status, d->p->myname,
	    why);

	d->olen = 0;
	if (n > 0)
		(void)!send(d->fd, line, (size_t)n > sizeof(line) ? sizeof(line) : (size_t)n,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	log_warning("%s: session closed with 421 %s: %s", d->qid, status, why);
}

void
lmtpd_session(int fd, const struct lmtpd_params *p, const struct lmtpd_ops *ops)
{
	struct lmtpd *d = calloc(1, sizeof(*d));
	char cmd[LMTPD_CMD_MAX], why[128];
	enum lmtpd_line got;

	if (d == NULL)
		return;
	d->fd = fd;
	d->p = p;
	d->ops = ops;
	snprintf(d->qid, sizeof(d->qid), "L%lu", p->id);
	snprintf(d->conn, sizeof(d->conn), "-");
	snprintf(d->tls, sizeof(d->tls), "tls=none");
	lmtpd_reply(d, "220 %s LMTP hoprelayd", p->myname);
	while (!d->dead && (got = lmtpd_command(d, cmd, sizeof(cmd))) != LMTPD_LINE_GONE) {
		if (got == LMTPD_LINE_CUT) {
			lmtpd_close421(d, "4.7.0", "command line too long (no line end in "
			    LMTPD_STR(LMTPD_CMD_CUT) " bytes)");
			break;
		}
		if (got == LMTPD_LINE_LONG || got == LMTPD_LINE_CTRL) {
			lmtpd_reply(d, got == LMTPD_LINE_LONG ? "500 5.5.2 line too long" :
			    "500 5.5.2 NUL or control character in the command line");
			d->errors++;
		} else if (!lmtpd_dispatch(d, cmd)) {
			break;
		}
		if (d->errors >= LMTPD_MAX_ERRORS) {
			lmtpd_reply(d, "421 4.7.0 too many errors");
			log_warning("%s: session closed with 421 4.7.0: too many errors (%d)", d->qid,
			    d->errors);
			break;
		}
	}
	if (d->timedout) {
		snprintf(why, sizeof(why), "timeout waiting for %s", d->waiting != NULL ?
		    d->waiting : "the MTA");
		lmtpd_close421(d, "4.4.2", why);
	}
	lmtpd_flush(d);
	lmtpd_end_transaction(d);
	free(d);
}
