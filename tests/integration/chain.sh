#!/bin/bash
# The whole deployment on one machine (tests/lib/chain-nodes.sh): internet
# clients -> edge (Postfix + hopmilter with SPF, Redis rate limit, domains,
# ban list) -> hops -> core, and back out to an internet sink, every VPN leg
# hoprelay with TLS, pins and client certificates, every node running the
# shipped postfix-conf files.  Each message is followed by its Message-ID
# through every node's log, queue and mailbox:
#   1. inbound: good mail reaches the core's mailbox through every hop;
#      spf-fail, banned-domain, unknown-rcpt-domain and ratelimited get
#      their SPEC replies at the edge and no node ever queues them;
#   2. outbound while disabled: refused at the edge, the sender gets the
#      bounce;
#   3. outbound enabled: the message reaches the internet byte for byte as
#      the core's user wrote it (DKIM still verifies) and names no inner
#      address or host; the same for a message a program hands to the
#      core's sendmail(1) (no SMTP) and one a LAN user submits with SASL,
#      whose inner Received, X-Originating-IP and X-Mailer-Host go;
#   4. a hop is added by configuration only; mail crosses both hops;
#   5. a hop stopped: mail waits in the previous node's queue (both
#      directions) and arrives once, when it is back;
#   6. with alternative hops configured, a stopped hop is gone around;
#   7. fail2ban's shipped filter over the edge's log: every refusal with
#      its client address (IPv4 and IPv6), nothing accepted;
#   8. the node before the core gets 452 for one recipient of three: that
#      one waits in its queue, the two others are delivered once; it
#      follows, once, when the core takes it.
# HM_CHAIN_RELAY=lmtp runs every VPN leg through hoprelayd (Postfix's
# lmtp(8) to the daemon on each node); the default is hoprelay by pipe(8).
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"
. "$HM_LIBDIR/chain-nodes.sh"

hm_chain_need
hm_need fail2ban-regex
hm_log "VPN legs: $HM_CHAIN_RELAY"
# How a node's Postfix logs what the next node said: through pipe(8) the
# status line of hoprelay, through lmtp(8) the daemon's reply.
if [ "$HM_CHAIN_RELAY" = lmtp ]; then
	relay_re='relay=[^,]*\[hoprelay/[a-z]+\], '
	said_re='host [^ ]+ said: [0-9]{3} [0-9.]+ '
	edge_said_re='host [^ ]+ said: '
else
	relay_re='relay=hoprelay, '
	said_re=''
	edge_said_re='host 127\.0\.2\.1:[0-9]+ said: '
fi
hm_chain_start hop1 || { hm_fail "the chain did not start"; hm_done; }

# send_in ID IP FROM TO REPLY_ERE: an internet client, and the reply it must get.
send_in() {
	hm_chain_send_in "$1" "$2" "$3" "$4"
	hm_check "$1: $(hm_chain_reply)" hm_reply_has "$5"
}
nowhere() {
	local id
	for id in "$@"; do
		hm_check "$id: no node queued it, nothing delivered it" \
			eval '[ "$(hm_chain_path "$id")" = - ] && [ "$(hm_chain_where "$id")" = - ]'
	done
}

# --- 1. inbound --------------------------------------------------------------
send_in in-good@test 192.0.2.10 alice@pass.example bob@example.com '250 2\.0\.0 Ok: queued'
send_in in-good6@test 2001:db8:25::7 carol@pass.example dave@lists.example.org '250 2\.0\.0 Ok: queued'
send_in in-spf@test 198.51.100.9 alice@pass.example bob@example.com \
	'550 5\.7\.23 SPF validation failed: pass\.example does not allow 198\.51\.100\.9 to send mail for it'
send_in in-spf6@test 2001:db8:99::7 alice@pass.example bob@example.com '550 5\.7\.23 SPF validation failed'
send_in in-banned@test 192.0.2.66 bulk@evil.example bob@example.com '550 5\.7\.1 Sender domain is banned here'
send_in in-banned6@test 2001:db8:66::1 x@mail.evil.example bob@example.com '550 5\.7\.1 Sender domain is banned here'
send_in in-unknown@test 192.0.2.11 alice@pass.example someone@elsewhere.example \
	'550 5\.7\.1 Recipient domain is not served here'
