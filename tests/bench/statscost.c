/*
 * statscost - what the counters cost one message, measured directly: the
 * recording calls hopmilter makes for an accepted message with one
 * recipient (session, message, recipient, SPF, rate limit, accepted, and
 * the two clock reads of each of the six timed milter steps), repeated,
 * with counters on and off, by 1 thread and by N threads at once (the
 * atomics' contention).  Prints key=value: CPU nanoseconds per message
 * (the process's user and system time over every message of every thread,
 * so contention counts and idle cores do not).
 *
 * usage: statscost [THREADS [MESSAGES_PER_THREAD]]
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "milter/policy/stats.h"

static long statscost_n = 1000000;

static void
statscost_message(void)
{
	int64_t t0;

	for (int st = 0; st < STATS_STAGE_COUNT; st++) {
		/* What mlfi.c does around each step (mlfi_t0 / mlfi_timed). */
		t0 = stats_enabled() ? stats_now_us() : 0;
		if (t0 != 0)
			stats_stage_us((enum stats_stage)st, stats_now_us() - t0);
	}
	stats_session();
	stats_message();
	stats_ratelimit(RATELIMIT_SOURCE_REDIS, STATS_RL_ALLOWED);
	stats_redis_roundtrip_us(150);
	stats_spf(SPFCHECK_ID_MAILFROM, SPFCHECK_PASS);
	stats_recipient(true);
	stats_message_accepted();
}

static void *
statscost_thread(void *arg)
{
	(void)arg;
	for (long i = 0; i < statscost_n; i++)
		statscost_message();
	return NULL;
}

static double
statscost_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) * 1000.0;
}

/* CPU nanoseconds per message with `threads` threads running at once. */
static double
statscost_run(int threads)
{
	pthread_t t[64];
	double c0 = statscost_cpu_ns();

	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, statscost_thread, NULL) != 0)
			exit(1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return (statscost_cpu_ns() - c0) / ((double)statscost_n * threads);
}

int
main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;

	if (argc > 2)
		statscost_n = atol(argv[2]);
	if (threads < 1 || threads > 64 || statscost_n < 1) {
		fprintf(stderr, "usage: statscost [THREADS 1-64 [MESSAGES]]\n");
		return 64;
	}
	stats_set_enabled(true);
	printf("on_1=%.1f", statscost_run(1));
	printf(" on_%d=%.1f", threads, statscost_run(threads));
	stats_set_enabled(false);
	printf(" off_1=%.1f", statscost_run(1));
	printf(" off_%d=%.1f\n", threads, statscost_run(threads));
	return 0;
}
