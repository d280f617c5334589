/*
 * spfdns - hopmilter's DNS layers under libspf2: a deadline and a resolver
 * with a per-query time limit.
 *
 * libspf2's own resolver has no timeout of its own (it takes whatever
 * resolv.conf says, per thread) and nothing bounds the sum of the lookups
 * one evaluation makes.  A silent DNS server would then hold the MAIL FROM
 * callback past Postfix's milter_command_timeout, and Postfix disables the
 * milter for the rest of the session.  These layers give every evaluation
 * a deadline instead:
 *
 *   SPF_server_t -> deadline layer -> libspf2 cache -> resolver (or a zone)
 *
 * The deadline layer answers every lookup made after the deadline with
 * TRY_AGAIN (libspf2 turns that into temperror) without asking the cache,
 * and answers type-SPF (99) queries with "no data" at once: RFC 7208
 * retired that type, yet libspf2 1.2.10 asks for it before every TXT
 * lookup, which doubles the DNS traffic and the time spent on a silent
 * server.  It also repairs what libspf2 gets wrong about explanations
 * (the TXT record exp= names): spaces in it are spelt as the macro "%_",
 * and a target with several records or non-ASCII text reads as "no data"
 * (the default explanation, RFC 7208 section 6.2).  The resolver gives
 * each query at most the smaller of its own limit and what is left until
 * the deadline.
 *
 * The deadline is per thread: spfdns_deadline_start() and
 * spfdns_deadline_stop() bracket one evaluation, which libspf2 runs
 * synchronously on the calling thread.  Nothing of a session is kept here,
 * so libmilter's worker pool (a session's callbacks may move between
 * threads) is no concern.
 *
 * Only spfcheck.c uses this module; it and spfcheck.c are the only files
 * that call libspf2.
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

/* The deadline layer over `below` (which it owns).  NULL on allocation failure. */
SPF_dns_server_t *spfdns_deadline_new(SPF_dns_server_t *below);

/* Lookups by this thread from now on must end within `budget_ms`. */
void spfdns_deadline_start(long budget_ms);
/* Has some lookup since the start been refused or cut short by the deadline? */
bool spfdns_deadline_hit(void);
/* Back to no deadline. */
void spfdns_deadline_stop(void);

#endif
