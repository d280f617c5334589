/*
 * spfdns - the layers hopmilter puts under libspf2: the guard (deadline,
 * budget, vetted records, explanations), the resolver, the offline zone.
 * See spfdns.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "monotime.h"
#include "spfdns.h"
#include "spfrec.h"

/* Cache answers no longer than this: libspf2's cache only drops entries when they expire. */
#define SPFDNS_MAX_TTL 3600
/* Negative answers carry no TTL through res_nquery(); keep them briefly. */
#define SPFDNS_NEG_TTL 60

#define SPFDNS_STR2(x) #x
#define SPFDNS_STR(x) SPFDNS_STR2(x)

static _Thread_local struct {
	bool armed;
	bool hit;
	int queries;         /* sent (to the cache and below) since the start */
	int64_t end_ms;      /* monotime_ms() */
} spfdns_deadline;

/* The guard layer's own data. */
struct spfdns_guard {
	char *default_exp;    /* macro-string of the explanation when a domain gives none */
};

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

static void
spfdns_layer_free(SPF_dns_server_t *d)
{
	free(d->hook);
	free(d);
}

/* ---------------------------------------------------------------- guard */

/* The budget of one check, RFC 7208 section 4.6.4 (see spfdns.h). */
#define SPFDNS_MAX_TERMS 10
#define SPFDNS_MAX_VOIDS 2
#define SPFDNS_MAX_NAMES 10
/* Room for a name (253), a dot and the any-mark label. */
#define SPFDNS_NAME_MAX 300

static _Thread_local struct {
	bool active;
	bool fetched;                  /* the check's own record (no term) was fetched */
	int terms, voids;
	const char *error;             /* why the budget ended the check */
	const SPF_request_t *rq;       /* the request being evaluated (get_spf saw it) */
	char pending[SPFDNS_MAX_NAMES][SPFDNS_NAME_MAX];
	int npending;                  /* MX/PTR names whose address lookups are no term */
	/*
	 * The last explanation rendered, and for which exp= target and
	 * current domain ("target domain"): libspf2
	 * asks again for every include that does not match (and throws the
	 * text away), which would repeat the lookups of %{p} each time.
	 */
	char *exp_domain, *exp_text;
} spfdns_check;

/* The label that marks an a/mx "/0" for this process: random, so nobody can spell it. */
static char spfdns_mark[24];
static pthread_once_t spfdns_mark_once = PTHREAD_ONCE_INIT;

static void
spfdns_mark_init(void)
{
	unsigned char r[8] = {0};
	size_t o;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		int64_t t = monotime_us();

		memcpy(r, &t, sizeof(r) < sizeof(t) ? sizeof(r) : sizeof(t));
	}
	o = (size_t)snprintf(spfdns_mark, sizeof(spfdns_mark), "hm0-");
	for (size_t i = 0; i < sizeof(r); i++)
		o += (size_t)snprintf(spfdns_mark + o, sizeof(spfdns_mark) - o, "%02x", r[i]);
}

const char *
spfdns_any_mark(void)
{
	pthread_once(&spfdns_mark_once, spfdns_mark_init);
	return spfdns_mark;
}

static void
spfdns_check_reset(void)
{
	free(spfdns_check.exp_domain);
	free(spfdns_check.exp_text);
	memset(&spfdns_check, 0, sizeof(spfdns_check));
}

static int spfdns_cap = SPFDNS_MESSAGE_QUERIES;

void
spfdns_set_message_cap(int lookups)
{
	spfdns_cap = lookups > 0 ? lookups : SPFDNS_MESSAGE_QUERIES;
}

void
spfdns_check_start(void)
{
	spfdns_check_reset();
	spfdns_check.active = true;
}

const char *
spfdns_check_end(void)
{
	const char *e = spfdns_check.error;

	spfdns_check_reset();
	return e;
}

int
spfdns_message_queries(void)
{
	return spfdns_deadline.queries;
}

/* The budget ends the check: from now on nothing is asked, all is a temporary failure. */
static void
spfdns_over(const char *why)
{
	if (spfdns_check.error == NULL)
		spfdns_check.error = why;
}

static bool
spfdns_stopped(void)
{
	return spfdns_check.error != NULL;
}

/*
 * May one more query go out?  Counts it against the message's cap and
 * checks the deadline.
 */
