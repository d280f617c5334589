/*
 * fuzz_netaddr - libFuzzer harness for address and CIDR parsing
 * (lib/netaddr.c): configuration lists and addresses found in headers.
 * Checks that the text form of a parsed address parses back to the same
 * address, and that a parsed network contains its own base address.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), text[NET_ADDR_STRLEN];
	struct net_addr a, b;
	struct net_cidr n;
	const char *why;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (net_addr_parse(s, &a) == 0) {
		net_addr_format(&a, text, sizeof(text));
		if (net_addr_parse(text, &b) != 0 || !net_addr_equal(&a, &b))
			abort();
	}
	if (net_cidr_parse(s, &n, &why) == 0) {
		if (!net_cidr_contains(&n, &n.addr))
			abort();
	} else if (why == NULL) {
		abort();
	}
	free(s);
	return 0;
}
