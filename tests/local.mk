# tests/: table-driven unit tests of the pure modules, the real hopmilter
# under miltertest, and integration tests with real Postfix, smtp-sink,
# swaks and fail2ban-regex.  Integration tests need root (private Postfix
# instances); without it they skip, and with HM_NO_SKIP=1 (CI) they fail.

# Unit tests, laid out like the code: tests/unit/{policy,relay,lib}/NAME_test.c.
# Each is one program built from its one source file and linked with the
# default LDADD below (every convenience library; the linker takes only what
# a test uses), so adding a test is adding its name here.
UNIT_TESTS = \
	tests/unit/lib/addr_test \
	tests/unit/lib/cfgtext_test \
	tests/unit/lib/esc_test \
	tests/unit/lib/listfile_test \
	tests/unit/lib/monotime_test \
	tests/unit/lib/netaddr_test \
	tests/unit/lib/netlist_test \
	tests/unit/policy/conf_test \
	tests/unit/policy/ctlcmd_test \
	tests/unit/policy/dset_test \
	tests/unit/policy/exempt_test \
	tests/unit/policy/observe_test \
	tests/unit/policy/policy_test \
	tests/unit/policy/ratelimit_test \
	tests/unit/policy/rfc2047_test \
	tests/unit/policy/rlbreaker_test \
	tests/unit/policy/rlconn_test \
	tests/unit/policy/rllocal_test \
	tests/unit/policy/rlwire_test \
	tests/unit/policy/scrub_test \
	tests/unit/policy/spf_policy_test \
	tests/unit/policy/spfcheck_test \
	tests/unit/policy/spfguard_test \
	tests/unit/policy/spfrec_test \
	tests/unit/relay/lmtpd_test \
	tests/unit/relay/msgin_test \
	tests/unit/relay/netio_test \
	tests/unit/relay/outcome_test \
	tests/unit/relay/route_test \
	tests/unit/relay/smtpc_test
check_PROGRAMS += $(UNIT_TESTS)
# The unit tests alone (no root, no servers): what a package build runs.
check-unit:
	$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(UNIT_TESTS)" check_PROGRAMS="$(UNIT_TESTS)"
.PHONY: check-unit
# What several tests of one layer share (tests/unit/policy/testpolicy.h).
check_LIBRARIES = tests/unit/policy/libtestpolicy.a
tests_unit_policy_libtestpolicy_a_SOURCES = tests/unit/policy/testpolicy.c \
	tests/unit/policy/testpolicy.h
LDADD = tests/unit/policy/libtestpolicy.a milter/policy/libhoppolicy.a relay-transport/libhoprelay.a lib/libhopcommon.a $(IDN2_LIBS) \
	$(CONFUSE_LIBS) $(SPF2_LIBS) $(HIREDIS_LIBS) $(OPENSSL_LIBS)
EXTRA_DIST += tests/unit/check.h tests/unit/hostiletext.h
# The control socket's commands are the milter face's, over the policy library.
tests_unit_policy_ctlcmd_test_SOURCES = tests/unit/policy/ctlcmd_test.c milter/ctlcmd.c \
	milter/ctlcmd.h

# The RFC 7208 test suite through spfcheck: a driver, not a test by itself.
check_PROGRAMS += tests/conformance/spf_conformance
CONFORMANCE_TESTS = tests/conformance/rfc7208.sh

MILTERTEST_TESTS = \
	tests/miltertest/verdicts.lua \
	tests/miltertest/outbound.lua \
	tests/miltertest/dryrun.lua \
	tests/miltertest/reload.lua \
	tests/miltertest/ratelimit.lua

INTEGRATION_TESTS = \
	tests/integration/cli.sh \
	tests/integration/signal-races.sh \
	tests/integration/config-paths.sh \
	tests/integration/ctl.sh \
	tests/integration/concurrency.sh \
	tests/integration/install.sh \
	tests/integration/debpkg.sh \
	tests/integration/deps.sh \
	tests/integration/notify.sh \
	tests/integration/postfix-policy.sh \
	tests/integration/sendmail.sh \
	tests/integration/spf-miltertest.sh \
	tests/integration/spf-amplification.sh \
	tests/integration/redis-script.sh \
	tests/integration/ratelimit-nodes.sh \
	tests/integration/ratelimit-budget.sh \
	tests/integration/listfile.sh \
	tests/integration/postfix-limits.sh \
	tests/integration/ratelimit-outage.sh \
	tests/integration/redis-hostile.sh \
	tests/integration/ratelimit-sentinel.sh \
	tests/integration/postfix-ratelimit.sh \
	tests/integration/postfix-spf.sh \
	tests/integration/chain.sh \
	tests/integration/chain-lmtp.sh \
	tests/integration/scrub-postfix.sh \
	tests/integration/firewall.sh \
	tests/integration/openrelay.sh \
	tests/integration/conf-lines.sh \
	tests/integration/conf-hostile.sh \
	tests/integration/authres-forged.sh \
	tests/integration/idn-postfix.sh \
	tests/integration/faults.sh \
	tests/integration/faults-hop.sh \
	$(RELAY_INTEGRATION_TESTS)

