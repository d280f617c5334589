/*
 * addr - RFC 5321 envelope address parsing.  See addr.h.
 */
#include "config.h"

#include <string.h>

#include "addr.h"

/* Length of `s` without leading/trailing blanks, and where it starts. */
static const char *
addr_trim(const char *s, size_t *len)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*len = n;
	return s;
}

/*
 * The index of the first character at or after `i` that stands outside a
 * quoted string (quote marks and quoted pairs are stepped over), or `len`.
 * `*quoted` carries the state from one call to the next; it is still true
 * at `len` when a quote is left open.
 */
static size_t
addr_next_unquoted(const char *s, size_t len, size_t i, bool *quoted)
{
	for (; i < len; i++) {
		if (*quoted && s[i] == '\\' && i + 1 < len)
			i++;
		else if (s[i] == '"')
			*quoted = !*quoted;
		else if (!*quoted)
			return i;
	}
	return len;
}

/*
 * Index of the '@' that separates local part and domain: the last one
 * outside a quoted string.  -1 if none; -2 on an unterminated quote.
 */
static long
addr_find_at(const char *s, size_t len)
{
	bool quoted = false;
	long at = -1;

	for (size_t i = addr_next_unquoted(s, len, 0, &quoted); i < len;
	    i = addr_next_unquoted(s, len, i + 1, &quoted))
		if (s[i] == '@')
			at = (long)i;
	return quoted ? -2 : at;
}

/* Unquoted '%', '!' or '@' in the local part: an attempt at routing. */
static bool
addr_local_is_routed(const char *s, size_t len)
{
	bool quoted = false;

	for (size_t i = addr_next_unquoted(s, len, 0, &quoted); i < len;
	    i = addr_next_unquoted(s, len, i + 1, &quoted))
		if (s[i] == '%' || s[i] == '!' || s[i] == '@')
			return true;
	return false;
}

static enum addr_status
addr_parse_domain(const char *d, size_t len, struct addr *out)
{
	char tmp[DOMAIN_MAX + 3];
	const char *why;

	if (len == 0 || len > DOMAIN_MAX + 1)
		return ADDR_INVALID;
	if (d[0] == '[') {
		if (d[len - 1] != ']' || len < 3)
			return ADDR_INVALID;
		memcpy(out->domain, d, len);
		out->domain[len] = '\0';
		return ADDR_LITERAL;
	}
	memcpy(tmp, d, len);
	tmp[len] = '\0';
	if (domain_normalize(tmp, out->domain, sizeof(out->domain), &why) != 0) {
		/* For a ban list only (addr.h); "" when even that fails. */
		if (domain_normalize_loose(tmp, out->domain, sizeof(out->domain)) != 0)
			out->domain[0] = '\0';
		return ADDR_INVALID;
	}
	return ADDR_OK;
}

enum addr_status
addr_parse(const char *arg, struct addr *out)
{
	size_t len;
	const char *s = addr_trim(arg, &len);
	long at;

	memset(out, 0, sizeof(*out));
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		s++;
		len -= 2;
	} else if (len > 0 && (s[0] == '<' || s[len - 1] == '>')) {
		return ADDR_INVALID;
	}
	if (len == 0)
		return ADDR_NULL;
	if (s[0] == '@') {
		/* Source route: everything up to the first ':' is advisory only. */
		const char *colon = memchr(s, ':', len);

		if (colon == NULL)
			return ADDR_INVALID;
		out->source_route = true;
		len -= (size_t)(colon + 1 - s);
		s = colon + 1;
		if (len == 0)
			return ADDR_INVALID;
	}
	at = addr_find_at(s, len);
	if (at == -2)
		return ADDR_INVALID;
	if (at == -1) {
		if (len > ADDR_LOCAL_MAX)
			return ADDR_INVALID;
		memcpy(out->local, s, len);
		out->routed_local = addr_local_is_routed(s, len);
		return ADDR_NO_DOMAIN;
	}
	if (at == 0 || (size_t)at > ADDR_LOCAL_MAX)
		return ADDR_INVALID;
	memcpy(out->local, s, (size_t)at);
	out->routed_local = addr_local_is_routed(s, (size_t)at);
	return addr_parse_domain(s + at + 1, len - (size_t)at - 1, out);
}
