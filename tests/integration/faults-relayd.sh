#!/bin/bash
# hoprelayd killed (SIGKILL) while it relays a message, counted by
# Message-ID: nothing is lost, and the one duplicate is RFC 1047's.
#
# edge Postfix --lmtp(8)--> hoprelayd --> slowproxy --> hop Postfix --> smtp-sink
#
# The leg to the hop is TLS as in the deployment (tls = required, the
# hop's key pinned and its name checked); slowproxy passes bytes along at
# 2 MB/s, so an 8 MB message stays "in the middle of DATA" for four
# seconds.  hoprelayd streams: it answers Postfix's DATA with 354 only
# after the hop's 354, and passes the message on as it reads it, so while
# Postfix sends DATA the hop receives it (a kill in the middle of DATA from
# Postfix is a kill in the middle of DATA to the hop, minus the socket
# buffers between them).
#
#   1. killed in the middle of DATA (the hop has more than 1 MB of it, and
#      Postfix is still sending): the hop never saw a final dot and drops
#      its part, Postfix defers; after a restart it is delivered once
#   2. the hop's reply to the final dot is lost (what a SIGKILL of
#      hoprelayd between the dot and the reply also does): the hop queued
#      it, Postfix got 451 and sends it again: exactly two copies, the
#      RFC 1047 window, the one duplicate by design
#   3. the hop stopped: Postfix gets 451 4.4.x at MAIL FROM and keeps the
#      mail queued; delivered once when the hop is back
. "$(dirname "$0")/../lib/harness.sh"

HOPRELAYD=${HOPRELAYD:-$HM_BUILDDIR/relay-transport/hoprelayd}
hm_need_root
hm_need postfix smtp-sink sendmail python3 openssl "$HOPRELAYD"

sink_port=$(hm_free_port)
hop_port=$(hm_free_port)
proxy_port=$(hm_free_port)
edge_port=$(hm_free_port)
sockdir=$HM_TMP/sock
mkdir -p "$sockdir"
chgrp postfix "$sockdir"
chmod 2750 "$sockdir"

pki=$HM_TMP/pki
hm_ca ca && hm_cert ca hop hop.test.invalid || { hm_fail "no certificates"; hm_done; }
hm_start_sink sink "$sink_port"
hm_postfix hop "$hop_port" "
relay_domains = example.com
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt
smtpd_tls_loglevel = 1
relay_transport = smtp:[127.0.0.1]:$sink_port
message_size_limit = 104857600
" || exit 1
python3 "$HM_LIBDIR/slowproxy.py" "$proxy_port" "$hop_port" 2000000 >"$HM_TMP/proxy.log" 2>&1 &
hm_track $!
hm_wait_grep ready "$HM_TMP/proxy.log" 10 || hm_fail "slowproxy did not start"

route_tls() {
	cat <<EOF
route hop {
	hops = {"127.0.0.1:$proxy_port"}
	tls = required
	ca_file = "$pki/ca.crt"
	server_name = "hop.test.invalid"
	pins = {"$(hm_pin "$pki/hop.crt")"}
	helo_name = "edge.test.invalid"
	connect_timeout = 5s
}
EOF
}
route_tls >"$HM_TMP/hoprelay.conf"
dlog=$HM_TMP/hoprelayd.log
start_daemon() {
	# shellcheck disable=SC2086
	${HM_WRAP:-} "$HOPRELAYD" -e -c "$HM_TMP/hoprelay.conf" -s "$sockdir" -k 10 >>"$dlog" 2>&1 </dev/null &
	dpid=$!
	hm_track "$dpid"
	for _ in $(seq 1 100); do
		[ -S "$sockdir/hop" ] && grep -q "started:" "$dlog" && return 0
		sleep 0.1
	done
	hm_fail "hoprelayd did not start"
}
start_daemon
hm_postfix edge "$edge_port" "
relay_domains = example.com
relay_transport = lmtp:unix:$sockdir/hop
lmtp_tls_security_level = none
message_size_limit = 104857600
" "lmtp      unix  -       -       n       -       -       lmtp" || exit 1

