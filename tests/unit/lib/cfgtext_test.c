/*
 * Unit tests: comment blanking before libconfuse parses (lib/cfgtext.c):
 * every comment form becomes spaces, newlines stay, quoted text is never
 * touched, and what looks like a comment inside a word or a string is not.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "cfgtext.h"

/* `in` is refused at `want_line` with a reason starting `want`. */
static void
refused(const char *in, unsigned want_line, const char *want, const char *what)
{
	char *t = strdup(in);
	unsigned line = 0;
	const char *why = "";

	CHECK(t != NULL && cfgtext_uncomment(t, &line, &why) == -1, "%s: refused", what);
	CHECK(line == want_line && strncmp(why, want, strlen(want)) == 0,
	    "%s: line %u (want %u), \"%s\"", what, line, want_line, why);
	free(t);
}

static void
blank(const char *in, const char *want, const char *what)
{
	char *t = strdup(in);
	unsigned line = 0;
	const char *why = NULL;

	CHECK(t != NULL && cfgtext_uncomment(t, &line, &why) == 0, "%s: accepted (%s)", what,
	    why != NULL ? why : "");
	CHECK_STR(t, want, "%s", what);
	CHECK(strlen(t) == strlen(in), "%s: same length", what);
	free(t);
}

int
main(void)
{
	char open[] = "a = 1\n\n/* never\nclosed\n";
	char instr[] = "a = \"x\\n/* y\"\n/*";

	blank("# c\na = 1\n", "   \na = 1\n", "hash line");
	blank("a = 1 # c\n", "a = 1    \n", "trailing hash");
	blank("a = 1# c\n", "a = 1   \n", "hash right after a word ends it");
	blank("## c\n//// d\n", "    \n      \n", "repeated markers");
	blank("// c\na = 1 // d\n", "    \na = 1     \n", "slash-slash");
	blank("/* a\n b */x = 1\n", "    \n     x = 1\n", "C comment over lines keeps the newline");
	blank("a = \"p#q//r/*s*/\" # c\n", "a = \"p#q//r/*s*/\"    \n", "markers inside a string");
	blank("a = 'p#q' # c\n", "a = 'p#q'    \n", "single-quoted string");
	blank("a = \"x\\\"#y\" # c\n", "a = \"x\\\"#y\"    \n", "escaped quote does not end the string");
	blank("a = 'it\\'s#' # c\n", "a = 'it\\'s#'    \n", "escaped quote in single quotes");
	blank("a = http://x/y # c\n", "a = http://x/y    \n", "// inside an unquoted word");
	blank("a = {1,2}# c\n", "a = {1,2}   \n", "after punctuation");
	blank("", "", "empty");
	blank("a = \"x\\01y\\x0cz\\x7f\" # c\n", "a = \"x\\01y\\x0cz\\x7f\"    \n",
	    "escapes of other control characters are left to the validators");
	blank("a = 'x\\0y'\n", "a = 'x\\0y'\n", "no escapes in single quotes");
	blank("a = \"x\\\\0y\"\n", "a = \"x\\\\0y\"\n", "an escaped backslash, then '0'");

	refused(open, 3, "a comment starting with /* is never closed", "unclosed C comment");
	refused(instr, 2, "a comment starting with /* is never closed",
	    "an escaped newline in a string is no line");
	refused("a = 1\nb = \"l1\nl2#\" # c\n", 2, "a quoted string runs past the end of its line",
	    "a raw newline inside a string, at the line the string starts");
	refused("\n\na = 'l1\nl2'\n", 3, "a quoted string runs past", "the same in single quotes");
	refused("a = \"unterminated # x\n", 1, "a quoted string runs past", "unterminated string");
	refused("\na = \"mx\\0.evil\"\n", 2, "a string escape makes a NUL byte", "\\0");
	refused("a = {\"ok\",\n \"mx\\000\"}\n", 2, "a string escape makes a NUL byte", "\\000");
	refused("a = \"mx\\x00\"\n", 1, "a string escape makes a NUL byte", "\\x00");
	refused("a = \"mx\\x0.\"\n", 1, "a string escape makes a NUL byte", "\\x0");
	refused("a = \"\\00\"\n", 1, "a string escape makes a NUL byte", "\\00 alone");
	return check_done("cfgtext_test");
}
