/*
 * spfdns - the deadline and resolver layers hopmilter puts under libspf2.
 * See spfdns.h.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "monotime.h"
#include "spfdns.h"

/* Cache answers no longer than this: libspf2's cache only drops entries when they expire. */
#define SPFDNS_MAX_TTL 3600
/* Negative answers carry no TTL through res_nquery(); keep them briefly. */
#define SPFDNS_NEG_TTL 60

static _Thread_local struct {
	bool armed;
	bool hit;
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

/* A record set with no data and the given DNS status; NULL only when out of memory. */
static SPF_dns_rr_t *
spfdns_status(SPF_dns_server_t *d, const char *domain, ns_type type, int ttl,
    SPF_dns_stat_t status)
{
	return SPF_dns_rr_new_init(d, domain, type, ttl, status);
}

static SPF_dns_server_t *
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

/* ------------------------------------------------------------- deadline */

/* Would libspf2 take this TXT string for an SPF record ("v=spf1" then a space or the end)? */
static bool
spfdns_is_spf_record(const char *txt)
{
	return strncasecmp(txt, "v=spf1", 6) == 0 && (txt[6] == ' ' || txt[6] == '\0');
}

/*
 * libspf2 compiles an explanation (the TXT record exp= points to) with the
 * parser it uses for mechanisms, which ends the text at the first space
 * and turns the rest into "%" junk, although RFC 7208 section 6.2 allows
 * spaces there.  Every TXT string that is not an SPF record can only be
 * read as an explanation (libspf2 skips such strings when it looks for the
 * record), so spell its spaces as the macro "%_", which means a space.
 * 0, or -1 when out of memory.
 */
static int
spfdns_fix_explanation(SPF_dns_rr_t *rr, int i)
{
	const char *txt = rr->rr[i]->txt;
	size_t spaces = 0, len = strlen(txt), o = 0;
	char *fixed;

	for (const char *p = txt; *p != '\0'; p++)
		spaces += *p == ' ';
	if (spaces == 0 || spfdns_is_spf_record(txt))
		return 0;
	if ((fixed = malloc(len + spaces + 1)) == NULL)
		return -1;
	for (const char *p = txt; *p != '\0'; p++) {
		if (*p == ' ')
			fixed[o++] = '%';
		fixed[o++] = *p == ' ' ? '_' : *p;
	}
	fixed[o] = '\0';
	if (SPF_dns_rr_buf_realloc(rr, i, o + 1) != SPF_E_SUCCESS) {
		free(fixed);
		return -1;
	}
	memcpy(rr->rr[i]->txt, fixed, o + 1);
	free(fixed);
	return 0;
}

/*
 * A TXT answer without an SPF record is, to libspf2, either "no policy"
 * (none) or the target of exp=.  RFC 7208 section 6.2 wants no explanation
 * (the default one) when that target has several records or one that is
 * not plain ASCII; libspf2 takes the first.  "No data" gives the same
 * "none" for a policy lookup and the default explanation for exp=.
 */
static bool
spfdns_bad_explanation(const SPF_dns_rr_t *rr)
{
	bool odd = false;

	for (int i = 0; i < rr->num_rr; i++) {
		if (spfdns_is_spf_record(rr->rr[i]->txt))
			return false;
		for (const unsigned char *p = (const unsigned char *)rr->rr[i]->txt; *p; p++)
			odd |= *p < 0x20 || *p > 0x7e;
	}
	return rr->num_rr > 1 || odd;
}

static SPF_dns_rr_t *
spfdns_deadline_lookup(SPF_dns_server_t *d, const char *domain, ns_type type,
    int should_cache)
{
	SPF_dns_rr_t *rr;

	/* RFC 7208 section 3.1: type SPF is not to be queried any more. */
	if (type == ns_t_spf)
		return spfdns_status(d, domain, type, 0, NO_DATA);
	if (spfdns_remaining_ms() <= 0) {
		spfdns_deadline.hit = true;
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	}
	rr = SPF_dns_lookup(d->layer_below, domain, type, should_cache);
	if (type == ns_t_txt && rr->herrno == NETDB_SUCCESS && spfdns_bad_explanation(rr)) {
		SPF_dns_rr_free(rr);
		return spfdns_status(d, domain, type, 0, NO_DATA);
	}
	for (int i = 0; type == ns_t_txt && rr->herrno == NETDB_SUCCESS && i < rr->num_rr; i++) {
		if (spfdns_fix_explanation(rr, i) != 0) {
			SPF_dns_rr_free(rr);
			return spfdns_status(d, domain, type, 0, TRY_AGAIN);
		}
	}
	return rr;
}

static void
spfdns_layer_free(SPF_dns_server_t *d)
{
	free(d->hook);
	free(d);
}

SPF_dns_server_t *
spfdns_deadline_new(SPF_dns_server_t *below)
{
	return spfdns_layer_new("hopmilter-deadline", spfdns_deadline_lookup,
	    spfdns_layer_free, below, NULL);
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
		memcpy(txt + o, p, l);
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
