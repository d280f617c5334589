/*
 * dset - open-addressing hash set of domain names.  See dset.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dset.h"

struct dset_entry {
	char *name;      /* NULL: free slot */
	size_t len;
	bool subdomains;
};

struct dset {
	struct dset_entry *slots;
	size_t cap;      /* power of two */
	size_t count;
};

/* FNV-1a: short keys, no adversary can choose our configuration. */
static uint64_t
dset_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static struct dset_entry *
dset_find(const struct dset *s, const char *name, size_t len)
{
	size_t mask = s->cap - 1;

	for (size_t i = dset_hash(name, len) & mask;; i = (i + 1) & mask) {
		struct dset_entry *e = &s->slots[i];

		if (e->name == NULL || (e->len == len && memcmp(e->name, name, len) == 0))
			return e;
	}
}

struct dset *
dset_new(void)
{
	struct dset *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cap = 16;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (s->slots == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static int
dset_grow(struct dset *s)
{
	struct dset old = *s;

	s->cap *= 2;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (s->slots == NULL) {
		*s = old;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].name != NULL)
			*dset_find(s, old.slots[i].name, old.slots[i].len) = old.slots[i];
	free(old.slots);
	return 0;
}

int
dset_add(struct dset *s, const char *name, bool subdomains)
{
	size_t len = strlen(name);
	struct dset_entry *e;

	/* Keep the load at most one half so probes stay short. */
	if ((s->count + 1) * 2 > s->cap && dset_grow(s) != 0)
		return -1;
	e = dset_find(s, name, len);
	if (e->name != NULL) {
		e->subdomains = e->subdomains || subdomains;
		return 0;
	}
	e->name = malloc(len + 1);
	if (e->name == NULL)
		return -1;
	memcpy(e->name, name, len + 1);
	e->len = len;
	e->subdomains = subdomains;
	s->count++;
	return 0;
}

bool
dset_match(const struct dset *s, const char *domain)
{
	const char *p = domain;
	size_t len = strlen(domain);
	const struct dset_entry *e;

	if (s == NULL || s->count == 0)
		return false;
	e = dset_find(s, p, len);
	if (e->name != NULL)
		return true;
	/* Parents match only through entries that cover their subdomains. */
	for (const char *dot = strchr(p, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		e = dset_find(s, dot + 1, len - (size_t)(dot + 1 - domain));
		if (e->name != NULL && e->subdomains)
			return true;
	}
	return false;
}

size_t
dset_count(const struct dset *s)
{
	return s ? s->count : 0;
}

void
dset_free(struct dset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].name);
	free(s->slots);
	free(s);
}
