#!/bin/bash
# The limits an MX runs with (issue 16), on two hopmilter nodes sharing one
# real redis-server: the recipient budget, the outbound limit per SASL
# login, the exemptions, and one round trip per decision with every limit
# on.  The nodes run in a private DNS world (tests/lib/spfdns.sh) so the
# sender-domain exemption meets real SPF answers.
#
# The bounds asserted, and why they are exact.  Every limit here has a
# rate of 1 per hour and the whole run takes seconds, so no bucket drains
# while it runs.  GCRA charging c units at once allows a request when
# TAT + (c - 1) * T - now <= tau = (B - 1) * T; after j - 1 allowed requests
# of c units TAT = t0 + (j - 1) * c * T, so request j passes iff j * c <= B.
# Messages of 3 accepted recipients against a budget of R = 50 therefore
# pass exactly floor(50 / 3) = 16 times, whatever the interleaving across
# nodes and threads (Redis runs each script call atomically) and however
# slow the machine; a refusal charges nothing, so nothing drifts.  The
# refused recipients of each message (2 in a domain not served) never
# reach the count: were they charged, only floor(50 / 5) = 10 would pass.
# The outbound limit (c = 1, burst 7) allows exactly 7 of alice's
# messages, and bob, on the same client address, his own.  With Redis
# gone, each node's local table applies the same budget on its own.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need redis-server redis-cli miltertest "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-envelope.lua
R=50 B=7

hm_start_spf_dns || { hm_fail "test DNS did not start"; hm_done; }
rport=$(hm_free_port)
hm_start_redis shared "$rport" || { hm_fail "redis-server did not start"; hm_done; }

# hopmilter itself inside the DNS world, as HM_WRAP (harness.sh).
printf '#!/bin/sh\nexec unshare --mount sh -c %s %s "$@"\n' "'$HM_RESOLV_SH'" "$HM_TMP/resolv.conf" \
	>"$HM_TMP/in-resolv" && chmod 0755 "$HM_TMP/in-resolv"

