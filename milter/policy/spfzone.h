/*
 * spfzone - a DNS layer for tests that never touches the network: it
 * answers from records added before use by building the DNS message a
 * server would send and reading it like the resolver reads a real one
 * (spfdns_reply), so a test's bytes (NUL included) take the same path as
 * a real server's.
 *
 * Records are added before evaluations start (no locking after that).
 */
#ifndef HOP_SPFZONE_H
#define HOP_SPFZONE_H

#include "spfdns.h"

/* An empty zone: unknown names do not exist.  NULL on allocation failure. */
SPF_dns_server_t *spfzone_new(void);
/*
 * Add to `zone`: a record of `type` (A, AAAA, MX "10 name", PTR as text;
 * TXT as `len` bytes, NULs allowed, split into strings of 255 the way a
 * server sends a long record), or with type 0 the `status` (TRY_AGAIN or
 * NO_DATA) of every type not added before for the name.  "*.example"
 * names a wildcard.  0, or -1 for bad data.
 */
int spfzone_add(SPF_dns_server_t *zone, const char *name, ns_type type, const char *data,
    size_t len, int status);

#endif
