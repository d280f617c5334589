/*
 * rfc2047 - decode RFC 2047 encoded words leniently.  See rfc2047.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "rfc2047.h"

/* Longer labels are not charsets; the bound keeps a failed word's scan short. */
#define RFC2047_CHARSET_MAX 64

/* One encoded word: "=?" charset "?" enc "?" text "?=". */
struct rfc2047_word {
	const char *cs, *text, *end;
	size_t cslen, textlen;
	char enc;              /* 'B' or 'Q' */
};

/* RFC 2047's charset and encoded-text characters: printable, no '?'. */
static bool
rfc2047_wordchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '?';
}

static bool
rfc2047_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A charset whose ASCII text is every other (or three in four) byte NUL. */
static bool
rfc2047_wide(const char *cs, size_t len)
{
	static const char *const wide[] = {"utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2",
		"ucs-4", "ucs4"};

	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		size_t n = strlen(wide[i]);

		if (len >= n && strncasecmp(cs, wide[i], n) == 0)
			return true;
	}
	return false;
}

/* The word starting at p ("=?"), if it is one. */
static bool
rfc2047_word(const char *p, struct rfc2047_word *w)
{
	const char *q = p + 2;

	w->cs = q;
	while (rfc2047_wordchar((unsigned char)*q) && (size_t)(q - w->cs) <= RFC2047_CHARSET_MAX)
		q++;
	if (*q != '?' || (size_t)(q - w->cs) > RFC2047_CHARSET_MAX)
		return false;
	w->cslen = (size_t)(q - w->cs);
	q++;
	if (*q == '\0' || strchr("BbQq", *q) == NULL || q[1] != '?')
		return false;
	w->enc = (*q == 'b' || *q == 'B') ? 'B' : 'Q';
	w->text = q += 2;
	while (rfc2047_wordchar((unsigned char)*q))
		q++;
	if (q[0] != '?' || q[1] != '=')
		return false;
	w->textlen = (size_t)(q - w->text);
	w->end = q + 2;
	return true;
}

static char *
rfc2047_put(char *o, unsigned char b, bool wide)
{
	if (wide && b >= 0x80)
		b = ' ';
	if (b == '\0') {
		if (!wide)
			*o++ = ' ';
		return o;
	}
	*o++ = (char)b;
	return o;
}

static int
rfc2047_b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

static int
rfc2047_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

static char *
rfc2047_decode_b(const struct rfc2047_word *w, char *o, bool wide)
{
	unsigned bits = 0, nbits = 0;

	for (size_t i = 0; i < w->textlen; i++) {
		int v = rfc2047_b64((unsigned char)w->text[i]);

		if (w->text[i] == '=') {
			/* Padding: the group ends; what follows starts a new one. */
			bits = nbits = 0;
			continue;
		}
		if (v < 0)
			continue;
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			o = rfc2047_put(o, (unsigned char)(bits >> nbits), wide);
			bits &= (1u << nbits) - 1;
		}
	}
	return o;
}

static char *
rfc2047_decode_q(const struct rfc2047_word *w, char *o, bool wide)
{
	for (size_t i = 0; i < w->textlen; i++) {
		unsigned char c = (unsigned char)w->text[i];

		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->textlen &&
		    rfc2047_hex((unsigned char)w->text[i + 1]) >= 0 &&
		    rfc2047_hex((unsigned char)w->text[i + 2]) >= 0) {
			c = (unsigned char)(rfc2047_hex((unsigned char)w->text[i + 1]) * 16 +
			    rfc2047_hex((unsigned char)w->text[i + 2]));
			i += 2;
		}
		o = rfc2047_put(o, c, wide);
	}
	return o;
}

bool
rfc2047_has_words(const char *value)
{
	return strstr(value, "=?") != NULL;
}

size_t
rfc2047_decode(const char *value, char *out)
{
	const char *p = value, *prev_in = NULL;
	char *o = out, *prev_out = NULL;
	size_t n = 0;

	while (*p != '\0') {
		struct rfc2047_word w;

		if (p[0] != '=' || p[1] != '?' || !rfc2047_word(p, &w)) {
			*o++ = *p++;
			continue;
		}
		if (prev_in != NULL) {
			/* Only white space since the last word: the reader joins them. */
			const char *g = prev_in;

			while (g < p && rfc2047_wsp((unsigned char)*g))
				g++;
			if (g == p)
				o = prev_out;
		}
		bool wide = rfc2047_wide(w.cs, w.cslen);

		o = w.enc == 'B' ? rfc2047_decode_b(&w, o, wide) : rfc2047_decode_q(&w, o, wide);
		p = prev_in = w.end;
		prev_out = o;
		n++;
	}
	*o = '\0';
	return n;
}
