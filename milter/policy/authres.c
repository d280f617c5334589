/*
 * authres - Authentication-Results and Received-SPF values, and forged
 * Authentication-Results detection.  See authres.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authres.h"
#include "domain.h"

/* snprintf at the end of `buf`; -1 once it no longer fits. */
static int __attribute__((format(printf, 4, 5)))
authres_cat(char *buf, size_t bufsz, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= bufsz)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, bufsz - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= bufsz - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* A quoted-string (RFC 5322) of `s`: '"' and '\' escaped, controls and 8-bit as '?'. */
static const char *
authres_quote(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s != '\0' && o + 4 < outsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			out[o++] = '\\';
		out[o++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* A domain for a comment or a token: host-name characters only, anything else '?'. */
static const char *
authres_name(const char *s, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < outsz; s++)
		out[o++] = (isalnum((unsigned char)*s) || strchr(".-_", *s) != NULL) ? *s : '?';
	out[o] = '\0';
	return out;
}

/* Is `s` a domain name that can stand unquoted (a dot-atom)? */
static bool
authres_is_name(const char *s)
{
	char norm[DOMAIN_MAX + 1];
	const char *why;

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return false;   /* a U-label is no dot-atom of RFC 5322 */
	return s[0] != '\0' && domain_normalize(s, norm, sizeof(norm), &why) == 0 &&
	    s[strlen(s) - 1] != '.';
}

int
authres_spf(const struct spfcheck_answer *a, const char *authserv_id, char *buf, size_t bufsz)
{
	size_t len = 0;

	if (authres_cat(buf, bufsz, &len, "%s; spf=%s", authserv_id,
	    spfcheck_result_name(a->result)) != 0)
		return -1;
	/* A property needs a name to name; a literal or missing domain gets none. */
	if (!authres_is_name(a->domain))
		return 0;
	return authres_cat(buf, bufsz, &len, " smtp.%s=%s",
	    a->identity == SPFCHECK_ID_HELO ? "helo" : "mailfrom", a->domain);
}

int
authres_spf_skipped(const char *authserv_id, const char *why, const char *domain, char *buf,
    size_t bufsz)
{
	size_t len = 0;

	if (authres_cat(buf, bufsz, &len, "%s; spf=none reason=\"%s\"", authserv_id, why) != 0)
		return -1;
	if (domain == NULL || !authres_is_name(domain))
		return 0;
	return authres_cat(buf, bufsz, &len, " smtp.mailfrom=%s", domain);
}

/* The comment RFC 7208 section 9.1 suggests, naming only the (cleaned) domain. */
static int
authres_comment(const struct spfcheck_answer *a, const char *receiver, char *buf,
    size_t bufsz, size_t *len)
{
	char d[DOMAIN_MAX + 1];
	const char *dom = authres_name(a->domain[0] != '\0' ? a->domain : "unknown", d, sizeof(d));

	switch (a->result) {
	case SPFCHECK_PASS:
		return authres_cat(buf, bufsz, len, "(%s: domain of %s designates %s as permitted "
		    "sender)", receiver, dom, a->ip);
	case SPFCHECK_FAIL:
		return authres_cat(buf, bufsz, len, "(%s: domain of %s does not designate %s as "
		    "permitted sender)", receiver, dom, a->ip);
	case SPFCHECK_SOFTFAIL:
		return authres_cat(buf, bufsz, len, "(%s: domain of transitioning %s does not "
		    "designate %s as permitted sender)", receiver, dom, a->ip);
	case SPFCHECK_NEUTRAL:
		return authres_cat(buf, bufsz, len, "(%s: %s is neither permitted nor denied by "
		    "domain of %s)", receiver, a->ip, dom);
	case SPFCHECK_NONE:
		return authres_cat(buf, bufsz, len, "(%s: domain of %s has no SPF policy)",
		    receiver, dom);
	case SPFCHECK_TEMPERROR:
		return authres_cat(buf, bufsz, len, "(%s: temporary error looking up the SPF "
		    "policy of %s)", receiver, dom);
	case SPFCHECK_PERMERROR:
	default:
		return authres_cat(buf, bufsz, len, "(%s: permanent error in the SPF policy of %s)",
		    receiver, dom);
	}
}

int
authres_received_spf(const struct spfcheck_answer *a, const char *receiver, char *buf,
    size_t bufsz)
{
	/*
	 * Quoting can double the sender's length; the line holding it must stay
	 * under RFC 5322's 998 characters (found by fuzz_authres), so a very
	 * long quoted sender is cut.
	 */
	char q[800], h[2 * sizeof(a->helo) + 3];
	size_t len = 0;

	if (authres_cat(buf, bufsz, &len, "%s ", spfcheck_result_name(a->result)) != 0 ||
	    authres_comment(a, receiver, buf, bufsz, &len) != 0 ||
	    authres_cat(buf, bufsz, &len, "\n\tclient-ip=%s;", a->ip) != 0)
		return -1;
	if (a->sender[0] != '\0' && authres_cat(buf, bufsz, &len, " envelope-from=%s;",
	    authres_quote(a->sender, q, sizeof(q))) != 0)
		return -1;
	if (a->helo[0] != '\0' && authres_cat(buf, bufsz, &len, "\n\thelo=%s;",
	    authres_is_name(a->helo) ? a->helo : authres_quote(a->helo, h, sizeof(h))) != 0)
		return -1;
	return authres_cat(buf, bufsz, &len, "\n\treceiver=%s; identity=%s;", receiver,
	    a->identity == SPFCHECK_ID_HELO ? "helo" : "mailfrom");
}

/* Skip white space and (nested) comments; NULL if a comment never ends. */
static const char *
authres_skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (depth > 0 && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !isspace((unsigned char)*p))
			return p;
	}
	return depth == 0 ? p : NULL;
}

