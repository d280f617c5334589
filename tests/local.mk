# tests/: table-driven unit tests of the pure modules, the real hopmilter
# under miltertest, and integration tests with real Postfix, smtp-sink,
# swaks and fail2ban-regex.  Integration tests need root (private Postfix
# instances); without it they skip, and with HM_NO_SKIP=1 (CI) they fail.

UNIT_TESTS = \
	tests/unit/addr_test \
	tests/unit/conf_test \
	tests/unit/dset_test \
	tests/unit/esc_test \
	tests/unit/netaddr_test \
	tests/unit/policy_test \
	tests/unit/scrub_test \
	tests/unit/spfcheck_test \
	tests/unit/ratelimit_test \
	tests/unit/rllocal_test \
	tests/unit/spf_policy_test \
	$(RELAY_UNIT_TESTS)
check_PROGRAMS += $(UNIT_TESTS)
UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/milter -I$(top_srcdir)/tests/unit
UNIT_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)
UNIT_LDADD = $(HOPPOLICY_LIBS)

tests_unit_addr_test_SOURCES = tests/unit/addr_test.c tests/unit/check.h
tests_unit_addr_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_addr_test_LDADD = $(UNIT_LDADD)
tests_unit_conf_test_SOURCES = tests/unit/conf_test.c
tests_unit_conf_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_conf_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_conf_test_LDADD = $(UNIT_LDADD)
tests_unit_dset_test_SOURCES = tests/unit/dset_test.c
tests_unit_dset_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_dset_test_LDADD = $(UNIT_LDADD)
tests_unit_esc_test_SOURCES = tests/unit/esc_test.c
tests_unit_esc_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_esc_test_LDADD = $(UNIT_LDADD)
tests_unit_netaddr_test_SOURCES = tests/unit/netaddr_test.c
tests_unit_netaddr_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_netaddr_test_LDADD = $(UNIT_LDADD)
tests_unit_policy_test_SOURCES = tests/unit/policy_test.c
tests_unit_policy_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_policy_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_policy_test_LDADD = $(UNIT_LDADD)
tests_unit_ratelimit_test_SOURCES = tests/unit/ratelimit_test.c
tests_unit_ratelimit_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_ratelimit_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_ratelimit_test_LDADD = $(UNIT_LDADD)
tests_unit_rllocal_test_SOURCES = tests/unit/rllocal_test.c
tests_unit_rllocal_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_rllocal_test_LDADD = $(UNIT_LDADD)
tests_unit_scrub_test_SOURCES = tests/unit/scrub_test.c
tests_unit_scrub_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_scrub_test_LDADD = $(UNIT_LDADD)
tests_unit_spfcheck_test_SOURCES = tests/unit/spfcheck_test.c
tests_unit_spfcheck_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_spfcheck_test_LDADD = $(UNIT_LDADD)
tests_unit_spf_policy_test_SOURCES = tests/unit/spf_policy_test.c
tests_unit_spf_policy_test_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_spf_policy_test_CFLAGS = $(UNIT_CFLAGS)
tests_unit_spf_policy_test_LDADD = $(UNIT_LDADD)

# The RFC 7208 test suite through spfcheck: a driver, not a test by itself.
check_PROGRAMS += tests/conformance/spf_conformance
tests_conformance_spf_conformance_SOURCES = tests/conformance/spf_conformance.c
tests_conformance_spf_conformance_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_conformance_spf_conformance_LDADD = $(UNIT_LDADD)
CONFORMANCE_TESTS = tests/conformance/rfc7208.sh

# hoprelay's modules.
RELAY_UNIT_TESTS = \
	tests/unit/msgin_test \
	tests/unit/outcome_test \
	tests/unit/route_test \
	tests/unit/smtpc_test
