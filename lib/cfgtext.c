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

int
cfgtext_uncomment(char *text, unsigned *line)
{
	unsigned ln = 1;
	char *p = text;

	while (*p != '\0') {
		if (*p == '\n') {
			ln++;
			p++;
		} else if (*p == '"' || *p == '\'') {
			char *end = cfgtext_skip_string(p + 1, *p);

			for (char *q = p; q < end; q++)
				ln += *q == '\n';
			p = *end != '\0' ? end + 1 : end;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			p = cfgtext_blank_line(p);
		} else if (p[0] == '/' && p[1] == '*') {
			char *end = strstr(p + 2, "*/");

			if (end == NULL) {
				*line = ln;
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
