/*
 * hoprelay - carry one message to the next node across the VPN.
 *
 * Run by the MTA once per message (Postfix pipe(8), a Sendmail mailer):
 * envelope on the command line, message on stdin.  It keeps no queue: it
 * exits 0 once a hop accepted the message, and otherwise tells the MTA,
 * through the exit status and the first line on stderr, whether to keep
 * the message and try later (75) or to return it (a 5xx from the hop).
 *
 * The hops of the route are tried in order; the next one is tried after
 * any transient failure for as long as the message can still be replayed
 * (see msgin.h).  Every attempt leaves one log line.
 *
 * In delivery mode every local problem (bad configuration, bad command
 * line) is transient: a typo must not bounce mail.  hoprelay -n checks the
 * configuration the conventional way (0, or 78 with FILE:LINE: reason).
 */
#include "config.h"

#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "esc.h"
#include "log.h"
#include "monotime.h"
#include "msgin.h"
#include "netio.h"
#include "outcome.h"
#include "probe.h"
#include "route.h"
#include "tlsc.h"
#include "xfer.h"

struct hr_args {
	const char *conf_path;
	const char *sender;
	const char *qid;
	const char *nexthop;
	char **rcpts;
	size_t nrcpts;
	long size;
	bool log_stderr;
	bool check;
	const char *probe;
	bool starttls;
	char bad[128];          /* what is wrong with the command line */
};

/* Log lines wait here while the status line has to come first on stderr. */
static struct {
	char lines[32][1024];
	size_t n;
	size_t dropped;
} hr_logbuf;

static struct msgin hr_msg;   /* large: kept out of the stack */

static void
hr_usage(FILE *fp)
{
	fprintf(fp, "usage: hoprelay [-c FILE] [-e] [-q QUEUE_ID] [-s SIZE] -f SENDER -- NEXTHOP RECIPIENT...\n"
	    "       hoprelay [-c FILE] -n\n"
	    "       hoprelay [-c FILE] --probe HOST:PORT [--starttls]\n"
	    "       hoprelay -V\n"
	    "  -c FILE   configuration (default %s)\n"
	    "  -e        log to standard error, after the status line, instead of syslog\n"
	    "  -f SENDER envelope sender (\"\" for the null sender)\n"
	    "  -q ID     queue id, for the log\n"
	    "  -s SIZE   message size to announce (SIZE=)\n"
	    "  -n        check the configuration and the TLS files, then exit (0, or 78)\n",
	    ROUTE_DEFAULT_PATH);
}

static void
hr_log_sink(int prio, const char *text, void *arg)
{
	(void)prio;
	(void)arg;
	if (hr_logbuf.n < sizeof(hr_logbuf.lines) / sizeof(hr_logbuf.lines[0]))
		snprintf(hr_logbuf.lines[hr_logbuf.n++], sizeof(hr_logbuf.lines[0]),
		    "hoprelay[%ld]: %s", (long)getpid(), text);
	else
		hr_logbuf.dropped++;
}

/* The status line first, then any held log lines; returns the exit code. */
static int
hr_finish(const struct outcome *o)
{
	char line[1200];

	fprintf(stderr, "%s\n", outcome_line(o, line, sizeof(line)));
	for (size_t i = 0; i < hr_logbuf.n; i++)
		fprintf(stderr, "%s\n", hr_logbuf.lines[i]);
	if (hr_logbuf.dropped > 0)
		fprintf(stderr, "hoprelay[%ld]: (%zu more log lines not kept)\n", (long)getpid(),
		    hr_logbuf.dropped);
	fflush(stderr);
	return o->exit_code;
}

static int __attribute__((format(printf, 2, 3)))
hr_temp(const char *status, const char *fmt, ...)
{
	struct outcome o;
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	outcome_local(&o, EX_TEMPFAIL, status, "%s", text);
	return hr_finish(&o);
}

