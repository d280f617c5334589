#!/bin/bash
# Outbound scrubbing through a real Postfix edge: the corpus of real headers
# (tests/corpus/scrub-headers.txt) in one message from a trusted client,
# relayed to smtp-sink; every "remove" entry is gone from the delivered
# message, every "keep" entry is there line for line.  Then a message whose
# DKIM signature (made inside) covers a Received and X-Originating-IP: those
# stay, a warning names them, the signature still verifies at the sink.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
# The Debian python (python3-dkim), whatever python3 comes first in PATH.
PY=/usr/bin/python3
hm_need postfix smtp-sink swaks openssl "$PY" "$HOPMILTER"
"$PY" -c "import dkim" 2>/dev/null || hm_skip "python3-dkim missing"

sink_port=$(hm_free_port)
smtp_port=$(hm_free_port)
milter_port=$(hm_free_port)
corpus=$HM_SRCDIR/tests/corpus/scrub-headers.txt

# The inside as the corpus says; the outbound lists at their defaults.
hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'log_level = debug' \
	'authserv_id = "mx.example.com"' \
	'trusted_networks = {"127.0.0.0/8", "::1/128", "10.200.0.0/24", "fd00:200::/64"}' \
	'internal_networks = {"192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "fd00::/8"}' \
	'internal_names = {".corp.example", "core.internal", "EXCH02.", ".vpn.example.net"}' \
	'outbound { enabled = true }'

hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
hm_postfix edge "$smtp_port" "
relay_domains = static:ALL
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
hopcount_limit = 100
" || exit 1

py=$HM_SRCDIR/tests/lib/scrubcorpus.py
"$PY" "$py" build "$corpus" corpus-1@test >"$HM_TMP/corpus.eml"
hm_swaks --server "127.0.0.1:$smtp_port" --xclient-addr 10.200.0.77 --xclient-name hop9.vpn.example.net \
	--xclient-helo hop9.vpn.example.net --from alice@example.com --to friend@outside.example --data "$HM_TMP/corpus.eml"
hm_check "corpus message: accepted from the trusted side" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "corpus message: at the sink" hm_sink_wait sink corpus-1@test
hm_sink_message sink corpus-1@test >"$HM_TMP/corpus-delivered.eml"
"$PY" "$py" check "$corpus" "$HM_TMP/corpus-delivered.eml" >"$HM_TMP/corpus-check.out" 2>&1
rc=$?
sed 's/^/    corpus| /' "$HM_TMP/corpus-check.out" >&2
hm_check "corpus: every inner header removed, every outside one kept line for line" test "$rc" = 0
nentries=$(grep -cE '^(remove|keep) ' "$corpus")
hm_check "corpus: the check saw the whole corpus ($nentries entries)" eval \
	"[ '$nentries' -ge 90 ] && grep -qx '$nentries entries, 0 wrong' '$HM_TMP/corpus-check.out'"
# Postfix never shows a milter the Received header it writes itself: the
# shipped VPN listener drops it in its own cleanup (postfix-policy.sh and
# chain.sh test that).  Here it is the one line left naming the client.
grep -nE '10\.200\.0\.77|hop9\.vpn\.example\.net' "$HM_TMP/corpus-delivered.eml" | sed 's/^/    client| /' >&2
hm_check "corpus: only the edge's own Received names the trusted client" eval \
	"[ \"\$(grep -cE '10\\.200\\.0\\.77|hop9\\.vpn\\.example\\.net' '$HM_TMP/corpus-delivered.eml')\" = 1 ] &&
	grep -qE '^Received: from [^ ]+ \\(hop9\\.vpn\\.example\\.net \\[10\\.200\\.0\\.77\\]' '$HM_TMP/corpus-delivered.eml'"
hm_check "corpus: the body arrived" grep -q '^The corpus\.' "$HM_TMP/corpus-delivered.eml"
log=$HM_TMP/milter.log
nremove=$(grep -c '^remove ' "$corpus")
hm_check "log: ACCEPTED counts every removal ($nremove) and names them" grep -qE \
	"ACCEPTED ip=10\.200\.0\.77 class=trusted from=<alice@example\.com> to=<friend@outside\.example> nrcpt=1 refused=0 scrubbed=$nremove scrubbed_names=Received:[0-9]+,.*X-Originating-IP:2" "$log"

