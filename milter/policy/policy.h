/*
 * policy - every decision hopmilter makes, without libmilter.
 *
 * SPF is evaluated at MAIL FROM for internet-class messages (after the
 * ban list) through spfcheck.h; its result is refused per the spf section,
 * and recorded at end of message in Authentication-Results and
 * Received-SPF headers (authres.h) inserted at the top, after every
 * incoming Authentication-Results claiming our authserv_id is deleted,
 * and every Received-SPF an internet client brought: that header carries
 * no authserv-id, so downstream (OpenDMARC reads the first one) cannot
 * tell a forged one from ours.  They go whatever received_spf says.
 *
 * The milter callbacks (mlfi.c) only gather facts (client address, HELO,
 * envelope, headers, macros), hand them to the functions here, and map the
 * returned verdict to SMFIS_* once.  Everything here can be driven directly
 * by unit tests.
 *
 * A struct policy bundles one immutable configuration with the runtime
 * objects built from it.  It is reference-counted: each SMTP session holds a
 * reference for its whole life, so a reload (SIGUSR1) installs a new policy
 * for new sessions while running ones finish on the old one.
 *
 * Every refusal -- and every message accepted -- produces exactly one log
 * line.  Its format is a contract for fail2ban (hopmilter(8), LOG LINES):
 *
 *   QID: BLOCKED reason=R action=reject|tempfail ip=IP from=<S> [to=<R>] helo=H
 *   QID: WOULD-BLOCK ...same fields...       (that check in shadow mode)
 *   QID: ACCEPTED ip=IP class=C from=<S> to=<R1>,<R2>[,+N] nrcpt=N refused=M scrubbed=K
 *        scrubbed_names=NAME:COUNT,...|- spf=RESULT [ratelimit_exempt=WHY]  (one line)
 *
 * to= names the accepted recipients, in order: the first POLICY_LOG_RCPTS
 * that fit in POLICY_LOG_RCPTS_MAX bytes, then ",+N" for the N not named
 * ("none" when there is none).  A ',' inside an address is escaped too.
 *
 * Relay protection (unknown-rcpt-domain, outbound-disabled) is enforced in
 * every mode: dry_run and the per-check modes never open the relay.
 *
 * Reasons fail2ban's default jail bans for are the hard refusals; the
 * rate-limit deferrals (ratelimited, rcpt-ratelimited) have a jail of
 * their own, off by default, and outbound-ratelimited (a trusted sender,
 * seen from the core) is matched by no jail at all.
 *
 * QID is the MTA's queue id, or NOQUEUE before the MTA has one.  Nothing a
 * client controls appears before ip=, and every client-supplied value is
 * escaped (esc_log) so it cannot contain a space or a line break.
 */
#ifndef HOP_POLICY_H
#define HOP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "conf.h"
#include "spfcheck.h"

struct policy;

#define POLICY_LOG_RCPTS 10
#define POLICY_LOG_RCPTS_MAX 2048

/* Take ownership of `conf` and build the runtime objects.  0, or -1 with `err`. */
int policy_new(struct conf *conf, struct policy **out, char *err, size_t errsz);
struct policy *policy_ref(struct policy *p);
void policy_unref(struct policy *p);
const struct conf *policy_conf(const struct policy *p);
/* The policy's rate limiter (ratelimit.h), NULL when ratelimit.enabled is false. */
struct ratelimit *policy_rl(const struct policy *p);
/*
 * For tests: evaluate SPF with `sc` (an offline checker, spfcheck.h), which
 * the policy takes over, whatever spf.enabled says.  Before any session.
 */
void policy_set_spfcheck(struct policy *p, struct spfcheck *sc);

/* The daemon's current policy.  install() takes over the caller's reference. */
void policy_install(struct policy *p);
/* A new reference to the current policy (NULL before the first install). */
struct policy *policy_acquire(void);

enum policy_class {
	POLICY_INTERNET,  /* everyone else: all inbound checks apply */
	POLICY_TRUSTED,   /* peer in trusted_networks, or SASL-authenticated */
};

enum policy_action {
	POLICY_CONTINUE,
	POLICY_REJECT,    /* 5xx */
	POLICY_TEMPFAIL,  /* 4xx */
};

enum policy_reason {
	POLICY_REASON_NONE,
	POLICY_REASON_BANNED_DOMAIN,
	POLICY_REASON_UNKNOWN_RCPT_DOMAIN,
	POLICY_REASON_OUTBOUND_DISABLED,
	POLICY_REASON_INTERNAL,      /* our own failure (out of memory): try again */
	POLICY_REASON_SPF_FAIL,
	POLICY_REASON_SPF_SOFTFAIL,
	POLICY_REASON_SPF_TEMPERROR,
	POLICY_REASON_SPF_PERMERROR,
	POLICY_REASON_RATELIMITED,   /* MAIL FROM over the client network's rate */
	POLICY_REASON_RATELIMIT_UNAVAILABLE, /* Redis away and on_redis_error = tempfail */
	POLICY_REASON_RECIPIENTS_RATELIMITED, /* DATA over the client network's recipient budget */
	POLICY_REASON_OUTBOUND_RATELIMITED,  /* a trusted sender (SASL login or sender) over its limit */
	POLICY_REASON_COUNT
};

