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

/*
 * The lookup form: per family, the list's networks as inclusive address
 * ranges [first, last], sorted, with overlapping and adjacent ones merged,
 * so at most one range can hold an address and bisection finds it.  Every
 * address is a 128-bit number in host order (an IPv4 one in the low 32
 * bits), so that < is address order and one set of code serves both
 * families.
 */
struct net_u128 {
	uint64_t hi, lo;
};
struct net_range {
	struct net_u128 first, last;
};
struct net_ranges {
	size_t n[2];              /* [0] IPv4, [1] IPv6 */
	struct net_range *v[2];
};

static uint32_t
net_load32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t
net_load64(const uint8_t *b)
{
	return (uint64_t)net_load32(b) << 32 | net_load32(b + 4);
}

static struct net_u128
net_u128_of(const struct net_addr *a)
{
	struct net_u128 u = {0, net_load32(a->bytes)};

	if (a->family == AF_INET6)
		u = (struct net_u128){net_load64(a->bytes), net_load64(a->bytes + 8)};
	return u;
}

static int
net_u128_cmp(struct net_u128 a, struct net_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

/* a + 1 == b, without overflowing past the top of the space. */
static bool
net_u128_next(struct net_u128 a, struct net_u128 b)
{
	if (a.lo == UINT64_MAX)
		return a.hi != UINT64_MAX && b.hi == a.hi + 1 && b.lo == 0;
	return b.hi == a.hi && b.lo == a.lo + 1;
}

static struct net_range
net_range_of(const struct net_cidr *c)
{
	/* The host bits; shifting a 64-bit value by 64 is undefined, hence the cases. */
	unsigned host = net_family_bits(c->addr.family) - c->prefix;
	struct net_range r;

	r.first = r.last = net_u128_of(&c->addr);
	if (host >= 64) {
		r.last.lo = UINT64_MAX;
		if (host > 64)
			r.last.hi |= host >= 128 ? UINT64_MAX : UINT64_MAX >> (128 - host);
	} else if (host > 0) {
		r.last.lo |= UINT64_MAX >> (64 - host);
	}
	return r;
}

static int
net_range_cmp(const void *pa, const void *pb)
{
	const struct net_range *a = pa, *b = pb;

	return net_u128_cmp(a->first, b->first);
}

/* Sort and merge in place; returns the new count. */
static size_t
net_range_merge(struct net_range *r, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), net_range_cmp);
	for (size_t i = 1; i < n; i++) {
		/* Overlapping, or adjacent (last + 1 == first). */
		if (net_u128_cmp(r[i].first, r[out].last) <= 0 ||
		    net_u128_next(r[out].last, r[i].first)) {
			if (net_u128_cmp(r[i].last, r[out].last) > 0)
				r[out].last = r[i].last;
		} else {
			r[++out] = r[i];
		}
	}
	return out + 1;
}

static void
net_ranges_free(struct net_ranges *r)
{
	if (r != NULL) {
		free(r->v[0]);
		free(r->v[1]);
		free(r);
	}
}

/* Index of a family in struct net_ranges; -1 for others. */
static int
net_range_family(int family)
{
	return family == AF_INET ? 0 : family == AF_INET6 ? 1 : -1;
}

int
net_list_build(struct net_list *l)
{
	struct net_ranges *r;
	size_t want[2] = {0, 0};
	int f;

	net_ranges_free(l->ranges);
	l->ranges = NULL;
	for (size_t i = 0; i < l->n; i++)
		if ((f = net_range_family(l->v[i].addr.family)) >= 0)
			want[f]++;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	for (f = 0; f < 2; f++)
		if (want[f] > 0 && (r->v[f] = calloc(want[f], sizeof(*r->v[f]))) == NULL) {
			net_ranges_free(r);
			return -1;
		}
	for (size_t i = 0; i < l->n; i++)
		if ((f = net_range_family(l->v[i].addr.family)) >= 0)
			r->v[f][r->n[f]++] = net_range_of(&l->v[i]);
	for (f = 0; f < 2; f++)
		r->n[f] = net_range_merge(r->v[f], r->n[f]);
	l->ranges = r;
	return 0;
}

