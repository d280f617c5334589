/*
 * fuzz_route - libFuzzer harness for hoprelay.conf parsing (libconfuse
 * plus relay-transport/route.c and lib/cfgx.c).  A file is either accepted,
 * with every route usable (hops, a name, sane timeouts), or refused with a
 * message that starts with the file name.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-transport/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[1024];
	struct route_conf *c = NULL;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (route_load_string("fuzz.conf", s, &c, err, sizeof(err)) == 0) {
		if (c == NULL || c->nroutes == 0)
			abort();
		for (size_t i = 0; i < c->nroutes; i++)
			if (c->routes[i].nhops == 0 || c->routes[i].name == NULL ||
			    c->routes[i].timeouts.connect <= 0 || c->routes[i].helo_name[0] == '\0')
				abort();
		route_find(c, "x");
		route_conf_free(c);
	} else if (c != NULL || strncmp(err, "fuzz.conf", 9) != 0) {
		abort();
	}
	free(s);
	return 0;
}
