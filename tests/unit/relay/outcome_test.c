/* Unit tests: exit codes and status lines for every attempt result (relay-transport/outcome.c). */
#include "config.h"

#include <string.h>
#include <sysexits.h>

#include "tests/unit/check.h"
#include "relay-transport/outcome.h"

static void
set_reply(struct xfer_status *st, const char *line)
{
	smtpc_reply_init(&st->reply);
	smtpc_reply_feed(&st->reply, line);
	st->have_reply = true;
}

static void
test_table(void)
{
	static const struct {
		enum xfer_result result;
		enum xfer_stage stage;
		const char *reply;     /* NULL: decided locally, detail "why" */
		int exit_code;
		const char *line;
	} cases[] = {
		{XFER_OK, XFER_AT_DOT, "250 2.0.0 Ok: queued as ABC", EX_OK, "2.0.0 sent to h:25 as ABC, no TLS"},
		{XFER_CONNECT, XFER_AT_CONNECT, NULL, EX_TEMPFAIL, "4.4.1 connect to h:25: why"},
		{XFER_LOST, XFER_AT_BODY, NULL, EX_TEMPFAIL, "4.4.2 h:25: why"},
		{XFER_PROTOCOL, XFER_AT_EHLO, NULL, EX_TEMPFAIL, "4.5.0 h:25: why"},
		{XFER_NO_STARTTLS, XFER_AT_EHLO, NULL, EX_TEMPFAIL, "4.7.4 h:25: why"},
		{XFER_TLS, XFER_AT_TLS, NULL, EX_TEMPFAIL, "4.7.5 h:25: why"},
		{XFER_TLS_AUTH, XFER_AT_TLS, NULL, EX_TEMPFAIL, "4.7.5 h:25: why"},
		{XFER_INJECTION, XFER_AT_STARTTLS, NULL, EX_TEMPFAIL, "4.7.0 h:25: why"},
		{XFER_INPUT, XFER_AT_BODY, NULL, EX_TEMPFAIL, "4.3.0 h:25: why"},
		{XFER_NEED_8BITMIME, XFER_AT_EHLO, NULL, EX_DATAERR, "5.6.3 h:25: why"},
		{XFER_NEED_SMTPUTF8, XFER_AT_EHLO, NULL, EX_DATAERR, "5.6.7 h:25: why"},
		{XFER_TOO_BIG, XFER_AT_EHLO, NULL, EX_UNAVAILABLE, "5.3.4 h:25: why"},
		/* Replies: the server's enhanced code leads. */
		{XFER_TEMP, XFER_AT_RCPT, "450 4.2.1 busy", EX_TEMPFAIL,
		    "4.2.1 host h:25 said: 450 4.2.1 busy (in reply to RCPT TO command)"},
		{XFER_TEMP, XFER_AT_MAIL, "421 closing", EX_TEMPFAIL,
		    "4.0.0 host h:25 said: 421 closing (in reply to MAIL FROM command)"},
		{XFER_PERM, XFER_AT_RCPT, "550 5.1.1 <b@x>: unknown", EX_NOUSER,
		    "5.1.1 host h:25 said: 550 5.1.1 <b@x>: unknown (in reply to RCPT TO command)"},
		{XFER_PERM, XFER_AT_RCPT, "550 5.7.1 relay denied", EX_UNAVAILABLE,
		    "5.7.1 host h:25 said: 550 5.7.1 relay denied (in reply to RCPT TO command)"},
		{XFER_PERM, XFER_AT_MAIL, "553 5.1.1 sender", EX_UNAVAILABLE,
		    "5.1.1 host h:25 said: 553 5.1.1 sender (in reply to MAIL FROM command)"},
		{XFER_PERM, XFER_AT_DOT, "554 5.7.1 content", EX_UNAVAILABLE,
		    "5.7.1 host h:25 said: 554 5.7.1 content (in reply to end of DATA command)"},
		{XFER_PERM, XFER_AT_DATA, "554 no valid recipients", EX_UNAVAILABLE,
		    "5.0.0 host h:25 said: 554 no valid recipients (in reply to DATA command)"},
		/* A hop refusing the session is transient even with a 5xx: never a 5.x.x line. */
		{XFER_HOP_REFUSED, XFER_AT_GREETING, "554 5.3.2 go away", EX_TEMPFAIL,
		    "4.3.2 host h:25 said: 554 5.3.2 go away (in reply to initial greeting command)"},
		{XFER_HOP_REFUSED, XFER_AT_EHLO, "502 unknown command", EX_TEMPFAIL,
		    "4.0.0 host h:25 said: 502 unknown command (in reply to EHLO command)"},
		{XFER_PROTOCOL, XFER_AT_DATA, "250 huh", EX_TEMPFAIL,
		    "4.0.0 host h:25 said: 250 huh (in reply to DATA command)"},
	};
	struct xfer_status st;
	struct outcome o;
	char line[1200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&st, 0, sizeof(st));
		st.result = cases[i].result;
		st.stage = cases[i].stage;
		snprintf(st.detail, sizeof(st.detail), "why");
		if (cases[i].reply != NULL)
			set_reply(&st, cases[i].reply);
		outcome_from_xfer(&st, "h:25", &o);
		CHECK(o.exit_code == cases[i].exit_code, "case %zu: exit %d, want %d", i, o.exit_code,
		    cases[i].exit_code);
		CHECK_STR(outcome_line(&o, line, sizeof(line)), cases[i].line, "case %zu", i);
		/* The class of the line always agrees with the exit status. */
		CHECK(line[0] == (o.exit_code == EX_OK ? '2' : o.exit_code == EX_TEMPFAIL ? '4' : '5'),
		    "case %zu: line class matches the exit status", i);
	}
}

