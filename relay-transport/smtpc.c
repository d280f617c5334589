/*
 * smtpc - SMTP replies, capabilities and commands as plain strings.
 * See smtpc.h.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpc.h"

void
smtpc_reply_init(struct smtpc_reply *r)
{
	memset(r, 0, sizeof(*r));
}

/* "X.Y.Z" with X in 2/4/5, Y 1-3 digits, Z 1-3 digits, then end or a space. */
static size_t
smtpc_enhanced_len(const char *s)
{
	size_t i = 0, digits;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	i = 1;
	for (int part = 0; part < 2; part++) {
		if (s[i++] != '.')
			return 0;
		for (digits = 0; isdigit((unsigned char)s[i]) && digits < 4; digits++)
			i++;
		if (digits == 0 || digits > 3)
			return 0;
	}
	return s[i] == '\0' || s[i] == ' ' ? i : 0;
}

static void
smtpc_reply_append(struct smtpc_reply *r, const char *text)
{
	size_t have = strlen(r->text);

	if (r->nlines > 0 && have + 1 < sizeof(r->text))
		r->text[have++] = '\n';
	snprintf(r->text + have, sizeof(r->text) - have, "%s", text);
}

enum smtpc_feed
smtpc_reply_feed(struct smtpc_reply *r, const char *line)
{
	int code;
	size_t n;

	if (r->done || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || (line[3] != '\0' && line[3] != ' ' &&
	    line[3] != '-'))
		return SMTPC_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 200 || code > 599 || (r->nlines > 0 && code != r->code))
		return SMTPC_BAD;
	r->code = code;
	r->nbytes += strlen(line) + 2;
	if (r->nlines >= SMTPC_REPLY_LINES_MAX || r->nbytes > SMTPC_REPLY_BYTES_MAX)
		return SMTPC_TOOBIG;
	if (r->nlines == 0 && line[3] != '\0' && (n = smtpc_enhanced_len(line + 4)) > 0 &&
	    n < sizeof(r->enhanced)) {
		memcpy(r->enhanced, line + 4, n);
		r->enhanced[n] = '\0';
	}
	smtpc_reply_append(r, line[3] != '\0' ? line + 4 : "");
	r->nlines++;
	if (line[3] == '-')
		return SMTPC_MORE;
	r->done = true;
	return SMTPC_DONE;
}

int
smtpc_reply_class(const struct smtpc_reply *r)
{
	return r->code / 100;
}

const char *
smtpc_reply_status(const struct smtpc_reply *r, char *out, size_t outsz)
{
	int cls = smtpc_reply_class(r);

	if (r->enhanced[0] != '\0' && r->enhanced[0] - '0' == cls)
		snprintf(out, outsz, "%s", r->enhanced);
	else
		snprintf(out, outsz, "%d.0.0", cls == 5 ? 5 : cls == 2 ? 2 : 4);
	return out;
}

const char *
smtpc_reply_oneline(const struct smtpc_reply *r, char *out, size_t outsz)
{
	size_t o;
	int n;

	n = snprintf(out, outsz, r->text[0] != '\0' ? "%03d " : "%03d", r->code);
	if (n < 0 || (size_t)n >= outsz)
		return out;
	o = (size_t)n;
	for (const char *p = r->text; *p != '\0' && o + 1 < outsz; p++) {
		unsigned char c = (unsigned char)*p;

		out[o++] = c == '\n' ? ' ' : c < 0x20 || c >= 0x7f || c == '"' ? '?' : (char)c;
	}
	out[o] = '\0';
	return out;
}

/* Compare the keyword at `line` (ended by space or end) with `kw`. */
static bool
smtpc_keyword_is(const char *line, const char *kw, const char **arg)
{
	size_t n = strlen(kw);

	if (strncasecmp(line, kw, n) != 0 || (line[n] != '\0' && line[n] != ' ' && line[n] != '\n'))
		return false;
	*arg = line[n] == ' ' ? line + n + 1 : line + n;
	return true;
}

void
smtpc_caps_parse(const struct smtpc_reply *ehlo, struct smtpc_caps *caps)
{
	const char *line = strchr(ehlo->text, '\n'), *arg;

	memset(caps, 0, sizeof(*caps));
	/* The first line is the server's greeting, not a keyword. */
	while (line != NULL) {
		line++;
		if (smtpc_keyword_is(line, "STARTTLS", &arg))
			caps->starttls = true;
		else if (smtpc_keyword_is(line, "PIPELINING", &arg))
			caps->pipelining = true;
		else if (smtpc_keyword_is(line, "8BITMIME", &arg))
			caps->eightbitmime = true;
		else if (smtpc_keyword_is(line, "SMTPUTF8", &arg))
			caps->smtputf8 = true;
		else if (smtpc_keyword_is(line, "SIZE", &arg)) {
			caps->size = true;
			caps->size_max = isdigit((unsigned char)*arg) ? strtoul(arg, NULL, 10) : 0;
		}
		line = strchr(line, '\n');
	}
}

size_t
smtpc_cmd_mail(char *buf, size_t bufsz, const char *sender, const struct smtpc_mail_params *p)
{
	char size[32] = "";
	int n;

	if (strcmp(sender, "<>") == 0)
		sender = "";
	if (p->size >= 0)
		snprintf(size, sizeof(size), " SIZE=%ld", p->size);
	n = snprintf(buf, bufsz, "MAIL FROM:<%s>%s%s%s\r\n", sender, size,
	    p->body8 ? " BODY=8BITMIME" : "", p->smtputf8 ? " SMTPUTF8" : "");
	return n > 0 && (size_t)n < bufsz ? (size_t)n : 0;
}

size_t
smtpc_cmd_rcpt(char *buf, size_t bufsz, const char *rcpt)
{
	int n = snprintf(buf, bufsz, "RCPT TO:<%s>\r\n", rcpt);

	return n > 0 && (size_t)n < bufsz ? (size_t)n : 0;
}

/*
 * Length of the well-formed UTF-8 sequence at `p` (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), 0 if it is not one.  An
 * SMTPUTF8 address must be UTF-8 (RFC 6531); anything else would reach
 * the next hop as it came.
 */
static size_t
smtpc_utf8_len(const unsigned char *p)
{
	size_t n;
	unsigned long cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

enum smtpc_addr
smtpc_addr_check(const char *addr, bool null_ok)
{
	size_t len = strlen(addr);
	bool utf8 = false;

	if (len == 0 || strcmp(addr, "<>") == 0)
		return null_ok ? SMTPC_ADDR_OK : SMTPC_ADDR_BAD;
	if (len > SMTPC_ADDR_MAX)
		return SMTPC_ADDR_BAD;
	for (const unsigned char *p = (const unsigned char *)addr; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return SMTPC_ADDR_BAD;
		if (*p >= 0x80) {
			size_t n = smtpc_utf8_len(p);

			if (n == 0)
				return SMTPC_ADDR_BAD;
			p += n - 1;
			utf8 = true;
		}
	}
	return utf8 ? SMTPC_ADDR_UTF8 : SMTPC_ADDR_OK;
}
