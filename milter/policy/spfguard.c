/*
 * spfguard - the layer between libspf2 and its DNS: vetted records, the
 * RFC 7208 budget, explanations.  See spfguard.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "monotime.h"
#include "spfdns.h"
#include "spfguard.h"
#include "spfrec.h"

#define SPFGUARD_STR2(x) #x
#define SPFGUARD_STR(x) SPFGUARD_STR2(x)

/* The guard layer's own data. */
struct spfguard {
	char *default_exp;    /* macro-string of the explanation when a domain gives none */
};

/* The budget of one check, RFC 7208 section 4.6.4 (see spfguard.h). */
#define SPFGUARD_MAX_TERMS 10
#define SPFGUARD_MAX_VOIDS 2
#define SPFGUARD_MAX_NAMES 10
/* Room for a name (253), a dot and the any-mark label. */
#define SPFGUARD_NAME_MAX 300

static _Thread_local struct {
	bool active;
	bool fetched;                  /* the check's own record (no term) was fetched */
	int terms, voids;
	const char *error;             /* why the budget ended the check */
	const SPF_request_t *rq;       /* the request being evaluated (get_spf saw it) */
	char pending[SPFGUARD_MAX_NAMES][SPFGUARD_NAME_MAX];
	int npending;                  /* MX/PTR names whose address lookups are no term */
	/*
	 * The last explanation rendered, and for which exp= target and
	 * current domain ("target domain"): libspf2
	 * asks again for every include that does not match (and throws the
	 * text away), which would repeat the lookups of %{p} each time.
	 */
	char *exp_domain, *exp_text;
} spfguard_check;

/* The label that marks an a/mx "/0" for this process: random, so nobody can spell it. */
static char spfguard_mark[24];
static pthread_once_t spfguard_mark_once = PTHREAD_ONCE_INIT;

static void
spfguard_mark_init(void)
{
	unsigned char r[8] = {0};
	size_t o;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		int64_t t = monotime_us();

		memcpy(r, &t, sizeof(r) < sizeof(t) ? sizeof(r) : sizeof(t));
	}
	o = (size_t)snprintf(spfguard_mark, sizeof(spfguard_mark), "hm0-");
	for (size_t i = 0; i < sizeof(r); i++)
		o += (size_t)snprintf(spfguard_mark + o, sizeof(spfguard_mark) - o, "%02x", r[i]);
}

const char *
spfguard_any_mark(void)
{
	pthread_once(&spfguard_mark_once, spfguard_mark_init);
	return spfguard_mark;
}

static void
spfguard_check_reset(void)
{
	free(spfguard_check.exp_domain);
	free(spfguard_check.exp_text);
	memset(&spfguard_check, 0, sizeof(spfguard_check));
}

static int spfguard_cap = SPFGUARD_MESSAGE_LOOKUPS;

void
spfguard_set_message_cap(int lookups)
{
	spfguard_cap = lookups > 0 ? lookups : SPFGUARD_MESSAGE_LOOKUPS;
}

void
spfguard_check_start(void)
{
	spfguard_check_reset();
	spfguard_check.active = true;
}

const char *
spfguard_check_end(void)
{
	const char *e = spfguard_check.error;

	spfguard_check_reset();
	return e;
}

/* The budget ends the check: from now on nothing is asked, all is a temporary failure. */
static void
spfguard_over(const char *why)
{
	if (spfguard_check.error == NULL)
		spfguard_check.error = why;
}

static bool
spfguard_stopped(void)
{
	return spfguard_check.error != NULL;
}

/*
 * May one more query go out?  Counts it against the message's cap and
 * checks the deadline.
 */
static bool
spfguard_may_query(void)
{
	if (spfguard_stopped() || spfdns_deadline_passed())
		return false;
	if (!spfdns_query_take(spfguard_cap)) {
		spfguard_over("too many DNS lookups for one message");
		return false;
	}
	return true;
}

