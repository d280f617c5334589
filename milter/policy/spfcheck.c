/*
 * spfcheck - SPF evaluation with libspf2: the shared server and its DNS
 * stack, one request per evaluation, the mapping of libspf2's results, and
 * the Authentication-Results and Received-SPF header values.  See
 * spfcheck.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain.h"
#include "log.h"
#include "spfcheck.h"
#include "spfdns.h"
#include "spfguard.h"
#include "spfzone.h"

#include <spf2/spf_dns_cache.h>

/*
 * Our default explanation for a fail whose domain gives none (exp=).  An
 * SPF macro-string: %_ is a space; %{c} is the client address in its usual
 * form (%{i} spells IPv6 as 32 dotted nibbles).  libspf2's own points at a
 * dead web site.
 */
#define SPFCHECK_DEFAULT_EXP \
	"%{o}%_does%_not%_allow%_%{c}%_to%_send%_mail%_for%_it"

struct spfcheck {
	SPF_server_t *srv;
	SPF_dns_server_t *dns;   /* the top of the stack: guard, cache, resolver or zone */
	SPF_dns_server_t *zone;  /* offline checkers only (part of `dns`) */
	long timeout_ms;
};

static pthread_once_t spfcheck_log_once = PTHREAD_ONCE_INIT;

/* libspf2's messages go to our log.  Its "error" aborts the process after this returns. */
static void __attribute__((noreturn))
spfcheck_log_error(const char *file, int line, const char *msg)
{
	log_error("libspf2 fatal error (%s:%d): %s", file ? file : "?", line, msg ? msg : "");
	abort();
}

static void
spfcheck_log_warning(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	log_warning("libspf2: %s", msg ? msg : "");
}

static void
spfcheck_log_debug(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	log_debug("libspf2: %s", msg ? msg : "");
}

static void
spfcheck_log_init(void)
{
	SPF_error_handler = spfcheck_log_error;
	SPF_warning_handler = spfcheck_log_warning;
	/* "Warning: %d errors in response" and the like: detail, not news. */
	SPF_info_handler = spfcheck_log_debug;
	SPF_debug_handler = spfcheck_log_debug;
}

