/*
 * fuzz_spf - libFuzzer harness for an SPF evaluation through hopmilter's
 * checker (milter/policy/spfcheck.c and its DNS layers over libspf2), offline: the input
 * is the SPF record of the sender's domain (first line) and of a domain it
 * may include or redirect to (second line).  The result must be one of the
 * seven RFC 7208 results, and the headers built from it must be valid.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter/policy/authres.h"
#include "log.h"
#include "netaddr.h"
#include "milter/policy/spfcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct spfcheck_opts opts = {"mx.example.com", 100, 200};
	struct spfcheck *sc;
	struct spfcheck_answer a;
	struct net_addr ip;
	char err[256], buf[4096], *s, *second;

	log_set_sink(fuzz_quiet, NULL);
	if (size > 2000)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	second = strchr(s, '\n');
	if (second != NULL)
		*second++ = '\0';
	if (spfcheck_new_offline(&opts, &sc, err, sizeof(err)) != 0) {
		free(s);
		return 0;
	}
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_TXT, s);
	if (second != NULL)
		spfcheck_zone_add(sc, "other.example", SPFCHECK_RR_TXT, second);
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_A, "192.0.2.10");
	spfcheck_zone_add(sc, "mx.sender.example", SPFCHECK_RR_A, "192.0.2.11");
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_MX, "10 mx.sender.example");
	net_addr_parse((size & 1) ? "192.0.2.10" : "2001:db8::10", &ip);
	spfcheck_message(sc, &ip, "helo.sender.example", "user@sender.example", &a);
	if ((int)a.result < SPFCHECK_NONE || a.result > SPFCHECK_PERMERROR)
		abort();
	(void)authres_spf(&a, "mx.example.com", buf, sizeof(buf));
	(void)authres_received_spf(&a, "mx.example.com", buf, sizeof(buf));
	spfcheck_free(sc);
	free(s);
	return 0;
}