start_node() {
	local n=$1 conf=$HM_TMP/node$1.conf
	hm_write_milter_conf "$conf" "unix:$HM_TMP/node$n.sock" 'log_level = debug' \
		"control_socket = \"$HM_TMP/ctl$n.sock\"" \
		'trusted_networks = {"10.9.0.0/16"}' \
		'spf { enabled = true  fail = accept  softfail = accept }' "ratelimit {
	rate = 1  period = 1h  burst = 1000
	subnet { enabled = true  rate = 1  period = 1h  burst = 1000  ipv4_prefix = 24  ipv6_prefix = 48 }
	recipients { enabled = true  rate = 1  period = 1h  burst = $R }
	outbound { enabled = true  rate = 1  period = 1h  burst = $B }
	exempt_networks = {\"198.18.0.0/24\"}
	exempt_client_names = {\".big.example\", \"mx.single.example\"}
	exempt_sender_domains = {\"pass.example\"}
	redis { host = \"127.0.0.1\"  port = $rport  timeout = 3s  pool_size = 4 }
}"
	HM_WRAP=$HM_TMP/in-resolv hm_start_milter "$conf" "$HM_TMP/node$n.log"
}
start_node 1 && start_node 2 || { hm_fail "hopmilter did not start"; hm_done; }
for n in 1 2; do
	hm_check "node $n: redis=up" hm_wait_grep "ratelimit: redis=up server=127\.0\.0\.1:$rport" "$HM_TMP/node$n.log" 10
done

# run OUT NAME=VALUE... -- one client: its environment, then a command line
# of "VAR=VALUE ..." words per concurrent session separated by "--".
run() {
	local out=$1 i=0 pids=() p
	shift
	: >"$out"
	while [ $# -gt 0 ]; do
		local envs=()
		while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
		[ $# -gt 0 ] && shift
		i=$((i + 1))
		env "${envs[@]}" HM_SOCK=unix:$HM_TMP/node$((i % 2 + 1)).sock HM_OUT=$out \
			miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1 &
		pids+=($!)
		hm_track $!
	done
	for p in "${pids[@]}"; do wait "$p" || hm_fail "client $p failed (clients.log)"; done
}
count() { grep -c -- "$2" "$1"; }
stat() { hm_redis_stat "$rport" "$1"; }

# 1. The recipient budget: 8 sessions x 10 messages, 3 recipients accepted
# and 2 refused each, one client address, over both nodes at once.
before_sha=$(stat evalsha) before_eval=$(stat eval)
sessions=()
for _ in 1 2 3 4 5 6 7 8; do sessions+=(HM_IP=198.51.100.7 HM_COUNT=10 HM_RCPTS=3 HM_BAD=2 --); done
run "$HM_TMP/p1" "${sessions[@]}"
total=$(wc -l <"$HM_TMP/p1") ok=$(count "$HM_TMP/p1" "data=continue") no=$(count "$HM_TMP/p1" "data=tempfail")
hm_log "recipient budget: $total messages of 3+2 recipients, $ok allowed, $no deferred at DATA (R=$R)"
hm_check "all 80 messages answered, every MAIL let through" test "$total:$(count "$HM_TMP/p1" mail=continue)" = 80:80
hm_check "exactly floor($R/3) = $((R / 3)) allowed across both nodes ($ok)" test "$ok" = $((R / 3))
hm_check "every other message deferred at DATA ($no)" test "$no" = $((80 - R / 3))
hm_check "one EVALSHA per decision (80), none at MAIL, no EVAL" \
	test "$(($(stat evalsha) - before_sha)):$(($(stat eval) - before_eval))" = "80:0"
blocked=$(cat "$HM_TMP"/node[12].log | grep -c 'BLOCKED reason=rcpt-ratelimited action=tempfail ip=198\.51\.100\.7 ')
hm_check "one rcpt-ratelimited line per deferral ($blocked)" test "$blocked" = $((80 - R / 3))
hm_check "the recipient key, hash-tagged with its message keys" \
	test "$(hm_redis "$rport" EXISTS 'hopmilter:rl:v1:{198.51.100.0/24}198.51.100.7/32:rcpt')" = 1

# 2. MONITOR: one message with every limit on is one EVALSHA carrying all
# three keys (client, subnet, recipients) and their costs (1, 1, 4).
hm_redis "$rport" MONITOR >"$HM_TMP/monitor" 2>&1 &
mpid=$!
hm_track $mpid
sleep 0.5
run "$HM_TMP/p2" HM_IP=192.0.2.77 HM_COUNT=1 HM_RCPTS=4 --
sleep 0.3
kill "$mpid" 2>/dev/null
hm_wait_exit "$mpid" 20
grep -v '"TIME"\|"GET"\|"SET"\|^OK' "$HM_TMP/monitor" >"$HM_TMP/monitor.calls"
hm_log "MONITOR: $(cat "$HM_TMP/monitor.calls")"
hm_check "one call from hopmilter for the message" test "$(grep -c . "$HM_TMP/monitor.calls")" = 1
hm_check "it is EVALSHA over 3 keys with costs 1 1 4" \
	grep -qE '"EVALSHA" "[0-9a-f]{40}" "3" "hopmilter:rl:v1:\{192\.0\.2\.0/24\}192\.0\.2\.77/32" "hopmilter:rl:v1:\{192\.0\.2\.0/24\}" "hopmilter:rl:v1:\{192\.0\.2\.0/24\}192\.0\.2\.77/32:rcpt" ("[0-9]+" ){6}"1" "1" "4"$' \
	"$HM_TMP/monitor.calls"
hm_check "inside it: one TIME, a GET per key, a SET per key" \
	test "$(grep -c '"TIME"' "$HM_TMP/monitor"):$(grep -c '"GET"' "$HM_TMP/monitor"):$(grep -c '"SET"' "$HM_TMP/monitor")" = 1:3:3

# 3. Outbound per SASL login: alice, 6 sessions x 5 messages from a trusted
# address over both nodes; bob on the same address, 3 messages.
sessions=()
for _ in 1 2 3 4 5 6; do sessions+=(HM_IP=10.9.0.5 HM_COUNT=5 HM_AUTH=alice HM_FROM='<alice@example.com>' --); done
before_sha=$(stat evalsha) before_eval=$(stat eval)
run "$HM_TMP/p3" "${sessions[@]}"
hm_check "outbound: one EVALSHA per message (30), no EVAL" \
	test "$(($(stat evalsha) - before_sha)):$(($(stat eval) - before_eval))" = "30:0"
ok=$(count "$HM_TMP/p3" mail=continue) no=$(count "$HM_TMP/p3" mail=tempfail)
hm_log "outbound: alice $ok allowed, $no deferred (B=$B)"
hm_check "exactly B=$B of alice's 30 messages allowed across both nodes ($ok)" test "$ok" = "$B"
hm_check "the other $((30 - B)) deferred at MAIL ($no)" test "$no" = $((30 - B))
run "$HM_TMP/p4" HM_IP=10.9.0.5 HM_COUNT=3 HM_AUTH=bob HM_FROM='<alice@example.com>' --
hm_check "bob, same core and same sender address, not affected" test "$(count "$HM_TMP/p4" mail=continue)" = 3
run "$HM_TMP/p5" HM_IP=10.9.0.5 HM_COUNT=1 HM_AUTH=ALICE --
hm_check "ALICE is alice (logins compared without case)" test "$(count "$HM_TMP/p5" mail=tempfail)" = 1
cat "$HM_TMP"/node[12].log >"$HM_TMP/all.log"
hm_check "the reply is 451 4.7.1 (log)" \
	grep -q 'BLOCKED reason=outbound-ratelimited action=tempfail ip=10\.9\.0\.5 ' "$HM_TMP/all.log"
hm_check "the login is named" grep -q 'outbound limit reached by sasl=alice$' "$HM_TMP/all.log"
hm_check "alice's key" test "$(hm_redis "$rport" EXISTS 'hopmilter:rl:v1:{out:sasl:alice}')" = 1

# fail2ban: the default jail never matches a deferral or an outbound line;
# the rate-limit jail matches the deferrals of internet clients only.
if command -v fail2ban-regex >/dev/null && [ -f /etc/fail2ban/filter.d/common.conf ]; then
	mkdir -p "$HM_TMP/filter.d"
	cp "$HM_SRCDIR"/fail2ban/filter.d/*.conf "$HM_TMP/filter.d/"
	ln -sf /etc/fail2ban/filter.d/common.conf "$HM_TMP/filter.d/common.conf"
	grep -E 'outbound|ratelimited|ACCEPTED' "$HM_TMP/all.log" >"$HM_TMP/soft.log"
	hm_check "default filter: no match among $(wc -l <"$HM_TMP/soft.log") deferral/outbound/accepted lines" \
		test "$(fail2ban-regex -o ip "$HM_TMP/soft.log" "$HM_TMP/filter.d/hopmilter.conf" 2>/dev/null | grep -c .)" = 0
	fail2ban-regex -o ip "$HM_TMP/all.log" "$HM_TMP/filter.d/hopmilter-ratelimit.conf" 2>/dev/null |
		sort -u >"$HM_TMP/rl-ips"
	hm_check "rate-limit filter: internet clients only, never the core ($(tr '\n' ' ' <"$HM_TMP/rl-ips"))" \
		test "$(cat "$HM_TMP/rl-ips")" = 198.51.100.7
else
	hm_log "fail2ban-regex not available: filter checks skipped"
fi

# 4. Exemptions, each 60 one-recipient messages against R = 50.
exempt_run() {
	local label=$1 want=$2 out=$HM_TMP/ex-$3
	shift 3
	run "$out" HM_COUNT=60 "$@" --
	hm_check "$label: $want of 60 allowed ($(count "$out" data=continue))" \
		test "$(count "$out" data=continue)" = "$want"
}
exempt_run "forward-confirmed mx1.big.example ({client_name})" 60 a HM_IP=203.0.113.9 HM_NAME=mx1.big.example
exempt_run "exact name mx.single.example, any case, trailing dot" 60 b HM_IP=203.0.113.19 HM_NAME=MX.Single.Example.
exempt_run "same PTR name, not forward-confirmed (Postfix: unknown)" $R c \
	HM_IP=203.0.113.10 HM_NAME=unknown HM_HOST=mx1.big.example
exempt_run "Sendmail {client_resolve}=FORGED" $R d HM_IP=203.0.113.11 HM_NAME=mx1.big.example HM_RESOLVE=FORGED
exempt_run "Sendmail {client_resolve}=OK" 60 e HM_IP=203.0.113.12 HM_NAME=mx2.big.example HM_RESOLVE=OK
exempt_run "forged HELO mx1.big.example, no confirmed name" $R f HM_IP=203.0.113.13 HM_HELO=mx1.big.example
exempt_run "suffix without its dot: evilbig.example" $R g HM_IP=203.0.113.14 HM_NAME=mx.evilbig.example
exempt_run "exempt network 198.18.0.0/24" 60 h HM_IP=198.18.0.5
exempt_run "sender pass.example with SPF pass from 192.0.2.20" 60 i HM_IP=192.0.2.20 HM_FROM='<a@pass.example>'
exempt_run "forged sender pass.example from 203.0.113.20 (SPF fail)" $R j HM_IP=203.0.113.20 HM_FROM='<a@pass.example>'
exempt_run "sender soft.example, SPF pass but not listed" $R k HM_IP=192.0.2.21 HM_FROM='<a@soft.example>'
run "$HM_TMP/ex-l" HM_IP=203.0.113.9 HM_NAME=mx1.big.example HM_COUNT=1 HM_BAD=1 --
hm_check "an exempt client is still checked: its recipient in a domain not served refused" \
	eval 'cat "$HM_TMP"/node[12].log | grep -q "BLOCKED reason=unknown-rcpt-domain action=reject ip=203\.0\.113\.9 "'
hm_check "the log says why a message was not charged" \
	grep -q 'ratelimit ip=192\.0\.2\.20 exempt=sender-domain' "$HM_TMP/node1.log" "$HM_TMP/node2.log"

# hopmilter-ctl ratelimit reset empties the recipient budget with the
# client's message buckets: three keys.
if [ -x "$HM_BUILDDIR/milter/hopmilter-ctl" ]; then
	"$HM_BUILDDIR/milter/hopmilter-ctl" -s "$HM_TMP/ctl1.sock" ratelimit reset 198.51.100.7 >"$HM_TMP/reset.out" 2>&1
	hm_check "ctl reset: client, subnet and recipient keys deleted ($(tr '\n' ' ' <"$HM_TMP/reset.out"))" \
		grep -q '^redis: deleted=3$' "$HM_TMP/reset.out"
	hm_check "ctl reset: the recipient key is gone" \
		test "$(hm_redis "$rport" EXISTS 'hopmilter:rl:v1:{198.51.100.0/24}198.51.100.7/32:rcpt')" = 0
fi

# 5. Redis gone: the same budget from each node's local table
# (on_redis_error = local).  Each node then counts alone, exactly: 4
# sessions x 10 messages of 3 recipients reach each node, so each allows
# floor(R/3) and the two together twice that.
kill "$(hm_redis_pid shared)"
hm_wait_exit "$(hm_redis_pid shared)" 50
run "$HM_TMP/p6" HM_IP=198.51.100.99 HM_COUNT=1 HM_RCPTS=1 -- HM_IP=198.51.100.99 HM_COUNT=1 HM_RCPTS=1 --
for n in 1 2; do
	hm_check "node $n: redis=down" hm_wait_grep "ratelimit: redis=down" "$HM_TMP/node$n.log" 10
done
sessions=()
for _ in 1 2 3 4 5 6 7 8; do sessions+=(HM_IP=198.51.100.8 HM_COUNT=10 HM_RCPTS=3 --); done
run "$HM_TMP/p7" "${sessions[@]}"
ok=$(count "$HM_TMP/p7" "data=continue")
hm_log "Redis down: $ok of 80 allowed by the two local tables"
hm_check "Redis down: each node's local budget exact, 2 x floor($R/3) = $((2 * (R / 3))) ($ok)" \
	test "$ok" = $((2 * (R / 3)))
hm_check "decided locally" grep -q 'ratelimit ip=198\.51\.100\.8 net=198\.51\.100\.8/32 result=limited source=local retry_after=[0-9]*ms nrcpt=3' \
	"$HM_TMP/node1.log" "$HM_TMP/node2.log"

for n in 1 2; do hm_export_log "$HM_TMP/node$n.log" "node$n"; done
hm_done
