/*
 * ctlcmd - status, metrics, config, test and ratelimit for hopmilter-ctl.
 * See ctlcmd.h; the protocol is documented in hopmilter-ctl(8).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlcmd.h"
#include "esc.h"
#include "netaddr.h"
#include "policy/policy.h"
#include "policy/ratelimit.h"
#include "policy/stats.h"

/* Split `line` on spaces and tabs in place; -1 when there are too many words. */
static int
ctlcmd_split(char *line, char **argv, int max)
{
	int n = 0;

	for (char *p = strtok(line, " \t"); p != NULL; p = strtok(NULL, " \t")) {
		if (n == max)
			return -1;
		argv[n++] = p;
	}
	return n;
}

/* Only printable ASCII reaches the commands: the line may come from anything. */
static bool
ctlcmd_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/*
 * A login or sender argument: one word of the command line, where a byte
 * a word cannot hold (space, control, non-ASCII) is written %XX, and so
 * must '%' itself (%25).  Decoded into `out`; -1 for a '%' not followed by
 * two hex digits, for %00 (no C string, so no login, holds a NUL), or for
 * a result that does not fit.
 */
static int
ctlcmd_unescape(const char *in, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned v;

		if (o + 1 >= outsz)
			return -1;
		if (*in != '%') {
			out[o++] = *in;
			continue;
		}
		if (!isxdigit((unsigned char)in[1]) || !isxdigit((unsigned char)in[2]) ||
		    sscanf(in + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		out[o++] = (char)v;
		in += 2;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

static void
ctlcmd_time(int64_t t, char *buf, size_t bufsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ",
	    &tm) == 0)
		snprintf(buf, bufsz, "never");
}

static const char *
ctlcmd_mode(enum conf_mode m)
{
	return m == CONF_MODE_SHADOW ? "shadow" : m == CONF_MODE_OFF ? "off" : "enforce";
}

static void
ctlcmd_status(FILE *out)
{
	struct policy *pol = policy_acquire();
	char path[4096], hash[65], started[32], loaded[32], server[300];
	int64_t at, start = stats_start_time();
	const char *redis;

	stats_get_config(path, sizeof(path), hash, sizeof(hash), &at);
	ctlcmd_time(start, started, sizeof(started));
	ctlcmd_time(at, loaded, sizeof(loaded));
	fprintf(out, "OK\n");
	fprintf(out, "version: %s\n", PACKAGE_VERSION);
	fprintf(out, "pid: %ld\n", (long)getpid());
	fprintf(out, "started: %s (uptime %llds)\n", started,
	    start > 0 ? (long long)(time(NULL) - start) : 0LL);
	fprintf(out, "config: %s\n", path);
	fprintf(out, "config_sha256: %s\n", hash);
	fprintf(out, "config_loaded: %s\n", loaded);
	if (pol != NULL) {
		const struct conf *c = policy_conf(pol);

		fprintf(out, "dry_run: %s\n", c->dry_run ? "yes" : "no");
		fprintf(out, "modes: banned_domains=%s spf=%s ratelimit=%s\n", ctlcmd_mode(c->ban_mode),
		    ctlcmd_mode(c->spf.mode), ctlcmd_mode(c->ratelimit.mode));
		redis = c->ratelimit.enabled ? ratelimit_redis_state(policy_rl(pol), server,
		    sizeof(server)) : "disabled";
		if (strcmp(redis, "none") == 0)
			fprintf(out, "redis: none (local rate limit only)\n");
		else if (strcmp(redis, "disabled") == 0)
			fprintf(out, "redis: none (ratelimit disabled)\n");
		else if (c->ratelimit.redis.sentinel.master[0] != '\0')
			fprintf(out, "redis: %s server=%s sentinel_master=%s\n", redis,
			    server[0] ? server : "-", c->ratelimit.redis.sentinel.master);
		else
			fprintf(out, "redis: %s server=%s configured=%s:%d\n", redis,
			    server[0] ? server : "-", c->ratelimit.redis.host, c->ratelimit.redis.port);
	}
	stats_summary(out);
	policy_unref(pol);
}

static void
ctlcmd_config(FILE *out)
{
	struct policy *pol = policy_acquire();

	if (pol == NULL) {
		fprintf(out, "ERR no configuration loaded\n");
		return;
	}
	fprintf(out, "OK\n%s", policy_conf(pol)->effective);
	policy_unref(pol);
}

/* An IP address as a sockaddr for the policy; -1 if it is not one. */
static int
ctlcmd_sockaddr(const char *ip, struct sockaddr_storage *ss, struct net_addr *a)
{
	memset(ss, 0, sizeof(*ss));
	if (net_addr_parse(ip, a) != 0)
		return -1;
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a->bytes, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a->bytes, 16);
	}
	return 0;
}