# --- a DKIM signature made inside ------------------------------------------
openssl genrsa -out "$HM_TMP/dkim.key" 1024 >/dev/null 2>&1
printf '%s\r\n' "Received: by core.corp.example (Postfix, from userid 1000)" \
	"	id 4Xb9Z1SIGN; Tue,  1 Dec 2026 10:00:00 +0000 (UTC)" \
	"X-Originating-IP: [192.168.7.20]" "X-Mailer-Host: laptop.corp.example" \
	"From: alice@example.com" "To: friend@outside.example" "Subject: signed inside" \
	"Message-Id: <signed-1@test>" "" "Signed." >"$HM_TMP/signed-raw.eml"
"$PY" "$py" sign "$HM_TMP/dkim.key" From To Subject Message-Id Received X-Originating-IP \
	<"$HM_TMP/signed-raw.eml" >"$HM_TMP/signed.eml"
hm_check "signed: the signature covers Received and X-Originating-IP" \
	eval "tr -d '\r\n' <'$HM_TMP/signed.eml' | grep -qiE 'h=[^;]*received[^;]*x-originating-ip'"
# A hop's Received above the signature, as the message reaches the edge.
{ printf '%s\r\n' "Received: from core.vpn.example.net (core.vpn.example.net [10.200.0.10])" \
	"	by hop1.vpn.example.net (Postfix) with ESMTPS id 4Xb9Z1HOP1; Tue,  1 Dec 2026 10:00:01 +0000 (UTC)"
  cat "$HM_TMP/signed.eml"; } >"$HM_TMP/signed-hop.eml"
hm_swaks --server "127.0.0.1:$smtp_port" --xclient-addr 10.200.0.10 --from alice@example.com \
	--to friend@outside.example --data "$HM_TMP/signed-hop.eml"
hm_check "signed: accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_check "signed: at the sink" hm_sink_wait sink signed-1@test
# smtp-sink's own records and Received go first: the message as the edge sent it.
hm_sink_message sink signed-1@test | awk 'BEGIN { s = 1 }
	s == 1 && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / { next }
	s == 1 && /^Received: / { s = 2; next }
	s == 2 && /^[ \t]/ { next }
	{ s = 0; print }' >"$HM_TMP/signed-delivered.eml"
sed 's/^/    signed| /' "$HM_TMP/signed-delivered.eml" >&2
hm_check "signed: the covered Received kept" \
	grep -q '^Received: by core\.corp\.example (Postfix, from userid 1000)' "$HM_TMP/signed-delivered.eml"
hm_check "signed: the covered X-Originating-IP kept" \
	grep -q '^X-Originating-IP: \[192\.168\.7\.20\]' "$HM_TMP/signed-delivered.eml"
hm_check "signed: the unsigned X-Mailer-Host removed" \
	eval "! grep -q '^X-Mailer-Host' '$HM_TMP/signed-delivered.eml'"
hm_check "signed: the Received added above the signature removed" \
	eval "! grep -q 'hop1\.vpn\.example\.net' '$HM_TMP/signed-delivered.eml'"
hm_check "signed: the DKIM signature verifies at the sink" \
	"$PY" "$py" verify "$HM_TMP/dkim.key" <"$HM_TMP/signed-delivered.eml"
sed -i 's/^Signed\./Changed./' "$HM_TMP/signed-delivered.eml"
hm_check "signed: (a changed body fails: the check can fail)" \
	eval "! \"$PY\" '$py' verify '$HM_TMP/dkim.key' <'$HM_TMP/signed-delivered.eml'"
hm_check "log: a warning names the kept Received" grep -qE \
	'keeping Received #[0-9]+ \(naming core\.corp\.example\): a DKIM signature covers it; sign after scrubbing' "$log"
hm_check "log: a warning names the kept X-Originating-IP" grep -qE \
	'keeping X-Originating-IP #1 \(listed as X-Originating-IP\): a DKIM signature covers it' "$log"

hm_export_log "$log"
hm_done
