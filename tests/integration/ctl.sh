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
#   - every bucket, through a second hopmilter with the recipient budget
#     and the outbound limit on and a Postfix with SASL submission: a SASL
#     login limited by real submissions is seen with `ratelimit show sasl`
#     (the login taken from the log line that names it), reset, and its
#     next message passes; the same for an envelope sender of a trusted
#     client and for a client's recipient budget (at DATA); `test --sasl`
#     and the data step give those decisions and charge nothing; with
#     Redis down the local table answers (and says so); hostile logins
#     (NUL, control bytes, bad %XX, over-long, the key prefix, braces, a
#     wildcard) get ERR or touch no other key: Redis is unchanged;
#   - the socket refuses a user outside the daemon's group, and lets one
#     in the group in; a malformed or over-long command gets an ERR line
#     and the daemon goes on; 1000 control connections do not stop mail
#     (the MAIL latency under that load is logged, never asserted).
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"
. "$HM_LIBDIR/sasl.sh"

CTL=${HOPMILTER_CTL:-$HM_BUILDDIR/milter/hopmilter-ctl}
hm_need_root
hm_need postfix smtp-sink swaks redis-server redis-cli saslpasswd2 promtool prometheus curl setpriv python3 \
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

# Raw protocol: what a client that is not hopmilter-ctl may send ($2: another socket).
raw() { python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.write(out.decode("latin-1"))' "${2:-$sock}" "$1"; }
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
	'^redis tier=1 bucket=client net=192\.0\.2\.7/32 key=hopmilter:rl:v1:\{192\.0\.2\.7/32\} burst=1 remaining=0 retry_after_ms=[1-9][0-9]+$' \
	"$HM_TMP/show.out"
hm_check "show (redis up): Redis answered" grep -q '^backend: redis$' "$HM_TMP/show.out"
hm_check "show (redis up): a fresh address has its whole burst" eval \
	'ctl ratelimit show 192.0.2.200 | grep -q "^redis tier=1 bucket=client net=192.0.2.200/32 .* remaining=1 retry_after_ms=0$"'
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
	grep -q "^backend: local$" "$HM_TMP/show2.out" &&
	grep -qE "^local tier=1 bucket=client net=192\.0\.2\.77/32 burst=1 remaining=0 retry_after_ms=[1-9][0-9]+$" "$HM_TMP/show2.out"'
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

# ------------- every bucket: recipient budget, outbound per login / sender
# A second hopmilter (own socket, own Redis) with the subnet tier, the
# recipient budget and the outbound limit on, behind a Postfix that also
# offers SASL submission.  Bursts: 3 messages per client, 4 recipients per
# client, 2 outbound messages per login or sender, all per hour (no refill
# within the run).
rport2=$(hm_free_port) mport2=$(hm_free_port) smtp2=$(hm_free_port) sub2=$(hm_free_port)
hm_start_redis tiers "$rport2" || { hm_fail "second redis-server did not start"; hm_done; }
sock2=$HM_TMP/run/ctl2.sock
hm_write_milter_conf "$HM_TMP/tiers.conf" "inet:$mport2@127.0.0.1" 'log_level = debug' \
	"control_socket = \"$sock2\"" \
	'trusted_networks = {"10.200.0.0/24"}' \
	'outbound { enabled = true }' \
	"ratelimit {
	rate = 1  period = 1h  burst = 3  on_redis_error = local
	subnet { enabled = true  rate = 1  period = 1h  burst = 20  ipv4_prefix = 24 }
	recipients { enabled = true  rate = 1  period = 1h  burst = 4 }
	outbound { enabled = true  rate = 1  period = 1h  burst = 2 }
	redis { host = \"127.0.0.1\"  port = $rport2  timeout = 200ms  retry_interval = 1s }
}"
first_pid=$HM_MILTER_PID
hm_start_milter "$HM_TMP/tiers.conf" "$HM_TMP/tiers.log" || { hm_fail "second hopmilter did not start"; hm_done; }
hm_wait_file "$sock2" || { hm_fail "no second control socket"; hm_done; }
SASL_PASS=pw-$RANDOM
hm_sasl_users "$HM_TMP/tiers" "$SASL_PASS" alice bob || { hm_fail "sasldb"; hm_done; }
hm_postfix tiers "$smtp2" "
relay_domains = example.com
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$mport2, default_action=tempfail, command_timeout=30s }
milter_default_action = tempfail
$(hm_sasl_main_cf "$HM_TMP/tiers")
" "$(hm_sasl_submission "$sub2")" || { hm_fail "second postfix did not start"; hm_done; }
hm_check "second hopmilter connected to its Redis" hm_wait_grep "redis=up server=127\.0\.0\.1:$rport2" "$HM_TMP/tiers.log" 10
ctl2() { "$CTL" -s "$sock2" "$@"; }
n2=0
submit() { # submit USER ID: one SASL submission of USER to the outside
	hm_swaks --server "127.0.0.1:$sub2" --auth PLAIN --auth-user "$1" --auth-password "$SASL_PASS" \
		--from "$1@example.com" --to friend@outside.example --header "Message-Id: <tiers-$2@test>"
}
queued() { hm_reply_has '250 2\.0\.0 Ok: queued'; }
out_limited() { hm_reply_has '451 4\.7\.1 Too many messages from this sender'; }

