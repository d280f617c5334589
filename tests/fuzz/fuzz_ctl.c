/*
 * fuzz_ctl - libFuzzer harness for the control socket's commands
 * (milter/ctlcmd.c) over a policy installed as the daemon installs it
 * (SPF off, the local rate limit), from one line as a client could send
 * it (the control thread hands over at most 1023 bytes, NUL-free, without
 * the line end).  The policy has every rate-limit bucket on (subnet,
 * recipient budget, outbound).  Checks the reply's shape: it starts with
 * "OK\n" or "ERR ", its status line has no control character, a
 * ratelimit reply has none anywhere (the logins and keys in it are
 * escaped), and a test never leaves anyone charged (the same test twice
 * gives the same reply, --sasl and the data step included).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter/ctlcmd.h"
#include "milter/policy/policy.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_init(void)
{
	static const char text[] =
	    "trusted_networks = {\"10.200.0.0/24\", \"fd00:200::/64\"}\n"
	    "allowed_domains = {\"example.com\", \".example.org\"}\n"
	    "banned_domains = {\"evil.example\"}\n"
	    "spf { enabled = false }\n"
	    "outbound { enabled = true }\n"
	    "ratelimit { enabled = true  burst = 1  rate = 1  period = 1h  subnet { enabled = true }"
	    "  recipients { enabled = true  burst = 2 }  outbound { enabled = true  burst = 1 }"
	    "  redis { host = \"\"  password = \"hidden\" } }\n";
	char err[512];
	struct conf *c;
	struct policy *p;

	log_set_sink(fuzz_quiet, NULL);
	if (conf_load_string("fuzz.conf", text, &c, err, sizeof(err)) != 0 ||
	    policy_new(c, &p, err, sizeof(err)) != 0)
		abort();
	policy_install(p);
}

/* Run one line; the reply in a malloc'd string. */
static char *
fuzz_run(const char *line)
{
	char *copy = strdup(line), *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	if (copy == NULL || fp == NULL)
		abort();
	ctlcmd_run(copy, fp);
	fclose(fp);
	free(copy);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024], *a, *b, *nl;
	struct policy *p;

	if (size >= sizeof(line) || memchr(data, '\0', size) != NULL)
		return 0;
	if ((p = policy_acquire()) == NULL)
		fuzz_init();
	policy_unref(p);
	memcpy(line, data, size);
	line[size] = '\0';
	a = fuzz_run(line);
	if (strncmp(a, "OK\n", 3) != 0 && strncmp(a, "ERR ", 4) != 0)
		abort();
	nl = strchr(a, '\n');
	if (nl == NULL)
		abort();
	for (const char *p = a; p < nl; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();
	/* The effective configuration never shows the password. */
	if (strstr(a, "\nratelimit {") != NULL && strstr(a, "hidden") != NULL)
		abort();
	if (strncmp(line, "ratelimit", 9) == 0)
		for (const char *p = a; *p != '\0'; p++)
			if (*p != '\n' && ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f))
				abort();
	if (strncmp(line, "test", 4) == 0) {
		b = fuzz_run(line);
		if (strcmp(a, b) != 0)
			abort();   /* a test charged something */
		free(b);
	}
	free(a);
	return 0;
}