static bool
net_ranges_contains(const struct net_ranges *r, const struct net_addr *a)
{
	int f = net_range_family(a->family);
	struct net_u128 x;
	size_t lo = 0, hi;

	if (f < 0)
		return false;
	x = net_u128_of(a);
	/* Find the first range starting above x; the one before it is the candidate. */
	for (hi = r->n[f]; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (net_u128_cmp(r->v[f][mid].first, x) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && net_u128_cmp(x, r->v[f][lo - 1].last) <= 0;
}

bool
net_list_contains(const struct net_list *l, const struct net_addr *a)
{
	if (l->ranges != NULL)
		return net_ranges_contains(l->ranges, a);
	for (size_t i = 0; i < l->n; i++)
		if (net_cidr_contains(&l->v[i], a))
			return true;
	return false;
}

int
net_list_add(struct net_list *l, const struct net_cidr *net)
{
	/* Copied first: `net` may be an entry of l->v, which the realloc moves. */
	struct net_cidr copy = *net;

	net_ranges_free(l->ranges);
	l->ranges = NULL;
	if (l->n == l->cap) {
		/* Doubling: a list file of 100 000 networks is 17 reallocs, not 100 000. */
		size_t cap = l->cap == 0 ? 16 : l->cap * 2;
		struct net_cidr *v;

		if (cap > SIZE_MAX / sizeof(*v) || (v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = copy;
	return 0;
}

void
net_list_free(struct net_list *l)
{
	net_ranges_free(l->ranges);
	free(l->v);
	memset(l, 0, sizeof(*l));
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

struct net_entry {
	const struct net_cidr *c;
	size_t i;
};

/* Address order; of networks starting at one address the wider first, then list order. */
static int
net_entry_cmp(const void *pa, const void *pb)
{
	const struct net_entry *a = pa, *b = pb;
	int d = memcmp(a->c->addr.bytes, b->c->addr.bytes, 16);

	if (d != 0)
		return d;
	if (a->c->prefix != b->c->prefix)
		return a->c->prefix < b->c->prefix ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/*
 * net_list_shadowed() of every entry of `family`, by a sort: CIDR blocks
 * are nested or disjoint, so in the order above every block comes right
 * after the block containing it or after others inside that one, and an
 * entry is shadowed exactly when it lies within the last unshadowed entry
 * before it.  An array of l->n flags (the caller frees it), or NULL when
 * out of memory -- the callers then ask net_list_shadowed() entry by entry.
 */
static bool *
net_list_shadow_flags(const struct net_list *l, int family)
{
	bool *flag = calloc(l->n > 0 ? l->n : 1, sizeof(*flag));
	struct net_entry *e = calloc(l->n > 0 ? l->n : 1, sizeof(*e));
	const struct net_cidr *top = NULL;
	size_t n = 0;

	if (flag == NULL || e == NULL) {
		free(flag);
		free(e);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].addr.family == family)
			e[n++] = (struct net_entry){&l->v[i], i};
	qsort(e, n, sizeof(*e), net_entry_cmp);
	for (size_t k = 0; k < n; k++) {
		if (top != NULL && net_cidr_within(e[k].c, top))
			flag[e[k].i] = true;
		else
			top = e[k].c;
	}
	free(e);
	return flag;
}

static bool
net_list_is_shadowed(const struct net_list *l, const bool *flag, size_t i)
{
	return flag != NULL ? flag[i] : net_list_shadowed(l, i);
}

double
net_list_public_size(const struct net_list *l, int family)
{
	bool *flag = net_list_shadow_flags(l, family);
	double total = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].addr.family == family && !net_list_is_shadowed(l, flag, i))
			total += net_cidr_public_size(&l->v[i]);
	free(flag);
	return total;
}

const struct net_cidr *
net_list_widest_public(const struct net_list *l, int family)
{
	bool *flag = net_list_shadow_flags(l, family);
	const struct net_cidr *best = NULL;
	double most = 0;

	for (size_t i = 0; i < l->n; i++) {
		double n;

		if (l->v[i].addr.family != family || net_list_is_shadowed(l, flag, i))
			continue;
		if ((n = net_cidr_public_size(&l->v[i])) > most) {
			most = n;
			best = &l->v[i];
		}
	}
	free(flag);
	return best;
}
