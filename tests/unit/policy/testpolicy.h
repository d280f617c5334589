/*
 * testpolicy - what the unit tests of the policy core share: a policy built
 * from configuration text (optionally with an offline SPF checker and its
 * zone), a session for a client address given as text,
 * the log captured so a test can compare the decision line, and the check
 * that a reply text is safe to hand to libmilter.
 *
 * Linked into a test through libtestpolicy.a (tests/local.mk): a test
 * that does not call these does not pull them in.  Any set-up failure
 * prints why and exits 2 (a broken test, not a failed check).
 */
#ifndef HOP_TESTPOLICY_H
#define HOP_TESTPOLICY_H

#include <stdbool.h>

#include "milter/policy/policy.h"
#include "milter/policy/spfcheck.h"

/* The last line logged at a priority up to the one given to testpolicy_capture(). */
extern char testpolicy_log[4096];

/* Send every log line at `max_prio` (LOG_DEBUG: all) or more urgent into testpolicy_log. */
void testpolicy_capture(int max_prio);

/* A policy from the text of a hopmilter.conf. */
struct policy *testpolicy_new(const char *conf_text);

/* One record of an offline SPF zone (spfcheck_zone_add's arguments). */
struct testpolicy_rr {
	const char *name;
	enum spfcheck_rr type;
	const char *data;
};

/*
 * testpolicy_new(conf_text) whose SPF checks go to an offline checker
 * (receiver mx.test.invalid) answering from the `n` records of `zone` and
 * nothing else: the verdicts never depend on the network.
 */
struct policy *testpolicy_new_spf(const char *conf_text, const struct testpolicy_rr *zone,
    size_t n);

/*
 * A session for a client at `ip` (an IPv4 or IPv6 literal) whose
 * reverse-DNS name is client.example.
 */
struct policy_session *testpolicy_session(struct policy *p, const char *ip);

/* Text safe for smfi_setreply: printable ASCII, no CR/LF, every '%' doubled. */
bool testpolicy_reply_safe(const char *text);

#endif
