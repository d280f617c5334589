/*
 * rsspeak - where a process's memory is when it exits, for `make bench`.
 *
 * Preloaded (LD_PRELOAD) into a program, it writes one line at exit to the
 * file named by HM_RSS_OUT:
 *
 *   hwm_kb=N rss_kb=N anon_kb=N file_kb=N libcrypto_kb=N libssl_kb=N libc_kb=N
 *
 * hwm is the peak resident set (VmHWM); the rest is the resident set at
 * exit split into private anonymous memory (heap, stacks, written data)
 * and pages of mapped files, with the largest libraries on their own.
 * File pages are shared with every other process mapping the same file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long
rsspeak_status(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* Resident kB at exit: all, anonymous, and in the three big libraries. */
static void
rsspeak_smaps(long *all, long *anon, long *crypto, long *ssl, long *libc)
{
	char line[512];
	long *cur = NULL, v;
	FILE *f = fopen("/proc/self/smaps", "r");

	*all = *anon = *crypto = *ssl = *libc = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* A mapping starts with its address range; its fields are "Name: value". */
		if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
			cur = strstr(line, "/libcrypto.so") ? crypto : strstr(line, "/libssl.so") ? ssl :
			    strstr(line, "/libc.so") ? libc : NULL;
		} else if (sscanf(line, "Rss: %ld", &v) == 1) {
			*all += v;
			if (cur != NULL)
				*cur += v;
		} else if (sscanf(line, "Anonymous: %ld", &v) == 1) {
			*anon += v;
		}
	}
	fclose(f);
}

static void __attribute__((destructor))
rsspeak_report(void)
{
	const char *path = getenv("HM_RSS_OUT");
	long all, anon, crypto, ssl, libc;
	FILE *out;

	if (path == NULL || (out = fopen(path, "w")) == NULL)
		return;
	rsspeak_smaps(&all, &anon, &crypto, &ssl, &libc);
	fprintf(out, "hwm_kb=%ld rss_kb=%ld anon_kb=%ld file_kb=%ld libcrypto_kb=%ld libssl_kb=%ld "
	    "libc_kb=%ld\n", rsspeak_status("VmHWM:"), all, anon, all - anon, crypto, ssl, libc);
	fclose(out);
}
