#!/bin/bash
# See and steer the running filter (hopmilter-ctl(8)): a real Postfix with
# hopmilter, a real Redis, SPF records from the private DNS world
# (tests/lib/spfdns.sh), and a real Prometheus server scraping the HTTP
# /metrics endpoint.
#
#   - `hopmilter-ctl test` gives the decision a real SMTP session gets, for
#     each refusal reason we can cause from outside (banned-domain,
#     unknown-rcpt-domain, outbound-disabled, spf-fail, ratelimited) and
#     for an accepted message, and charges nothing, logs no BLOCKED line;
#   - `ratelimit show/reset` with Redis up and with Redis down (local
#     fallback): after a reset the next message from that address passes;
#   - promtool accepts the exposition; Prometheus, started here on its own
#     port and storage, scrapes it, and a query through its HTTP API
#     returns exactly the refusals this test caused through Postfix;
#   - the socket refuses a user outside the daemon's group, and lets one
#     in the group in; a malformed or over-long command gets an ERR line
#     and the daemon goes on; 1000 control connections do not stop mail
#     (the MAIL latency under that load is logged, never asserted).
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

CTL=${HOPMILTER_CTL:-$HM_BUILDDIR/milter/hopmilter-ctl}
hm_need_root
hm_need postfix smtp-sink swaks redis-server promtool prometheus curl setpriv python3 \
	"$HOPMILTER" "$CTL"
hm_start_spf_dns || { hm_fail "DNS world did not start"; hm_done; }

sink_port=$(hm_free_port) smtp_port=$(hm_free_port) milter_port=$(hm_free_port)
rport=$(hm_free_port) mport=$(hm_free_port) pport=$(hm_free_port)
hm_start_redis main "$rport" || { hm_fail "redis-server did not start"; hm_done; }

# The daemon runs as nobody:nogroup; the socket is root:nogroup 0660.  The
# directories on the way must let others through, so a refusal below can
# only come from the socket's own mode.
chmod 0711 "$HM_TMP"
mkdir -m 0755 "$HM_TMP/run"
sock=$HM_TMP/run/ctl.sock
# $1: on_redis_error (the reload below switches it to tempfail).
write_conf() {
	hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
		'log_level = debug' \
		"control_socket = \"$sock\"" \
		"metrics_listen = \"127.0.0.1:$mport\"" \
		'trusted_networks = {"10.200.0.0/24"}' \
		'banned_domains = {"banned.example"}' \
		'spf { dns_timeout = 1s  timeout = 3s  softfail = reject  permerror = reject }' \
		"ratelimit {
	rate = 1  period = 1h  burst = 1  on_redis_error = $1
	redis { host = \"127.0.0.1\"  port = $rport  timeout = 200ms  retry_interval = 1s }
}"
}
write_conf local
hm_start_sink sink "$sink_port"
unshare --mount sh -c "$HM_RESOLV_SH" "$HM_TMP/resolv.conf" \
	"$HOPMILTER" -f -c "$HM_TMP/hopmilter.conf" 2>>"$HM_TMP/milter.log" &
HM_MILTER_PID=$!
hm_track "$HM_MILTER_PID"
hm_wait_port 127.0.0.1 "$milter_port" || { hm_fail "hopmilter did not start"; hm_done; }
hm_wait_file "$sock" || { hm_fail "no control socket"; hm_done; }
# Postfix would relay anywhere: every refusal below is hopmilter's.
hm_postfix edge "$smtp_port" "
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=30s }
milter_default_action = tempfail
" || exit 1
hm_check "hopmilter connected to Redis" hm_wait_grep "redis=up server=127\.0\.0\.1:$rport" "$HM_TMP/milter.log" 10

ctl() { "$CTL" -s "$sock" "$@"; }
S="--server 127.0.0.1:$smtp_port"

# ---------------------------------------------------------------- socket
hm_check "socket is root:nogroup 0660" test "$(stat -c '%U:%G %a' "$sock")" = "root:nogroup 660"
setpriv --reuid=65000 --regid=65000 --clear-groups "$CTL" -s "$sock" status \
	>"$HM_TMP/nobody.out" 2>&1
