/* Unit tests: escaping for log fields and SMTP replies (lib/esc.c). */
#include "config.h"

#include "tests/unit/check.h"
#include "esc.h"

int
main(void)
{
	char buf[64], small[8];

	CHECK_STR(esc_log(buf, sizeof(buf), "<a@b.example>"), "<a@b.example>", "plain");
	CHECK_STR(esc_log(buf, sizeof(buf), "a b\r\nip=1.2.3.4"), "a\\x20b\\x0d\\x0aip=1.2.3.4",
	    "space and CRLF cannot forge a field");
	CHECK_STR(esc_log(buf, sizeof(buf), "back\\slash"), "back\\x5cslash", "backslash escaped");
	CHECK_STR(esc_log(buf, sizeof(buf), "\xc3\xbc"), "\\xc3\\xbc", "8-bit escaped");
	CHECK_STR(esc_log(small, sizeof(small), "abcdefghijkl"), "abcd...", "cut with marker");
	CHECK_STR(esc_log(small, sizeof(small), "\x01\x02\x03"), "\\x01...", "cut never splits \\xHH");

	CHECK_STR(esc_reply(buf, sizeof(buf), "100% sure"), "100%% sure", "percent doubled");
	CHECK_STR(esc_reply(buf, sizeof(buf), "line\r\n250 fake"), "line??250 fake", "CRLF removed");
	CHECK_STR(esc_reply(buf, sizeof(buf), "caf\xc3\xa9"), "caf??", "non-ASCII replaced");
	CHECK_STR(esc_reply(small, sizeof(small), "abcdef%"), "abcdef", "never half a %% pair");
	CHECK_STR(esc_reply(small, sizeof(small), "abcd%x"), "abcd%%x", "pair kept when it fits");
	return check_done("esc_test");
}
