/*
 * spfrec - RFC 7208 section 12 grammar check of SPF records, their rewrite
 * for libspf2, and the expansion of explanation text.  See spfrec.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spfrec.h"

/* One term being judged: where it is and what was said about it. */
struct spfrec_ctx {
	char *why;
	size_t whysz;
	enum spfrec_result bad;
};

static enum spfrec_result __attribute__((format(printf, 3, 4)))
spfrec_fail(struct spfrec_ctx *c, enum spfrec_result r, const char *fmt, ...)
{
	va_list ap;

	if (c->bad != SPFREC_OK)
		return c->bad;
	va_start(ap, fmt);
	vsnprintf(c->why, c->whysz, fmt, ap);
	va_end(ap);
	c->bad = r;
	return r;
}

bool
spfrec_is_spf(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

/* ---------------------------------------------------------- macro-string */

static bool
spfrec_delim(char ch)
{
	return ch != '\0' && strchr(".-+,/_=", ch) != NULL;
}

/*
 * One macro-expand at s[*i] (a '%'); advances *i.  `exp`: c, r and t are
 * allowed (explanations only).  `*macros` counts the %{...} forms.
 */
static bool
spfrec_macro(struct spfrec_ctx *c, const char *s, size_t len, size_t *i, bool exp, int *macros)
{
	size_t p = *i + 1, digits = 0;
	unsigned long n = 0;
	char l;

	if (p < len && (s[p] == '%' || s[p] == '_' || s[p] == '-')) {
		*i = p + 1;
		return true;
	}
	if (p >= len || s[p] != '{' || p + 1 >= len) {
		spfrec_fail(c, SPFREC_SYNTAX, "'%%' not followed by {, %%, _ or -");
		return false;
	}
	l = (char)tolower((unsigned char)s[++p]);
	if (strchr("slodiphv", l) == NULL && !(exp && strchr("crt", l) != NULL)) {
		spfrec_fail(c, SPFREC_SYNTAX, "bad macro letter '%c'", isprint((unsigned char)s[p]) ?
		    s[p] : '?');
		return false;
	}
	for (p++; p < len && isdigit((unsigned char)s[p]); p++, digits++)
		n = n * 10 + (unsigned long)(s[p] - '0');
	if (digits > SPFREC_MAX_DIGITS || (digits > 0 && (n == 0 || n > SPFREC_MAX_PARTS))) {
		spfrec_fail(c, digits > SPFREC_MAX_DIGITS ? SPFREC_LIMIT : SPFREC_SYNTAX,
		    "macro transformer must be 1 to %d", SPFREC_MAX_PARTS);
		return false;
	}
	if (p < len && (s[p] == 'r' || s[p] == 'R'))
		p++;
	for (; p < len && spfrec_delim(s[p]); p++)
		/* libspf2 knows no "," or "/" delimiter (explanations are expanded here). */
		if (!exp && (s[p] == ',' || s[p] == '/')) {
			spfrec_fail(c, SPFREC_LIMIT, "macro delimiter '%c' is not supported", s[p]);
			return false;
		}
	if (p >= len || s[p] != '}') {
		spfrec_fail(c, SPFREC_SYNTAX, "macro not closed by '}'");
		return false;
	}
	if (++*macros > (exp ? SPFREC_MAX_EXP_MACROS : SPFREC_MAX_MACROS)) {
		spfrec_fail(c, SPFREC_LIMIT, "more than %d macros in one term",
		    exp ? SPFREC_MAX_EXP_MACROS : SPFREC_MAX_MACROS);
		return false;
	}
	*i = p + 1;
	return true;
}

/*
 * A macro-string (section 7.1); `space` allows SP (explain-string).  On
 * success *tail is where the literal text after the last macro-expand
 * begins (len when the string ends with one).
 */
static bool
spfrec_macro_string(struct spfrec_ctx *c, const char *s, size_t len, bool exp, bool space,
    size_t *tail)
{
	int macros = 0;

	*tail = 0;
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			if (!spfrec_macro(c, s, len, &i, exp, &macros))
				return false;
			*tail = i;
		} else if ((ch >= 0x21 && ch <= 0x7e) || (space && ch == ' ')) {
			i++;
		} else {
			spfrec_fail(c, SPFREC_SYNTAX, "character 0x%02x not allowed", ch);
			return false;
		}
	}
	return true;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
