#!/bin/bash
# SPF through real Postfix instances, with the SPF and DMARC records served
# by dnsmasq (tests/lib/spfdns.sh) and visible only inside private mount
# namespaces:
#
#   swaks --XCLIENT--> edge Postfix + hopmilter --> core Postfix + OpenDMARC --> smtp-sink
#
# Asserts the replies a client sees (550 5.7.23 with the domain's
# explanation, 451 4.7.24), that a temperror from silent DNS never trips
# Postfix's milter timeout, that a forged Authentication-Results claiming
# our authserv-id never reaches the sink, where our headers sit, and that a
# real OpenDMARC (1.4) accepts our Authentication-Results and our
# Received-SPF each on its own: DMARC passes with either, fails with neither.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need postfix smtp-sink swaks opendmarc "$HOPMILTER"
hm_start_spf_dns || { hm_fail "DNS world did not start"; hm_done; }

sink_port=$(hm_free_port)
edge_port=$(hm_free_port)
core_port=$(hm_free_port)
milter_port=$(hm_free_port)
dmarc_port=$(hm_free_port)

write_conf() {
	hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
		'log_level = debug' "authserv_id = \"$1\"" \
		"spf { enabled = $2  received_spf = $3  dns_timeout = 1s  timeout = 3s }"
}
# hm_reload_milter AUTHSERV_ID ENABLED RECEIVED_SPF: new config, SIGUSR1, wait.
reload_milter() {
	local n
	n=$(grep -c 'reloaded ' "$HM_TMP/milter.log")
	write_conf "$@"
	kill -USR1 "$HM_MILTER_PID"
	for _ in $(seq 1 50); do
		[ "$(grep -c 'reloaded ' "$HM_TMP/milter.log")" -gt "$n" ] && return 0
		sleep 0.1
	done
	hm_fail "hopmilter did not reload"
}

write_conf mx.test.invalid true true
unshare --mount sh -c "$HM_RESOLV_SH" "$HM_TMP/resolv.conf" \
	"$HOPMILTER" -f -c "$HM_TMP/hopmilter.conf" 2>>"$HM_TMP/milter.log" &
HM_MILTER_PID=$!
hm_track "$HM_MILTER_PID"
hm_wait_port 127.0.0.1 "$milter_port" || { hm_fail "hopmilter did not start"; hm_done; }

# OpenDMARC on the core trusts A-R from mx.test.invalid and does no SPF of
# its own: a DMARC pass can only come from the headers hopmilter wrote.
echo "192.0.2.254" >"$HM_TMP/dmarc-ignore"
cat >"$HM_TMP/opendmarc.conf" <<EOF
Socket inet:$dmarc_port@127.0.0.1
AuthservID core.test.invalid
TrustedAuthservIDs mx.test.invalid
IgnoreHosts $HM_TMP/dmarc-ignore
SPFSelfValidate false
SPFIgnoreResults false
RejectFailures false
Background false
UserID nobody
EOF
unshare --mount sh -c "$HM_RESOLV_SH" "$HM_TMP/resolv.conf" opendmarc -f -c "$HM_TMP/opendmarc.conf" \
	>"$HM_TMP/opendmarc.log" 2>&1 &
hm_track $!
hm_wait_port 127.0.0.1 "$dmarc_port" || { cat "$HM_TMP/opendmarc.log" >&2; hm_fail "opendmarc did not start"; hm_done; }

hm_start_sink sink "$sink_port"
hm_postfix core "$core_port" "
relay_domains = example.com
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$dmarc_port, default_action=tempfail }
" || exit 1
hm_postfix edge "$edge_port" "
relay_domains = example.com
smtpd_relay_restrictions = reject_unauth_destination
relay_transport = smtp:[127.0.0.1]:$core_port
default_transport = smtp:[127.0.0.1]:$core_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
" || exit 1

S="--server 127.0.0.1:$edge_port"
H="--helo mta.client.example"

# 1. fail: 550 5.7.23 carrying the domain's own explanation (it has spaces).
hm_swaks $S $H --xclient-addr 198.51.100.9 --from eve@expl.example --to bob@example.com \
	--header "Message-Id: <fail-1@test>"
