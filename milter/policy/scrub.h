/*
 * scrub - which headers of an outbound message reveal the inside?
 *
 * Outbound mail reaches the edge carrying what the core's MTA, its mail
 * programs and every hop wrote: Received headers naming inner hosts and
 * their VPN or LAN addresses, and headers such as X-Originating-IP or
 * Exchange's X-MS-Exchange-Organization-* that exist to record them.
 * scrub decides, header by header, which ones go:
 *
 *   - a Received header (rules.received) or a header whose name matches
 *     rules.inspect, when its value names an inner address (one of the two
 *     address lists) or an inner host name (rules.names) anywhere: any
 *     token, bracketed, "[IPv6:...]", inside comments, "helo=", "for <...>";
 *     the value as written and, if it has RFC 2047 words, as decoded
 *     (rfc2047.h), since the reader outside sees the decoded text;
 *   - a header whose name matches rules.remove, whatever its value.
 *
 * A header name pattern is a name, compared without regard to case, or a
 * prefix followed by one '*' ("X-MS-Exchange-Organization-*").
 *
 * A DKIM signature made inside must still verify outside: a header that a
 * DKIM-Signature (or ARC-Message-Signature) covers through its h= tag is
 * kept and reported instead.  A signer covers, for each name listed n
 * times in h=, the n bottom-most headers of that name; a header added above
 * them later (the hops' Received) is not covered and may go.  The signature
 * may come before or after the headers it covers, so the decision waits for
 * scrub_msg_finish() at end of message.
 *
 * Deletion indices are 1-based among the headers of one name, compared
 * without regard to case, as the MTA counts them when the face deletes one.
 */
#ifndef HOP_SCRUB_H
#define HOP_SCRUB_H

#include <stdbool.h>
#include <stddef.h>

#include "dset.h"
#include "netaddr.h"

/*
 * True if `value` names an address inside `a` or `b` (either may be NULL).
 * When true and `found` is not NULL, the first such address is stored there.
 * Besides whole tokens, an address is named by four numbers of up to three
 * digits (four with a leading 0) joined by '.' or '-' anywhere in a token,
 * starting it or after a character that is no letter or digit, and not
 * followed by one ("ip-10-1-2-3.ec2.internal", "::ffff:10.1.2.3"); such a
 * quad is read as decimal and, if it differs, as inet_aton(3) reads it
 * (a leading 0 is octal).  False positives cost a public header; false
 * negatives leak, so the rule is wide.  `value` is not decoded here.
 */
bool scrub_names_internal(const char *value, const struct net_list *a,
    const struct net_list *b, struct net_addr *found);

/*
 * True if `value` names a host in `names` (normalised as the domain lists
 * are, domain.h).  When true and `found` is not NULL, the normalised name
 * is stored there (truncated to `foundsz`).
 */
bool scrub_names_inner_host(const char *value, const struct dset *names, char *found,
    size_t foundsz);

/* A header name against a pattern (see above). */
bool scrub_name_matches(const char *pattern, const char *name);
/* 0 if `pattern` may be configured, else -1 with a static reason in *why. */
int scrub_pattern_check(const char *pattern, const char **why);

/* What scrubs, built from the configuration; scrub keeps no copy. */
struct scrub_rules {
	bool received;                  /* inspect Received headers */
	const struct net_list *nets_a;  /* inner addresses (may be NULL) */
	const struct net_list *nets_b;
	const struct dset *names;       /* inner host names (may be NULL) */
	char *const *remove;            /* name patterns removed whatever the value */
	size_t nremove;
	char *const *inspect;           /* name patterns removed when naming the inside */
	size_t ninspect;
};

enum scrub_reason {
	SCRUB_LISTED,          /* rules.remove */
	SCRUB_INNER_ADDRESS,
	SCRUB_INNER_NAME,
};

/* One header to delete, or to keep because a DKIM signature covers it. */
struct scrub_hit {
	char *name;            /* as the message spells it */
	unsigned index;        /* among headers of that name, 1-based */
	enum scrub_reason reason;
	char what[64];         /* the address, name or pattern that decided it */
	bool signed_kept;      /* covered by a signature: keep it (set by finish) */
};

struct scrub_msg;

struct scrub_msg *scrub_msg_new(void);
void scrub_msg_free(struct scrub_msg *m);
/*
 * One header, in message order.  With `count_only` the header is counted
 * (indices stay right) but never chosen (another part of the policy already
 * deletes it).  Returns the new hit (valid until the next call) or NULL, and
 * sets *oom when out of memory: the message must then not go on.
 */
const struct scrub_hit *scrub_msg_header(struct scrub_msg *m, const struct scrub_rules *r,
    const char *name, const char *value, bool count_only, bool *oom);
/* At end of message: mark the hits a signature covers.  0, or -1 out of memory. */
int scrub_msg_finish(struct scrub_msg *m);
size_t scrub_msg_nhits(const struct scrub_msg *m);
const struct scrub_hit *scrub_msg_hit(const struct scrub_msg *m, size_t i);

#endif
