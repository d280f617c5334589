/*
 * policy - classification, envelope checks, header scrubbing, verdicts and
 * their log lines, and the session and message state they keep (opaque
 * outside this file).  See policy.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "authres.h"
#include "domain.h"
#include "esc.h"
#include "log.h"
#include "netaddr.h"
#include "policy.h"
#include "ratelimit.h"
#include "scrub.h"
#include "stats.h"

struct policy {
	atomic_uint refs;
	struct conf *conf;
	struct spfcheck *spf;  /* NULL when spf.enabled is false; shared by all sessions */
	struct ratelimit *rl;      /* NULL when ratelimit.enabled is false */
	struct scrub_rules scrub;  /* outbound scrubbing, pointing into conf */
	/* WOULD-BLOCK decisions per reason, for policy_log_shadow() */
	atomic_ulong shadow[POLICY_REASON_COUNT];
};

/* Per-message state: reset at every MAIL FROM. */
struct policy_msg {
	bool active;               /* between MAIL and end of message / abort */
	bool trusted;              /* class of this message */
	bool auth;                 /* SASL-authenticated */
	bool failed;               /* an allocation failed mid-message: tempfail at EOM */
	char qid[32];
	char from_log[600];        /* the sender as given, escaped for logs */
	struct addr sender;
	enum addr_status sender_status;
	char rcpts_log[POLICY_LOG_RCPTS_MAX];  /* accepted recipients named so far, escaped, ',' between */
	unsigned rcpts_named;      /* how many rcpts_log names (at most POLICY_LOG_RCPTS) */
	unsigned nrcpt, nrcpt_refused;
	struct scrub_msg *scrub;   /* trusted-side headers to delete (scrub.h); NULL until one */
	size_t scrubbed;           /* headers deleted at end of message */
	bool spf_done;             /* `spf` holds this message's SPF evaluation */
	const char *spf_skipped;   /* why SPF was skipped on purpose (spf.exempt_*), or NULL */
	const char *rl_exempt;     /* why no rate limit was charged, or NULL */
	bool rl_pending;           /* the inbound charge waits for the end of the envelope */
	struct spfcheck_answer spf;
	unsigned ar_seen;          /* Authentication-Results headers seen so far */
	unsigned *ar_forged;       /* indices of those claiming our authserv_id */
	size_t ar_forged_n, ar_forged_cap;
	unsigned rspf_seen;        /* Received-SPF headers seen so far */
	unsigned *rspf_del;        /* indices of those to delete (internet class: all) */
	size_t rspf_del_n, rspf_del_cap;
};

struct policy_session {
	struct policy *pol;        /* reference held for the session */
	struct net_addr addr;      /* family 0 when the MTA gave none */
	char ip[NET_ADDR_STRLEN];  /* "unknown" when family is 0 */
	char host[256];            /* escaped reverse-DNS name from the MTA */
	char helo[256];            /* escaped HELO argument */
	char helo_raw[256];        /* HELO as given (for SPF) */
	bool trusted_net;
	char name[DOMAIN_MAX + 1]; /* forward-confirmed client name, normalised; "" = none */
	const char *rl_exempt;     /* "network", "client-name" or NULL (ratelimit.exempt_*) */
	const char *spf_exempt;    /* the same for spf.exempt_* */
	bool probe;                /* hopmilter-ctl test: no log line, no counter, no charge */
	struct policy_msg msg;
};

/*
 * The reply and log name of every reason, in one table.  Texts carry no
 * client data: a reply never echoes what the client sent.
 */
static const struct {
	const char *name;
	enum policy_action action;
	const char *rcode, *xcode, *text;
} policy_reasons[POLICY_REASON_COUNT] = {
	[POLICY_REASON_NONE] = {"none", POLICY_CONTINUE, NULL, NULL, ""},
	[POLICY_REASON_BANNED_DOMAIN] = {"banned-domain", POLICY_REJECT, "550", "5.7.1",
	    "Sender domain is banned here"},
	[POLICY_REASON_UNKNOWN_RCPT_DOMAIN] = {"unknown-rcpt-domain", POLICY_REJECT, "550", "5.7.1",
	    "Recipient domain is not served here"},
	[POLICY_REASON_OUTBOUND_DISABLED] = {"outbound-disabled", POLICY_REJECT, "550", "5.7.1",
	    "Outbound mail is disabled on this relay"},
	[POLICY_REASON_INTERNAL] = {"internal-error", POLICY_TEMPFAIL, "451", "4.3.0",
	    "Temporary local problem, try again later"},
	/* RFC 7372: X.7.23 "SPF validation failed", X.7.24 "SPF validation error". */
	[POLICY_REASON_SPF_FAIL] = {"spf-fail", POLICY_REJECT, "550", "5.7.23",
	    "SPF validation failed"},
	[POLICY_REASON_SPF_SOFTFAIL] = {"spf-softfail", POLICY_REJECT, "550", "5.7.23",
	    "SPF validation failed (softfail)"},
	[POLICY_REASON_SPF_TEMPERROR] = {"spf-temperror", POLICY_TEMPFAIL, "451", "4.7.24",
	    "Temporary error in SPF validation"},
	[POLICY_REASON_SPF_PERMERROR] = {"spf-permerror", POLICY_REJECT, "550", "5.7.24",
	    "Permanent error in the SPF record"},
	/* policy_ratelimit() replaces the text with one carrying the retry-after hint. */
	[POLICY_REASON_RATELIMITED] = {"ratelimited", POLICY_TEMPFAIL, "450", "4.7.1",
	    "Too many messages from your network, try again later"},
	[POLICY_REASON_RATELIMIT_UNAVAILABLE] = {"ratelimit-unavailable", POLICY_TEMPFAIL, "451",
	    "4.3.0", "Temporary local problem, try again later"},
	/* policy_ratelimit_refuse() adds the retry-after hint to both. */
	[POLICY_REASON_RECIPIENTS_RATELIMITED] = {"rcpt-ratelimited", POLICY_TEMPFAIL, "450",
	    "4.7.1", "Too many recipients from your network, try again later"},
	/* A trusted sender over its own limit: never a reason to ban the client (the core). */
	[POLICY_REASON_OUTBOUND_RATELIMITED] = {"outbound-ratelimited", POLICY_TEMPFAIL, "451",
	    "4.7.1", "Too many messages from this sender, try again later"},
};

