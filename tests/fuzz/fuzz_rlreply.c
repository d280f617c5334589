/*
 * fuzz_rlreply - libFuzzer harness: bytes a Redis server (or something
 * pretending to be one) sends back for the rate-limit script, the way
 * hopmilter reads them: rlwire's framing scan first (which refuses huge
 * declared sizes, RESP3 and bytes after the reply), then hiredis's reader
 * on what the scan let through, then rlredis_interpret().
 *
 * The first byte picks the number of keys (1 or 2); the rest arrives in two
 * pieces, as a network would split it.  Checked: the scan and hiredis
 * agree on where the reply ends (DONE: hiredis has a reply or an error;
 * MORE: hiredis has none yet), and a "limited" verdict carries a retry time
 * and a tier within their ranges (those numbers end up in an SMTP reply).
 * No input is skipped: what the scan passes is small by construction.
 */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>

#include "milter/policy/rlredis.h"
#include "milter/policy/rlwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Scan and feed one piece; the scan's verdict (TOOBIG and BAD stop here). */
static enum rlwire_scan_state
piece(struct rlwire_scan *sc, redisReader *rd, const uint8_t *p, size_t n)
{
	size_t used;
	enum rlwire_scan_state st = rlwire_scan_feed(sc, (const char *)p, n, &used);

	if (st == RLWIRE_SCAN_TOOBIG || st == RLWIRE_SCAN_BAD)
		return st;
	if (used > RLWIRE_MAX_REPLY || redisReaderFeed(rd, (const char *)p, used) != REDIS_OK)
		abort();
	return st;
}

static void
check_reply(void *reply, int nkeys)
{
	long retry = -1;
	int tier = -1;

	if (rlredis_interpret(reply, nkeys, &retry, &tier) == RLREDIS_LIMITED &&
	    (retry < 0 || retry > RLREDIS_RETRY_MAX || tier < 1 || tier > nkeys))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlwire_scan sc;
	enum rlwire_scan_state st;
	redisReader *rd;
	void *reply = NULL;
	int nkeys, rc;
	size_t cut;

	if (size < 1)
		return 0;
	nkeys = 1 + (data[0] & 1);
	data++;
	size--;
	if ((rd = redisReaderCreate()) == NULL)
		return 0;
	rlwire_scan_init(&sc);
	cut = size / 2;
	st = piece(&sc, rd, data, cut);
	if (st == RLWIRE_SCAN_MORE)
		st = piece(&sc, rd, data + cut, size - cut);
	if (st == RLWIRE_SCAN_DONE || st == RLWIRE_SCAN_MORE) {
		rc = redisReaderGetReply(rd, &reply);
		/* The scan and hiredis must agree on the reply's end. */
		if (rc == REDIS_OK && (reply != NULL) != (st == RLWIRE_SCAN_DONE))
			abort();
		if (reply != NULL)
			check_reply(reply, nkeys);
		freeReplyObject(reply);
	}
	redisReaderFree(rd);
	return 0;
}
