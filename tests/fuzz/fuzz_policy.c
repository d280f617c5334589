/*
 * fuzz_policy - libFuzzer harness driving a whole policy session
 * (milter/policy/policy.c) the way the milter callbacks do, from a script of
 * lines: "L<helo>", "M<sender>", "R<rcpt>", "H<name>:<value>", "E" (end of
 * message), "A" (abort).  The first line is the client address.  Checks
 * that verdicts are well-formed: a refusal carries a 4xx or 5xx code that
 * matches its action, and reply texts are safe for smfi_setreply.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter/policy/policy.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *fuzz_pol;

static void
fuzz_init(void)
{
	static const char text[] =
	    "trusted_networks = {\"10.200.0.0/24\", \"fd00:200::/64\"}\n"
	    "internal_networks = {\"192.168.0.0/16\"}\n"
	    "allowed_domains = {\"example.com\", \".example.org\"}\n"
	    "banned_domains = {\"evil.example\"}\n"
	    "ratelimit { rate = 1  period = 1s  burst = 3  subnet { enabled = true  rate = 10  period = 1s  burst = 20 }  redis { host = \"\" } }\n";
	char err[512];
	struct conf *c;

	log_set_sink(fuzz_quiet, NULL);
	log_set_level(LOG_DEBUG);
	if (conf_load_string("fuzz.conf", text, &c, err, sizeof(err)) != 0 ||
	    policy_new(c, &fuzz_pol, err, sizeof(err)) != 0)
		abort();
}

static void
fuzz_check(const struct policy_verdict *v)
{
	if (v->action == POLICY_CONTINUE)
		return;
	if (v->rcode[0] != (v->action == POLICY_REJECT ? '5' : '4') || v->xcode[0] != v->rcode[0])
		abort();
	for (const char *p = v->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			abort();
}

static struct policy_session *
fuzz_session(const char *line)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, line, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, line, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	return policy_session_new(fuzz_pol, ss.ss_family ? (struct sockaddr *)&ss : NULL, line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *line, *save = NULL;
	struct policy_session *sess = NULL;
	struct policy_verdict v;

	if (s == NULL)
		return 0;
	if (fuzz_pol == NULL)
		fuzz_init();
	memcpy(s, data, size);
	s[size] = '\0';
	for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (sess == NULL) {
			sess = fuzz_session(line);
			continue;
		}
		switch (line[0]) {
		case 'L': policy_helo(sess, line + 1); break;
		case 'M': policy_mail(sess, line + 1, NULL, "Q1", &v); fuzz_check(&v); break;
		case 'U': policy_mail(sess, line + 1, "user", NULL, &v); fuzz_check(&v); break;
		case 'R': policy_rcpt(sess, line + 1, NULL, &v); fuzz_check(&v); break;
		case 'H': {
			char *colon = strchr(line + 1, ':');

			if (colon != NULL) {
				*colon = '\0';
				policy_header(sess, line + 1, colon + 1);
			}
			break;
		}
		case 'E': {
			struct policy_edits e = {0};

			policy_eom(sess, NULL, &e, &v);
			fuzz_check(&v);
			policy_edits_free(&e);
			break;
		}
		case 'A': policy_abort(sess); break;
		default: break;
		}
	}
	policy_session_free(sess);
	free(s);
	return 0;
}
