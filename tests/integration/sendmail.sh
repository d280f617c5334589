#!/bin/bash
# hopmilter under a real Sendmail built from the shipped
# sendmail-conf/hopmilter.mc: the same refusals and replies as under
# Postfix, Sendmail's queue ids in the log, good mail relayed on, and F=T
# turning an unreachable filter into a temporary failure.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/sendmail.sh"

hm_need_sendmail
hm_need swaks smtp-sink "$HOPMILTER"

sink_port=$(hm_free_port)
mta_port=$(hm_free_port)
milter_port=$(hm_free_port)

# Sendmail cannot present chosen client addresses the way XCLIENT does, so
# the clients connect from distinct loopback addresses: 127.0.0.2 plays the
# VPN side (trusted), 127.0.0.7 and ::1 the internet.
cat >"$HM_TMP/hopmilter.conf" <<EOF
socket = "inet:$milter_port@127.0.0.1"
user = "nobody"
trusted_networks = {"127.0.0.2/32"}
allowed_domains = {"example.com", ".example.org"}
banned_domains = {"evil.example"}
spf { enabled = false }
ratelimit { enabled = false }
EOF

hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
hm_sendmail mx "$mta_port" "inet:$milter_port@127.0.0.1" "$sink_port" || { hm_fail "sendmail did not start"; hm_done; }
mx6_port=$(hm_free_port)
hm_sendmail mx6 "$mx6_port" "inet:$milter_port@127.0.0.1" "$sink_port" ::1 || hm_fail "sendmail on ::1 did not start"

S="--server 127.0.0.1:$mta_port"
hm_swaks $S --local-interface 127.0.0.7 --from spam@mail.evil.example --to bob@example.com \
	--header "Message-Id: <sm-banned@test>"
hm_check "banned sender: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Sender domain is banned here'

hm_swaks $S --local-interface 127.0.0.7 --from alice@sender.example \
	--to bob@example.com,carol@other.example --header "Message-Id: <sm-good@test>"
hm_check "foreign recipient: 550 5.7.1 for that one" hm_reply_has '550 5\.7\.1 .*Recipient domain is not served here'
hm_check "the message is accepted for the rest" hm_reply_has '250 2\.0\.0 .*Message accepted for delivery'

hm_swaks $S --local-interface 127.0.0.2 --from core@example.com --to friend@outside.example \
	--header "Message-Id: <sm-outbound@test>"
hm_check "trusted side, outbound disabled: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Outbound mail is disabled'

hm_check "good mail relayed to the next hop" hm_sink_wait sink sm-good@test 40
hm_check "refused mail never relayed" eval '! hm_sink_has sink sm-banned@test && ! hm_sink_has sink sm-outbound@test'

log=$HM_TMP/milter.log
# Sendmail gives the queue id already at MAIL FROM.
hm_check "log: banned-domain with Sendmail's queue id" grep -qE \
	'[0-9A-Za-z]{14}: BLOCKED reason=banned-domain action=reject ip=127\.0\.0\.7 from=<spam@mail\.evil\.example>' "$log"
hm_check "log: unknown-rcpt-domain" grep -qE \
	'BLOCKED reason=unknown-rcpt-domain action=reject ip=127\.0\.0\.7 from=<alice@sender\.example> to=<carol@other\.example>' "$log"
hm_check "log: outbound-disabled for the trusted peer" grep -qE \
	'BLOCKED reason=outbound-disabled action=reject ip=127\.0\.0\.2 ' "$log"
hm_check "log: ACCEPTED" grep -qE \
	'ACCEPTED ip=127\.0\.0\.7 class=internet from=<alice@sender\.example> to=<bob@example\.com> nrcpt=1 refused=1' "$log"

# An IPv6 client (::1 is not trusted here).
hm_swaks --server "[::1]:$mx6_port" --from x@evil.example --to bob@example.com \
	--header "Message-Id: <sm-banned6@test>"
hm_check "IPv6 client, banned sender: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Sender domain is banned here'
hm_check "log: IPv6 client address unwrapped and compressed" grep -qE \
	'BLOCKED reason=banned-domain action=reject ip=::1 from=<x@evil\.example>' "$log"

# F=T: with hopmilter gone, Sendmail answers with a temporary failure and
# accepts nothing unchecked.
hm_export_log "$log"
kill -TERM "$HM_MILTER_PID"
for _ in $(seq 1 100); do kill -0 "$HM_MILTER_PID" 2>/dev/null || break; sleep 0.1; done
hm_swaks $S --local-interface 127.0.0.7 --from alice@sender.example --to bob@example.com \
	--header "Message-Id: <sm-milterdown@test>"
hm_check "filter down: 4xx temporary failure (F=T)" hm_reply_has '4[0-9][0-9] 4\.[0-9]\.[0-9]'
sleep 2
hm_check "filter down: nothing accepted unchecked" eval '! hm_sink_has sink sm-milterdown@test'
hm_done
