/*
 * domain - domain name normalisation.
 *
 * Mail domains are compared as domains: case does not matter,
 * "example.com." names the same domain as "example.com", and an
 * internationalised name is the same domain whether written with U-labels
 * (UTF-8, from an SMTPUTF8 client or a config file) or A-labels
 * ("xn--..."). Normalising once -- IDNA2008 A-labels (libidn2, UTS #46
 * non-transitional mapping), lower case, no trailing dot -- lets every
 * later comparison be a plain byte comparison.
 */
#ifndef HOP_DOMAIN_H
#define HOP_DOMAIN_H

#include <stddef.h>

#define DOMAIN_MAX 253   /* RFC 1035 text form without the trailing dot */

/*
 * Normalise `in` into `out` (at least DOMAIN_MAX + 1 bytes to hold any valid
 * name).  Returns 0, or -1 with *why set to a static reason: empty, too
 * long, an empty label ("a..b"), a label over 63 bytes, a character that
 * cannot appear in a host name, or an invalid internationalised name (a
 * U-label IDNA2008 does not allow, an "xn--" label that is not valid
 * Punycode of one).
 */
int domain_normalize(const char *in, char *out, size_t outsz, const char **why);

/*
 * For matching a ban list only, when domain_normalize() refused `in`: each
 * label normalised on its own, a label that cannot be (an invalid IDN
 * label) kept in lower case as written.  "bad-label.evil.example" then
 * still falls under a ban of evil.example, while it can match no allowed
 * domain (callers never use this form for those).  0, or -1 when even
 * this fails (empty label, too long).
 */
int domain_normalize_loose(const char *in, char *out, size_t outsz);

#endif
