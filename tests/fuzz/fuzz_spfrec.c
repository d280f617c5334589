/*
 * fuzz_spfrec - libFuzzer harness for SPF records and macro-strings as a
 * hostile sender writes them: the grammar check and rewrite of
 * milter/policy/spfrec.c, libspf2's compiler on every rewrite it passes,
 * the explanation expansion, and (for part of the inputs) the whole
 * evaluation through spfcheck_message() with the record served, NULs and
 * all, as a DNS message.
 *
 * Input: byte 0 picks the client family (bit 0) and whether to evaluate
 * (bit 1); the rest is the record, and also the explain-string; after a
 * newline, if any, comes the HELO the client sends (%{h} in the record).
 * Invariants that abort: a rewrite spfrec accepts must compile in libspf2
 * without error and without losing a mechanism (libspf2 drops what does
 * not fit its buffers silently), must itself pass spfrec, and a result
 * must be one of the seven of RFC 7208.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>

#include <spf2/spf.h>

#include "log.h"
#include "milter/policy/spfcheck.h"
#include "milter/policy/spfrec.h"
#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

/* Mechanisms in a rewrite as libspf2 counts them: the terms that are no modifier, and redirect=. */
static int
fuzz_mechs(const char *r)
{
	int n = 0;

	for (const char *t = strchr(r, ' '); t != NULL; t = strchr(t, ' ')) {
		size_t len = strcspn(++t, " ");

		n += strcspn(t, ":/=") >= len || t[strcspn(t, ":/=")] != '=' ||
		    strncmp(t, "redirect=", 9) == 0;
	}
	return n;
}

static void
fuzz_compile(const char *out)
{
	static SPF_server_t *srv;
	SPF_response_t *rs;
	SPF_record_t *rec = NULL;
	SPF_errcode_t e;

	if (srv == NULL && (srv = SPF_server_new(SPF_DNS_ZONE, 0)) == NULL)
		abort();
	if ((rs = SPF_response_new(NULL)) == NULL)
		return;
	e = SPF_record_compile(srv, rs, &rec, out);
	if (e != SPF_E_SUCCESS || rec == NULL || rec->num_mech != fuzz_mechs(out))
		abort();
	SPF_record_free(rec);
	SPF_response_free(rs);
}

static void
fuzz_evaluate(const uint8_t *rec, size_t len, const char *helo, bool v6)
{
	static const struct spfcheck_opts opts = {"mx.example.com", 100, 200};
	struct spfcheck *sc;
	struct spfcheck_answer a;
	struct net_addr ip;
	char err[256];

	if (spfcheck_new_offline(&opts, &sc, err, sizeof(err)) != 0)
		return;
	spfcheck_zone_add_txt(sc, "sender.example", rec, len);
	spfcheck_zone_add_txt(sc, "other.example", rec, len);
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_A, "192.0.2.10");
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_AAAA, "2001:db8::10");
	spfcheck_zone_add(sc, "sender.example", SPFCHECK_RR_MX, "10 mx.sender.example");
	spfcheck_zone_add(sc, "mx.sender.example", SPFCHECK_RR_A, "192.0.2.11");
	spfcheck_zone_add(sc, "*.sender.example", SPFCHECK_RR_TXT, "why %{i} %{L} %{p}");
	net_addr_parse(v6 ? "2001:db8::10" : "192.0.2.10", &ip);
	spfcheck_message(sc, &ip, helo, "us%er@sender.example", &a);
	if ((int)a.result < SPFCHECK_NONE || a.result > SPFCHECK_PERMERROR)
		abort();
	spfcheck_free(sc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char v4[4] = {192, 0, 2, 10};
	static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
	static char out[SPFREC_OUT_MAX], again[SPFREC_OUT_MAX], text[SPFREC_OUT_MAX];
	const struct spfrec_vars vars = {"us%er@sender.example", "us%er", "sender.example",
		"sender.example", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2",
		"unknown", "ip6", "helo.example", "2001:db8::1", "mx.example.com", "1700000000"};
	struct spfrec_rewrite rw;
	const char *rec, *nl;
	char why[256], helo[600] = "helo .sender.example%";
	size_t len;

	log_set_sink(fuzz_quiet, NULL);
	if (size < 1 || size > SPFREC_MAX_RECORD + 64)
		return 0;
	rw.family = data[0] & 1 ? AF_INET6 : AF_INET;
	rw.addr = data[0] & 1 ? v6 : v4;
	rw.any_mark = "hm0-0123456789abcdef";
	rec = (const char *)data + 1;
	len = size - 1;
	if ((nl = memchr(rec, '\n', len)) != NULL) {
		size_t hl = len - (size_t)(nl + 1 - rec);

		if (hl >= sizeof(helo))
			hl = sizeof(helo) - 1;
		memcpy(helo, nl + 1, hl);
		helo[hl] = '\0';
		len = (size_t)(nl - rec);
	}
	if (spfrec_vet(rec, len, &rw, out, sizeof(out), why, sizeof(why)) == SPFREC_OK) {
		if (spfrec_vet(out, strlen(out), &rw, again, sizeof(again), why, sizeof(why)) !=
		    SPFREC_OK)
			abort();
		fuzz_compile(out);
	}
	if (spfrec_explain_ok(rec, len) && spfrec_expand(rec, len, &vars, text, sizeof(text)) == 0 &&
	    strlen(text) >= sizeof(text))
		abort();
	if (data[0] & 2)
		fuzz_evaluate(data + 1, len, helo, data[0] & 1);
	return 0;
}
