/*
 * scrub - find inner addresses and names in outbound headers.  See scrub.h.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "domain.h"
#include "rfc2047.h"
#include "scrub.h"

/* Characters of a token: words, numbers, addresses, "IPv6:" prefixes. */
static bool
scrub_tokchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == ':' || c == '.' || c == '%' || c == '-' || c == '_';
}

/* Parse one candidate token; false if it is not an address. */
static bool
scrub_token_addr(const char *tok, size_t len, struct net_addr *out)
{
	char buf[NET_ADDR_STRLEN + 8];
	char *cut;

	if (len >= 5 && strncasecmp(tok, "IPv6:", 5) == 0) {
		tok += 5;
		len -= 5;
	}
	/* "10.0.0.1." at the end of a sentence. */
	while (len > 0 && tok[len - 1] == '.')
		len--;
	if (len < 2 || len >= sizeof(buf))
		return false;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	/* A scoped address (fe80::1%eth0) names the same host. */
	cut = strchr(buf, '%');
	if (cut != NULL)
		*cut = '\0';
	if (net_addr_parse(buf, out) == 0)
		return true;
	/* "192.0.2.1:25": an IPv4 address with a port. */
	cut = strchr(buf, ':');
	if (cut != NULL && strchr(cut + 1, ':') == NULL) {
		*cut = '\0';
		return net_addr_parse(buf, out) == 0 && out->family == AF_INET;
	}
	return false;
}

static bool
scrub_in_lists(const struct net_addr *addr, const struct net_list *a, const struct net_list *b)
{
	return (a != NULL && net_list_contains(a, addr)) || (b != NULL && net_list_contains(b, addr));
}

