/*
 * stats - the daemon's counters, and their Prometheus text exposition.
 *
 * Every counter is a process-wide C11 atomic updated with relaxed order:
 * a message costs a handful of uncontended-in-the-common-case atomic adds
 * and no lock, and a reader (the control socket, the HTTP listener) sees
 * each value whole, not a consistent snapshot of all of them -- good
 * enough for counters that only grow.  stats_set_enabled(false) (the
 * `counters` option) turns every recording call into one relaxed load.
 *
 * Counters are indexed by the policy's own result enums (policy_reason,
 * policy_action, spfcheck_result, ratelimit_source) and named from their
 * tables (policy_reason_name(), spfcheck_result_name(), ...), so a new
 * reason is counted and exported without touching this module.  The
 * exported names and labels are documented in hopmilter-ctl(8), METRICS.
 *
 * Counters live as long as the process: a reload does not reset them.
 */
#ifndef HOP_STATS_H
#define HOP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy.h"
#include "ratelimit.h"
#include "spfcheck.h"

/* The milter steps whose time is measured. */
enum stats_stage {
	STATS_STAGE_CONNECT,
	STATS_STAGE_HELO,
	STATS_STAGE_MAIL,
	STATS_STAGE_RCPT,
	STATS_STAGE_HEADER,
	STATS_STAGE_EOM,
	STATS_STAGE_COUNT
};

/* Outcome of one rate-limit decision, as counted. */
enum stats_rl_outcome {
	STATS_RL_ALLOWED,
	STATS_RL_LIMITED,
	STATS_RL_ERROR,
	STATS_RL_COUNT
};

/* What became of a control-socket connection (hopmilter-ctl(8)). */
enum stats_ctl {
	STATS_CTL_SERVED,    /* a command line arrived and was answered */
	STATS_CTL_BUSY,      /* over the connection limit: "ERR busy" */
	STATS_CTL_TIMEOUT,   /* its time ran out first */
	STATS_CTL_COUNT
};

void stats_set_enabled(bool on);
bool stats_enabled(void);

void stats_session(void);
void stats_message(void);          /* a MAIL FROM that starts a transaction */
void stats_message_accepted(void); /* an ACCEPTED line */
void stats_recipient(bool accepted);
/* A BLOCKED line (`would` false) or a WOULD-BLOCK line (`would` true). */
void stats_refusal(enum policy_reason r, enum policy_action a, bool would);
void stats_spf(enum spfcheck_identity id, enum spfcheck_result r);
void stats_ratelimit(enum ratelimit_source src, enum stats_rl_outcome o);
/* Redis: the breaker closed (`up`) or opened; an error on a decision; one round trip. */
void stats_redis_state(bool up);
void stats_redis_error(void);
void stats_redis_roundtrip_us(int64_t us);
void stats_stage_us(enum stats_stage st, int64_t us);
void stats_reload(bool ok);
void stats_ctl(enum stats_ctl what);

/* Microseconds of CLOCK_MONOTONIC, for timing a stage. */
int64_t stats_now_us(void);

/*
 * Identity of what runs: set at start-up and at each successful load.
 * `hash` is the hex SHA-256 of the configuration file as read.
 */
void stats_set_config(const char *path, const char *hash);
/* Copies for the status report; `path`/`hash` get "" before the first load. */
void stats_get_config(char *path, size_t pathsz, char *hash, size_t hashsz, int64_t *loaded);
int64_t stats_start_time(void);   /* unix seconds */

/* Write the Prometheus text exposition (format 0.0.4) to `out`. */
void stats_prometheus(FILE *out);
/* A few lines for `hopmilter-ctl status`. */
void stats_summary(FILE *out);

/* The SHA-256 of the file at `path` in hex (65 bytes); "" when it cannot be read. */
void stats_file_sha256(const char *path, char hex[65]);

#endif
