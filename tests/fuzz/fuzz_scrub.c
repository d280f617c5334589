/*
 * fuzz_scrub - libFuzzer harness for outbound scrubbing
 * (milter/policy/scrub.c): header values come straight from the message.
 *   - an address the scrubber reports must really lie in the networks;
 *   - a name it reports must really be in the name list;
 *   - RFC 2047 decoding (rfc2047.h) never writes more than it read, and
 *     what it decodes obeys the two rules above;
 *   - the input read as header lines ("Name: value", a signature's h=
 *     included) never yields a deletion index past the headers of that
 *     name, and a kept (signed) hit is one a signature lists.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dset.h"
#include "netaddr.h"
#include "milter/policy/rfc2047.h"
#include "milter/policy/scrub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct net_list fuzz_nets;
static struct dset *fuzz_names;
static char *fuzz_remove[] = {"X-Originating-IP", "X-MS-Exchange-Organization-*"};
static char *fuzz_inspect[] = {"X-*", "Authentication-Results"};

static void
fuzz_init(void)
{
	static const char *list[] = {"10.200.0.0/24", "fd00:200::/64", "192.168.0.0/16", NULL};

	for (const char **p = list; *p != NULL; p++) {
		struct net_cidr n;
		const char *why;

		if (net_cidr_parse(*p, &n, &why) == 0)
			net_list_add(&fuzz_nets, &n);
	}
	net_list_build(&fuzz_nets);   /* the lookup the configuration makes */
	fuzz_names = dset_new();
	dset_add(fuzz_names, "corp.example", true);
	dset_add(fuzz_names, "core.internal", false);
}

/* The input as header lines; deletion indices stay within what was seen. */
static void
fuzz_message(char *s)
{
	struct scrub_rules r = {.received = true, .nets_a = &fuzz_nets, .names = fuzz_names,
		.remove = fuzz_remove, .nremove = 2, .inspect = fuzz_inspect, .ninspect = 2};
	struct scrub_msg *m = scrub_msg_new();
	char *names[64];
	size_t n = 0;
	bool oom;

	if (m == NULL)
		return;
	for (char *line = strtok(s, "\n"); line != NULL && n < 64; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');

		if (colon == NULL || colon == line)
			continue;
		*colon = '\0';
		names[n++] = line;
		scrub_msg_header(m, &r, line, colon + 1, false, &oom);
	}
	if (scrub_msg_finish(m) == 0) {
		for (size_t i = 0; i < scrub_msg_nhits(m); i++) {
			const struct scrub_hit *h = scrub_msg_hit(m, i);
			unsigned seen = 0;

			for (size_t j = 0; j < n; j++)
				seen += strcasecmp(names[j], h->name) == 0;
			if (h->index < 1 || h->index > seen)
				abort();
		}
	}
	scrub_msg_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *d;
	struct net_addr found;
	char name[64];

	if (s == NULL)
		return 0;
	if (fuzz_nets.n == 0)
		fuzz_init();
	memcpy(s, data, size);
	s[size] = '\0';
	if ((d = malloc(size + 1)) == NULL) {
		free(s);
		return 0;
	}
	rfc2047_decode(s, d);
	if (strlen(d) > strlen(s))
		abort();
	for (int k = 0; k < 2; k++) {
		const char *v = k == 0 ? s : d;

		if (scrub_names_internal(v, &fuzz_nets, NULL, &found) &&
		    !net_list_contains(&fuzz_nets, &found))
			abort();
		if (scrub_names_inner_host(v, fuzz_names, name, sizeof(name)) &&
		    strlen(name) < sizeof(name) - 1 && !dset_match(fuzz_names, name))
			abort();
	}
	free(d);
	fuzz_message(s);
	free(s);
	return 0;
}
