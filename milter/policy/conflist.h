/*
 * conflist - the list options of hopmilter.conf whose entries may name a
 * list file: allowed_domains, banned_domains and the exemption lists of
 * the ratelimit and spf sections.
 *
 * An entry "file:/absolute/path" stands for every item of that file
 * (lib/listfile.h: one per line, '#' comments), checked exactly like an
 * entry written in the configuration.  Files are read when the
 * configuration is built -- at start-up and on SIGUSR1 -- so editing a
 * list file takes effect with the next reload, and an error in it is
 * "LISTFILE:LINE: reason" and leaves the running configuration in place.
 * Lookups go to the built set (dset, net_list), so a list's size does not
 * touch the per-message path beyond one hash probe per label (dset.h) or
 * one bisection of the merged address ranges (netaddr.h).
 */
#ifndef HOP_CONFLIST_H
#define HOP_CONFLIST_H

#include <confuse.h>
#include <stdbool.h>
#include <stddef.h>

#include "dset.h"
#include "netaddr.h"

/* libconfuse validators: a domain (or ".domain") or a file: entry; a CIDR or a file: entry. */
int conflist_validate_domains(cfg_t *cfg, cfg_opt_t *opt);
int conflist_validate_nets(cfg_t *cfg, cfg_opt_t *opt);

/*
 * Build the set of the list option `name` of section `sec`.  With
 * `dotted`, a leading '.' means "and its subdomains" (allowed_domains);
 * without, every entry covers its subdomains (banned_domains).  0, or -1
 * with `err` ("LISTFILE:LINE: reason", or "out of memory").
 */
int conflist_domains(cfg_t *sec, const char *name, bool dotted, struct dset **out, char *err,
    size_t errsz);
/* The same for networks, appended to `out`, which is then built (net_list_build). */
int conflist_nets(cfg_t *sec, const char *name, struct net_list *out, char *err, size_t errsz);

#endif
