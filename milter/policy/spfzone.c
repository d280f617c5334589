/*
 * spfzone - an offline DNS layer for tests, answering with the DNS
 * messages a server would send.  See spfzone.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spfdns.h"
#include "spfzone.h"

/* One zone entry: rdata in wire format, or (type 0) the status of the name's other types. */
struct spfzone_zrec {
	char *name;            /* as added; "*.x" is a wildcard */
	ns_type type;
	int status;            /* type 0 only: TRY_AGAIN or NO_DATA */
	unsigned char *rdata;
	size_t len;
};

struct spfzone {
	struct spfzone_zrec *r;
	size_t n, cap;
};

/* A name in wire format (no compression) into `out`; its length, or 0 if it is none. */
static size_t
spfzone_wire_name(const char *name, unsigned char *out, size_t outsz)
{
	size_t o = 0, len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len;) {
		size_t l = 0;

		while (i + l < len && name[i + l] != '.')
			l++;
		if (l == 0 || l > 63 || o + l + 2 > outsz)
			return 0;
		out[o++] = (unsigned char)l;
		memcpy(out + o, name + i, l);
		o += l;
		i += l + 1;
	}
	if (o + 1 > outsz || o + 1 > NS_MAXCDNAME)
		return 0;
	out[o++] = 0;
	return o;
}

/* The rdata of a record given as text (A, AAAA, MX "10 name", PTR) or bytes (TXT). */
static int
spfzone_rdata(ns_type type, const char *data, size_t len, struct spfzone_zrec *z)
{
	size_t o = 0, cap = type == ns_t_txt ? len + len / 255 + 2 : NS_MAXCDNAME + 2;
	unsigned char *buf = malloc(cap);
	char *end;

	if (buf == NULL)
		return -1;

	switch (type) {
	case ns_t_a:
		o = inet_pton(AF_INET, data, buf) == 1 ? 4 : 0;
		break;
	case ns_t_aaaa:
		o = inet_pton(AF_INET6, data, buf) == 1 ? 16 : 0;
		break;
	case ns_t_mx: {
		unsigned long pref = strtoul(data, &end, 10);

		if (end == data || *end != ' ' || pref > 65535)
			break;
		buf[0] = (unsigned char)(pref >> 8);
		buf[1] = (unsigned char)pref;
		o = spfzone_wire_name(end + 1, buf + 2, cap - 2);
		o = o > 0 ? o + 2 : 0;
		break;
	}
	case ns_t_ptr:
		o = spfzone_wire_name(data, buf, cap);
		break;
	case ns_t_txt:
		/* Character-strings of at most 255 bytes, as a server splits a long record. */
		for (size_t i = 0; i < len || (len == 0 && o == 0);) {
			size_t l = len - i > 255 ? 255 : len - i;

			if (o + l + 1 > 65535) {
				o = 0;
				break;
			}
			buf[o++] = (unsigned char)l;
			memcpy(buf + o, data + i, l);
			o += l;
			i += l;
			if (len == 0)
				break;
		}
		break;
	default:
		break;
	}
	if (o == 0) {
		free(buf);
		return -1;
	}
	z->rdata = buf;
	z->len = o;
	return 0;
}

int
spfzone_add(SPF_dns_server_t *d, const char *name, ns_type type, const char *data,
    size_t len, int status)
{
	struct spfzone *zn = d->hook;
	struct spfzone_zrec z = {0};
	unsigned char tmp[NS_MAXCDNAME];

	if (spfzone_wire_name(name[0] == '*' && name[1] == '.' ? name + 2 : name, tmp,
	    sizeof(tmp)) == 0)
		return -1;
	if (zn->n == zn->cap) {
		size_t cap = zn->cap ? zn->cap * 2 : 32;
		struct spfzone_zrec *r = realloc(zn->r, cap * sizeof(*r));

		if (r == NULL)
			return -1;
		zn->r = r;
		zn->cap = cap;
	}
	z.type = type;
	z.status = status;
	if (type != 0 && (data == NULL || spfzone_rdata(type, data, len, &z) != 0))
		return -1;
	if ((z.name = strdup(name)) == NULL) {
		free(z.rdata);
		return -1;
	}
	zn->r[zn->n++] = z;
	return 0;
}

