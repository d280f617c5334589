#!/bin/bash
# Two hopmilter processes (two edge nodes) share one real redis-server,
# authenticating as a Redis ACL user restricted as redis/redis.conf
# suggests and SELECTing database 2.  Many concurrent miltertest sessions
# present the same client address to both nodes at once.
#
# The bound asserted, and why it is exact: the limit is 1 per hour with a
# burst of B.  GCRA with Redis's TIME allows request k (k = 1, 2, ...) of a
# fresh bucket iff TAT - now <= tau, where after k-1 allowed requests
# TAT = t0 + (k-1)*T and tau = (B-1)*T.  While every request falls within
# one interval T (an hour; the whole run takes seconds), request k is
# allowed iff k <= B, so exactly B are allowed and every other one is
# refused -- however the requests interleave across nodes and threads,
# because Redis runs each script call atomically, and however slow the
# machine is.  The same holds for the subnet tier: 16 hosts of one /24 each
# stay far below their own burst, so exactly the subnet's burst is allowed.
# A refusal charges nothing, so the counts cannot drift either way.
#
# Also measured: Redis commands per decision (INFO commandstats), the
# NOSCRIPT -> EVAL fallback after SCRIPT FLUSH, the keys' names, database,
# TTL and memory.
. "$(dirname "$0")/../lib/harness.sh"

hm_need redis-server redis-cli miltertest "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-client.lua
B1=25 B2=60

rport=$(hm_free_port)
hm_start_redis shared "$rport" \
	--user hopmilter on '>s3cret' '~hopmilter:*' -@all +evalsha +eval '+script|load' \
	+time +get +set +select +ping || { hm_fail "redis-server did not start"; hm_done; }

start_node() {
	local n=$1 conf=$HM_TMP/node$1.conf
	hm_write_milter_conf "$conf" "unix:$HM_TMP/node$n.sock" 'log_level = debug' "ratelimit {
	rate = 1
	period = 1h
	burst = $B1
	subnet { enabled = true  rate = 1  period = 1h  burst = $B2  ipv4_prefix = 24  ipv6_prefix = 48 }
	redis {
		host = \"127.0.0.1\"  port = $rport  user = \"hopmilter\"  password = \"s3cret\"  db = 2
		timeout = 3s  pool_size = 4
	}
}"
	hm_start_milter "$conf" "$HM_TMP/node$n.log"
}
start_node 1 && start_node 2 || { hm_fail "hopmilter did not start"; hm_done; }
for n in 1 2; do
	hm_check "node $n: redis=up" hm_wait_grep "ratelimit: redis=up server=127\.0\.0\.1:$rport" "$HM_TMP/node$n.log" 10
done