static bool
spfdns_may_query(void)
{
	if (spfdns_stopped())
		return false;
	if (spfdns_remaining_ms() <= 0) {
		spfdns_deadline.hit = true;
		return false;
	}
	if (spfdns_deadline.armed && spfdns_deadline.queries >= spfdns_cap) {
		spfdns_over("too many DNS lookups for one message");
		return false;
	}
	spfdns_deadline.queries++;
	return true;
}

/*
 * The name to ask for: the any-mark taken off (*marked), a trailing dot
 * dropped, left labels removed while it is longer than 253 (section 7.3).
 * false for what is no DNS name at all (empty or over-long labels, bytes
 * outside visible ASCII): that name does not exist, nobody is asked.
 */
static bool
spfdns_name(const char *domain, char *out, size_t outsz, bool *marked)
{
	const char *mark = spfdns_any_mark(), *p;
	size_t len = strlen(domain), ml = strlen(mark), lab = 0;

	*marked = false;
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len > ml + 1 && domain[len - ml - 1] == '.' && strncasecmp(domain + len - ml, mark, ml) == 0) {
		*marked = true;
		len -= ml + 1;
	}
	p = domain;
	while (len > 253) {
		const char *dot = memchr(p, '.', len);

		if (dot == NULL)
			return false;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (len == 0 || len >= outsz)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch < 0x20 || ch > 0x7e || ch == '\\')
			return false;
		lab = ch == '.' ? 0 : lab + 1;
		if ((ch == '.' && (i == 0 || p[i - 1] == '.')) || lab > 63)
			return false;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

/* Is this A/AAAA query for a name an MX or PTR answer gave (no term of its own)? */
static bool
spfdns_is_pending(const char *domain)
{
	for (int i = 0; i < spfdns_check.npending; i++)
		if (strcasecmp(spfdns_check.pending[i], domain) == 0) {
			spfdns_check.pending[i][0] = '\0';
			return true;
		}
	return false;
}

/* A term that queries DNS starts: count it; false when it is one too many. */
static bool
spfdns_term(void)
{
	spfdns_check.npending = 0;
	if (!spfdns_check.active)
		return true;
	if (++spfdns_check.terms > SPFDNS_MAX_TERMS) {
		spfdns_over("more than " SPFDNS_STR(SPFDNS_MAX_TERMS) " DNS-querying terms");
		return false;
	}
	return true;
}

static void
spfdns_void(const SPF_dns_rr_t *rr)
{
	if (!spfdns_check.active || rr->herrno == TRY_AGAIN ||
	    (rr->herrno == NETDB_SUCCESS && rr->num_rr > 0))
		return;
	if (++spfdns_check.voids > SPFDNS_MAX_VOIDS)
		spfdns_over("more than " SPFDNS_STR(SPFDNS_MAX_VOIDS) " void lookups");
}

/* The status answer for a query that does not go out. */
static SPF_dns_rr_t *
spfdns_refused(SPF_dns_server_t *d, const char *domain, ns_type type)
{
	return spfdns_status(d, domain, type, 0, TRY_AGAIN);
}

/*
 * MX and PTR answers: at most 10 names are looked at (section 4.6.4; PTR
 * names past 10 are ignored, more than 10 MX names make libspf2 give
 * permerror after the first 10); their address lookups are part of the
 * term.  An MX of a marked "/0" passes the mark on to its names.
 */
static int
spfdns_names(SPF_dns_rr_t *rr, ns_type type, bool marked)
{
	const char *mark = spfdns_any_mark();
	int n = rr->num_rr;

	if (type == ns_t_ptr && rr->num_rr > SPFDNS_MAX_NAMES)
		rr->num_rr = n = SPFDNS_MAX_NAMES;
	if (n > SPFDNS_MAX_NAMES)
		n = SPFDNS_MAX_NAMES;
	for (int i = 0; i < n; i++) {
		char name[SPFDNS_NAME_MAX];

		snprintf(name, sizeof(name), "%s%s%s", rr->rr[i]->ptr, marked ? "." : "",
		    marked ? mark : "");
		if (marked) {
			if (SPF_dns_rr_buf_realloc(rr, i, strlen(name) + 1) != SPF_E_SUCCESS)
				return -1;
			memcpy(rr->rr[i]->mx, name, strlen(name) + 1);
		}
		snprintf(spfdns_check.pending[i], sizeof(spfdns_check.pending[i]), "%s", name);
	}
	spfdns_check.npending = n;
	return 0;
}

