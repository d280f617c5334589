#!/bin/bash
# Redis goes away under a running hopmilter: killed (SIGKILL by PID) and
# restarted empty, then hung (SIGSTOP) and resumed.  Asserts that no MAIL
# reply waits longer than the Redis timeout plus a generous margin, that
# the breaker stops the waiting after the first timeout, that the
# fallback policy decides meanwhile (local: the same limit in process
# memory; then, after reloads, tempfail and accept), that redis=down and
# redis=up are logged once per change, and that shared limiting is back
# within about a second of Redis returning.
#
# Every count is exact because the limit is 1 per hour with a burst of 3:
# no bucket refills during the run.  Times are only compared with bounds
# several times larger than what they measure.
. "$(dirname "$0")/../lib/harness.sh"

hm_need redis-server redis-cli miltertest "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-client.lua
TIMEOUT_MS=1000 MARGIN_MS=1500
rport=$(hm_free_port)
log=$HM_TMP/milter.log
hm_start_redis main "$rport" || { hm_fail "redis-server did not start"; hm_done; }

write_conf() {
	hm_write_milter_conf "$HM_TMP/hopmilter.conf" "unix:$HM_TMP/milter.sock" 'log_level = debug' \
		"ratelimit {
	rate = 1  period = 1h  burst = 3
	on_redis_error = $1
	redis {
		host = \"127.0.0.1\"  port = $rport
		timeout = ${TIMEOUT_MS}ms  connect_timeout = 500ms  retry_interval = 200ms  pool_size = 4
	}
}"
}
write_conf local
hm_start_milter "$HM_TMP/hopmilter.conf" "$log" || { hm_fail "hopmilter did not start"; hm_done; }
hm_check "redis=up at start" hm_wait_grep "redis=up server=127\.0\.0\.1:$rport" "$log" 10

