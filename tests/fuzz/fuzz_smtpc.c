/*
 * fuzz_smtpc - libFuzzer harness for relay-transport/smtpc.c.  Whatever a
 * server sends: a reply is parsed or refused without overflow, the one-line
 * form used on status lines and in logs holds no control byte and no
 * quote, the reported status is X.Y.Z in the reply's class, and the
 * capabilities parse without reading past the text.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-transport/smtpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reply(const struct smtpc_reply *r)
{
	char one[SMTPC_TEXT_MAX + 8], st[16];

	smtpc_reply_oneline(r, one, sizeof(one));
	for (const unsigned char *p = (const unsigned char *)one; *p != '\0'; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '"')
			abort();
	smtpc_reply_status(r, st, sizeof(st));
	if (strlen(st) < 5 || st[1] != '.' || (r->code != 0 && st[0] - '0' != (r->code / 100 == 5 ? 5 :
	    r->code / 100 == 2 ? 2 : 4)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *line, *save = NULL;
	struct smtpc_reply r;
	struct smtpc_caps caps;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	smtpc_reply_init(&r);
	for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (smtpc_reply_feed(&r, line) != SMTPC_MORE)
			break;
	}
	if (strlen(r.text) >= sizeof(r.text))
		abort();
	check_reply(&r);
	smtpc_caps_parse(&r, &caps);
	if (smtpc_addr_check((const char *)s, false) != SMTPC_ADDR_BAD)
		for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
			if (*p < 0x20 || *p == '<' || *p == '>')
				abort();
	free(s);
	return 0;
}