/* A marked "/0" address lookup: the client's own address if the name has any. */
static void
spfdns_any(SPF_dns_rr_t *rr, ns_type type)
{
	const SPF_request_t *rq = spfdns_check.rq;

	if (rr->herrno != NETDB_SUCCESS || rr->num_rr == 0 || rq == NULL)
		return;
	rr->num_rr = 1;
	if (type == ns_t_a)
		rr->rr[0]->a = rq->ipv4;
	else
		rr->rr[0]->aaaa = rq->ipv6;
}

static SPF_dns_rr_t *
spfdns_guard_lookup(SPF_dns_server_t *d, const char *domain, ns_type type, int should_cache)
{
	char name[SPFDNS_NAME_MAX];
	bool marked, term = false;
	SPF_dns_rr_t *rr;

	/* RFC 7208 section 3.1: type SPF is not to be queried any more. */
	if (type == ns_t_spf)
		return spfdns_status(d, domain, type, 0, NO_DATA);
	if (type == ns_t_mx || type == ns_t_ptr ||
	    ((type == ns_t_a || type == ns_t_aaaa) && !spfdns_is_pending(domain)))
		term = true;
	if ((term && !spfdns_term()) || spfdns_stopped())
		return spfdns_refused(d, domain, type);
	if (!spfdns_name(domain, name, sizeof(name), &marked)) {
		rr = spfdns_status(d, domain, type, 0, HOST_NOT_FOUND);
		if (term && type != ns_t_ptr)
			spfdns_void(rr);
		return rr;
	}
	if (!spfdns_may_query())
		return spfdns_refused(d, domain, type);
	rr = SPF_dns_lookup(d->layer_below, name, type, should_cache);
	if (term && type != ns_t_ptr)
		spfdns_void(rr);
	if (rr->herrno == NETDB_SUCCESS && (type == ns_t_mx || type == ns_t_ptr) &&
	    spfdns_names(rr, type, marked) != 0) {
		SPF_dns_rr_free(rr);
		return spfdns_refused(d, domain, type);
	}
	if (marked && (type == ns_t_a || type == ns_t_aaaa))
		spfdns_any(rr, type);
	if (spfdns_stopped()) {
		SPF_dns_rr_free(rr);
		return spfdns_refused(d, domain, type);
	}
	return rr;
}

/* TXT of `domain` through the guard (deadline, cap, names), no term.  Never NULL but OOM. */
static SPF_dns_rr_t *
spfdns_fetch_txt(SPF_dns_server_t *d, const char *domain)
{
	char name[SPFDNS_NAME_MAX];
	bool marked;

	if (!spfdns_name(domain, name, sizeof(name), &marked) || marked)
		return spfdns_status(d, domain, ns_t_txt, 0, HOST_NOT_FOUND);
	if (!spfdns_may_query())
		return spfdns_refused(d, domain, ns_t_txt);
	return SPF_dns_lookup(d->layer_below, name, ns_t_txt, 1);
}

/* Set the response to `result` with error `e` and message; return `e`. */
static SPF_errcode_t __attribute__((format(printf, 4, 5)))
spfdns_record_error(SPF_response_t *rs, SPF_result_t result, SPF_errcode_t e,
    const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rs->result = result;
	rs->reason = SPF_REASON_FAILURE;
	return SPF_response_add_error(rs, e, "%s", msg);
}

/* Which TXT string is the SPF record?  -1: none, -2: several. */
static int
spfdns_pick_record(const SPF_dns_rr_t *rr)
{
	int found = -1;

	for (int i = 0; i < rr->num_rr; i++) {
		const char *t = rr->rr[i]->txt;

		if (!spfrec_is_spf(t, strlen(t)))
			continue;
		if (found >= 0)
			return -2;
		found = i;
	}
	return found;
}

/*
 * libspf2's get_spf hook: the record of spf_request->cur_dom (the checked
 * domain, an include or a redirect), vetted and rewritten by spfrec, then
 * compiled by libspf2.  Every fetch after the first of a check is an
 * include or redirect: a term.
 */