rc=$?
hm_check "a user outside the group is refused (exit 77: $(cat "$HM_TMP/nobody.out"))" \
	eval '[ $rc = 77 ] && grep -q "Permission denied" "$HM_TMP/nobody.out"'
hm_check "the same user in the daemon's group gets in" \
	setpriv --reuid=65000 --regid=65000 --groups=65534 "$CTL" -s "$sock" status

# Raw protocol: what a client that is not hopmilter-ctl may send.
raw() { python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.write(out.decode("latin-1"))' "$sock" "$1"; }
hm_check "NUL byte: ERR line" eval 'raw "stat\\x00us\\n" | grep -q "^ERR malformed"'
hm_check "control character: ERR line" eval 'raw "status\\x1b\\n" | grep -q "^ERR malformed"'
hm_check "over-long line: ERR line" eval "raw \"$(head -c 5000 /dev/zero | tr '\0' a)\" | grep -q '^ERR command line too long'"
hm_check "unknown command: ERR line" eval 'raw "rm -rf /\\n" | grep -q "^ERR unknown command"'
hm_check "empty line: ERR line" eval 'raw "\\n" | grep -q "^ERR empty"'
hm_check "too many words: ERR line" eval "raw \"test$(printf ' --rcpt a@example.com%.0s' $(seq 40))\\n\" | grep -q '^ERR malformed command: more than'"
hm_check "a test without --ip: ERR line" eval 'raw "test --from a@b.example --rcpt c@example.com\\n" | grep -q "^ERR test needs"'
hm_check "an address that is not one: ERR line" eval 'raw "ratelimit show 999.1.1.1\\n" | grep -q "^ERR not an IP"'
hm_check "the client refuses a word with a space" eval '! ctl test --ip "1.2.3.4 x" --from a --rcpt b 2>/dev/null'
hm_check "CRLF accepted" eval 'raw "help\\r\\n" | grep -q "^OK"'
hm_check "daemon still serves after all that" eval 'ctl status | grep -q "^version: "'
# A client that connects and says nothing is dropped when its 5 s run out
# (bounds: at least 4 s, at most 20 s on a loaded machine).
silent=$(python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1]); t = time.monotonic()
while s.recv(100): pass
print("%.1f" % (time.monotonic() - t))' "$sock")
hm_check "a silent client is dropped after its time (${silent}s)" \
	awk -v t="$silent" 'BEGIN { exit !(t >= 4 && t <= 20) }'

# ------------------------------------- test == a real session, per reason
# Each case: ctl test first (it must charge nothing), then the same through
# Postfix; the reason and the reply code must agree.  $1 name, $2 ip, $3
# from, $4 rcpt, $5 expected reason ("none" = accepted).
same_decision() {
	local name=$1 ip=$2 from=$3 rcpt=$4 want=$5 got code
	ctl test --ip "$ip" --helo mx.sender.example --from "$from" --rcpt "$rcpt" >"$HM_TMP/t.out" 2>&1
	sed 's/^/    ctl| /' "$HM_TMP/t.out" >&2
	if [ "$want" = none ]; then
		hm_check "$name: ctl says accept" grep -q '^decision: accept recipients=1/1' "$HM_TMP/t.out"
		hm_swaks $S --xclient-addr "$ip" --ehlo mx.sender.example --from "$from" --to "$rcpt" \
			--header "Message-Id: <ctl-$name@test>"
		hm_check "$name: SMTP accepts" hm_reply_has '250 2\.0\.0 Ok: queued'
		return
	fi
	got=$(sed -n 's/^decision: [a-z]* reason=\(.*\)$/\1/p' "$HM_TMP/t.out")
	code=$(sed -n 's/.*reason='"$want"' reply="\([0-9]* [0-9.]*\) .*/\1/p' "$HM_TMP/t.out" | head -1)
	hm_check "$name: ctl says $want ($got, $code)" test "$got" = "$want" -a -n "$code"
	hm_swaks $S --xclient-addr "$ip" --ehlo mx.sender.example --from "$from" --to "$rcpt" \
		--header "Message-Id: <ctl-$name@test>"
	hm_check "$name: SMTP gets the same code $code" hm_reply_has "${code//./\\.}"
	hm_check "$name: the log gives the same reason" grep -qE \
		"BLOCKED reason=$want action=[a-z]+ ip=$ip " "$HM_TMP/milter.log"
}
same_decision accepted 192.0.2.7 alice@pass.example bob@example.com none
same_decision banned 192.0.2.8 eve@banned.example bob@example.com banned-domain
same_decision rcptdomain 192.0.2.9 alice@pass.example bob@elsewhere.example unknown-rcpt-domain
same_decision outbound 10.200.0.3 core@example.com friend@outside.example outbound-disabled
same_decision spffail 198.51.100.9 alice@pass.example bob@example.com spf-fail
# 192.0.2.7 sent one message (burst 1 per hour): the next one is limited.
same_decision ratelimited 192.0.2.7 alice@pass.example bob@example.com ratelimited
hm_check "ctl test logged no BLOCKED line of its own (one per SMTP refusal)" \
	test "$(grep -c 'BLOCKED reason=' "$HM_TMP/milter.log")" = 5