# The SASL login: limited by real submissions, seen, reset.
submit alice 1; r1=$(queued && echo ok)
submit alice 2; r2=$(queued && echo ok)
submit alice 3
hm_check "alice: two submissions accepted, the third 451 4.7.1 (outbound-ratelimited)" \
	eval '[ "$r1$r2" = okok ] && out_limited'
# The admin's path: the log names the account, ctl takes that name.
login=$(sed -n 's/.*outbound limit reached by sasl=\([^ ]*\)$/\1/p' "$HM_TMP/tiers.log" | tail -1)
hm_check "the log names the login ($login)" eval '[ -n "$login" ] && case $login in alice|alice@example.com) true ;; *) false ;; esac'
ctl2 ratelimit show sasl "$login" >"$HM_TMP/sasl.out"
sed 's/^/    ctl| /' "$HM_TMP/sasl.out" >&2
hm_check "show sasl: Redis answered, the outbound key, nothing left, a retry time" eval '
	grep -q "^backend: redis$" "$HM_TMP/sasl.out" &&
	grep -qE "^redis tier=4 bucket=outbound key=hopmilter:rl:v1:\{out:sasl:$login\} burst=2 remaining=0 retry_after_ms=[1-9][0-9]+$" "$HM_TMP/sasl.out"'
hm_check "show sasl: the key shown is the one in Redis" eval \
	'[ "$(redis-cli -p '"$rport2"' exists "hopmilter:rl:v1:{out:sasl:$login}")" = 1 ]'
hm_check "show sasl in capitals: the same bucket (logins are case-blind)" eval \
	'ctl2 ratelimit show sasl "$(echo "$login" | tr a-z A-Z)" | grep -q "^redis tier=4 .* remaining=0 "'
ctl2 test --ip 10.200.0.5 --sasl "$login" --from alice@example.com --rcpt friend@outside.example >"$HM_TMP/t3.out" 2>&1
sed 's/^/    ctl| /' "$HM_TMP/t3.out" >&2
hm_check "test --sasl: outbound-ratelimited, the reply a submission gets" eval '
	grep -q "^decision: tempfail reason=outbound-ratelimited$" "$HM_TMP/t3.out" &&
	grep -q "reply=\"451 4.7.1 Too many messages from this sender" "$HM_TMP/t3.out"'
bob_login=${login/alice/bob}
for i in 1 2 3; do ctl2 test --ip 10.200.0.5 --sasl "$bob_login" --from bob@example.com --rcpt friend@outside.example >"$HM_TMP/t4.out"; done
hm_check "test --sasl $bob_login (3 times): accepted" grep -q '^decision: accept recipients=1/1$' "$HM_TMP/t4.out"
submit bob 1; r1=$(queued && echo ok)
submit bob 2
hm_check "test charged nothing: bob's two submissions both accepted" eval '[ "$r1" = ok ] && queued'

# Hostile arguments: ERR, and Redis exactly as before (no key deleted or made).
redis_dump() { redis-cli -p "$rport2" --scan | sort | while read -r k; do printf '%s=%s\n' "$k" "$(redis-cli -p "$rport2" get "$k")"; done; }
redis_dump >"$HM_TMP/before.keys"
hm_log "Redis keys before the hostile commands: $(tr '\n' ' ' <"$HM_TMP/before.keys")"
errs=0
for line in 'ratelimit reset sasl\n' 'ratelimit show sasl\n' 'ratelimit reset sasl alice extra\n' \
	'ratelimit reset user alice\n' 'ratelimit reset sasl a%00b\n' 'ratelimit reset sasl %zz\n' \
	'ratelimit reset sasl alice%\n' 'ratelimit reset sasl alice%4\n' 'ratelimit reset sasl %\n' \
	'ratelimit reset sasl ali\x00ce\n' 'ratelimit reset sasl ali\x01ce\n' 'ratelimit reset sasl ali\x7fce\n' \
	'ratelimit reset sasl ali\xc3\xa9ce\n' "ratelimit reset sasl $(head -c 2000 /dev/zero | tr '\0' a)\n" \
	'ratelimit reset sender\n' 'ratelimit reset sender a%00@example.com\n' 'ratelimit reset ip sasl\n' \
	'ratelimit reset ip 10.200.0.5 x\n' 'test --ip 10.200.0.5 --sasl a%00 --from a@example.com --rcpt b@example.com\n'; do
	reply=$(raw "$line" "$sock2")
	if [ "${reply#ERR }" != "$reply" ] && [ "$(printf '%s' "$reply" | grep -c .)" = 1 ]; then
		errs=$((errs + 1))
	else
		hm_log "not one ERR line for '${line:0:60}': $reply"
	fi
