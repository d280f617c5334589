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
 *   noop SOCKET      (unix:/path or inet:PORT@HOST, as for smfi_setconn)
 *
 * Stops on SIGTERM (libmilter's signal thread).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>

static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_envelope(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static struct smfiDesc noop_desc = {
	.xxfi_name = "noop",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_connect = noop_connect,
	.xxfi_helo = noop_helo,
	.xxfi_envfrom = noop_envelope,
	.xxfi_envrcpt = noop_envelope,
	.xxfi_eom = noop_eom,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: noop unix:/path | inet:PORT@HOST\n");
		return 64;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(noop_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