hm_check "fail: 550 5.7.23 with the domain's explanation" \
	hm_reply_has '550 5\.7\.23 SPF validation failed: Mail from 198\.51\.100\.9 is not accepted for expl\.example'
hm_swaks $S $H --xclient-addr IPV6:2001:db8:99::7 --from alice@pass.example --to bob@example.com \
	--header "Message-Id: <fail-2@test>"
hm_check "IPv6 fail: 550 5.7.23 with our default explanation" \
	hm_reply_has '550 5\.7\.23 SPF validation failed: pass\.example does not allow 2001:db8:99::7 to send mail for it$'

# 2. temperror from SERVFAIL: 451 4.7.24.
hm_swaks $S $H --xclient-addr 198.51.100.9 --from bob@servfail.example --to bob@example.com \
	--header "Message-Id: <temp-1@test>"
hm_check "SERVFAIL: 451 4.7.24" hm_reply_has '451 4\.7\.24 Temporary error in SPF validation'

# 3. A silent DNS server behind both the HELO name and the sender's domain,
# then a good message in the same SMTP session: the milter answered within
# Postfix's command_timeout (after a milter timeout Postfix would refuse
# the second MAIL itself with 451 4.7.1).  The time it took is logged, not
# asserted (a busy machine); the budget logic has its unit test.
exec 8<>"/dev/tcp/127.0.0.1/$edge_port"
smtp() { [ -n "$1" ] && printf '%s\r\n' "$1" >&8; local l; while IFS= read -r -t 30 l <&8; do
	echo "    smtp| $l" >&2; echo "$l" >>"$HM_TMP/session.out"; [ "${l:3:1}" = "-" ] || break; done; }
smtp ""
smtp "EHLO mta.silent.example"
smtp "XCLIENT ADDR=192.0.2.7"
smtp "EHLO mta.silent.example"
t0=$(date +%s%N)
smtp "MAIL FROM:<bob@silent.example>"
hm_log "MAIL with silent DNS answered after $((($(date +%s%N) - t0) / 1000000))ms (dns_timeout 1s, timeout 3s)"
smtp "RSET"
smtp "EHLO mta.client.example"
smtp "MAIL FROM:<alice@pass.example>"
smtp "QUIT"
exec 8<&- 8>&-
hm_check "silent DNS: 451 4.7.24, not a milter timeout" grep -q '^451 4\.7\.24 ' "$HM_TMP/session.out"
hm_check "silent DNS: the milter still answers in that session" grep -q '^250 2\.1\.0 Ok' "$HM_TMP/session.out"
hm_check "silent DNS: Postfix saw no milter timeout" eval "! grep -q 'milter.*timed out\|can.t read SMFIC_MAIL reply' '$HM_TMP/edge/maillog'"

# 4. pass, with forged A-R headers claiming our authserv-id.
hm_swaks $S $H --xclient-addr 192.0.2.7 --from alice@pass.example --to bob@example.com \
	--header "Message-Id: <pass-1@test>" --header "From: Alice <alice@pass.example>" \
	--add-header "Authentication-Results: mx.test.invalid; spf=pass smtp.mailfrom=evil.example" \
	--add-header "Authentication-Results: (comment) MX.TEST.INVALID; dmarc=pass header.from=evil.example" \
	--add-header "Authentication-Results: other.example; dkim=pass"
hm_check "pass: accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "pass: delivered" hm_sink_wait sink pass-1@test
hm_sink_message sink pass-1@test >"$HM_TMP/pass-1.eml"
sed 's/^/    pass-1| /' "$HM_TMP/pass-1.eml" >&2
hm_check "forged A-R never reaches the sink" eval "! grep -qi 'evil\.example' '$HM_TMP/pass-1.eml'"
hm_check "exactly one A-R claims mx.test.invalid (ours)" \
	test "$(grep -ci '^Authentication-Results: mx\.test\.invalid;' "$HM_TMP/pass-1.eml")" = 1
