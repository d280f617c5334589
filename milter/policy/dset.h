/*
 * dset - a set of domain names with "and its subdomains" entries.
 *
 * Lookup walks the name from the full domain up through its parents, one
 * hash probe per label, so the cost depends on the name's depth and not on
 * the size of the list (a ban list can hold many thousands of domains).
 * Names must be normalised (domain_normalize) before add and match.
 * A dset is immutable once built and may be read from any thread.
 */
#ifndef HOP_DSET_H
#define HOP_DSET_H

#include <stdbool.h>
#include <stddef.h>

struct dset;

struct dset *dset_new(void);
/* Add `name`; with `subdomains` it also matches every name below it.  0 or -1 (ENOMEM). */
int dset_add(struct dset *s, const char *name, bool subdomains);
/* True if `domain` is in the set, or below an entry added with subdomains. */
bool dset_match(const struct dset *s, const char *domain);
size_t dset_count(const struct dset *s);
void dset_free(struct dset *s);

#endif
