/*
 * stats - process-wide counters and their exposition.  See stats.h.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "monotime.h"
#include "stats.h"

#define STATS_SPF_RESULTS (SPFCHECK_PERMERROR + 1)
#define STATS_SPF_IDS (SPFCHECK_ID_HELO + 1)
#define STATS_RL_SOURCES (RATELIMIT_SOURCE_NONE + 1)
#define STATS_ACTIONS (POLICY_TEMPFAIL + 1)

/*
 * Histogram bounds in microseconds.  A milter step is normally well under
 * a millisecond; SPF (DNS) and a slow Redis are what make the tail.
 */
static const int64_t stats_stage_le[] = {100, 500, 1000, 5000, 10000, 50000, 100000, 500000,
    1000000, 5000000};
#define STATS_STAGE_NB (sizeof(stats_stage_le) / sizeof(stats_stage_le[0]))
static const int64_t stats_redis_le[] = {250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000};
#define STATS_REDIS_NB (sizeof(stats_redis_le) / sizeof(stats_redis_le[0]))
_Static_assert(STATS_REDIS_NB == STATS_STAGE_NB, "struct stats_hist holds STATS_STAGE_NB bounds");

/* Buckets are not cumulative here (one add per observation); the exporter sums them. */
struct stats_hist {
	atomic_ullong bucket[STATS_STAGE_NB + 1];  /* last one: above every bound */
	atomic_ullong sum_us;
};

static atomic_bool stats_on = true;
static atomic_ullong stats_sessions, stats_messages, stats_accepted;
static atomic_ullong stats_rcpt[2];                      /* [accepted] */
static atomic_ullong stats_refused[2][POLICY_REASON_COUNT][STATS_ACTIONS];  /* [would] */
static atomic_ullong stats_spfres[STATS_SPF_IDS][STATS_SPF_RESULTS];
static atomic_ullong stats_rl[STATS_RL_SOURCES][STATS_RL_COUNT];
static atomic_int stats_redis_up = -1;                   /* -1: never decided */
static atomic_ullong stats_redis_changes[2];             /* [up] */
static atomic_ullong stats_redis_errors;
static struct stats_hist stats_redis_rtt;
static struct stats_hist stats_stage[STATS_STAGE_COUNT];
static atomic_ullong stats_reloads[2];                   /* [ok] */
static atomic_llong stats_started = 0;
static atomic_ullong stats_ctls[STATS_CTL_COUNT];

static pthread_mutex_t stats_conf_lock = PTHREAD_MUTEX_INITIALIZER;
static char stats_conf_path[4096], stats_conf_hash[65];
static int64_t stats_conf_loaded;

static const char *const stats_stage_names[STATS_STAGE_COUNT] = {
	[STATS_STAGE_CONNECT] = "connect", [STATS_STAGE_HELO] = "helo",
	[STATS_STAGE_MAIL] = "mail", [STATS_STAGE_RCPT] = "rcpt",
	[STATS_STAGE_HEADER] = "header", [STATS_STAGE_EOM] = "eom",
};
static const char *const stats_rl_names[STATS_RL_COUNT] = {
	[STATS_RL_ALLOWED] = "allowed", [STATS_RL_LIMITED] = "limited", [STATS_RL_ERROR] = "error",
};
static const char *const stats_ctl_names[STATS_CTL_COUNT] = {
	[STATS_CTL_SERVED] = "served", [STATS_CTL_BUSY] = "busy", [STATS_CTL_TIMEOUT] = "timeout",
};
static const char *const stats_action_names[STATS_ACTIONS] = {
	[POLICY_CONTINUE] = "continue", [POLICY_REJECT] = "reject", [POLICY_TEMPFAIL] = "tempfail",
};

#define STATS_ADD(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define STATS_GET(c) ((unsigned long long)atomic_load_explicit(&(c), memory_order_relaxed))

void
stats_set_enabled(bool on)
{
	atomic_store(&stats_on, on);
}

bool
stats_enabled(void)
{
	return atomic_load_explicit(&stats_on, memory_order_relaxed);
}

void
stats_session(void)
{
	if (stats_enabled())
		STATS_ADD(stats_sessions);
}

void
stats_message(void)
{
	if (stats_enabled())
		STATS_ADD(stats_messages);
}

void
stats_message_accepted(void)
{
	if (stats_enabled())
		STATS_ADD(stats_accepted);
}

void
stats_recipient(bool accepted)
{
	if (stats_enabled())
		STATS_ADD(stats_rcpt[accepted]);
}