RELAY_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/relay-transport -I$(top_srcdir)/tests/unit
RELAY_UNIT_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_msgin_test_SOURCES = tests/unit/msgin_test.c
tests_unit_msgin_test_CPPFLAGS = $(RELAY_UNIT_CPPFLAGS)
tests_unit_msgin_test_CFLAGS = $(RELAY_UNIT_CFLAGS)
tests_unit_msgin_test_LDADD = $(HOPRELAY_LIBS)
tests_unit_outcome_test_SOURCES = tests/unit/outcome_test.c
tests_unit_outcome_test_CPPFLAGS = $(RELAY_UNIT_CPPFLAGS)
tests_unit_outcome_test_CFLAGS = $(RELAY_UNIT_CFLAGS)
tests_unit_outcome_test_LDADD = $(HOPRELAY_LIBS)
tests_unit_route_test_SOURCES = tests/unit/route_test.c
tests_unit_route_test_CPPFLAGS = $(RELAY_UNIT_CPPFLAGS)
tests_unit_route_test_CFLAGS = $(RELAY_UNIT_CFLAGS)
tests_unit_route_test_LDADD = $(HOPRELAY_LIBS)
tests_unit_smtpc_test_SOURCES = tests/unit/smtpc_test.c
tests_unit_smtpc_test_CPPFLAGS = $(RELAY_UNIT_CPPFLAGS)
tests_unit_smtpc_test_CFLAGS = $(RELAY_UNIT_CFLAGS)
tests_unit_smtpc_test_LDADD = $(HOPRELAY_LIBS)

MILTERTEST_TESTS = \
	tests/miltertest/verdicts.lua \
	tests/miltertest/outbound.lua \
	tests/miltertest/dryrun.lua \
	tests/miltertest/reload.lua \
	tests/miltertest/ratelimit.lua

INTEGRATION_TESTS = \
	tests/integration/cli.sh \
	tests/integration/concurrency.sh \
	tests/integration/install.sh \
	tests/integration/postfix-policy.sh \
	tests/integration/sendmail.sh \
	tests/integration/spf-miltertest.sh \
	tests/integration/redis-script.sh \
	tests/integration/ratelimit-nodes.sh \
	tests/integration/ratelimit-outage.sh \
	tests/integration/ratelimit-sentinel.sh \
	tests/integration/postfix-ratelimit.sh \
	tests/integration/postfix-spf.sh \
	tests/integration/chain.sh \
	tests/integration/firewall.sh \
	tests/integration/openrelay.sh \
	tests/integration/faults.sh \
	tests/integration/faults-hop.sh \
	$(RELAY_INTEGRATION_TESTS)

RELAY_INTEGRATION_TESTS = \
	tests/integration/relay-tls.sh \
	tests/integration/relay-message.sh \
	tests/integration/relay-postfix.sh \
	tests/integration/relay-protocol.sh

# fail2ban-regex reads the logs the other tests wrote, so it runs after them.
LOG_CHECK_TESTS = tests/integration/fail2ban.sh

TESTS += $(UNIT_TESTS) $(CONFORMANCE_TESTS) $(MILTERTEST_TESTS) $(INTEGRATION_TESTS) $(LOG_CHECK_TESTS)
TEST_EXTENSIONS = .sh .lua
SH_LOG_COMPILER = $(BASH)
LUA_LOG_COMPILER = $(BASH) $(top_srcdir)/tests/miltertest/run.sh
AM_TESTS_ENVIRONMENT = \
	abs_top_builddir='$(abs_top_builddir)'; export abs_top_builddir; \
	HM_LOG_EXPORT_DIR='$(abs_top_builddir)/tests/logs'; export HM_LOG_EXPORT_DIR; \
	mkdir -p "$$HM_LOG_EXPORT_DIR";

tests/integration/fail2ban.log: $(MILTERTEST_TESTS:.lua=.log) $(INTEGRATION_TESTS:.sh=.log)

clean-local: clean-test-logs
clean-test-logs:
	rm -rf tests/logs
.PHONY: clean-test-logs