/* One step's verdict: action, reason, and the reply the client would get. */
static void
ctlcmd_verdict(FILE *out, const char *step, const char *arg, const struct policy_verdict *v)
{
	const char *act = v->action == POLICY_REJECT ? "reject" :
	    v->action == POLICY_TEMPFAIL ? "tempfail" : "continue";

	fprintf(out, "%s:%s%s action=%s reason=%s", step, arg ? " " : "", arg ? arg : "", act,
	    policy_reason_name(v->reason));
	if (v->action != POLICY_CONTINUE)
		fprintf(out, " reply=\"%s %s %s\"", v->rcode, v->xcode, v->text);
	else if (v->reason != POLICY_REASON_NONE)
		fprintf(out, " (shadow mode: logged as WOULD-BLOCK, not refused)");
	fputc('\n', out);
}

/* test --ip A [--helo H] --from S --rcpt R [--rcpt R ...] */
static void
ctlcmd_test(int argc, char **argv, FILE *out)
{
	const char *ip = NULL, *helo = NULL, *from = NULL, *sasl = NULL, *rcpt[CTLCMD_MAX_ARGS];
	char sender[600], addr_txt[NET_ADDR_STRLEN], esc[600], login[CTLCMD_NAME_MAX];
	int nrcpt = 0, accepted = 0;
	struct sockaddr_storage ss;
	struct net_addr a;
	struct policy *pol;
	struct policy_session *s;
	struct policy_verdict v, last = {0};
	const struct spfcheck_answer *spf;

	for (int i = 1; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--ip") == 0 ? &ip :
		    strcmp(argv[i], "--helo") == 0 ? &helo : strcmp(argv[i], "--from") == 0 ? &from :
		    strcmp(argv[i], "--sasl") == 0 ? &sasl :
		    strcmp(argv[i], "--rcpt") == 0 ? &rcpt[nrcpt] : NULL;

		if (slot == NULL || i + 1 == argc) {
			fprintf(out, "ERR usage: test --ip ADDR [--helo NAME] [--sasl LOGIN] --from SENDER "
			    "--rcpt RCPT [--rcpt RCPT ...]\n");
			return;
		}
		*slot = argv[++i];
		if (slot == &rcpt[nrcpt])
			nrcpt++;
	}
	if (ip == NULL || from == NULL || nrcpt == 0) {
		fprintf(out, "ERR test needs --ip, --from and at least one --rcpt\n");
		return;
	}
	if (ctlcmd_sockaddr(ip, &ss, &a) != 0) {
		fprintf(out, "ERR --ip: not an IP address\n");
		return;
	}
	if (sasl != NULL && ctlcmd_unescape(sasl, login, sizeof(login)) != 0) {
		fprintf(out, "ERR --sasl: malformed login (a byte outside '!'..'~', and '%%', "
		    "is written %%XX; not %%00)\n");
		return;
	}
	if ((pol = policy_acquire()) == NULL) {
		fprintf(out, "ERR no configuration loaded\n");
		return;
	}
	if ((s = policy_probe_new(pol, (struct sockaddr *)&ss)) == NULL) {
		policy_unref(pol);
		fprintf(out, "ERR out of memory\n");
		return;
	}
	/* The MTA hands the sender over in angle brackets; accept it either way. */
	snprintf(sender, sizeof(sender), from[0] == '<' ? "%s" : "<%s>", from);
	fprintf(out, "OK\n");
	fprintf(out, "ip: %s\n", net_addr_format(&a, addr_txt, sizeof(addr_txt)));
	if (helo != NULL)
		policy_helo(s, helo);
	policy_mail(s, sender, sasl != NULL ? login : NULL, NULL, &v);
	fprintf(out, "class: %s\n", policy_session_class(s) == POLICY_TRUSTED ? "trusted" :
	    "internet");
	if ((spf = policy_session_spf(s)) != NULL)
		fprintf(out, "spf: %s identity=%s\n", spfcheck_result_name(spf->result),
		    spf->identity == SPFCHECK_ID_HELO ? "helo" : "mailfrom");
	ctlcmd_verdict(out, "mail", esc_log(esc, sizeof(esc), sender), &v);
	if (v.action != POLICY_CONTINUE) {
		fprintf(out, "decision: %s reason=%s\n",
		    v.action == POLICY_REJECT ? "reject" : "tempfail", policy_reason_name(v.reason));
		goto done;
	}
	for (int i = 0; i < nrcpt; i++) {
		char r[600];

		snprintf(r, sizeof(r), rcpt[i][0] == '<' ? "%s" : "<%s>", rcpt[i]);
		policy_rcpt(s, r, NULL, &v);
		ctlcmd_verdict(out, "rcpt", esc_log(esc, sizeof(esc), r), &v);
		if (v.action == POLICY_CONTINUE)
			accepted++;
		else
			last = v;
	}
	/* The end of the envelope: the recipient budget is decided here, as in a session. */
	if (accepted > 0) {
		policy_data(s, NULL, &v);
		ctlcmd_verdict(out, "data", NULL, &v);
		if (v.action != POLICY_CONTINUE) {
			accepted = 0;
			last = v;
		}
	}
	if (accepted > 0)
		fprintf(out, "decision: accept recipients=%d/%d\n", accepted, nrcpt);
	else
		fprintf(out, "decision: %s reason=%s\n",
		    last.action == POLICY_REJECT ? "reject" : "tempfail",
		    policy_reason_name(last.reason));
done:
	policy_session_free(s);
	policy_unref(pol);
}