static bool
scrub_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
scrub_alnum(char c)
{
	return scrub_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void
scrub_v4(struct net_addr *a, const unsigned v[4])
{
	*a = (struct net_addr){.family = AF_INET};
	for (int f = 0; f < 4; f++)
		a->bytes[f] = (uint8_t)v[f];
}

/*
 * Four numbers of 1-3 digits (4 with a leading 0) joined by '.' or '-' at
 * `p`, up to `end`, not followed by a letter or digit ("ip-10-1-2-3",
 * "010.001.002.003").  Read as a person reads them (decimal; leading zeros
 * change nothing) and, where that differs, as inet_aton(3) reads them (a
 * leading 0 means octal): each reading that is an IPv4 address goes to
 * out[]; returns how many.
 */
static int
scrub_quad(const char *p, const char *end, struct net_addr out[2])
{
	unsigned dec[4], oct[4];
	bool decok = true, octok = true, differs = false;
	int n = 0;

	for (int f = 0; f < 4; f++) {
		const char *s;

		if (f > 0 && (p == end || (*p != '.' && *p != '-')))
			return 0;
		s = p += f > 0;
		while (p < end && scrub_digit(*p))
			p++;
		/* 0377 is octal 255: a leading zero may make a fourth digit. */
		if (p == s || p - s > 3 + (*s == '0'))
			return 0;
		dec[f] = oct[f] = 0;
		for (const char *q = s; q < p; q++) {
			dec[f] = dec[f] * 10 + (unsigned)(*q - '0');
			oct[f] = oct[f] * 8 + (unsigned)(*q - '0');
			octok &= *s != '0' || *q <= '7';
		}
		if (*s != '0')
			oct[f] = dec[f];
		differs |= oct[f] != dec[f];
		decok &= dec[f] <= 255;
		octok &= oct[f] <= 255;
	}
	if (p < end && scrub_alnum(*p))
		return 0;
	if (decok)
		scrub_v4(&out[n++], dec);
	if (octok && differs)
		scrub_v4(&out[n++], oct);
	return n;
}

/*
 * One token: the whole of it as an address (IPv4, IPv6, "IPv6:", a zone,
 * a port, a trailing dot), then every dotted or dashed IPv4 quad in it that
 * starts the token or follows a character that is no letter or digit
 * ("ip-10-1-2-3", "10-1-2-3.vpn.example", "::ffff:10.1.2.3"; not
 * "host10.1.2.3").
 */
static bool
scrub_token_internal(const char *tok, size_t len, const struct net_list *a,
    const struct net_list *b, struct net_addr *found)
{
	struct net_addr addr[2];

	if (scrub_token_addr(tok, len, &addr[0]) && scrub_in_lists(&addr[0], a, b)) {
		*found = addr[0];
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		int nq;

		if (!scrub_digit(tok[i]) || (i > 0 && scrub_alnum(tok[i - 1])))
			continue;
		nq = scrub_quad(tok + i, tok + len, addr);
		for (int k = 0; k < nq; k++)
			if (scrub_in_lists(&addr[k], a, b)) {
				*found = addr[k];
				return true;
			}
	}
	return false;
}

bool
scrub_names_internal(const char *value, const struct net_list *a, const struct net_list *b,
    struct net_addr *found)
{
	const unsigned char *p = (const unsigned char *)value;
	struct net_addr addr;

	if (a == NULL && b == NULL)
		return false;
	while (*p != '\0') {
		const unsigned char *start;

		while (*p != '\0' && !scrub_tokchar(*p))
			p++;
		start = p;
		while (*p != '\0' && scrub_tokchar(*p))
			p++;
		if (p > start && scrub_token_internal((const char *)start, (size_t)(p - start), a, b,
		    &addr)) {
			if (found != NULL)
				*found = addr;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------ inner names */

/* Characters of a host-name token; bytes >= 0x80 are U-labels (IDN). */
static bool
scrub_namechar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '.' || c == '-' || c == '_' || c >= 0x80;
}

/*
 * One token against the list.  A token that is not a valid name as a whole
 * ("x..core.corp.example", an over-long run, a label over 63 bytes) is tried
 * again from each dot on, so no spelling hides an inner name at its end.
 */
static bool
scrub_token_inner(const char *tok, size_t len, const struct dset *names, char *found,
    size_t foundsz)
{
	while (len > 0) {
		char raw[DOMAIN_MAX + 2], norm[DOMAIN_MAX + 2];
		const char *why, *dot;

		if (len < sizeof(raw)) {
			memcpy(raw, tok, len);
			raw[len] = '\0';
			if (domain_normalize(raw, norm, sizeof(norm), &why) == 0) {
				/* A valid name is looked up whole: "x.core.internal" is not "core.internal". */
				if (!dset_match(names, norm))
					return false;
				if (found != NULL)
					snprintf(found, foundsz, "%s", norm);
				return true;
			}
		}
		dot = memchr(tok, '.', len);
		if (dot == NULL)
			return false;
		len -= (size_t)(dot + 1 - tok);
		tok = dot + 1;
	}
	return false;
}

bool
scrub_names_inner_host(const char *value, const struct dset *names, char *found, size_t foundsz)
{
	const unsigned char *p = (const unsigned char *)value;

	if (names == NULL || dset_count(names) == 0)
		return false;
	while (*p != '\0') {
		const unsigned char *start;

		while (*p != '\0' && !scrub_namechar(*p))
			p++;
		start = p;
		while (*p != '\0' && scrub_namechar(*p))
			p++;
		if (p > start && scrub_token_inner((const char *)start, (size_t)(p - start), names,
		    found, foundsz))
			return true;
	}
	return false;
}

/* --------------------------------------------------------- name patterns */

bool
scrub_name_matches(const char *pattern, const char *name)
{
	size_t plen = strlen(pattern);

	if (plen > 0 && pattern[plen - 1] == '*')
		return strncasecmp(pattern, name, plen - 1) == 0;
	return strcasecmp(pattern, name) == 0;
}

int
scrub_pattern_check(const char *pattern, const char **why)
{
	size_t len = strlen(pattern);

	if (len == 0) {
		*why = "empty header name";
		return -1;
	}
	if (strcmp(pattern, "*") == 0) {
		*why = "'*' alone would match every header, From and Message-ID included";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pattern[i];

		/* RFC 5322 section 2.2: printable US-ASCII except ':'. */
		if (c == '*' && i != len - 1) {
			*why = "'*' may only end a header name";
			return -1;
		}
		if (c <= 32 || c >= 127 || c == ':') {
			*why = "not a header name (printable US-ASCII, no ':' or space)";
			return -1;
		}
	}
	return 0;
}

static bool
scrub_name_listed(char *const *list, size_t n, const char *name, const char **which)
{
	for (size_t i = 0; i < n; i++)
		if (scrub_name_matches(list[i], name)) {
			*which = list[i];
			return true;
		}
	return false;
}

/* ------------------------------------------------------------- a message */

/* Every header name seen, how often, and how many of it a signature covers. */
struct scrub_count {
	char *lname;           /* lower case; NULL: free slot */
	unsigned seen;
	unsigned signed_n;     /* the most any one signature lists it */
};

struct scrub_msg {
	struct scrub_count *slots;
	size_t cap, used;      /* cap: power of two */
	struct scrub_hit *hits;
	size_t nhits, hcap;
};

struct scrub_msg *
scrub_msg_new(void)
{
	return calloc(1, sizeof(struct scrub_msg));
}

void
scrub_msg_free(struct scrub_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].lname);
	for (size_t i = 0; i < m->nhits; i++)
		free(m->hits[i].name);
	free(m->slots);
	free(m->hits);
	free(m);
}

static uint64_t
scrub_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		h ^= (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct scrub_count *
scrub_slot(struct scrub_count *slots, size_t cap, const char *name, size_t len)
{
	for (size_t i = scrub_hash(name, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct scrub_count *e = &slots[i];

		if (e->lname == NULL ||
		    (strlen(e->lname) == len && strncasecmp(e->lname, name, len) == 0))
			return e;
	}
}

/* The counter of a name (len bytes of `name`), created at zero; NULL out of memory. */
static struct scrub_count *
scrub_counter(struct scrub_msg *m, const char *name, size_t len)
{
	struct scrub_count *e;

	if (m->used * 2 >= m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 32;
		struct scrub_count *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return NULL;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].lname != NULL)
				*scrub_slot(ns, ncap, m->slots[i].lname, strlen(m->slots[i].lname)) =
				    m->slots[i];
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	e = scrub_slot(m->slots, m->cap, name, len);
	if (e->lname == NULL) {
		if ((e->lname = malloc(len + 1)) == NULL)
			return NULL;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)name[i];

			e->lname[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
		}
		e->lname[len] = '\0';
		m->used++;
	}
	return e;
}

static bool
scrub_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * A signature's h= tag (RFC 6376 section 3.5): colon-separated names, with
 * folding white space anywhere between.  Tag names are case-sensitive;
 * "bh=" is another tag.  Per name, the most any one signature lists it.
 */
static int
scrub_signature(struct scrub_msg *m, const char *value)
{
	const char *p = value;

	while (*p != '\0') {
		const char *tag, *end = strchr(p, ';');
		size_t taglen;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && scrub_wsp(*p))
			p++;
		tag = p;
		while (p < end && *p != '=' && !scrub_wsp(*p))
			p++;
		taglen = (size_t)(p - tag);
		while (p < end && scrub_wsp(*p))
			p++;
		if (taglen == 1 && tag[0] == 'h' && p < end && *p == '=') {
			const char *seen[64];  /* lname: stable while the table grows */
			unsigned times[64];
			size_t nseen = 0;

			for (p++; p < end;) {
				const char *n, *ne;
				struct scrub_count *c;
				size_t k;

				while (p < end && (scrub_wsp(*p) || *p == ':'))
					p++;
				n = p;
				while (p < end && *p != ':')
					p++;
				ne = p;
				while (ne > n && scrub_wsp(ne[-1]))
					ne--;
				if (ne == n)
					continue;
				if ((c = scrub_counter(m, n, (size_t)(ne - n))) == NULL)
					return -1;
				/* Counted per signature: two signatures listing Received once cover one. */
				for (k = 0; k < nseen && seen[k] != c->lname; k++)
					;
				if (k == nseen) {
					if (nseen == sizeof(seen) / sizeof(seen[0])) {
						/* Past 64 names: count as listed as often as could be. */
						c->signed_n = UINT_MAX;
						continue;
					}
					seen[nseen] = c->lname;
					times[nseen++] = 0;
				}
				if (++times[k] > c->signed_n)
					c->signed_n = times[k];
			}
		}
		p = *end == ';' ? end + 1 : end;
	}
	return 0;
}

