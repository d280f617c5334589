/*
 * spfdns - hopmilter's DNS layers under libspf2: the guard (deadline, the
 * RFC 7208 budget, vetted records, explanations), a resolver with a
 * per-query time limit, and an offline zone for tests.
 *
 *   SPF_server_t -> guard -> libspf2 cache -> resolver (or zone)
 *
 * The records are written by the sender, that is by whoever wants the mail
 * in, so libspf2 sees only what the guard let through:
 *   - get_spf: every SPF record (the checked domain's, each include and
 *     redirect) is fetched here, judged and rewritten by spfrec.h, then
 *     compiled by libspf2.  A record that fails is a permerror whose
 *     reason libspf2 reports.
 *   - get_exp: the explanation (the TXT record exp= names) is expanded
 *     here by the RFC's rules (upper-case %XX escapes, upper-case IPv6
 *     nibbles), or the default one when it is missing or invalid.
 *   - The budget of one check (RFC 7208 section 4.6.4), includes and
 *     redirects included (libspf2 gives each include a fresh count): more
 *     than 10 DNS-querying terms or more than 2 void lookups end the check
 *     as a permerror (spfdns_check_end() says why) and no further query
 *     goes out; at most 10 MX or PTR names are looked at (PTR names past
 *     10 are ignored).  Names longer than 253 lose labels on the left
 *     (section 7.3); what is no DNS name is not asked for.
 *   - A second line for the whole message: at most SPFDNS_MESSAGE_QUERIES
 *     queries, whatever the terms; then the check ends as a permerror.
 *   - The deadline: every lookup after it is answered TRY_AGAIN (libspf2
 *     turns that into temperror) without asking; type SPF (99) is
 *     answered "no data" at once (RFC 7208 retired it; libspf2 asks).
 *
 * The resolver gives each query at most the smaller of its own limit and
 * what is left until the deadline.  The zone answers from records added
 * before use, by building the DNS message a server would send and parsing
 * it like the resolver's, so a test's bytes (NUL included) take the same
 * path as a real server's.
 *
 * State is per thread: spfdns_deadline_start()/_stop() bracket one
 * message, spfdns_check_start()/_end() one check inside it; libspf2 runs
 * synchronously on the calling thread.  Nothing of a session is kept here,
 * so libmilter's worker pool (a session's callbacks may move between
 * threads) is no concern.
 *
 * Only spfcheck.c uses this module; it, spfdns.c and spfrec.c are the only
 * files that know about SPF records.
 */
#ifndef HOP_SPFDNS_H
#define HOP_SPFDNS_H

#include <stdbool.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

/*
 * The resolver layer: real DNS through the system resolver configuration
 * (resolv.conf, read once per thread), each query limited to
 * `query_timeout_ms` (whole seconds: the libc resolver counts in seconds).
 * NULL on allocation failure.  Freed with SPF_dns_free() of the top layer.
 */
SPF_dns_server_t *spfdns_resolver_new(long query_timeout_ms);

/*
 * The guard over `below` (which it owns); `default_exp` is the macro-string
 * explaining a fail whose domain gives no explanation (copied).  Its server
 * must be made with SPF_server_new_dns(guard).  NULL on allocation failure.
 */
SPF_dns_server_t *spfdns_guard_new(SPF_dns_server_t *below, const char *default_exp);

/*
 * The per-message cap on DNS lookups, cache hits included (hopmilter.conf(5)
 * states it): the RFC budget allows 111 per check (the record, 10 mx terms
 * of 10 names), 222 for HELO and MAIL FROM, plus an explanation.
 */
#define SPFDNS_MESSAGE_QUERIES 240

/* For tests, before any evaluation: another cap (<= 0: the default). */
void spfdns_set_message_cap(int lookups);

/* One check (one identity) starts: a fresh budget. */
void spfdns_check_start(void);
/* The check ended: NULL, or why the budget made it a permerror (a static string). */
const char *spfdns_check_end(void);
/* Queries sent for this message so far (since spfdns_deadline_start()). */
int spfdns_message_queries(void);
/* The label spfrec appends for a/mx "/0" (random per process). */
const char *spfdns_any_mark(void);

/* An empty offline zone: unknown names do not exist.  NULL on allocation failure. */
SPF_dns_server_t *spfdns_zone_new(void);
/*
 * Add to `zone`, before use: a record of `type` (A, AAAA, MX "10 name",
 * PTR as text; TXT as `len` bytes, NULs allowed, split into strings of 255
 * the way a server sends a long record), or with type 0 the `status`
 * (TRY_AGAIN or NO_DATA) of every type not added before for the name.
 * "*.example" names a wildcard.  0, or -1 for bad data.
 */
int spfdns_zone_add(SPF_dns_server_t *zone, const char *name, ns_type type, const char *data,
    size_t len, int status);

/* Lookups by this thread from now on must end within `budget_ms`. */
void spfdns_deadline_start(long budget_ms);
/* Has some lookup since the start been refused or cut short by the deadline? */
bool spfdns_deadline_hit(void);
/* Back to no deadline. */
void spfdns_deadline_stop(void);

#endif