done
hm_check "19 hostile commands: each one ERR line ($errs)" test "$errs" = 19
# Names that are no pattern and no other key: each its own (empty) bucket.
for name in '*' 'alice*' 'hopmilter:rl:v1:%7B192.0.2.50/32%7D' 'alice}' '%7Bout:sasl:alice%7D' \
	"$login%20" 'from:alice@example.com' "$(head -c 900 /dev/zero | tr '\0' a)"; do
	ctl2 ratelimit reset sasl "$name" >"$HM_TMP/h.out" 2>&1
	grep -q '^redis: deleted=0$' "$HM_TMP/h.out" || hm_fail "reset sasl '${name:0:40}' deleted something: $(cat "$HM_TMP/h.out")"
done
ctl2 ratelimit reset sender '*' >"$HM_TMP/h.out" 2>&1
grep -q '^redis: deleted=0$' "$HM_TMP/h.out" || hm_fail "reset sender '*': $(cat "$HM_TMP/h.out")"
redis_dump >"$HM_TMP/after.keys"
hm_check "Redis unchanged by all of them" cmp -s "$HM_TMP/before.keys" "$HM_TMP/after.keys"
hm_check "the daemon still serves" eval 'ctl2 status | grep -q "^version: "'

ctl2 ratelimit reset sasl "$login" >"$HM_TMP/reset3.out" 2>&1
sed 's/^/    ctl| /' "$HM_TMP/reset3.out" >&2
hm_check "reset sasl: the key deleted in Redis" eval 'grep -q "^redis: deleted=1$" "$HM_TMP/reset3.out" &&
	[ "$(redis-cli -p '"$rport2"' exists "hopmilter:rl:v1:{out:sasl:$login}")" = 0 ]'
hm_check "reset sasl: bob's bucket is still there" eval \
	'[ "$(redis-cli -p '"$rport2"' --scan --pattern "hopmilter:rl:v1:{out:sasl:bob*" | grep -c .)" = 1 ]'
submit alice 4
hm_check "after reset sasl, alice's next submission is accepted" queued

# The envelope sender of a trusted client without a login.
core() { hm_swaks --server "127.0.0.1:$smtp2" --xclient-addr 10.200.0.5 --from "$1" --to bob@example.com \
	--header "Message-Id: <core-$2@test>"; }
core Core@Example.COM 1; r1=$(queued && echo ok)
core core@example.com 2; r2=$(queued && echo ok)
core CORE@EXAMPLE.COM 3
hm_check "core@example.com (3 spellings): two accepted, the third 451 4.7.1" eval '[ "$r1$r2" = okok ] && out_limited'
ctl2 ratelimit show sender '<Core@EXAMPLE.com>' >"$HM_TMP/sender.out"
sed 's/^/    ctl| /' "$HM_TMP/sender.out" >&2
hm_check "show sender (another spelling): its key, nothing left" grep -qE \
	'^redis tier=4 bucket=outbound key=hopmilter:rl:v1:\{out:from:core@example\.com\} burst=2 remaining=0 retry_after_ms=[1-9][0-9]+$' \
	"$HM_TMP/sender.out"
ctl2 test --ip 10.200.0.5 --from core@example.com --rcpt bob@example.com >"$HM_TMP/t5.out" 2>&1
hm_check "test (trusted, no login): outbound-ratelimited" grep -q '^decision: tempfail reason=outbound-ratelimited$' "$HM_TMP/t5.out"
hm_check "reset sender: one key" eval 'ctl2 ratelimit reset sender core@example.com | grep -q "^redis: deleted=1$"'
core core@example.com 4
hm_check "after reset sender, the next message is accepted" queued

# A client's recipient budget (4 per hour), charged at DATA.
rcpts() { hm_swaks --server "127.0.0.1:$smtp2" --xclient-addr 192.0.2.50 --from a@pass.example \
	--to b1@example.com,b2@example.com,b3@example.com --header "Message-Id: <budget-$1@test>"; }
