/*
 * fuzz_conf - libFuzzer harness for hopmilter.conf parsing (libconfuse
 * plus milter/policy/conf.c and lib/cfgx.c).  A file is either accepted, or
 * refused with a message that starts with the file name.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/policy/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[1024];
	struct conf *c = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (conf_load_string("fuzz.conf", s, &c, err, sizeof(err)) == 0) {
		if (c == NULL)
			abort();
		conf_free(c);
	} else if (c != NULL || strncmp(err, "fuzz.conf", 9) != 0) {
		abort();
	}
	free(s);
	return 0;
}