static pthread_mutex_t policy_current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *policy_current;

int
policy_new(struct conf *conf, struct policy **out, char *err, size_t errsz)
{
	struct policy *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL) {
		snprintf(err, errsz, "out of memory");
		conf_free(conf);
		return -1;
	}
	atomic_init(&p->refs, 1);
	for (int r = 0; r < POLICY_REASON_COUNT; r++)
		atomic_init(&p->shadow[r], 0);
	p->conf = conf;
	p->scrub = (struct scrub_rules){.received = conf->outbound.scrub_received,
	    .nets_a = &conf->trusted_networks, .nets_b = &conf->internal_networks,
	    .names = conf->internal_names,
	    .remove = conf->outbound.remove_headers.v, .nremove = conf->outbound.remove_headers.n,
	    .inspect = conf->outbound.scrub_headers.v, .ninspect = conf->outbound.scrub_headers.n};
	if (conf->spf.enabled) {
		/* Built before any worker thread can see it (spfcheck.h). */
		struct spfcheck_opts o = {.receiver = conf->authserv_id,
		    .dns_timeout_ms = conf->spf.dns_timeout_ms, .timeout_ms = conf->spf.timeout_ms};

		if (spfcheck_new(&o, &p->spf, err, errsz) != 0) {
			policy_unref(p);
			return -1;
		}
	}
	/*
	 * A reload gets its own rate limiter: fresh Redis connections (the
	 * redis settings may have changed) and an empty local table.  The
	 * shared state is in Redis and survives; only what the local fallback
	 * counted is forgotten.  The old one goes with the old policy's last
	 * session.
	 */
	if (conf->ratelimit.enabled && ratelimit_new(&conf->ratelimit, &p->rl, err, errsz) != 0) {
		policy_unref(p);
		return -1;
	}
	*out = p;
	return 0;
}

struct policy *
policy_ref(struct policy *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void
policy_unref(struct policy *p)
{
	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	spfcheck_free(p->spf);
	ratelimit_free(p->rl);
	conf_free(p->conf);
	free(p);
}

void
policy_set_spfcheck(struct policy *p, struct spfcheck *sc)
{
	spfcheck_free(p->spf);
	p->spf = sc;
}

const struct conf *
policy_conf(const struct policy *p)
{
	return p->conf;
}

struct ratelimit *
policy_rl(const struct policy *p)
{
	return p->rl;
}

void
policy_install(struct policy *p)
{
	struct policy *old;

	/* Installed means running: the daemon has forked, threads may start. */
	if (p != NULL)
		ratelimit_start(p->rl);
	pthread_mutex_lock(&policy_current_lock);
	old = policy_current;
	policy_current = p;
	pthread_mutex_unlock(&policy_current_lock);
	policy_unref(old);
}

struct policy *
policy_acquire(void)
{
	struct policy *p;

	pthread_mutex_lock(&policy_current_lock);
	p = policy_current ? policy_ref(policy_current) : NULL;
	pthread_mutex_unlock(&policy_current_lock);
	return p;
}

void
policy_log_shadow(struct policy *p, const char *when)
{
	char line[512] = "";
	size_t len = 0;
	unsigned long total = 0;

	for (int r = 0; r < POLICY_REASON_COUNT; r++) {
		unsigned long n = atomic_load(&p->shadow[r]);

		if (n == 0)
			continue;
		total += n;
		if (len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%lu",
			    policy_reasons[r].name, n);
	}
	if (total > 0)
		log_notice("shadow mode, %s: %lu decision(s) would have refused mail:%s", when, total,
		    line);
}

const char *
policy_reason_name(enum policy_reason r)
{
	return r < POLICY_REASON_COUNT ? policy_reasons[r].name : "?";
}

void
policy_edits_free(struct policy_edits *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].name);
		free(e->v[i].value);
	}
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

static int
policy_edits_add(struct policy_edits *e, bool insert, const char *name, unsigned index,
    char *value)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct policy_edit *v = realloc(e->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		e->v = v;
		e->cap = cap;
	}
	/* The name in full: a cut one would delete nothing and let the header leak. */
	e->v[e->n] = (struct policy_edit){.insert = insert, .index = index, .value = value,
	    .name = strdup(name)};
	if (e->v[e->n].name == NULL)
		return -1;
	e->n++;
	return 0;
}

/* ---------------------------------------------------------------- sessions */

static void
policy_msg_reset(struct policy_msg *m)
{
	scrub_msg_free(m->scrub);
	free(m->ar_forged);
	free(m->rspf_del);
	memset(m, 0, sizeof(*m));
}

/* Append a header index to a growing list; -1 when out of memory. */
static int
policy_idx_push(unsigned **v, size_t *n, size_t *cap, unsigned idx)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		unsigned *nv = realloc(*v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = idx;
	return 0;
}

/*
 * The client-scoped exemptions.  They only lift a check: an exempt client
 * is still an internet client for the ban, the recipient domains and the
 * outbound gate, and only trusted_networks or SASL make it trusted.
 */