struct policy_verdict {
	enum policy_action action;
	enum policy_reason reason;
	char rcode[4];       /* "550"; empty when action is CONTINUE */
	char xcode[12];      /* "5.7.1" */
	char text[512];      /* safe for smfi_setreply: no CR/LF, '%' doubled */
};

/* A header change for the adapter to apply at end of message. */
struct policy_edit {
	bool insert;         /* false: delete */
	char *name;          /* owned by the edit list */
	unsigned index;      /* delete: 1-based among headers of that name; insert: position */
	char *value;         /* insert only; owned by the edit list */
};

struct policy_edits {
	size_t n, cap;
	struct policy_edit *v;
};
void policy_edits_free(struct policy_edits *e);

/*
 * One SMTP session and its current message, opaque: only policy.c reads
 * their fields; the face holds the pointer and calls the functions below.
 */
struct policy_session;

/*
 * Start a session for a client at `sa` (NULL or a non-IP family when the
 * MTA does not know it: the client is then "internet" class).  Takes a new
 * reference on `pol`.  NULL on allocation failure.
 */
struct policy_session *policy_session_new(struct policy *pol, const struct sockaddr *sa,
    const char *hostname);
void policy_session_free(struct policy_session *s);
/*
 * A session for `hopmilter-ctl test`: the same checks, but nothing is
 * logged as BLOCKED (fail2ban must not ban an address an admin asked
 * about), counted, or charged to the rate limit: every bucket a session
 * would charge -- the message tiers at MAIL, the recipient budget at
 * policy_data(), the outbound bucket of a trusted client at MAIL -- is
 * only peeked at (ratelimit_peek*()).
 */
struct policy_session *policy_probe_new(struct policy *pol, const struct sockaddr *sa);

/*
 * The client's host name as the MTA verified it, from the connect macros:
 * Postfix's {client_name} is the forward-confirmed name or "unknown";
 * Sendmail's {client_name} is the PTR name, forward-confirmed only when
 * {client_resolve} is "OK".  So a name counts only when `client_resolve`
 * is NULL (Postfix) or "OK", and it is no "unknown" or "[address]".  Only
 * such a name can match ratelimit.exempt_client_names and
 * spf.exempt_client_names.  Call right after policy_session_new().
 */
void policy_client_name(struct policy_session *s, const char *client_name,
    const char *client_resolve);
/*
 * The name an unauthenticated trusted client's message is charged to in
 * the outbound limit, for envelope sender `sender` as the MTA gives it
 * ("<a@b>", "<>"): what ratelimit_show_outbound() takes as `sender`.
 */
void policy_outbound_name(const char *sender, char *out, size_t outsz);
/* Does the current policy decide at DATA (the face then asks for that step)? */
bool policy_wants_data(const struct policy *p);

void policy_helo(struct policy_session *s, const char *helo);
/* MAIL FROM.  `auth_authen` is the {auth_authen} macro (NULL if unset); `qid` may be NULL. */
void policy_mail(struct policy_session *s, const char *sender, const char *auth_authen,
    const char *qid, struct policy_verdict *v);
/* RCPT TO: a refusal concerns this recipient only. */
void policy_rcpt(struct policy_session *s, const char *rcpt, const char *qid,
    struct policy_verdict *v);
/*
 * DATA: the end of the envelope.  With ratelimit.recipients on, the inbound
 * charge -- the message and its accepted recipients, in one round trip --
 * is made here (or at end of message when the MTA skipped this step).
 */
void policy_data(struct policy_session *s, const char *qid, struct policy_verdict *v);
/* One header, in message order. */
void policy_header(struct policy_session *s, const char *name, const char *value);
/* End of message: fills `edits` (the caller frees them) and the final verdict. */
void policy_eom(struct policy_session *s, const char *qid, struct policy_edits *edits,
    struct policy_verdict *v);
/* The transaction was aborted (RSET, new MAIL, lost connection). */
void policy_abort(struct policy_session *s);

enum policy_class policy_session_class(const struct policy_session *s);
/* This message's SPF evaluation, or NULL when none was made (yet). */
const struct spfcheck_answer *policy_session_spf(const struct policy_session *s);
/* The policy the session holds a reference to (a reload does not change it). */
struct policy *policy_session_policy(const struct policy_session *s);
const char *policy_reason_name(enum policy_reason r);
/*
 * One notice line with the WOULD-BLOCK decisions this policy made, per
 * reason ("shadow mode, WHEN: N decision(s) would have refused mail:
 * banned-domain=2 ratelimited=5"); nothing when there were none.  The
 * daemon logs it for the old policy at a reload and at stop, so a trial
 * run in shadow mode ends with its totals.
 */
void policy_log_shadow(struct policy *p, const char *when);

#endif
