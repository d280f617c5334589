#!/bin/bash
# A real Postfix on loopback with hopmilter as its smtpd milter, smtp-sink as
# every destination, and swaks presenting chosen client addresses with
# XCLIENT.  Asserts the SMTP replies a client sees, what reaches the sink,
# the headers of the delivered message, and the log lines hopmilter writes.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink swaks "$HOPMILTER"

sink_port=$(hm_free_port)
smtp_port=$(hm_free_port)
milter_port=$(hm_free_port)
vpn_port=$(hm_free_port)

hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'log_level = debug' \
	'trusted_networks = {"10.200.0.0/24", "fd00:200::/64"}' \
	'internal_networks = {"10.9.0.0/16"}' \
	'allowed_domains = {"example.com", ".example.org"}' \
	'banned_domains = {"evil.example"}' \
	'outbound { enabled = false  scrub_received = true }'

hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
# The milter guards relaying on its own here: Postfix would relay to any
# domain (relay_domains = static:ALL), so every refusal below is hopmilter's.
hm_postfix edge "$smtp_port" "
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
" "
# The VPN-side listener as shipped in postfix-conf/master.cf.edge: its own
# cleanup drops the Received header Postfix writes (milters never see it).
127.0.0.1:$vpn_port inet n - n - - smtpd
  -o cleanup_service_name=cleanup-vpn
cleanup-vpn unix n - n - 0 cleanup
  -o header_checks=regexp:$HM_SRCDIR/postfix-conf/vpn_received_checks
" || exit 1

S="--server 127.0.0.1:$smtp_port"

# 1. Banned sender domain (and a subdomain of it): 550 5.7.1 at MAIL FROM.
hm_swaks $S --xclient-addr 192.0.2.7 --from spam@evil.example --to user@example.com \
	--header "Message-Id: <banned-1@test>"
hm_check "banned sender refused with 550 5.7.1" hm_reply_has '550 5\.7\.1 Sender domain is banned'
hm_swaks $S --xclient-addr 192.0.2.7 --from spam@mx.Evil.Example. --to user@example.com \
	--header "Message-Id: <banned-2@test>"
hm_check "banned parent domain matches a subdomain" hm_reply_has '550 5\.7\.1 Sender domain is banned'

# 2. Unknown recipient domain: 550 5.7.1 for that recipient only.
hm_swaks $S --xclient-addr 192.0.2.8 --from alice@sender.example --to bob@other.example \
	--header "Message-Id: <unknown-1@test>"
hm_check "unknown recipient domain refused with 550 5.7.1" \
	hm_reply_has '550 5\.7\.1 Recipient domain is not served here'

# 3. Good mail from an IPv6 internet client; one of three recipients is foreign.
hm_swaks $S --xclient-addr IPV6:2001:db8::25 --from alice@sender.example \
	--to bob@example.com,carol@other.example,dave@sub.example.org \
	--header "Message-Id: <good-1@test>"
hm_check "mixed recipients: the foreign one refused" \
	hm_reply_has '550 5\.7\.1 Recipient domain is not served here'
hm_check "mixed recipients: the message accepted" hm_reply_has '250 2\.0\.0 Ok: queued'

# 4. Trusted side, outbound disabled: refused with outbound-disabled.
hm_swaks $S --xclient-addr 10.200.0.3 --from core@example.com --to someone@outside.example \
	--header "Message-Id: <outbound-1@test>"
hm_check "outbound refused while disabled" hm_reply_has '550 5\.7\.1 Outbound mail is disabled'

# 5. Trusted side (through the VPN listener) to a local domain, with Received
# headers naming inner hosts.
hm_swaks --server 127.0.0.1:$vpn_port --xclient-addr 10.200.0.3 --from core@example.com --to bob@example.com \
	--header "Message-Id: <scrub-1@test>" \
	--add-header "Received: from core.inner (core.inner [10.9.1.5]) by hop1 with ESMTPS" \
	--add-header "Received: from [IPv6:2001:db8:feed::9] by mx.outside.example" \
	--add-header "Comments: 10.9.1.5 stays in a header that is neither X- nor listed"
hm_check "trusted mail to a local domain accepted" hm_reply_has '250 2\.0\.0 Ok: queued'

hm_check "good mail reached the sink" hm_sink_wait sink good-1@test
hm_check "trusted mail reached the sink" hm_sink_wait sink scrub-1@test
for id in banned-1@test banned-2@test unknown-1@test outbound-1@test; do
	hm_check "refused $id never reached the sink" eval "! hm_sink_has sink $id"
done

# The scrubbed message: the inner Received lines are gone (hopmilter removed
# the one it saw, the VPN listener's cleanup the one Postfix wrote for the
# client 10.200.0.3); the foreign one and every other header stay.
hm_sink_message sink scrub-1@test >"$HM_TMP/scrub-1.eml"
hm_check "Received naming 10.9.1.5 removed" eval "! grep -q 'Received: from core.inner' '$HM_TMP/scrub-1.eml'"
hm_check "Received naming the trusted client removed" eval "! grep -q '10\.200\.0\.3' '$HM_TMP/scrub-1.eml'"
hm_check "foreign Received kept" grep -q 'Received: from \[IPv6:2001:db8:feed::9\]' "$HM_TMP/scrub-1.eml"
hm_check "other headers untouched" grep -q "^Comments: 10.9.1.5 stays" "$HM_TMP/scrub-1.eml"

log=$HM_TMP/milter.log
hm_check "log: banned-domain line" grep -qE \
	'NOQUEUE: BLOCKED reason=banned-domain action=reject ip=192\.0\.2\.7 from=<spam@evil\.example>' "$log"
hm_check "log: unknown-rcpt-domain line for the IPv6 client" grep -qE \
	'BLOCKED reason=unknown-rcpt-domain action=reject ip=2001:db8::25 from=<alice@sender\.example> to=<carol@other\.example>' "$log"
hm_check "log: outbound-disabled line" grep -qE \
	'BLOCKED reason=outbound-disabled action=reject ip=10\.200\.0\.3 ' "$log"
hm_check "log: ACCEPTED line with the queue id" grep -qE \
	'[0-9A-Za-z]+: ACCEPTED ip=2001:db8::25 class=internet from=<alice@sender\.example> to=<bob@example\.com>,<dave@sub\.example\.org> nrcpt=2 refused=1' "$log"
hm_check "log: one Received header scrubbed by hopmilter" grep -qE \
	'ACCEPTED ip=10\.200\.0\.3 class=trusted .* scrubbed=1' "$log"

hm_export_log "$log"
hm_done