/*
 * Success lines stay whole within pipe(8)'s 100 characters: the queue id
 * from each MTA's reply shape, TLS and the matching pin, hostile or long
 * replies and hop names.
 */
static void
test_sent(void)
{
	static const struct {
		const char *hop;
		const char *reply;
		int tls;            /* 0 none, 1 TLS, 2 TLS + pin 2 */
		const char *line;
	} cases[] = {
		{"10.200.0.2:25", "250 2.0.0 Ok: queued as 4XyZ1abC", 2, "2.0.0 sent to 10.200.0.2:25 as 4XyZ1abC, TLSv1.3, pin 2"},
		{"10.200.0.2:25", "250 2.0.0 5B1AbC012345 Message accepted for delivery", 1,
		    "2.0.0 sent to 10.200.0.2:25 as 5B1AbC012345, TLSv1.3"},
		{"[2001:db8::2]:25", "250 OK id=1rABCd-000123-Xy", 0, "2.0.0 sent to [2001:db8::2]:25 as 1rABCd-000123-Xy, no TLS"},
		{"h:25", "250 2.0.0 Ok", 2, "2.0.0 sent to h:25, TLSv1.3, pin 2"},
		/* A reply smuggling text into the id: only the id's characters. */
		{"h:25", "250 queued as AB\"C) (in reply to x", 0, "2.0.0 sent to h:25 as AB, no TLS"},
		/* An id too long to show whole is left out, never cut. */
		{"h:25", "250 queued as 0123456789012345678901234567890123456789", 0, "2.0.0 sent to h:25, no TLS"},
		/* A long host name does not fit: the line stays whole without it. */
		{"a-very-long-host-name-for-the-next-hop.vpn.internal.example.com.example.net.example.org:2525",
		    "250 2.0.0 Ok: queued as 4XyZ1", 2, "2.0.0 sent as 4XyZ1, TLSv1.3, pin 2"},
	};
	struct xfer_status st;
	struct outcome o;
	char line[1200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&st, 0, sizeof(st));
		st.result = XFER_OK;
		st.stage = XFER_AT_DOT;
		set_reply(&st, cases[i].reply);
		if (cases[i].tls > 0) {
			st.tls = true;
			snprintf(st.tlsinfo.version, sizeof(st.tlsinfo.version), "TLSv1.3");
			st.tlsinfo.pin_index = cases[i].tls == 2 ? 2 : 0;
		}
		outcome_from_xfer(&st, cases[i].hop, &o);
		CHECK(o.exit_code == EX_OK, "sent case %zu: exit 0", i);
		CHECK_STR(outcome_line(&o, line, sizeof(line)), cases[i].line, "sent case %zu", i);
		CHECK(strlen(line) <= 100, "sent case %zu: %zu characters, at most 100", i, strlen(line));
	}
}

static void
test_combined(void)
{
	struct xfer_status st;
	struct outcome first, later;
	char line[1200];

	memset(&st, 0, sizeof(st));
	st.result = XFER_TLS_AUTH;
	snprintf(st.detail, sizeof(st.detail), "pin mismatch");
	outcome_from_xfer(&st, "a:25", &first);
	st.result = XFER_CONNECT;
	snprintf(st.detail, sizeof(st.detail), "Connection refused\r\nInjected: x");
	outcome_from_xfer(&st, "b:25", &later);
	outcome_append(&first, &later);
	CHECK_STR(outcome_line(&first, line, sizeof(line)),
	    "4.7.5 a:25: pin mismatch; connect to b:25: Connection refused??Injected: x",
	    "first failure leads, line breaks from a detail neutralised");
	CHECK(outcome_is_transient(&first), "still transient");
	CHECK_STR(outcome_word(&first), "deferred", "log word");
	outcome_local(&first, EX_TEMPFAIL, "4.3.5", "bad \"config\"");
	CHECK_STR(outcome_line(&first, line, sizeof(line)), "4.3.5 bad ?config?", "local problem");
	CHECK(first.exit_code == EX_TEMPFAIL, "local problems are transient");
	outcome_local(&first, EX_DATAERR, "5.1.3", "bad recipient address syntax");
	CHECK(first.exit_code == EX_DATAERR && !outcome_is_transient(&first), "permanent");
	CHECK_STR(outcome_word(&first), "bounced", "log word");
}

int
main(void)
{
	test_table();
	test_sent();
	test_combined();
	return check_done("outcome_test");
}
