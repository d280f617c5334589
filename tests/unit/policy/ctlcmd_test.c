/*
 * Unit tests: the control socket's ratelimit and test commands
 * (milter/ctlcmd.c) over an installed policy with every bucket on and the
 * local table only: the words they take, the hostile ones they refuse,
 * and that a refused or odd name touches no other bucket.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "tests/unit/policy/testpolicy.h"
#include "milter/ctlcmd.h"
#include "milter/policy/policy.h"

/* The reply to `line`, in a static buffer. */
static const char *
run(const char *line)
{
	static char reply[8192];
	char copy[2048];
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	snprintf(copy, sizeof(copy), "%s", line);
	ctlcmd_run(copy, fp);
	fclose(fp);
	snprintf(reply, sizeof(reply), "%s", buf);
	free(buf);
	return reply;
}

/* One "ERR ..." line and nothing else. */
static bool
one_err(const char *r)
{
	const char *nl = strchr(r, '\n');

	return strncmp(r, "ERR ", 4) == 0 && nl != NULL && nl[1] == '\0';
}

static void
test_ratelimit_words(void)
{
	struct policy *p = testpolicy_new("allowed_domains = {\"example.com\"}\n"
	    "trusted_networks = {\"10.9.0.0/16\"}\n"
	    "spf { enabled = false }\n"
	    "outbound { enabled = true }\n"
	    "ratelimit { rate = 1  period = 1h  burst = 2"
	    "  subnet { enabled = true  burst = 10  ipv4_prefix = 24 }"
	    "  recipients { enabled = true  rate = 1  period = 1h  burst = 4 }"
	    "  outbound { enabled = true  rate = 1  period = 1h  burst = 1 }"
	    "  redis { host = \"\" } }\n");
	struct policy_session *s;
	struct policy_verdict v;
	const char *r;
	static const char *const hostile[] = {
		"ratelimit show sasl",              /* the word, not an address */
		"ratelimit show sender",
		"ratelimit show ip sasl",
		"ratelimit show sasl a b",
		"ratelimit show login alice",
		"ratelimit shew sasl alice",
		"ratelimit show sasl a%00b",        /* NUL */
		"ratelimit show sasl %",
		"ratelimit show sasl a%4",
		"ratelimit show sasl a%g1",
		"ratelimit show sasl %+1",
		"ratelimit reset sasl a%00",
		"ratelimit reset sender a%00@example.com",
		"ratelimit reset sasl ali\x01" "ce",  /* control byte */
		"ratelimit reset sasl ali\xc3\xa9" "ce",  /* 8-bit */
		"ratelimit reset 10.9.0.0/16",
		"ratelimit reset ip 10.9.0.1 x",
		"test --ip 10.9.0.1 --sasl a%00 --from a@example.com --rcpt b@example.com",
		"test --ip 10.9.0.1 --sasl",
	};

	policy_install(p);
	/* alice spends her outbound burst of 1; 192.0.2.7 spends 3 of 4 recipients. */
	s = testpolicy_session(p, "10.9.0.1");
	policy_mail(s, "<x@example.com>", "alice", "Q1", &v);
	CHECK(v.action == POLICY_CONTINUE, "alice's first message passes");
	policy_session_free(s);
	s = testpolicy_session(p, "192.0.2.7");
	policy_mail(s, "<a@good.example>", NULL, "Q2", &v);
	for (int i = 0; i < 3; i++)
		policy_rcpt(s, "<b@example.com>", "Q2", &v);
	policy_data(s, "Q2", &v);
	CHECK(v.action == POLICY_CONTINUE, "3 recipients pass");
	policy_session_free(s);

	r = run("ratelimit show sasl ALICE");
	CHECK(strncmp(r, "OK\nsubject: sasl ALICE\nbackend: local\nredis: none\nlocal: ok\n", 58) == 0 &&
	    strstr(r, "\nlocal tier=4 bucket=outbound key=hopmilter:rl:v1:{out:sasl:alice} burst=1 "
	    "remaining=0 retry_after_ms=") != NULL, "show sasl ALICE: her bucket, spent: %s", r);
	r = run("ratelimit show 192.0.2.7");
	CHECK(strstr(r, "\nlocal tier=1 bucket=client net=192.0.2.7/32 burst=2 remaining=1 retry_after_ms=0\n") &&
	    strstr(r, "\nlocal tier=2 bucket=subnet net=192.0.2.0/24 burst=10 remaining=9 retry_after_ms=0\n") &&
	    strstr(r, "\nlocal tier=3 bucket=recipients net=192.0.2.7/32 burst=4 remaining=1 retry_after_ms=0\n"),
	    "show ADDR: every bucket: %s", r);
	r = run("ratelimit show ip 192.0.2.7");
	CHECK(strncmp(r, "OK\nsubject: ip 192.0.2.7\n", 25) == 0 &&
	    strstr(r, "\nlocal tier=3 bucket=recipients ") != NULL, "show ip ADDR: the same: %s", r);

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		r = run(hostile[i]);
		CHECK(one_err(r), "'%s': one ERR line (%s)", hostile[i], r);
	}
	/* Names that are no pattern and no other key: their own, empty, buckets. */
	CHECK(strstr(run("ratelimit reset sasl *"), "\nlocal: cleared=0\n") != NULL, "'*' is a name");
	CHECK(strstr(run("ratelimit reset sasl alice%20"), "\nlocal: cleared=0\n") != NULL,
	    "'alice ' is another login");
	CHECK(strstr(run("ratelimit reset sasl hopmilter:rl:v1:%7Bout:sasl:alice%7D"),
	    "\nlocal: cleared=0\n") != NULL, "a login spelling her key is another login");
	CHECK(strstr(run("ratelimit reset sender alice"), "\nlocal: cleared=0\n") != NULL,
	    "the sender 'alice' is another bucket than the login");
	CHECK(strstr(run("ratelimit reset sasl from:alice"), "\nlocal: cleared=0\n") != NULL,
	    "a login with ':' is no sender");
	r = run("ratelimit show sasl alice");
	CHECK(strstr(r, " remaining=0 ") != NULL, "after all that, alice is still spent: %s", r);

	r = run("test --ip 10.9.0.1 --sasl Alice --from x@example.com --rcpt b@example.com");
	CHECK(strstr(r, "\ndecision: tempfail reason=outbound-ratelimited\n") != NULL,
	    "test --sasl Alice: outbound-ratelimited: %s", r);
	r = run("test --ip 10.9.0.1 --sasl bob --from x@example.com --rcpt b@example.com");
	CHECK(strstr(r, "\ndecision: accept recipients=1/1\n") != NULL, "test --sasl bob: accept: %s", r);
	r = run("test --ip 192.0.2.7 --from a@good.example --rcpt b@example.com --rcpt c@example.com");
	CHECK(strstr(r, "\ndata: action=tempfail reason=rcpt-ratelimited reply=\"450 4.7.1 ") != NULL &&
	    strstr(r, "\ndecision: tempfail reason=rcpt-ratelimited\n") != NULL,
	    "test with 2 recipients: the budget refuses at data: %s", r);
	CHECK(strstr(run("ratelimit show ip 192.0.2.7"), "bucket=recipients net=192.0.2.7/32 burst=4 remaining=1 ")
	    != NULL, "the tests charged nothing");

	r = run("ratelimit reset sasl Al%69ce");
	CHECK(strcmp(r, "OK\nsubject: sasl Al%69ce\nredis: none\nlocal: cleared=1\n") == 0,
	    "reset sasl Al%%69ce (alice): one local entry: %s", r);
	CHECK(strstr(run("ratelimit show sasl alice"), " burst=1 remaining=1 retry_after_ms=0\n") != NULL,
	    "alice full again");
	r = run("ratelimit reset 192.0.2.7");
	CHECK(strstr(r, "\nlocal: cleared=3\n") != NULL, "reset ADDR: client, subnet, budget: %s", r);
	r = run("ratelimit reset sender <>");
	CHECK(strncmp(r, "OK\nsubject: sender <>\n", 22) == 0, "the null sender has a bucket: %s", r);
	policy_install(NULL);
}

static void
test_outbound_off(void)
{
	struct policy *p = testpolicy_new("allowed_domains = {\"example.com\"}\n"
	    "spf { enabled = false }\n"
	    "ratelimit { rate = 1  period = 1h  burst = 2  redis { host = \"\" } }\n");
	const char *r;

	policy_install(p);
	r = run("ratelimit show sasl alice");
	CHECK(one_err(r) && strstr(r, "outbound limit is not enabled") != NULL, "outbound off: %s", r);
	CHECK(one_err(run("ratelimit reset sender a@example.com")), "reset sender: ERR");
	CHECK(strncmp(run("ratelimit show 192.0.2.1"), "OK\n", 3) == 0, "an address: OK");
	policy_install(NULL);
}

int
main(void)
{
	test_ratelimit_words();
	test_outbound_off();
	return check_done("ctlcmd_test");
}
