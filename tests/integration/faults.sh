#!/bin/bash
# Faults under load, with nothing lost: a real Postfix edge with hopmilter
# (rate limit in a real Redis) relaying to smtp-sink, while a bounded load
# of messages with known Message-IDs flows (tests/lib/msgload.py records the
# reply each one got).
#
# A. hopmilter killed with SIGKILL mid-load, then started again: Postfix
#    applies milter_default_action = tempfail, so every message is either
#    accepted with a decision of hopmilter's in its log, or deferred with a
#    4xx the client saw; the deferred ones, sent again, are delivered.
# B. Redis killed mid-load, then started again: the local fallback keeps
#    deciding (nothing refused, nothing waits for long), redis=down and
#    redis=up are logged once each, and the limit is shared again.
# In both: every accepted message reaches the sink exactly once.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink python3 redis-server redis-cli "$HOPMILTER"

sink_port=$(hm_free_port)
smtp_port=$(hm_free_port)
milter_port=$(hm_free_port)
redis_port=$(hm_free_port)
load=$HM_LIBDIR/msgload.py
mlog=$HM_TMP/milter.log

hm_start_redis rl "$redis_port" || { hm_fail "redis-server did not start"; hm_done; }
hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" "ratelimit {
	rate = 1000  period = 1s  burst = 1000
	redis { host = \"127.0.0.1\"  port = $redis_port  timeout = 100ms }
}"
hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf" || { hm_fail "hopmilter did not start"; hm_done; }
hm_postfix edge "$smtp_port" "
relay_domains = example.com
smtpd_relay_restrictions = reject_unauth_destination
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, connect_timeout=2s, command_timeout=10s }
milter_default_action = tempfail
smtpd_client_connection_count_limit = 0
" || exit 1
hm_wait_grep "redis=up" "$mlog" 10 || hm_fail "hopmilter never reached Redis"

# replies FILE CODE-ERE: how many messages got such a reply.
replies() { awk -v re="^($2)\$" '$2 ~ re' "$1" | wc -l; }
# wait_replies FILE N: until N messages have their reply (bounded).
wait_replies() {
	local i
	for i in $(seq 1 300); do
		[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# delivered_once FILE: every accepted message of FILE is at the sink exactly once.
delivered_once() {
	local id n bad=0
	for id in $(awk '$2 == 250 { print $1 }' "$1"); do
		hm_sink_wait sink "$id" 30 || { hm_log "$id never arrived"; bad=1; continue; }
		n=$(hm_sink_count sink "$id")
		[ "$n" = 1 ] || { hm_log "$id arrived $n times"; bad=1; }
	done
	return $bad
}

# fault_under_load TAG OUT PID AFTER RESTART...: 80 messages (Message-IDs
# TAG-N@test, replies in OUT) from 4 parallel senders; PID is SIGKILLed
# after 15 replies and RESTART run after AFTER; returns when all are sent.
fault_under_load() {
	local tag=$1 out=$2 pid=$3 after=$4 loadpid
	shift 4
	python3 "$load" 127.0.0.1 "$smtp_port" "$out" "$tag" 80 4 0.05 &
	loadpid=$!
	hm_track "$loadpid"
	wait_replies "$out" 15 || hm_fail "$tag: the load did not start"
	kill -KILL "$pid"
	hm_log "$tag: process $pid SIGKILLed after $(wc -l <"$out") replies"
	wait_replies "$out" "$after" || hm_fail "$tag: the load stalled during the fault"
	"$@" || hm_fail "$tag: $1 did not start again"
	hm_log "$tag: $1 done after $(wc -l <"$out") replies"
	wait "$loadpid"
}

# --- A. hopmilter killed with SIGKILL, then started again --------------------
outa=$HM_TMP/replies-a
fault_under_load kill "$outa" "$HM_MILTER_PID" 40 hm_start_milter "$HM_TMP/hopmilter.conf"
total=$(wc -l <"$outa")
acc=$(replies "$outa" 250) def=$(replies "$outa" '4[0-9][0-9]') other=$((total - acc - def))
hm_log "A: $total replies: $acc accepted, $def deferred, $other other"
hm_check "A: every message got a reply" test "$total" = 80
hm_check "A: accepted or deferred, nothing refused or cut off ($other other)" test "$other" = 0
hm_check "A: while hopmilter was down, mail was deferred ($def)" test "$def" -gt 0
hm_check "A: with hopmilter back, mail was accepted again" \
	eval 'tail -n 10 "$outa" | awk "\$2 == 250" | grep -q .'
hm_check "A: every deferral is Postfix's milter tempfail (451 4.7.1)" \
	test "$(awk '$2 ~ /^4/' "$outa" | grep -c ' 451 4\.7\.1 Service unavailable')" = "$def"
# Nothing accepted unchecked: each accepted queue id has hopmilter's ACCEPTED line.
unchecked=0
for qid in $(awk '$2 == 250' "$outa" | sed -nE 's/.*queued as ([0-9A-F]+).*/\1/p'); do
	grep -q "$qid: ACCEPTED " "$mlog" || { hm_log "A: $qid accepted without a decision"; unchecked=$((unchecked + 1)); }
done
hm_check "A: nothing accepted unchecked ($unchecked without a decision)" test "$unchecked" = 0
# The client retries what was deferred.
retry=$HM_TMP/replies-a-retry
# shellcheck disable=SC2046
python3 "$load" 127.0.0.1 "$smtp_port" "$retry" kill 0 2 0 $(awk '$2 ~ /^4/ { print $1 }' "$outa")
hm_check "A: every deferred message accepted when sent again" \
	test "$(replies "$retry" 250)" = "$def"
hm_check "A: every accepted message delivered exactly once" delivered_once "$outa"
hm_check "A: every retried message delivered exactly once" delivered_once "$retry"

# --- B. Redis killed, then started again --------------------------------------
outb=$HM_TMP/replies-b
down0=$(grep -c 'redis=down' "$mlog")
up0=$(grep -c 'redis=up' "$mlog")
fault_under_load redis "$outb" "$(hm_redis_pid rl)" 45 hm_start_redis rl "$redis_port"
total=$(wc -l <"$outb")
acc=$(replies "$outb" 250)
hm_log "B: $total replies: $acc accepted"
hm_check "B: every message accepted while Redis went away and came back ($acc of 80)" \
	eval '[ "$total" = 80 ] && [ "$acc" = 80 ]'
hm_check "B: redis=down logged once" test "$(($(grep -c 'redis=down' "$mlog") - down0))" = 1
hm_check "B: redis=up logged once, when it came back" \
	eval 'hm_wait_grep "redis=up" "$mlog" 10 && [ "$(($(grep -c "redis=up" "$mlog") - up0))" = 1 ]'
# Shared limiting resumes: a new message is counted in the restarted Redis.
python3 "$load" 127.0.0.1 "$smtp_port" "$HM_TMP/replies-b2" after 3 1 0
# (The keys themselves expire within milliseconds at this rate: count the
# script's calls in the new server's statistics instead.)
hm_check "B: after the restart, decisions are made in Redis again" \
	eval '[ "$(hm_redis "$redis_port" INFO commandstats | tr -d "\r" |
		sed -nE "s/^cmdstat_eval(sha)?:calls=([0-9]+),.*/\2/p" | awk "{ n += \$1 } END { print n + 0 }")" -gt 0 ]'
hm_check "B: every accepted message delivered exactly once" delivered_once "$outb"
hm_done
