/*
 * domain - domain name normalisation.  See domain.h.
 */
#include "config.h"

#include <idn2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain.h"

/* Longer input is refused before libidn2 sees it: no valid name is near it. */
#define DOMAIN_INPUT_MAX 1024

static int
domain_char_ok(unsigned char c)
{
	/* Underscore is not a host-name character, but it occurs in real MX names. */
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The ASCII form: lower case, host-name characters, label and name lengths. */
static int
domain_ascii(const char *in, size_t len, char *out, size_t outsz, const char **why)
{
	size_t label = 0;

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

/* Does the name need libidn2: 8-bit bytes, or a label starting "xn--"? */
static bool
domain_is_idn(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)in[i] >= 0x80)
			return true;
		if ((i == 0 || in[i - 1] == '.') && len - i >= 4 && strncasecmp(in + i, "xn--", 4) == 0)
			return true;
	}
	return false;
}

static size_t
domain_count_dots(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '.';
	return n;
}

int
domain_normalize(const char *in, char *out, size_t outsz, const char **why)
{
	size_t len = strnlen(in, DOMAIN_INPUT_MAX + 1);
	char buf[DOMAIN_INPUT_MAX + 1], *alabels = NULL;
	int rc;

	if (len > DOMAIN_INPUT_MAX) {
		*why = "domain longer than 253 characters";
		return -1;
	}
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || !domain_is_idn(in, len))
		return domain_ascii(in, len, out, outsz, why);
	/*
	 * UTS #46 non-transitional processing maps case (and NFC), then
	 * IDNA2008 checks every label; an "xn--" label is decoded and checked
	 * as the U-label it stands for.
	 */
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (buf[0] == '.' || strstr(buf, "..") != NULL) {
		*why = "empty label in domain";
		return -1;
	}
	if (idn2_to_ascii_8z(buf, &alabels, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK) {
		*why = "invalid internationalised domain name (IDNA2008)";
		return -1;
	}
	/*
	 * UTS #46 maps the ideographic and full-width full stops to '.': a
	 * name whose labels an MTA (which splits at '.' only) counts
	 * differently from us is refused, not guessed.
	 */
	if (domain_count_dots(alabels) != domain_count_dots(buf)) {
		idn2_free(alabels);
		*why = "invalid internationalised domain name (a dot other than '.')";
		return -1;
	}
	rc = domain_ascii(alabels, strlen(alabels), out, outsz, why);
	idn2_free(alabels);
	return rc;
}

int
domain_normalize_loose(const char *in, char *out, size_t outsz)
{
	size_t len = strnlen(in, DOMAIN_INPUT_MAX + 1), o = 0;
	const char *why;

	if (len > DOMAIN_INPUT_MAX)
		return -1;
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0)
		return -1;
	for (size_t start = 0; start <= len;) {
		size_t end = start;
		char label[DOMAIN_INPUT_MAX + 1], norm[DOMAIN_MAX + 1];
		const char *use = norm;
		size_t n;

		while (end < len && in[end] != '.')
			end++;
		if (end == start)
			return -1;
		memcpy(label, in + start, end - start);
		label[end - start] = '\0';
		if (domain_normalize(label, norm, sizeof(norm), &why) != 0) {
			/* Kept as written, ASCII letters folded. */
			for (char *p = label; *p != '\0'; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			use = label;
		}
		n = strlen(use);
		if (o + n + 2 > outsz)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, use, n);
		o += n;
		start = end + 1;
	}
	out[o] = '\0';
	return 0;
}
