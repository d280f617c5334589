#!/bin/bash
# Redis Sentinel: a master, a replica and one sentinel on loopback;
# hopmilter knows only the sentinel and the master's name.  It finds the
# master (and checks ROLE), limits there, and after the master is killed
# and the sentinel promotes the replica, limits against the new master --
# with the state the old one replicated.  Then a manual failover back
# demotes the master hopmilter is connected to: its next call meets
# READONLY, it rediscovers, and limiting continues on the promoted node.
#
# Counts are exact (1 per hour, burst 3: nothing refills during the run).
# Every wait is for an event the test can observe (a role, a log line),
# bounded generously: Sentinel's timing varies (its INFO is every 10 s, it
# demotes an old master only 8 s after seeing it, a full sync waits 5 s),
# and more so on a loaded machine.  The Redis timeout is 5 s, not 1 s, for
# the same reason: a decision that has to rediscover the master (sentinel,
# connect, ROLE, SCRIPT LOAD) must fit in it for the exact counts to hold.
. "$(dirname "$0")/../lib/harness.sh"

hm_need redis-server redis-cli miltertest "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-client.lua
log=$HM_TMP/milter.log
mport=$(hm_free_port) rport=$(hm_free_port) sport=$(hm_free_port)

# wait_for SECONDS COMMAND...: poll every 0.2 s.
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	return 1
}
master_port() { hm_redis "$sport" SENTINEL get-master-addr-by-name mm 2>/dev/null | sed -n 2p; }
is_master() { [ "$(master_port)" = "$1" ]; }
# role PORT: what the server says it is (master, slave), whatever Sentinel thinks.
role() { hm_redis "$1" ROLE 2>/dev/null | head -1; }
is_replica() { [ "$(role "$1")" = slave ]; }
# failover_accepted: SENTINEL FAILOVER answered OK.  Sentinel refuses
# (NOGOODSLAVE) until it has reconnected to the restarted node and read
# its INFO, which the replica's own link status does not tell.
failover_accepted() { [ "$(hm_redis "$sport" SENTINEL FAILOVER mm 2>&1)" = OK ]; }
# up_after OLD NEW: the log has a redis=up line for NEW after one for OLD
# (read afresh at each call: the line may come after the trigger's reply).
up_after() {
	awk -v old="redis=up server=127.0.0.1:$1 " -v new="redis=up server=127.0.0.1:$2 " \
		'index($0, old) { seen = 1 } seen && index($0, new) { found = 1 } END { exit !found }' "$log"
}
link_up() { hm_redis "$1" INFO replication | tr -d '\r' | grep -q '^master_link_status:up'; }
sentinel_knows_replica() { hm_redis "$sport" SENTINEL replicas mm 2>/dev/null | grep -qx "$1"; }
send() { HM_SOCK=unix:$HM_TMP/milter.sock HM_IP=$1 HM_COUNT=$2 HM_OUT=$3 miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1; }
allowed() { grep -c ' continue ' "$1"; }
key() { echo "hopmilter:rl:v1:{$1/32}"; }

hm_start_redis master "$mport" || { hm_fail "master did not start"; hm_done; }
hm_start_redis replica "$rport" --replicaof 127.0.0.1 "$mport" || { hm_fail "replica did not start"; hm_done; }
hm_check "replica linked to the master" wait_for 60 link_up "$rport"
hm_start_sentinel sentinel "$sport" "sentinel monitor mm 127.0.0.1 $mport 1
sentinel down-after-milliseconds mm 1000
sentinel failover-timeout mm 6000
sentinel parallel-syncs mm 1" || { hm_fail "sentinel did not start"; hm_done; }
hm_check "sentinel sees the master" wait_for 30 is_master "$mport"
hm_check "sentinel found the replica" wait_for 30 sentinel_knows_replica "$rport"

hm_write_milter_conf "$HM_TMP/hopmilter.conf" "unix:$HM_TMP/milter.sock" 'log_level = debug' \
	"ratelimit {
	rate = 1  period = 1h  burst = 3
	redis {
		timeout = 5s  retry_interval = 200ms  pool_size = 2
		sentinel { master = \"mm\"  addresses = {\"127.0.0.1:$sport\"} }
	}
}"
hm_start_milter "$HM_TMP/hopmilter.conf" "$log" || { hm_fail "hopmilter did not start"; hm_done; }
hm_check "discovered the master through the sentinel" \
	hm_wait_grep "redis=up server=127\.0\.0\.1:$mport master=mm" "$log" 30

