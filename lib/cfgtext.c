/*
 * cfgtext - comment blanking for libconfuse.  See cfgtext.h.
 *
 * The states follow libconfuse's scanner (src/lexer.l): a double-quoted
 * string takes backslash escapes of any character, a single-quoted one
 * only of '\\' and '\'' (anything else after a backslash stays, but the
 * pair still cannot end the string); an unquoted word ends at white
 * space, '#', a quote or one of "={}()+,*", and may hold "//" inside it.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "cfgtext.h"

/* Characters that end an unquoted word (besides white space). */
static bool
cfgtext_word_end(char c)
{
	return c == '\0' || strchr(" \t\r\n#\"'={}()+,*", c) != NULL;
}

/* Blank from `p` up to the end of the line; returns the newline (or NUL). */
static char *
cfgtext_blank_line(char *p)
{
	for (; *p != '\0' && *p != '\n'; p++)
		*p = ' ';
	return p;
}

/* Skip a quoted string starting after its opening `quote`; returns its end. */
static char *
cfgtext_skip_string(char *p, char quote)
{
	for (; *p != '\0' && *p != quote; p++)
		if (*p == '\\' && p[1] != '\0' && (quote == '"' || p[1] == '\\' || p[1] == '\''))
			p++;
	return p;
}

/*
 * The first escape in the double-quoted string [p, end) that makes a NUL
 * byte ("\0", "\000", "\x0", "\x00"), or NULL.  libconfuse keeps the
 * value as a C string, so such an escape silently ends it there.
 */
static const char *
cfgtext_nul_escape(const char *p, const char *end)
{
	for (; p + 1 < end; p++) {
		if (*p != '\\')
			continue;
		bool hex = p[1] == 'x';
		const char *digits = hex ? "0123456789abcdefABCDEF" : "01234567";
		const char *q = p + 1 + hex;
		unsigned value = 0, n = 0;

		for (; q < end && n < (hex ? 2u : 3u) && strchr(digits, *q) != NULL; q++, n++)
			value = value * (hex ? 16u : 8u) +
			    (unsigned)(*q <= '9' ? *q - '0' : (*q | 0x20) - 'a' + 10);
		if (n > 0 && value == 0)
			return p;
		p++;   /* the escaped character is no backslash of its own */
	}
	return NULL;
}

int
cfgtext_uncomment(char *text, unsigned *line, const char **why)
{
	unsigned ln = 1;
	char *p = text;

	while (*p != '\0') {
		if (*p == '\n') {
			ln++;
			p++;
		} else if (*p == '"' || *p == '\'') {
			char *end = cfgtext_skip_string(p + 1, *p);

			*line = ln;
			if (memchr(p, '\n', (size_t)(end - p)) != NULL) {
				*why = "a quoted string runs past the end of its line";
				return -1;
			}
			if (*p == '"' && cfgtext_nul_escape(p + 1, end) != NULL) {
				*why = "a string escape makes a NUL byte, which would end the value there";
				return -1;
			}
			p = *end != '\0' ? end + 1 : end;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p = cfgtext_blank_line(p);
		} else if (p[0] == '/' && p[1] == '*') {
			char *end = strstr(p + 2, "*/");

			if (end == NULL) {
				*line = ln;
				*why = "a comment starting with /* is never closed";
				return -1;
			}
			for (end += 2; p < end; p++) {
				if (*p == '\n')
					ln++;
				else
					*p = ' ';
			}
		} else if (*p == ' ' || *p == '\t' || *p == '\r' || strchr("={}()+,*", *p) != NULL) {
			p++;
		} else {
			/* An unquoted word: a '#' ends it, "//" inside it does not. */
			while (!cfgtext_word_end(*p))
				p++;
		}
	}
	return 0;
}