void
stats_refusal(enum policy_reason r, enum policy_action a, bool would)
{
	if (stats_enabled() && (unsigned)r < POLICY_REASON_COUNT && (unsigned)a < STATS_ACTIONS)
		STATS_ADD(stats_refused[would][r][a]);
}

void
stats_spf(enum spfcheck_identity id, enum spfcheck_result r)
{
	if (stats_enabled() && (unsigned)id < STATS_SPF_IDS && (unsigned)r < STATS_SPF_RESULTS)
		STATS_ADD(stats_spfres[id][r]);
}

void
stats_ratelimit(enum ratelimit_source src, enum stats_rl_outcome o)
{
	if (stats_enabled() && (unsigned)src < STATS_RL_SOURCES && (unsigned)o < STATS_RL_COUNT)
		STATS_ADD(stats_rl[src][o]);
}

void
stats_redis_state(bool up)
{
	/* Transitions are rare and reported by whoever changed the state: always counted. */
	atomic_store(&stats_redis_up, up ? 1 : 0);
	STATS_ADD(stats_redis_changes[up]);
}

void
stats_redis_error(void)
{
	if (stats_enabled())
		STATS_ADD(stats_redis_errors);
}

static void
stats_observe(struct stats_hist *h, const int64_t *le, size_t nb, int64_t us)
{
	size_t i = 0;

	if (us < 0)
		us = 0;
	while (i < nb && us > le[i])
		i++;
	STATS_ADD(h->bucket[i]);
	atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us, memory_order_relaxed);
}

void
stats_redis_roundtrip_us(int64_t us)
{
	if (stats_enabled())
		stats_observe(&stats_redis_rtt, stats_redis_le, STATS_REDIS_NB, us);
}

void
stats_stage_us(enum stats_stage st, int64_t us)
{
	if (stats_enabled() && (unsigned)st < STATS_STAGE_COUNT)
		stats_observe(&stats_stage[st], stats_stage_le, STATS_STAGE_NB, us);
}

void
stats_reload(bool ok)
{
	STATS_ADD(stats_reloads[ok]);
}

void
stats_ctl(enum stats_ctl what)
{
	/* Not the hot path, and what a stalled control client would show: always counted. */
	if ((unsigned)what < STATS_CTL_COUNT)
		STATS_ADD(stats_ctls[what]);
}

int64_t
stats_now_us(void)
{
	return monotime_us();
}

void
stats_set_config(const char *path, const char *hash)
{
	int64_t now = (int64_t)time(NULL);
	long long zero = 0;

	atomic_compare_exchange_strong(&stats_started, &zero, (long long)now);
	pthread_mutex_lock(&stats_conf_lock);
	snprintf(stats_conf_path, sizeof(stats_conf_path), "%s", path);
	snprintf(stats_conf_hash, sizeof(stats_conf_hash), "%s", hash);
	stats_conf_loaded = now;
	pthread_mutex_unlock(&stats_conf_lock);
}

void
stats_get_config(char *path, size_t pathsz, char *hash, size_t hashsz, int64_t *loaded)
{
	pthread_mutex_lock(&stats_conf_lock);
	snprintf(path, pathsz, "%s", stats_conf_path);
	snprintf(hash, hashsz, "%s", stats_conf_hash);
	*loaded = stats_conf_loaded;
	pthread_mutex_unlock(&stats_conf_lock);
}

int64_t
stats_start_time(void)
{
	return atomic_load(&stats_started);
}

