/*
 * outcome - attempt results to sysexits codes and RFC 3463 status lines.
 * See outcome.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "outcome.h"

/* Results decided without a server reply (or where it only adds detail). */
static const struct {
	enum xfer_result result;
	const char *status;
	int exit_code;
} outcome_table[] = {
	{XFER_CONNECT, "4.4.1", EX_TEMPFAIL},
	{XFER_LOST, "4.4.2", EX_TEMPFAIL},
	{XFER_PROTOCOL, "4.5.0", EX_TEMPFAIL},
	{XFER_HOP_REFUSED, "4.3.0", EX_TEMPFAIL},
	{XFER_NO_STARTTLS, "4.7.4", EX_TEMPFAIL},
	{XFER_TLS, "4.7.5", EX_TEMPFAIL},
	{XFER_TLS_AUTH, "4.7.5", EX_TEMPFAIL},
	{XFER_INJECTION, "4.7.0", EX_TEMPFAIL},
	{XFER_TEMP, "4.0.0", EX_TEMPFAIL},
	{XFER_PERM, "5.0.0", EX_UNAVAILABLE},
	{XFER_NEED_8BITMIME, "5.6.3", EX_DATAERR},
	{XFER_NEED_SMTPUTF8, "5.6.7", EX_DATAERR},
	{XFER_TOO_BIG, "5.3.4", EX_UNAVAILABLE},
	{XFER_INPUT, "4.3.0", EX_TEMPFAIL},
	{XFER_OK, "2.0.0", EX_OK},
};

static void
outcome_set(struct outcome *out, const char *status, int exit_code)
{
	snprintf(out->status, sizeof(out->status), "%s", status);
	out->exit_code = exit_code;
}

/*
 * The queue id the hop gave, from the usual reply shapes: Postfix "...
 * queued as ID", Exim "OK id=ID", Sendmail "2.0.0 ID Message accepted".
 * Only [A-Za-z0-9._-], at most `idsz` - 1 of them; "" when none is found.
 */
static void
outcome_queue_id(const char *reply, char *id, size_t idsz)
{
	const char *p = NULL, *q;
	size_t n = 0;

	if ((q = strstr(reply, "queued as ")) != NULL)
		p = q + strlen("queued as ");
	else if ((q = strstr(reply, "id=")) != NULL)
		p = q + strlen("id=");
	else if ((q = strstr(reply, " Message accepted")) != NULL) {
		for (p = q; p > reply && p[-1] != ' '; p--)
			;
	}
	id[0] = '\0';
	if (p == NULL)
		return;
	while (n + 1 < idsz && (p[n] == '.' || p[n] == '_' || p[n] == '-' ||
	    (p[n] >= '0' && p[n] <= '9') || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')))
		n++;
	/* An id cut short is no id: leave it out rather than show a wrong one. */
	if (n + 1 == idsz && p[n] != '\0' && p[n] != ' ' && p[n] != ')' && p[n] != ',')
		n = 0;
	memcpy(id, p, n);
	id[n] = '\0';
}

/*
 * Success.  Postfix's pipe(8) keeps only the first OUTCOME_SENT_MAX
 * characters of the line (status included), so it is short and whole:
 * "2.0.0 sent to 10.200.0.2:25 as 4XyZ1, TLSv1.3, pin 1" (pin N: which
 * configured pin matched).  The hop's full reply is in hoprelay's own log
 * line.  A hop name too long to fit is left out (that log line has it).
 */
#define OUTCOME_SENT_MAX 100

static void
outcome_sent(const struct xfer_status *st, const char *hop, const char *reply, struct outcome *out)
{
	char id[33], as[40] = "", tls[64] = ", no TLS";
	size_t room = OUTCOME_SENT_MAX - strlen(out->status) - 1;

	outcome_queue_id(reply, id, sizeof(id));
	if (id[0] != '\0')
		snprintf(as, sizeof(as), " as %s", id);
	if (st->tls && st->tlsinfo.pin_index > 0)
		snprintf(tls, sizeof(tls), ", %.16s, pin %d", st->tlsinfo.version, st->tlsinfo.pin_index);
	else if (st->tls)
		snprintf(tls, sizeof(tls), ", %.16s", st->tlsinfo.version);
	if ((size_t)snprintf(out->text, sizeof(out->text), "sent to %s%s%s", hop, as, tls) > room)
		snprintf(out->text, sizeof(out->text), "sent%s%s", as, tls);
}

/* A server reply decided it: its own status, in the class of the result. */
static void
outcome_from_reply(const struct xfer_status *st, const char *hop, struct outcome *out)
{
	char status[16], reply[SMTPC_TEXT_MAX + 8];

	smtpc_reply_status(&st->reply, status, sizeof(status));
	smtpc_reply_oneline(&st->reply, reply, sizeof(reply));
	if (out->exit_code == EX_TEMPFAIL && status[0] != '4')
		status[0] = '4';    /* a refusing hop must not bounce the message */
	if (st->result == XFER_PERM && st->stage == XFER_AT_RCPT && strncmp(status, "5.1.", 4) == 0)
		out->exit_code = EX_NOUSER;
	snprintf(out->status, sizeof(out->status), "%s", status);
	if (st->result == XFER_OK && out->exit_code == EX_OK) {
		outcome_sent(st, hop, reply, out);
		return;
	}
	snprintf(out->text, sizeof(out->text), "host %.100s said: %.700s (in reply to %s command)", hop,
	    reply, xfer_stage_name(st->stage));
}

/*
 * The text ends up on the MTA's status line (one line: a line break would
 * cut it) and in a quoted log field; some of it comes from the server.
 */
static void
outcome_sanitize(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"')
			*p = '?';
}

void
outcome_from_xfer(const struct xfer_status *st, const char *hop, struct outcome *out)
{
	memset(out, 0, sizeof(*out));
	outcome_set(out, "4.3.0", EX_TEMPFAIL);
	for (size_t i = 0; i < sizeof(outcome_table) / sizeof(outcome_table[0]); i++)
		if (outcome_table[i].result == st->result)
			outcome_set(out, outcome_table[i].status, outcome_table[i].exit_code);
	if (st->have_reply)
		outcome_from_reply(st, hop, out);
	else if (st->result == XFER_CONNECT)
		snprintf(out->text, sizeof(out->text), "connect to %s: %s", hop, st->detail);
	else
		snprintf(out->text, sizeof(out->text), "%s: %s", hop, st->detail);
	outcome_sanitize(out->text);
}

void
outcome_local(struct outcome *out, int exit_code, const char *status, const char *fmt, ...)
{
	va_list ap;

	memset(out, 0, sizeof(*out));
	outcome_set(out, status, exit_code);
	va_start(ap, fmt);
	vsnprintf(out->text, sizeof(out->text), fmt, ap);
	va_end(ap);
	outcome_sanitize(out->text);
}

bool
outcome_is_transient(const struct outcome *o)
{
	return o->exit_code == EX_TEMPFAIL;
}

void
outcome_append(struct outcome *first, const struct outcome *later)
{
	size_t have = strlen(first->text);

	snprintf(first->text + have, sizeof(first->text) - have, "; %s", later->text);
}

const char *
outcome_line(const struct outcome *o, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%s %s", o->status, o->text);
	return buf;
}

const char *
outcome_word(const struct outcome *o)
{
	if (o->exit_code == EX_OK)
		return "sent";
	return o->exit_code == EX_TEMPFAIL ? "deferred" : "bounced";
}
