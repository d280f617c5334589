/*
 * spfguard - the DNS layer on top of libspf2's stack, through which every
 * lookup and every record of an SPF check passes.
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
 *     as a permerror (spfguard_check_end() says why) and no further query
 *     goes out; at most 10 MX or PTR names are looked at (PTR names past
 *     10 are ignored).  Names longer than 253 lose labels on the left
 *     (section 7.3); what is no DNS name is not asked for.
 *   - A second line for the whole message: at most SPFGUARD_MESSAGE_LOOKUPS
 *     lookups, whatever the terms; then the check ends as a permerror.
 *   - The deadline (spfdns.h): nothing is asked after it; type SPF (99) is
 *     answered "no data" at once (RFC 7208 retired it; libspf2 asks).
 *
 * State is per thread: spfguard_check_start()/_end() bracket one check
 * (one identity) inside a message's spfdns_deadline_start()/_stop().
 */
#ifndef HOP_SPFGUARD_H
#define HOP_SPFGUARD_H

#include "spfdns.h"

/*
 * The per-message cap on DNS lookups, cache hits included (hopmilter.conf(5)
 * states it): the RFC budget allows 111 per check (the record, 10 mx terms
 * of 10 names), 222 for HELO and MAIL FROM, plus an explanation.
 */
#define SPFGUARD_MESSAGE_LOOKUPS 240

/*
 * The guard over `below` (which it owns); `default_exp` is the macro-string
 * explaining a fail whose domain gives no explanation (copied).  Its server
 * must be made with SPF_server_new_dns(guard).  NULL on allocation failure.
 */
SPF_dns_server_t *spfguard_new(SPF_dns_server_t *below, const char *default_exp);

/* One check (one identity) starts: a fresh budget. */
void spfguard_check_start(void);
/* The check ended: NULL, or why the budget made it a permerror (a static string). */
const char *spfguard_check_end(void);
/* For tests, before any evaluation: another cap (<= 0: the default). */
void spfguard_set_message_cap(int lookups);
/* The label spfrec appends for a/mx "/0" (random per process). */
const char *spfguard_any_mark(void);

#endif