EXTRA_DIST += $(CONFORMANCE_TESTS) tests/conformance/yaml2cases.py \
	tests/conformance/rfc7208-tests.yml tests/conformance/rfc7208-tests.LICENSE \
	tests/conformance/README tests/conformance/expected-failures
EXTRA_DIST += $(MILTERTEST_TESTS) $(INTEGRATION_TESTS) $(LOG_CHECK_TESTS) \
	tests/integration/concurrency-client.lua tests/tsan.supp tests/valgrind.supp \
	tests/lib/harness.sh tests/lib/sendmail.sh tests/miltertest/run.sh tests/miltertest/common.lua \
	tests/lib/spfdns.sh tests/lib/dnsstub.py tests/integration/spf-verdicts.lua \
	tests/lib/fakesmtp.py tests/lib/chain.sh tests/lib/msgload.py tests/lib/slowproxy.py \
	tests/miltertest/rl-client.lua \
	fail2ban

# `make check-valgrind`: the miltertest scripts and the transport's
# integration tests once more, every program of ours under valgrind; any
# memory error or definite leak fails the test.
VALGRIND_TESTS = $(MILTERTEST_TESTS) $(RELAY_VALGRIND_TESTS)
# hoprelay run directly by the tests (through Postfix it is not wrapped).
RELAY_VALGRIND_TESTS = tests/integration/relay-tls.sh tests/integration/relay-message.sh \
	tests/integration/relay-protocol.sh
HM_VALGRIND = valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --track-origins=yes --vgdb=no --log-fd=2 \
	--suppressions=$(abs_top_srcdir)/tests/valgrind.supp
check-valgrind:
	HM_WRAP='$(HM_VALGRIND)' $(MAKE) $(AM_MAKEFLAGS) check TESTS='$(VALGRIND_TESTS)'
.PHONY: check-valgrind

# `make fuzz`: build the libFuzzer harnesses (clang, ASan+UBSan) and run each
# for FUZZ_TIME seconds (default 60).  CI runs them for 30 s each.
fuzz: milter/rlscript.c
	srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' \
	FUZZ_TIME="$${FUZZ_TIME:-60}" $(BASH) $(top_srcdir)/tests/fuzz/run.sh
.PHONY: fuzz
EXTRA_DIST += tests/fuzz

# `make bench`: side-by-side performance measurements (tests/bench/bench.sh,
# which writes BENCHMARKS.md).  The load driver and the no-op floor filter
# are check programs, so `make check` keeps them compiling.
HM_BENCH_PROGS = tests/bench/mdriver tests/bench/noop
check_PROGRAMS += $(HM_BENCH_PROGS)
tests_bench_mdriver_SOURCES = tests/bench/mdriver.c tests/bench/mproto.c tests/bench/mproto.h \
	tests/bench/hist.c tests/bench/hist.h
tests_bench_mdriver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/bench
tests_bench_noop_SOURCES = tests/bench/noop.c
tests_bench_noop_LDADD = $(MILTER_LIBS)
bench: $(sbin_PROGRAMS) $(HM_BENCH_PROGS) tests/bench/rsspeak.so
	abs_top_builddir='$(abs_top_builddir)' abs_top_srcdir='$(abs_top_srcdir)' \
	$(BASH) $(top_srcdir)/tests/bench/bench.sh
.PHONY: bench
EXTRA_DIST += tests/bench/bench.sh tests/bench/analysis.md
# Preloaded into hoprelay by the benchmark to split its memory by kind.
tests/bench/rsspeak.so: $(top_srcdir)/tests/bench/rsspeak.c
	$(AM_V_CC)$(MKDIR_P) tests/bench && $(CC) -O2 -shared -fPIC -o $@ $(top_srcdir)/tests/bench/rsspeak.c
CLEANFILES += tests/bench/rsspeak.so
EXTRA_DIST += tests/bench/rsspeak.c
