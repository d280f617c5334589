/*
 * addr - envelope addresses as libmilter hands them over.
 *
 * The MTA passes MAIL FROM and RCPT TO arguments with their angle brackets
 * ("<a@b>", "<>").  Before a domain can be compared with a list, the address
 * has to be taken apart the way RFC 5321 defines it: an optional source
 * route ("<@relay1,@relay2:user@domain>", to be ignored per RFC 5321
 * section 4.1.1.3 appendix C), a local part that may be quoted and contain
 * '@' ("\"a@b\"@example.com"), and a domain that may end in a dot or be an
 * address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").
 */
#ifndef HOP_ADDR_H
#define HOP_ADDR_H

#include <stdbool.h>

#include "domain.h"

#define ADDR_LOCAL_MAX 256

enum addr_status {
	ADDR_OK,         /* local and domain filled in */
	ADDR_NULL,       /* the null reverse-path "<>" */
	ADDR_NO_DOMAIN,  /* "<postmaster>": a local part only */
	ADDR_LITERAL,    /* the domain is an address literal, kept in `domain` as given */
	ADDR_INVALID,    /* unbalanced quotes or brackets, bad domain, too long; with a
	                  * domain that is only a bad IDN (an invalid U- or A-label),
	                  * `domain` holds its loose form (domain_normalize_loose), for
	                  * a ban list and nothing else; otherwise it is "" */
};

struct addr {
	char local[ADDR_LOCAL_MAX + 1];  /* as written, quotes kept */
	char domain[DOMAIN_MAX + 3];     /* normalised (A-labels, lower case, no trailing
	                                  * dot); a literal keeps its brackets */
	bool source_route;               /* "@relay:" prefix was present (and dropped) */
	bool routed_local;               /* unquoted '%', '!' or '@' in the local part */
};

/* Take `arg` apart.  `out` is always fully initialised. */
enum addr_status addr_parse(const char *arg, struct addr *out);

#endif