static void
policy_exemptions(struct policy_session *s)
{
	const struct conf *c = s->pol->conf;

	s->rl_exempt = s->spf_exempt = NULL;
	if (s->addr.family == 0)
		return;
	/* Without a rate limit there is nothing to lift, and nothing to log. */
	if (s->pol->rl != NULL && net_list_contains(&c->ratelimit.exempt_networks, &s->addr))
		s->rl_exempt = "network";
	else if (s->pol->rl != NULL && s->name[0] != '\0' &&
	    dset_match(c->ratelimit.exempt_client_names, s->name))
		s->rl_exempt = "client-name";
	if (net_list_contains(&c->spf.exempt_networks, &s->addr))
		s->spf_exempt = "client in spf.exempt_networks";
	else if (s->name[0] != '\0' && dset_match(c->spf.exempt_client_names, s->name))
		s->spf_exempt = "client in spf.exempt_client_names";
}

void
policy_client_name(struct policy_session *s, const char *client_name,
    const char *client_resolve)
{
	const char *why;

	s->name[0] = '\0';
	/* Postfix: "unknown" unless forward-confirmed; Sendmail: only {client_resolve} OK. */
	if (client_name != NULL && client_name[0] != '\0' && client_name[0] != '[' &&
	    strcasecmp(client_name, "unknown") != 0 &&
	    (client_resolve == NULL || strcmp(client_resolve, "OK") == 0) &&
	    domain_normalize(client_name, s->name, sizeof(s->name), &why) != 0)
		s->name[0] = '\0';
	policy_exemptions(s);
	if (log_enabled(LOG_DEBUG)) {
		char raw[300];

		log_debug("connect ip=%s client_name=%s confirmed=%s ratelimit_exempt=%s "
		    "spf_exempt=%s", s->ip, esc_log(raw, sizeof(raw), client_name ? client_name : ""),
		    s->name[0] ? s->name : "none", s->rl_exempt ? s->rl_exempt : "no",
		    s->spf_exempt ? "yes" : "no");
	}
}

bool
policy_wants_data(const struct policy *p)
{
	return p != NULL && ratelimit_wants_recipients(p->rl);
}

static struct policy_session *
policy_session_alloc(struct policy *pol, const struct sockaddr *sa, const char *hostname)
{
	struct policy_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->pol = policy_ref(pol);
	if (net_addr_from_sockaddr(sa, &s->addr) == 0) {
		net_addr_format(&s->addr, s->ip, sizeof(s->ip));
		s->trusted_net = net_list_contains(&pol->conf->trusted_networks, &s->addr);
	} else {
		/* No IP (a pipe, a unix socket): checked like any internet client. */
		snprintf(s->ip, sizeof(s->ip), "unknown");
	}
	esc_log(s->host, sizeof(s->host), hostname ? hostname : "unknown");
	snprintf(s->helo, sizeof(s->helo), "none");
	policy_exemptions(s);
	return s;
}

struct policy_session *
policy_session_new(struct policy *pol, const struct sockaddr *sa, const char *hostname)
{
	struct policy_session *s = policy_session_alloc(pol, sa, hostname);

	if (s != NULL)
		stats_session();
	return s;
}

struct policy_session *
policy_probe_new(struct policy *pol, const struct sockaddr *sa)
{
	struct policy_session *s = policy_session_alloc(pol, sa, "unknown");

	if (s != NULL)
		s->probe = true;
	return s;
}

void
policy_session_free(struct policy_session *s)
{
	if (s == NULL)
		return;
	policy_msg_reset(&s->msg);
	policy_unref(s->pol);
	free(s);
}

enum policy_class
policy_session_class(const struct policy_session *s)
{
	return s->msg.trusted ? POLICY_TRUSTED : POLICY_INTERNET;
}

const struct spfcheck_answer *
policy_session_spf(const struct policy_session *s)
{
	return s->msg.spf_done ? &s->msg.spf : NULL;
}

struct policy *
policy_session_policy(const struct policy_session *s)
{
	return s->pol;
}

void
policy_helo(struct policy_session *s, const char *helo)
{
	if (helo == NULL)
		helo = "";
	esc_log(s->helo, sizeof(s->helo), helo);
	snprintf(s->helo_raw, sizeof(s->helo_raw), "%s", helo);
}

static void
policy_set_qid(struct policy_msg *m, const char *qid)
{
	/* The queue id comes from the MTA, but keep it to one safe token anyway. */
	if (qid != NULL && qid[0] != '\0')
		esc_log(m->qid, sizeof(m->qid), qid);
}

static const char *
policy_qid(const struct policy_msg *m)
{
	return m->qid[0] != '\0' ? m->qid : "NOQUEUE";
}

/*
 * The mode the check behind `reason` runs in.  Relay protection and our
 * own failures have none: they are always enforced, whatever dry_run or
 * any mode says, because a shadow relay check is an open relay.
 */
static enum conf_mode
policy_reason_mode(const struct conf *c, enum policy_reason reason)
{
	switch (reason) {
	case POLICY_REASON_BANNED_DOMAIN:
		return c->ban_mode;
	case POLICY_REASON_SPF_FAIL:
	case POLICY_REASON_SPF_SOFTFAIL:
	case POLICY_REASON_SPF_TEMPERROR:
	case POLICY_REASON_SPF_PERMERROR:
		return c->spf.mode;
	case POLICY_REASON_RATELIMITED:
	case POLICY_REASON_RATELIMIT_UNAVAILABLE:
	case POLICY_REASON_RECIPIENTS_RATELIMITED:
	case POLICY_REASON_OUTBOUND_RATELIMITED:
		return c->ratelimit.mode;
	default:
		return CONF_MODE_ENFORCE;
	}
}

/*
 * Fill `v` for `reason`, log the decision, and when its check runs in
 * shadow mode turn it back into CONTINUE.  `rcpt` (may be NULL) is the
 * recipient concerned.
 */
