#!/bin/bash
# The openspf RFC 7208 test suite (rfc7208-tests.yml, see README here) run
# through spfcheck_message(), the function the milter calls, by
# spf_conformance.  Prints passed/total; fails when a case outside
# expected-failures fails or a listed one passes, and when fewer than 201 of
# the suite's 203 cases pass.
. "$(dirname "$0")/../lib/harness.sh"

dir=$HM_SRCDIR/tests/conformance
driver=$HM_BUILDDIR/tests/conformance/spf_conformance
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import yaml' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || hm_skip "python3 with yaml (Debian: python3-yaml) is needed to read the suite"
hm_need "$driver"

"$py" "$dir/yaml2cases.py" "$dir/rfc7208-tests.yml" >"$HM_TMP/cases" || { hm_fail "converting the suite"; hm_done; }
"$driver" "$HM_TMP/cases" "$dir/expected-failures" | tee "$HM_TMP/result" >&2
rc=${PIPESTATUS[0]}
hm_check "only the expected failures (exit $rc)" test "$rc" = 0
hm_check "the whole suite ran (203 cases)" grep -qE ': [0-9]+/203 passed' "$HM_TMP/result"
passed=$(sed -n 's/.*: \([0-9]*\)\/[0-9]* passed.*/\1/p' "$HM_TMP/result")
hm_check "at least 201 of 203 pass (got ${passed:-none})" test "${passed:-0}" -ge 201
hm_done