RELAY_INTEGRATION_TESTS = \
	tests/integration/relay-tls.sh \
	tests/integration/relay-message.sh \
	tests/integration/relay-postfix.sh \
	tests/integration/relay-protocol.sh \
	tests/integration/relay-hostile.sh \
	tests/integration/relayd.sh \
	tests/integration/faults-relayd.sh \
	tests/integration/relayd-hostile.sh

# fail2ban-regex reads the logs the other tests wrote, so it runs after them.
LOG_CHECK_TESTS = tests/integration/fail2ban.sh

# The layering of the tree (tests/layout.sh says which rules).
LAYOUT_TESTS = tests/layout.sh
EXTRA_DIST += $(LAYOUT_TESTS)

TESTS += $(LAYOUT_TESTS) $(UNIT_TESTS) $(CONFORMANCE_TESTS) $(MILTERTEST_TESTS) $(INTEGRATION_TESTS) $(LOG_CHECK_TESTS)
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
	tests/lib/harness.sh tests/lib/sendmail-instance.sh tests/miltertest/run.sh tests/miltertest/common.lua \
	tests/lib/spfdns.sh tests/lib/dnsstub.py tests/integration/spf-verdicts.lua \
	tests/lib/fakesmtp.py tests/lib/fakeredis.py tests/lib/lmtpc.py tests/lib/lmtpraw.py tests/lib/chain-nodes.sh tests/lib/msgload.py tests/lib/slowproxy.py tests/lib/ctlload.py tests/lib/sasl.sh tests/lib/notify-listener.py \
	tests/miltertest/rl-client.lua tests/corpus/scrub-headers.txt tests/lib/scrubcorpus.py \
	tests/miltertest/rl-envelope.lua \
	fail2ban

# `make check-valgrind`: the miltertest scripts and the transport's
# integration tests once more, every program of ours under valgrind; any
# memory error or definite leak fails the test.
VALGRIND_TESTS = $(MILTERTEST_TESTS) $(RELAY_VALGRIND_TESTS)
# hoprelay run directly by the tests (through Postfix it is not wrapped).
RELAY_VALGRIND_TESTS = tests/integration/relay-tls.sh tests/integration/relay-message.sh tests/integration/relayd.sh \
	tests/integration/relay-protocol.sh tests/integration/relay-hostile.sh tests/integration/relayd-hostile.sh
HM_VALGRIND = valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --track-origins=yes --vgdb=no --log-fd=2 \
	--suppressions=$(abs_top_srcdir)/tests/valgrind.supp
check-valgrind:
	HM_WRAP='$(HM_VALGRIND)' $(MAKE) $(AM_MAKEFLAGS) check TESTS='$(VALGRIND_TESTS)'
.PHONY: check-valgrind

# `make fuzz`: build the libFuzzer harnesses (clang, ASan+UBSan) and run each
# for FUZZ_TIME seconds (default 60).  CI runs them for 30 s each.
fuzz: milter/policy/rlscript.c
	srcdir='$(abs_top_srcdir)' builddir='$(abs_top_builddir)' \
	FUZZ_TIME="$${FUZZ_TIME:-60}" $(BASH) $(top_srcdir)/tests/fuzz/run.sh
.PHONY: fuzz
EXTRA_DIST += tests/fuzz

# `make bench`: side-by-side performance measurements (tests/bench/bench.sh,
# which writes BENCHMARKS.md).  The load driver and the no-op floor filter
# are check programs, so `make check` keeps them compiling.
HM_BENCH_PROGS = tests/bench/mdriver tests/bench/noop tests/bench/statscost tests/bench/netcost
check_PROGRAMS += $(HM_BENCH_PROGS)
tests_bench_mdriver_SOURCES = tests/bench/mdriver.c tests/bench/mproto.c tests/bench/mproto.h \
	tests/bench/hist.c tests/bench/hist.h
tests_bench_mdriver_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/bench
tests_bench_mdriver_LDADD =
tests_bench_noop_SOURCES = tests/bench/noop.c
tests_bench_noop_LDADD = $(MILTER_LIBS)
# The counters' own cost per message (section 6), with the default LDADD.
tests_bench_statscost_SOURCES = tests/bench/statscost.c
# What a network list costs a message and a load, by its size (not run by any test).
tests_bench_netcost_SOURCES = tests/bench/netcost.c
bench: $(sbin_PROGRAMS) $(HM_BENCH_PROGS) tests/bench/rsspeak.so
	abs_top_builddir='$(abs_top_builddir)' abs_top_srcdir='$(abs_top_srcdir)' \
	$(BASH) $(top_srcdir)/tests/bench/bench.sh
.PHONY: bench
EXTRA_DIST += tests/bench/bench.sh tests/bench/analysis.md tests/bench/dnsdelay.py
# Preloaded into hoprelay by the benchmark to split its memory by kind.
tests/bench/rsspeak.so: $(top_srcdir)/tests/bench/rsspeak.c
	$(AM_V_CC)$(MKDIR_P) tests/bench && $(CC) -O2 -shared -fPIC -o $@ $(top_srcdir)/tests/bench/rsspeak.c
CLEANFILES += tests/bench/rsspeak.so
EXTRA_DIST += tests/bench/rsspeak.c