static void
policy_refuse_as(struct policy_session *s, enum policy_reason reason, enum policy_action action,
    const char *rcpt, const char *detail, struct policy_verdict *v)
{
	bool shadow = policy_reason_mode(s->pol->conf, reason) == CONF_MODE_SHADOW;
	char to[600] = "", text[sizeof(v->text)];

	v->reason = reason;
	v->action = action;
	snprintf(v->rcode, sizeof(v->rcode), "%s", policy_reasons[reason].rcode);
	snprintf(v->xcode, sizeof(v->xcode), "%s", policy_reasons[reason].xcode);
	if (action != policy_reasons[reason].action) {
		/* Configured otherwise (spf section): same detail code, the class of the action. */
		snprintf(v->rcode, sizeof(v->rcode), "%s", action == POLICY_REJECT ? "550" : "451");
		v->xcode[0] = action == POLICY_REJECT ? '5' : '4';
	}
	snprintf(text, sizeof(text), "%s%s%s", policy_reasons[reason].text,
	    detail != NULL && detail[0] != '\0' ? ": " : "", detail != NULL ? detail : "");
	esc_reply(v->text, sizeof(v->text), text);
	if (rcpt != NULL) {
		char esc[560];

		snprintf(to, sizeof(to), " to=%s", esc_log(esc, sizeof(esc), rcpt));
	}
	if (!s->probe) {
		log_msg(LOG_NOTICE, "%s: %s reason=%s action=%s ip=%s from=%s%s helo=%s",
		    policy_qid(&s->msg), shadow ? "WOULD-BLOCK" : "BLOCKED", policy_reasons[reason].name,
		    v->action == POLICY_REJECT ? "reject" : "tempfail", s->ip,
		    s->msg.from_log, to, s->helo);
		stats_refusal(reason, v->action, shadow);
	}
	if (shadow) {
		/* A probe counts nothing here either: the summary at reload/stop is of real mail. */
		if (!s->probe)
			atomic_fetch_add(&s->pol->shadow[reason], 1);
		v->action = POLICY_CONTINUE;
		v->rcode[0] = v->xcode[0] = '\0';
	}
}

static void
policy_refuse(struct policy_session *s, enum policy_reason reason, const char *rcpt,
    struct policy_verdict *v)
{
	policy_refuse_as(s, reason, policy_reasons[reason].action, rcpt, NULL, v);
}

static void
policy_verdict_continue(struct policy_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = POLICY_CONTINUE;
}

/* The configured action for an SPF result, and the reason it is logged under. */
static enum conf_spf_action
policy_spf_action(const struct conf_spf *c, enum spfcheck_result r, enum policy_reason *reason)
{
	switch (r) {
	case SPFCHECK_FAIL:
		*reason = POLICY_REASON_SPF_FAIL;
		return c->fail;
	case SPFCHECK_SOFTFAIL:
		*reason = POLICY_REASON_SPF_SOFTFAIL;
		return c->softfail;
	case SPFCHECK_TEMPERROR:
		*reason = POLICY_REASON_SPF_TEMPERROR;
		return c->temperror;
	case SPFCHECK_PERMERROR:
		*reason = POLICY_REASON_SPF_PERMERROR;
		return c->permerror;
	default:
		*reason = POLICY_REASON_NONE;
		return CONF_SPF_ACCEPT;
	}
}

/* Evaluate SPF for an internet-class message at MAIL FROM; refuse per the spf section. */
static void
policy_spf(struct policy_session *s, struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;
	char sender[sizeof(m->spf.sender)], helo[sizeof(m->spf.helo)], raw[sizeof(m->spf.raw)];
	const char *env = NULL;
	enum policy_reason reason;
	enum conf_spf_action act;

	if (s->addr.family == 0)
		return;  /* no client address, nothing to check it against */
	if (m->sender_status == ADDR_NULL)
		env = "";
	else if (m->sender_status == ADDR_OK &&
	    (size_t)snprintf(sender, sizeof(sender), "%s@%s", m->sender.local, m->sender.domain) <
	    sizeof(sender))
		env = sender;
	spfcheck_message(s->pol->spf, &s->addr, s->helo_raw, env, &m->spf);
	m->spf_done = true;
	if (!s->probe)
		stats_spf(m->spf.identity, m->spf.result);
	log_debug("%s: spf %s identity=%s helo=%s helo_result=%s deadline=%s libspf2=%s", policy_qid(m),
	    spfcheck_result_name(m->spf.result),
	    m->spf.identity == SPFCHECK_ID_HELO ? "helo" : "mailfrom",
	    esc_log(helo, sizeof(helo), m->spf.helo), spfcheck_result_name(m->spf.helo_result),
	    m->spf.deadline ? "yes" : "no",
	    esc_log(raw, sizeof(raw), m->spf.raw));
	act = policy_spf_action(&s->pol->conf->spf, m->spf.result, &reason);
	if (act != CONF_SPF_ACCEPT)
		policy_refuse_as(s, reason, act == CONF_SPF_REJECT ? POLICY_REJECT : POLICY_TEMPFAIL,
		    NULL, m->spf.detail, v);
}

