/*
 * policy - classification, envelope checks, header scrubbing, verdicts and
 * their log lines.  See policy.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "esc.h"
#include "log.h"
#include "policy.h"
#include "scrub.h"

struct policy {
	atomic_uint refs;
	struct conf *conf;
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
	p->conf = conf;
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
	conf_free(p->conf);
	free(p);
}

const struct conf *
policy_conf(const struct policy *p)
{
	return p->conf;
}

void
policy_install(struct policy *p)
{
	struct policy *old;

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

const char *
policy_reason_name(enum policy_reason r)
{
	return r < POLICY_REASON_COUNT ? policy_reasons[r].name : "?";
}

void
policy_edits_free(struct policy_edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].value);
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
	e->v[e->n] = (struct policy_edit){.insert = insert, .index = index, .value = value};
	snprintf(e->v[e->n].name, sizeof(e->v[e->n].name), "%s", name);
	e->n++;
	return 0;
}

/* ---------------------------------------------------------------- sessions */

static void
policy_msg_reset(struct policy_msg *m)
{
	free(m->scrub_idx);
	memset(m, 0, sizeof(*m));
}

struct policy_session *
policy_session_new(struct policy *pol, const struct sockaddr *sa, const char *hostname)
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
 * Fill `v` for `reason`, log the decision, and in dry-run mode turn it
 * back into CONTINUE.  `rcpt` (may be NULL) is the recipient concerned.
 */
static void
policy_refuse(struct policy_session *s, enum policy_reason reason, const char *rcpt,
    struct policy_verdict *v)
{
	bool dry = s->pol->conf->dry_run;
	char to[600] = "";

	v->reason = reason;
	v->action = policy_reasons[reason].action;
	snprintf(v->rcode, sizeof(v->rcode), "%s", policy_reasons[reason].rcode);
	snprintf(v->xcode, sizeof(v->xcode), "%s", policy_reasons[reason].xcode);
	esc_reply(v->text, sizeof(v->text), policy_reasons[reason].text);
	if (rcpt != NULL) {
		char esc[560];

		snprintf(to, sizeof(to), " to=%s", esc_log(esc, sizeof(esc), rcpt));
	}
	log_msg(LOG_NOTICE, "%s: %s reason=%s action=%s ip=%s from=%s%s helo=%s",
	    policy_qid(&s->msg), dry ? "WOULD-BLOCK" : "BLOCKED", policy_reasons[reason].name,
	    v->action == POLICY_REJECT ? "reject" : "tempfail", s->ip,
	    s->msg.from_log, to, s->helo);
	if (dry && reason != POLICY_REASON_INTERNAL) {
		v->action = POLICY_CONTINUE;
		v->rcode[0] = v->xcode[0] = '\0';
	}
}

static void
policy_verdict_continue(struct policy_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = POLICY_CONTINUE;
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
	m->active = true;
	m->auth = auth_authen != NULL && auth_authen[0] != '\0';
	m->trusted = s->trusted_net || m->auth;
	policy_set_qid(m, qid);
	if (sender == NULL)
		sender = "<>";
	esc_log(m->from_log, sizeof(m->from_log), sender);
	m->sender_status = addr_parse(sender, &m->sender);

	if (m->trusted)
		return;
	if (m->sender_status == ADDR_OK && dset_match(c->banned_domains, m->sender.domain))
		policy_refuse(s, POLICY_REASON_BANNED_DOMAIN, NULL, v);
}

/* Is this recipient in a domain the site accepts mail for? */
static bool
policy_rcpt_is_local(const struct conf *c, const struct addr *a, enum addr_status st)
{
	/* RFC 5321 section 4.5.1: "<postmaster>" without a domain must be accepted. */
	if (st == ADDR_NO_DOMAIN)
		return strcasecmp(a->local, "postmaster") == 0;
	return st == ADDR_OK && dset_match(c->allowed_domains, a->domain);
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
	if (v->action != POLICY_CONTINUE) {
		m->nrcpt_refused++;
		return;
	}
	if (m->nrcpt++ == 0)
		esc_log(m->first_rcpt_log, sizeof(m->first_rcpt_log), rcpt);
}

void
policy_header(struct policy_session *s, const char *name, const char *value)
{
	const struct conf *c = s->pol->conf;
	struct policy_msg *m = &s->msg;
	struct net_addr found;

	if (strcasecmp(name, "Received") != 0)
		return;
	m->received_seen++;
	if (!m->trusted || !c->outbound.scrub_received)
		return;
	if (!scrub_names_internal(value, &c->trusted_networks, &c->internal_networks, &found))
		return;
	if (m->scrub_n == m->scrub_cap) {
		size_t cap = m->scrub_cap ? m->scrub_cap * 2 : 8;
		unsigned *idx = realloc(m->scrub_idx, cap * sizeof(*idx));

		if (idx == NULL) {
			/* Sending the header on would leak it: fail the message instead. */
			m->failed = true;
			return;
		}
		m->scrub_idx = idx;
		m->scrub_cap = cap;
	}
	m->scrub_idx[m->scrub_n++] = m->received_seen;
	if (log_enabled(LOG_DEBUG)) {
		char a[NET_ADDR_STRLEN];

		log_debug("%s: scrub Received #%u naming %s", policy_qid(m), m->received_seen,
		    net_addr_format(&found, a, sizeof(a)));
	}
}

void
policy_eom(struct policy_session *s, const char *qid, struct policy_edits *edits,
    struct policy_verdict *v)
{
	struct policy_msg *m = &s->msg;

	policy_verdict_continue(v);
	policy_set_qid(m, qid);
	if (m->failed) {
		policy_refuse(s, POLICY_REASON_INTERNAL, NULL, v);
		return;
	}
	/* Highest index first: deleting one header renumbers those after it. */
	for (size_t i = m->scrub_n; i-- > 0;) {
		if (policy_edits_add(edits, false, "Received", m->scrub_idx[i], NULL) != 0) {
			policy_edits_free(edits);
			policy_refuse(s, POLICY_REASON_INTERNAL, NULL, v);
			return;
		}
	}
	log_msg(LOG_INFO, "%s: ACCEPTED ip=%s class=%s from=%s to=%s nrcpt=%u refused=%u scrubbed=%zu",
	    policy_qid(m), s->ip, m->trusted ? (m->auth ? "authenticated" : "trusted") : "internet",
	    m->from_log, m->first_rcpt_log[0] ? m->first_rcpt_log : "none", m->nrcpt,
	    m->nrcpt_refused, m->scrub_n);
	m->active = false;
}

void
policy_abort(struct policy_session *s)
{
	policy_msg_reset(&s->msg);
}
