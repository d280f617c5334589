/*
 * netaddr - address and CIDR parsing and matching.  See netaddr.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

static const uint8_t net_v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void
net_unwrap_v4mapped(struct net_addr *a)
{
	if (a->family == AF_INET6 && memcmp(a->bytes, net_v4mapped_prefix, 12) == 0) {
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
}

int
net_addr_parse(const char *text, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		net_unwrap_v4mapped(out);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

int
net_addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		out->family = AF_INET;
		memcpy(out->bytes, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

		out->family = AF_INET6;
		memcpy(out->bytes, &sin6->sin6_addr, 16);
		net_unwrap_v4mapped(out);
		return 0;
	}
	return -1;
}

const char *
net_addr_format(const struct net_addr *a, char *buf, size_t bufsz)
{
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    inet_ntop(a->family, a->bytes, buf, (socklen_t)bufsz) == NULL)
		snprintf(buf, bufsz, "unknown");
	return buf;
}

static unsigned
net_family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

void
net_addr_mask(struct net_addr *a, unsigned prefix)
{
	unsigned bits = net_family_bits(a->family);

	if (prefix >= bits)
		return;
	a->bytes[prefix / 8] &= (uint8_t)(0xff00u >> (prefix % 8));
	for (unsigned i = prefix / 8 + 1; i < 16; i++)
		a->bytes[i] = 0;
}

bool
net_addr_equal(const struct net_addr *a, const struct net_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

int
net_cidr_parse(const char *text, struct net_cidr *out, const char **why)
{
	char buf[NET_ADDR_STRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	struct net_addr masked;
	unsigned bits;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf)) {
		*why = "not an IP address";
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (net_addr_parse(buf, &out->addr) != 0) {
		*why = "not an IP address";
		return -1;
	}
	bits = net_family_bits(out->addr.family);
	out->prefix = bits;
	if (slash != NULL) {
		char *end;
		unsigned long p;

		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0) {
			*why = "prefix length is not a number";
			return -1;
		}
		/* A v4-mapped network is written with a v6 prefix length. */
		if (out->addr.family == AF_INET && strchr(buf, ':') != NULL) {
			if (p < 96) {
				*why = "prefix length too short for an IPv4-mapped network";
				return -1;
			}
			p -= 96;
		}
		if (p > bits) {
			*why = out->addr.family == AF_INET ? "IPv4 prefix length above 32" :
			    "IPv6 prefix length above 128";
			return -1;
		}
		out->prefix = (unsigned)p;
	}
	masked = out->addr;
	net_addr_mask(&masked, out->prefix);
	if (!net_addr_equal(&masked, &out->addr)) {
		*why = "address has bits set beyond the prefix length";
		return -1;
	}
	return 0;
}

bool
net_cidr_contains(const struct net_cidr *net, const struct net_addr *a)
{
	struct net_addr m;

	if (a->family != net->addr.family)
		return false;
	m = *a;
	net_addr_mask(&m, net->prefix);
	return memcmp(m.bytes, net->addr.bytes, 16) == 0;
}

const char *
net_cidr_format(const struct net_cidr *net, char *buf, size_t bufsz)
{
	char a[NET_ADDR_STRLEN];

	snprintf(buf, bufsz, "%s/%u", net_addr_format(&net->addr, a, sizeof(a)), net->prefix);
	return buf;
}

bool
net_list_contains(const struct net_list *l, const struct net_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (net_cidr_contains(&l->v[i], a))
			return true;
	return false;
}

int
net_list_add(struct net_list *l, const struct net_cidr *net)
{
	struct net_cidr *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return -1;
	v[l->n++] = *net;
	l->v = v;
	return 0;
}

void
net_list_free(struct net_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Not reachable as a client address from the internet (RFC 6890 and its
 * updates).  CIDR blocks are either nested or disjoint, and these are
 * pairwise disjoint, which keeps the counting below a sum.
 */
static const char *const net_special_v4[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
};
static const char *const net_special_v6[] = {
	"::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7",
	"fe80::/10", "ff00::/8",
};

/* `inner` lies within `outer` (the same network counts as within). */
static bool
net_cidr_within(const struct net_cidr *inner, const struct net_cidr *outer)
{
	return inner->addr.family == outer->addr.family && outer->prefix <= inner->prefix &&
	    net_cidr_contains(outer, &inner->addr);
}

static double
net_cidr_size(const struct net_cidr *c)
{
	double size = 1;

	for (unsigned k = c->prefix; k < net_family_bits(c->addr.family); k++)
		size *= 2;
	return size;
}

/* The public addresses of `c` alone: its size less the special blocks in it. */
static double
net_cidr_public_size(const struct net_cidr *c)
{
	bool v4 = c->addr.family == AF_INET;
	const char *const *sp = v4 ? net_special_v4 : net_special_v6;
	size_t n = v4 ? sizeof(net_special_v4) / sizeof(net_special_v4[0]) :
	    sizeof(net_special_v6) / sizeof(net_special_v6[0]);
	double size = net_cidr_size(c);

	for (size_t i = 0; i < n; i++) {
		struct net_cidr s;
		const char *why;

		if (net_cidr_parse(sp[i], &s, &why) != 0)
			continue;   /* cannot happen: the table is tested */
		if (net_cidr_within(c, &s))
			return 0;
		if (net_cidr_within(&s, c))
			size -= net_cidr_size(&s);
	}
	return size;
}

/* Entry i is inside another entry (the first of equal ones counts). */
static bool
net_list_shadowed(const struct net_list *l, size_t i)
{
	for (size_t j = 0; j < l->n; j++)
		if (j != i && net_cidr_within(&l->v[i], &l->v[j]) &&
		    (l->v[j].prefix < l->v[i].prefix || j < i))
			return true;
	return false;
}

double
net_list_public_size(const struct net_list *l, int family)
{
	double total = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].addr.family == family && !net_list_shadowed(l, i))
			total += net_cidr_public_size(&l->v[i]);
	return total;
}

const struct net_cidr *
net_list_widest_public(const struct net_list *l, int family)
{
	const struct net_cidr *best = NULL;
	double most = 0;

	for (size_t i = 0; i < l->n; i++) {
		double n;

		if (l->v[i].addr.family != family || net_list_shadowed(l, i))
			continue;
		if ((n = net_cidr_public_size(&l->v[i])) > most) {
			most = n;
			best = &l->v[i];
		}
	}
	return best;
}