static int
hr_parse_size(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

/* 0 to go on, 1 when done (help/version), -1 on a usage error. */
static int
hr_parse_args(int argc, char **argv, struct hr_args *a)
{
	static const struct option longopts[] = {
		{"probe", required_argument, NULL, 'P'}, {"starttls", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	memset(a, 0, sizeof(*a));
	a->conf_path = ROUTE_DEFAULT_PATH;
	/* The status line must be the first line on stderr: no getopt chatter. */
	opterr = 0;
	a->size = -1;
	while ((opt = getopt_long(argc, argv, "+c:ef:nq:s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->conf_path = optarg; break;
		case 'e': a->log_stderr = true; break;
		case 'f': a->sender = optarg; break;
		case 'n': a->check = true; break;
		case 'q': a->qid = optarg; break;
		case 's':
			if (hr_parse_size(optarg, &a->size) == 0)
				break;
			snprintf(a->bad, sizeof(a->bad), "-s %.40s is not a size in bytes", optarg);
			return -1;
		case 'P': a->probe = optarg; break;
		case 'S': a->starttls = true; break;
		case 'h': hr_usage(stdout); return 1;
		case 'V': printf("hoprelay %s (%s)\n", PACKAGE_VERSION, OpenSSL_version(OPENSSL_VERSION)); return 1;
		default:
			snprintf(a->bad, sizeof(a->bad), "unknown option or missing argument: %s",
			    argv[optind - 1]);
			return -1;
		}
	}
	if (a->check || a->probe != NULL) {
		snprintf(a->bad, sizeof(a->bad), "unexpected arguments");
		return optind == argc ? 0 : -1;
	}
	if (a->sender == NULL || argc - optind < 2) {
		snprintf(a->bad, sizeof(a->bad), "%s", a->sender == NULL ? "no -f SENDER" :
		    "expected NEXTHOP and at least one RECIPIENT");
		return -1;
	}
	a->nexthop = argv[optind];
	a->rcpts = argv + optind + 1;
	a->nrcpts = (size_t)(argc - optind - 1);
	return 0;
}

/* -n: the file, then every route's TLS files. */
static int
hr_check(const char *path)
{
	struct route_conf *c;
	char err[1024];

	if (route_load(path, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "hoprelay: %s\n", err);
		return EX_CONFIG;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		struct tlsc_ctx *t;

		if (c->routes[i].tls == ROUTE_TLS_NONE)
			continue;
		if (tlsc_ctx_new(&c->routes[i], &t, err, sizeof(err)) != 0) {
			fprintf(stderr, "hoprelay: %s: %s\n", path, err);
			route_conf_free(c);
			return EX_CONFIG;
		}
		tlsc_ctx_free(t);
	}
	route_conf_free(c);
	return EX_OK;
}

static int
hr_probe(const struct hr_args *a)
{
	struct route_conf *c = NULL;
	char err[1024];
	int rc;

	/* The configuration only adds "which route pins this"; it may be absent. */
	if (access(a->conf_path, R_OK) == 0 && route_load(a->conf_path, &c, err, sizeof(err)) != 0)
		fprintf(stderr, "hoprelay: warning: %s\n", err);
	rc = probe_run(a->probe, a->starttls, c, stdout, stderr);
	route_conf_free(c);
	return rc;
}

/* One log line per attempt. */
static void
hr_log_attempt(const struct hr_args *a, const struct route *r, const char *hop,
    const struct xfer_status *st, const struct outcome *o, long long started)
{
	char tls[128] = "tls=none", pin[32] = "-", text[SMTPC_TEXT_MAX + 8], to[600];
	long long ms = monotime_ms() - started;

	if (st->tls)
		snprintf(tls, sizeof(tls), "tls=%s cipher=%s", st->tlsinfo.version, st->tlsinfo.cipher);
	if (st->tlsinfo.pin_index > 0)
		snprintf(pin, sizeof(pin), "%d/%zu", st->tlsinfo.pin_index, r->npins);
	esc_log(to, sizeof(to), a->rcpts[0]);
	if (st->have_reply)
		smtpc_reply_oneline(&st->reply, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", o->text);
	log_msg(o->exit_code == EX_OK ? LOG_INFO : LOG_WARNING,
	    "%s: to=<%s>%s route=%s hop=%s result=%s status=%s %s pin=%s delay=%lld.%02lld %s=\"%s\"",
	    a->qid, to, a->nrcpts > 1 ? ",..." : "", r->name, hop, outcome_word(o), o->status, tls,
	    pin, ms / 1000, ms % 1000 / 10, st->have_reply ? "reply" : "reason", text);
}

/* Try every address of one hop; true when the route is decided. */
static bool
hr_try_hop(const struct hr_args *a, const struct route *r, const struct route_hop *hop,
    struct tlsc_ctx *tls, const struct xfer_env *env, struct outcome *o)
{
	char name[ROUTE_HOST_MAX + 16], why[256];
	struct addrinfo *ai;
	struct xfer_status st;

	route_hop_format(hop, name, sizeof(name));
	if (netio_resolve(hop->host, hop->port, &ai, why, sizeof(why)) != 0) {
		outcome_local(o, EX_TEMPFAIL, "4.4.3", "%s: %s", name, why);
		log_msg(LOG_WARNING, "%s: route=%s hop=%s result=deferred status=4.4.3 reason=\"%s\"",
		    a->qid, r->name, name, why);
		return false;
	}
	for (struct addrinfo *p = ai; p != NULL; p = p->ai_next) {
		long long started = monotime_ms();

		msgin_rewind(env->msg);
		xfer_run(env, r, hop, p->ai_addr, p->ai_addrlen, tls, &st);
		outcome_from_xfer(&st, name, o);
		hr_log_attempt(a, r, name, &st, o, started);
		if (!outcome_is_transient(o) || !msgin_replayable(env->msg))
			break;
	}
	freeaddrinfo(ai);
	return !outcome_is_transient(o) || !msgin_replayable(env->msg);
}

/* Hops in order until one decides; the first failure's status leads. */
static void
hr_relay(const struct hr_args *a, const struct route *r, struct tlsc_ctx *tls,
    const struct xfer_env *env, struct outcome *final)
{
	struct outcome o;

	for (size_t i = 0; i < r->nhops; i++) {
		bool decided = hr_try_hop(a, r, &r->hops[i], tls, env, &o);

		if (!outcome_is_transient(&o) || i == 0)
			*final = o;
		else
			outcome_append(final, &o);
		if (decided)
			return;
	}
}

/* Check the envelope; 0, or an exit code with the status line written. */
static int
hr_check_envelope(const struct hr_args *a, bool *utf8)
{
	struct outcome o;
	enum smtpc_addr s = smtpc_addr_check(a->sender, true);

	*utf8 = s == SMTPC_ADDR_UTF8;
	if (s == SMTPC_ADDR_BAD) {
		outcome_local(&o, EX_DATAERR, "5.1.7", "bad sender address syntax");
		return hr_finish(&o);
	}
	for (size_t i = 0; i < a->nrcpts; i++) {
		s = smtpc_addr_check(a->rcpts[i], false);
		if (s == SMTPC_ADDR_BAD) {
			outcome_local(&o, EX_DATAERR, "5.1.3", "bad recipient address syntax");
			return hr_finish(&o);
		}
		*utf8 = *utf8 || s == SMTPC_ADDR_UTF8;
	}
	return 0;
}

static int
hr_deliver(struct hr_args *a)
{
	struct route_conf *c;
	const struct route *r;
	struct tlsc_ctx *tls = NULL;
	struct outcome final;
	struct xfer_env env = {.sender = a->sender, .rcpts = a->rcpts, .nrcpts = a->nrcpts,
	    .size = a->size, .msg = &hr_msg};
	char err[1024];
	int rc;

	if (route_load(a->conf_path, &c, err, sizeof(err)) != 0)
		return hr_temp("4.3.5", "hoprelay: %s", err);
	log_open("hoprelay", false, c->syslog_facility);
	log_set_level(c->log_level);
	if (a->log_stderr)
		log_set_sink(hr_log_sink, NULL);
	env.qid = a->qid != NULL && a->qid[0] != '\0' ? a->qid : "NOQUEUE";
	a->qid = env.qid;
	r = route_find(c, a->nexthop);
	if (r == NULL) {
		rc = hr_temp("4.3.5", "hoprelay: %s: no route for nexthop '%s' and no default_route",
		    c->path, a->nexthop);
		goto out;
	}
	if ((rc = hr_check_envelope(a, &env.need_smtputf8)) != 0)
		goto out;
	if (r->tls != ROUTE_TLS_NONE && tlsc_ctx_new(r, &tls, err, sizeof(err)) != 0) {
		rc = hr_temp("4.3.5", "hoprelay: %s: %s", c->path, err);
		goto out;
	}
	if (msgin_open(&hr_msg, STDIN_FILENO) != 0) {
		rc = hr_temp("4.3.0", "hoprelay: cannot read the message: %s", strerror(hr_msg.err));
		goto out;
	}
	hr_relay(a, r, tls, &env, &final);
	rc = hr_finish(&final);
out:
	tlsc_ctx_free(tls);
	route_conf_free(c);
	return rc;
}

int
main(int argc, char **argv)
{
	struct hr_args a;
	int rc;

	/* A hop closing early must be an error return, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	rc = hr_parse_args(argc, argv, &a);
	if (rc == 1)
		return EX_OK;
	if (rc < 0 && (a.check || a.probe != NULL)) {
		fprintf(stderr, "hoprelay: %s\n", a.bad);
		hr_usage(stderr);
		return EX_USAGE;
	}
	if (rc < 0) {
		/* Probably a master.cf mistake: keep the mail queued. */
		hr_temp("4.3.5", "hoprelay: bad command line: %s (see hoprelay(8))", a.bad);
		hr_usage(stderr);
		return EX_TEMPFAIL;
	}
	if (a.check)
		return hr_check(a.conf_path);
	if (a.probe != NULL)
		return hr_probe(&a);
	return hr_deliver(&a);
}
