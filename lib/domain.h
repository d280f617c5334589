/*
 * domain - domain name normalisation.
 *
 * Mail domains are compared case-insensitively and "example.com." names the
 * same domain as "example.com".  Normalising once (lower case, no trailing
 * dot) lets every later comparison be a plain byte comparison.  Bytes of
 * 0x80 and above are kept as they are so that an SMTPUTF8 (U-label) domain
 * stays a distinct, never-matching name rather than an error.
 */
#ifndef HOP_DOMAIN_H
#define HOP_DOMAIN_H

#include <stddef.h>

#define DOMAIN_MAX 253   /* RFC 1035 text form without the trailing dot */

/*
 * Normalise `in` into `out` (at least DOMAIN_MAX + 1 bytes to hold any valid
 * name).  Returns 0, or -1 with *why set to a static reason: empty, too
 * long, an empty label ("a..b"), a label over 63 bytes, or a character that
 * cannot appear in a host name.
 */
int domain_normalize(const char *in, char *out, size_t outsz, const char **why);

#endif