hm_check "ctl test charged nothing: 192.0.2.10 tested 3 times, then accepted" eval '
	for i in 1 2 3; do ctl test --ip 192.0.2.10 --from a@pass.example --rcpt b@example.com >/dev/null; done
	hm_swaks $S --xclient-addr 192.0.2.10 --from alice@pass.example --to bob@example.com &&
	hm_reply_has "250 2\.0\.0 Ok: queued"'

# The other SPF reasons (softfail and permerror refused by this configuration).
same_decision softfail 198.51.100.10 alice@soft.example bob@example.com spf-softfail
same_decision permerror 198.51.100.11 alice@syntax.example bob@example.com spf-permerror
same_decision temperror 198.51.100.12 alice@x.servfail.example bob@example.com spf-temperror

# --------------------------------------------- ratelimit show / reset, Redis up
ctl ratelimit show 192.0.2.7 >"$HM_TMP/show.out"
sed 's/^/    ctl| /' "$HM_TMP/show.out" >&2
hm_check "show (redis up): the key, nothing left, a retry time" grep -qE \
	'^redis tier=1 net=192\.0\.2\.7/32 key=hopmilter:rl:v1:\{192\.0\.2\.7/32\} burst=1 remaining=0 retry_after_ms=[1-9][0-9]+$' \
	"$HM_TMP/show.out"
hm_check "show (redis up): a fresh address has its whole burst" eval \
	'ctl ratelimit show 192.0.2.200 | grep -q "^redis tier=1 net=192.0.2.200/32 .* remaining=1 retry_after_ms=0$"'
hm_check "reset (redis up): one key deleted" eval 'ctl ratelimit reset 192.0.2.7 | grep -q "^redis: deleted=1$"'
hm_check "reset (redis up): the key is gone from Redis" eval \
	'[ "$(redis-cli -p '"$rport"' exists "hopmilter:rl:v1:{192.0.2.7/32}")" = 0 ]'
hm_swaks $S --xclient-addr 192.0.2.7 --from alice@pass.example --to bob@example.com
hm_check "after reset (redis up) the next message is accepted" hm_reply_has '250 2\.0\.0 Ok: queued'

# ---------------------------------------- ratelimit show / reset, Redis down
kill "$(hm_redis_pid main)"
# SIGTERM is asynchronous: the next MAIL must find Redis gone, not still
# answering while it shuts down (then Redis decides, and the local table
# sees only the second message).
redis_gone() { ! hm_redis "$rport" PING >/dev/null 2>&1; }
hm_check "Redis has stopped" eval 'for _ in $(seq 1 100); do redis_gone && break; sleep 0.1; done; redis_gone'
hm_swaks $S --xclient-addr 192.0.2.77 --from alice@pass.example --to bob@example.com
hm_check "redis down: first message accepted (local fallback)" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "hopmilter saw Redis go" hm_wait_grep "redis=down" "$HM_TMP/milter.log" 15
hm_swaks $S --xclient-addr 192.0.2.77 --from alice@pass.example --to bob@example.com
hm_check "redis down: second message limited by the local table" hm_reply_has '450 4\.7\.1'
ctl ratelimit show 192.0.2.77 >"$HM_TMP/show2.out"
sed 's/^/    ctl| /' "$HM_TMP/show2.out" >&2
hm_check "show (redis down): redis unavailable, the local entry with nothing left" eval '
	grep -q "^redis: unavailable$" "$HM_TMP/show2.out" &&
	grep -qE "^local tier=1 net=192\.0\.2\.77/32 burst=1 remaining=0 retry_after_ms=[1-9][0-9]+$" "$HM_TMP/show2.out"'