/* A rate-limit answer as a verdict: the reason by the bucket that refused, and the wait. */
static void
policy_ratelimit_verdict(struct policy_session *s, enum ratelimit_result res,
    const struct ratelimit_info *info, struct policy_verdict *v)
{
	enum policy_reason reason = POLICY_REASON_RATELIMITED;
	const char *what = "messages from your network";
	long secs = (info->retry_after_ms + 999) / 1000;
	char text[200];

	if (res == RATELIMIT_ERROR) {
		policy_refuse(s, POLICY_REASON_RATELIMIT_UNAVAILABLE, NULL, v);
		return;
	}
	if (res != RATELIMIT_LIMITED)
		return;
	if (info->tier == RATELIMIT_TIER_RECIPIENTS) {
		reason = POLICY_REASON_RECIPIENTS_RATELIMITED;
		what = "recipients from your network";
	} else if (info->tier == RATELIMIT_TIER_OUTBOUND) {
		reason = POLICY_REASON_OUTBOUND_RATELIMITED;
		what = "messages from this sender";
	}
	policy_refuse(s, reason, NULL, v);
	snprintf(text, sizeof(text), "Too many %s, try again in %ld second%s", what,
	    secs < 1 ? 1 : secs, secs > 1 ? "s" : "");
	if (v->action != POLICY_CONTINUE)
		esc_reply(v->text, sizeof(v->text), text);
}

static void
policy_ratelimit_debug(struct policy_session *s, const char *what, enum ratelimit_result res,
    const struct ratelimit_info *info)
{
	log_debug("%s: ratelimit ip=%s net=%s result=%s source=%s retry_after=%ldms%s",
	    policy_qid(&s->msg), s->ip, info->net, res == RATELIMIT_ALLOWED ? "allowed" :
	    res == RATELIMIT_LIMITED ? "limited" : "error", ratelimit_source_name(info->source),
	    info->retry_after_ms, what);
}

/*
 * Charge an internet message to the client's network: at MAIL FROM (the
 * message alone), or -- with the recipient budget on -- at the end of the
 * envelope, the message and its accepted recipients in one round trip.
 * Over the limit: 450 4.7.1 with the time to wait in the text.  Exempt
 * clients and senders are not charged at all.
 */
static void
policy_ratelimit(struct policy_session *s, bool envelope, struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;
	struct ratelimit_info info;
	enum ratelimit_result res;
	char what[32];

	/* Unknown address (a pipe, a unix socket): nothing to key a limit on. */
	if (s->pol->rl == NULL || s->addr.family == 0)
		return;
	if (s->rl_exempt != NULL || m->rl_exempt != NULL) {
		log_debug("%s: ratelimit ip=%s exempt=%s", policy_qid(m), s->ip,
		    s->rl_exempt != NULL ? s->rl_exempt : m->rl_exempt);
		return;
	}
	/* A probe (hopmilter-ctl test) peeks where a session charges, and charges nothing. */
	if (!envelope && ratelimit_wants_recipients(s->pol->rl)) {
		m->rl_pending = true;   /* decided at DATA, with the recipients */
		return;
	}
	m->rl_pending = false;
	if (s->probe) {
		res = envelope ? ratelimit_peek_envelope(s->pol->rl, &s->addr, m->nrcpt, &info) :
		    ratelimit_peek(s->pol->rl, &s->addr, &info);
		what[0] = '\0';
	} else if (envelope) {
		res = ratelimit_check_envelope(s->pol->rl, &s->addr, m->nrcpt, &info);
		snprintf(what, sizeof(what), " nrcpt=%u", m->nrcpt);
	} else {
		res = ratelimit_check(s->pol->rl, &s->addr, &info);
		what[0] = '\0';
	}
	policy_ratelimit_debug(s, what, res, &info);
	if (!s->probe)
		stats_ratelimit(info.source, res == RATELIMIT_ALLOWED ? STATS_RL_ALLOWED :
		    res == RATELIMIT_LIMITED ? STATS_RL_LIMITED : STATS_RL_ERROR);
	policy_ratelimit_verdict(s, res, &info, v);
}

/*
 * The outbound bucket name of an envelope sender: local@domain (the domain
 * normalised) when it parses, "" for <>, else the sender as logged.
 */
static void
policy_outbound_sender_of(enum addr_status st, const struct addr *a, const char *logged,
    char *out, size_t outsz)
{
	if (st == ADDR_OK)
		snprintf(out, outsz, "%s@%s", a->local, a->domain);
	else
		snprintf(out, outsz, "%s", st == ADDR_NULL ? "" : logged);
}

void
policy_outbound_name(const char *sender, char *out, size_t outsz)
{
	char logged[600];
	struct addr a;
	enum addr_status st = addr_parse(sender, &a);

	esc_log(logged, sizeof(logged), sender);
	policy_outbound_sender_of(st, &a, logged, out, outsz);
}

/*
 * A trusted client's message, charged to its SASL login, or to the
 * envelope sender when it did not authenticate.  The refusal is a 451
 * logged as outbound-ratelimited, a reason no fail2ban jail matches:
 * the client here is our own core, never to be banned.
 */
static void
policy_ratelimit_outbound(struct policy_session *s, const char *auth_authen,
    struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;
	const struct conf *c = s->pol->conf;
	char sender[600], who[700];
	struct ratelimit_info info;
	enum ratelimit_result res;

	if (s->pol->rl == NULL || !c->ratelimit.outbound_enabled)
		return;
	policy_outbound_sender_of(m->sender_status, &m->sender, m->from_log, sender,
	    sizeof(sender));
	/* A probe (hopmilter-ctl test) peeks at the bucket: no charge, no log line. */
	if (s->probe) {
		res = ratelimit_peek_outbound(s->pol->rl, m->auth ? auth_authen : NULL, sender, &info);
		policy_ratelimit_verdict(s, res, &info, v);
		return;
	}
	res = ratelimit_check_outbound(s->pol->rl, m->auth ? auth_authen : NULL, sender, &info);
	if (m->auth) {
		char esc[600];

		snprintf(who, sizeof(who), "sasl=%s", esc_log(esc, sizeof(esc), auth_authen));
	} else {
		snprintf(who, sizeof(who), "sender=%s", m->from_log);
	}
	log_debug("%s: ratelimit outbound %s result=%s source=%s retry_after=%ldms",
	    policy_qid(m), who, res == RATELIMIT_ALLOWED ? "allowed" :
	    res == RATELIMIT_LIMITED ? "limited" : "error", ratelimit_source_name(info.source),
	    info.retry_after_ms);
	if (res == RATELIMIT_ALLOWED)
		return;
	/* Which account: the line an admin needs to find a compromised one. */
	if (res == RATELIMIT_LIMITED)
		log_msg(LOG_NOTICE, "%s: outbound limit reached by %s", policy_qid(m), who);
	/* RATELIMIT_ERROR: ratelimit-unavailable, 451 4.3.0, which no jail counts either. */
	policy_ratelimit_verdict(s, res, &info, v);
}

