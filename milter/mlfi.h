/*
 * mlfi - the libmilter callbacks: gather facts, call policy, map verdicts.
 *
 * No decision is taken here.  Each callback turns libmilter's arguments and
 * macros into a policy_* call and maps the resulting verdict to SMFIS_* in
 * exactly one place (mlfi_apply).
 */
#ifndef HOP_MLFI_H
#define HOP_MLFI_H

#include <libmilter/mfapi.h>

/* The filter description handed to smfi_register(). */
extern struct smfiDesc mlfi_desc;

#endif