static SPF_errcode_t
spfdns_get_spf(SPF_server_t *srv, SPF_request_t *rq, SPF_response_t *rs, SPF_record_t **recp)
{
	SPF_dns_server_t *d = srv->resolver;
	struct spfrec_rewrite rw = {rq->client_ver, rq->client_ver == AF_INET6 ?
	    rq->ipv6.s6_addr : (const unsigned char *)&rq->ipv4, spfdns_any_mark()};
	const char *dom = rq->cur_dom;
	char *out = NULL, why[200];
	SPF_dns_rr_t *rr;
	SPF_errcode_t e;
	int idx = -1;

	*recp = NULL;
	spfdns_check.rq = rq;
	if (spfdns_check.fetched && !spfdns_term())
		return spfdns_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_BIG_DNS, "%s",
		    spfdns_check.error);
	spfdns_check.fetched = true;
	rr = spfdns_fetch_txt(d, dom);
	if (rr == NULL)
		return spfdns_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_NO_MEMORY, "no memory");
	if (rr->herrno == NETDB_SUCCESS)
		idx = spfdns_pick_record(rr);
	if (rr->herrno == HOST_NOT_FOUND || rr->herrno == NO_DATA ||
	    (rr->herrno == NETDB_SUCCESS && idx == -1)) {
		SPF_dns_rr_free(rr);
		return spfdns_record_error(rs, SPF_RESULT_NONE, SPF_E_NOT_SPF,
		    "no SPF record for '%.255s'", dom);
	}
	if (rr->herrno != NETDB_SUCCESS) {
		SPF_dns_rr_free(rr);
		return spfdns_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR,
		    "temporary DNS failure for '%.255s'", dom);
	}
	if (idx == -2) {
		SPF_dns_rr_free(rr);
		return spfdns_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS,
		    "several SPF records for '%.255s'", dom);
	}
	if ((out = malloc(SPFREC_OUT_MAX)) == NULL) {
		SPF_dns_rr_free(rr);
		return spfdns_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_NO_MEMORY, "no memory");
	}
	if (spfrec_vet(rr->rr[idx]->txt, strlen(rr->rr[idx]->txt), &rw, out, SPFREC_OUT_MAX, why,
	    sizeof(why)) != SPFREC_OK) {
		e = spfdns_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_SYNTAX,
		    "SPF record of '%.255s': %s", dom, why);
	} else if ((e = SPF_record_compile(srv, rs, recp, out)) != SPF_E_SUCCESS) {
		e = spfdns_record_error(rs, SPF_RESULT_PERMERROR, e,
		    "SPF record of '%.255s' does not compile", dom);
	}
	free(out);
	SPF_dns_rr_free(rr);
	return e;
}

/* ----------------------------------------------------------- explanation */

/* %{i}: dotted IPv4, or the 32 nibbles of IPv6 in upper case (RFC 7208 section 7.4). */
static void
spfdns_var_i(const SPF_request_t *rq, char *out, size_t outsz)
{
	size_t o = 0;

	if (rq->client_ver != AF_INET6) {
		inet_ntop(AF_INET, &rq->ipv4, out, (socklen_t)outsz);
		return;
	}
	out[0] = '\0';
	for (int i = 0; i < 16 && o + 4 < outsz; i++)
		o += (size_t)snprintf(out + o, outsz - o, "%s%X.%X", i ? "." : "",
		    rq->ipv6.s6_addr[i] >> 4, rq->ipv6.s6_addr[i] & 0xf);
}

/* Does one of `name`'s addresses equal the client's? */
static bool
spfdns_validates(SPF_dns_server_t *d, const SPF_request_t *rq, const char *name)
{
	ns_type type = rq->client_ver == AF_INET6 ? ns_t_aaaa : ns_t_a;
	SPF_dns_rr_t *rr;
	char n[SPFDNS_NAME_MAX];
	bool marked, ok = false;

	if (!spfdns_name(name, n, sizeof(n), &marked) || marked || !spfdns_may_query())
		return false;
	rr = SPF_dns_lookup(d->layer_below, n, type, 1);
	for (int i = 0; rr != NULL && rr->herrno == NETDB_SUCCESS && i < rr->num_rr && !ok; i++)
		ok = type == ns_t_a ? rr->rr[i]->a.s_addr == rq->ipv4.s_addr :
		    memcmp(&rr->rr[i]->aaaa, &rq->ipv6, sizeof(rq->ipv6)) == 0;
	SPF_dns_rr_free(rr);
	return ok;
}

/* Is `name` `dom` or a subdomain of it? */
static bool
spfdns_in_domain(const char *name, const char *dom)
{
	size_t nl = strlen(name), dl = strlen(dom);

	return nl >= dl && strcasecmp(name + nl - dl, dom) == 0 &&
	    (nl == dl || name[nl - dl - 1] == '.');
}

