/*
 * mdriver - load driver for `make bench`: N concurrent MTA connections to
 * a milter, each running SMTP sessions back to back for a fixed time.
 *
 *   mdriver -s SOCKET [-c CONNS] [-t SECONDS] [-w WARMUP] [-m MSGS] [-r RCPTS]
 *           [-H HEADERS] [-b BODY] [-d DOMAINS] [-p NET] [-T TIMEOUT_MS]
 *
 * A session is what Postfix's smtpd does with a milter for one SMTP
 * client (mproto.h): negotiate, connect, helo, then per message mail, rcpt,
 * data, HEADERS headers (default 8, at most 8), end of headers, body, end
 * of message, abort (Postfix's reset after each transaction), and quit.  Clients come from NET.1 to
 * NET.254 (default 192.0.2, a documentation network: "internet" class for
 * hopmilter), senders from s0 .. s(DOMAINS-1).bench.example, recipients
 * in example.com.
 *
 * Output, one line of key=value words (times in microseconds): messages
 * completed in the measured window (after WARMUP seconds) and their rate;
 * p50 and p99 of the wait for each step's reply, "nr" for a step the filter
 * does not answer and "skip" for one it asked not to receive; "msg" is
 * the whole wait of one message, from the connection (or the previous
 * message) to the end-of-message reply.  Any reply but continue/accept is
 * counted as refused.  Exit status 0, or 1 when a session failed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "hist.h"
#include "mproto.h"

enum drv_step {
	DRV_OPTNEG, DRV_CONNECT, DRV_HELO, DRV_MAIL, DRV_RCPT, DRV_DATA, DRV_HEADER,
	DRV_EOH, DRV_BODY, DRV_EOM, DRV_MSG, DRV_NSTEPS
};

static const char *const drv_step_name[DRV_NSTEPS] = {
	"optneg", "connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom", "msg",
};

/* Postfix 3.7's default macro lists (postconf -d | grep milter_.*macros). */
static const char *const drv_deflist[MP_NSTAGES] = {
	[MP_CONNECT] = "j {daemon_name} {daemon_addr} v _",
	[MP_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
	[MP_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	[MP_ENVRCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	[MP_DATA] = "i", [MP_EOM] = "i", [MP_EOH] = "i",
};

static struct {
	const char *socket;
	unsigned conns, msgs, rcpts, headers, domains;
	double secs, warmup;
	size_t body;
	const char *net;
	int timeout_ms;
} drv_opt = {.conns = 1, .msgs = 1, .rcpts = 1, .headers = 8, .domains = 50, .secs = 3, .warmup = 0.5,
	.body = 1024, .net = "192.0.2", .timeout_ms = 10000};

static uint64_t drv_t_measure, drv_t_end;  /* CLOCK_MONOTONIC, ns */
static atomic_uint_fast64_t drv_seq;
static atomic_uint_fast32_t drv_steps_seen, drv_actions_seen;

struct drv_thread {
	pthread_t tid;
	struct mp_conn conn;
	uint64_t tx, refused, errors, sessions;
	char err[200];
	bool record;             /* this message started in the measured window */
	uint64_t msg_start;
	struct hist h[DRV_NSTEPS];
};

/* One message's envelope and names. */
struct drv_msg {
	char ip[32], client[48], helo[96], sender[128], sender_dom[64], qid[16];
	char rcpt_addr[128], rcpt[132];
	unsigned long long n;
};

static uint64_t
drv_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
drv_record(struct drv_thread *t, enum drv_step s, uint64_t since)
{
	if (t->record)
		hist_add(&t->h[s], (drv_now() - since) / 1000);
}

static void
drv_names(struct drv_msg *m)
{
	unsigned long long n = atomic_fetch_add(&drv_seq, 1);
	unsigned dom = (unsigned)(n % drv_opt.domains);

	m->n = n;
	snprintf(m->ip, sizeof(m->ip), "%s.%u", drv_opt.net, (unsigned)(n % 254) + 1);
	snprintf(m->client, sizeof(m->client), "[%s]", m->ip);
	snprintf(m->sender_dom, sizeof(m->sender_dom), "s%u.bench.example", dom);
	snprintf(m->helo, sizeof(m->helo), "mta%llu.%s", n % 1000, m->sender_dom);
	snprintf(m->sender, sizeof(m->sender), "user%llu@%s", n, m->sender_dom);
	snprintf(m->rcpt_addr, sizeof(m->rcpt_addr), "rcpt%llu@example.com", n % 997);
	snprintf(m->rcpt, sizeof(m->rcpt), "<%s>", m->rcpt_addr);
	snprintf(m->qid, sizeof(m->qid), "%010llX", n + 0x3000000000ULL);
}

/*
 * One step: the stage's macros (always, as Postfix does), the command
 * unless the filter skips it, and the reply unless it said it would not
 * answer.  Returns the reply, SMFIR_CONTINUE when none was due, or -1.
 */
static int
drv_step(struct drv_thread *t, enum drv_step s, enum mp_stage stage, char cmd,
    const struct mp_macro *mv, size_t nmv, const void *data, size_t len,
    uint32_t no_flag, uint32_t nr_flag)
{
	struct mp_conn *c = &t->conn;
	uint64_t t0;
	int r;

	if (mv != NULL && mp_macros(c, stage, cmd, drv_deflist[stage], mv, nmv) != 0)
		return -1;
	if (no_flag != 0 && mp_skips(c, no_flag))
		return SMFIR_CONTINUE;
	if (mp_packet(c, cmd, data, len) != 0)
		return -1;
	if (nr_flag != 0 && mp_noreply(c, nr_flag))
		return SMFIR_CONTINUE;
	t0 = drv_now();
	r = mp_reply(c);
	if (r >= 0)
		drv_record(t, s, t0);
	return r;
}

/* A string argument list: "a\0b\0". */
static size_t
drv_args(char *buf, size_t sz, const char *a, const char *b)
{
	size_t la = strlen(a) + 1, lb = b ? strlen(b) + 1 : 0;

	if (la + lb > sz)
		return 0;
	memcpy(buf, a, la);
	if (b != NULL)
		memcpy(buf + la, b, lb);
	return la + lb;
}

static bool
drv_ok(int r)
{
	return r == SMFIR_CONTINUE || r == SMFIR_ACCEPT;
}

/* The headers of a typical message from the internet. */
static int
drv_headers(struct drv_thread *t, const struct drv_msg *m, const struct mp_macro *mv, size_t nmv)
{
	char v[8][300], buf[400];
	const char *name[8] = {"Received", "From", "To", "Subject", "Date", "Message-ID",
	    "MIME-Version", "Content-Type"};
	int r = SMFIR_CONTINUE;

	snprintf(v[0], sizeof(v[0]), "from %s (%s [%s])\n\tby relay.%s with ESMTPS id %llx\n"
	    "\tfor <%s>; Sun, 22 Nov 2026 10:00:00 +0000", m->helo, m->helo, m->ip,
	    m->sender_dom, m->n, m->rcpt_addr);
	snprintf(v[1], sizeof(v[1]), "Sender %llu <%s>", m->n, m->sender);
	snprintf(v[2], sizeof(v[2]), "<%s>", m->rcpt_addr);
	snprintf(v[3], sizeof(v[3]), "Quarterly report %llu", m->n);
	snprintf(v[4], sizeof(v[4]), "Sun, 22 Nov 2026 10:00:00 +0000");
	snprintf(v[5], sizeof(v[5]), "<%llu.bench@%s>", m->n, m->sender_dom);
	snprintf(v[6], sizeof(v[6]), "1.0");
	snprintf(v[7], sizeof(v[7]), "text/plain; charset=us-ascii");
	if (mp_skips(&t->conn, SMFIP_NOHDRS))
		return SMFIR_CONTINUE;
	for (unsigned i = 0; i < drv_opt.headers && drv_ok(r); i++) {
		size_t len = drv_args(buf, sizeof(buf), name[i], v[i]);

		r = drv_step(t, DRV_HEADER, MP_EOH, SMFIC_HEADER, mv, nmv, buf, len, SMFIP_NOHDRS,
		    SMFIP_NR_HDR);
	}
	return r;
}

static int
drv_body(struct drv_thread *t)
{
	static const char line[] = "All work and no play makes a dull message body line.\r\n";
	char chunk[8192];
	size_t left = drv_opt.body;
	int r = SMFIR_CONTINUE;

	if (mp_skips(&t->conn, SMFIP_NOBODY))
		return r;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = line[i % (sizeof(line) - 1)];
	while (left > 0 && drv_ok(r)) {
		size_t k = left < sizeof(chunk) ? left : sizeof(chunk);

		r = drv_step(t, DRV_BODY, MP_EOH, SMFIC_BODY, NULL, 0, chunk, k, SMFIP_NOBODY,
		    SMFIP_NR_BODY);
		left -= k;
	}
	return r;
}

/* Everything after the envelope: DATA, headers, body, end of message. */
static int
drv_content(struct drv_thread *t, const struct drv_msg *m)
{
	struct mp_macro mv[] = {{"i", m->qid}};
	int r;

	r = drv_step(t, DRV_DATA, MP_DATA, SMFIC_DATA, mv, 1, NULL, 0, SMFIP_NODATA, SMFIP_NR_DATA);
	if (drv_ok(r))
		r = drv_headers(t, m, mv, 1);
	/* Postfix sends no end-of-headers macros when the event is skipped. */
	if (drv_ok(r) && !mp_skips(&t->conn, SMFIP_NOEOH))
		r = drv_step(t, DRV_EOH, MP_EOH, SMFIC_EOH, mv, 1, NULL, 0, SMFIP_NOEOH,
		    SMFIP_NR_EOH);
	if (drv_ok(r))
		r = drv_body(t);
	if (drv_ok(r))
		r = drv_step(t, DRV_EOM, MP_EOM, SMFIC_BODYEOB, mv, 1, NULL, 0, 0, 0);
	return r;
}

/* One transaction: 1 when the filter let it through, 0 when refused, -1 on error. */
static int
drv_message(struct drv_thread *t, const struct drv_msg *m)
{
	struct mp_macro mail[] = {{"{mail_addr}", m->sender}, {"{mail_host}", m->sender_dom},
	    {"{mail_mailer}", "smtp"}};
	/* Postfix has no queue id before the first accepted recipient. */
	struct mp_macro rcpt[] = {{"{rcpt_addr}", m->rcpt_addr}, {"{rcpt_host}", "[10.200.0.2]:25"},
	    {"{rcpt_mailer}", "smtp"}, {"i", m->qid}};
	char buf[300], from[140];
	size_t len;
	int r;

	snprintf(from, sizeof(from), "<%s>", m->sender);
	len = drv_args(buf, sizeof(buf), from, "BODY=8BITMIME");
	r = drv_step(t, DRV_MAIL, MP_ENVFROM, SMFIC_MAIL, mail, 3, buf, len, SMFIP_NOMAIL,
	    SMFIP_NR_MAIL);
	for (unsigned i = 0; i < drv_opt.rcpts && drv_ok(r); i++) {
		len = drv_args(buf, sizeof(buf), m->rcpt, NULL);
		r = drv_step(t, DRV_RCPT, MP_ENVRCPT, SMFIC_RCPT, rcpt, i == 0 ? 3 : 4, buf, len,
		    SMFIP_NORCPT, SMFIP_NR_RCPT);
	}
	if (drv_ok(r))
		r = drv_content(t, m);
	/* Postfix resets the filter after every transaction, whatever its end. */
	if (r >= 0 && mp_packet(&t->conn, SMFIC_ABORT, NULL, 0) != 0)
		r = -1;
	return r < 0 ? -1 : drv_ok(r) ? 1 : 0;
}

/* Account for one finished message (completed inside the window or not). */
static void
drv_count(struct drv_thread *t, int r)
{
	uint64_t now = drv_now();

	if (now < drv_t_measure || now >= drv_t_end)
		return;
	if (r > 0)
		t->tx++;
	else
		t->refused++;
	if (t->record)
		hist_add(&t->h[DRV_MSG], (now - t->msg_start) / 1000);
}

static int
drv_session_start(struct drv_thread *t, const struct drv_msg *m)
{
	char buf[200], port[2] = {0x30, 0x39};
	struct mp_macro conn[] = {{"j", "mx.bench.invalid"}, {"{daemon_name}", "mx.bench.invalid"},
	    {"{daemon_addr}", "127.0.0.1"}, {"v", "Postfix 3.7.11"}, {"_", buf}};
	size_t len, hl = strlen(m->client) + 1, al = strlen(m->ip) + 1;
	uint64_t t0 = drv_now();
	int r;

	if (mp_open(&t->conn, drv_opt.socket, drv_opt.timeout_ms) != 0)
		return -1;
	drv_record(t, DRV_OPTNEG, t0);
	atomic_store(&drv_steps_seen, t->conn.steps);
	atomic_store(&drv_actions_seen, t->conn.actions);
	snprintf(buf, sizeof(buf), "unknown [%s]", m->ip);
	/* CONNECT: host name, family, port (network order), address. */
	len = hl + 1 + 2 + al;
	{
		char data[120];

		memcpy(data, m->client, hl);
		data[hl] = SMFIA_INET;
		memcpy(data + hl + 1, port, 2);
		memcpy(data + hl + 3, m->ip, al);
		r = drv_step(t, DRV_CONNECT, MP_CONNECT, SMFIC_CONNECT, conn, 5, data, len,
		    SMFIP_NOCONNECT, SMFIP_NR_CONN);
	}
	if (drv_ok(r)) {
		len = drv_args(buf, sizeof(buf), m->helo, NULL);
		r = drv_step(t, DRV_HELO, MP_HELO, SMFIC_HELO, conn, 0, buf, len, SMFIP_NOHELO,
		    SMFIP_NR_HELO);
	}
	return r < 0 ? -1 : drv_ok(r) ? 1 : 0;
}

/* One SMTP session; -1 when the filter connection failed. */
static int
drv_session(struct drv_thread *t)
{
	struct drv_msg m;
	int r;

	drv_names(&m);
	t->msg_start = drv_now();
	t->record = t->msg_start >= drv_t_measure;
	r = drv_session_start(t, &m);
	for (unsigned i = 0; i < drv_opt.msgs && r > 0; i++) {
		if (i > 0) {
			drv_names(&m);
			t->msg_start = drv_now();
			t->record = t->msg_start >= drv_t_measure;
		}
		r = drv_message(t, &m);
		if (r >= 0)
			drv_count(t, r);
		else
			break;
		r = 1;
	}
	if (r == 0)
		drv_count(t, 0);   /* refused at connect or helo */
	if (r < 0)
		snprintf(t->err, sizeof(t->err), "%s", t->conn.err);
	mp_close(&t->conn);
	return r < 0 ? -1 : 0;
}

static void *
drv_thread_main(void *arg)
{
	struct drv_thread *t = arg;

	t->conn.fd = -1;
	while (drv_now() < drv_t_end) {
		t->sessions++;
		if (drv_session(t) != 0) {
			t->errors++;
			/* A filter that refuses connections: do not spin. */
			nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
		}
	}
	return NULL;
}

static void
drv_usage(void)
{
	fprintf(stderr, "usage: mdriver -s SOCKET [-c CONNS] [-t SECONDS] [-w WARMUP] [-m MSGS]\n"
	    "               [-r RCPTS] [-H HEADERS] [-b BODY_BYTES] [-d DOMAINS] [-p NET]\n"
	    "               [-T TIMEOUT_MS]\n");
	exit(64);
}

static double
drv_num(const char *s, double lo, double hi)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < lo || v > hi)
		drv_usage();
	return v;
}

static void
drv_parse(int argc, char **argv)
{
	int o;

	while ((o = getopt(argc, argv, "s:c:t:w:m:r:H:b:d:p:T:")) != -1) {
		switch (o) {
		case 's': drv_opt.socket = optarg; break;
		case 'c': drv_opt.conns = (unsigned)drv_num(optarg, 1, 1024); break;
		case 't': drv_opt.secs = drv_num(optarg, 0.1, 600); break;
		case 'w': drv_opt.warmup = drv_num(optarg, 0, 60); break;
		case 'm': drv_opt.msgs = (unsigned)drv_num(optarg, 1, 1000); break;
		case 'r': drv_opt.rcpts = (unsigned)drv_num(optarg, 1, 100); break;
		case 'H': drv_opt.headers = (unsigned)drv_num(optarg, 0, 8); break;
		case 'b': drv_opt.body = (size_t)drv_num(optarg, 0, 1 << 24); break;
		case 'd': drv_opt.domains = (unsigned)drv_num(optarg, 1, 100000); break;
		case 'p': drv_opt.net = optarg; break;
		case 'T': drv_opt.timeout_ms = (int)drv_num(optarg, 10, 600000); break;
		default: drv_usage();
		}
	}
	if (drv_opt.socket == NULL || optind != argc)
		drv_usage();
}

/* "name_p50=X name_p99=Y", or "name=nr" / "name=skip" for a step never waited for. */
static void
drv_print_step(enum drv_step s, const struct hist *h, uint32_t steps)
{
	static const uint32_t no[DRV_NSTEPS] = {0, SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL,
	    SMFIP_NORCPT, SMFIP_NODATA, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NOBODY, 0, 0};

	if (h->n > 0)
		printf(" %s_p50=%" PRIu64 " %s_p99=%" PRIu64, drv_step_name[s], hist_quantile(h, 0.5),
		    drv_step_name[s], hist_quantile(h, 0.99));
	else
		printf(" %s=%s", drv_step_name[s], (steps & no[s]) ? "skip" : "nr");
}

static void
drv_report(struct drv_thread *th, double cpu)
{
	static struct hist h[DRV_NSTEPS];
	uint64_t tx = 0, refused = 0, errors = 0, sessions = 0;
	uint32_t steps = (uint32_t)atomic_load(&drv_steps_seen);

	for (unsigned i = 0; i < drv_opt.conns; i++) {
		tx += th[i].tx;
		refused += th[i].refused;
		errors += th[i].errors;
		sessions += th[i].sessions;
		for (int s = 0; s < DRV_NSTEPS; s++)
			hist_merge(&h[s], &th[i].h[s]);
	}
	printf("conns=%u secs=%.2f tx=%" PRIu64 " tps=%.1f sessions=%" PRIu64 " refused=%" PRIu64
	    " errors=%" PRIu64 " actions=0x%x steps=0x%x driver_cpu_s=%.2f", drv_opt.conns,
	    drv_opt.secs, tx, (double)tx / drv_opt.secs, sessions, refused, errors,
	    (unsigned)atomic_load(&drv_actions_seen), (unsigned)steps, cpu);
	for (int s = 0; s < DRV_NSTEPS; s++)
		drv_print_step(s, &h[s], steps);
	printf("\n");
	for (unsigned i = 0; i < drv_opt.conns; i++)
		if (th[i].err[0] != '\0') {
			fprintf(stderr, "mdriver: connection %u: %s\n", i, th[i].err);
			break;
		}
}

static double
drv_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	struct drv_thread *th;
	pthread_attr_t attr;
	uint64_t errors = 0;

	drv_parse(argc, argv);
	if ((th = calloc(drv_opt.conns, sizeof(*th))) == NULL) {
		perror("mdriver");
		return 1;
	}
	drv_t_measure = drv_now() + (uint64_t)(drv_opt.warmup * 1e9);
	drv_t_end = drv_t_measure + (uint64_t)(drv_opt.secs * 1e9);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (unsigned i = 0; i < drv_opt.conns; i++)
		if ((errno = pthread_create(&th[i].tid, &attr, drv_thread_main, &th[i])) != 0) {
			perror("mdriver: pthread_create");
			return 1;
		}
	for (unsigned i = 0; i < drv_opt.conns; i++) {
		pthread_join(th[i].tid, NULL);
		errors += th[i].errors;
	}
	drv_report(th, drv_cpu_seconds());
	free(th);
	return errors > 0 ? 1 : 0;
}
