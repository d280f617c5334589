/*
 * scrub - does a Received header reveal an internal address?
 *
 * Outbound mail leaves the edge carrying the Received headers that the core
 * and every hop added, each naming the previous node's VPN or LAN address.
 * scrub finds every IPv4 and IPv6 address written anywhere in a header
 * value -- bare, in brackets, as an "[IPv6:...]" address literal, inside
 * "helo=" comments, IPv4-mapped, across folded lines -- and tells whether
 * one of them lies in the given networks.  The caller deletes such headers.
 */
#ifndef HOP_SCRUB_H
#define HOP_SCRUB_H

#include <stdbool.h>

#include "netaddr.h"

/*
 * True if `value` names an address inside `a` or `b` (either may be NULL).
 * When true and `found` is not NULL, the first such address is stored there.
 */
bool scrub_names_internal(const char *value, const struct net_list *a,
    const struct net_list *b, struct net_addr *found);

#endif