spfrec_toplabel(const char *s, size_t len)
{
	bool alpha = false, dash = false;

	if (len == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch > 0x7e || (!isalnum(ch) && ch != '-'))
			return false;
		alpha |= isalpha(ch) != 0;
		dash |= ch == '-';
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool
spfrec_domain_spec(struct spfrec_ctx *c, const char *s, size_t len)
{
	size_t tail, end, dot;

	if (len == 0) {
		spfrec_fail(c, SPFREC_SYNTAX, "empty domain-spec");
		return false;
	}
	if (!spfrec_macro_string(c, s, len, false, false, &tail))
		return false;
	if (tail == len)
		return true;
	end = len;
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > tail && s[dot - 1] != '.'; dot--)
		;
	if (dot == tail || !spfrec_toplabel(s + dot, end - dot)) {
		spfrec_fail(c, SPFREC_SYNTAX, "domain-spec '%.*s' does not end in a valid top label",
		    (int)(len > 64 ? 64 : len), s);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ mechanisms */

/* A CIDR length: "0" / %x31-39 *DIGIT, at most `max`; -1 when malformed. */
static int
spfrec_cidr(const char *s, size_t len, int max)
{
	int v = 0;

	if (len == 0 || len > 3 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Length of the "/" 1*DIGIT at the end of s[0..len), 0 if none. */
static size_t
spfrec_slash_digits(const char *s, size_t len)
{
	size_t d = len;

	while (d > 0 && isdigit((unsigned char)s[d - 1]))
		d--;
	return d < len && d > 0 && s[d - 1] == '/' ? len - d + 1 : 0;
}

/* A parsed mechanism, pointing into the record. */
struct spfrec_mech {
	char qual;                /* '\0' when none was written */
	const char *name;         /* canonical lower-case name */
	const char *arg;          /* after ':' (domain-spec or network), NULL when none */
	size_t arglen;
	int cidr4, cidr6;         /* -1 when not written */
};

/* dual-cidr-length at the end of v[0..*len): strips it, fills m; false when malformed. */
static bool
spfrec_dual_cidr(struct spfrec_ctx *c, const char *v, size_t *len, struct spfrec_mech *m)
{
	size_t n = spfrec_slash_digits(v, *len);

	if (n > 0 && *len > n && v[*len - n - 1] == '/') {
		if ((m->cidr6 = spfrec_cidr(v + *len - n + 1, n - 1, 128)) < 0)
			goto bad;
		*len -= n + 1;
		n = spfrec_slash_digits(v, *len);
	}
	if (n > 0) {
		if ((m->cidr4 = spfrec_cidr(v + *len - n + 1, n - 1, 32)) < 0)
			goto bad;
		*len -= n;
	}
	return true;
bad:
	spfrec_fail(c, SPFREC_SYNTAX, "bad CIDR length");
	return false;
}

/* ip4-network = qnum "." qnum "." qnum "." qnum, no leading zeros */
static bool
spfrec_ip4(const char *s, size_t len)
{
	char buf[16];
	struct in_addr a;
	int parts = 0;

	if (len == 0 || len >= sizeof(buf))
		return false;
	for (size_t i = 0; i < len; parts++) {
		size_t d = i;

		while (d < len && isdigit((unsigned char)s[d]))
			d++;
		if (d == i || d - i > 3 || (s[i] == '0' && d - i > 1))
			return false;
		i = d;
		if (i < len && (s[i] != '.' || ++i == len))
			return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return parts == 4 && inet_pton(AF_INET, buf, &a) == 1;
}

static bool
spfrec_ip6(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static const char *const spfrec_mechs[] = {"all", "include", "a", "mx", "ptr", "ip4", "ip6",
	"exists"};

/* directive = [ qualifier ] mechanism (section 5) */
static bool
spfrec_mechanism(struct spfrec_ctx *c, const char *t, size_t len, struct spfrec_mech *m)
{
	size_t n, vlen;
	const char *v;

	memset(m, 0, sizeof(*m));
	m->cidr4 = m->cidr6 = -1;
	if (len > 0 && strchr("+-?~", t[0]) != NULL)
		m->qual = *t++, len--;
	for (n = 0; n < len && t[n] != ':' && t[n] != '/'; n++)
		;
	for (size_t i = 0; i < sizeof(spfrec_mechs) / sizeof(spfrec_mechs[0]); i++)
		if (strlen(spfrec_mechs[i]) == n && strncasecmp(t, spfrec_mechs[i], n) == 0)
			m->name = spfrec_mechs[i];
	if (m->name == NULL) {
		spfrec_fail(c, SPFREC_SYNTAX, "unknown mechanism '%.*s'", (int)(n > 32 ? 32 : n), t);
		return false;
	}
	v = t + n;
	vlen = len - n;
	if (strcmp(m->name, "a") == 0 || strcmp(m->name, "mx") == 0) {
		if (!spfrec_dual_cidr(c, v, &vlen, m))
			return false;
	} else if (strcmp(m->name, "ip4") == 0 || strcmp(m->name, "ip6") == 0) {
		size_t d = spfrec_slash_digits(v, vlen);
		int max = m->name[2] == '4' ? 32 : 128, cidr = -1;

		if (d > 0 && (cidr = spfrec_cidr(v + vlen - d + 1, d - 1, max)) < 0) {
			spfrec_fail(c, SPFREC_SYNTAX, "bad CIDR length");
			return false;
		}
		vlen -= d;
		*(max == 32 ? &m->cidr4 : &m->cidr6) = cidr;
	}
	if (vlen > 0 && v[0] == ':') {
		m->arg = v + 1;
		m->arglen = vlen - 1;
	} else if (vlen > 0) {
		spfrec_fail(c, SPFREC_SYNTAX, "junk after mechanism %s", m->name);
		return false;
	}
	if (strcmp(m->name, "all") == 0) {
		if (m->arg != NULL)
			return spfrec_fail(c, SPFREC_SYNTAX, "\"all\" takes no argument"), false;
	} else if (strcmp(m->name, "ip4") == 0 || strcmp(m->name, "ip6") == 0) {
		if (m->arg == NULL || !(m->name[2] == '4' ? spfrec_ip4 : spfrec_ip6)(m->arg, m->arglen))
			return spfrec_fail(c, SPFREC_SYNTAX, "bad %s network", m->name), false;
	} else if (m->arg != NULL || strcmp(m->name, "include") == 0 ||
	    strcmp(m->name, "exists") == 0) {
		if (m->arg == NULL)
			return spfrec_fail(c, SPFREC_SYNTAX, "%s needs a domain-spec", m->name), false;
		return spfrec_domain_spec(c, m->arg, m->arglen);
	}
	return true;
}

/* ---------------------------------------------------------------- output */

struct spfrec_buf {
	char *p;
	size_t sz, len;
	bool full;
};

static void __attribute__((format(printf, 2, 3)))
spfrec_put(struct spfrec_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->sz - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->sz - b->len)
		b->full = true;
	else
		b->len += (size_t)n;
}

/* The qualifier as written, or nothing. */
static const char *
spfrec_qual(const struct spfrec_mech *m)
{
	static const char *const q[] = {"+", "-", "?", "~"};

	switch (m->qual) {
	case '+': return q[0];
	case '-': return q[1];
	case '?': return q[2];
	case '~': return q[3];
	default: return "";
	}
}

/* Does ip4/ip6 mechanism `m` match the client (rw->addr)? */
static bool
spfrec_ip_match(const struct spfrec_mech *m, const struct spfrec_rewrite *rw)
{
	unsigned char net[16];
	char buf[INET6_ADDRSTRLEN + 1];
	bool v4 = m->name[2] == '4';
	int bits = v4 ? (m->cidr4 >= 0 ? m->cidr4 : 32) : (m->cidr6 >= 0 ? m->cidr6 : 128);

	if (v4 != (rw->family != AF_INET6) || m->arglen >= sizeof(buf))
		return false;
	memcpy(buf, m->arg, m->arglen);
	buf[m->arglen] = '\0';
	if (inet_pton(v4 ? AF_INET : AF_INET6, buf, net) != 1)
		return false;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;

		if ((net[i] & mask) != (rw->addr[i] & mask))
			return false;
	}
	return true;
}

/* What the rewrite has emitted so far. */
struct spfrec_emit {
	struct spfrec_buf *b;
	bool done;      /* evaluation can never get past what is emitted */
	int dns;        /* DNS-querying mechanisms emitted */
};

/*
 * One mechanism as libspf2 is to see it.  ip4/ip6 are decided here, with
 * the client's address: no match, no term; a match is "all" with its
 * qualifier, and nothing after it can count.  libspf2 keeps all compiled
 * mechanisms of a record in 511 bytes and silently drops what does not
 * fit (so "-all" at the end of a long list would vanish): a provider's
 * 2 kB of ip4/ip6 terms must not reach it.  After the 11th DNS-querying
 * mechanism nothing can be reached either (it is a permerror, counted by
 * the DNS layer).
 */
static void
spfrec_emit_mech(struct spfrec_emit *e, const struct spfrec_mech *m,
    const struct spfrec_rewrite *rw)
{
	struct spfrec_buf *b = e->b;
	const char *q = spfrec_qual(m);
	bool v4 = rw->family != AF_INET6;
	int cidr = v4 ? m->cidr4 : m->cidr6;
	size_t al = m->arglen;

	if (e->done)
		return;
	if (strcmp(m->name, "ip4") == 0 || strcmp(m->name, "ip6") == 0) {
		if (spfrec_ip_match(m, rw)) {
			spfrec_put(b, " %sall", q);
			e->done = true;
		}
		return;
	}
	if (strcmp(m->name, "all") == 0) {
		spfrec_put(b, " %sall", q);
		e->done = true;
		return;
	}
	e->done = ++e->dns > SPFREC_MAX_DNS_TERMS;
	if ((strcmp(m->name, "a") == 0 || strcmp(m->name, "mx") == 0) && cidr == 0) {
		/* "/0": the DNS layer answers the marked name with the client's address. */
		if (m->arg == NULL) {
			spfrec_put(b, " %s%s:%%{d}.%s", q, m->name, rw->any_mark);
			return;
		}
		if (al > 0 && m->arg[al - 1] == '.')
			al--;
		spfrec_put(b, " %s%s:%.*s.%s", q, m->name, (int)al, m->arg, rw->any_mark);
		return;
	}
	spfrec_put(b, " %s%s", q, m->name);
	if (m->arg != NULL)
		spfrec_put(b, ":%.*s", (int)al, m->arg);
	if ((strcmp(m->name, "a") == 0 || strcmp(m->name, "mx") == 0) && cidr > 0)
		spfrec_put(b, v4 ? "/%d" : "//%d", cidr);
}

static size_t
spfrec_align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/*
 * What libspf2 makes of a macro-string: a 4-byte header and the aligned
 * text for each literal run, 4 bytes for each macro.  An escape (%%, %_,
 * %-) is counted as a run of its own: an overestimate.
 */
static size_t
spfrec_compiled(const char *s, size_t len)
{
	size_t n = 0, run = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			run++;
			continue;
		}
		if (run > 0)
			n += 4 + spfrec_align4(run);
		run = 0;
		if (i + 1 < len && s[i + 1] == '{') {
			n += 4;
			while (i < len && s[i] != '}')
				i++;
		} else {
			n += 8;
			i++;
		}
	}
	return run > 0 ? n + 4 + spfrec_align4(run) : n;
}

/*
 * The compiled size of the rewritten record `r`: its mechanisms and its
 * modifiers, each against libspf2's 511 bytes (SPF_MAX_MECH_LEN and
 * SPF_MAX_MOD_LEN).
 */
static void
spfrec_compiled_size(const char *r, size_t *mech, size_t *mod)
{
	*mech = *mod = 0;
	for (const char *t = strchr(r, ' '); t != NULL; t = strchr(t, ' ')) {
		size_t len = strcspn(++t, " "), colon = strcspn(t, ":=/");

		if (colon < len && t[colon] == '=') {
			*mod += spfrec_align4(4 + colon) + spfrec_compiled(t + colon + 1, len - colon - 1);
		} else {
			/* The rewrite writes a CIDR only as "/N" or "//N" at the end. */
			size_t arg = colon < len && t[colon] == ':' ? colon + 1 : len;
			size_t cidr = spfrec_slash_digits(t, len), end = len - cidr;

			if (cidr > 0 && end > 0 && t[end - 1] == '/')
				end--;
			*mech += 4 + (cidr > 0 ? 4 : 0) + (end > arg ? spfrec_compiled(t + arg,
			    end - arg) : 0);
		}
	}
}

/* ------------------------------------------------------------- the record */

/* What one pass over the terms found. */
struct spfrec_mods {
	const char *redirect, *exp;
	size_t redirect_len, exp_len;
	bool all;
};

/* modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static bool
spfrec_modifier(struct spfrec_ctx *c, const char *t, size_t len, size_t eq,
    struct spfrec_mods *mods)
{
	const char *v = t + eq + 1;
	size_t vlen = len - eq - 1, tail;

	if (eq == 8 && strncasecmp(t, "redirect", 8) == 0) {
		if (mods->redirect != NULL)
			return spfrec_fail(c, SPFREC_SYNTAX, "redirect= twice"), false;
		mods->redirect = v;
		mods->redirect_len = vlen;
		return spfrec_domain_spec(c, v, vlen);
	}
	if (eq == 3 && strncasecmp(t, "exp", 3) == 0) {
		if (mods->exp != NULL)
			return spfrec_fail(c, SPFREC_SYNTAX, "exp= twice"), false;
		mods->exp = v;
		mods->exp_len = vlen;
		return spfrec_domain_spec(c, v, vlen);
	}
	/* An unknown modifier: checked, then dropped (section 6). */
	return spfrec_macro_string(c, v, vlen, false, false, &tail);
}

/* Is t[0..len) a modifier?  Then *eq is the offset of its '='. */
static bool
spfrec_is_modifier(const char *t, size_t len, size_t *eq)
{
	size_t i = 0;

	if (len == 0 || !isalpha((unsigned char)t[0]))
		return false;
	while (i < len && (isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_' ||
	    t[i] == '.'))
		i++;
	*eq = i;
	return i < len && t[i] == '=';
}

static bool
spfrec_term(struct spfrec_ctx *c, const char *t, size_t len, struct spfrec_mods *mods,
    struct spfrec_emit *e, const struct spfrec_rewrite *rw)
{
	struct spfrec_mech m;
	size_t eq;

	if (len > SPFREC_MAX_TERM) {
		spfrec_fail(c, SPFREC_LIMIT, "a term longer than %d bytes", SPFREC_MAX_TERM);
		return false;
	}
	if (spfrec_is_modifier(t, len, &eq))
		return spfrec_modifier(c, t, len, eq, mods);
	if (!spfrec_mechanism(c, t, len, &m))
		return false;
	mods->all |= strcmp(m.name, "all") == 0;
	spfrec_emit_mech(e, &m, rw);
	return true;
}

/* Every byte is SP or visible ASCII (section 12: no NUL, controls or 8-bit). */
static bool
spfrec_bytes(struct spfrec_ctx *c, const char *rec, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)rec[i];

		/* spfdns.c hands a NUL from DNS over as 0xff (libspf2 keeps C strings). */
		if (ch == '\0' || ch == 0xff)
			return spfrec_fail(c, SPFREC_SYNTAX, "NUL (or 0xff) byte in the record"), false;
		if (ch != ' ' && (ch < 0x21 || ch > 0x7e))
			return spfrec_fail(c, SPFREC_SYNTAX, "byte 0x%02x in the record", ch), false;
	}
	return true;
}