/*
 * ratelimit.exempt_sender_domains: the sender's domain is exempt only when
 * SPF passed for it from this client -- anyone can write the domain, only
 * its own servers can pass.  SPF is evaluated first for such a sender (the
 * other ones keep the cheap order: the limit before any DNS).
 */
static void
policy_sender_exemption(struct policy_session *s, struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;
	const struct conf *c = s->pol->conf;

	if (s->pol->rl == NULL || m->sender_status != ADDR_OK || s->pol->spf == NULL ||
	    s->spf_exempt != NULL ||
	    !dset_match(c->ratelimit.exempt_sender_domains, m->sender.domain))
		return;
	policy_spf(s, v);
	if (m->spf_done && m->spf.result == SPFCHECK_PASS &&
	    m->spf.identity == SPFCHECK_ID_MAILFROM)
		m->rl_exempt = "sender-domain";
}

void
policy_mail(struct policy_session *s, const char *sender, const char *auth_authen,
    const char *qid, struct policy_verdict *v)
{
	const struct conf *c = s->pol->conf;
	struct policy_msg *m = &s->msg;

	policy_verdict_continue(v);
	/* Many messages per connection: nothing of the last one may leak in. */
	policy_msg_reset(m);
	if (!s->probe)
		stats_message();
	m->active = true;
	m->auth = auth_authen != NULL && auth_authen[0] != '\0';
	m->trusted = s->trusted_net || m->auth;
	policy_set_qid(m, qid);
	if (sender == NULL)
		sender = "<>";
	esc_log(m->from_log, sizeof(m->from_log), sender);
	m->sender_status = addr_parse(sender, &m->sender);

	if (m->trusted) {
		policy_ratelimit_outbound(s, auth_authen, v);
		return;
	}
	/* An invalid IDN label below a banned domain is still banned (addr.h). */
	if (c->ban_mode != CONF_MODE_OFF &&
	    (m->sender_status == ADDR_OK || m->sender_status == ADDR_INVALID) &&
	    m->sender.domain[0] != '\0' && dset_match(c->banned_domains, m->sender.domain))
		policy_refuse(s, POLICY_REASON_BANNED_DOMAIN, NULL, v);
	if (v->reason == POLICY_REASON_NONE)
		policy_sender_exemption(s, v);
	/* Only a message that would otherwise go on is charged (shadow: would go on). */
	if (v->reason == POLICY_REASON_NONE)
		policy_ratelimit(s, false, v);
	if (v->action != POLICY_CONTINUE || m->spf_done)
		return;
	if (s->spf_exempt != NULL && s->pol->spf != NULL) {
		/* Recorded as skipped in Authentication-Results; the client stays an internet one. */
		m->spf_skipped = s->spf_exempt;
		log_debug("%s: spf skipped ip=%s: %s", policy_qid(m), s->ip, s->spf_exempt);
	} else if (s->pol->spf != NULL) {
		policy_spf(s, v);
	}
}

void
policy_data(struct policy_session *s, const char *qid, struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;

	policy_verdict_continue(v);
	policy_set_qid(m, qid);
	/* Refused recipients never reached nrcpt: they cost nothing. */
	if (m->active && m->rl_pending)
		policy_ratelimit(s, true, v);
}

/*
 * Is this recipient in a domain the site accepts mail for?  A local part
 * with '%', '!' or '@' ("user%elsewhere@example.com",
 * "elsewhere!user@example.com") names another destination behind ours --
 * the open-relay trick of the percent hack and bang paths -- so it is never
 * local, whatever the domain.  Quoting does not make it safe: an MTA
 * further in (Postfix's allow_percent_hack, swap_bangpath) works on the
 * unquoted form, and Postfix's own allow_untrusted_routing check refuses
 * the quoted forms too.
 */
static bool
policy_rcpt_is_local(const struct conf *c, const struct addr *a, enum addr_status st)
{
	if (a->routed_local || strpbrk(a->local, "%!@") != NULL)
		return false;
	/* RFC 5321 section 4.5.1: "<postmaster>" without a domain must be accepted. */
	if (st == ADDR_NO_DOMAIN)
		return strcasecmp(a->local, "postmaster") == 0;
	return st == ADDR_OK && dset_match(c->allowed_domains, a->domain);
}

/*
 * Name an accepted recipient in the ACCEPTED line, while there is room.
 * ',' separates them, so one inside an address is escaped like a space.
 */
static void
policy_log_rcpt(struct policy_msg *m, const char *rcpt)
{
	char esc[560], one[sizeof(esc) * 2];
	size_t o = 0, len = strlen(m->rcpts_log);

	if (m->rcpts_named >= POLICY_LOG_RCPTS)
		return;
	esc_log(esc, sizeof(esc), rcpt);
	for (const char *p = esc; *p != '\0'; p++) {
		if (*p == ',') {
			memcpy(one + o, "\\x2c", 4);
			o += 4;
		} else {
			one[o++] = *p;
		}
	}
	one[o] = '\0';
	if (len + (len > 0) + o + 16 > sizeof(m->rcpts_log)) {
		/* Full: no later recipient is named either, so the order stays clear. */
		m->rcpts_named = POLICY_LOG_RCPTS;
		return;
	}
	snprintf(m->rcpts_log + len, sizeof(m->rcpts_log) - len, "%s%s", len > 0 ? "," : "", one);
	m->rcpts_named++;
}

