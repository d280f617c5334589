/*
 * Unit tests: the monotonic clock (lib/monotime.c): milliseconds and
 * microseconds agree and never go back, and a deadline in milliseconds
 * becomes the right struct timespec for pthread_cond_timedwait().
 */
#include "config.h"

#include "tests/unit/check.h"
#include "monotime.h"

static void
test_timespec(void)
{
	static const struct {
		int64_t ms;
		long long sec;
		long nsec;
	} cases[] = {
		{0, 0, 0}, {1, 0, 1000000}, {999, 0, 999000000}, {1000, 1, 0},
		{1500, 1, 500000000}, {86400123, 86400, 123000000},
		{INT64_C(9223372036854775807), INT64_C(9223372036854775), 807000000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct timespec ts = monotime_timespec(cases[i].ms);

		CHECK((long long)ts.tv_sec == cases[i].sec && ts.tv_nsec == cases[i].nsec,
		    "%lld ms: got %lld s %ld ns", (long long)cases[i].ms, (long long)ts.tv_sec,
		    ts.tv_nsec);
	}
}

static void
test_clock(void)
{
	int64_t prev_ms = monotime_ms(), prev_us = monotime_us();
	int back = 0, disagree = 0;

	CHECK(prev_ms > 0 && prev_us > 0, "positive: %lld ms, %lld us", (long long)prev_ms,
	    (long long)prev_us);
	for (int i = 0; i < 100000; i++) {
		int64_t ms0 = monotime_ms(), us = monotime_us(), ms1 = monotime_ms();

		back += ms0 < prev_ms || us < prev_us || ms1 < ms0;
		disagree += us / 1000 < ms0 || us / 1000 > ms1;
		prev_ms = ms1;
		prev_us = us;
	}
	CHECK(back == 0, "never goes back (%d times it did)", back);
	CHECK(disagree == 0, "microseconds within the milliseconds around them (%d times not)",
	    disagree);
}

int
main(void)
{
	test_timespec();
	test_clock();
	return check_done("monotime_test");
}
