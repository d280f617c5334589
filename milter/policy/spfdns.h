/*
 * spfdns - hopmilter's DNS under libspf2: the per-thread deadline, the
 * resolver layer, and the helpers the other layers (spfguard.h, the
 * guard on top; spfzone.h, the offline zone for tests) share.
 *
 *   SPF_server_t -> guard -> libspf2 cache -> resolver (or zone)
 *
 * libspf2's own resolver has no timeout of its own (it takes whatever
 * resolv.conf says, per thread) and nothing bounds the sum of the lookups
 * one evaluation makes.  A silent DNS server would then hold the MAIL FROM
 * callback past Postfix's milter_command_timeout, and Postfix disables the
 * milter for the rest of the session.  So every message gets a deadline:
 * the guard asks nothing after it (libspf2 turns the TRY_AGAIN into
 * temperror), and the resolver gives each query at most the smaller of its
 * own limit and what is left until then.
 *
 * The deadline is per thread: spfdns_deadline_start() and
 * spfdns_deadline_stop() bracket one message, which libspf2 evaluates
 * synchronously on the calling thread.  Nothing of a session is kept here,
 * so libmilter's worker pool (a session's callbacks may move between
 * threads) is no concern.
 *
 * Only spfcheck.c and the layers use this module; they and spfrec.c are
 * the only files that know about SPF records and libspf2.
 */
#ifndef HOP_SPFDNS_H
#define HOP_SPFDNS_H

#include <stdbool.h>
#include <stddef.h>
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

/* Lookups by this thread from now on must end within `budget_ms`; the query count restarts. */
void spfdns_deadline_start(long budget_ms);
/* Has some lookup since the start been refused or cut short by the deadline? */
bool spfdns_deadline_hit(void);
/* Back to no deadline. */
void spfdns_deadline_stop(void);

/* For the layers: is the deadline past?  (Then it counts as hit.) */
bool spfdns_deadline_passed(void);
/* For the layers: count one more lookup, unless `cap` were already made since the start. */
bool spfdns_query_take(int cap);
/* Lookups counted since spfdns_deadline_start(). */
int spfdns_queries(void);

/* A record set with no data and the given status; NULL only when out of memory. */
SPF_dns_rr_t *spfdns_status(SPF_dns_server_t *d, const char *domain, ns_type type, int ttl,
    SPF_dns_stat_t status);
/* A layer over `below` whose hook is freed with it by spfdns_layer_free (or `destroy`). */
SPF_dns_server_t *spfdns_layer_new(const char *name, SPF_dns_lookup_t lookup,
    SPF_dns_destroy_t destroy, SPF_dns_server_t *below, void *hook);
void spfdns_layer_free(SPF_dns_server_t *d);
/*
 * A DNS server's reply message (`len` bytes) to (domain, type) as a record
 * set, the way the resolver reads one: NXDOMAIN does not exist, other
 * errors and malformed messages are TRY_AGAIN, TXT strings are joined (a
 * NUL in them becomes 0xff: libspf2 keeps C strings).
 */
SPF_dns_rr_t *spfdns_reply(SPF_dns_server_t *d, const char *domain, ns_type type,
    const unsigned char *buf, size_t len);

#endif
