#!/bin/bash
# hopmilter's rate limit against a Redis server that attacks it or breaks
# (tests/lib/fakeredis.py, a small RESP server of the test's own on
# loopback): a reply announcing 2,000,000,000 elements, a 4 GB bulk string
# streamed at full speed, a valid reply trickled one byte every 80 ms, a
# server that closes instead of answering, one that closes one command's
# connection (once), one that closes every connection idle for half a
# second (Redis's `timeout`), and one that answers a write with READONLY
# (a master demoted behind hopmilter's back).
#
# Asserted for each hostile mode, with redis.timeout = 100ms and
# on_redis_error = tempfail (so the fallback shows in every reply):
#   - every MAIL reply within redis.timeout + MARGIN_MS (600 ms: the machine
#     is shared, and miltertest's clock costs a fork per message);
#   - the fallback policy decided (tempfail), never a hang or a crash;
#   - peak RSS (VmHWM) of hopmilter grew by at most RSS_MAX_KB (48 MiB);
#   - redis=down logged with the reason.
# For the idle close: the next message after the idle period is decided by
# Redis (continue), with no redis=down logged.
. "$(dirname "$0")/../lib/harness.sh"

hm_need miltertest /usr/bin/python3 "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-client.lua
TIMEOUT_MS=100 MARGIN_MS=600 RSS_MAX_KB=49152

# fake NAME MODE [ARGS...]: a fakeredis in MODE; sets port.
fake() {
	local name=$1 mode=$2
	shift 2
	port=$(hm_free_port)
	/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakeredis.py" --port "$port" --mode "$mode" \
		--log "$HM_TMP/$name.redis.log" "$@" 2>>"$HM_TMP/$name.redis.stderr" &
	hm_track $!
	hm_wait_port 127.0.0.1 "$port"
}
# milter NAME PORT ON_ERROR [TIMEOUT]: hopmilter using that Redis; sets mpid, log.
milter() {
	local name=$1 rport=$2 onerr=$3 tmo=${4:-${TIMEOUT_MS}ms}
	log=$HM_TMP/$name.milter.log
	hm_write_milter_conf "$HM_TMP/$name.conf" "unix:$HM_TMP/$name.sock" 'log_level = debug' \
		"ratelimit {
	rate = 100  period = 1s  burst = 100
	on_redis_error = $onerr
	redis {
		host = \"127.0.0.1\"  port = $rport
		timeout = $tmo  connect_timeout = 500ms  retry_interval = 300ms  pool_size = 2
	}
}"
	hm_start_milter "$HM_TMP/$name.conf" "$log"
	mpid=$HM_MILTER_PID
	hm_wait_grep "redis=up server=127\.0\.0\.1:$rport" "$log" 10
}
hwm_kb() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
# send NAME IP COUNT [PAUSE]: one session of COUNT messages; replies in $HM_TMP/NAME.out.
send() {
	HM_SOCK=unix:$HM_TMP/$1.sock HM_IP=$2 HM_COUNT=$3 HM_PAUSE=${4:-0} HM_OUT=$HM_TMP/$1.out \
		miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1
}
count() { grep -c " $2 " "$HM_TMP/$1.out"; }
slowest() { sort -k3 -n "$HM_TMP/$1.out" | tail -1 | cut -d' ' -f3; }
stop() {
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}

# hostile NAME MODE REASON [FAKE ARGS...]
hostile() {
	local name=$1 mode=$2 reason=$3 before after s n=4
	shift 3
	fake "$name" "$mode" "$@"
	milter "$name" "$port" tempfail || { hm_fail "$name: hopmilter did not see redis=up"; return; }
	before=$(hwm_kb "$mpid")
	send "$name" 198.51.100.7 "$n" 0.2
	after=$(hwm_kb "$mpid")
	s=$(slowest "$name")
	hm_log "$name: replies $(cut -d' ' -f2 "$HM_TMP/$name.out" | sort | uniq -c | tr -s ' \n' ' '), slowest ${s} ms, peak RSS ${before} -> ${after} kB"
	hm_check "$name: all $n messages got the fallback (tempfail)" test "$(count "$name" tempfail)" = "$n"
	hm_check "$name: slowest MAIL reply ${s} ms <= timeout ${TIMEOUT_MS} + ${MARGIN_MS} ms" \
		test "${s:-99999}" -le $((TIMEOUT_MS + MARGIN_MS))
	hm_check "$name: peak RSS grew $((after - before)) kB <= ${RSS_MAX_KB} kB" \
		test $((after - before)) -le "$RSS_MAX_KB"
	hm_check "$name: redis=down says why ($reason)" grep -q "redis=down .*$reason" "$log"
	hm_check "$name: still running" kill -0 "$mpid"
	stop "$mpid"
}

