/*
 * spfcheck - SPF (RFC 7208) evaluation for hopmilter, on top of libspf2.
 *
 * A struct spfcheck owns one SPF_server_t and its DNS stack (spfdns.h,
 * spfguard.h, spfzone.h):
 * it is built once per configuration (policy_new), before libmilter's
 * threads run, and then shared read-only by every worker thread; libspf2's
 * DNS cache inside it is the point of sharing.  Each evaluation makes its
 * own libspf2 request and response and frees them before returning.
 *
 * libspf2's results are mapped here, once, to enum spfcheck_result; no
 * libspf2 type or call leaves this module (and the DNS layers).  Every
 * record libspf2 evaluates was fetched, checked and rewritten by
 * spfguard.c and spfrec.c, under the DNS budget of RFC 7208 section 4.6.4
 * (spfguard.h);
 * a check the budget ends is a permerror whose detail says why.  libspf2's
 * SPF_RESULT_INVALID (what it returns when the top-level lookup fails or
 * the record does not parse) becomes temperror or permerror here.
 *
 * Every string in a struct spfcheck_answer may carry text from the client
 * or from DNS: escape it (esc.h) before a log line or an SMTP reply.  The
 * header values are built from it by authres.h.
 */
#ifndef HOP_SPFCHECK_H
#define HOP_SPFCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

struct spfcheck;

enum spfcheck_result {
	SPFCHECK_NONE,
	SPFCHECK_NEUTRAL,
	SPFCHECK_PASS,
	SPFCHECK_FAIL,
	SPFCHECK_SOFTFAIL,
	SPFCHECK_TEMPERROR,
	SPFCHECK_PERMERROR,
};

enum spfcheck_identity {
	SPFCHECK_ID_MAILFROM,  /* the MAIL FROM domain decided */
	SPFCHECK_ID_HELO,      /* the HELO name decided (null sender, or HELO fail) */
};

struct spfcheck_opts {
	const char *receiver;  /* our name (authserv_id): headers, %{r} */
	long dns_timeout_ms;   /* one DNS query */
	long timeout_ms;       /* all lookups of one spfcheck_message() */
};

/* One evaluation's outcome, and what the headers need; no pointers, copy freely. */
struct spfcheck_answer {
	enum spfcheck_result result;
	enum spfcheck_identity identity;
	enum spfcheck_result helo_result;   /* SPFCHECK_NONE when HELO was not checkable */
	bool deadline;                      /* the time budget ran out */
	char ip[NET_ADDR_STRLEN];
	char helo[256];                     /* as given (may be empty or no domain) */
	char sender[520];                   /* local@domain, "" for the null sender */
	char domain[256];                   /* the domain that decided */
	char detail[300];                   /* fail: the explanation; errors: what went wrong */
	char raw[200];                      /* libspf2's own words, for debug logs */
};

/*
 * Build a checker that asks real DNS (resolv.conf).  0, or -1 with `err`.
 * Call before threads that use it start.
 */
int spfcheck_new(const struct spfcheck_opts *o, struct spfcheck **out, char *err,
    size_t errsz);

/* Record types for an offline checker's zone. */
enum spfcheck_rr {
	SPFCHECK_RR_A,
	SPFCHECK_RR_AAAA,
	SPFCHECK_RR_MX,        /* data "10 mx.example" */
	SPFCHECK_RR_TXT,       /* one record, its strings already joined */
	SPFCHECK_RR_PTR,
	SPFCHECK_RR_TIMEOUT,   /* every other type of the name: a timeout; no data */
	SPFCHECK_RR_NODATA,    /* the name exists, other types have no data; no data */
};

/*
 * A checker that never touches the network: it answers from a zone filled
 * with spfcheck_zone_add() (unknown names do not exist), as DNS messages
 * in wire format parsed like a real server's, through the same guard,
 * cache and evaluation as the real one.  For tests.
 */
int spfcheck_new_offline(const struct spfcheck_opts *o, struct spfcheck **out, char *err,
    size_t errsz);
/*
 * Add a record: a name's typed records first, then at most one TIMEOUT or
 * NODATA entry for it.  Only before evaluations start.  0, or -1 for bad
 * data (an unparsable address, a checker with real DNS).
 */
int spfcheck_zone_add(struct spfcheck *sc, const char *name, enum spfcheck_rr type,
    const char *data);

/*
 * Add one TXT record given as `len` bytes (NULs allowed; a server's
 * strings of at most 255 bytes are made of it).  Same rules as above.
 */
int spfcheck_zone_add_txt(struct spfcheck *sc, const char *name, const void *data, size_t len);

void spfcheck_free(struct spfcheck *sc);

/*
 * check_host() for one identity: `sender` is "local@domain", or "" for the
 * null sender, which RFC 7208 section 2.4 replaces by postmaster@`helo`.
 * Runs under its own deadline of the configured timeout.
 */
void spfcheck_identity(struct spfcheck *sc, const struct net_addr *ip, const char *helo,
    const char *sender, struct spfcheck_answer *a);

/*
 * The evaluation of one message, all under one deadline: the HELO name
 * (when it is a domain name), then the MAIL FROM identity.  The HELO result
 * decides for the null sender, and when it is "fail" (RFC 7208 section 2.3:
 * a definite HELO result need not wait for MAIL FROM); otherwise MAIL FROM
 * decides.  A sender whose domain is no domain name (an address literal,
 * none at all) has the result "none".  In the MAIL FROM check, %{h} is
 * `helo` exactly as the client sent it (RFC 7208 section 7.3), whatever it
 * is: a record using %{h} must not turn into a permerror the sender can
 * pick by sending a HELO that is no domain.
 */
void spfcheck_message(struct spfcheck *sc, const struct net_addr *ip, const char *helo,
    const char *sender, struct spfcheck_answer *a);

/* "pass", "fail", ... as RFC 7208 and RFC 8601 spell them. */
const char *spfcheck_result_name(enum spfcheck_result r);

#endif
