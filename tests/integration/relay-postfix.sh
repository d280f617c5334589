#!/bin/bash
# hoprelay as Postfix runs it: an edge Postfix whose transport map sends a
# domain to the hoprelay pipe(8) service exactly as shipped in
# postfix-conf/master.cf.edge (only the binary path and the user differ),
# a next-hop Postfix with TLS behind it.  A message goes through; with the
# hop down it stays deferred in the queue; when the hop is back, a queue
# flush delivers it exactly once; a 5xx from the hop bounces with the hop's
# reply in the bounce; the null sender stays null.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix postqueue smtp-sink swaks openssl "$HOPRELAY"

sink_port=$(hm_free_port)
hop_port=$(hm_free_port)
edge_port=$(hm_free_port)
pki=$HM_TMP/pki
hm_ca ca && hm_cert ca hop hop.test.invalid || { hm_fail "making certificates"; hm_done; }

conf=$HM_TMP/hoprelay.conf
cat >"$conf" <<EOF
route core {
	hops = {"127.0.0.1:$hop_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop.test.invalid"
	pins = {"$(hm_pin "$pki/hop.crt")"}
}
EOF
chmod 0644 "$conf"
hm_check "hoprelay -n accepts the configuration" "$HOPRELAY" -n -c "$conf"

hm_start_sink sink "$sink_port"
hm_postfix hop "$hop_port" "
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_recipient_restrictions = check_recipient_access inline:{ {bad@example.com = 550 5.1.1 No such user here} }, permit_mynetworks, reject
" || exit 1

# The shipped master.cf entry, pointed at the built binary and this test's
# configuration, run as nobody.
stanza=$(sed -n '/^hoprelay[[:space:]]/,/^[^[:space:]]/{/^hoprelay[[:space:]]/p;/^[[:space:]]/p}' \
	"$HM_SRCDIR/postfix-conf/master.cf.edge" |
	sed -e "s|/usr/local/sbin/hoprelay|$HOPRELAY -c $conf|" -e 's/user=hoprelay/user=nobody/')
hm_log "master.cf entry under test:"; printf '%s\n' "$stanza" >&2
hm_check "the shipped master.cf entry was found" eval '[[ $stanza == *"pipe"*"argv="*"\${recipient}"* ]]'
limits=$(grep -E '^hoprelay_' "$HM_SRCDIR/postfix-conf/main.cf.edge")
hm_check "main.cf.edge sets the recipient limit to 1" eval 'grep -qx "hoprelay_destination_recipient_limit = 1" <<<"$limits"'

hm_postfix edge "$edge_port" "
relay_domains = example.com
transport_maps = inline:{ example.com=hoprelay:core }
default_transport = smtp:[127.0.0.1]:$sink_port
$limits
" "$stanza" || exit 1

S="--server 127.0.0.1:$edge_port"
edge_log=$HM_TMP/edge/maillog

# 1. Through Postfix and hoprelay to the hop, over TLS.
hm_swaks $S --from a@example.org --to b@example.com --header "Message-Id: <pf-1@test>"
hm_check "queued by the edge" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "arrived at the hop's sink" hm_sink_wait sink pf-1@test
# pipe(8) keeps 100 characters of the status line: it must fit whole.
hm_check "edge logged status=sent via hoprelay: hop, the hop's queue id, TLS and pin, whole" hm_wait_grep \
	"relay=hoprelay, .*status=sent \(delivered via hoprelay service \(2\.0\.0 sent to 127\.0\.0\.1:$hop_port as [0-9A-Za-z]+, TLSv1\.[23], pin 1\)\)\$" "$edge_log"
hm_check "the hop received it with ESMTPS" eval 'hm_sink_message sink pf-1@test | grep -q "with ESMTPS"'

# 2. Hop down: deferred, still in the queue, nothing lost.
postfix -c "$HM_TMP/hop/etc" stop >/dev/null 2>&1
for _ in $(seq 1 50); do hm_smtp_banner 127.0.0.1 "$hop_port" 2>/dev/null || break; sleep 0.2; done
hm_swaks $S --from a@example.org --to b@example.com --header "Message-Id: <pf-2@test>"
hm_check "queued by the edge while the hop is down" hm_reply_has '250 2\.0\.0 Ok: queued'
qid=$(sed -n 's/.*250 2\.0\.0 Ok: queued as \([0-9A-F][0-9A-F]*\).*/\1/p' "$HM_TMP/swaks.out" | tail -1)
hm_check "the edge's queue id is known ($qid)" test -n "$qid"
hm_check "deferred with hoprelay's 4.4.1 reason" hm_wait_grep \
	"$qid: to=<b@example.com>, relay=hoprelay, .*dsn=4\.4\.1, status=deferred \(connect to 127\.0\.0\.1:$hop_port: Connection refused" "$edge_log"
hm_check "still in the queue (postqueue -p)" eval 'postqueue -c "$HM_TMP/edge/etc" -p | grep -q "^$qid"'
hm_check "not at the sink" eval '! hm_sink_has sink pf-2@test'

# 3. Hop back, queue flushed: delivered exactly once, queue empty.
script -qc "postfix -c $HM_TMP/hop/etc start" /dev/null >/dev/null 2>&1
hm_wait_port 127.0.0.1 "$hop_port"
postqueue -c "$HM_TMP/edge/etc" -f
hm_check "delivered after the flush" hm_sink_wait sink pf-2@test 60
hm_check "the edge logged it sent" hm_wait_grep "$qid: to=<b@example.com>, relay=hoprelay, .*status=sent" "$edge_log"
for _ in $(seq 1 50); do postqueue -c "$HM_TMP/edge/etc" -p | grep -q "Mail queue is empty" && break; sleep 0.2; done
hm_check "the edge queue is empty" eval 'postqueue -c "$HM_TMP/edge/etc" -p | grep -q "Mail queue is empty"'
sleep 2
hm_check "delivered exactly once" test "$(hm_sink_count sink pf-2@test)" = 1

# 4. The hop refuses the recipient: Postfix bounces with the hop's reply.
hm_swaks $S --from a@example.org --to bad@example.com --header "Message-Id: <pf-3@test>"
hm_check "bounced with 5.1.1 and the hop's text" hm_wait_grep \
	"to=<bad@example.com>, relay=hoprelay, .*dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1:$hop_port said: 550 5\.1\.1 <bad@example\.com>: Recipient address rejected: No such user here" "$edge_log"
# The bounce goes to a@example.org, which the edge sends to the same sink.
bounce_arrived() {
	local i
	for i in $(seq 1 100); do
		grep -l "^X-Rcpt-Args: <a@example.org>" "$HM_TMP/sink-sink"/m.* 2>/dev/null |
			xargs -r grep -l "Recipient address rejected: No such user here" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}
hm_check "the bounce reached the sender with the hop's reason" bounce_arrived
hm_check "the refused message itself never reached the hop's sink" \
	eval '! grep -l "^X-Rcpt-Args: <bad@example.com>" "$HM_TMP/sink-sink"/m.* 2>/dev/null | grep -q .'

# 5. The null sender stays null (null_sender= in the entry).
hm_swaks $S --from '<>' --to b@example.com --header "Message-Id: <pf-4@test>"
hm_check "null sender: arrived" hm_sink_wait sink pf-4@test
hm_check "null sender: MAIL FROM:<> at the hop" eval 'hm_sink_message sink pf-4@test | grep -qx "X-Mail-Args: <>"'

hm_done