static const char *
ctlcmd_bucket(int tier)
{
	switch (tier) {
	case RATELIMIT_TIER_CLIENT: return "client";
	case RATELIMIT_TIER_SUBNET: return "subnet";
	case RATELIMIT_TIER_RECIPIENTS: return "recipients";
	case RATELIMIT_TIER_OUTBOUND: return "outbound";
	}
	return "?";
}

static void
ctlcmd_tier(FILE *out, const char *where, const struct ratelimit_tier_state *t)
{
	fprintf(out, "%s tier=%d bucket=%s", where, t->tier, ctlcmd_bucket(t->tier));
	if (t->net[0] != '\0')
		fprintf(out, " net=%s", t->net);
	if (t->key[0] != '\0')
		fprintf(out, " key=%s", t->key);
	fprintf(out, " burst=%ld remaining=%ld retry_after_ms=%ld\n", t->burst, t->remaining,
	    t->retry_after_ms);
}

static void
ctlcmd_show(FILE *out, const char *subject, const struct ratelimit_state *st)
{
	fprintf(out, "OK\nsubject: %s\nbackend: %s\nredis: %s\n", subject, st->backend, st->redis);
	for (int i = 0; strcmp(st->redis, "ok") == 0 && i < st->ntiers; i++)
		ctlcmd_tier(out, "redis", &st->in_redis[i]);
	fprintf(out, "local: %s\n", st->has_local ? "ok" : "none");
	for (int i = 0; st->has_local && i < st->ntiers; i++)
		ctlcmd_tier(out, "local", &st->in_local[i]);
}

static void
ctlcmd_reset_reply(FILE *out, const char *subject, int redis, int local)
{
	if (redis == -1) {
		fprintf(out, "ERR redis unavailable: local entries cleared=%d, redis keys NOT "
		    "deleted\n", local);
		return;
	}
	fprintf(out, "OK\nsubject: %s\n", subject);
	if (redis >= 0)
		fprintf(out, "redis: deleted=%d\n", redis);
	else
		fprintf(out, "redis: none\n");
	fprintf(out, "local: cleared=%d\n", local);
}

#define CTLCMD_RL_USAGE "ERR usage: ratelimit show|reset ADDR | ip ADDR | sasl LOGIN | " \
	"sender ADDRESS\n"

/*
 * ratelimit show|reset [ip] ADDR          every bucket of a client address
 * ratelimit show|reset sasl LOGIN         the outbound bucket of a SASL login
 * ratelimit show|reset sender ADDRESS     ... of an envelope sender (no login)
 * An IP address never spells "ip", "sasl" or "sender", so the forms cannot
 * be taken for one another; LOGIN and ADDRESS are one word, %XX-escaped
 * (ctlcmd_unescape).
 */
