/*
 * cfgtext - configuration text made fit for libconfuse's line counter.
 *
 * libconfuse 3.3 (Debian 12) advances its line counter by three for every
 * comment ('#', '//', a C comment, or a comment after a value), so every
 * FILE:LINE it reports for a commented file is wrong.  The shipped sample
 * files are mostly comments.  cfgtext_uncomment() blanks every comment
 * the way libconfuse's scanner finds it -- outside double- and
 * single-quoted strings, '#' anywhere, '//' and a C comment where a token
 * starts -- with spaces, keeping every newline, so the scanner sees no
 * comment and counts only real lines.
 */
#ifndef HOP_CFGTEXT_H
#define HOP_CFGTEXT_H

#include <stddef.h>

/*
 * Blank the comments of `text` (NUL-terminated) in place.  0, or -1 with
 * *why (static) and *line when the text cannot be read as meant:
 * - a C comment never ends (*line: where it starts);
 * - a quoted string holds a line break, written as is: never meant in a
 *   value (it would be a header or log line break), and libconfuse would
 *   count the value's line as the one where the string ends;
 * - a double-quoted string holds an escape that makes a NUL byte ("\0",
 *   "\x00"): libconfuse would end the value there without a word, so
 *   "mx.example\0.evil" would load as "mx.example".
 */
int cfgtext_uncomment(char *text, unsigned *line, const char **why);

#endif