/* Walk the terms after "v=spf1", emitting the mechanisms. */
static bool
spfrec_terms(struct spfrec_ctx *c, const char *rec, size_t len, struct spfrec_mods *mods,
    struct spfrec_emit *e, const struct spfrec_rewrite *rw)
{
	memset(mods, 0, sizeof(*mods));
	for (size_t i = 6; i < len;) {
		size_t start, n;

		while (i < len && rec[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && rec[i] != ' ')
			i++;
		n = i - start;
		if (!spfrec_term(c, rec + start, n, mods, e, rw))
			return false;
	}
	return true;
}

/* The "r" transformer in any case (ABNF strings are): libspf2 knows only "r". */
static void
spfrec_lower_r(char *r)
{
	for (char *p = r; *p != '\0'; p++) {
		if (p[0] != '%' || p[1] == '\0')
			continue;
		if (p[1] != '{' || p[2] == '\0') {
			p++;
			continue;
		}
		p += 3;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == 'R')
			*p = 'r';
		p--;
	}
}

enum spfrec_result
spfrec_vet(const char *rec, size_t len, const struct spfrec_rewrite *rw, char *out,
    size_t outsz, char *why, size_t whysz)
{
	struct spfrec_ctx c = {why, whysz, SPFREC_OK};
	struct spfrec_buf b = {out, outsz, 0, false};
	struct spfrec_emit e = {&b, false, 0};
	struct spfrec_mods mods;
	size_t mech, mod;

	if (outsz > 0)
		out[0] = '\0';
	if (whysz > 0)
		why[0] = '\0';
	if (len > SPFREC_MAX_RECORD)
		return spfrec_fail(&c, SPFREC_LIMIT, "record longer than %d bytes",
		    SPFREC_MAX_RECORD);
	if (!spfrec_bytes(&c, rec, len))
		return c.bad;
	if (!spfrec_is_spf(rec, len))
		return spfrec_fail(&c, SPFREC_SYNTAX, "not an SPF version 1 record");
	spfrec_put(&b, "v=spf1");
	if (!spfrec_terms(&c, rec, len, &mods, &e, rw))
		goto fail;
	/* With "all", or a match before it, redirect= can never be reached. */
	if (mods.redirect != NULL && !mods.all && !e.done)
		spfrec_put(&b, " redirect=%.*s", (int)mods.redirect_len, mods.redirect);
	if (mods.exp != NULL)
		spfrec_put(&b, " exp=%.*s", (int)mods.exp_len, mods.exp);
	if (b.full) {
		spfrec_fail(&c, SPFREC_LIMIT, "rewritten record too long");
		goto fail;
	}
	spfrec_lower_r(out);
	spfrec_compiled_size(out, &mech, &mod);
	if (mech > SPFREC_ENGINE_MAX || mod > SPFREC_ENGINE_MAX) {
		spfrec_fail(&c, SPFREC_LIMIT, "record too large for the SPF engine (%zu bytes "
		    "compiled, %d at most)", mech > mod ? mech : mod, SPFREC_ENGINE_MAX);
		goto fail;
	}
	return SPFREC_OK;
fail:
	if (outsz > 0)
		out[0] = '\0';
	return c.bad;
}