# A burst from one client: the limit is 3 a minute (burst 3), counted in Redis.
for i in 1 2 3; do
	send_in "in-burst$i@test" 192.0.2.77 alice@pass.example bob@example.com '250 2\.0\.0 Ok: queued'
done
for i in 4 5; do
	send_in "in-burst$i@test" 192.0.2.77 alice@pass.example bob@example.com \
		'450 4\.7\.1 Too many messages from your network, try again in [0-9]+ seconds'
done

for id in in-good@test in-good6@test in-burst1@test in-burst2@test in-burst3@test; do
	hm_check "$id: in the core's mailbox" hm_chain_in_mailbox "$id" 30
	hm_check "$id: crossed edge, hop1, core" test "$(hm_chain_path "$id")" = "edge hop1 core"
done
nowhere in-spf@test in-spf6@test in-banned@test in-banned6@test in-unknown@test in-burst4@test in-burst5@test
hm_chain_mailbox_message in-good@test >"$HM_TMP/in-good.eml"
hm_check "good mail: Received from the edge, hop1 and the core, in that order" eval \
	'[ "$(grep -oE "by (mx\.example\.com|hop1\.vpn\.example\.com|core\.example\.com) " "$HM_TMP/in-good.eml" | tr -s " \n" " ")" = \
	"by core.example.com by hop1.vpn.example.com by mx.example.com " ]'
hm_check "good mail: hop1 received it over TLS from the edge" \
	grep -qE 'from edge\.vpn\.example\.com \([^)]*\[127\.0\.2\.1\]\)' "$HM_TMP/in-good.eml"
hm_check "good mail: SPF pass recorded by the edge" \
	grep -q '^Authentication-Results: mx\.example\.com; spf=pass smtp\.mailfrom=pass\.example' "$HM_TMP/in-good.eml"
hm_check "good mail: delivered to bob" grep -q '^Delivered-To: bob@example\.com' "$HM_TMP/in-good.eml"
hm_check "IPv6 good mail to a subdomain: delivered to dave" eval \
	'hm_chain_mailbox_message in-good6@test | grep -q "^Delivered-To: dave@lists\.example\.org"'
hm_check "the rate limit was counted in Redis" eval \
	'hm_redis "$HM_CHAIN_REDIS_PORT" --scan --pattern "hopmilter:*" | grep -q "192\.0\.2\.77"'
log=$HM_TMP/milter.log
for want in 'reason=spf-fail action=reject ip=198\.51\.100\.9 from=<alice@pass\.example>' \
	'reason=spf-fail action=reject ip=2001:db8:99::7 ' \
	'reason=banned-domain action=reject ip=192\.0\.2\.66 ' \
	'reason=banned-domain action=reject ip=2001:db8:66::1 ' \
	'reason=unknown-rcpt-domain action=reject ip=192\.0\.2\.11 .*to=<someone@elsewhere\.example>' \
	'reason=ratelimited action=tempfail ip=192\.0\.2\.77 '; do
	hm_check "edge log: BLOCKED $want" grep -qE "BLOCKED $want" "$log"
done
hm_check "edge log: ACCEPTED with spf=pass" grep -qE 'ACCEPTED ip=192\.0\.2\.10 class=internet .*spf=pass' "$log"

# --- 2. outbound while disabled (the default) -------------------------------
hm_chain_send_out core@example.com friend@outside.example --header "Message-Id: <out-off@example.com>"
hm_check "out-off: the core queued it" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "out-off: refused at the edge (log)" hm_wait_grep \
	'BLOCKED reason=outbound-disabled action=reject ip=127\.0\.2\.2 from=<core@example\.com> to=<friend@outside\.example>' "$log"
hm_check "out-off: hop1 bounced it with the edge's 5.7.1" hm_wait_grep \
	"to=<friend@outside\\.example>, $relay_re.*dsn=5\\.7\\.1, status=bounced \\(${edge_said_re}550 5\\.7\\.1 Outbound mail is disabled" \
	"$HM_TMP/hop1/maillog"
