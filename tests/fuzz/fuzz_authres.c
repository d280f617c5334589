/*
 * fuzz_authres - libFuzzer harness for the SPF header builders
 * (milter/policy/authres.c).  The answer's text fields carry client and DNS text
 * (HELO name, sender, explanation); whatever they hold, the headers must
 * stay headers: no CR, every LF followed by a tab (a folded line), no line
 * of 998 bytes or more.  authres_claims() gets the raw input too.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/policy/authres.h"
#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_field(char *dst, size_t dstsz, const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p = nl ? nl + 1 : end;
}

static void
fuzz_check_header(const char *v)
{
	size_t line = 0;

	for (const char *p = v; *p; p++) {
		if (*p == '\r')
			abort();
		if (*p == '\n') {
			if (p[1] != '\t' && p[1] != ' ')
				abort();
			line = 0;
		} else if (++line >= 998) {
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spfcheck_answer a;
	char buf[4096], *s;
	const char *p, *end;

	if (size < 3)
		return 0;
	memset(&a, 0, sizeof(a));
	a.result = (enum spfcheck_result)(data[0] % 7);
	a.helo_result = (enum spfcheck_result)(data[1] % 7);
	a.identity = (enum spfcheck_identity)(data[2] % 2);
	p = (const char *)data + 3;
	end = (const char *)data + size;
	/* The address comes from inet_ntop, never from the client. */
	fuzz_field(a.ip, sizeof(a.ip), &p, end);
	{
		struct net_addr ip;

		if (net_addr_parse(a.ip, &ip) != 0)
			net_addr_parse("192.0.2.1", &ip);
		net_addr_format(&ip, a.ip, sizeof(a.ip));
	}
	fuzz_field(a.helo, sizeof(a.helo), &p, end);
	fuzz_field(a.sender, sizeof(a.sender), &p, end);
	fuzz_field(a.domain, sizeof(a.domain), &p, end);
	fuzz_field(a.detail, sizeof(a.detail), &p, end);
	if (authres_spf(&a, "mx.example.com", buf, sizeof(buf)) == 0)
		fuzz_check_header(buf);
	if (authres_received_spf(&a, "mx.example.com", buf, sizeof(buf)) == 0)
		fuzz_check_header(buf);
	s = malloc(size + 1);
	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		(void)authres_claims(s, "mx.example.com");
		free(s);
	}
	return 0;
}
