#!/bin/bash
# Many parallel milter sessions against one hopmilter, with configuration
# reloads (SIGUSR1) in the middle: every reply is right, every decision is
# logged exactly once, and the filter survives.  In a build configured with
# --enable-sanitizers=thread this is the ThreadSanitizer test: any report in
# the filter's log fails it (hm_done scans for them).
. "$(dirname "$0")/../lib/harness.sh"

hm_need miltertest "$HOPMILTER"

clients=${HM_CONCURRENCY_CLIENTS:-12}
sessions=${HM_CONCURRENCY_SESSIONS:-40}
hm_write_milter_conf "$HM_TMP/hopmilter.conf" "unix:$HM_TMP/milter.sock" \
	'trusted_networks = {"10.200.0.0/24"}' \
	'internal_networks = {"192.168.0.0/16"}' \
	'banned_domains = {"evil.example"}'
hm_start_milter "$HM_TMP/hopmilter.conf"

pids=()
for c in $(seq 1 "$clients"); do
	HM_SOCK=$HM_TMP/milter.sock HM_SESSIONS=$sessions HM_CLIENT=$c \
		miltertest -s "$HM_LIBDIR/../integration/concurrency-client.lua" >"$HM_TMP/client-$c.log" 2>&1 &
	pids+=($!)
done
# Reload a few times while the clients run: sessions keep their policy,
# new ones get the new one, nothing is freed under a running session.
for _ in 1 2 3 4 5; do
	sleep 0.3
	kill -USR1 "$HM_MILTER_PID"
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
hm_check "all $clients clients got the right replies" test "$failed" = 0
[ "$failed" = 0 ] || grep -ih error "$HM_TMP"/client-*.log | head -5 >&2

log=$HM_TMP/milter.log
total=$((clients * sessions))
trusted=$((clients * (sessions / 4)))
internet=$((total - trusted))
acc=$(grep -c ': ACCEPTED ' "$log")
banned=$(grep -c 'BLOCKED reason=banned-domain' "$log")
unknown=$(grep -c 'BLOCKED reason=unknown-rcpt-domain' "$log")
outb=$(grep -c 'BLOCKED reason=outbound-disabled' "$log")
scrubbed=$(grep -cE 'class=trusted .* scrubbed=1( |$)' "$log")
hm_log "sessions=$total accepted=$acc banned=$banned unknown=$unknown outbound=$outb scrubbed=$scrubbed"
hm_check "one ACCEPTED line per session ($acc of $total)" test "$acc" = "$total"
hm_check "one banned-domain line per internet session ($banned of $internet)" test "$banned" = "$internet"
hm_check "one unknown-rcpt-domain line per internet session ($unknown)" test "$unknown" = "$internet"
hm_check "one outbound-disabled line per trusted session ($outb of $trusted)" test "$outb" = "$trusted"
hm_check "the inner Received header scrubbed in every trusted message" test "$scrubbed" = "$trusted"
hm_check "five reloads logged" test "$(grep -c 'reloaded ' "$log")" = 5
hm_check "filter still alive" kill -0 "$HM_MILTER_PID"
hm_done