static struct scrub_hit *
scrub_hit_add(struct scrub_msg *m, const char *name, unsigned index, enum scrub_reason reason,
    const char *what)
{
	struct scrub_hit *h;

	if (m->nhits == m->hcap) {
		size_t ncap = m->hcap ? m->hcap * 2 : 8;
		struct scrub_hit *nh = realloc(m->hits, ncap * sizeof(*nh));

		if (nh == NULL)
			return NULL;
		m->hits = nh;
		m->hcap = ncap;
	}
	h = &m->hits[m->nhits];
	*h = (struct scrub_hit){.index = index, .reason = reason};
	if ((h->name = strdup(name)) == NULL)
		return NULL;
	snprintf(h->what, sizeof(h->what), "%s", what);
	m->nhits++;
	return h;
}

/* Does `text` name an inner address or name?  Which, in *reason and `what`. */
static bool
scrub_text_inner(const struct scrub_rules *r, const char *text, enum scrub_reason *reason,
    char *what, size_t whatsz)
{
	struct net_addr a;

	if (scrub_names_internal(text, r->nets_a, r->nets_b, &a)) {
		*reason = SCRUB_INNER_ADDRESS;
		net_addr_format(&a, what, whatsz);
		return true;
	}
	if (scrub_names_inner_host(text, r->names, what, whatsz)) {
		*reason = SCRUB_INNER_NAME;
		return true;
	}
	return false;
}