const char *
spfcheck_result_name(enum spfcheck_result r)
{
	static const char *const names[] = {
		[SPFCHECK_NONE] = "none", [SPFCHECK_NEUTRAL] = "neutral",
		[SPFCHECK_PASS] = "pass", [SPFCHECK_FAIL] = "fail",
		[SPFCHECK_SOFTFAIL] = "softfail", [SPFCHECK_TEMPERROR] = "temperror",
		[SPFCHECK_PERMERROR] = "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

/* ------------------------------------------------------------ lifecycle */

/* Server over `bottom` (resolver or zone): guard -> cache -> bottom. */
static int
spfcheck_build(const struct spfcheck_opts *o, SPF_dns_server_t *bottom, struct spfcheck **out,
    char *err, size_t errsz)
{
	struct spfcheck *sc = calloc(1, sizeof(*sc));
	SPF_dns_server_t *cache = NULL;
	SPF_response_t *rs = NULL;

	pthread_once(&spfcheck_log_once, spfcheck_log_init);
	*out = NULL;
	if (sc == NULL || bottom == NULL ||
	    (cache = SPF_dns_cache_new(bottom, "hopmilter-cache", 0, 8)) == NULL ||
	    (sc->dns = spfguard_new(cache, SPFCHECK_DEFAULT_EXP)) == NULL ||
	    (sc->srv = SPF_server_new_dns(sc->dns, 0)) == NULL) {
		snprintf(err, errsz, "SPF: out of memory");
		if (sc != NULL && sc->dns == NULL)
			SPF_dns_free(cache != NULL ? cache : bottom);
		spfcheck_free(sc);
		return -1;
	}
	/*
	 * The cache would keep every answer at least 30 minutes, a timeout
	 * included (a temperror for half an hour): let the TTLs the layer
	 * below gives decide instead.
	 */
	SPF_dns_cache_set_ttl(cache, 0, 0, 0, 0);
	/*
	 * The guard counts the terms of the whole check (spfguard.h); libspf2's
	 * own count restarts in every include and fires before a term that
	 * queries nothing: keep it out of the way.  PTR names past 10 never
	 * reach it.
	 */
	SPF_server_set_max_dns_mech(sc->srv, 4 * SPF_MAX_DNS_MECH);
	sc->timeout_ms = o->timeout_ms;
	if (SPF_server_set_rec_dom(sc->srv, o->receiver) != SPF_E_SUCCESS ||
	    SPF_server_set_explanation(sc->srv, SPFCHECK_DEFAULT_EXP, &rs) != SPF_E_SUCCESS) {
		snprintf(err, errsz, "SPF: cannot set the receiver name or explanation");
		SPF_response_free(rs);
		spfcheck_free(sc);
		return -1;
	}
	SPF_response_free(rs);
	*out = sc;
	return 0;
}

int
spfcheck_new(const struct spfcheck_opts *o, struct spfcheck **out, char *err, size_t errsz)
{
	return spfcheck_build(o, spfdns_resolver_new(o->dns_timeout_ms), out, err, errsz);
}

int
spfcheck_new_offline(const struct spfcheck_opts *o, struct spfcheck **out, char *err,
    size_t errsz)
{
	SPF_dns_server_t *zone = spfzone_new();

	if (spfcheck_build(o, zone, out, err, errsz) != 0)
		return -1;
	(*out)->zone = zone;
	return 0;
}

int
spfcheck_zone_add(struct spfcheck *sc, const char *name, enum spfcheck_rr type,
    const char *data)
{
	static const ns_type types[] = {
		[SPFCHECK_RR_A] = ns_t_a, [SPFCHECK_RR_AAAA] = ns_t_aaaa,
		[SPFCHECK_RR_MX] = ns_t_mx, [SPFCHECK_RR_TXT] = ns_t_txt,
		[SPFCHECK_RR_PTR] = ns_t_ptr,
	};

	if (sc->zone == NULL || name == NULL)
		return -1;
	if (type == SPFCHECK_RR_TIMEOUT || type == SPFCHECK_RR_NODATA)
		return data != NULL ? -1 : spfzone_add(sc->zone, name, 0, NULL, 0,
		    type == SPFCHECK_RR_TIMEOUT ? TRY_AGAIN : NO_DATA);
	if ((unsigned)type >= sizeof(types) / sizeof(types[0]) || data == NULL)
		return -1;
	return spfzone_add(sc->zone, name, types[type], data, strlen(data), 0);
}

int
spfcheck_zone_add_txt(struct spfcheck *sc, const char *name, const void *data, size_t len)
{
	if (sc->zone == NULL || name == NULL || data == NULL)
		return -1;
	return spfzone_add(sc->zone, name, ns_t_txt, data, len, 0);
}

void
spfcheck_free(struct spfcheck *sc)
{
	if (sc == NULL)
		return;
	if (sc->srv != NULL)
		SPF_server_free(sc->srv);
	/* SPF_server_new_dns() does not take the stack: free it, every layer. */
	if (sc->dns != NULL)
		SPF_dns_free(sc->dns);
	free(sc);
}

/* ----------------------------------------------------------- evaluation */

/* libspf2's result, once, as ours.  INVALID: a failed top-level lookup or a broken record. */
static enum spfcheck_result
spfcheck_map(SPF_result_t r, SPF_errcode_t e)
{
	switch (r) {
	case SPF_RESULT_PASS: return SPFCHECK_PASS;
	case SPF_RESULT_FAIL: return SPFCHECK_FAIL;
	case SPF_RESULT_SOFTFAIL: return SPFCHECK_SOFTFAIL;
	case SPF_RESULT_NEUTRAL: return SPFCHECK_NEUTRAL;
	case SPF_RESULT_NONE: return SPFCHECK_NONE;
	case SPF_RESULT_TEMPERROR: return SPFCHECK_TEMPERROR;
	case SPF_RESULT_PERMERROR: return SPFCHECK_PERMERROR;
	case SPF_RESULT_INVALID:
	default:
		return e == SPF_E_DNS_ERROR ? SPFCHECK_TEMPERROR : SPFCHECK_PERMERROR;
	}
}

/* The explanation of a fail, or the first problem libspf2 reported. */
static void
spfcheck_detail(SPF_response_t *rs, enum spfcheck_result r, struct spfcheck_answer *a)
{
	const char *s = NULL;

	if (r == SPFCHECK_FAIL || r == SPFCHECK_SOFTFAIL)
		s = SPF_response_get_explanation(rs);
	for (int i = 0; s == NULL && i < SPF_response_messages(rs); i++) {
		SPF_error_t *m = SPF_response_message(rs, i);

		if (m != NULL && SPF_error_errorp(m))
			s = SPF_error_message(m);
	}
	snprintf(a->detail, sizeof(a->detail), "%s", s != NULL ? s : "");
}

static int
spfcheck_request_ip(SPF_request_t *rq, const struct net_addr *ip)
{
	if (ip->family == AF_INET) {
		struct in_addr in;

		memcpy(&in, ip->bytes, sizeof(in));
		return SPF_request_set_ipv4(rq, in) == SPF_E_SUCCESS ? 0 : -1;
	}
	if (ip->family == AF_INET6) {
		struct in6_addr in6;

		memcpy(&in6, ip->bytes, sizeof(in6));
		return SPF_request_set_ipv6(rq, in6) == SPF_E_SUCCESS ? 0 : -1;
	}
	return -1;
}

/*
 * check_host() for `sender` ("" = postmaster@helo), no deadline of its
 * own; `helo` is also what %{h} expands to.
 */
static enum spfcheck_result
spfcheck_eval(struct spfcheck *sc, const struct net_addr *ip, const char *helo,
    const char *sender, struct spfcheck_answer *a)
{
	SPF_request_t *rq = SPF_request_new(sc->srv);
	SPF_response_t *rs = NULL;
	SPF_errcode_t e;
	enum spfcheck_result r;
	const char *over;

	if (rq == NULL || spfcheck_request_ip(rq, ip) != 0 ||
	    /* HELO first: libspf2 turns the null sender into postmaster@HELO. */
	    (helo[0] != '\0' && SPF_request_set_helo_dom(rq, helo) != SPF_E_SUCCESS) ||
	    SPF_request_set_env_from(rq, sender) != 0) {
		snprintf(a->detail, sizeof(a->detail), "cannot set up the SPF request");
		if (rq != NULL)
			SPF_request_free(rq);
		return SPFCHECK_TEMPERROR;
	}
	spfguard_check_start();
	e = SPF_request_query_mailfrom(rq, &rs);
	over = spfguard_check_end();
	r = rs != NULL ? spfcheck_map(SPF_response_result(rs), e) : SPFCHECK_TEMPERROR;
	if (rs != NULL) {
		spfcheck_detail(rs, r, a);
		snprintf(a->raw, sizeof(a->raw), "%s/%s/%s", SPF_strresult(SPF_response_result(rs)),
		    SPF_strreason(SPF_response_reason(rs)), SPF_strerror(e));
		SPF_response_free(rs);
	}
	SPF_request_free(rq);
	/* The budget of RFC 7208 section 4.6.4 ran out: whatever libspf2 made of the rest. */
	if (over != NULL) {
		snprintf(a->detail, sizeof(a->detail), "%s", over);
		r = SPFCHECK_PERMERROR;
	}
	return r;
}

static void
spfcheck_answer_init(struct spfcheck_answer *a, const struct net_addr *ip, const char *helo,
    const char *sender)
{
	memset(a, 0, sizeof(*a));
	net_addr_format(ip, a->ip, sizeof(a->ip));
	snprintf(a->helo, sizeof(a->helo), "%s", helo != NULL ? helo : "");
	snprintf(a->sender, sizeof(a->sender), "%s", sender != NULL ? sender : "");
}

/* A result cut short by the deadline cannot be trusted: it is a temperror. */
static enum spfcheck_result
spfcheck_deadline_check(enum spfcheck_result r, struct spfcheck_answer *a)
{
	if (!spfdns_deadline_hit())
		return r;
	a->deadline = true;
	snprintf(a->detail, sizeof(a->detail), "DNS lookups took too long");
	return SPFCHECK_TEMPERROR;
}

void
spfcheck_identity(struct spfcheck *sc, const struct net_addr *ip, const char *helo,
    const char *sender, struct spfcheck_answer *a)
{
	const char *at;

	spfcheck_answer_init(a, ip, helo, sender);
	at = strrchr(a->sender, '@');
	snprintf(a->domain, sizeof(a->domain), "%.255s", a->sender[0] == '\0' ? a->helo :
	    at != NULL ? at + 1 : a->sender);
	a->identity = a->sender[0] == '\0' ? SPFCHECK_ID_HELO : SPFCHECK_ID_MAILFROM;
	spfdns_deadline_start(sc->timeout_ms);
	a->result = spfcheck_deadline_check(spfcheck_eval(sc, ip, a->helo, a->sender, a), a);
	spfdns_deadline_stop();
}

/* The HELO name, if it is a domain name with at least two labels; else "". */
static void
spfcheck_helo_domain(const char *helo, char *out, size_t outsz)
{
	const char *why;

	if (helo == NULL || domain_normalize(helo, out, outsz, &why) != 0 ||
	    strchr(out, '.') == NULL)
		out[0] = '\0';
}

void
spfcheck_message(struct spfcheck *sc, const struct net_addr *ip, const char *helo,
    const char *sender, struct spfcheck_answer *a)
{
	char hdom[DOMAIN_MAX + 1];
	const char *at;

	spfcheck_answer_init(a, ip, helo, sender);
	spfcheck_helo_domain(helo, hdom, sizeof(hdom));
	spfdns_deadline_start(sc->timeout_ms);
	a->helo_result = SPFCHECK_NONE;
	if (hdom[0] != '\0')
		a->helo_result = spfcheck_deadline_check(spfcheck_eval(sc, ip, hdom, "", a), a);
	if ((sender != NULL && sender[0] == '\0') || a->helo_result == SPFCHECK_FAIL) {
		a->identity = SPFCHECK_ID_HELO;
		a->result = a->helo_result;
		snprintf(a->domain, sizeof(a->domain), "%s", hdom);
	} else {
		a->identity = SPFCHECK_ID_MAILFROM;
		a->detail[0] = a->raw[0] = '\0';
		a->result = SPFCHECK_NONE;
		at = sender != NULL ? strrchr(sender, '@') : NULL;
		/*
		 * %{h} is the HELO the client sent, whatever it is (RFC 7208
		 * section 7.3): with the cleaned-up name, empty when it is no
		 * domain, a record using %{h} would be a permerror, which the
		 * default configuration accepts; a sender picks its HELO.
		 */
		if (at != NULL) {
			snprintf(a->domain, sizeof(a->domain), "%.255s", at + 1);
			a->result = spfcheck_deadline_check(spfcheck_eval(sc, ip,
			    helo != NULL ? helo : "", sender, a), a);
		}
	}
	spfdns_deadline_stop();
}
