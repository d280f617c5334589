/*
 * rfc2047 - a header value as a reader of RFC 2047 encoded words shows it.
 *
 * Outbound scrubbing must find an inner name or address that a mail
 * program wrote inside "=?charset?B?...?=" or "=?charset?Q?...?=": the
 * reader outside decodes it.  rfc2047_decode() writes a copy of a value in
 * which every encoded word is replaced by its decoded bytes, as a lenient
 * reader shows them, so that a match in the copy is a match the reader
 * would see.  It errs towards decoding more, never less:
 *
 *   - any charset label (a language suffix "utf-8*en" too, or none), the
 *     encoding letter in either case, words of any length;
 *   - B: characters outside the base64 alphabet are skipped, a '=' ends a
 *     group (so "YQ==YmM=" reads "abc"), a short last group gives the
 *     bytes it holds; Q: '_' is a space, "=XX" a byte, a lone '=' itself;
 *   - white space between two adjacent encoded words is dropped, as the
 *     RFC says (so a name split across folded words is whole again);
 *   - a NUL byte becomes a space (a C reader stops there), except in a
 *     UTF-16/UTF-32/UCS label, where NUL bytes are dropped and bytes from
 *     0x80 up (a byte-order mark, half of a non-ASCII character) become a
 *     space: ASCII text in those charsets is its bytes with NULs between,
 *     and the reader shows it;
 *   - anything that is not an encoded word (a '?' missing, white space
 *     inside) is copied unchanged.
 *
 * The charset is otherwise ignored: the bytes are matched as they are.
 * The copy is never longer than the value, and the work is linear in it.
 */
#ifndef HOP_RFC2047_H
#define HOP_RFC2047_H

#include <stdbool.h>
#include <stddef.h>

/* True if `value` may hold an encoded word ("=?" somewhere). */
bool rfc2047_has_words(const char *value);

/*
 * The decoded copy of the NUL-terminated `value` into `out`, which holds at
 * least strlen(value) + 1 bytes.  Returns the number of words decoded.
 */
size_t rfc2047_decode(const char *value, char *out);

#endif
