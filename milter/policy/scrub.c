/*
 * scrub - find internal addresses in a Received header value.
 */
#include "config.h"

#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "scrub.h"

/* Characters of a token: words, numbers, addresses, "IPv6:" prefixes. */
static bool
scrub_tokchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == ':' || c == '.' || c == '%' || c == '-' || c == '_';
}

/* Parse one candidate token; false if it is not an address. */
static bool
scrub_token_addr(const char *tok, size_t len, struct net_addr *out)
{
	char buf[NET_ADDR_STRLEN + 8];
	char *cut;

	if (len >= 5 && strncasecmp(tok, "IPv6:", 5) == 0) {
		tok += 5;
		len -= 5;
	}
	/* "10.0.0.1." at the end of a sentence. */
	while (len > 0 && tok[len - 1] == '.')
		len--;
	if (len < 2 || len >= sizeof(buf))
		return false;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	/* A scoped address (fe80::1%eth0) names the same host. */
	cut = strchr(buf, '%');
	if (cut != NULL)
		*cut = '\0';
	if (net_addr_parse(buf, out) == 0)
		return true;
	/* "192.0.2.1:25": an IPv4 address with a port. */
	cut = strchr(buf, ':');
	if (cut != NULL && strchr(cut + 1, ':') == NULL) {
		*cut = '\0';
		return net_addr_parse(buf, out) == 0 && out->family == AF_INET;
	}
	return false;
}

bool
scrub_names_internal(const char *value, const struct net_list *a, const struct net_list *b,
    struct net_addr *found)
{
	const unsigned char *p = (const unsigned char *)value;

	while (*p != '\0') {
		const unsigned char *start;
		struct net_addr addr;

		while (*p != '\0' && !scrub_tokchar(*p))
			p++;
		start = p;
		while (*p != '\0' && scrub_tokchar(*p))
			p++;
		if (p == start)
			continue;
		if (!scrub_token_addr((const char *)start, (size_t)(p - start), &addr))
			continue;
		if ((a != NULL && net_list_contains(a, &addr)) ||
		    (b != NULL && net_list_contains(b, &addr))) {
			if (found != NULL)
				*found = addr;
			return true;
		}
	}
	return false;
}