# send IP COUNT OUT: one session, COUNT messages; OUT gets the replies.
send() { HM_SOCK=unix:$HM_TMP/milter.sock HM_IP=$1 HM_COUNT=$2 HM_OUT=$3 miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1; }
allowed() { grep -c ' continue ' "$1"; }
slowest() { sort -k3 -n "$1" | tail -1 | cut -d' ' -f3; }
key() { echo "hopmilter:rl:v1:{$1/32}"; }
kill_redis() {
	local pid
	pid=$(hm_redis_pid main)
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# A. Shared limiting.
send 198.51.100.1 5 "$HM_TMP/a"
hm_check "Redis up: exactly 3 of 5 allowed" test "$(allowed "$HM_TMP/a")" = 3
hm_check "Redis up: decided in Redis (key exists)" test "$(hm_redis "$rport" EXISTS "$(key 198.51.100.1)")" = 1

# B. SIGKILL: the local table decides, replies stay fast, redis=down once.
kill_redis
send 198.51.100.2 5 "$HM_TMP/b1"
send 198.51.100.1 5 "$HM_TMP/b2"
hm_check "killed: a new client gets exactly its burst locally" test "$(allowed "$HM_TMP/b1")" = 3
hm_check "killed: the local table does not know what Redis counted" test "$(allowed "$HM_TMP/b2")" = 3
s=$(slowest "$HM_TMP/b1"); s2=$(slowest "$HM_TMP/b2")
hm_log "killed Redis: slowest MAIL reply ${s} ms, then ${s2} ms (timeout ${TIMEOUT_MS} ms)"
hm_check "killed: no reply slower than timeout + margin" test "$s" -le $((TIMEOUT_MS + MARGIN_MS)) -a "$s2" -le $((TIMEOUT_MS + MARGIN_MS))
hm_check "killed: redis=down logged exactly once" test "$(grep -c 'redis=down' "$log")" = 1
hm_check "killed: decisions logged as local" grep -q 'ratelimit ip=198\.51\.100\.2 .*source=local' "$log"

# C. Restart (empty): shared limiting back within about a second.  Probe
# every 100 ms with a fresh client until its key shows up in Redis.
hm_start_redis main "$rport" || hm_fail "redis-server did not restart"
t0=$(date +%s%N) back=
for i in $(seq 1 50); do
	send 192.0.2.$i 1 "$HM_TMP/probe"
	if [ "$(hm_redis "$rport" EXISTS "$(key 192.0.2.$i)")" = 1 ]; then
		back=$((($(date +%s%N) - t0) / 1000000))
		break
	fi
	sleep 0.1
done
hm_log "shared limiting back ${back:-never} ms after Redis accepted connections again"
hm_check "shared limiting back within 2 s of Redis returning" test -n "$back" -a "${back:-99999}" -le 2000
hm_check "redis=up logged again, once" test "$(grep -c 'redis=up' "$log")" = 2
send 198.51.100.3 5 "$HM_TMP/c"
hm_check "restarted: exactly 3 of 5 allowed" test "$(allowed "$HM_TMP/c")" = 3
hm_check "restarted: decided in Redis (script reloaded by the handshake)" \
	test "$(hm_redis "$rport" EXISTS "$(key 198.51.100.3)")" = 1

# D. SIGSTOP: Redis accepts nothing and answers nothing.  The first
# decision waits out the timeout, the breaker opens, the rest are quick.
# A watchdog resumes Redis after 20 s, so a build that waits forever fails
# this test instead of hanging it.
kill -STOP "$(hm_redis_pid main)"
send 198.51.100.4 6 "$HM_TMP/d" &
spid=$!
hm_wait_exit "$spid" 200
kill -CONT "$(hm_redis_pid main)"
wait "$spid"
s=$(slowest "$HM_TMP/d")
slow=$(awk -v t=$((TIMEOUT_MS * 8 / 10)) '$3 >= t' "$HM_TMP/d" | wc -l)
hm_log "hung Redis: replies $(cut -d' ' -f3 "$HM_TMP/d" | tr '\n' ' ')ms"
hm_check "hung: no reply slower than timeout + margin ($s ms)" test "$s" -le $((TIMEOUT_MS + MARGIN_MS))
# Without the breaker, each of the 4 pooled connections would wait in turn.
hm_check "hung: the breaker stops the waiting after one timeout ($slow replies near it)" test "$slow" -le 1
hm_check "hung: local limit applied, exactly 3 of 6" test "$(allowed "$HM_TMP/d")" = 3
hm_check "hung: redis=down logged once more" test "$(grep -c 'redis=down' "$log")" = 2
for _ in $(seq 1 50); do [ "$(grep -c 'redis=up' "$log")" = 3 ] && break; sleep 0.1; done
hm_check "resumed: redis=up logged once more" test "$(grep -c 'redis=up' "$log")" = 3

# D2. Demoted: the server becomes a replica (of a second, empty one).  The
# handshake's ROLE check keeps the breaker open -- no redis=up/down
# flapping on every message -- until it is a master again.
oport=$(hm_free_port)
hm_start_redis other "$oport" || hm_fail "second redis-server did not start"
ups=$(grep -c 'redis=up' "$log")
hm_redis "$rport" REPLICAOF 127.0.0.1 "$oport" >/dev/null
send 198.51.100.7 1 "$HM_TMP/d2a"
sleep 1.5
send 198.51.100.7 4 "$HM_TMP/d2b"
hm_check "demoted: decided locally (3 of 5)" \
	test "$(($(allowed "$HM_TMP/d2a") + $(allowed "$HM_TMP/d2b")))" = 3
hm_check "demoted: the ROLE check says why it stays down" grep -q "redis still down: ROLE: not a master" "$log"
hm_check "demoted: no flapping (no redis=up while a replica)" test "$(grep -c 'redis=up' "$log")" = "$ups"
hm_redis "$rport" REPLICAOF NO ONE >/dev/null
hm_check "master again: redis=up" eval 'for _ in $(seq 1 50); do [ "$(grep -c "redis=up" "$log")" -gt "$ups" ] && break; sleep 0.1; done; [ "$(grep -c "redis=up" "$log")" -gt "$ups" ]'
send 198.51.100.8 4 "$HM_TMP/d2c"
hm_check "master again: shared limiting (3 of 4, key in Redis)" test "$(allowed "$HM_TMP/d2c"):$(hm_redis "$rport" EXISTS "$(key 198.51.100.8)")" = 3:1

# E. The other fallback policies, switched by reload while Redis is dead.
kill_redis
write_conf tempfail
kill -USR1 "$HM_MILTER_PID"
hm_check "reloaded (tempfail)" hm_wait_grep "reloaded .*hopmilter\.conf" "$log" 10
send 198.51.100.5 2 "$HM_TMP/e1"
hm_check "tempfail: every internet message refused" test "$(grep -c ' tempfail ' "$HM_TMP/e1")" = 2
hm_check "tempfail: logged as ratelimit-unavailable" \
	grep -q 'BLOCKED reason=ratelimit-unavailable action=tempfail ip=198\.51\.100\.5 ' "$log"
hm_check "tempfail: replies fast ($(slowest "$HM_TMP/e1") ms)" test "$(slowest "$HM_TMP/e1")" -le $((TIMEOUT_MS + MARGIN_MS))
write_conf accept
kill -USR1 "$HM_MILTER_PID"
for _ in $(seq 1 100); do [ "$(grep -c 'reloaded ' "$log")" = 2 ] && break; sleep 0.1; done
send 198.51.100.6 6 "$HM_TMP/e2"
hm_check "accept: no limit while Redis is away (6 of 6)" test "$(allowed "$HM_TMP/e2")" = 6

hm_export_log "$log"
hm_done
