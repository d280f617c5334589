#!/bin/bash
# SPF in the real hopmilter under miltertest (spf-verdicts.lua), with the
# SPF records served by dnsmasq on a loopback address and made visible to
# hopmilter alone through a private /etc/resolv.conf (tests/lib/spfdns.sh).
# Then a hopmilter whose only DNS server never answers: MAIL FROM still
# comes back with a temperror (451), within the configured budget.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need miltertest "$HOPMILTER"
hm_start_spf_dns || { hm_fail "DNS world did not start"; hm_done; }

export HOPMILTER HM_TMP HM_LUA_LIB="$HM_LIBDIR/../miltertest/common.lua" HM_USER=nobody
script=$HM_SRCDIR/tests/integration/spf-verdicts.lua
(cd "$HM_TMP" && hm_in_resolv "$HM_TMP/resolv.conf" miltertest -s "$script") >"$HM_TMP/mt.out" 2>&1
rc=$?
sed 's/^/    mt| /' "$HM_TMP/mt.out" >&2
hm_check "miltertest spf script (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || sed 's/^/    milter| /' "$HM_TMP/milter.log" >&2
hm_export_log "$HM_TMP/milter.log"

# Every DNS server silent: one budget (timeout = 2s) covers HELO and MAIL FROM.
mkdir -p "$HM_TMP/silent"
cat >"$HM_TMP/silent.lua" <<'LUA'
dofile(os.getenv("HM_LUA_LIB"))
hm.start([[
authserv_id = "mx.test.invalid"
allowed_domains = {"example.com"}
spf { dns_timeout = 1s  timeout = 2s }
ratelimit { enabled = false }
]])
local c = hm.client("192.0.2.7", "mta.client.example")
hm.mail(c, "<alice@pass.example>", SMFIR_REPLYCODE, "all DNS silent: MAIL answered (tempfail)")
hm.log_has("BLOCKED reason=spf%-temperror action=tempfail ip=192%.0%.2%.7 ", "all DNS silent: spf-temperror")
mt.disconnect(c)
LUA
(cd "$HM_TMP/silent" && HM_TMP=$HM_TMP/silent hm_in_resolv "$HM_TMP/resolv-silent.conf" \
	miltertest -s "$HM_TMP/silent.lua") >"$HM_TMP/silent.out" 2>&1
rc=$?
sed 's/^/    mt| /' "$HM_TMP/silent.out" >&2
hm_check "all DNS silent: temperror, no hang (exit $rc)" test "$rc" = 0
hm_check "all DNS silent: the time budget was what ended it" grep -q 'spf temperror .* deadline=yes' "$HM_TMP/silent/milter.log"

# The only DNS server answers garbage (tests/lib/dnsstub.py): every kind
# ends in a temperror within the budget -- never a crash, a hang, a pass
# built from a forged answer, or a permanent verdict.
sed -e 's/all DNS silent/garbage DNS/g' "$HM_TMP/silent.lua" >"$HM_TMP/garbage.lua"
for mode in noise wrongid truncated cutrr hugetxt; do
	addr=$(hm_free_dns_addr)
	python3 "$HM_DNSSTUB" "$addr" 53 "$mode" &
	hm_track $!
	printf 'nameserver %s\n' "$addr" >"$HM_TMP/resolv-$mode.conf"
	chmod 0644 "$HM_TMP/resolv-$mode.conf"
	mkdir -p "$HM_TMP/$mode"
	t0=$(date +%s%N)
	(cd "$HM_TMP/$mode" && HM_TMP=$HM_TMP/$mode hm_in_resolv "$HM_TMP/resolv-$mode.conf" \
		miltertest -s "$HM_TMP/garbage.lua") >"$HM_TMP/$mode.out" 2>&1
	rc=$?
	sed 's/^/    mt| /' "$HM_TMP/$mode.out" >&2
	hm_log "DNS $mode: MAIL answered after $((($(date +%s%N) - t0) / 1000000))ms, session included (timeout 2s)"
	hm_check "DNS $mode: temperror (451), no crash, no hang (exit $rc)" test "$rc" = 0
	hm_check "DNS $mode: hopmilter still running after it" eval '! grep -qE "AddressSanitizer|Segmentation|abort" "$HM_TMP/$mode/milter.log"'
done
hm_done
