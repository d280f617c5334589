/*
 * mlfi - libmilter callbacks for hopmilter.  See mlfi.h.
 *
 * Protocol steps: hopmilter needs CONNECT, HELO, MAIL, RCPT, the headers and
 * end of message, and DATA only while the recipient budget is on (the end
 * of the envelope, where the message and its recipients are charged in one
 * decision).  It negotiates away EOH, BODY, unknown commands and -- with
 * the budget off -- DATA, and asks for no reply at CONNECT, HELO and each
 * header, where it never refuses: every step skipped or unanswered is a
 * round trip the MTA does not wait for (see BENCHMARKS.md).  MAIL, RCPT,
 * DATA and EOM can refuse and are answered.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mlfi.h"
#include "policy/policy.h"
#include "policy/stats.h"

/* The no-reply steps libmilter agreed to; it offers the same set to every connection. */
static atomic_ulong mlfi_noreply;

#define MLFI_WANT_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS)
#define MLFI_SKIP_STEPS (SMFIP_NOBODY | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA)
#define MLFI_NR_STEPS (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR)

static sfsistat
mlfi_noreply_or_continue(unsigned long step)
{
	return (atomic_load(&mlfi_noreply) & step) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * Does the current policy decide at DATA?  Asked per connection; a reload
 * between this and the session's DATA is caught at end of message.
 */
static bool
mlfi_wants_data(void)
{
	struct policy *pol = policy_acquire();
	bool yes = policy_wants_data(pol);

	policy_unref(pol);
	return yes;
}

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
    unsigned long *pf3)
{
	(void)f2;
	(void)f3;
	if ((f0 & MLFI_WANT_ACTIONS) != MLFI_WANT_ACTIONS) {
		/* Without header changes we cannot scrub: refuse rather than leak. */
		log_error("MTA offers actions 0x%lx, hopmilter needs 0x%lx (add/change headers)",
		    f0, (unsigned long)MLFI_WANT_ACTIONS);
		return SMFIS_REJECT;
	}
	*pf0 = MLFI_WANT_ACTIONS | (f0 & SMFIF_SETSYMLIST);
	*pf1 = (MLFI_SKIP_STEPS | MLFI_NR_STEPS) & f1;
	if (mlfi_wants_data())
		*pf1 &= ~(unsigned long)SMFIP_NODATA;
	*pf2 = *pf3 = 0;
	atomic_store(&mlfi_noreply, *pf1 & MLFI_NR_STEPS);
	if (f0 & SMFIF_SETSYMLIST) {
		/* Only what the callbacks read; each list replaces the MTA's own. */
		if (smfi_setsymlist(ctx, SMFIM_CONNECT, "{client_name} {client_resolve}") !=
		    MI_SUCCESS ||
		    smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen}") != MI_SUCCESS ||
		    smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i") != MI_SUCCESS ||
		    smfi_setsymlist(ctx, SMFIM_DATA, "i") != MI_SUCCESS ||
		    smfi_setsymlist(ctx, SMFIM_EOM, "i") != MI_SUCCESS)
			log_warning("smfi_setsymlist failed; relying on the MTA's default macros");
	}
	return SMFIS_CONTINUE;
}

/* smfi_getsymval() takes a writable name; keep the casts in one place. */
static const char *
mlfi_macro(SMFICTX *ctx, const char *name)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%s", name);
	return smfi_getsymval(ctx, buf);
}

/*
 * Time spent in a step, for the stage histograms: one clock read at each
 * end, none when the counters are off.
 */
static int64_t
mlfi_t0(void)
{
	return stats_enabled() ? stats_now_us() : 0;
}

static sfsistat
mlfi_timed(enum stats_stage st, int64_t t0, sfsistat rc)
{
	if (t0 != 0)
		stats_stage_us(st, stats_now_us() - t0);
	return rc;
}

