/*
 * spf_conformance - run the openspf RFC 7208 test suite through exactly
 * the function the milter calls, spfcheck_message() (the HELO check, then
 * MAIL FROM with the HELO as sent; the guard layer with its grammar check,
 * rewrite and budget; libspf2's cache and evaluation; our result mapping),
 * with the suite's DNS data served by the offline zone as DNS messages in
 * wire format, parsed like a real server's, so NUL bytes in a record
 * arrive as they would from the network.
 *
 * usage: spf_conformance CASES EXPECTED-FAILURES
 *   CASES: the suite as yaml2cases.py writes it.
 *   EXPECTED-FAILURES: "ID  reason" lines ('#' comments): cases where
 *   libspf2 disagrees with the suite and our layer cannot help.
 *
 * Prints one line per case that fails, then "passed/total".  Exit 0 when
 * exactly the listed cases fail; 1 when an unlisted case fails or a
 * listed one passes (the list must shrink when libspf2 gets better).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter/policy/spfcheck.h"

#define FIELDS 7

static char expected[256][64];
static size_t n_expected;
static bool expected_seen[256];

static void
quiet(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)text;
	(void)arg;
}

static size_t field_len[FIELDS];

/* Undo yaml2cases.py's \xHH escapes in place; *len gets the byte count (NULs included). */
static char *
unescape(char *s, size_t *len)
{
	char *o = s;

	for (char *p = s; *p != '\0'; p++) {
		unsigned v;

		if (p[0] == '\\' && p[1] == 'x' && sscanf(p + 2, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	*len = (size_t)(o - s);
	return s;
}

static int
split(char *line, char **f)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (line != NULL && n < FIELDS) {
		f[n] = unescape(strsep(&line, "\t"), &field_len[n]);
		n++;
	}
	return n;
}

static void
load_expected(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[512];

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof(line), fp) != NULL && n_expected < 256) {
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		line[strcspn(line, " \t\r\n")] = '\0';
		snprintf(expected[n_expected++], sizeof(expected[0]), "%.63s", line);
	}
	fclose(fp);
}

static int
expected_index(const char *id)
{
	for (size_t i = 0; i < n_expected; i++)
		if (strcmp(expected[i], id) == 0)
			return (int)i;
	return -1;
}

static struct spfcheck *
new_scenario(void)
{
	/* The suite's receiver name is pyspf's default. */
	struct spfcheck_opts o = {.receiver = "unknown", .dns_timeout_ms = 5000,
	    .timeout_ms = 10000};
	struct spfcheck *sc;
	char err[256];

	if (spfcheck_new_offline(&o, &sc, err, sizeof(err)) != 0) {
		fprintf(stderr, "spfcheck: %s\n", err);
		exit(2);
	}
	return sc;
}

static void
add_record(struct spfcheck *sc, char **f)
{
	static const struct {
		const char *name;
		enum spfcheck_rr type;
	} types[] = {
		{"A", SPFCHECK_RR_A}, {"AAAA", SPFCHECK_RR_AAAA}, {"MX", SPFCHECK_RR_MX},
		{"TXT", SPFCHECK_RR_TXT}, {"PTR", SPFCHECK_RR_PTR},
		{"TIMEOUT", SPFCHECK_RR_TIMEOUT}, {"NODATA", SPFCHECK_RR_NODATA},
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(f[2], types[i].name) != 0)
			continue;
		if (types[i].type == SPFCHECK_RR_TIMEOUT || types[i].type == SPFCHECK_RR_NODATA)
			f[3] = NULL;
		/* TXT data as bytes: a NUL in a record travels in the DNS message. */
		if (types[i].type == SPFCHECK_RR_TXT) {
			(void)spfcheck_zone_add_txt(sc, f[1], f[3], field_len[3]);
			return;
		}
		/* A malformed record (a bad address) is part of some tests: it just is not there. */
		(void)spfcheck_zone_add(sc, f[1], types[i].type, f[3]);
		return;
	}
	fprintf(stderr, "unknown record type %s\n", f[2]);
	exit(2);
}

/* Is `got` one of the comma-separated results in `want`? */
static bool
result_ok(const char *got, const char *want)
{
	size_t n = strlen(got);

	for (const char *p = want; *p != '\0'; p += strcspn(p, ",") + (p[strcspn(p, ",")] != '\0'))
		if (strncmp(p, got, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* One case; true if it passes. */
static bool
run_case(struct spfcheck *sc, char **f)
{
	struct spfcheck_answer a;
	struct net_addr ip;
	const char *got;
	char def[600] = "";
	bool ok;

	if (net_addr_parse(f[2], &ip) != 0) {
		printf("%s: bad client address %s\n", f[1], f[2]);
		return false;
	}
	spfcheck_message(sc, &ip, f[3], f[4], &a);
	got = spfcheck_result_name(a.result);
	/* "DEFAULT": the checker's own explanation, not one from DNS. */
	if (strcmp(f[6], "DEFAULT") == 0)
		snprintf(def, sizeof(def), "%s does not allow %s to send mail for it", a.domain, a.ip);
	ok = result_ok(got, f[5]) && (f[6][0] == '\0' || strcmp(a.detail, def[0] ? def : f[6]) == 0);
	if (!ok)
		printf("%-28s got %s%s%s%s, want %s%s%s%s (libspf2: %s)\n", f[1], got,
		    f[6][0] ? " \"" : "", f[6][0] ? a.detail : "", f[6][0] ? "\"" : "", f[5],
		    f[6][0] ? " \"" : "", f[6], f[6][0] ? "\"" : "", a.raw);
	return ok;
}

int
main(int argc, char **argv)
{
	struct spfcheck *sc = NULL;
	char line[8192], *f[FIELDS];
	int total = 0, passed = 0, bad = 0;
	FILE *fp;

	if (argc != 3 || (fp = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: spf_conformance CASES EXPECTED-FAILURES\n");
		return 2;
	}
	log_set_sink(quiet, NULL);
	load_expected(argv[2]);
	/* All of a scenario's zone comes before its tests. */
	while (fgets(line, sizeof(line), fp) != NULL) {
		int n = split(line, f), ex;
		bool ok;

		if (n >= 1 && strcmp(f[0], "S") == 0) {
			spfcheck_free(sc);
			sc = new_scenario();
		} else if (n == 4 && strcmp(f[0], "Z") == 0 && sc != NULL) {
			add_record(sc, f);
		} else if (n == FIELDS && strcmp(f[0], "T") == 0 && sc != NULL) {
			ok = run_case(sc, f);
			total++;
			passed += ok;
			ex = expected_index(f[1]);
			if (ex >= 0)
				expected_seen[ex] = true;
			if (ok && ex >= 0) {
				printf("%-28s passes now: remove it from the expected failures\n", f[1]);
				bad++;
			} else if (!ok && ex < 0) {
				printf("%-28s FAILS and is not an expected failure\n", f[1]);
				bad++;
			}
		} else {
			fprintf(stderr, "malformed line: %s\n", line);
			return 2;
		}
	}
	fclose(fp);
	spfcheck_free(sc);
	for (size_t i = 0; i < n_expected; i++)
		if (!expected_seen[i]) {
			printf("%s: listed as expected failure but not in the suite\n", expected[i]);
			bad++;
		}
	printf("RFC 7208 test suite: %d/%d passed, %zu expected failures, %d unexpected\n",
	    passed, total, n_expected, bad);
	return bad == 0 ? 0 : 1;
}
