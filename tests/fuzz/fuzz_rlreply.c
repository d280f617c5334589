/*
 * fuzz_rlreply - libFuzzer harness: bytes a Redis server (or something
 * pretending to be one) sends back for the rate-limit script, through
 * hiredis's reply parser, into rlredis_interpret().
 *
 * The first byte picks the number of keys (1 or 2); the rest is fed to a
 * hiredis reader in two pieces, as a network would split it.  Whatever the
 * reply, a "limited" verdict must carry a retry time and a tier within
 * their ranges: those numbers end up in an SMTP reply.
 */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>

#include "milter/policy/rlredis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * hiredis 0.14 allocates a multi-bulk's declared element count (and
 * trusts a bulk's length) before any element arrives: "*2000000000" is
 * gigabytes at once.  That is hiredis's (hiredis 1.0 added maxelements),
 * and our Redis is a server we run; inputs declaring more than 4096 are
 * skipped so the run explores the rest instead of the allocator.
 */
static int
huge_count(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		long v = 0;
		size_t j = i + 1;

		if (d[i] != '*' && d[i] != '$')
			continue;
		if (j < n && d[j] == '-')
			j++;
		for (; j < n && d[j] >= '0' && d[j] <= '9' && v <= 4096; j++)
			v = v * 10 + (d[j] - '0');
		if (v > 4096)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReader *rd;
	void *reply = NULL;
	int nkeys;
	size_t cut;

	if (size < 1)
		return 0;
	nkeys = 1 + (data[0] & 1);
	data++;
	size--;
	if (huge_count(data, size))
		return 0;
	if ((rd = redisReaderCreate()) == NULL)
		return 0;
	cut = size / 2;
	if (redisReaderFeed(rd, (const char *)data, cut) == REDIS_OK &&
	    redisReaderFeed(rd, (const char *)data + cut, size - cut) == REDIS_OK) {
		while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL) {
			long retry = -1;
			int tier = -1;

			if (rlredis_interpret(reply, nkeys, &retry, &tier) == RLREDIS_LIMITED &&
			    (retry < 0 || retry > RLREDIS_RETRY_MAX || tier < 1 || tier > nkeys))
				abort();
			freeReplyObject(reply);
			reply = NULL;
		}
	}
	redisReaderFree(rd);
	return 0;
}