/* Is there an entry named exactly `name`? */
static bool
spfzone_has(const struct spfzone *zn, const char *name)
{
	for (size_t i = 0; i < zn->n; i++)
		if (strcasecmp(zn->r[i].name, name) == 0)
			return true;
	return false;
}

/* The entry name that answers for `domain`: itself, or the closest wildcard. */
static const char *
spfzone_owner(const struct spfzone *zn, const char *domain, char *buf, size_t bufsz)
{
	if (spfzone_has(zn, domain))
		return domain;
	for (const char *p = strchr(domain, '.'); p != NULL; p = strchr(p + 1, '.')) {
		snprintf(buf, bufsz, "*%s", p);
		if (spfzone_has(zn, buf))
			return buf;
	}
	return NULL;
}

static void
spfzone_put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/*
 * The DNS message a server would send for (domain, type): the header, the
 * question, the answers.  The bytes then go through the same parser as a
 * real server's (spfdns_reply).  NULL when out of memory.
 */
static unsigned char *
spfzone_message(const struct spfzone *zn, const char *domain, ns_type type, size_t *lenp)
{
	char wbuf[NS_MAXDNAME + 2];
	const char *owner = spfzone_owner(zn, domain, wbuf, sizeof(wbuf));
	size_t cap = 512, o, qn;
	unsigned char *m, qname[NS_MAXCDNAME];
	int rcode = owner == NULL ? ns_r_nxdomain : ns_r_noerror;
	unsigned an = 0;

	if ((qn = spfzone_wire_name(domain, qname, sizeof(qname))) == 0)
		qn = spfzone_wire_name("invalid", qname, sizeof(qname));
	for (size_t i = 0; owner != NULL && i < zn->n; i++)
		if (strcasecmp(zn->r[i].name, owner) == 0)
			cap += zn->r[i].len + 16;
	if ((m = calloc(1, cap + qn)) == NULL)
		return NULL;
	o = NS_HFIXEDSZ;
	memcpy(m + o, qname, qn);
	o += qn;
	spfzone_put16(m + o, type);
	spfzone_put16(m + o + 2, ns_c_in);
	o += 4;
	for (size_t i = 0; owner != NULL && i < zn->n; i++) {
		const struct spfzone_zrec *z = &zn->r[i];

		if (strcasecmp(z->name, owner) != 0)
			continue;
		if (z->type == 0) {
			/* Types not listed before the status entry have that status. */
			if (an == 0 && z->status == TRY_AGAIN)
				rcode = ns_r_servfail;
			break;
		}
		if (z->type != type)
			continue;
		spfzone_put16(m + o, 0xc000 | NS_HFIXEDSZ);      /* the question's name */
		spfzone_put16(m + o + 2, type);
		spfzone_put16(m + o + 4, ns_c_in);
		spfzone_put16(m + o + 6, 0);
		spfzone_put16(m + o + 8, 300);                   /* TTL */
		spfzone_put16(m + o + 10, (unsigned)z->len);
		memcpy(m + o + 12, z->rdata, z->len);
		o += 12 + z->len;
		an++;
	}
	m[2] = 0x84;                                            /* QR, AA */
	m[3] = (unsigned char)rcode;
	spfzone_put16(m + 4, 1);
	spfzone_put16(m + 6, an);
	*lenp = o;
	return m;
}

static SPF_dns_rr_t *
spfzone_lookup(SPF_dns_server_t *d, const char *domain, ns_type type, int should_cache)
{
	unsigned char *m;
	SPF_dns_rr_t *rr;
	size_t len;

	(void)should_cache;
	if ((m = spfzone_message(d->hook, domain, type, &len)) == NULL)
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	rr = spfdns_reply(d, domain, type, m, len);
	free(m);
	return rr;
}

static void
spfzone_free(SPF_dns_server_t *d)
{
	struct spfzone *zn = d->hook;

	for (size_t i = 0; zn != NULL && i < zn->n; i++) {
		free(zn->r[i].name);
		free(zn->r[i].rdata);
	}
	if (zn != NULL)
		free(zn->r);
	free(zn);
	free(d);
}

SPF_dns_server_t *
spfzone_new(void)
{
	struct spfzone *zn = calloc(1, sizeof(*zn));
	SPF_dns_server_t *d;

	if (zn == NULL)
		return NULL;
	d = spfdns_layer_new("hopmilter-zone", spfzone_lookup, spfzone_free, NULL, zn);
	if (d == NULL)
		free(zn);
	return d;
}
