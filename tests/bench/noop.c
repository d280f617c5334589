/*
 * noop - the naive floor for `make bench`: a libmilter filter that does
 * nothing.
 *
 * It registers the callbacks a minimal policy filter would (connect, helo,
 * mail, rcpt, end of message), each returning SMFIS_CONTINUE, and no
 * negotiate callback: libmilter then asks the MTA to skip the steps whose
 * callbacks are NULL (data, headers, end of headers, body, unknown) and to
 * wait for a reply at every other one.  Whatever hopmilter costs on top of
 * this is the price of its checks; whatever it saves is what its own
 * negotiation wins.
 *
 *   noop [-m MACRO]... SOCKET      (unix:/path or inet:PORT@HOST, as for smfi_setconn)
 *
 * -m MACRO (e.g. -m {if_addr} -m i): at every stage, print the macro's value
 * as the MTA sent it ("noop: STAGE MACRO=VALUE", or "MACRO unset") on
 * standard output.  tests/integration/sendmail.sh runs it as a second filter
 * beside hopmilter, the way OpenDKIM reads Sendmail's default macros, to
 * show that hopmilter's Sendmail snippet adds macros instead of replacing
 * the lists.  Without -m (the benchmark) it does nothing at all.
 *
 * Stops on SIGTERM (libmilter's signal thread).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

#define NOOP_MACROS_MAX 16
static char *noop_macros[NOOP_MACROS_MAX];
static int noop_nmacros;

static void
noop_show(SMFICTX *ctx, const char *stage)
{
	int i;

	for (i = 0; i < noop_nmacros; i++) {
		const char *v = smfi_getsymval(ctx, noop_macros[i]);

		if (v != NULL)
			printf("noop: %s %s=%s\n", stage, noop_macros[i], v);
		else
			printf("noop: %s %s unset\n", stage, noop_macros[i]);
	}
	if (noop_nmacros > 0)
		fflush(stdout);
}

static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)host;
	(void)sa;
	noop_show(ctx, "connect");
	return SMFIS_CONTINUE;
}

static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)helo;
	noop_show(ctx, "helo");
	return SMFIS_CONTINUE;
}

static sfsistat
noop_envfrom(SMFICTX *ctx, char **argv)
{
	(void)argv;
	noop_show(ctx, "envfrom");
	return SMFIS_CONTINUE;
}

static sfsistat
noop_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)argv;
	noop_show(ctx, "envrcpt");
	return SMFIS_CONTINUE;
}

static sfsistat
noop_eom(SMFICTX *ctx)
{
	noop_show(ctx, "eom");
	return SMFIS_CONTINUE;
}

static struct smfiDesc noop_desc = {
	.xxfi_name = "noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = noop_connect,
	.xxfi_helo = noop_helo,
	.xxfi_envfrom = noop_envfrom,
	.xxfi_envrcpt = noop_envrcpt,
	.xxfi_eom = noop_eom,
};

int
main(int argc, char **argv)
{
	int i = 1;

	while (i + 1 < argc && strcmp(argv[i], "-m") == 0 && noop_nmacros < NOOP_MACROS_MAX) {
		noop_macros[noop_nmacros++] = argv[i + 1];
		i += 2;
	}
	if (argc != i + 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: noop [-m MACRO]... unix:/path | inet:PORT@HOST\n");
		return 64;
	}
	if (smfi_setconn(argv[i]) != MI_SUCCESS || smfi_register(noop_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop: cannot listen on %s\n", argv[i]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