hm_check "out-off: the bounce reached the sender's mailbox" hm_chain_in_mailbox out-off@example.com 30
hm_check "out-off: the bounce says why" eval \
	'hm_chain_mailbox_message out-off@example.com | grep -q "550 5\.7\.1 Outbound mail is"'
hm_check "out-off: nothing reached the internet" eval '! hm_sink_has internet out-off@example.com'

# --- 3. outbound enabled ----------------------------------------------------
hm_check "outbound enabled by a reload" hm_chain_outbound true
# What a user's mail program sends, signed by example.com's DKIM key.
printf '%s\r\n' "From: Core User <core@example.com>" "To: Friend <friend@outside.example>" \
	"Subject: outbound, signed" "Date: Sun, 22 Nov 2026 10:00:00 +0000" "Message-Id: <out-on@example.com>" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "" "Hello from inside." >"$HM_TMP/out-raw.eml"
dkimsign hm example.com "$HM_TMP/pki/dkim.key" <"$HM_TMP/out-raw.eml" >"$HM_TMP/out-signed.eml"
hm_chain_send_out core@example.com friend@outside.example --data "$HM_TMP/out-signed.eml"
hm_check "out-on: the core queued it" hm_reply_has '250 2\.0\.0 Ok: queued'
# A message without Message-ID and Date: the core's Postfix adds them.
nomid="outbound without id $RANDOM"
printf '%s\r\n' "From: core@example.com" "To: friend@outside.example" "Subject: $nomid" "" "No id." \
	>"$HM_TMP/out-nomid.eml"
hm_chain_send_out core@example.com friend@outside.example --data "$HM_TMP/out-nomid.eml"
hm_check "out-on: at the internet sink" hm_sink_wait internet out-on@example.com 30
hm_check "out-on: crossed core, hop1, edge" test "$(hm_chain_path out-on@example.com)" = "edge hop1 core"