/*
 * The value as written and, when it has RFC 2047 words, as the reader
 * outside decodes them (rfc2047.h).  1 inner, 0 not, -1 out of memory.
 */
static int
scrub_value_inner(const struct scrub_rules *r, const char *value, enum scrub_reason *reason,
    char *what, size_t whatsz)
{
	char *decoded;
	bool inner;

	if (scrub_text_inner(r, value, reason, what, whatsz))
		return 1;
	if (!rfc2047_has_words(value))
		return 0;
	if ((decoded = malloc(strlen(value) + 1)) == NULL)
		return -1;
	rfc2047_decode(value, decoded);
	inner = scrub_text_inner(r, decoded, reason, what, whatsz);
	free(decoded);
	return inner;
}

const struct scrub_hit *
scrub_msg_header(struct scrub_msg *m, const struct scrub_rules *r, const char *name,
    const char *value, bool count_only, bool *oom)
{
	struct scrub_count *c = scrub_counter(m, name, strlen(name));
	const char *which = NULL;
	enum scrub_reason reason;
	char what[64];
	const struct scrub_hit *h;
	int inner;

	*oom = false;
	if (c == NULL) {
		*oom = true;
		return NULL;
	}
	c->seen++;
	if (strcasecmp(name, "DKIM-Signature") == 0 || strcasecmp(name, "ARC-Message-Signature") == 0) {
		if (scrub_signature(m, value) != 0)
			*oom = true;
		return NULL;
	}
	if (count_only)
		return NULL;
	if (scrub_name_listed(r->remove, r->nremove, name, &which)) {
		reason = SCRUB_LISTED;
		snprintf(what, sizeof(what), "%s", which);
	} else if (!((r->received && strcasecmp(name, "Received") == 0) ||
	    scrub_name_listed(r->inspect, r->ninspect, name, &which))) {
		return NULL;
	} else if ((inner = scrub_value_inner(r, value, &reason, what, sizeof(what))) <= 0) {
		*oom = inner < 0;
		return NULL;
	}
	h = scrub_hit_add(m, name, c->seen, reason, what);

	if (h == NULL)
		*oom = true;
	return h;
}

int
scrub_msg_finish(struct scrub_msg *m)
{
	for (size_t i = 0; i < m->nhits; i++) {
		struct scrub_hit *h = &m->hits[i];
		struct scrub_count *c = scrub_counter(m, h->name, strlen(h->name));

		if (c == NULL)
			return -1;
		/* Position from the bottom: the signer covered the last signed_n of this name. */
		h->signed_kept = c->seen - h->index + 1 <= c->signed_n;
	}
	return 0;
}

size_t
scrub_msg_nhits(const struct scrub_msg *m)
{
	return m->nhits;
}

const struct scrub_hit *
scrub_msg_hit(const struct scrub_msg *m, size_t i)
{
	return &m->hits[i];
}