ctl test --ip 192.0.2.77 --from alice@pass.example --rcpt bob@example.com >"$HM_TMP/t2.out" 2>&1
hm_check "test (redis down): ratelimited from the local table" grep -q '^decision: tempfail reason=ratelimited' "$HM_TMP/t2.out"
ctl ratelimit reset 192.0.2.77 >"$HM_TMP/reset2.out" 2>&1
rc=$?
hm_check "reset (redis down): exit 1, says the local entry went and the Redis keys did not" eval \
	'[ $rc = 1 ] && grep -q "local entries cleared=1, redis keys NOT deleted" "$HM_TMP/reset2.out"'
hm_swaks $S --xclient-addr 192.0.2.77 --from alice@pass.example --to bob@example.com
hm_check "after reset (redis down) the next message is accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
ctl status >"$HM_TMP/status.out"
hm_check "status: redis down" grep -q "^redis: down server=127.0.0.1:$rport configured=127.0.0.1:$rport$" "$HM_TMP/status.out"

# on_redis_error = tempfail, by reload: with Redis away, internet mail gets 451.
n=$(grep -c 'reloaded ' "$HM_TMP/milter.log")
write_conf tempfail
kill -USR1 "$HM_MILTER_PID"
hm_check "reloaded with on_redis_error = tempfail" eval \
	'for _ in $(seq 1 50); do [ "$(grep -c "reloaded " "$HM_TMP/milter.log")" -gt '"$n"' ] && break; sleep 0.1; done;
	[ "$(grep -c "reloaded " "$HM_TMP/milter.log")" -gt '"$n"' ]'
same_decision unavailable 192.0.2.88 alice@pass.example bob@example.com ratelimit-unavailable
hm_check "config shows the reloaded on_redis_error" eval 'ctl config | grep -q "on_redis_error=tempfail"'

# Refusals through Postfix so far: banned, rcptdomain, outbound, spffail,
# ratelimited, softfail, permerror, temperror, the local ratelimited one,
# and ratelimit-unavailable.
refusals=10

# ------------------------------------------------------------ metrics
ctl metrics >"$HM_TMP/metrics.txt"
hm_check "promtool check metrics accepts the exposition" promtool check metrics <"$HM_TMP/metrics.txt"
curl -s --max-time 10 "http://127.0.0.1:$mport/metrics" >"$HM_TMP/http.txt"
hm_check "the HTTP listener serves the same exposition (promtool)" promtool check metrics <"$HM_TMP/http.txt"
hm_check "HTTP: other paths are 404" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$mport/")" = 404
hm_check "HTTP: POST is refused" test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -d x "http://127.0.0.1:$mport/metrics")" = 405
m() { grep -E "^$1 " "$HM_TMP/metrics.txt" | awk '{print $2}'; }
hm_check "metrics: banned-domain refusals = 1" test "$(m 'hopmilter_refusals_total\{reason="banned-domain",action="reject"\}')" = 1
hm_check "metrics: ratelimited tempfails = 2" test "$(m 'hopmilter_refusals_total\{reason="ratelimited",action="tempfail"\}')" = 2
hm_check "metrics: SPF fail by mailfrom = 1" test "$(m 'hopmilter_spf_results_total\{identity="mailfrom",result="fail"\}')" = 1
hm_check "metrics: local limited = 1" test "$(m 'hopmilter_ratelimit_decisions_total\{source="local",outcome="limited"\}')" = 1
hm_check "metrics: a breaker trip" test "$(m 'hopmilter_redis_state_changes_total\{state="down"\}')" -ge 1
hm_check "metrics: redis_up = 0" test "$(m hopmilter_redis_up)" = 0
hm_check "metrics: one reload ok" test "$(m 'hopmilter_config_reloads_total\{result="ok"\}')" = 1
hm_check "metrics: ratelimit-unavailable = 1" test "$(m 'hopmilter_refusals_total\{reason="ratelimit-unavailable",action="tempfail"\}')" = 1
hm_check "metrics: SPF temperror = 1" test "$(m 'hopmilter_spf_results_total\{identity="mailfrom",result="temperror"\}')" = 1
hm_check "metrics: the MAIL stage histogram counted every MAIL" test "$(m 'hopmilter_stage_duration_seconds_count\{stage="mail"\}')" = \
	"$(m hopmilter_messages_total)"