/*
 * Two authserv-ids name the same host when they are the same domain: case,
 * a trailing dot and the IDN form (U-label or A-label) do not matter
 * (domain_normalize).  An id that is no domain name compares as text,
 * without case and a trailing dot.
 */
static bool
authres_same_id(const char *a, const char *b)
{
	char na[DOMAIN_MAX + 1], nb[DOMAIN_MAX + 1];
	const char *why;
	size_t la = strlen(a), lb = strlen(b);

	if (domain_normalize(a, na, sizeof(na), &why) == 0 &&
	    domain_normalize(b, nb, sizeof(nb), &why) == 0)
		return strcmp(na, nb) == 0;
	la -= la > 0 && a[la - 1] == '.';
	lb -= lb > 0 && b[lb - 1] == '.';
	return la == lb && strncasecmp(a, b, la) == 0;
}

bool
authres_claims(const char *value, const char *authserv_id)
{
	const char *p = authres_skip_cfws(value);
	char id[256];
	size_t n = 0;

	if (p == NULL)
		return false;
	if (*p == '"' && strchr(p + 1, '"') == NULL) {
		/* A quote that never closes: read on as a lenient parser would. */
		p++;
	}
	if (*p == '"') {
		/* A quoted-string authserv-id: its unescaped content, spaces trimmed. */
		for (p++; *p != '\0' && *p != '"' && n + 1 < sizeof(id); p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n > 0 || !isspace((unsigned char)*p))
				id[n++] = *p;
		}
		while (n > 0 && isspace((unsigned char)id[n - 1]))
			n--;
	} else {
		/*
		 * An RFC 2045 token: it ends at white space, a control character or
		 * a tspecial ("mx.example.com(c);", "mx.example.com/1;" end at the
		 * bracket and the slash).  Bytes of 0x80 and above are kept for a
		 * U-label.
		 */
		for (; *p != '\0' && n + 1 < sizeof(id); p++) {
			unsigned char c = (unsigned char)*p;

			if (c <= ' ' || c == 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
				break;
			id[n++] = *p;
		}
	}
	id[n] = '\0';
	return n > 0 && authres_same_id(id, authserv_id);
}