hostile aggregate aggregate 'reply too large' --stream-for 3
hostile bulk bulk 'reply too large' --stream-for 3
hostile trickle trickle 'timed out waiting for the whole reply' --delay 0.08
hostile close close 'connection closed by the server'
hm_check "aggregate: the fake did start its stream" grep -q '^STREAMED' "$HM_TMP/aggregate.redis.log"
hm_check "trickle: the fake's reply was cut" hm_wait_grep '^TRICKLE-CUT' "$HM_TMP/trickle.redis.log" 5

# A close that races the idle check: the command meets a connection the
# server closes before any reply byte.  It is sent once more, on another
# connection, within the same deadline: Redis decides, nothing falls back.
fake once close-once
milter once "$port" tempfail || hm_fail "once: hopmilter did not see redis=up"
send once 198.51.100.9 3
hm_log "once: replies $(cut -d' ' -f2 "$HM_TMP/once.out" | tr '\n' ' '), slowest $(slowest once) ms"
hm_check "once: the server did close one command's connection" grep -q '^CLOSE-UNANSWERED' "$HM_TMP/once.redis.log"
hm_check "once: every message decided by Redis (continue)" test "$(count once continue)" = 3
hm_check "once: sent again on another connection (logged)" grep -q 'once more on another' "$log"
hm_check "once: no redis=down" eval '! grep -q "redis=down" "$log"'
hm_check "once: slowest MAIL reply within timeout ${TIMEOUT_MS} + ${MARGIN_MS} ms" \
	test "$(slowest once)" -le $((TIMEOUT_MS + MARGIN_MS))
stop "$mpid"

# Idle close: the pool's connections sit idle past the server's limit and
# are closed by it; the next message must still be decided by Redis.  A
# longer timeout here: replacing the stale connections costs a handshake.
fake idle idle --idle 0.5
milter idle "$port" tempfail 1000ms || hm_fail "idle: hopmilter did not see redis=up"
send idle 198.51.100.8 1
sleep 1.5
hm_check "idle: the server closed idle connections" grep -q '^IDLE-CLOSE' "$HM_TMP/idle.redis.log"
send idle 198.51.100.8 2 1.5
hm_log "idle: replies $(cut -d' ' -f2 "$HM_TMP/idle.out" | tr '\n' ' '), slowest $(slowest idle) ms"
hm_check "idle: every message decided by Redis (continue), none fell back" test "$(count idle continue)" = 3
hm_check "idle: no redis=down" eval '! grep -q "redis=down" "$log"'
hm_check "idle: at least two idle closes seen by the server" test "$(grep -c '^IDLE-CLOSE' "$HM_TMP/idle.redis.log")" -ge 2
stop "$mpid"

# READONLY: the server hopmilter writes to is no master any more (a
# failover it has not seen).  That reply is a reason to find the master
# again: the breaker opens (redis=down with the reason), the message falls
# back, the pool's connections are dropped, and a fresh handshake (with
# Sentinel: discovery first, then ROLE) closes the breaker.
fake ro readonly-once
milter ro "$port" tempfail 1000ms || hm_fail "ro: hopmilter did not see redis=up"
roles_before=$(grep -c '^CMD ROLE' "$HM_TMP/ro.redis.log")
send ro 198.51.100.10 1
hm_check "ro: the server did answer READONLY" grep -q '^READONLY' "$HM_TMP/ro.redis.log"
hm_check "ro: the message that met READONLY fell back (tempfail)" test "$(count ro tempfail)" = 1
hm_check "ro: READONLY opened the breaker, saying so" grep -q 'redis=down .*error="READONLY' "$log"
ups() { test "$(grep -c 'redis=up' "$log")" -ge 2; }
hm_check "ro: a fresh handshake closed the breaker again" eval \
	'for _ in $(seq 1 100); do ups && break; sleep 0.1; done; ups'
hm_check "ro: ...on a new connection (ROLE asked again)" \
	test "$(grep -c '^CMD ROLE' "$HM_TMP/ro.redis.log")" -gt "$roles_before"
send ro 198.51.100.10 2
hm_check "ro: then Redis decides again (continue)" test "$(count ro continue)" = 2
hm_check "ro: one redis=down for it, not one per message" test "$(grep -c 'redis=down' "$log")" = 1
stop "$mpid"

hm_done
