/* Unit tests: SMTP reply parsing, capabilities, commands, address checks (relay-transport/smtpc.c). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "relay-transport/smtpc.h"

/* Feed `lines` (NULL-terminated) into a reply; the last feed result. */
static enum smtpc_feed
feed_all(struct smtpc_reply *r, const char *const *lines)
{
	enum smtpc_feed f = SMTPC_BAD;

	smtpc_reply_init(r);
	for (size_t i = 0; lines[i] != NULL; i++) {
		f = smtpc_reply_feed(r, lines[i]);
		if (f != SMTPC_MORE)
			break;
	}
	return f;
}

static void
test_replies(void)
{
	static const struct {
		const char *lines[4];
		enum smtpc_feed want;
		int code;
		const char *enhanced, *oneline, *status;
	} cases[] = {
		{{"250 2.0.0 Ok: queued as 4Xb9Z1", NULL}, SMTPC_DONE, 250, "2.0.0",
		    "250 2.0.0 Ok: queued as 4Xb9Z1", "2.0.0"},
		{{"220 hop1 ESMTP", NULL}, SMTPC_DONE, 220, "", "220 hop1 ESMTP", "2.0.0"},
		{{"550-5.1.1 first line", "550-5.1.1 second", "550 5.1.1 third", NULL}, SMTPC_DONE, 550,
		    "5.1.1", "550 5.1.1 first line 5.1.1 second 5.1.1 third", "5.1.1"},
		{{"354", NULL}, SMTPC_DONE, 354, "", "354", "4.0.0"},
		{{"451 4.3.0 Error: queue file write error", NULL}, SMTPC_DONE, 451, "4.3.0",
		    "451 4.3.0 Error: queue file write error", "4.3.0"},
		/* An enhanced code of the wrong class is not believed. */
		{{"550 4.1.1 confused", NULL}, SMTPC_DONE, 550, "4.1.1", "550 4.1.1 confused", "5.0.0"},
		{{"421 4.4.2 timeout", NULL}, SMTPC_DONE, 421, "4.4.2", "421 4.4.2 timeout", "4.4.2"},
		/* Not an enhanced code: too many digits, or glued to text. */
		{{"550 5.1.1234 x", NULL}, SMTPC_DONE, 550, "", "550 5.1.1234 x", "5.0.0"},
		{{"550 5.1.1x", NULL}, SMTPC_DONE, 550, "", "550 5.1.1x", "5.0.0"},
		/* Control bytes and quotes never reach a status line or a log field. */
		{{"550 5.7.1 bad \"quote\"\x01\xc3\xa9", NULL}, SMTPC_DONE, 550, "5.7.1",
		    "550 5.7.1 bad ?quote????", "5.7.1"},
		{{"250-hop1", "250-PIPELINING", NULL}, SMTPC_MORE, 250, "", "250 hop1 PIPELINING", "2.0.0"},
		{{"250-hop1", "251 changed", NULL}, SMTPC_BAD, 250, "", NULL, NULL},
		{{"25 short", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
		{{"250x", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
		{{"hello", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
		{{"199 too low", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
		{{"600 too high", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
		{{"", NULL}, SMTPC_BAD, 0, "", NULL, NULL},
	};
	struct smtpc_reply r;
	char buf[SMTPC_TEXT_MAX + 8], st[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum smtpc_feed f = feed_all(&r, cases[i].lines);

		CHECK(f == cases[i].want, "reply %zu: feed result %d, want %d", i, f, cases[i].want);
		CHECK(r.code == cases[i].code, "reply %zu: code %d, want %d", i, r.code, cases[i].code);
		CHECK_STR(r.enhanced, cases[i].enhanced, "reply %zu: enhanced code", i);
		if (cases[i].oneline != NULL)
			CHECK_STR(smtpc_reply_oneline(&r, buf, sizeof(buf)), cases[i].oneline,
			    "reply %zu: one line", i);
		if (cases[i].status != NULL)
			CHECK_STR(smtpc_reply_status(&r, st, sizeof(st)), cases[i].status,
			    "reply %zu: status", i);
	}
	/* A finished reply takes no more lines. */
	feed_all(&r, (const char *const[]){"250 ok", NULL});
	CHECK(smtpc_reply_feed(&r, "250 again") == SMTPC_BAD, "line after the final one");
	/* A long multi-line reply within the limits is cut, not overflowed. */
	smtpc_reply_init(&r);
	for (int i = 0; i < SMTPC_REPLY_LINES_MAX - 1; i++)
		smtpc_reply_feed(&r, "250-0123456789012345678901234567890123456789");
	CHECK(smtpc_reply_feed(&r, "250 end") == SMTPC_DONE && strlen(r.text) < SMTPC_TEXT_MAX,
	    "long reply truncated");
}

/* A reply past its line or byte limit is refused, whatever comes next. */
static void
test_reply_limits(void)
{
	struct smtpc_reply r;
	char big[SMTPC_LINE_MAX];
	enum smtpc_feed f = SMTPC_MORE;
	int n = 0;

	smtpc_reply_init(&r);
	while (f == SMTPC_MORE && n < 10 * SMTPC_REPLY_LINES_MAX)
		f = smtpc_reply_feed(&r, n++ % 2 ? "220-x" : "220-");
	CHECK(f == SMTPC_TOOBIG && n == SMTPC_REPLY_LINES_MAX + 1,
	    "endless short continuation lines: TOOBIG at line %d (feed %d)", n, f);
	/* The final line right at the limit is still fine. */
	smtpc_reply_init(&r);
	for (n = 0; n < SMTPC_REPLY_LINES_MAX - 1; n++)
		smtpc_reply_feed(&r, "250-a");
	CHECK(smtpc_reply_feed(&r, "250 b") == SMTPC_DONE, "%d lines accepted",
	    SMTPC_REPLY_LINES_MAX);
	/* Long lines reach the byte limit first. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "250-", 4);
	smtpc_reply_init(&r);
	f = SMTPC_MORE;
	for (n = 0; f == SMTPC_MORE && n < SMTPC_REPLY_LINES_MAX; n++)
		f = smtpc_reply_feed(&r, big);
	CHECK(f == SMTPC_TOOBIG && (size_t)n * (sizeof(big) + 1) > SMTPC_REPLY_BYTES_MAX &&
	    (size_t)(n - 1) * (sizeof(big) + 1) <= SMTPC_REPLY_BYTES_MAX,
	    "long lines: TOOBIG after %d lines (%zu bytes each)", n, sizeof(big) + 1);
	/* A final line that crosses the byte limit is refused too. */
	smtpc_reply_init(&r);
	for (n = 0; (size_t)(n + 1) * (sizeof(big) + 1) <= SMTPC_REPLY_BYTES_MAX; n++)
		smtpc_reply_feed(&r, big);
	big[3] = ' ';
	CHECK(smtpc_reply_feed(&r, big) == SMTPC_TOOBIG, "a final line past the byte limit");
}

static void
test_caps(void)
{
	static const char *const postfix[] = {"250-hop1.test.invalid", "250-PIPELINING",
	    "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-STARTTLS", "250-ENHANCEDSTATUSCODES",
	    "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING", NULL};
	static const char *const bare[] = {"250-STARTTLS is the greeting here", "250-size",
	    "250-8bitmimeX", "250 starttls", NULL};
	struct smtpc_reply r;
	struct smtpc_caps c;

	feed_all(&r, postfix);
	smtpc_caps_parse(&r, &c);
	CHECK(c.pipelining && c.starttls && c.eightbitmime && c.smtputf8, "Postfix keywords");
	CHECK(c.size && c.size_max == 10240000, "SIZE value %lu", c.size_max);
	feed_all(&r, bare);
	smtpc_caps_parse(&r, &c);
	CHECK(c.starttls, "lower-case keyword");
	CHECK(c.size && c.size_max == 0, "SIZE without a value: no fixed limit");
	CHECK(!c.eightbitmime, "8BITMIMEX is another keyword");
	CHECK(!c.pipelining, "first line is the greeting, not a keyword");
	feed_all(&r, (const char *const[]){"250 hop1 STARTTLS PIPELINING", NULL});
	smtpc_caps_parse(&r, &c);
	CHECK(!c.starttls && !c.pipelining, "single-line EHLO reply has no keywords");
}

static void
test_commands(void)
{
	static const struct {
		const char *sender;
		struct smtpc_mail_params p;
		const char *want;
	} mail[] = {
		{"a@example.org", {-1, false, false}, "MAIL FROM:<a@example.org>\r\n"},
		{"", {1234, true, false}, "MAIL FROM:<> SIZE=1234 BODY=8BITMIME\r\n"},
		{"<>", {-1, false, false}, "MAIL FROM:<>\r\n"},
		{"j\xc3\xb6rg@example.org", {0, true, true},
		    "MAIL FROM:<j\xc3\xb6rg@example.org> SIZE=0 BODY=8BITMIME SMTPUTF8\r\n"},
	};
	char buf[600];

	for (size_t i = 0; i < sizeof(mail) / sizeof(mail[0]); i++) {
		CHECK(smtpc_cmd_mail(buf, sizeof(buf), mail[i].sender, &mail[i].p) > 0, "mail %zu", i);
		CHECK_STR(buf, mail[i].want, "mail %zu", i);
	}
	CHECK(smtpc_cmd_rcpt(buf, sizeof(buf), "\"a b\"@example.com") > 0, "rcpt");
	CHECK_STR(buf, "RCPT TO:<\"a b\"@example.com>\r\n", "quoted rcpt");
	CHECK(smtpc_cmd_rcpt(buf, 10, "b@example.com") == 0, "rcpt too long for the buffer");
}

static void
test_addresses(void)
{
	static const struct {
		const char *addr;
		bool null_ok;
		enum smtpc_addr want;
	} cases[] = {
		{"a@example.org", false, SMTPC_ADDR_OK},
		{"\"a b\"@example.org", false, SMTPC_ADDR_OK},
		{"", true, SMTPC_ADDR_OK},
		{"<>", true, SMTPC_ADDR_OK},
		{"", false, SMTPC_ADDR_BAD},
		{"<>", false, SMTPC_ADDR_BAD},
		{"a@example.org\r\nRCPT TO:<x@evil>", false, SMTPC_ADDR_BAD},
		{"a@example.org>\r\n", false, SMTPC_ADDR_BAD},
		{"<a@example.org>", false, SMTPC_ADDR_BAD},
		{"a\t@example.org", false, SMTPC_ADDR_BAD},
		{"j\xc3\xb6rg@example.org", false, SMTPC_ADDR_UTF8},
		{"a@b\x7f", false, SMTPC_ADDR_BAD},
		/* 8-bit bytes that are not UTF-8: a lone continuation, a truncated sequence, an
		 * overlong '/' and '@', a surrogate, past U+10FFFF, Latin-1. */
		{"\x80@example.org", false, SMTPC_ADDR_BAD},
		{"a\xc3@example.org", false, SMTPC_ADDR_BAD},
		{"a@example.org\xe2\x82", false, SMTPC_ADDR_BAD},
		{"a\xc0\xaf" "b@example.org", false, SMTPC_ADDR_BAD},
		{"a\xe0\x81\x80@example.org", false, SMTPC_ADDR_BAD},
		{"a\xed\xa0\x80@example.org", false, SMTPC_ADDR_BAD},
		{"a\xf4\x90\x80\x80@example.org", false, SMTPC_ADDR_BAD},
		{"j\xf6rg@example.org", false, SMTPC_ADDR_BAD},
		{"\xff\xfe@example.org", false, SMTPC_ADDR_BAD},
		{"\xe2\x82\xac@\xf0\x9f\x98\x80.example", false, SMTPC_ADDR_UTF8},
		{"\xf4\x8f\xbf\xbf@example.org", false, SMTPC_ADDR_UTF8},
	};
	char longaddr[SMTPC_ADDR_MAX + 10];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(smtpc_addr_check(cases[i].addr, cases[i].null_ok) == cases[i].want,
		    "address %zu", i);
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	CHECK(smtpc_addr_check(longaddr, false) == SMTPC_ADDR_BAD, "overlong address");
}

int
main(void)
{
	test_replies();
	test_reply_limits();
	test_caps();
	test_commands();
	test_addresses();
	return check_done("smtpc_test");
}
