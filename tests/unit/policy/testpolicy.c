/*
 * testpolicy - the policy core's shared unit-test set-up.  See testpolicy.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "tests/unit/policy/testpolicy.h"

char testpolicy_log[4096];
static int testpolicy_max_prio;

static void
testpolicy_sink(int prio, const char *text, void *arg)
{
	(void)arg;
	/* Keep the last line of interest; debug lines would hide a decision. */
	if (prio <= testpolicy_max_prio)
		snprintf(testpolicy_log, sizeof(testpolicy_log), "%s", text);
}

void
testpolicy_capture(int max_prio)
{
	testpolicy_max_prio = max_prio;
	log_set_sink(testpolicy_sink, NULL);
}

struct policy *
testpolicy_new(const char *conf_text)
{
	char err[1024];
	struct conf *c;
	struct policy *p;

	if (conf_load_string("test.conf", conf_text, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(2);
	}
	if (policy_new(c, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "policy: %s\n", err);
		exit(2);
	}
	return p;
}

struct policy *
testpolicy_new_spf(const char *conf_text, const struct testpolicy_rr *zone, size_t n)
{
	struct spfcheck_opts o = {.receiver = "mx.test.invalid", .dns_timeout_ms = 1000,
	    .timeout_ms = 2000};
	struct policy *p = testpolicy_new(conf_text);
	struct spfcheck *sc;
	char err[1024];

	if (spfcheck_new_offline(&o, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "spfcheck: %s\n", err);
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		if (spfcheck_zone_add(sc, zone[i].name, zone[i].type, zone[i].data) != 0) {
			fprintf(stderr, "spfcheck: bad zone record for %s\n", zone[i].name);
			exit(2);
		}
	}
	policy_set_spfcheck(p, sc);
	return p;
}

struct policy_session *
testpolicy_session(struct policy *p, const char *ip)
{
	struct sockaddr_storage ss = {0};
	int ok;

	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ok = inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ok = inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	if (ok != 1) {
		fprintf(stderr, "testpolicy: not an IP address: %s\n", ip);
		exit(2);
	}
	return policy_session_new(p, (struct sockaddr *)&ss, "client.example");
}

bool
testpolicy_reply_safe(const char *t)
{
	for (const char *c = t; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return false;
		if (*c == '%' && *++c != '%')
			return false;
	}
	return true;
}