/*
 * Did the client itself write the mark (in its HELO or sender, which
 * macros copy into names)?  Then it is not honoured: only the rewrite may
 * put it there.  It is random per process and never leaves it, so this
 * is a second line.
 */
static bool
spfguard_mark_sent(void)
{
	const SPF_request_t *rq = spfguard_check.rq;
	const char *mark = spfguard_any_mark();

	return rq != NULL && ((rq->helo_dom != NULL && strcasestr(rq->helo_dom, mark) != NULL) ||
	    (rq->env_from != NULL && strcasestr(rq->env_from, mark) != NULL));
}

/*
 * The name to ask for: the any-mark taken off (*marked), a trailing dot
 * dropped, left labels removed while it is longer than 253 (section 7.3).
 * false for what is no DNS name at all (empty or over-long labels, bytes
 * outside visible ASCII): that name does not exist, nobody is asked.
 */
static bool
spfguard_name(const char *domain, char *out, size_t outsz, bool *marked)
{
	const char *mark = spfguard_any_mark(), *p;
	size_t len = strlen(domain), ml = strlen(mark), lab = 0;

	*marked = false;
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len > ml + 1 && domain[len - ml - 1] == '.' &&
	    strncasecmp(domain + len - ml, mark, ml) == 0 && !spfguard_mark_sent()) {
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
spfguard_is_pending(const char *domain)
{
	for (int i = 0; i < spfguard_check.npending; i++)
		if (strcasecmp(spfguard_check.pending[i], domain) == 0) {
			spfguard_check.pending[i][0] = '\0';
			return true;
		}
	return false;
}

/* A term that queries DNS starts: count it; false when it is one too many. */
static bool
spfguard_term(void)
{
	spfguard_check.npending = 0;
	if (!spfguard_check.active)
		return true;
	if (++spfguard_check.terms > SPFGUARD_MAX_TERMS) {
		spfguard_over("more than " SPFGUARD_STR(SPFGUARD_MAX_TERMS) " DNS-querying terms");
		return false;
	}
	return true;
}

static void
spfguard_void(const SPF_dns_rr_t *rr)
{
	if (!spfguard_check.active || rr->herrno == TRY_AGAIN ||
	    (rr->herrno == NETDB_SUCCESS && rr->num_rr > 0))
		return;
	if (++spfguard_check.voids > SPFGUARD_MAX_VOIDS)
		spfguard_over("more than " SPFGUARD_STR(SPFGUARD_MAX_VOIDS) " void lookups");
}

/* The status answer for a query that does not go out. */
static SPF_dns_rr_t *
spfguard_refused(SPF_dns_server_t *d, const char *domain, ns_type type)
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
spfguard_names(SPF_dns_rr_t *rr, ns_type type, bool marked)
{
	const char *mark = spfguard_any_mark();
	int n = rr->num_rr;

	if (type == ns_t_ptr && rr->num_rr > SPFGUARD_MAX_NAMES)
		rr->num_rr = n = SPFGUARD_MAX_NAMES;
	if (n > SPFGUARD_MAX_NAMES)
		n = SPFGUARD_MAX_NAMES;
	for (int i = 0; i < n; i++) {
		char name[SPFGUARD_NAME_MAX];

		snprintf(name, sizeof(name), "%s%s%s", rr->rr[i]->ptr, marked ? "." : "",
		    marked ? mark : "");
		if (marked) {
			if (SPF_dns_rr_buf_realloc(rr, i, strlen(name) + 1) != SPF_E_SUCCESS)
				return -1;
			memcpy(rr->rr[i]->mx, name, strlen(name) + 1);
		}
		snprintf(spfguard_check.pending[i], sizeof(spfguard_check.pending[i]), "%s", name);
	}
	spfguard_check.npending = n;
	return 0;
}

/* A marked "/0" address lookup: the client's own address if the name has any. */
static void
spfguard_any(SPF_dns_rr_t *rr, ns_type type)
{
	const SPF_request_t *rq = spfguard_check.rq;

	if (rr->herrno != NETDB_SUCCESS || rr->num_rr == 0 || rq == NULL)
		return;
	rr->num_rr = 1;
	if (type == ns_t_a)
		rr->rr[0]->a = rq->ipv4;
	else
		rr->rr[0]->aaaa = rq->ipv6;
}

static SPF_dns_rr_t *
spfguard_lookup(SPF_dns_server_t *d, const char *domain, ns_type type, int should_cache)
{
	char name[SPFGUARD_NAME_MAX];
	bool marked, term = false;
	SPF_dns_rr_t *rr;

	/* RFC 7208 section 3.1: type SPF is not to be queried any more. */
	if (type == ns_t_spf)
		return spfdns_status(d, domain, type, 0, NO_DATA);
	if (type == ns_t_mx || type == ns_t_ptr ||
	    ((type == ns_t_a || type == ns_t_aaaa) && !spfguard_is_pending(domain)))
		term = true;
	if ((term && !spfguard_term()) || spfguard_stopped())
		return spfguard_refused(d, domain, type);
	if (!spfguard_name(domain, name, sizeof(name), &marked)) {
		rr = spfdns_status(d, domain, type, 0, HOST_NOT_FOUND);
		if (term && type != ns_t_ptr)
			spfguard_void(rr);
		return rr;
	}
	if (!spfguard_may_query())
		return spfguard_refused(d, domain, type);
	rr = SPF_dns_lookup(d->layer_below, name, type, should_cache);
	if (term && type != ns_t_ptr)
		spfguard_void(rr);
	if (rr->herrno == NETDB_SUCCESS && (type == ns_t_mx || type == ns_t_ptr) &&
	    spfguard_names(rr, type, marked) != 0) {
		SPF_dns_rr_free(rr);
		return spfguard_refused(d, domain, type);
	}
	if (marked && (type == ns_t_a || type == ns_t_aaaa))
		spfguard_any(rr, type);
	if (spfguard_stopped()) {
		SPF_dns_rr_free(rr);
		return spfguard_refused(d, domain, type);
	}
	return rr;
}

/* TXT of `domain` through the guard (deadline, cap, names), no term.  Never NULL but OOM. */
static SPF_dns_rr_t *
spfguard_fetch_txt(SPF_dns_server_t *d, const char *domain)
{
	char name[SPFGUARD_NAME_MAX];
	bool marked;

	if (!spfguard_name(domain, name, sizeof(name), &marked) || marked)
		return spfdns_status(d, domain, ns_t_txt, 0, HOST_NOT_FOUND);
	if (!spfguard_may_query())
		return spfguard_refused(d, domain, ns_t_txt);
	return SPF_dns_lookup(d->layer_below, name, ns_t_txt, 1);
}

/* Set the response to `result` with error `e` and message; return `e`. */
static SPF_errcode_t __attribute__((format(printf, 4, 5)))
spfguard_record_error(SPF_response_t *rs, SPF_result_t result, SPF_errcode_t e,
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
spfguard_pick_record(const SPF_dns_rr_t *rr)
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
spfguard_get_spf(SPF_server_t *srv, SPF_request_t *rq, SPF_response_t *rs, SPF_record_t **recp)
{
	SPF_dns_server_t *d = srv->resolver;
	struct spfrec_rewrite rw = {rq->client_ver, rq->client_ver == AF_INET6 ?
	    rq->ipv6.s6_addr : (const unsigned char *)&rq->ipv4, spfguard_any_mark()};
	const char *dom = rq->cur_dom;
	char *out = NULL, why[200];
	SPF_dns_rr_t *rr;
	SPF_errcode_t e;
	int idx = -1;

	*recp = NULL;
	spfguard_check.rq = rq;
	if (spfguard_check.fetched && !spfguard_term())
		return spfguard_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_BIG_DNS, "%s",
		    spfguard_check.error);
	/*
	 * The checked domain itself is no macro expansion: over 253 it is not
	 * shortened (that would check some other domain's record) but has no
	 * policy (RFC 7208 section 4.3).
	 */
	if (!spfguard_check.fetched && strlen(dom) > (size_t)(253 + (dom[0] != '\0' &&
	    dom[strlen(dom) - 1] == '.'))) {
		spfguard_check.fetched = true;
		return spfguard_record_error(rs, SPF_RESULT_NONE, SPF_E_NOT_SPF,
		    "the domain is longer than 253 characters");
	}
	spfguard_check.fetched = true;
	rr = spfguard_fetch_txt(d, dom);
	if (rr == NULL)
		return spfguard_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_NO_MEMORY, "no memory");
	if (rr->herrno == NETDB_SUCCESS)
		idx = spfguard_pick_record(rr);
	if (rr->herrno == HOST_NOT_FOUND || rr->herrno == NO_DATA ||
	    (rr->herrno == NETDB_SUCCESS && idx == -1)) {
		SPF_dns_rr_free(rr);
		return spfguard_record_error(rs, SPF_RESULT_NONE, SPF_E_NOT_SPF,
		    "no SPF record for '%.255s'", dom);
	}
	if (rr->herrno != NETDB_SUCCESS) {
		SPF_dns_rr_free(rr);
		return spfguard_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR,
		    "temporary DNS failure for '%.255s'", dom);
	}
	if (idx == -2) {
		SPF_dns_rr_free(rr);
		return spfguard_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_MULTIPLE_RECORDS,
		    "several SPF records for '%.255s'", dom);
	}
	if ((out = malloc(SPFREC_OUT_MAX)) == NULL) {
		SPF_dns_rr_free(rr);
		return spfguard_record_error(rs, SPF_RESULT_TEMPERROR, SPF_E_NO_MEMORY, "no memory");
	}
	if (spfrec_vet(rr->rr[idx]->txt, strlen(rr->rr[idx]->txt), &rw, out, SPFREC_OUT_MAX, why,
	    sizeof(why)) != SPFREC_OK) {
		e = spfguard_record_error(rs, SPF_RESULT_PERMERROR, SPF_E_SYNTAX,
		    "SPF record of '%.255s': %s", dom, why);
	} else if ((e = SPF_record_compile(srv, rs, recp, out)) != SPF_E_SUCCESS) {
		e = spfguard_record_error(rs, SPF_RESULT_PERMERROR, e,
		    "SPF record of '%.255s' does not compile", dom);
	}
	free(out);
	SPF_dns_rr_free(rr);
	return e;
}