# Prometheus itself: own port, own storage, 1s scrapes.
mkdir -p "$HM_TMP/prom/data"
cat >"$HM_TMP/prom/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: hopmilter
    static_configs: [ { targets: ["127.0.0.1:$mport"] } ]
EOF
prometheus --config.file="$HM_TMP/prom/prometheus.yml" --storage.tsdb.path="$HM_TMP/prom/data" \
	--web.listen-address="127.0.0.1:$pport" >"$HM_TMP/prom/log" 2>&1 &
hm_track $!
hm_wait_port 127.0.0.1 "$pport" 30 || hm_fail "prometheus did not start"
q='sum(hopmilter_refusals_total{job="hopmilter"})'
got=
for _ in $(seq 1 60); do
	got=$(curl -s --max-time 5 -G "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$q" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
	[ "$got" = "$refusals" ] && break
	sleep 1
done
hm_log "prometheus query $q = ${got:-nothing}"
hm_check "Prometheus scraped the endpoint: $q = $refusals" test "$got" = "$refusals"
by_reason=$(curl -s --max-time 5 -G "http://127.0.0.1:$pport/api/v1/query" \
	--data-urlencode 'query=sum by (reason) (hopmilter_refusals_total) > 0' |
	python3 -c 'import json,sys; print(" ".join(sorted(r["metric"]["reason"]+"="+r["value"][1] for r in json.load(sys.stdin)["data"]["result"])))')
hm_log "prometheus: refusals by reason: $by_reason"
hm_check "Prometheus: by reason" test "$by_reason" = \
	"banned-domain=1 outbound-disabled=1 ratelimit-unavailable=1 ratelimited=2 spf-fail=1 spf-permerror=1 spf-softfail=1 spf-temperror=1 unknown-rcpt-domain=1"

# ------------------------------------- 1000 control connections and mail
python3 "$HM_LIBDIR/ctlload.py" "$sock" 0 "$smtp_port" 20 >"$HM_TMP/load0.out" 2>&1
hm_log "MAIL latency, no control load: $(cat "$HM_TMP/load0.out")"
python3 "$HM_LIBDIR/ctlload.py" "$sock" 1000 "$smtp_port" 20 >"$HM_TMP/load.out" 2>&1
rc=$?
hm_log "MAIL latency, 1000 control connections: $(cat "$HM_TMP/load.out")"
hm_check "every MAIL answered 250 while 1000 control connections came" test "$rc" = 0
hm_check "the daemon serves the control socket afterwards" eval 'ctl status | grep -q "^version: "'
ctl metrics >"$HM_TMP/metrics2.txt"
grep '^hopmilter_ctl_connections_total' "$HM_TMP/metrics2.txt" | sed 's/^/    /' >&2
hm_check "metrics: the load was answered busy, the silent client timed out" eval \
	'grep -qE "^hopmilter_ctl_connections_total\{result=\"busy\"\} [1-9]" "$HM_TMP/metrics2.txt" &&
	grep -qE "^hopmilter_ctl_connections_total\{result=\"timeout\"\} [1-9]" "$HM_TMP/metrics2.txt"'

ctl status >"$HM_TMP/status.out"
sed 's/^/    status| /' "$HM_TMP/status.out" >&2
hm_check "status names the config, its hash and the counters" eval '
	grep -q "^config: $HM_TMP/hopmilter.conf$" "$HM_TMP/status.out" &&
	grep -qE "^config_sha256: [0-9a-f]{64}$" "$HM_TMP/status.out" &&
	grep -q "^  banned-domain: 1 enforced, 0 would-block$" "$HM_TMP/status.out"'
hm_check "the daemon is still running" kill -0 "$HM_MILTER_PID"

hm_export_log "$HM_TMP/milter.log"
hm_done