static void
ctlcmd_ratelimit(int argc, char **argv, FILE *out)
{
	struct policy *pol;
	struct ratelimit *rl;
	struct net_addr a;
	struct sockaddr_storage ss;
	struct ratelimit_state st;
	const char *kind = argc == 4 ? argv[2] : "ip", *arg = argv[argc - 1];
	char name[CTLCMD_NAME_MAX], who[CTLCMD_NAME_MAX + 2], subject[CTLCMD_NAME_MAX + 16];
	bool show, outbound = false, by_login = strcmp(kind, "sasl") == 0;
	int redis, local;

	if ((argc != 3 && argc != 4) || (strcmp(argv[1], "show") != 0 &&
	    strcmp(argv[1], "reset") != 0) || (argc == 3 && (strcmp(arg, "ip") == 0 ||
	    strcmp(arg, "sasl") == 0 || strcmp(arg, "sender") == 0))) {
		fprintf(out, CTLCMD_RL_USAGE);
		return;
	}
	show = strcmp(argv[1], "show") == 0;
	if (strcmp(kind, "ip") == 0) {
		if (ctlcmd_sockaddr(arg, &ss, &a) != 0) {
			fprintf(out, "ERR not an IP address\n");
			return;
		}
	} else if (strcmp(kind, "sasl") == 0 || strcmp(kind, "sender") == 0) {
		outbound = true;
		if (ctlcmd_unescape(arg, name, sizeof(name)) != 0) {
			fprintf(out, "ERR malformed %s: a byte outside '!'..'~', and '%%', is written "
			    "%%XX (not %%00)\n", kind);
			return;
		}
		if (strcmp(kind, "sender") == 0) {
			/* As the MTA gives it, in angle brackets; "<>" is the null sender. */
			snprintf(who, sizeof(who), name[0] == '<' ? "%s" : "<%s>", name);
			policy_outbound_name(who, name, sizeof(name));
		}
	} else {
		fprintf(out, CTLCMD_RL_USAGE);
		return;
	}
	if ((pol = policy_acquire()) == NULL || (rl = policy_rl(pol)) == NULL) {
		fprintf(out, "ERR the rate limit is not enabled\n");
		policy_unref(pol);
		return;
	}
	if (outbound && !ratelimit_has_outbound(rl)) {
		fprintf(out, "ERR the outbound limit is not enabled\n");
		policy_unref(pol);
		return;
	}
	snprintf(subject, sizeof(subject), "%s %s", kind, arg);
	if (!outbound && show) {
		ratelimit_show(rl, &a, &st);
		ctlcmd_show(out, subject, &st);
	} else if (!outbound) {
		ratelimit_reset(rl, &a, &redis, &local);
		ctlcmd_reset_reply(out, subject, redis, local);
	} else if (show) {
		ratelimit_show_outbound(rl, by_login ? name : NULL, name, &st);
		ctlcmd_show(out, subject, &st);
	} else {
		ratelimit_reset_outbound(rl, by_login ? name : NULL, name, &redis, &local);
		ctlcmd_reset_reply(out, subject, redis, local);
	}
	policy_unref(pol);
}

static void
ctlcmd_help(FILE *out)
{
	fprintf(out, "OK\n"
	    "status\n"
	    "metrics\n"
	    "config\n"
	    "test --ip ADDR [--helo NAME] [--sasl LOGIN] --from SENDER --rcpt RCPT [--rcpt RCPT ...]\n"
	    "ratelimit show|reset [ip] ADDR\n"
	    "ratelimit show|reset sasl LOGIN\n"
	    "ratelimit show|reset sender ADDRESS\n"
	    "help\n");
}

void
ctlcmd_run(char *line, FILE *out)
{
	char *argv[CTLCMD_MAX_ARGS];
	int argc;

	if (!ctlcmd_printable(line)) {
		fprintf(out, "ERR malformed command: control characters or non-ASCII bytes\n");
		return;
	}
	if ((argc = ctlcmd_split(line, argv, CTLCMD_MAX_ARGS)) < 0) {
		fprintf(out, "ERR malformed command: more than %d words\n", CTLCMD_MAX_ARGS);
		return;
	}
	if (argc == 0) {
		fprintf(out, "ERR empty command (try: help)\n");
	} else if (strcmp(argv[0], "status") == 0 && argc == 1) {
		ctlcmd_status(out);
	} else if (strcmp(argv[0], "metrics") == 0 && argc == 1) {
		fprintf(out, "OK\n");
		stats_prometheus(out);
	} else if (strcmp(argv[0], "config") == 0 && argc == 1) {
		ctlcmd_config(out);
	} else if (strcmp(argv[0], "test") == 0) {
		ctlcmd_test(argc, argv, out);
	} else if (strcmp(argv[0], "ratelimit") == 0) {
		ctlcmd_ratelimit(argc, argv, out);
	} else if (strcmp(argv[0], "help") == 0 && argc == 1) {
		ctlcmd_help(out);
	} else {
		char esc[80];

		fprintf(out, "ERR unknown command '%s' (try: help)\n", esc_log(esc, sizeof(esc),
		    argv[0]));
	}
}