/* ----------------------------------------------------------- explanation */

/* %{i}: dotted IPv4, or the 32 nibbles of IPv6 in upper case (RFC 7208 section 7.4). */
static void
spfguard_var_i(const SPF_request_t *rq, char *out, size_t outsz)
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
spfguard_validates(SPF_dns_server_t *d, const SPF_request_t *rq, const char *name)
{
	ns_type type = rq->client_ver == AF_INET6 ? ns_t_aaaa : ns_t_a;
	SPF_dns_rr_t *rr;
	char n[SPFGUARD_NAME_MAX];
	bool marked, ok = false;

	if (!spfguard_name(name, n, sizeof(n), &marked) || marked || !spfguard_may_query())
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
spfguard_in_domain(const char *name, const char *dom)
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
spfguard_var_p(SPF_dns_server_t *d, const SPF_request_t *rq, char *out, size_t outsz)
{
	char rev[SPFGUARD_NAME_MAX], first[SPFGUARD_NAME_MAX] = "";
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
	if (!spfguard_may_query())
		return;
	rr = SPF_dns_lookup(d->layer_below, rev, ns_t_ptr, 1);
	for (int i = 0; rr != NULL && rr->herrno == NETDB_SUCCESS && i < rr->num_rr &&
	    i < SPFGUARD_MAX_NAMES; i++) {
		const char *name = rr->rr[i]->ptr;

		if (!spfguard_validates(d, rq, name))
			continue;
		if (rq->cur_dom != NULL && spfguard_in_domain(name, rq->cur_dom)) {
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
spfguard_explain(SPF_dns_server_t *d, const SPF_request_t *rq, const char *text, char **bufp,
    size_t *buflenp)
{
	char i[80], c[INET6_ADDRSTRLEN], p[SPFGUARD_NAME_MAX], t[24], *out;
	const char *at = rq->env_from != NULL ? strrchr(rq->env_from, '@') : NULL;
	struct spfrec_vars v = {0};
	size_t len = strlen(text);

	spfguard_var_i(rq, i, sizeof(i));
	inet_ntop(rq->client_ver == AF_INET6 ? AF_INET6 : AF_INET, rq->client_ver == AF_INET6 ?
	    (const void *)&rq->ipv6 : (const void *)&rq->ipv4, c, sizeof(c));
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	p[0] = '\0';
	if (strstr(text, "%{p") != NULL || strstr(text, "%{P") != NULL)
		spfguard_var_p(d, rq, p, sizeof(p));
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
spfguard_get_exp(SPF_server_t *srv, const char *domain, char **bufp, size_t *buflenp)
{
	SPF_dns_server_t *d = srv->resolver;
	struct spfguard *g = d->hook;
	const SPF_request_t *rq = spfguard_check.rq;
	SPF_dns_rr_t *rr;
	const char *text = g->default_exp;
	char *copy = NULL, key[2 * SPFGUARD_NAME_MAX];
	SPF_errcode_t e;

	if (rq == NULL)
		return SPF_E_NOT_CONFIG;
	/* `domain` is *bufp, which the expansion replaces: the key is a copy. */
	snprintf(key, sizeof(key), "%s %s", domain, rq->cur_dom != NULL ? rq->cur_dom : "");
	if (spfguard_check.exp_domain != NULL && strcmp(spfguard_check.exp_domain, key) == 0 &&
	    (copy = strdup(spfguard_check.exp_text)) != NULL) {
		free(*bufp);
		*bufp = copy;
		*buflenp = strlen(copy) + 1;
		return SPF_E_SUCCESS;
	}
	rr = spfguard_fetch_txt(d, domain);
	if (rr != NULL && rr->herrno == NETDB_SUCCESS && rr->num_rr == 1 &&
	    spfrec_explain_ok(rr->rr[0]->txt, strlen(rr->rr[0]->txt)))
		text = copy = strdup(rr->rr[0]->txt);
	SPF_dns_rr_free(rr);
	e = spfguard_explain(d, rq, text != NULL ? text : g->default_exp, bufp, buflenp);
	free(copy);
	if (e == SPF_E_SUCCESS && spfguard_check.active) {
		free(spfguard_check.exp_domain);
		free(spfguard_check.exp_text);
		spfguard_check.exp_domain = strdup(key);
		spfguard_check.exp_text = strdup(*bufp);
		if (spfguard_check.exp_domain == NULL || spfguard_check.exp_text == NULL) {
			free(spfguard_check.exp_domain);
			free(spfguard_check.exp_text);
			spfguard_check.exp_domain = spfguard_check.exp_text = NULL;
		}
	}
	return e;
}

static void
spfguard_free(SPF_dns_server_t *d)
{
	struct spfguard *g = d->hook;

	if (g != NULL)
		free(g->default_exp);
	free(g);
	free(d);
}

SPF_dns_server_t *
spfguard_new(SPF_dns_server_t *below, const char *default_exp)
{
	struct spfguard *g = calloc(1, sizeof(*g));
	SPF_dns_server_t *d;

	if (g == NULL || (g->default_exp = strdup(default_exp)) == NULL) {
		free(g);
		return NULL;
	}
	d = spfdns_layer_new("hopmilter-guard", spfguard_lookup, spfguard_free, below, g);
	if (d == NULL) {
		free(g->default_exp);
		free(g);
		return NULL;
	}
	d->get_spf = spfguard_get_spf;
	d->get_exp = spfguard_get_exp;
	(void)spfguard_any_mark();
	return d;
}
