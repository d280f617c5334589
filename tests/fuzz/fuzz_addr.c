/*
 * fuzz_addr - libFuzzer harness for envelope address and domain parsing
 * (lib/addr.c, lib/domain.c): the text a client sends in MAIL FROM and
 * RCPT TO.  Besides "no crash", it checks what the policy relies on: a
 * parsed domain is normalised (lower case, no trailing dot) and
 * normalising it again changes nothing.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[DOMAIN_MAX + 1];
	struct addr a;
	const char *why;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_parse(s, &a) == ADDR_OK) {
		for (const char *p = a.domain; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				abort();
		if (domain_normalize(a.domain, again, sizeof(again), &why) != 0 ||
		    strcmp(again, a.domain) != 0)
			abort();
	}
	free(s);
	return 0;
}
