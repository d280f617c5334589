#!/bin/bash
# SIGUSR1 (reload) storms where they race something: during start-up (from
# the first instruction to the first policy installed) and across SIGTERM
# (while the policy is uninstalled and the process exits).  Each round must
# end with a clean stop: exit status 0, "stopping" logged, no crash, and --
# in a sanitizer build -- no report (hm_done scans the logs).  Rounds are
# bounded (HM_SIGNAL_ROUNDS, default 10 of each kind).
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER"

rounds=${HM_SIGNAL_ROUNDS:-10}
dead_port=$(hm_free_port)
conf=$HM_TMP/hopmilter.conf
# SPF and a (dead) Redis on: a reload builds and frees every runtime object.
hm_write_milter_conf "$conf" "unix:$HM_TMP/m.sock" 'spf { enabled = true }' "ratelimit {
  on_redis_error = local
  redis { host = \"127.0.0.1\"  port = $dead_port  timeout = 50ms  connect_timeout = 50ms }
}"

# sigusr1_blocked PID: the process has SIGUSR1 blocked (bit 10 of SigBlk).
# Before that (fork, exec, the dynamic loader) it is not hopmilter's code
# that runs, and SIGUSR1's default action is to terminate.
# Builtins only: the loop must be quicker than hopmilter's start-up.
sigusr1_blocked() {
	local k v comm=
	read -r comm <"/proc/$1/comm" 2>/dev/null || return 1
	[ "$comm" = hopmilter ] || return 1
	while read -r k v; do
		[ "$k" = SigBlk: ] && return $(((16#$v & 0x200) == 0))
	done <"/proc/$1/status"
	return 1
}
# start LOG: hopmilter in the foreground; sets pid.
start() {
	rm -f "$HM_TMP/m.sock"
	${HM_WRAP:-} "$HOPMILTER" -f -c "$conf" >>"$1" 2>&1 </dev/null &
	pid=$!
	hm_track "$pid"
}
# stop_and_wait: SIGTERM (may be already sent), then the exit status in rc.
reap() {
	local i t0=$(date +%s%N)
	for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid"
	rc=$?
	stop_ms=$((($(date +%s%N) - t0) / 1000000))
}

# 1. Start-up: SIGUSR1 from the moment main() blocked it (before the
# configuration is read) until the filter serves, and a few hundred more;
# then SIGTERM.
bad=0
for r in $(seq 1 "$rounds"); do
	log=$HM_TMP/start-$r.log
	start "$log"
	for ((i = 0; i < 20000; i++)); do sigusr1_blocked "$pid" && break; done
	n=0
	while [ ! -S "$HM_TMP/m.sock" ] && [ "$n" -lt 200000 ] && kill -USR1 "$pid" 2>/dev/null; do
		n=$((n + 1))
	done
	for ((i = 0; i < 300; i++)); do kill -USR1 "$pid" 2>/dev/null || break; done
	hm_wait_grep 'starting hopmilter' "$log" 20
	sleep 0.2
	alive=0
	kill -0 "$pid" 2>/dev/null && alive=1
	kill -TERM "$pid" 2>/dev/null
	reap
	hm_log "start-up round $r: $n signals before the socket, alive=$alive, exit $rc after ${stop_ms} ms, $(grep -c 'reloaded ' "$log") reloads"
	if [ "$alive" != 1 ] || [ "$rc" != 0 ] || ! grep -q '^.*stopping' "$log"; then
		bad=$((bad + 1))
		tail -5 "$log" >&2
	fi
done
hm_check "start-up storms: $rounds rounds served and stopped cleanly (exit 0)" test "$bad" = 0

# 2. Across SIGTERM: a storm running while the filter stops and exits.
bad=0
for r in $(seq 1 "$rounds"); do
	log=$HM_TMP/stop-$r.log
	start "$log"
	hm_wait_grep 'starting hopmilter' "$log" 20
	( n=0; while [ "$n" -lt 200000 ] && kill -USR1 "$pid" 2>/dev/null; do n=$((n + 1)); done ) &
	storm=$!
	sleep 0.$((2 + r % 5))
	kill -TERM "$pid" 2>/dev/null
	reap
	wait "$storm"
	hm_log "shutdown round $r: exit $rc after ${stop_ms} ms, $(grep -c 'reloaded ' "$log") reloads, $(grep -c 'reload ignored' "$log") ignored"
	if [ "$rc" != 0 ] || ! grep -q 'stopping' "$log"; then
		bad=$((bad + 1))
		tail -5 "$log" >&2
	fi
done
hm_check "shutdown storms: $rounds rounds exited 0 after 'stopping'" test "$bad" = 0
hm_check "reloads did happen during the storms" eval '[ "$(cat "$HM_TMP"/stop-*.log | grep -c "reloaded ")" -gt 0 ]'

hm_done
