#!/bin/bash
# A hop goes away in the middle of DATA from hoprelay: the message stays in
# the edge's queue (hoprelay exits 75, Postfix defers it with hoprelay's
# reason) and is delivered exactly once when the hop is back.  Then the
# one window where a copy is duplicated: the hop's reply to the final dot
# is lost.
#
# edge Postfix --pipe(8)--> hoprelay --> slowproxy --> hop Postfix --> smtp-sink
#
# "In the middle of DATA" is made deterministic by tests/lib/slowproxy.py,
# which passes the message to the hop at 2 MB/s: an 8 MB message takes
# four seconds, and the hop is killed (`postfix abort`: every process at
# once, as a crash or a power cut would) once its cleanup has written more
# than 1 MB of the message into its incoming queue and before the final
# dot can have been sent.  This leg is TLS as in the deployment (tls =
# required, the hop's key pinned): the proxy only passes bytes along.
# The duplicate window needs a proxy that sees the final dot, so that
# second part runs without TLS (the TLS legs themselves are covered by
# relay-tls.sh and chain.sh; what it is about is the queue).
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink sendmail python3 openssl "$HOPRELAY"

sink_port=$(hm_free_port)
hop_port=$(hm_free_port)
proxy_port=$(hm_free_port)
edge_port=$(hm_free_port)

pki=$HM_TMP/pki
hm_slow_tls_hop "$sink_port" "$hop_port" "$proxy_port" || exit 1

# route_conf PORT TLS: the edge's one route, to the hop through the proxy
# on PORT (hoprelay reads its file for every message).
route_conf() {
	if [ "$2" = tls ]; then
		printf 'route hop {\n\thops = {"127.0.0.1:%s"}\n\ttls = required\n\tca_file = "%s"\n' "$1" "$pki/ca.crt"
		printf '\tserver_name = "hop.test.invalid"\n\tpins = {"%s"}\n' "$(hm_pin "$pki/hop.crt")"
	else
		printf 'route hop {\n\thops = {"127.0.0.1:%s"}\n\ttls = none\n' "$1"
	fi
	printf '\thelo_name = "edge.test.invalid"\n}\n'
}
route_conf "$proxy_port" tls >"$HM_TMP/hoprelay.conf"
chmod 0644 "$HM_TMP/hoprelay.conf"
hm_check "hoprelay -n accepts the TLS route" "$HOPRELAY" -n -c "$HM_TMP/hoprelay.conf"
hm_postfix edge "$edge_port" "
relay_domains = example.com
relay_transport = hoprelay:hop
hoprelay_destination_recipient_limit = 1
message_size_limit = 104857600
" "
hoprelay unix - n n - - pipe
  flags=q user=nobody null_sender=
  argv=$HOPRELAY -c $HM_TMP/hoprelay.conf -q \${queue_id} -s \${size} -f \${sender} -- \${nexthop} \${recipient}
" || exit 1

id=middata-1@test
# It waits (bounded) until the hop has more than 1 MB of it in its incoming queue.
hm_send_big_midway "$id"
hm_check "... over TLS" grep -q 'TLS connection established from' "$HM_TMP/hop/maillog"
hm_check "... and not finished (nothing at the sink yet)" eval '! hm_sink_has sink "$id"'
postfix -c "$HM_TMP/hop/etc" abort >/dev/null 2>&1
hm_log "hop killed in the middle of DATA"

# The edge defers it with hoprelay's reason.
hm_check "the edge deferred it (hoprelay exit 75)" \
	hm_wait_grep 'relay=hoprelay.*status=deferred' "$HM_TMP/edge/maillog" 20
hm_log "edge: $(grep 'status=deferred' "$HM_TMP/edge/maillog" | tail -1 | sed 's/.*status=//')"
# (pipe(8) moves hoprelay's leading enhanced status code into dsn=.)
hm_check "the deferral says 4.4.2, names the hop and what happened" \
	grep -qE "relay=hoprelay.*dsn=4\.4\.2, status=deferred \(127\.0\.0\.1:$proxy_port: lost connection during message transfer" \
	"$HM_TMP/edge/maillog"
hm_check "it is in the edge's queue" eval 'postqueue -c "$HM_TMP/edge/etc" -p | grep -q "user@example.com"'
hm_check "nothing reached the sink" eval '! hm_sink_has sink "$id"'

# The hop comes back (its half-received copy was never queued: no final dot).
script -qc "postfix -c $HM_TMP/hop/etc start" /dev/null >/dev/null 2>&1
hm_wait_port 127.0.0.1 "$hop_port" || hm_fail "the hop did not start again"
postqueue -c "$HM_TMP/edge/etc" -f
hm_check "delivered once the hop is back" hm_sink_wait sink "$id" 60
sleep 2
hm_check "delivered exactly once ($(hm_sink_count sink "$id"))" test "$(hm_sink_count sink "$id")" = 1
hm_check "the edge's queue is empty" eval '[ -z "$(find "$HM_TMP/edge/queue/deferred" "$HM_TMP/edge/queue/active" -type f)" ]'
hm_check "the hop's queue is empty" eval '[ -z "$(find "$HM_TMP/hop/queue/deferred" "$HM_TMP/hop/queue/active" "$HM_TMP/hop/queue/incoming" -type f)" ]'
hm_check "the delivered copy is whole" \
	eval '[ "$(hm_sink_message sink "$id" | grep -c "^0123456789abcdef")" = "$(grep -c "^0123456789abcdef" "$HM_TMP/big.eml")" ]'

# The one window where a duplicate is possible (RFC 1047): the hop has the
# final dot and queues the message, but its 250 never reaches hoprelay.
# hoprelay cannot know the hop took it, so it exits 75 and the edge sends
# it again: two copies, by design -- the alternative would be to risk
# losing it.  A second proxy cuts the first session right after the dot;
# the route points there (hoprelay reads its file for every message).
cut_port=$(hm_free_port)
python3 "$HM_LIBDIR/slowproxy.py" "$cut_port" "$hop_port" 0 cut-once >"$HM_TMP/cut.log" 2>&1 &
hm_track $!
hm_wait_grep ready "$HM_TMP/cut.log" 10 || hm_fail "the cutting proxy did not start"
route_conf "$cut_port" none >"$HM_TMP/hoprelay.conf"
id2=window-1@test
printf 'From: <a@sender.example>\nTo: <user@example.com>\nSubject: small\nMessage-Id: <%s>\n\nhello\n' "$id2" |
	sendmail -C "$HM_TMP/edge/etc" -f a@sender.example user@example.com
hm_check "reply to the dot lost: the edge deferred it" \
	hm_wait_grep "relay=hoprelay.*status=deferred.*$cut_port" "$HM_TMP/edge/maillog" 20
hm_log "edge: $(grep "status=deferred.*$cut_port" "$HM_TMP/edge/maillog" | tail -1 | sed 's/.*status=//')"
hm_check "... while the hop had already taken it" hm_sink_wait sink "$id2" 30
postqueue -c "$HM_TMP/edge/etc" -f
copies=0
for _ in $(seq 1 300); do
	copies=$(hm_sink_count sink "$id2")
	[ "$copies" -ge 2 ] && break
	sleep 0.1
done
hm_check "sent again and delivered: exactly two copies, the RFC 1047 duplicate ($copies)" test "$copies" = 2
hm_check "the edge logged one delivery per message, after the deferrals" \
	test "$(grep -c "relay=hoprelay.*status=sent" "$HM_TMP/edge/maillog")" = 2
hm_done
