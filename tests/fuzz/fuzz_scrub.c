/*
 * fuzz_scrub - libFuzzer harness for Received header scrubbing
 * (milter/policy/scrub.c): header values come straight from the message.  An
 * address the scrubber reports must really lie in the given networks.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "milter/policy/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct net_list fuzz_nets;

static void
fuzz_init(void)
{
	static const char *list[] = {"10.200.0.0/24", "fd00:200::/64", "192.168.0.0/16", NULL};

	for (const char **p = list; *p != NULL; p++) {
		struct net_cidr n;
		const char *why;

		if (net_cidr_parse(*p, &n, &why) == 0)
			net_list_add(&fuzz_nets, &n);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct net_addr found;

	if (s == NULL)
		return 0;
	if (fuzz_nets.n == 0)
		fuzz_init();
	memcpy(s, data, size);
	s[size] = '\0';
	if (scrub_names_internal(s, &fuzz_nets, NULL, &found) &&
	    !net_list_contains(&fuzz_nets, &found))
		abort();
	free(s);
	return 0;
}