/* ----------------------------------------------------------- explanation */

bool
spfrec_explain_ok(const char *s, size_t len)
{
	char why[8];
	struct spfrec_ctx c = {why, sizeof(why), SPFREC_OK};
	size_t tail;

	return len <= SPFREC_MAX_EXPLAIN && spfrec_macro_string(&c, s, len, true, true, &tail);
}

/* The value of macro letter `l` (lower-case). */
static const char *
spfrec_var(const struct spfrec_vars *v, char l)
{
	const char *r = NULL;

	switch (l) {
	case 's': r = v->s; break;
	case 'l': r = v->l; break;
	case 'o': r = v->o; break;
	case 'd': r = v->d; break;
	case 'i': r = v->i; break;
	case 'p': r = v->p; break;
	case 'v': r = v->v; break;
	case 'h': r = v->h; break;
	case 'c': r = v->c; break;
	case 'r': r = v->r; break;
	case 't': r = v->t; break;
	default: break;
	}
	return r != NULL ? r : "";
}

/*
 * Section 7.3: split `val` at the delimiters, reverse if asked, keep the
 * `keep` right-most parts (0: all), join with ".".
 */
static void
spfrec_transform(const char *val, const char *delims, unsigned keep, bool rev,
    struct spfrec_buf *o)
{
	const char *part[512];
	size_t plen[512], n = 0, first;
	const char *p = val;