void
stats_file_sha256(const char *path, char hex[65])
{
	unsigned char buf[8192], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *fp = fopen(path, "rb");
	size_t n;
	bool ok = ctx != NULL && fp != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	while (ok && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
		ok = EVP_DigestUpdate(ctx, buf, n) == 1;
	ok = ok && !ferror(fp) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	hex[0] = '\0';
	for (unsigned i = 0; ok && i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (fp != NULL)
		fclose(fp);
	EVP_MD_CTX_free(ctx);
}

/* ------------------------------------------------------------ exposition */

/* A label value: backslash, double quote and newline escaped (the format's rule). */
static void
stats_label(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void
stats_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
stats_hist_print(FILE *out, const char *name, const char *labels, const struct stats_hist *h,
    const int64_t *le, size_t nb)
{
	unsigned long long cum = 0;
	const char *sep = labels[0] != '\0' ? "," : "";

	for (size_t i = 0; i <= nb; i++) {
		cum += STATS_GET(h->bucket[i]);
		if (i < nb)
			fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
			    (double)le[i] / 1e6, cum);
		else
			fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
	}
	fprintf(out, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "", labels,
	    labels[0] ? "}" : "", (double)STATS_GET(h->sum_us) / 1e6);
	fprintf(out, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
	    labels[0] ? "}" : "", cum);
}

static void
stats_prom_refusals(FILE *out, bool would)
{
	const char *name = would ? "hopmilter_would_refusals_total" : "hopmilter_refusals_total";

	stats_head(out, name, "counter", would ?
	    "Refusals logged as WOULD-BLOCK (not enforced), by reason and action." :
	    "Refusals sent to the client (BLOCKED lines), by reason and action.");
	for (int r = 1; r < POLICY_REASON_COUNT; r++)
		for (int a = POLICY_REJECT; a < STATS_ACTIONS; a++)
			fprintf(out, "%s{reason=\"%s\",action=\"%s\"} %llu\n", name,
			    policy_reason_name((enum policy_reason)r), stats_action_names[a],
			    STATS_GET(stats_refused[would][r][a]));
}

void
stats_prometheus(FILE *out)
{
	char path[4096], hash[65], lab[64];
	int64_t loaded;
	int up = atomic_load(&stats_redis_up);

	stats_get_config(path, sizeof(path), hash, sizeof(hash), &loaded);
	stats_head(out, "hopmilter_build_info", "gauge",
	    "Always 1; the labels say what runs: version and SHA-256 of the configuration file.");
	fprintf(out, "hopmilter_build_info{version=\"");
	stats_label(out, PACKAGE_VERSION);
	fprintf(out, "\",config_sha256=\"");
	stats_label(out, hash);
	fprintf(out, "\"} 1\n");
	stats_head(out, "hopmilter_start_time_seconds", "gauge", "When the daemon started (unix time).");
	fprintf(out, "hopmilter_start_time_seconds %lld\n", (long long)stats_start_time());
	stats_head(out, "hopmilter_config_load_time_seconds", "gauge",
	    "When the running configuration was loaded (unix time).");
	fprintf(out, "hopmilter_config_load_time_seconds %lld\n", (long long)loaded);
	stats_head(out, "hopmilter_counters_enabled", "gauge",
	    "1 when the counters option is on; with 0 only reloads and Redis state are counted.");
	fprintf(out, "hopmilter_counters_enabled %d\n", stats_enabled() ? 1 : 0);
	stats_head(out, "hopmilter_config_reloads_total", "counter", "Reloads (SIGUSR1), by result.");
	fprintf(out, "hopmilter_config_reloads_total{result=\"ok\"} %llu\n",
	    STATS_GET(stats_reloads[1]));
	fprintf(out, "hopmilter_config_reloads_total{result=\"refused\"} %llu\n",
	    STATS_GET(stats_reloads[0]));

	stats_head(out, "hopmilter_sessions_total", "counter", "SMTP sessions (milter connects).");
	fprintf(out, "hopmilter_sessions_total %llu\n", STATS_GET(stats_sessions));
	stats_head(out, "hopmilter_messages_total", "counter", "Transactions started (MAIL FROM).");
	fprintf(out, "hopmilter_messages_total %llu\n", STATS_GET(stats_messages));
	stats_head(out, "hopmilter_messages_accepted_total", "counter",
	    "Messages accepted at end of data (ACCEPTED lines).");
	fprintf(out, "hopmilter_messages_accepted_total %llu\n", STATS_GET(stats_accepted));
	stats_head(out, "hopmilter_recipients_total", "counter", "RCPT TO, by result.");
	fprintf(out, "hopmilter_recipients_total{result=\"accepted\"} %llu\n",
	    STATS_GET(stats_rcpt[1]));
	fprintf(out, "hopmilter_recipients_total{result=\"refused\"} %llu\n",
	    STATS_GET(stats_rcpt[0]));
	stats_prom_refusals(out, false);
	stats_prom_refusals(out, true);

	stats_head(out, "hopmilter_spf_results_total", "counter",
	    "SPF evaluations, by the identity that decided and the result.");
	for (int id = 0; id < STATS_SPF_IDS; id++)
		for (int r = 0; r < STATS_SPF_RESULTS; r++)
			fprintf(out, "hopmilter_spf_results_total{identity=\"%s\",result=\"%s\"} %llu\n",
			    id == SPFCHECK_ID_HELO ? "helo" : "mailfrom",
			    spfcheck_result_name((enum spfcheck_result)r), STATS_GET(stats_spfres[id][r]));

	stats_head(out, "hopmilter_ratelimit_decisions_total", "counter",
	    "Rate-limit decisions, by who decided (redis, local, none) and outcome.");
	for (int s = 0; s < STATS_RL_SOURCES; s++)
		for (int o = 0; o < STATS_RL_COUNT; o++)
			fprintf(out, "hopmilter_ratelimit_decisions_total{source=\"%s\",outcome=\"%s\"} "
			    "%llu\n", ratelimit_source_name((enum ratelimit_source)s), stats_rl_names[o],
			    STATS_GET(stats_rl[s][o]));

	stats_head(out, "hopmilter_redis_up", "gauge",
	    "1 while the Redis breaker is closed, 0 while open, -1 before the first handshake.");
	fprintf(out, "hopmilter_redis_up %d\n", up);
	stats_head(out, "hopmilter_redis_state_changes_total", "counter",
	    "Redis breaker transitions, by the new state (down = a breaker trip).");
	fprintf(out, "hopmilter_redis_state_changes_total{state=\"up\"} %llu\n",
	    STATS_GET(stats_redis_changes[1]));
	fprintf(out, "hopmilter_redis_state_changes_total{state=\"down\"} %llu\n",
	    STATS_GET(stats_redis_changes[0]));
	stats_head(out, "hopmilter_redis_errors_total", "counter",
	    "Rate-limit decisions Redis failed to answer (I/O error, timeout, error or unexpected reply).");
	fprintf(out, "hopmilter_redis_errors_total %llu\n", STATS_GET(stats_redis_errors));
	stats_head(out, "hopmilter_redis_roundtrip_seconds", "histogram",
	    "Time of one rate-limit script call to Redis.");
	stats_hist_print(out, "hopmilter_redis_roundtrip_seconds", "", &stats_redis_rtt,
	    stats_redis_le, STATS_REDIS_NB);

	stats_head(out, "hopmilter_ctl_connections_total", "counter",
	    "Control-socket connections, by what became of them.");
	for (int i = 0; i < STATS_CTL_COUNT; i++)
		fprintf(out, "hopmilter_ctl_connections_total{result=\"%s\"} %llu\n", stats_ctl_names[i],
		    STATS_GET(stats_ctls[i]));

	stats_head(out, "hopmilter_stage_duration_seconds", "histogram",
	    "Time hopmilter spends in each milter step.");
	for (int st = 0; st < STATS_STAGE_COUNT; st++) {
		snprintf(lab, sizeof(lab), "stage=\"%s\"", stats_stage_names[st]);
		stats_hist_print(out, "hopmilter_stage_duration_seconds", lab, &stats_stage[st],
		    stats_stage_le, STATS_STAGE_NB);
	}
}

void
stats_summary(FILE *out)
{
	unsigned long long refused = 0, would = 0;

	for (int r = 0; r < POLICY_REASON_COUNT; r++)
		for (int a = 0; a < STATS_ACTIONS; a++) {
			refused += STATS_GET(stats_refused[0][r][a]);
			would += STATS_GET(stats_refused[1][r][a]);
		}
	fprintf(out, "counters: %s\n", stats_enabled() ? "on" : "off");
	fprintf(out, "sessions: %llu\n", STATS_GET(stats_sessions));
	fprintf(out, "messages: %llu started, %llu accepted\n", STATS_GET(stats_messages),
	    STATS_GET(stats_accepted));
	fprintf(out, "recipients: %llu accepted, %llu refused\n", STATS_GET(stats_rcpt[1]),
	    STATS_GET(stats_rcpt[0]));
	fprintf(out, "refusals: %llu enforced, %llu would-block\n", refused, would);
	for (int r = 1; r < POLICY_REASON_COUNT; r++) {
		unsigned long long n = 0, w = 0;

		for (int a = 0; a < STATS_ACTIONS; a++) {
			n += STATS_GET(stats_refused[0][r][a]);
			w += STATS_GET(stats_refused[1][r][a]);
		}
		if (n + w > 0)
			fprintf(out, "  %s: %llu enforced, %llu would-block\n",
			    policy_reason_name((enum policy_reason)r), n, w);
	}
	fprintf(out, "reloads: %llu ok, %llu refused\n", STATS_GET(stats_reloads[1]),
	    STATS_GET(stats_reloads[0]));
}
