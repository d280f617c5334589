#!/bin/bash
# Forged authentication headers through real Postfix instances and a real
# OpenDMARC (1.4, Debian 12):
#
#   swaks --XCLIENT--> edge Postfix + hopmilter --> core Postfix + OpenDMARC --> smtp-sink
#
# 1. Authentication-Results claiming our authserv-id in every spelling a
#    forger may try (case, trailing dot, version, comments and folding
#    before and after, quoted) are all deleted before ours is added;
#    someone else's are kept.
# 2. A forged "Received-SPF: pass" above the real softfail: OpenDMARC reads
#    the first Received-SPF when Authentication-Results does not say
#    spf=pass.  hopmilter deletes every Received-SPF an internet client
#    sends, so DMARC (p=reject) rejects the message, with received_spf =
#    true and false alike; OpenDMARC's HistoryFile shows the SPF result it
#    used.  The same header from a trusted client (which hopmilter leaves
#    alone) makes DMARC pass: the forgery works when it survives, so the
#    test can tell.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need postfix smtp-sink swaks opendmarc "$HOPMILTER"
hm_start_spf_dns --txt-record=_dmarc.soft.example,"v=DMARC1; p=reject" ||
	{ hm_fail "DNS world did not start"; hm_done; }

sink_port=$(hm_free_port)
edge_port=$(hm_free_port)
core_port=$(hm_free_port)
milter_port=$(hm_free_port)
dmarc_port=$(hm_free_port)

write_conf() {
	hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
		'log_level = debug' 'authserv_id = "mx.test.invalid"' \
		'trusted_networks = {"127.0.0.0/8", "10.200.0.0/24"}' 'outbound { enabled = true }' \
		"spf { received_spf = $1  dns_timeout = 1s  timeout = 3s }"
}
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

write_conf true
unshare --mount sh -c "$HM_RESOLV_SH" "$HM_TMP/resolv.conf" \
	"$HOPMILTER" -f -c "$HM_TMP/hopmilter.conf" 2>>"$HM_TMP/milter.log" &
HM_MILTER_PID=$!
hm_track "$HM_MILTER_PID"
hm_wait_port 127.0.0.1 "$milter_port" || { hm_fail "hopmilter did not start"; hm_done; }

# OpenDMARC trusts A-R from mx.test.invalid only and does no SPF itself.
# Its syslog goes nowhere here (no /dev/log): the HistoryFile records the
# SPF result it used for each message.
echo "192.0.2.254" >"$HM_TMP/dmarc-ignore"
touch "$HM_TMP/history"
chown nobody "$HM_TMP/history"
cat >"$HM_TMP/opendmarc.conf" <<CONF
Socket inet:$dmarc_port@127.0.0.1
AuthservID core.test.invalid
TrustedAuthservIDs mx.test.invalid
IgnoreHosts $HM_TMP/dmarc-ignore
SPFSelfValidate false
SPFIgnoreResults false
RejectFailures true
HistoryFile $HM_TMP/history
Background false
UserID nobody
CONF
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
# The bounce of a DMARC rejection (to a@soft.example) is discarded: it
# would carry the message's headers to the sink and look delivered.
transport_maps = inline:{ soft.example=discard: }
" || exit 1

# send ID CLIENT FROM HEADERFILE: one message whose header block starts
# with the (folded) lines of HEADERFILE, as the client wrote them.
send() {
	local id=$1 client=$2 from=$3 hdrs=$4 f=$HM_TMP/msg-$1.eml
	{
		cat "$hdrs"
		printf 'From: <%s>\nTo: <bob@example.com>\nSubject: %s\nMessage-Id: <%s>\n\nbody\n' \
			"$from" "$id" "$id"
	} | sed 's/$/\r/' >"$f"
	hm_swaks --server "127.0.0.1:$edge_port" --helo mta.client.example --xclient-addr "$client" \
		--from "$from" --to bob@example.com --data "$f"
}

# 1. Every spelling of our authserv-id, one header each, all in one
# message, around two headers of other authserv-ids.
cat >"$HM_TMP/spellings" <<'HDRS'
Authentication-Results: other.example; dkim=pass header.d=kept-1.example
Authentication-Results: mx.test.invalid; spf=pass smtp.mailfrom=forged-plain.example
Authentication-Results: MX.Test.INVALID; spf=pass smtp.mailfrom=forged-case.example
Authentication-Results: mx.test.invalid.; spf=pass smtp.mailfrom=forged-dot.example
Authentication-Results: mx.test.invalid 1; spf=pass smtp.mailfrom=forged-version.example
Authentication-Results: (sure) mx.test.invalid (really); spf=pass smtp.mailfrom=forged-comments.example
Authentication-Results:
	(folded
	 comment)
	MX.test.invalid.
	 1 ; spf=pass smtp.mailfrom=forged-folded.example
