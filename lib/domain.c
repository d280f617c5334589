/*
 * domain - domain name normalisation.  See domain.h.
 */
#include "config.h"

#include <string.h>

#include "domain.h"

static int
domain_char_ok(unsigned char c)
{
	/* Underscore is not a host-name character, but it occurs in real MX names. */
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	    c >= 0x80;
}

int
domain_normalize(const char *in, char *out, size_t outsz, const char **why)
{
	size_t len = strlen(in), label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty domain";
		return -1;
	}
	if (len > DOMAIN_MAX || len + 1 > outsz) {
		*why = "domain longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0) {
				*why = "empty label in domain";
				return -1;
			}
			label = 0;
		} else if (!domain_char_ok(c)) {
			*why = "character not allowed in a domain";
			return -1;
		} else if (++label > 63) {
			*why = "domain label longer than 63 characters";
			return -1;
		}
		out[i] = (char)c;
	}
	/* "example.com.." would otherwise keep a dot: an empty last label. */
	if (label == 0) {
		*why = "empty label in domain";
		return -1;
	}
	out[len] = '\0';
	return 0;
}