# run_clients OUT IP:COUNT...: one miltertest session per argument, all at
# once, alternating between the two nodes; waits for every one of them.
run_clients() {
	local out=$1 i=0 pids=() spec p
	shift
	: >"$out"
	for spec in "$@"; do
		i=$((i + 1))
		HM_SOCK=unix:$HM_TMP/node$((i % 2 + 1)).sock HM_IP=${spec%%=*} HM_COUNT=${spec##*=} \
			HM_OUT=$out miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1 &
		pids+=($!)
		hm_track $!
	done
	for p in "${pids[@]}"; do wait "$p" || hm_fail "client $p failed (clients.log)"; done
}
count() { grep -c " $2 " "$1"; }
stat() { hm_redis_stat "$rport" "$1"; }

# 1. One address, 8 concurrent sessions x 20 messages over two nodes.
before_sha=$(stat evalsha) before_eval=$(stat eval) before_time=$(stat time)
before_get=$(stat get) before_set=$(stat set)
run_clients "$HM_TMP/p1" $(for _ in 1 2 3 4 5 6 7 8; do echo 198.51.100.7=20; done)
total=$(wc -l <"$HM_TMP/p1") ok=$(count "$HM_TMP/p1" continue) no=$(count "$HM_TMP/p1" tempfail)
hm_log "one address: $total attempts, $ok allowed, $no refused (B=$B1)"
hm_check "all 160 attempts answered" test "$total" = 160
hm_check "exactly B=$B1 allowed across both nodes ($ok)" test "$ok" = "$B1"
hm_check "every other attempt refused ($no)" test "$no" = $((160 - B1))
d_sha=$(($(stat evalsha) - before_sha)) d_eval=$(($(stat eval) - before_eval))
d_time=$(($(stat time) - before_time)) d_get=$(($(stat get) - before_get)) d_set=$(($(stat set) - before_set))
hm_log "commandstats for 160 decisions: evalsha=$d_sha eval=$d_eval (round trips); inside the script: time=$d_time get=$d_get set=$d_set"
hm_check "one EVALSHA round trip per decision, no EVAL (script preloaded)" test "$d_sha:$d_eval" = "160:0"
hm_check "inside: one TIME and a GET per tier per decision" test "$d_time:$d_get" = "160:320"
hm_check "inside: a SET per tier for allowed decisions only" test "$d_set" = $((2 * B1))
blocked=$(cat "$HM_TMP"/node[12].log | grep -c 'BLOCKED reason=ratelimited action=tempfail ip=198\.51\.100\.7 ')
hm_check "one BLOCKED line per refusal across both nodes ($blocked)" test "$blocked" = $((160 - B1))

# 2. Sixteen hosts of one /24, 5 messages each, all at once: the subnet tier.
run_clients "$HM_TMP/p2" $(for h in $(seq 1 16); do echo 203.0.113.$h=5; done)
ok=$(count "$HM_TMP/p2" continue)
hm_log "one /24, 16 hosts x 5: $ok allowed (subnet burst $B2)"
hm_check "exactly the subnet's burst B2=$B2 allowed ($ok)" test "$ok" = "$B2"
hm_check "subnet refusals logged" grep -q 'ratelimit ip=203\.0\.113\.[0-9]* net=203\.0\.113\.0/24 result=limited source=redis' \
	"$HM_TMP/node1.log" "$HM_TMP/node2.log"

# 3. Keys: versioned, hash-tagged, in database 2 only, expiring by themselves.
k1='hopmilter:rl:v1:{198.51.100.0/24}198.51.100.7/32' k2='hopmilter:rl:v1:{198.51.100.0/24}'
hm_check "tier-1 key in db 2" test "$(hm_redis "$rport" -n 2 EXISTS "$k1")" = 1
hm_check "tier-2 key in db 2" test "$(hm_redis "$rport" -n 2 EXISTS "$k2")" = 1
hm_check "nothing in db 0" test "$(hm_redis "$rport" -n 0 DBSIZE)" = 0
ttl=$(hm_redis "$rport" -n 2 PTTL "$k1")
hm_check "tier-1 key expires by itself, after about B1 hours ($ttl ms)" \
	test "$ttl" -gt $(((B1 - 1) * 3600000)) -a "$ttl" -le $((B1 * 3600000))
hm_check "no key without a TTL" test \
	"$(for k in $(hm_redis "$rport" -n 2 --scan); do hm_redis "$rport" -n 2 PTTL "$k"; done | grep -c -- '^-')" = 0
hm_log "memory: $k1 = $(hm_redis "$rport" -n 2 MEMORY USAGE "$k1") bytes, $k2 = $(hm_redis "$rport" -n 2 MEMORY USAGE "$k2") bytes"

# 4. SCRIPT FLUSH: the next decision meets NOSCRIPT and falls back to EVAL
# once; the answers stay right and the decisions after it are EVALSHA again.
hm_redis "$rport" SCRIPT FLUSH >/dev/null
before_eval=$(stat eval) before_ns=$(stat NOSCRIPT) before_sha=$(stat evalsha)
HM_SOCK=unix:$HM_TMP/node1.sock HM_IP=192.0.2.99 HM_COUNT=$((B1 + 2)) HM_OUT=$HM_TMP/p4 \
	miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1
hm_check "after SCRIPT FLUSH: still exactly B1 allowed" test "$(count "$HM_TMP/p4" continue)" = "$B1"
hm_check "one NOSCRIPT, one EVAL" test "$(($(stat NOSCRIPT) - before_ns)):$(($(stat eval) - before_eval))" = "1:1"
hm_check "then EVALSHA for every decision" test "$(($(stat evalsha) - before_sha))" = $((B1 + 2))
hm_check "no redis=down on either node" eval '! grep -q "redis=down" "$HM_TMP"/node[12].log'

for n in 1 2; do hm_export_log "$HM_TMP/node$n.log" "node$n"; done
hm_done