/*
 * %{p} (section 7.3): a name of the client's PTR records whose address is
 * the client's, one in the current domain preferred; "unknown" otherwise.
 * At most 10 names are tried.
 */
static void
spfdns_var_p(SPF_dns_server_t *d, const SPF_request_t *rq, char *out, size_t outsz)
{
	char rev[SPFDNS_NAME_MAX], first[SPFDNS_NAME_MAX] = "";
	SPF_dns_rr_t *rr;
	size_t o = 0;

	snprintf(out, outsz, "unknown");
	if (rq->client_ver == AF_INET6) {
		for (int i = 15; i >= 0; i--)
			o += (size_t)snprintf(rev + o, sizeof(rev) - o, "%x.%x.",
			    rq->ipv6.s6_addr[i] & 0xf, rq->ipv6.s6_addr[i] >> 4);
		snprintf(rev + o, sizeof(rev) - o, "ip6.arpa");
	} else {
		const unsigned char *b = (const unsigned char *)&rq->ipv4;

		snprintf(rev, sizeof(rev), "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	}
	if (!spfdns_may_query())
		return;
	rr = SPF_dns_lookup(d->layer_below, rev, ns_t_ptr, 1);
	for (int i = 0; rr != NULL && rr->herrno == NETDB_SUCCESS && i < rr->num_rr &&
	    i < SPFDNS_MAX_NAMES; i++) {
		const char *name = rr->rr[i]->ptr;

		if (!spfdns_validates(d, rq, name))
			continue;
		if (rq->cur_dom != NULL && spfdns_in_domain(name, rq->cur_dom)) {
			snprintf(first, sizeof(first), "%s", name);
			break;
		}
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", name);
	}
	SPF_dns_rr_free(rr);
	if (first[0] != '\0')
		snprintf(out, outsz, "%s", first);
}

/* Expand explanation text `text` for the current request into *bufp. */
static SPF_errcode_t
spfdns_explain(SPF_dns_server_t *d, const SPF_request_t *rq, const char *text, char **bufp,
    size_t *buflenp)
{
	char i[80], c[INET6_ADDRSTRLEN], p[SPFDNS_NAME_MAX], t[24], *out;
	const char *at = rq->env_from != NULL ? strrchr(rq->env_from, '@') : NULL;
	struct spfrec_vars v = {0};
	size_t len = strlen(text);

	spfdns_var_i(rq, i, sizeof(i));
	inet_ntop(rq->client_ver == AF_INET6 ? AF_INET6 : AF_INET, rq->client_ver == AF_INET6 ?
	    (const void *)&rq->ipv6 : (const void *)&rq->ipv4, c, sizeof(c));
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	p[0] = '\0';
	if (strstr(text, "%{p") != NULL || strstr(text, "%{P") != NULL)
		spfdns_var_p(d, rq, p, sizeof(p));
	v.s = rq->env_from;
	v.l = rq->env_from_lp;
	v.o = rq->env_from_dp != NULL ? rq->env_from_dp : at != NULL ? at + 1 : NULL;
	v.d = rq->cur_dom;
	v.i = i;
	v.p = p;
	v.v = rq->client_ver == AF_INET6 ? "ip6" : "in-addr";
	v.h = rq->helo_dom;
	v.c = c;
	v.r = rq->spf_server != NULL && rq->spf_server->rec_dom != NULL ?
	    rq->spf_server->rec_dom : "unknown";
	v.t = t;
	if ((out = malloc(SPFREC_OUT_MAX)) == NULL)
		return SPF_E_NO_MEMORY;
	if (spfrec_expand(text, len, &v, out, SPFREC_OUT_MAX) != 0)
		snprintf(out, SPFREC_OUT_MAX, "explanation too long");
	free(*bufp);
	*bufp = out;
	*buflenp = SPFREC_OUT_MAX;
	return SPF_E_SUCCESS;
}

/*
 * libspf2's get_exp hook: `domain` is the expanded exp= target.  Section
 * 6.2: its one TXT record, if it is a valid explain-string, is expanded;
 * anything else (no record, several, non-ASCII, a syntax error, a DNS
 * error) gives the default explanation.
 */
static SPF_errcode_t
spfdns_get_exp(SPF_server_t *srv, const char *domain, char **bufp, size_t *buflenp)
{
	SPF_dns_server_t *d = srv->resolver;
	struct spfdns_guard *g = d->hook;
	const SPF_request_t *rq = spfdns_check.rq;
	SPF_dns_rr_t *rr;
	const char *text = g->default_exp;
	char *copy = NULL, key[2 * SPFDNS_NAME_MAX];
	SPF_errcode_t e;

	if (rq == NULL)
		return SPF_E_NOT_CONFIG;
	/* `domain` is *bufp, which the expansion replaces: the key is a copy. */
	snprintf(key, sizeof(key), "%s %s", domain, rq->cur_dom != NULL ? rq->cur_dom : "");
	if (spfdns_check.exp_domain != NULL && strcmp(spfdns_check.exp_domain, key) == 0 &&
	    (copy = strdup(spfdns_check.exp_text)) != NULL) {
		free(*bufp);
		*bufp = copy;
		*buflenp = strlen(copy) + 1;
		return SPF_E_SUCCESS;
	}
	rr = spfdns_fetch_txt(d, domain);
	if (rr != NULL && rr->herrno == NETDB_SUCCESS && rr->num_rr == 1 &&
	    spfrec_explain_ok(rr->rr[0]->txt, strlen(rr->rr[0]->txt)))
		text = copy = strdup(rr->rr[0]->txt);
	SPF_dns_rr_free(rr);
	e = spfdns_explain(d, rq, text != NULL ? text : g->default_exp, bufp, buflenp);
	free(copy);
	if (e == SPF_E_SUCCESS && spfdns_check.active) {
		free(spfdns_check.exp_domain);
		free(spfdns_check.exp_text);
		spfdns_check.exp_domain = strdup(key);
		spfdns_check.exp_text = strdup(*bufp);
		if (spfdns_check.exp_domain == NULL || spfdns_check.exp_text == NULL) {
			free(spfdns_check.exp_domain);
			free(spfdns_check.exp_text);
			spfdns_check.exp_domain = spfdns_check.exp_text = NULL;
		}
	}
	return e;
}

static void
spfdns_guard_free(SPF_dns_server_t *d)
{
	struct spfdns_guard *g = d->hook;

	if (g != NULL)
		free(g->default_exp);
	free(g);
	free(d);
}

SPF_dns_server_t *
spfdns_guard_new(SPF_dns_server_t *below, const char *default_exp)
{
	struct spfdns_guard *g = calloc(1, sizeof(*g));
	SPF_dns_server_t *d;

	if (g == NULL || (g->default_exp = strdup(default_exp)) == NULL) {
		free(g);
		return NULL;
	}
	d = spfdns_layer_new("hopmilter-guard", spfdns_guard_lookup, spfdns_guard_free, below, g);
	if (d == NULL) {
		free(g->default_exp);
		free(g);
		return NULL;
	}
	d->get_spf = spfdns_get_spf;
	d->get_exp = spfdns_get_exp;
	(void)spfdns_any_mark();
	return d;
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

/* ----------------------------------------------------------------- zone */

/* One zone entry: rdata in wire format, or (type 0) the status of the name's other types. */
struct spfdns_zrec {
	char *name;            /* as added; "*.x" is a wildcard */
	ns_type type;
	int status;            /* type 0 only: TRY_AGAIN or NO_DATA */
	unsigned char *rdata;
	size_t len;
};

struct spfdns_zone {
	struct spfdns_zrec *r;
	size_t n, cap;
};

/* A name in wire format (no compression) into `out`; its length, or 0 if it is none. */
static size_t
spfdns_wire_name(const char *name, unsigned char *out, size_t outsz)
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
spfdns_zone_rdata(ns_type type, const char *data, size_t len, struct spfdns_zrec *z)
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
		o = spfdns_wire_name(end + 1, buf + 2, cap - 2);
		o = o > 0 ? o + 2 : 0;
		break;
	}
	case ns_t_ptr:
		o = spfdns_wire_name(data, buf, cap);
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
spfdns_zone_add(SPF_dns_server_t *d, const char *name, ns_type type, const char *data,
    size_t len, int status)
{
	struct spfdns_zone *zn = d->hook;
	struct spfdns_zrec z = {0};
	unsigned char tmp[NS_MAXCDNAME];

	if (spfdns_wire_name(name[0] == '*' && name[1] == '.' ? name + 2 : name, tmp,
	    sizeof(tmp)) == 0)
		return -1;
	if (zn->n == zn->cap) {
		size_t cap = zn->cap ? zn->cap * 2 : 32;
		struct spfdns_zrec *r = realloc(zn->r, cap * sizeof(*r));

		if (r == NULL)
			return -1;
		zn->r = r;
		zn->cap = cap;
	}
	z.type = type;
	z.status = status;
	if (type != 0 && (data == NULL || spfdns_zone_rdata(type, data, len, &z) != 0))
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
spfdns_zone_has(const struct spfdns_zone *zn, const char *name)
{
	for (size_t i = 0; i < zn->n; i++)
		if (strcasecmp(zn->r[i].name, name) == 0)
			return true;
	return false;
}

/* The entry name that answers for `domain`: itself, or the closest wildcard. */
static const char *
spfdns_zone_owner(const struct spfdns_zone *zn, const char *domain, char *buf, size_t bufsz)
{
	if (spfdns_zone_has(zn, domain))
		return domain;
	for (const char *p = strchr(domain, '.'); p != NULL; p = strchr(p + 1, '.')) {
		snprintf(buf, bufsz, "*%s", p);
		if (spfdns_zone_has(zn, buf))
			return buf;
	}
	return NULL;
}

static void
spfdns_put16(unsigned char *p, unsigned v)
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
spfdns_zone_message(const struct spfdns_zone *zn, const char *domain, ns_type type, size_t *lenp)
{
	char wbuf[NS_MAXDNAME + 2];
	const char *owner = spfdns_zone_owner(zn, domain, wbuf, sizeof(wbuf));
	size_t cap = 512, o, qn;
	unsigned char *m, qname[NS_MAXCDNAME];
	int rcode = owner == NULL ? ns_r_nxdomain : ns_r_noerror;
	unsigned an = 0;

	if ((qn = spfdns_wire_name(domain, qname, sizeof(qname))) == 0)
		qn = spfdns_wire_name("invalid", qname, sizeof(qname));
	for (size_t i = 0; owner != NULL && i < zn->n; i++)
		if (strcasecmp(zn->r[i].name, owner) == 0)
			cap += zn->r[i].len + 16;
	if ((m = calloc(1, cap + qn)) == NULL)
		return NULL;
	o = NS_HFIXEDSZ;
	memcpy(m + o, qname, qn);
	o += qn;
	spfdns_put16(m + o, type);
	spfdns_put16(m + o + 2, ns_c_in);
	o += 4;
	for (size_t i = 0; owner != NULL && i < zn->n; i++) {
		const struct spfdns_zrec *z = &zn->r[i];

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
		spfdns_put16(m + o, 0xc000 | NS_HFIXEDSZ);      /* the question's name */
		spfdns_put16(m + o + 2, type);
		spfdns_put16(m + o + 4, ns_c_in);
		spfdns_put16(m + o + 6, 0);
		spfdns_put16(m + o + 8, 300);                   /* TTL */
		spfdns_put16(m + o + 10, (unsigned)z->len);
		memcpy(m + o + 12, z->rdata, z->len);
		o += 12 + z->len;
		an++;
	}
	m[2] = 0x84;                                            /* QR, AA */
	m[3] = (unsigned char)rcode;
	spfdns_put16(m + 4, 1);
	spfdns_put16(m + 6, an);
	*lenp = o;
	return m;
}

/* A server's reply, as the resolver would see it: the rcode first, then the answers. */
static SPF_dns_rr_t *
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

static SPF_dns_rr_t *
spfdns_zone_lookup(SPF_dns_server_t *d, const char *domain, ns_type type, int should_cache)
{
	unsigned char *m;
	SPF_dns_rr_t *rr;
	size_t len;

	(void)should_cache;
	if ((m = spfdns_zone_message(d->hook, domain, type, &len)) == NULL)
		return spfdns_status(d, domain, type, 0, TRY_AGAIN);
	rr = spfdns_reply(d, domain, type, m, len);
	free(m);
	return rr;
}

static void
spfdns_zone_free(SPF_dns_server_t *d)
{
	struct spfdns_zone *zn = d->hook;

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
spfdns_zone_new(void)
{
	struct spfdns_zone *zn = calloc(1, sizeof(*zn));
	SPF_dns_server_t *d;

	if (zn == NULL)
		return NULL;
	d = spfdns_layer_new("hopmilter-zone", spfdns_zone_lookup, spfdns_zone_free, NULL, zn);
	if (d == NULL)
		free(zn);
	return d;
}