# 1. Limiting on the first master; the state reaches the replica.
send 198.51.100.1 5 "$HM_TMP/a"
hm_check "first master: exactly 3 of 5 allowed" test "$(allowed "$HM_TMP/a")" = 3
hm_check "first master: decided there (key exists)" test "$(hm_redis "$mport" EXISTS "$(key 198.51.100.1)")" = 1
hm_check "the key reached the replica" test "$(hm_redis "$mport" WAIT 1 5000)" = 1

# 2. Kill the master; the sentinel promotes the replica.
pid=$(hm_redis_pid master)
kill -KILL "$pid"
wait "$pid" 2>/dev/null
t0=$(date +%s)
hm_check "sentinel promoted the replica" wait_for 60 is_master "$rport"
hm_log "failover took about $(($(date +%s) - t0)) s"
# hopmilter notices on its next call (or on its own reconnect attempts).
send 192.0.2.1 1 "$HM_TMP/trigger1"
hm_check "hopmilter moved to the new master" hm_wait_grep "redis=up server=127\.0\.0\.1:$rport master=mm" "$log" 30
send 198.51.100.1 2 "$HM_TMP/b1"
hm_check "new master: the limited client stays limited (replicated state)" test "$(allowed "$HM_TMP/b1")" = 0
hm_check "new master: ...and Redis said so, not the local fallback" test \
	"$(grep -c 'ratelimit ip=198\.51\.100\.1 .*result=limited source=redis' "$log")" = 4
send 198.51.100.2 5 "$HM_TMP/b2"
hm_check "new master: a new client gets exactly 3 of 5" test "$(allowed "$HM_TMP/b2")" = 3
hm_check "new master: its key is on the promoted node" test "$(hm_redis "$rport" EXISTS "$(key 198.51.100.2)")" = 1

# 3. The old master returns as a replica; fail back by hand.  hopmilter's
# contexts still point at the node that is now demoted: READONLY, rediscover.
hm_start_redis master "$mport" --replicaof 127.0.0.1 "$rport" || hm_fail "old master did not restart"
hm_check "old master synced as a replica" wait_for 60 link_up "$mport"
hm_check "sentinel lists it as a replica" wait_for 30 sentinel_knows_replica "$mport"
hm_check "sentinel accepted a manual failover" wait_for 30 failover_accepted
hm_check "manual failover back to the first node" wait_for 60 is_master "$mport"
# Until Sentinel demotes it (10-20 s after the switch, longer when loaded),
# the old node still says master and hopmilter may rightly keep using it.
# The demotion also closes its clients (CLIENT KILL): that is the event.
t0=$(date +%s)
hm_check "sentinel demoted the second node" wait_for 90 is_replica "$rport"
hm_log "demotion took about $(($(date +%s) - t0)) s after the switch"
send 192.0.2.2 1 "$HM_TMP/trigger2"
hm_check "hopmilter followed the manual failover" wait_for 30 up_after "$rport" "$mport"
# The demoted node closes its clients: the pool replaces closed connections
# within the decision (no redis=down, the trigger decided by the new master);
# a node that answers READONLY instead opens the breaker.
hm_check "...replacing the closed connections (trigger decided by Redis), or after READONLY" \
	eval 'grep -q "ratelimit ip=192\.0\.2\.2 .*source=redis" "$log" ||
		grep -qE "redis=down server=127\.0\.0\.1:$rport error=\"READONLY" "$log"'
send 198.51.100.3 5 "$HM_TMP/c"
hm_check "after failing back: exactly 3 of 5" test "$(allowed "$HM_TMP/c")" = 3
hm_check "after failing back: key on the first node" test "$(hm_redis "$mport" EXISTS "$(key 198.51.100.3)")" = 1
hm_check "redis=down and redis=up come in pairs, never per message" \
	test "$(grep -c 'redis=down' "$log")" -le 2 -a "$(grep -c 'redis=up' "$log")" -le 4

hm_export_log "$log"
hm_done
