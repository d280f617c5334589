/*
 * spfdns - the deadline, the resolver layer, and what the other layers
 * under libspf2 (spfguard.c, spfzone.c) share.  See spfdns.h.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monotime.h"
#include "spfdns.h"

/* Cache answers no longer than this: libspf2's cache only drops entries when they expire. */
#define SPFDNS_MAX_TTL 3600
/* Negative answers carry no TTL through res_nquery(); keep them briefly. */
#define SPFDNS_NEG_TTL 60

static _Thread_local struct {
	bool armed;
	bool hit;
	int queries;         /* sent (to the cache and below) since the start */
	int64_t end_ms;      /* monotime_ms() */
} spfdns_deadline;

static pthread_key_t spfdns_res_key;
static pthread_once_t spfdns_res_once = PTHREAD_ONCE_INIT;

void
spfdns_deadline_start(long budget_ms)
{
	spfdns_deadline.end_ms = monotime_ms() + budget_ms;
	spfdns_deadline.armed = true;
	spfdns_deadline.hit = false;
	spfdns_deadline.queries = 0;
}

bool
spfdns_deadline_hit(void)
{
	return spfdns_deadline.hit;
}

void
spfdns_deadline_stop(void)
{
	spfdns_deadline.armed = false;
	spfdns_deadline.hit = false;
}

/* Milliseconds left before this thread's deadline; LONG_MAX without one. */
static long
spfdns_remaining_ms(void)
{
	if (!spfdns_deadline.armed)
		return LONG_MAX;
	return (long)(spfdns_deadline.end_ms - monotime_ms());
}

bool
spfdns_deadline_passed(void)
{
	if (spfdns_remaining_ms() > 0)
		return false;
	spfdns_deadline.hit = true;
	return true;
}

bool
spfdns_query_take(int cap)
{
	if (spfdns_deadline.armed && spfdns_deadline.queries >= cap)
		return false;
	spfdns_deadline.queries++;
	return true;
}

int
spfdns_queries(void)
{
	return spfdns_deadline.queries;
}

SPF_dns_rr_t *
spfdns_status(SPF_dns_server_t *d, const char *domain, ns_type type, int ttl,
    SPF_dns_stat_t status)
{
	return SPF_dns_rr_new_init(d, domain, type, ttl, status);
}

SPF_dns_server_t *
spfdns_layer_new(const char *name, SPF_dns_lookup_t lookup, SPF_dns_destroy_t destroy,
    SPF_dns_server_t *below, void *hook)
{
	SPF_dns_server_t *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->destroy = destroy;
	d->lookup = lookup;
	d->layer_below = below;
	d->name = name;
	d->hook = hook;
	return d;
}

void
spfdns_layer_free(SPF_dns_server_t *d)
{
	free(d->hook);
	free(d);
}

/* ------------------------------------------------------------- resolver */

struct spfdns_resolver {
	long query_timeout_ms;
};

static void
spfdns_res_destroy(void *p)
{
	res_nclose(p);
	free(p);
}

static void
spfdns_res_key_init(void)
{
	(void)pthread_key_create(&spfdns_res_key, spfdns_res_destroy);
}

/* This thread's resolver state, read from resolv.conf on first use; NULL on failure. */
static struct __res_state *
spfdns_res_state(void)
{
	struct __res_state *rs;

	pthread_once(&spfdns_res_once, spfdns_res_key_init);
	rs = pthread_getspecific(spfdns_res_key);
	if (rs != NULL)
		return rs;
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL)
		return NULL;
	/* Unlike libspf2's resolver, a failure here is a temperror, not abort(). */
	if (res_ninit(rs) != 0 || pthread_setspecific(spfdns_res_key, rs) != 0) {
		free(rs);
		return NULL;
	}
	return rs;
}

/*
 * Bound the next query by the smaller of the layer's limit and the time to
 * the deadline.  The libc resolver counts in whole seconds per server and
 * doubles the wait on each retry: with two tries (t, then 2t) the total is
 * 3t, so t is a third of the budget; under 3s there is one try.
 * XXX With several nameservers each one gets at least 1s, and a TCP
 * fallback (truncated answer) is not bounded by the libc resolver at all.
 */
static void
spfdns_res_limit(struct __res_state *rs, const struct spfdns_resolver *r)
{
	long ms = spfdns_remaining_ms(), secs;

	if (ms > r->query_timeout_ms)
		ms = r->query_timeout_ms;
	secs = ms / 1000 > 0 ? ms / 1000 : 1;
	rs->retry = secs >= 3 ? 2 : 1;
	rs->retrans = (int)(secs >= 3 ? secs / 3 : secs);
}

/* Append one record's data of `len` bytes to `rr` (index `*n`). */
static int
spfdns_rr_add(SPF_dns_rr_t *rr, int *n, const void *data, size_t len, bool text)
{
	if (SPF_dns_rr_buf_realloc(rr, *n, len + (text ? 1 : 0)) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[*n], data, len);
	if (text)
		((char *)rr->rr[*n])[len] = '\0';
	(*n)++;
	return 0;
}