# The message as the internet got it: smtp-sink's envelope records and its
# own Received header go, and the empty lines it writes after each message;
# what is left is what the edge sent.
delivered() {
	awk 'BEGIN { s = 1 }
		s == 1 && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
		s == 1 && /^Received: / { s = 2; next }
		s == 2 && /^[ \t]/ { next }
		{ s = 0; print }' "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
# No inner address (VPN, LAN) nor inner name anywhere in the message.
leaks() { grep -nE '127\.0\.2\.|192\.168\.|vpn\.example\.com|lan\.example\.com|\[127\.' "$1"; }
delivered "$(hm_sink_files internet out-on@example.com | head -1)" >"$HM_TMP/out-on.eml"
sed 's/^/    delivered| /' "$HM_TMP/out-on.eml" >&2
hm_check "out-on: no inner address or name in any header or the body" eval '! leaks "$HM_TMP/out-on.eml"'
hm_check "out-on: the message is byte for byte what the user sent (Received headers all removed)" \
	cmp -s <(tr -d '\r' <"$HM_TMP/out-signed.eml") "$HM_TMP/out-on.eml"
hm_check "out-on: the DKIM signature verifies at the internet" \
	hm_in_resolv "$HM_TMP/resolv.conf" dkimverify <"$HM_TMP/out-on.eml"
sed 's/Hello from inside/Hello from outside/' "$HM_TMP/out-on.eml" >"$HM_TMP/out-tampered.eml"
hm_check "out-on: (a changed body fails DKIM: the check can fail)" \
	eval '! hm_in_resolv "$HM_TMP/resolv.conf" dkimverify <"$HM_TMP/out-tampered.eml" 2>/dev/null'
f=$(grep -lF "Subject: $nomid" "$HM_TMP/sink-internet"/m.* 2>/dev/null | head -1)
hm_check "no Message-ID: arrived" test -n "$f"
[ -n "$f" ] && delivered "$f" >"$HM_TMP/out-nomid-delivered.eml"
hm_check "no Message-ID: the core added one with its public myhostname" \
	grep -qE '^Message-Id: <[0-9A-Z.]+@core\.example\.com>$' "$HM_TMP/out-nomid-delivered.eml"
hm_check "no Message-ID: no inner address or name" eval '! leaks "$HM_TMP/out-nomid-delivered.eml"'
# The core's own ways out, signed as the core's OpenDKIM would sign (the
# RFC 6376 list of headers: never Received, never X-).
sign_core() {
	/usr/bin/python3 "$HM_SRCDIR/tests/lib/scrubcorpus.py" sign "$HM_TMP/pki/dkim.key" \
		From To Subject Date Message-Id MIME-Version Content-Type
}
# A web application on the core hands its message to the core's
# sendmail(1): no SMTP, no address of the core's own in the pickup Received
# (its myhostname is public), but the application wrote about its user: a
# Received "with HTTP" naming only inner hosts, the user's LAN address.
printf '%s\r\n' "Received: from laptop.lan.example.com by webmail.lan.example.com with HTTP;" \
	"	Tue, 01 Dec 2026 10:00:00 +0000" "X-Originating-IP: [192.168.7.20]" \
	"X-Mailer-Host: webmail.lan.example.com" "From: Core User <core@example.com>" \
	"To: Friend <friend@outside.example>" "Subject: outbound, local" "Date: Tue, 01 Dec 2026 10:00:00 +0000" \
	"Message-Id: <out-local@example.com>" "MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" \
	"" "Hello from a program on the core." | sign_core | tr -d '\r' >"$HM_TMP/out-local.in"
hm_check "out-local: the core's sendmail(1) took it" hm_chain_sendmail core@example.com friend@outside.example \
	"$HM_TMP/out-local.in"
# A user's tablet on the LAN submits with SASL on the core's submission listener.
printf '%s\r\n' "From: Alice <alice@example.com>" "To: Friend <friend@outside.example>" \
	"Subject: outbound, SASL" "Date: Tue, 01 Dec 2026 10:00:00 +0000" "Message-Id: <out-sasl@example.com>" \
	"MIME-Version: 1.0" "Content-Type: text/plain; charset=us-ascii" "User-Agent: Thunderbird/115.5.0" "" \
	"Hello from a tablet." | sign_core >"$HM_TMP/out-sasl.in"
hm_chain_send_sasl alice@example.com friend@outside.example --data "$HM_TMP/out-sasl.in"
hm_check "out-sasl: the core queued it after AUTH" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "out-sasl: the core's log shows the SASL login" \
	hm_wait_grep 'client=tablet\.lan\.example\.com\[192\.168\.7\.21\], sasl_method=PLAIN, sasl_username=alice' \
	"$HM_TMP/core/maillog"
# Without the password the core's submission listener relays nothing (the check can fail).
hm_swaks --server "127.0.0.1:$HM_CHAIN_SASL_PORT" --xclient-addr 192.168.7.21 --from alice@example.com \
	--to friend@outside.example --header "Message-Id: <out-noauth@example.com>"
hm_check "out-noauth: refused without SASL" hm_reply_has '5[0-9][0-9] '
for id in out-local@example.com out-sasl@example.com; do
	hm_check "${id%@*}: at the internet sink" hm_sink_wait internet "$id" 30
	hm_check "${id%@*}: crossed core, hop1, edge" test "$(hm_chain_path "$id")" = "edge hop1 core"
	delivered "$(hm_sink_files internet "$id" | head -1)" >"$HM_TMP/${id%@*}.eml"
	sed 's/^/    delivered| /' "$HM_TMP/${id%@*}.eml" >&2
	hm_check "${id%@*}: no inner address or name in any header or the body" eval "! leaks '$HM_TMP/${id%@*}.eml'"
	hm_check "${id%@*}: the core's DKIM signature verifies at the internet" \
		hm_in_resolv "$HM_TMP/resolv.conf" dkimverify <"$HM_TMP/${id%@*}.eml"
done
hm_check "out-local: the core's pickup Received (public name) kept" \
	grep -q '^Received: by core\.example\.com (Postfix, from userid 0)' "$HM_TMP/out-local.eml"
# hop1's own Received went in hop1's VPN cleanup (vpn_received_checks); the
# edge removed the web application's and the two headers about the user.
hm_check "out-local: the edge's log names what went" grep -qE \
	'ACCEPTED ip=127\.0\.2\.2 class=trusted from=<core@example\.com> to=<friend@outside\.example> nrcpt=1 refused=0 scrubbed=3 scrubbed_names=Received:1,X-Originating-IP:1,X-Mailer-Host:1 ' "$log"
hm_check "out-sasl: the message is byte for byte what the tablet sent (the core's and hop1's Received removed)" \
	cmp -s <(tr -d '\r' <"$HM_TMP/out-sasl.in") "$HM_TMP/out-sasl.eml"
# The core's Received for the tablet ("(Authenticated sender: alice)", its
# LAN name and address) is the one the edge removed.
hm_check "out-sasl: the edge's log names what went" grep -qE \
	'ACCEPTED ip=127\.0\.2\.2 class=trusted from=<alice@example\.com> to=<friend@outside\.example> nrcpt=1 refused=0 scrubbed=1 scrubbed_names=Received:1 ' "$log"
hm_check "edge log: outbound ACCEPTED from hop1 with Received headers scrubbed" grep -qE \
	'ACCEPTED ip=127\.0\.2\.2 class=trusted from=<core@example\.com> to=<friend@outside\.example> .*scrubbed=[1-9]' "$log"

# --- 4. adding a hop is a configuration change ------------------------------
pids_before=$(for n in edge hop1 core; do cat "$HM_TMP/$n/queue/pid/master.pid"; done | tr -d ' \n')
hm_check "hop2 added (new node, new routes)" hm_chain_add_hop hop2
pids_after=$(for n in edge hop1 core; do cat "$HM_TMP/$n/queue/pid/master.pid"; done | tr -d ' \n')
hm_check "edge, hop1 and core kept running (no restart, no reload)" test "$pids_before" = "$pids_after"
send_in in-two@test 192.0.2.12 alice@pass.example bob@example.com '250 2\.0\.0 Ok: queued'
hm_chain_send_out core@example.com friend@outside.example --header "Message-Id: <out-two@example.com>"
hm_check "in-two: in the mailbox" hm_chain_in_mailbox in-two@test 30
hm_check "in-two: crossed edge, hop1, hop2, core" test "$(hm_chain_path in-two@test)" = "edge hop1 hop2 core"
hm_check "in-two: Received by hop2 below hop1" eval \
	'[ "$(hm_chain_mailbox_message in-two@test | grep -oE "by hop[12]\.vpn" | tr -s " \n" " ")" = "by hop2.vpn by hop1.vpn " ]'
hm_check "out-two: at the internet" hm_sink_wait internet out-two@example.com 30
hm_check "out-two: crossed core, hop2, hop1, edge" \
	test "$(hm_chain_path out-two@example.com)" = "edge hop1 hop2 core"
delivered "$(hm_sink_files internet out-two@example.com | head -1)" >"$HM_TMP/out-two.eml"
hm_check "out-two: no inner address or name" eval '! leaks "$HM_TMP/out-two.eml"'

# --- 5. a hop stops: mail waits in the previous node's queue ----------------
hm_check "hop2 stopped" hm_chain_stop hop2
send_in in-wait@test 192.0.2.13 alice@pass.example bob@example.com '250 2\.0\.0 Ok: queued'
hm_chain_send_out core@example.com friend@outside.example --header "Message-Id: <out-wait@example.com>"
hm_check "in-wait: deferred and queued at hop1" hm_chain_wait_deferred hop1 in-wait@test
hm_check "out-wait: deferred and queued at the core" hm_chain_wait_deferred core out-wait@example.com
hm_check "in-wait: hop1 says why (4.4.1, hop2 refuses connections)" grep -qE \
	"to=<bob@example\.com>, $relay_re.*dsn=4\.4\.1, status=deferred \(${said_re}connect to ${HM_CHAIN_ADDR[hop2]//./\\.}:${HM_CHAIN_PORT[hop2]}" \
	"$HM_TMP/hop1/maillog"
hm_check "in-wait / out-wait: nowhere else" eval \
	'[ "$(hm_chain_where in-wait@test)" = queue:hop1 ] && [ "$(hm_chain_where out-wait@example.com)" = queue:core ]'
hm_check "hop2 back" hm_chain_resume hop2
hm_chain_flush hop1
hm_chain_flush core
hm_check "in-wait: in the mailbox" hm_chain_in_mailbox in-wait@test 30
hm_check "out-wait: at the internet" hm_sink_wait internet out-wait@example.com 30
sleep 2
hm_check "in-wait: delivered once, queues empty" eval \
	'[ "$(hm_chain_mailbox_files in-wait@test | wc -l)" = 1 ] && [ "$(hm_chain_where in-wait@test)" = mailbox ]'
hm_check "out-wait: delivered once, queues empty" eval \
	'[ "$(hm_sink_count internet out-wait@example.com)" = 1 ] && [ "$(hm_chain_where out-wait@example.com)" = internet ]'

# --- 6. alternative hops: a stopped hop is gone around ----------------------
HM_CHAIN_ALT=1 hm_chain_routes
hm_log "edge's route with an alternative:"; sed 's/^/    /' "$HM_TMP/edge/hoprelay.conf" >&2
hm_check "hop1 stopped" hm_chain_stop hop1
send_in in-around@test 192.0.2.14 alice@pass.example bob@example.com '250 2\.0\.0 Ok: queued'
hm_chain_send_out core@example.com friend@outside.example --header "Message-Id: <out-around@example.com>"
hm_check "in-around: in the mailbox" hm_chain_in_mailbox in-around@test 30
hm_check "in-around: edge -> hop2 -> core, hop1 left out" test "$(hm_chain_path in-around@test)" = "edge hop2 core"
hm_check "out-around: at the internet" hm_sink_wait internet out-around@example.com 30
hm_check "out-around: core -> hop2 -> edge" test "$(hm_chain_path out-around@example.com)" = "edge hop2 core"
delivered "$(hm_sink_files internet out-around@example.com | head -1)" >"$HM_TMP/out-around.eml"
hm_check "out-around: no inner address or name (hop2's Received removed at the edge)" \
	eval '! leaks "$HM_TMP/out-around.eml"'

# --- 7. what each node's Postfix logged for hoprelay's deliveries ---------------
# pipe(8) keeps 100 characters of the transport's status line: every
# "status=sent" line must end in hoprelay's whole, compact text (hop, the
# next hop's queue id, TLS and pin), never in a cut "(in reply to ... comman))".
# Through hoprelayd, Postfix's lmtp(8) logs the next hop's own reply, whole.
if [ "$HM_CHAIN_RELAY" = lmtp ]; then
	sent_pat='relay=[^ ]*\[hoprelay/[a-z0-9]+\], .*status=sent'
	sent_re='status=sent \(250 2\.0\.0 Ok: queued as [0-9A-Z]+\)$'
	sent_full=$sent_re
else
	sent_pat='relay=hoprelay, .*status=sent'
	sent_re='status=sent \(delivered via hoprelay service \(2\.0\.0 sent( to [^ ]+)?( as [A-Za-z0-9._-]+)?, (TLSv1\.[23](, pin [0-9]+)?|no TLS)\)\)$'
	sent_full=' as [A-Za-z0-9]+, TLSv1\.[23], pin [0-9]+\)\)$'
fi
for n in "${HM_CHAIN_NODES[@]}"; do
	all=$(grep -cE "$sent_pat" "$HM_TMP/$n/maillog")
	whole=$(grep -E "$sent_pat" "$HM_TMP/$n/maillog" | grep -cE "$sent_re")
	grep -E "$sent_pat" "$HM_TMP/$n/maillog" | grep -vE "$sent_re" | head -3 | sed "s/^/    $n| /" >&2
	hm_check "$n: each of its $all deliveries through the VPN legs logs a whole status text" \
		eval '[ "$all" -gt 0 ] && [ "$whole" = "$all" ] && grep -E "$sent_pat" "$HM_TMP/$n/maillog" | grep -qE "$sent_full"'
done

# --- 8. fail2ban over the edge's log -----------------------------------------
mkdir -p "$HM_TMP/filter.d"
cp "$HM_SRCDIR/fail2ban/filter.d/hopmilter.conf" "$HM_TMP/filter.d/"
ln -sf /etc/fail2ban/filter.d/common.conf "$HM_TMP/filter.d/common.conf"
fail2ban-regex -o ip "$log" "$HM_TMP/filter.d/hopmilter.conf" 2>"$HM_TMP/f2b.err" | sort >"$HM_TMP/f2b.got"
# Hard refusals only: the rate-limit deferrals (192.0.2.77) belong to the
# separate hopmilter-ratelimit jail.
printf '%s\n' 198.51.100.9 2001:db8:99::7 192.0.2.66 2001:db8:66::1 192.0.2.11 |
	sort >"$HM_TMP/f2b.want"
hm_check "fail2ban: the filter loads" test ! -s "$HM_TMP/f2b.err"
cmp -s "$HM_TMP/f2b.want" "$HM_TMP/f2b.got" || diff "$HM_TMP/f2b.want" "$HM_TMP/f2b.got" >&2
hm_check "fail2ban: every refusal at the edge matched with its address, nothing else" \
	cmp -s "$HM_TMP/f2b.want" "$HM_TMP/f2b.got"

# --- 8. one recipient of three deferred by the next node ---------------------
hm_check "hop1 back" hm_chain_resume hop1
HM_CHAIN_ALT=0 hm_chain_routes
postconf -c "$HM_TMP/core/etc" -e \
	"smtpd_recipient_restrictions = check_recipient_access inline:{ {full@example.com = 452 4.2.2 Mailbox full} }"
postfix -c "$HM_TMP/core/etc" reload >/dev/null 2>&1
# Connections the daemons keep open were made before: drop them.
hm_chain_reload_relays
sleep 1
send_in in-three@test 192.0.2.15 alice@pass.example bob@example.com,full@example.com,carol@example.com \
	'250 2\.0\.0 Ok: queued'
three_to() { hm_chain_mailbox_files in-three@test | xargs -r grep -l "^Delivered-To: $1@example\.com" | wc -l; }
hm_check "three: full@ deferred at hop2 with the core's 452" hm_wait_grep \
	"to=<full@example\.com>, $relay_re.*status=deferred .*452 4\.2\.2 .*Mailbox full" "$HM_TMP/hop2/maillog" 30
hm_check "three: bob@ and carol@ delivered" eval 'for _ in $(seq 1 300); do [ "$(three_to bob)" = 1 ] && [ "$(three_to carol)" = 1 ] && break; sleep 0.1; done; [ "$(three_to bob)" = 1 ]'
hm_check "three: ... and carol@" test "$(three_to carol)" = 1
hm_check "three: nothing for full@ yet, and it waits at hop2" \
	eval '[ "$(three_to full)" = 0 ] && hm_chain_queued hop2 in-three@test'
postconf -c "$HM_TMP/core/etc" -X smtpd_recipient_restrictions
postfix -c "$HM_TMP/core/etc" reload >/dev/null 2>&1
hm_chain_reload_relays
sleep 1
hm_chain_flush hop2
for _ in $(seq 1 300); do [ "$(three_to full)" -ge 1 ] && break; sleep 0.1; done
sleep 2
hm_check "three: full@ delivered once the core takes it" test "$(three_to full)" = 1
hm_check "three: every recipient exactly once (bob $(three_to bob), carol $(three_to carol), full $(three_to full))" \
	eval '[ "$(three_to bob)" = 1 ] && [ "$(three_to carol)" = 1 ] && [ "$(hm_chain_mailbox_files in-three@test | wc -l)" = 3 ]'
hm_check "three: queues empty" test "$(hm_chain_where in-three@test)" = mailbox
if [ "$HM_CHAIN_RELAY" = lmtp ]; then
	for n in edge hop1 hop2 core; do
		hm_check "$n's hoprelayd: no sanitizer report" \
			eval '! grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$HM_TMP/$n/hoprelayd.log"'
	done
	hm_check "the daemons reused connections to the next node" grep -q "conn=reused" "$HM_TMP/edge/hoprelayd.log"
fi
hm_export_log "$log"
hm_done
