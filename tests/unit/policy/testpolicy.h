/*
 * testpolicy - what the unit tests of the policy core share: a policy built
 * from configuration text, a session for a client address given as text,
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

/* The last line logged at a priority up to the one given to testpolicy_capture(). */
extern char testpolicy_log[4096];

/* Send every log line at `max_prio` (LOG_DEBUG: all) or more urgent into testpolicy_log. */
void testpolicy_capture(int max_prio);

/* A policy from the text of a hopmilter.conf. */
struct policy *testpolicy_new(const char *conf_text);

/*
 * A session for a client at `ip` (an IPv4 or IPv6 literal) whose
 * reverse-DNS name is client.example.
 */
struct policy_session *testpolicy_session(struct policy *p, const char *ip);

/* Text safe for smfi_setreply: printable ASCII, no CR/LF, every '%' doubled. */
bool testpolicy_reply_safe(const char *text);

#endif