/* TXT: the character-strings of one record, concatenated (RFC 7208 section 3.3). */
static int
spfdns_rr_add_txt(SPF_dns_rr_t *rr, int *n, const unsigned char *p, size_t len)
{
	char *txt = malloc(len + 1);
	size_t o = 0;
	int rc;

	if (txt == NULL)
		return -1;
	while (len > 0) {
		size_t l = *p++;

		len--;
		if (l > len)
			l = len;
		/*
		 * libspf2 and its cache keep TXT data as C strings.  A NUL would
		 * end the record early and leave something that may look valid;
		 * as 0xff it stays what it is to spfrec, a byte no SPF record or
		 * explanation may contain.
		 */
		for (size_t k = 0; k < l; k++)
			txt[o + k] = p[k] == '\0' ? (char)0xff : (char)p[k];
		o += l;
		p += l;
		len -= l;
	}
	rc = spfdns_rr_add(rr, n, txt, o, true);
	free(txt);
	return rc;
}

/* One answer record of the wanted type into `rr`; 0, or -1 (malformed, no memory). */
static int
spfdns_rr_parse(const ns_msg *msg, const ns_rr *r, SPF_dns_rr_t *rr, int *n)
{
	const unsigned char *rd = ns_rr_rdata(*r);
	size_t len = ns_rr_rdlen(*r);
	char name[NS_MAXDNAME];

	switch (ns_rr_type(*r)) {
	case ns_t_a:
		return len == 4 ? spfdns_rr_add(rr, n, rd, 4, false) : -1;
	case ns_t_aaaa:
		return len == 16 ? spfdns_rr_add(rr, n, rd, 16, false) : -1;
	case ns_t_txt:
		return spfdns_rr_add_txt(rr, n, rd, len);
	case ns_t_mx:
	case ns_t_ptr:
		if (ns_rr_type(*r) == ns_t_mx) {
			if (len < NS_INT16SZ)
				return -1;
			rd += NS_INT16SZ;
		}
		if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), rd, name,
		    sizeof(name)) < 0)
			return -1;
		return spfdns_rr_add(rr, n, name, strlen(name), true);
	default:
		return 0;
	}
}

/* Turn a DNS answer into libspf2's record set; a malformed answer is a temporary failure. */
static SPF_dns_rr_t *
spfdns_answer(SPF_dns_server_t *d, const char *domain, ns_type type, const unsigned char *buf,
    int len)
{
	SPF_dns_rr_t *rr;
	ns_msg msg;
	ns_rr r;
	int n = 0, count;
	unsigned long ttl = SPFDNS_MAX_TTL;

	if (ns_initparse(buf, len, &msg) < 0)
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	rr = spfdns_status(d, domain, type, 0, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &r) < 0 ||
		    (ns_rr_type(r) == type && spfdns_rr_parse(&msg, &r, rr, &n) != 0)) {
			rr->num_rr = n;
			SPF_dns_rr_free(rr);
			return spfdns_status(d, domain, type, 0, TRY_AGAIN);
		}
		/* CNAMEs come along with the records they lead to: skip them. */
		if (ns_rr_type(r) == type && ns_rr_ttl(r) < ttl)
			ttl = ns_rr_ttl(r);
	}
	rr->num_rr = n;
	rr->ttl = (time_t)ttl;
	if (n == 0) {
		rr->herrno = NO_DATA;
		rr->ttl = SPFDNS_NEG_TTL;
	}
	return rr;
}

static SPF_dns_rr_t *
spfdns_resolver_lookup(SPF_dns_server_t *d, const char *domain, ns_type type,
    int should_cache)
{
	struct __res_state *rs = spfdns_res_state();
	unsigned char *buf;
	SPF_dns_rr_t *rr;
	int len, herr;

	(void)should_cache;
	if (rs == NULL || (buf = malloc(NS_MAXMSG)) == NULL)
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	spfdns_res_limit(rs, d->hook);
	len = res_nquery(rs, domain, ns_c_in, type, buf, NS_MAXMSG);
	if (len < 0) {
		herr = rs->res_h_errno;
		free(buf);
		if (herr == TRY_AGAIN && spfdns_remaining_ms() <= 0)
			spfdns_deadline.hit = true;
		/*
		 * Only "no such name" and "no such record" are answers.  SERVFAIL,
		 * a timeout and REFUSED/FORMERR (NO_RECOVERY: a resolver that is
		 * broken or misconfigured, not a verdict of the sender's domain)
		 * are all temporary: the client retries instead of a permerror
		 * letting the message through.
		 */
		if (herr != HOST_NOT_FOUND && herr != NO_DATA)
			return spfdns_status(d, domain, type, 0, TRY_AGAIN);
		return spfdns_status(d, domain, type, SPFDNS_NEG_TTL, herr);
	}
	rr = spfdns_answer(d, domain, type, buf, len > NS_MAXMSG ? NS_MAXMSG : len);
	free(buf);
	return rr;
}

SPF_dns_server_t *
spfdns_resolver_new(long query_timeout_ms)
{
	struct spfdns_resolver *r = calloc(1, sizeof(*r));
	SPF_dns_server_t *d;

	if (r == NULL)
		return NULL;
	r->query_timeout_ms = query_timeout_ms;
	d = spfdns_layer_new("hopmilter-resolver", spfdns_resolver_lookup, spfdns_layer_free,
	    NULL, r);
	if (d == NULL)
		free(r);
	return d;
}

/* A server's reply, as the resolver would see it: the rcode first, then the answers. */
SPF_dns_rr_t *
spfdns_reply(SPF_dns_server_t *d, const char *domain, ns_type type, const unsigned char *buf,
    size_t len)
{
	if (len < NS_HFIXEDSZ)
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	switch (buf[3] & 0x0f) {
	case ns_r_noerror:
		return spfdns_answer(d, domain, type, buf, (int)len);
	case ns_r_nxdomain:
		return spfdns_status(d, domain, type, SPFDNS_NEG_TTL, HOST_NOT_FOUND);
	default:
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	}
}