Authentication-Results: "mx.test.invalid"; spf=pass smtp.mailfrom=forged-quoted.example
Authentication-Results: "MX.TEST.INVALID."; spf=pass smtp.mailfrom=forged-quoted-dot.example
Authentication-Results: mx.test.invalid(no space); spf=pass smtp.mailfrom=forged-tight.example
authentication-results: mx.test.invalid; spf=pass smtp.mailfrom=forged-name-case.example
Authentication-Results: mx.test.invalid.evil.example; dkim=pass header.d=kept-2.example
HDRS
send spell-1@test 192.0.2.7 alice@pass.example "$HM_TMP/spellings"
hm_check "spellings: accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "spellings: delivered" hm_sink_wait sink spell-1@test
hm_sink_message sink spell-1@test >"$HM_TMP/spell-1.out"
sed 's/^/    spell-1| /' "$HM_TMP/spell-1.out" >&2
for s in plain case dot version comments folded quoted quoted-dot tight name-case; do
	hm_check "forged A-R ($s) deleted" eval "! grep -q 'forged-$s\.example' '$HM_TMP/spell-1.out'"
done
hm_check "other authserv-ids kept (both)" \
	eval "grep -q 'header.d=kept-1.example' '$HM_TMP/spell-1.out' && grep -q 'header.d=kept-2.example' '$HM_TMP/spell-1.out'"
hm_check "ours is the one A-R of mx.test.invalid" \
	test "$(grep -ci '^Authentication-Results: mx\.test\.invalid[ ;]' "$HM_TMP/spell-1.out")" = 1
hm_check "ours says pass for pass.example" \
	grep -q '^Authentication-Results: mx\.test\.invalid; spf=pass smtp\.mailfrom=pass\.example' "$HM_TMP/spell-1.out"
hm_check "hopmilter logged 10 forged headers" grep -q 'deleting 10 forged Authentication-Results' "$HM_TMP/milter.log"

# 2. A forged Received-SPF: pass for a sender whose SPF is softfail
# (soft.example: ~all, _dmarc p=reject; softfail is accepted by default).
cat >"$HM_TMP/forged-rspf" <<'HDRS'
Received-SPF: pass (mx.test.invalid: domain of soft.example designates 198.51.100.9 as permitted sender)
	client-ip=198.51.100.9; envelope-from="a@soft.example"; helo=mta.client.example;
	receiver=mx.test.invalid; identity=mailfrom;
received-spf: Pass (a second one, lower case) envelope-from="a@soft.example"; identity=mailfrom;
HDRS
: >"$HM_TMP/none"
# history_spf: the "spf" value OpenDMARC recorded for the last message.
history_spf() { grep -E '^spf -?[0-9]+' "$HM_TMP/history" | tail -1 | cut -d' ' -f2; }
wait_history() {
	for _ in $(seq 1 100); do
		[ "$(grep -c '^job ' "$HM_TMP/history")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
jobs=$(grep -c '^job ' "$HM_TMP/history")
# The baseline: the real softfail alone.
send soft-0@test 198.51.100.9 a@soft.example "$HM_TMP/none"
hm_check "softfail alone: accepted at the edge" hm_reply_has '250 2\.0\.0 Ok: queued'
jobs=$((jobs + 1))
hm_check "softfail alone: OpenDMARC wrote its history" wait_history $jobs
soft_spf=$(history_spf)
hm_log "OpenDMARC's spf value for the real softfail: $soft_spf"
# The forgery works when it survives: from a trusted client hopmilter
# leaves the message's headers alone, and DMARC passes on the forged pass.
send trusted-1@test 10.200.0.9 a@soft.example "$HM_TMP/forged-rspf"
jobs=$((jobs + 1))
hm_check "trusted, forged Received-SPF kept: OpenDMARC wrote its history" wait_history $jobs
pass_spf=$(history_spf)
hm_check "trusted, forged Received-SPF kept: delivered, DMARC pass (the attack this test guards)" \
	hm_sink_wait sink trusted-1@test
hm_check "the forged pass is a different SPF result for OpenDMARC ($pass_spf vs $soft_spf)" \
	eval "[ -n '$pass_spf' ] && [ -n '$soft_spf' ] && [ '$pass_spf' != '$soft_spf' ]"
for rs in true false; do
	reload_milter "$rs"
	id=forged-$rs@test
	send "$id" 198.51.100.9 a@soft.example "$HM_TMP/forged-rspf"
	hm_check "received_spf = $rs: accepted at the edge (softfail = accept)" hm_reply_has '250 2\.0\.0 Ok: queued'
	jobs=$((jobs + 1))
	hm_check "received_spf = $rs: OpenDMARC wrote its history" wait_history $jobs
	got=$(history_spf)
	hm_check "received_spf = $rs: OpenDMARC used the real result ($got = $soft_spf), not the forged pass" \
		eval "[ '$got' = '$soft_spf' ]"
	hm_check "received_spf = $rs: the core rejected it by DMARC policy (5.7.1)" \
		hm_wait_grep "status=bounced .*rejected by DMARC policy for soft\.example" "$HM_TMP/edge/maillog"
done
sleep 1
for id in soft-0@test forged-true@test forged-false@test; do
	hm_check "$id never reached the sink" eval "! hm_sink_has sink $id"
done
hm_check "hopmilter logged the deleted Received-SPF headers" \
	grep -q 'deleting 2 Received-SPF header(s) an internet client sent' "$HM_TMP/milter.log"
hm_export_log "$HM_TMP/milter.log"
hm_done
