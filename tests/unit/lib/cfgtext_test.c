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

static void
blank(const char *in, const char *want, const char *what)
{
	char *t = strdup(in);
	unsigned line = 0;

	CHECK(t != NULL && cfgtext_uncomment(t, &line) == 0, "%s: accepted", what);
	CHECK_STR(t, want, "%s", what);
	CHECK(strlen(t) == strlen(in), "%s: same length", what);
	free(t);
}

int
main(void)
{
	char open[] = "a = 1\n\n/* never\nclosed\n";
	char instr[] = "a = \"x\n/* y\"\n/*";
	unsigned line = 0;

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
	blank("a = \"l1\nl2#\" # c\n", "a = \"l1\nl2#\"    \n", "newline inside a string");
	blank("a = http://x/y # c\n", "a = http://x/y    \n", "// inside an unquoted word");
	blank("a = {1,2}# c\n", "a = {1,2}   \n", "after punctuation");
	blank("", "", "empty");
	blank("a = \"unterminated # x\n", "a = \"unterminated # x\n", "unterminated string left to libconfuse");

	CHECK(cfgtext_uncomment(open, &line) == -1 && line == 3, "unclosed C comment at line %u", line);
	CHECK(cfgtext_uncomment(instr, &line) == -1 && line == 3,
	    "lines inside a string are counted: %u", line);
	return check_done("cfgtext_test");
}