/* The single place where a verdict becomes a libmilter status. */
static sfsistat
mlfi_apply(SMFICTX *ctx, struct policy_verdict *v)
{
	switch (v->action) {
	case POLICY_CONTINUE:
		return SMFIS_CONTINUE;
	case POLICY_REJECT:
		if (smfi_setreply(ctx, v->rcode, v->xcode, v->text) != MI_SUCCESS)
			log_warning("smfi_setreply %s %s failed", v->rcode, v->xcode);
		return SMFIS_REJECT;
	case POLICY_TEMPFAIL:
		if (smfi_setreply(ctx, v->rcode, v->xcode, v->text) != MI_SUCCESS)
			log_warning("smfi_setreply %s %s failed", v->rcode, v->xcode);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_TEMPFAIL;
}

/* A session we could not allocate: never let the message through unchecked. */
static sfsistat
mlfi_tempfail_local(SMFICTX *ctx)
{
	char rcode[] = "451", xcode[] = "4.3.0", text[] = "Temporary local problem, try again later";

	smfi_setreply(ctx, rcode, xcode, text);
	return SMFIS_TEMPFAIL;
}

static sfsistat
mlfi_no_session(SMFICTX *ctx, const char *step)
{
	log_error("%s without session state (out of memory at connect?): tempfail", step);
	return mlfi_tempfail_local(ctx);
}

static sfsistat
mlfi_connect_step(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct policy *pol = policy_acquire();
	struct policy_session *s;

	/* Sendmail's QUIT_NC reuses the context: drop what a previous client left. */
	policy_session_free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	if (pol == NULL)
		return mlfi_noreply_or_continue(SMFIP_NR_CONN);
	s = policy_session_new(pol, hostaddr, hostname);
	policy_unref(pol);
	if (s == NULL)
		log_error("connect from %s: out of memory", hostname ? hostname : "unknown");
	else
		policy_client_name(s, mlfi_macro(ctx, "{client_name}"),
		    mlfi_macro(ctx, "{client_resolve}"));
	smfi_setpriv(ctx, s);
	return mlfi_noreply_or_continue(SMFIP_NR_CONN);
}

static sfsistat
mlfi_helo_step(SMFICTX *ctx, char *helo)
{
	struct policy_session *s = smfi_getpriv(ctx);

	if (s != NULL)
		policy_helo(s, helo);
	return mlfi_noreply_or_continue(SMFIP_NR_HELO);
}

static sfsistat
mlfi_envfrom_step(SMFICTX *ctx, char **argv)
{
	struct policy_session *s = smfi_getpriv(ctx);
	struct policy_verdict v;

	if (s == NULL)
		return mlfi_no_session(ctx, "MAIL");
	policy_mail(s, argv[0], mlfi_macro(ctx, "{auth_authen}"), mlfi_macro(ctx, "i"), &v);
	return mlfi_apply(ctx, &v);
}

static sfsistat
mlfi_envrcpt_step(SMFICTX *ctx, char **argv)
{
	struct policy_session *s = smfi_getpriv(ctx);
	struct policy_verdict v;

	if (s == NULL)
		return mlfi_no_session(ctx, "RCPT");
	policy_rcpt(s, argv[0], mlfi_macro(ctx, "i"), &v);
	return mlfi_apply(ctx, &v);
}

static sfsistat
mlfi_data(SMFICTX *ctx)
{
	struct policy_session *s = smfi_getpriv(ctx);
	struct policy_verdict v;

	if (s == NULL)
		return mlfi_no_session(ctx, "DATA");
	policy_data(s, mlfi_macro(ctx, "i"), &v);
	return mlfi_apply(ctx, &v);
}

static sfsistat
mlfi_header_step(SMFICTX *ctx, char *name, char *value)
{
	struct policy_session *s = smfi_getpriv(ctx);

	if (s != NULL)
		policy_header(s, name, value);
	return mlfi_noreply_or_continue(SMFIP_NR_HDR);
}

static sfsistat
mlfi_eom_step(SMFICTX *ctx)
{
	struct policy_session *s = smfi_getpriv(ctx);
	struct policy_edits edits = {0};
	struct policy_verdict v;

	if (s == NULL)
		return mlfi_no_session(ctx, "EOM");
	policy_eom(s, mlfi_macro(ctx, "i"), &edits, &v);
	for (size_t i = 0; i < edits.n && v.action == POLICY_CONTINUE; i++) {
		struct policy_edit *e = &edits.v[i];
		int rc = e->insert ? smfi_insheader(ctx, (int)e->index, e->name, e->value) :
		    smfi_chgheader(ctx, e->name, (int)e->index, NULL);

		if (rc != MI_SUCCESS) {
			/* A header we could not remove would leak: do not accept the message. */
			log_error("%s header %s #%u failed: tempfail", e->insert ? "insert" : "delete",
			    e->name, e->index);
			policy_edits_free(&edits);
			policy_abort(s);
			return mlfi_tempfail_local(ctx);
		}
	}
	policy_edits_free(&edits);
	policy_abort(s);
	return mlfi_apply(ctx, &v);
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct policy_session *s = smfi_getpriv(ctx);

	if (s != NULL)
		policy_abort(s);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	/* May come without connect (an earlier milter refused the client). */
	policy_session_free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_CONNECT, t0, mlfi_connect_step(ctx, hostname, hostaddr));
}

static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_HELO, t0, mlfi_helo_step(ctx, helo));
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_MAIL, t0, mlfi_envfrom_step(ctx, argv));
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_RCPT, t0, mlfi_envrcpt_step(ctx, argv));
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_HEADER, t0, mlfi_header_step(ctx, name, value));
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	int64_t t0 = mlfi_t0();

	return mlfi_timed(STATS_STAGE_EOM, t0, mlfi_eom_step(ctx));
}

struct smfiDesc mlfi_desc = {
	.xxfi_name = "hopmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = MLFI_WANT_ACTIONS,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_data = mlfi_data,
	.xxfi_header = mlfi_header,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_negotiate = mlfi_negotiate,
};
