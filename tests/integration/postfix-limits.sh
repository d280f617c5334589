#!/bin/bash
# The limits of issue 16 through real Postfix: two edge Postfix instances,
# each with its own hopmilter node, sharing one Redis, inside a private DNS
# world (dnsmasq with PTR and A records; this whole test runs in a private
# mount namespace where /etc/resolv.conf names it, so Postfix's own
# reverse and forward lookups meet it).
#
#  - Outbound per SASL login: alice submits over SASL (Cyrus sasldb) to
#    both edges in turn.  The bound asserted: exactly B of her messages
#    are accepted and every other one gets 451 4.7.1.  Exact because the
#    limit is 1 per hour with a burst of B (no refill within the run) and
#    Redis decides each call atomically for both nodes (GCRA: request k
#    passes iff k <= B).  bob, on the same core address, is not affected.
#    Neither fail2ban filter matches a line of it.
#  - Forward confirmation: 127.44.0.9 has the PTR mx1.big.example, whose A
#    record is 127.44.0.9; 127.44.0.10 has the PTR mx2.big.example, which
#    has no address.  With exempt_client_names = {".big.example"} and a
#    burst of 2, the first sends 4 messages unhindered, the second is
#    deferred at its third, whatever its HELO says.
#  - The recipient budget as Postfix runs it: the DATA step is negotiated
#    and a message over the budget gets 450 4.7.1 after DATA.
[ -n "${HM_PRIVATE_NS:-}" ] || HM_PRIVATE_NS=1 exec unshare --mount bash "$0" "$@"
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"
. "$HM_LIBDIR/sasl.sh"

hm_need_root
hm_need postfix smtp-sink swaks redis-server redis-cli saslpasswd2 "$HOPMILTER"
B=4

hm_start_spf_dns \
	--ptr-record=9.0.44.127.in-addr.arpa,mx1.big.example \
	--host-record=mx1.big.example,127.44.0.9 \
	--ptr-record=10.0.44.127.in-addr.arpa,mx2.big.example \
	--ptr-record=11.0.44.127.in-addr.arpa,mx3.budget.example \
	--host-record=mx3.budget.example,127.44.0.11 || { hm_fail "test DNS did not start"; hm_done; }
mount --bind "$HM_TMP/resolv.conf" /etc/resolv.conf || { hm_fail "cannot bind resolv.conf"; hm_done; }
hm_check "the DNS world: PTR of 127.44.0.9" eval '[ "$(getent hosts 127.44.0.9 | awk "{print \$2}")" = mx1.big.example ]'

rport=$(hm_free_port) sink_port=$(hm_free_port)
hm_start_redis shared "$rport" || { hm_fail "redis-server did not start"; hm_done; }
hm_start_sink sink "$sink_port"

