/*
 * fuzz_esc - libFuzzer harness for lib/esc.c.  The escaped forms must keep
 * their promises whatever the input: a log field has no byte outside
 * 0x21-0x7e, an SMTP reply text has no CR, LF or lone '%'.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "esc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[600];
	size_t sz;

	if (s == NULL || size == 0) {
		free(s);
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	/* The first byte picks the output size, to exercise truncation. */
	sz = 1 + (unsigned char)data[0] % sizeof(out);
	esc_log(out, sz, s + 1);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			abort();
	esc_reply(out, sz, s + 1);
	for (const char *p = out; *p; p++) {
		if (*p == '\r' || *p == '\n')
			abort();
		if (*p == '%') {
			if (p[1] != '%')
				abort();
			p++;
		}
	}
	free(s);
	return 0;
}