rcpts 1
hm_check "3 recipients: accepted" queued
rcpts 2
hm_check "3 more: 450 4.7.1 after DATA" hm_reply_has '450 4\.7\.1 Too many recipients from your network'
ctl2 ratelimit show 192.0.2.50 >"$HM_TMP/budget.out"
sed 's/^/    ctl| /' "$HM_TMP/budget.out" >&2
hm_check "show ADDR: message, subnet and recipient buckets" eval '
	grep -qE "^redis tier=1 bucket=client net=192\.0\.2\.50/32 key=hopmilter:rl:v1:\{192\.0\.2\.0/24\}192\.0\.2\.50/32 burst=3 remaining=2 retry_after_ms=0$" "$HM_TMP/budget.out" &&
	grep -qE "^redis tier=2 bucket=subnet net=192\.0\.2\.0/24 key=hopmilter:rl:v1:\{192\.0\.2\.0/24\} burst=20 remaining=19 retry_after_ms=0$" "$HM_TMP/budget.out" &&
	grep -qE "^redis tier=3 bucket=recipients net=192\.0\.2\.50/32 key=hopmilter:rl:v1:\{192\.0\.2\.0/24\}192\.0\.2\.50/32:rcpt burst=4 remaining=1 retry_after_ms=0$" "$HM_TMP/budget.out"'
ctl2 test --ip 192.0.2.50 --from a@pass.example --rcpt b1@example.com --rcpt b2@example.com >"$HM_TMP/t6.out" 2>&1
sed 's/^/    ctl| /' "$HM_TMP/t6.out" >&2
hm_check "test with 2 recipients: rcpt-ratelimited at the data step" eval '
	grep -q "^data: action=tempfail reason=rcpt-ratelimited reply=\"450 4.7.1 Too many recipients" "$HM_TMP/t6.out" &&
	grep -q "^decision: tempfail reason=rcpt-ratelimited$" "$HM_TMP/t6.out"'
ctl2 test --ip 192.0.2.50 --from a@pass.example --rcpt b1@example.com >"$HM_TMP/t7.out" 2>&1
hm_check "test with 1 recipient: accepted (the one left)" eval '
	grep -q "^data: action=continue reason=none$" "$HM_TMP/t7.out" && grep -q "^decision: accept" "$HM_TMP/t7.out"'
ctl2 ratelimit reset ip 192.0.2.50 >"$HM_TMP/reset4.out" 2>&1
hm_check "reset ip ADDR: message, subnet and recipient keys deleted" grep -q '^redis: deleted=3$' "$HM_TMP/reset4.out"
rcpts 3
hm_check "after reset, 3 recipients accepted again" queued

# Redis down: the local table decides, and says so.
kill "$(hm_redis_pid tiers)"
redis2_gone() { ! hm_redis "$rport2" PING >/dev/null 2>&1; }
hm_check "second Redis has stopped" eval 'for _ in $(seq 1 100); do redis2_gone && break; sleep 0.1; done; redis2_gone'
submit alice 5; r1=$(queued && echo ok)
hm_check "hopmilter saw its Redis go" hm_wait_grep "redis=down" "$HM_TMP/tiers.log" 15
submit alice 6; r2=$(queued && echo ok)
submit alice 7
hm_check "redis down: alice's first two accepted by the local table, the third 451" eval '[ "$r1$r2" = okok ] && out_limited'
ctl2 ratelimit show sasl "$login" >"$HM_TMP/sasl2.out"
sed 's/^/    ctl| /' "$HM_TMP/sasl2.out" >&2
hm_check "show sasl (redis down): the local table answered, nothing left" eval '
	grep -q "^backend: local$" "$HM_TMP/sasl2.out" && grep -q "^redis: unavailable$" "$HM_TMP/sasl2.out" &&
	grep -qE "^local tier=4 bucket=outbound key=hopmilter:rl:v1:\{out:sasl:$login\} burst=2 remaining=0 retry_after_ms=[1-9][0-9]+$" "$HM_TMP/sasl2.out"'
ctl2 ratelimit reset sasl "$login" >"$HM_TMP/reset5.out" 2>&1
rc=$?
hm_check "reset sasl (redis down): exit 1, the local entry cleared, Redis not" eval \
	'[ $rc = 1 ] && grep -q "local entries cleared=1, redis keys NOT deleted" "$HM_TMP/reset5.out"'
submit alice 8
hm_check "after reset (redis down), alice's next submission is accepted" queued
hm_check "the second daemon is still running" kill -0 "$HM_MILTER_PID"
hm_export_log "$HM_TMP/tiers.log" tiers
HM_MILTER_PID=$first_pid

hm_export_log "$HM_TMP/milter.log"
hm_done