hm_check "our A-R" grep -q '^Authentication-Results: mx\.test\.invalid; spf=pass smtp\.mailfrom=pass\.example$' "$HM_TMP/pass-1.eml"
hm_check "someone else's A-R kept" grep -q '^Authentication-Results: other\.example; dkim=pass' "$HM_TMP/pass-1.eml"
hm_check "Received-SPF" grep -q '^Received-SPF: pass (mx\.test\.invalid: domain of pass\.example designates 192\.0\.2\.7 as permitted sender)' "$HM_TMP/pass-1.eml"
rs=$(grep -n '^Received-SPF:' "$HM_TMP/pass-1.eml" | head -1 | cut -d: -f1)
rcv=$(grep -n 'by edge\.test\.invalid' "$HM_TMP/pass-1.eml" | head -1 | cut -d: -f1)
hm_check "Received-SPF above the edge's Received ($rs < $rcv)" test "${rs:-99}" -lt "${rcv:-0}"
hm_check "OpenDMARC: dmarc=pass from both headers" \
	grep -q '^Authentication-Results: core\.test\.invalid; dmarc=pass (p=reject dis=none) header\.from=pass\.example' "$HM_TMP/pass-1.eml"

# 5. Authentication-Results alone (no Received-SPF): OpenDMARC still passes.
reload_milter mx.test.invalid true false
hm_swaks $S $H --xclient-addr 192.0.2.7 --from alice@pass.example --to bob@example.com \
	--header "Message-Id: <pass-ar@test>" --header "From: alice@pass.example"
hm_sink_wait sink pass-ar@test
hm_sink_message sink pass-ar@test >"$HM_TMP/pass-ar.eml"
hm_check "A-R only: no Received-SPF" eval "! grep -q '^Received-SPF:' '$HM_TMP/pass-ar.eml'"
hm_check "A-R only: OpenDMARC dmarc=pass" grep -q 'core\.test\.invalid; dmarc=pass ' "$HM_TMP/pass-ar.eml"

# 6. Received-SPF alone (our A-R names an id OpenDMARC does not trust).
reload_milter other.test.invalid true true
hm_swaks $S $H --xclient-addr 192.0.2.7 --from alice@pass.example --to bob@example.com \
	--header "Message-Id: <pass-rspf@test>" --header "From: alice@pass.example"
hm_sink_wait sink pass-rspf@test
hm_sink_message sink pass-rspf@test >"$HM_TMP/pass-rspf.eml"
hm_check "Received-SPF only: OpenDMARC dmarc=pass" grep -q 'core\.test\.invalid; dmarc=pass ' "$HM_TMP/pass-rspf.eml"

# 7. Neither (SPF off): the same message fails DMARC, so the passes above
# came from hopmilter's headers.
reload_milter mx.test.invalid false true
hm_swaks $S $H --xclient-addr 192.0.2.7 --from alice@pass.example --to bob@example.com \
	--header "Message-Id: <nospf@test>" --header "From: alice@pass.example"
hm_sink_wait sink nospf@test
hm_sink_message sink nospf@test >"$HM_TMP/nospf.eml"
hm_check "no SPF headers: OpenDMARC dmarc=fail" grep -q 'core\.test\.invalid; dmarc=fail ' "$HM_TMP/nospf.eml"

for id in fail-1@test fail-2@test temp-1@test; do
	hm_check "refused $id never reached the sink" eval "! hm_sink_has sink $id"
done
log=$HM_TMP/milter.log
hm_check "log: spf-fail line" grep -qE \
	'NOQUEUE: BLOCKED reason=spf-fail action=reject ip=198\.51\.100\.9 from=<eve@expl\.example> helo=mta\.client\.example' "$log"
hm_check "log: spf-temperror line" grep -qE \
	'BLOCKED reason=spf-temperror action=tempfail ip=198\.51\.100\.9 from=<bob@servfail\.example>' "$log"
hm_check "log: ACCEPTED with spf=pass" grep -qE \
	'[0-9A-Za-z]+: ACCEPTED ip=192\.0\.2\.7 class=internet from=<alice@pass\.example> .* spf=pass$' "$log"
hm_export_log "$log"
hm_done
