/*
 * netaddr - IPv4/IPv6 addresses and CIDR networks.
 *
 * An address is kept in one fixed-size struct whatever its family, so it can
 * be copied, compared and hashed without allocation.  IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) are always unwrapped to IPv4: a client that
 * reaches a dual-stack socket over IPv4 must match IPv4 networks.
 */
#ifndef HOP_NETADDR_H
#define HOP_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text form, with room for the terminator ("ffff:...:255.255.255.255"). */
#define NET_ADDR_STRLEN 46

struct net_addr {
	int family;          /* AF_INET or AF_INET6; 0 when unknown */
	uint8_t bytes[16];   /* network order; IPv4 uses the first 4 */
};

struct net_cidr {
	struct net_addr addr; /* host bits are zero */
	unsigned prefix;      /* 0-32 for IPv4, 0-128 for IPv6 */
};

/*
 * A list of networks.  `v` keeps the entries in the order written, for the
 * logs and ctl `config`; lookups go to the form net_list_build() makes of
 * them (per family, the networks merged into disjoint address ranges and
 * sorted, searched by bisection), so a list of 100 000 exempt networks
 * costs a connection about 17 comparisons, not 100 000.
 */
struct net_ranges;
struct net_list {
	size_t n;
	struct net_cidr *v;         /* owned */
	size_t cap;                 /* entries allocated in v */
	struct net_ranges *ranges;  /* owned; NULL until built, and after each add */
};

/* Parse a bare IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1").  0 or -1. */
int net_addr_parse(const char *text, struct net_addr *out);
/* Copy from a sockaddr_in/sockaddr_in6, unwrapping v4-mapped.  0, or -1 for other families. */
int net_addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out);
/* Canonical text ("2001:db8::1").  Returns `buf` (at least NET_ADDR_STRLEN bytes). */
const char *net_addr_format(const struct net_addr *a, char *buf, size_t bufsz);
/* Zero every bit after `prefix` (clamped to the family's width). */
void net_addr_mask(struct net_addr *a, unsigned prefix);
bool net_addr_equal(const struct net_addr *a, const struct net_addr *b);

/*
 * Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a host route).
 * On error returns -1 and points *why at a static reason.  Host bits that
 * are set are an error: "10.0.0.1/8" is almost always a typo.
 */
int net_cidr_parse(const char *text, struct net_cidr *out, const char **why);
bool net_cidr_contains(const struct net_cidr *net, const struct net_addr *a);
const char *net_cidr_format(const struct net_cidr *net, char *buf, size_t bufsz);

/*
 * Whether a network of the list contains `a`: a bisection once the list is
 * built, else a scan of every entry (correct, but the cost grows with the
 * list; every list of the configuration is built when it is complete).
 */
bool net_list_contains(const struct net_list *l, const struct net_addr *a);
/*
 * Append a copy (`net` may be an entry of `l`); the list is no longer
 * built.  -1 on allocation failure.
 */
int net_list_add(struct net_list *l, const struct net_cidr *net);
/*
 * Make the lookup form of the entries added so far: O(n log n) once, so
 * that net_list_contains() is O(log n).  0, or -1 on allocation failure
 * (the list then stays unbuilt, and still answers by its scan).
 */
int net_list_build(struct net_list *l);
void net_list_free(struct net_list *l);

/*
 * How many addresses of `family` the list covers that a client on the
 * internet can have: the special-purpose ranges of RFC 6890 (private,
 * shared, loopback, link-local, documentation, benchmarking, multicast,
 * reserved; for IPv6 also unique-local) are not counted, and an entry
 * inside another entry counts once.  A v4-mapped network
 * ("::ffff:0:0/96") is an IPv4 network here, as everywhere in netaddr.
 * A double: the sizes are powers of two and their sums, exact where the
 * comparison with a limit matters.  O(n log n) (a sort) in the entries.
 */
double net_list_public_size(const struct net_list *l, int family);
/*
 * Of the entries that add to net_list_public_size(), the widest, or NULL
 * when none does.
 */
const struct net_cidr *net_list_widest_public(const struct net_list *l, int family);

#endif