void
policy_rcpt(struct policy_session *s, const char *rcpt, const char *qid,
    struct policy_verdict *v)
{
	const struct conf *c = s->pol->conf;
	struct policy_msg *m = &s->msg;
	struct addr a;
	enum addr_status st;
	bool local;

	policy_verdict_continue(v);
	policy_set_qid(m, qid);
	if (rcpt == NULL)
		rcpt = "<>";
	st = addr_parse(rcpt, &a);
	local = policy_rcpt_is_local(c, &a, st);
	if (!m->trusted && !local)
		policy_refuse(s, POLICY_REASON_UNKNOWN_RCPT_DOMAIN, rcpt, v);
	else if (m->trusted && !local && !c->outbound.enabled)
		policy_refuse(s, POLICY_REASON_OUTBOUND_DISABLED, rcpt, v);
	if (!s->probe)
		stats_recipient(v->action == POLICY_CONTINUE);
	if (v->action != POLICY_CONTINUE) {
		m->nrcpt_refused++;
		return;
	}
	m->nrcpt++;
	policy_log_rcpt(m, rcpt);
}

/*
 * Outbound scrubbing of one trusted-side header (scrub.h).  `forged`: the
 * header is deleted already (a forged Authentication-Results) and is only
 * counted.
 */
static void
policy_scrub_header(struct policy_session *s, const char *name, const char *value, bool forged)
{
	struct policy_msg *m = &s->msg;
	const struct scrub_hit *h;
	bool oom;

	if (m->scrub == NULL && (m->scrub = scrub_msg_new()) == NULL) {
		/* Sending the message on could leak: fail it instead. */
		m->failed = true;
		return;
	}
	h = scrub_msg_header(m->scrub, &s->pol->scrub, name, value, forged, &oom);
	if (oom)
		m->failed = true;
	if (h != NULL && log_enabled(LOG_DEBUG)) {
		char n[128], w[160];

		log_debug("%s: scrub %s #%u %s %s", policy_qid(m), esc_log(n, sizeof(n), h->name),
		    h->index, h->reason == SCRUB_LISTED ? "listed as" : "naming",
		    esc_log(w, sizeof(w), h->what));
	}
}

void
policy_header(struct policy_session *s, const char *name, const char *value)
{
	const struct conf *c = s->pol->conf;
	struct policy_msg *m = &s->msg;
	bool forged = false;

	if (name == NULL || value == NULL)
		return;
	if (strcasecmp(name, "Authentication-Results") == 0) {
		m->ar_seen++;
		/* Only this host writes our authserv_id: any other copy is forged. */
		forged = authres_claims(value, c->authserv_id);
		if (forged && policy_idx_push(&m->ar_forged, &m->ar_forged_n, &m->ar_forged_cap,
		    m->ar_seen) != 0)
			m->failed = true;
	}
	if (strcasecmp(name, "Received-SPF") == 0) {
		m->rspf_seen++;
		/* Only ours may reach downstream: it cannot tell one from another. */
		if (!m->trusted && policy_idx_push(&m->rspf_del, &m->rspf_del_n,
		    &m->rspf_del_cap, m->rspf_seen) != 0)
			m->failed = true;
	}
	if (m->trusted)
		policy_scrub_header(s, name, value, forged);
}

/*
 * The SPF headers, inserted at the top (RFC 7208 section 9.1, RFC 8601
 * section 5).  Postfix puts them above its own Received header.  The value
 * buffers pass to the edit list, which frees them.
 */
static int
policy_spf_headers(struct policy_session *s, struct policy_edits *edits)
{
	const struct conf *c = s->pol->conf;
	struct spfcheck_answer *a = &s->msg.spf;
	char *ar = malloc(1024), *rs = NULL;

	if (ar == NULL || authres_spf(a, c->authserv_id, ar, 1024) != 0)
		goto fail;
	if (c->spf.received_spf &&
	    ((rs = malloc(2048)) == NULL || authres_received_spf(a, c->authserv_id, rs, 2048) != 0))
		goto fail;
	/* Each insert at index 0 goes above the last: Received-SPF ends up on top. */
	if (policy_edits_add(edits, true, "Authentication-Results", 0, ar) != 0)
		goto fail;
	ar = NULL;
	if (rs != NULL && policy_edits_add(edits, true, "Received-SPF", 0, rs) != 0)
		goto fail;
	return 0;
fail:
	free(ar);
	free(rs);
	return -1;
}

/* Authentication-Results saying SPF was not checked, and why (authres.h). */
static int
policy_spf_skipped_header(struct policy_session *s, struct policy_edits *edits)
{
	struct policy_msg *m = &s->msg;
	char *ar = malloc(1024);

	if (ar == NULL || authres_spf_skipped(s->pol->conf->authserv_id, m->spf_skipped,
	    m->sender_status == ADDR_OK ? m->sender.domain : NULL, ar, 1024) != 0 ||
	    policy_edits_add(edits, true, "Authentication-Results", 0, ar) != 0) {
		free(ar);
		return -1;
	}
	return 0;
}

/* Deletions of one name from the highest index down; names in any order. */
static int
policy_edit_order(const void *a, const void *b)
{
	const struct policy_edit *x = a, *y = b;
	int n = strcasecmp(x->name, y->name);

	if (n != 0)
		return n;
	return x->index < y->index ? 1 : x->index > y->index ? -1 : 0;
}

/*
 * The scrubbed headers, except those a DKIM signature covers: those stay,
 * with a warning naming them (hopmilter.conf(5): sign after scrubbing, or
 * leave them out of h=).
 */