	for (;;) {
		size_t l = strcspn(p, delims);

		if (n < sizeof(part) / sizeof(part[0])) {
			part[n] = p;
			plen[n++] = l;
		}
		if (p[l] == '\0')
			break;
		p += l + 1;
	}
	if (rev)
		for (size_t i = 0; i < n / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	first = keep > 0 && keep < n ? n - keep : 0;
	for (size_t i = first; i < n; i++)
		spfrec_put(o, "%s%.*s", i > first ? "." : "", (int)plen[i], part[i]);
}

/* Append `val`, URL-escaped (section 7.3) when `esc`. */
static void
spfrec_put_value(struct spfrec_buf *o, const char *val, bool esc)
{
	for (const unsigned char *p = (const unsigned char *)val; *p != '\0'; p++) {
		if (!esc || isalnum(*p) || strchr("-._~", *p) != NULL)
			spfrec_put(o, "%c", *p);
		else
			spfrec_put(o, "%%%02X", *p);
	}
}

int
spfrec_expand(const char *s, size_t len, const struct spfrec_vars *v, char *out, size_t outsz)
{
	struct spfrec_buf o = {out, outsz, 0, false};
	char tmp[SPFREC_OUT_MAX], delims[8];

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < len && !o.full; i++) {
		struct spfrec_buf t = {tmp, sizeof(tmp), 0, false};
		unsigned keep = 0;
		size_t nd = 0;
		bool rev = false, up;
		char l;

		if (s[i] != '%' || i + 1 >= len) {
			spfrec_put(&o, "%c", s[i]);
			continue;
		}
		if (s[++i] != '{') {
			spfrec_put(&o, "%s", s[i] == '_' ? " " : s[i] == '-' ? "%20" : "%");
			continue;
		}
		if (++i >= len)
			break;
		delims[0] = '\0';
		up = isupper((unsigned char)s[i]) != 0;
		l = (char)tolower((unsigned char)s[i++]);
		for (; i < len && isdigit((unsigned char)s[i]); i++)
			keep = keep * 10 + (unsigned)(s[i] - '0');
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			rev = true, i++;
		for (; i < len && s[i] != '}'; i++)
			if (nd < sizeof(delims) - 1 && s[i] != '\0' && strchr(delims, s[i]) == NULL) {
				delims[nd++] = s[i];
				delims[nd] = '\0';
			}
		tmp[0] = '\0';
		spfrec_transform(spfrec_var(v, l), nd > 0 ? delims : ".", keep, rev, &t);
		spfrec_put_value(&o, tmp, up);
	}
	return o.full ? -1 : 0;
}