count() { hm_sink_count sink "$1"; }
edge_empty() { [ -z "$(find "$HM_TMP/edge/queue/deferred" "$HM_TMP/edge/queue/active" -type f)" ]; }

# 1. Killed in the middle of DATA.
id=middata-1@test
{
	printf 'From: <a@sender.example>\nTo: <user@example.com>\nSubject: big\nMessage-Id: <%s>\n\n' "$id"
	awk 'BEGIN { l = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-+=/0123456"
		for (i = 0; i < 8 * 1024 * 1024 / 76; i++) print l }'
} >"$HM_TMP/big.eml"
sendmail -C "$HM_TMP/edge/etc" -f a@sender.example user@example.com <"$HM_TMP/big.eml"
hm_check "the edge took the message" test $? = 0
mid=0
for _ in $(seq 1 300); do
	if [ -n "$(find "$HM_TMP/hop/queue/incoming" -type f -size +1024k 2>/dev/null)" ]; then
		mid=1
		break
	fi
	sleep 0.1
done
hm_check "the transfer to the hop is under way" test "$mid" = 1
hm_check "... over TLS" grep -q 'TLS connection established from' "$HM_TMP/hop/maillog"
hm_check "... and Postfix is still sending (no reply logged yet)" eval '! grep -q "relay=.*$sockdir/hop" "$HM_TMP/edge/maillog"'
kill -KILL "$dpid"
hm_log "hoprelayd killed in the middle of DATA"
hm_check "the edge deferred it (lost connection to hoprelayd)" \
	hm_wait_grep "to=<user@example.com>.*status=deferred" "$HM_TMP/edge/maillog" 30
hm_log "edge: $(grep 'status=deferred' "$HM_TMP/edge/maillog" | tail -1 | sed 's/.*status=//')"
hm_check "it is in the edge's queue" eval 'postqueue -c "$HM_TMP/edge/etc" -p | grep -q "user@example.com"'
sleep 3
hm_check "nothing reached the sink" test "$(count "$id")" = 0
hm_check "the hop dropped its part (no final dot): its queue is empty" \
	eval '[ -z "$(find "$HM_TMP/hop/queue/deferred" "$HM_TMP/hop/queue/active" -type f)" ]'
start_daemon
postqueue -c "$HM_TMP/edge/etc" -f
hm_check "delivered once hoprelayd is back" hm_sink_wait sink "$id" 90
sleep 2
hm_check "delivered exactly once ($(count "$id"))" test "$(count "$id")" = 1
hm_check "the delivered copy is whole" \
	eval '[ "$(hm_sink_message sink "$id" | grep -c "^0123456789abcdef")" = "$(grep -c "^0123456789abcdef" "$HM_TMP/big.eml")" ]'
hm_check "the edge's queue is empty" edge_empty

# 2. The RFC 1047 window: the hop has the final dot and queues the
#    message, but its 250 never reaches hoprelayd (a second proxy cuts the
#    session right after the dot; it must see the dot, so this route is
#    without TLS, as in faults-hop.sh).  hoprelayd cannot know the hop took
#    it: every recipient gets 451 4.4.2 and Postfix sends it again.  Two
#    copies, by design -- the alternative would be to risk losing it.
#    (A SIGKILL in this window ends the same way: Postfix sees no reply.)
cut_port=$(hm_free_port)
python3 "$HM_LIBDIR/slowproxy.py" "$cut_port" "$hop_port" 0 cut-once >"$HM_TMP/cut.log" 2>&1 &
hm_track $!
hm_wait_grep ready "$HM_TMP/cut.log" 10 || hm_fail "the cutting proxy did not start"
printf 'route hop {\n\thops = {"127.0.0.1:%s"}\n\ttls = none\n}\n' "$cut_port" >"$HM_TMP/hoprelay.conf"
kill -HUP "$dpid"
hm_wait_grep "reloaded" "$dlog" 10
edge_mark=$(wc -l <"$HM_TMP/edge/maillog")
id2=window-1@test
printf 'From: <a@sender.example>\nTo: <user@example.com>\nSubject: small\nMessage-Id: <%s>\n\nhello\n' "$id2" |
	sendmail -C "$HM_TMP/edge/etc" -f a@sender.example user@example.com