static int
policy_scrub_edits(struct policy_session *s, struct policy_edits *edits)
{
	struct policy_msg *m = &s->msg;

	if (m->scrub == NULL)
		return 0;
	if (scrub_msg_finish(m->scrub) != 0)
		return -1;
	for (size_t i = 0; i < scrub_msg_nhits(m->scrub); i++) {
		const struct scrub_hit *h = scrub_msg_hit(m->scrub, i);
		char n[128], w[160];

		if (h->signed_kept) {
			log_warning("%s: keeping %s #%u (%s %s): a DKIM signature covers it; sign after "
			    "scrubbing, or leave it out of h=", policy_qid(m),
			    esc_log(n, sizeof(n), h->name), h->index,
			    h->reason == SCRUB_LISTED ? "listed as" : "naming",
			    esc_log(w, sizeof(w), h->what));
			continue;
		}
		if (policy_edits_add(edits, false, h->name, h->index, NULL) != 0)
			return -1;
		m->scrubbed++;
	}
	return 0;
}

/*
 * Deletions before insertions, each name from its highest index down:
 * deleting one header renumbers those after it, and an inserted header
 * would renumber the ones of its name.
 */
static int
policy_eom_edits(struct policy_session *s, struct policy_edits *edits)
{
	struct policy_msg *m = &s->msg;

	for (size_t i = m->ar_forged_n; i-- > 0;)
		if (policy_edits_add(edits, false, "Authentication-Results", m->ar_forged[i],
		    NULL) != 0)
			return -1;
	for (size_t i = m->rspf_del_n; i-- > 0;)
		if (policy_edits_add(edits, false, "Received-SPF", m->rspf_del[i], NULL) != 0)
			return -1;
	if (policy_scrub_edits(s, edits) != 0)
		return -1;
	if (edits->n > 1)
		qsort(edits->v, edits->n, sizeof(edits->v[0]), policy_edit_order);
	if (m->spf_skipped != NULL)
		return policy_spf_skipped_header(s, edits);
	return m->spf_done ? policy_spf_headers(s, edits) : 0;
}

/*
 * "Received:2,X-Originating-IP:1" for the ACCEPTED line: every name scrubbed
 * and how often, in message order, escaped; "-" when none.
 */
static void
policy_scrubbed_names(const struct policy_msg *m, char *out, size_t outsz)
{
	size_t len = 0;

	snprintf(out, outsz, "-");
	for (size_t i = 0; m->scrub != NULL && i < scrub_msg_nhits(m->scrub); i++) {
		const struct scrub_hit *h = scrub_msg_hit(m->scrub, i);
		unsigned times = 0;
		char n[128];
		bool earlier = false;
		int w;

		for (size_t j = 0; j < scrub_msg_nhits(m->scrub); j++) {
			const struct scrub_hit *o = scrub_msg_hit(m->scrub, j);

			if (o->signed_kept || strcasecmp(o->name, h->name) != 0)
				continue;
			earlier |= j < i;
			times++;
		}
		if (h->signed_kept || earlier)
			continue;
		w = snprintf(out + len, outsz - len, "%s%s:%u", len ? "," : "",
		    esc_log(n, sizeof(n), h->name), times);
		if (w < 0 || (size_t)w >= outsz - len) {
			/* Cut at a name, and say so. */
			out[len] = '\0';
			if (len + 4 < outsz)
				snprintf(out + len, outsz - len, ",...");
			return;
		}
		len += (size_t)w;
	}
}

void
policy_eom(struct policy_session *s, const char *qid, struct policy_edits *edits,
    struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;
	char more[24] = "", names[400];

	policy_verdict_continue(v);
	policy_set_qid(m, qid);
	/* The MTA skipped DATA (negotiated before a reload turned the budget on). */
	if (m->rl_pending) {
		policy_ratelimit(s, true, v);
		if (v->action != POLICY_CONTINUE) {
			m->active = false;
			return;
		}
	}
	if (m->failed || policy_eom_edits(s, edits) != 0) {
		policy_edits_free(edits);
		policy_refuse(s, POLICY_REASON_INTERNAL, NULL, v);
		return;
	}
	if (m->ar_forged_n > 0)
		log_info("%s: deleting %zu forged Authentication-Results header(s) claiming %s",
		    policy_qid(m), m->ar_forged_n, s->pol->conf->authserv_id);
	if (m->rspf_del_n > 0)
		log_info("%s: deleting %zu Received-SPF header(s) an internet client sent",
		    policy_qid(m), m->rspf_del_n);
	if (m->nrcpt > m->rcpts_named && m->rcpts_log[0] != '\0')
		snprintf(more, sizeof(more), ",+%u", m->nrcpt - m->rcpts_named);
	policy_scrubbed_names(m, names, sizeof(names));
	log_msg(LOG_INFO, "%s: ACCEPTED ip=%s class=%s from=%s to=%s%s nrcpt=%u refused=%u "
	    "scrubbed=%zu scrubbed_names=%s spf=%s%s%s",
	    policy_qid(m), s->ip, m->trusted ? (m->auth ? "authenticated" : "trusted") : "internet",
	    m->from_log, m->rcpts_log[0] ? m->rcpts_log : "none", more, m->nrcpt,
	    m->nrcpt_refused, m->scrubbed, names,
	    m->spf_done ? spfcheck_result_name(m->spf.result) : "skipped",
	    s->rl_exempt != NULL || m->rl_exempt != NULL ? " ratelimit_exempt=" : "",
	    s->rl_exempt != NULL ? s->rl_exempt : m->rl_exempt != NULL ? m->rl_exempt : "");
	stats_message_accepted();
	m->active = false;
}

void
policy_abort(struct policy_session *s)
{
	policy_msg_reset(&s->msg);
}