SASL_PASS=pw-$RANDOM
connect_macros=$(grep '^milter_connect_macros' "$HM_SRCDIR/postfix-conf/main.cf.edge")
start_edge() {
	local n=$1 mport smtp sub d=$HM_TMP/edge$1
	mport=$(hm_free_port) smtp=$(hm_free_port) sub=$(hm_free_port)
	eval "SMTP$n=$smtp SUB$n=$sub"
	hm_write_milter_conf "$HM_TMP/node$n.conf" "inet:$mport@127.0.0.1" 'log_level = debug' \
		'trusted_networks = {"10.9.0.0/16"}' "ratelimit {
	rate = 1  period = 1h  burst = 2
	recipients { enabled = true  rate = 1  period = 1h  burst = 5 }
	outbound { enabled = true  rate = 1  period = 1h  burst = $B }
	exempt_client_names = {\".big.example\"}
	redis { host = \"127.0.0.1\"  port = $rport  timeout = 3s }
}" 'outbound { enabled = true }'
	hm_start_milter "$HM_TMP/node$n.conf" "$HM_TMP/node$n.log" || return 1
	hm_sasl_users "$d" "$SASL_PASS" alice bob || return 1
	hm_postfix "edge$n" "$smtp" "
relay_domains = example.com
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_peername_lookup = yes
smtpd_milters = { inet:127.0.0.1:$mport, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
milter_protocol = 6
$connect_macros
$(hm_sasl_main_cf "$d")
" "$(hm_sasl_submission "$sub")"
}
start_edge 1 && start_edge 2 || { hm_fail "an edge did not start"; hm_done; }

# 1. alice over SASL, alternating edges: exactly B accepted.
ok=0 deferred=0
for i in $(seq 1 10); do
	n=$((i % 2 + 1)) port=SUB$((i % 2 + 1))
	hm_swaks --server "127.0.0.1:${!port}" --auth PLAIN --auth-user alice --auth-password "$SASL_PASS" \
		--from alice@example.com --to friend@outside.example --header "Message-Id: <alice-$i@test>"
	if hm_reply_has '250 2\.0\.0 Ok: queued'; then ok=$((ok + 1)); fi
	if hm_reply_has '451 4\.7\.1 Too many messages from this sender, try again in [0-9]+ seconds'; then
		deferred=$((deferred + 1))
	fi
done
hm_log "alice over SASL through two edges: $ok accepted, $deferred deferred (B=$B)"
hm_check "exactly B=$B of alice's 10 messages accepted across both nodes" test "$ok" = "$B"
hm_check "the other $((10 - B)) got 451 4.7.1" test "$deferred" = $((10 - B))
for i in 1 2; do
	port=SUB$i
	hm_swaks --server "127.0.0.1:${!port}" --auth PLAIN --auth-user bob --auth-password "$SASL_PASS" \
		--from alice@example.com --to friend@outside.example --header "Message-Id: <bob-$i@test>"
	hm_check "bob on edge $i, same core, same sender address: accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
done
cat "$HM_TMP"/node[12].log >"$HM_TMP/all.log"
hm_check "the login as Postfix passed it ({auth_authen}) named in the log" \
	grep -qE 'outbound limit reached by sasl=alice(@example\.com)?$' "$HM_TMP/all.log"
hm_check "alice's key in Redis" eval 'hm_redis "$rport" --scan --pattern "hopmilter:rl:v1:{out:sasl:alice*" | grep -q .'
if command -v fail2ban-regex >/dev/null && [ -f /etc/fail2ban/filter.d/common.conf ]; then
	mkdir -p "$HM_TMP/filter.d"
	cp "$HM_SRCDIR"/fail2ban/filter.d/*.conf "$HM_TMP/filter.d/"
	ln -sf /etc/fail2ban/filter.d/common.conf "$HM_TMP/filter.d/common.conf"
	for f in hopmilter hopmilter-ratelimit; do
		hm_check "fail2ban filter $f matches none of the outbound lines" \
			test "$(fail2ban-regex -o ip "$HM_TMP/all.log" "$HM_TMP/filter.d/$f.conf" 2>/dev/null | grep -c .)" = 0
	done
fi

# 2. Forward confirmation, through Postfix's own lookups.
send_from() { # send_from SOURCE_IP HELO ID
	hm_swaks --server "127.0.0.1:$SMTP1" --local-interface "$1" --ehlo "$2" \
		--from a@sender.example --to bob@example.com --header "Message-Id: <$3@test>"
}
ok=0
for i in 1 2 3 4; do
	send_from 127.44.0.9 mx1.big.example "conf-$i"
	hm_reply_has '250 2\.0\.0 Ok: queued' && ok=$((ok + 1))
done
hm_check "mx1.big.example (PTR and A agree): 4 of 4 accepted over a burst of 2" test "$ok" = 4
hm_check "Postfix passed the confirmed name" grep -q 'connect ip=127\.44\.0\.9 client_name=mx1\.big\.example confirmed=mx1\.big\.example ratelimit_exempt=client-name' "$HM_TMP/node1.log"
ok=0
for i in 1 2 3; do
	send_from 127.44.0.10 mx1.big.example "unconf-$i"
	hm_reply_has '250 2\.0\.0 Ok: queued' && ok=$((ok + 1))
done
hm_check "mx2.big.example (PTR only) with a forged HELO: 2 accepted, the third deferred" \
	eval '[ "$ok" = 2 ] && hm_reply_has "450 4\.7\.1 Too many messages from your network"'
hm_check "Postfix said unknown for it" grep -q 'connect ip=127\.44\.0\.10 client_name=unknown confirmed=none ratelimit_exempt=no' "$HM_TMP/node1.log"

# 3. The recipient budget (burst 5) at DATA through Postfix.
hm_swaks --server "127.0.0.1:$SMTP2" --local-interface 127.44.0.11 --from a@sender.example \
	--to b1@example.com,b2@example.com,b3@example.com --header "Message-Id: <rcpt-1@test>"
hm_check "3 recipients: accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_swaks --server "127.0.0.1:$SMTP2" --local-interface 127.44.0.11 --from a@sender.example \
	--to b1@example.com,b2@example.com,b3@example.com --header "Message-Id: <rcpt-2@test>"
hm_check "3 more: 450 4.7.1 after DATA" \
	hm_reply_has '450 4\.7\.1 Too many recipients from your network, try again in [0-9]+ seconds'
hm_check "the deferral came at DATA" grep -q 'rcpt-ratelimited.*ip=127\.44\.0\.11' "$HM_TMP/node2.log"
hm_check "Postfix logged it at DATA" grep -q 'milter-reject: DATA from .*127\.44\.0\.11.*450 4\.7\.1 Too many recipients' "$HM_TMP/edge2/maillog"
hm_check "accepted mail reached the sink, deferred mail did not" \
	eval 'hm_sink_wait sink rcpt-1@test && ! hm_sink_has sink rcpt-2@test'

for n in 1 2; do hm_export_log "$HM_TMP/node$n.log" "node$n"; done
hm_done