since_mark() {
	for _ in $(seq 1 300); do
		tail -n +$((edge_mark + 1)) "$HM_TMP/edge/maillog" | grep -qE "$1" && return 0
		sleep 0.1
	done
	return 1
}
hm_check "reply to the dot lost: the edge deferred it with hoprelayd's 451 4.4.2" \
	since_mark "to=<user@example.com>.*dsn=4\.4\.2, status=deferred .*said: 451 4\.4\.2 .*lost connection during end of DATA"
hm_log "edge: $(tail -n +$((edge_mark + 1)) "$HM_TMP/edge/maillog" | grep 'status=deferred' | tail -1 | sed 's/.*status=//')"
hm_check "... while the hop had already taken it" hm_sink_wait sink "$id2" 30
postqueue -c "$HM_TMP/edge/etc" -f
copies=0
for _ in $(seq 1 300); do
	copies=$(count "$id2")
	[ "$copies" -ge 2 ] && break
	sleep 0.1
done
sleep 2
copies=$(count "$id2")
hm_check "sent again: exactly two copies, the RFC 1047 duplicate ($copies)" test "$copies" = 2
hm_check "the edge's queue is empty" edge_empty
hm_check "hoprelayd logged the loss after the dot, as deferred" \
	grep -qE "route=hop hop=127\.0\.0\.1:$cut_port result=deferred status=4\.4\.2 conn=(new|reused) tls=none .*during.x20end.x20of.x20DATA" "$dlog"

# 3. The hop stopped: mail stays queued, delivered once when it returns.
route_tls > "$HM_TMP/hoprelay.conf"
kill -HUP "$dpid"
sleep 1
#    (slowproxy still accepts and then closes: 4.4.2 "lost connection";
#    without it the reply is 4.4.1 "connection refused", as relayd.sh shows.)
postfix -c "$HM_TMP/hop/etc" stop >/dev/null 2>&1
sleep 1
for n in 1 2 3; do
	printf 'From: <a@sender.example>\nTo: <user@example.com>\nSubject: down\nMessage-Id: <down-%s@test>\n\nhello\n' "$n" |
		sendmail -C "$HM_TMP/edge/etc" -f a@sender.example user@example.com
done
hm_check "hop down: the edge defers with hoprelayd's 451 at MAIL FROM" \
	hm_wait_grep "to=<user@example.com>.*dsn=4\.4\.2, status=deferred .*said: 451 4\.4\.2 127\.0\.0\.1:$proxy_port: .*in reply to MAIL FROM" "$HM_TMP/edge/maillog" 30
hm_check "hop down: all three queued" eval '[ "$(postqueue -c "$HM_TMP/edge/etc" -p | grep -c "user@example.com")" = 3 ]'
script -qc "postfix -c $HM_TMP/hop/etc start" /dev/null >/dev/null 2>&1
hm_wait_port 127.0.0.1 "$hop_port" || hm_fail "the hop did not start again"
postqueue -c "$HM_TMP/edge/etc" -f
for n in 1 2 3; do
	hm_check "hop back: down-$n delivered" hm_sink_wait sink "down-$n@test" 60
done
sleep 2
for n in 1 2 3; do
	hm_check "hop back: down-$n exactly once" test "$(count "down-$n@test")" = 1
done
hm_check "the edge's queue is empty" edge_empty
hm_check "no sanitizer reports from the daemon" eval '! grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$dlog"'
hm_done
