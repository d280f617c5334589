#!/bin/bash
# hoprelay against real Postfix next hops with STARTTLS and a CA made at
# test time: CA verification, pin-only, a wrong pin or name or an expired
# certificate (exit 75, and
# not one byte reaches the hop), the second pin of a set, mutual TLS,
# failover from a dead first hop, every hop down, 5xx and 4xx replies,
# and the all-or-nothing rule for several recipients.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink openssl "$HOPRELAY"

sink_port=$(hm_free_port)
hop1_port=$(hm_free_port)
hop2_port=$(hm_free_port)
dead_port=$(hm_free_port)
pki=$HM_TMP/pki

busy="450 4.2.1 Mailbox busy, try later"
hm_tls_two_hops "$sink_port" "$hop1_port" "$hop2_port" "$busy" ||
	{ hm_fail "the TLS next hops did not start"; hm_done; }
hm_ca otherca && hm_cert otherca rogue hop1.test.invalid || { hm_fail "making certificates"; hm_done; }
# A certificate from the right CA, with the right name, that expired in 2020
# (openssl ca: x509 -days cannot date a certificate in the past).
printf '%s\n' "[ca]" "default_ca = old" "[old]" "database = $pki/expired.index" \
	"new_certs_dir = $pki" "serial = $pki/expired.serial" "default_md = sha256" \
	"policy = any" "unique_subject = no" "[any]" "commonName = supplied" "[ext]" \
	"subjectAltName = DNS:hop1.test.invalid,IP:127.0.0.1" "extendedKeyUsage = serverAuth" \
	>"$pki/expired.cnf"
: >"$pki/expired.index"
echo 01 >"$pki/expired.serial"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/expired.key" \
	-out "$pki/expired.csr" -subj /CN=hop1.test.invalid >/dev/null 2>&1 &&
	openssl ca -batch -config "$pki/expired.cnf" -cert "$pki/ca.crt" -keyfile "$pki/ca.key" \
		-in "$pki/expired.csr" -out "$pki/expired.crt" -startdate 20200101000000Z \
		-enddate 20200201000000Z -extensions ext -notext >/dev/null 2>&1 &&
	chmod 0644 "$pki/expired.key" || { hm_fail "making the expired certificate"; hm_done; }
pin_expired=$(hm_pin "$pki/expired.crt")
pin_rogue=$(hm_pin "$pki/rogue.crt")

old_port=$(hm_free_port)
hm_postfix old "$old_port" "$(hm_tls_hop_maincf expired "$sink_port" "$busy")" || exit 1

conf=$HM_TMP/hoprelay.conf
cat >"$conf" <<EOF
log_level = debug
route ca {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop1.test.invalid"
	helo_name = "edge.test.invalid"
}
route ca-by-address {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
}
route pin {
	hops = {"127.0.0.1:$hop1_port"}
	pins = {"$pin1"}
}
route wrongpin {
	hops = {"127.0.0.1:$hop1_port"}
	pins = {"$pin_rogue"}
}
route wrongname {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop9.test.invalid"
}
route expired {
	hops = {"127.0.0.1:$old_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop1.test.invalid"
}
route expired-pin {
	hops = {"127.0.0.1:$old_port"}
	pins = {"$pin_expired"}
}
route wrongca {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/otherca.crt"
	server_name = "hop1.test.invalid"
}
route rotation {
	hops = {"127.0.0.1:$hop1_port"}
	pins = {"$pin_rogue", "$pin1"}
}
route mutual {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop1.test.invalid"
	client_cert = "$pki/edge.crt"
	client_key = "$pki/edge.key"
}
route failover {
	hops = {"127.0.0.1:$dead_port", "127.0.0.1:$hop2_port"}
	pins = {"$pin1", "$pin2"}
}
route source {
	hops = {"127.0.0.1:$hop1_port"}
	pins = {"$pin1"}
	source_address = "127.0.0.2"
}
route source-v6 {
	hops = {"[::1]:$dead_port"}
	pins = {"$pin1"}
	source_address = "127.0.0.2"
}
route alldown {
	hops = {"127.0.0.1:$dead_port", "[::1]:$dead_port"}
	pins = {"$pin1"}
	connect_timeout = 5s
}
EOF

hm_check "hoprelay -n accepts the test configuration" hm_hoprelay -n -c "$conf"

msg() { # MSGID
	printf 'From: a@example.org\nTo: b@example.com\nSubject: test %s\nMessage-Id: <%s>\n\nHello from %s.\n' "$1" "$1" "$1"
}
# relay ROUTE MSGID RCPT...: run hoprelay; exit code in $rc, stderr in $err,
# the first stderr line in $status.  hop1's log is marked first, so that
# hop1_session can show what Postfix counted for the session that follows.
relay() {
	local route=$1 id=$2
	shift 2
	hop1_mark=$(wc -l <"$HM_TMP/hop1/maillog")
	msg "$id" | hm_hoprelay -c "$conf" -e -q "Q$id" -f a@example.org -- "$route" "$@" 2>"$HM_TMP/$id.err"
	rc=$?
	err=$(cat "$HM_TMP/$id.err")
	status=$(head -1 "$HM_TMP/$id.err")
	sed "s/^/    $id| /" "$HM_TMP/$id.err" >&2
}
# hop1_session: the command counts of hop1's first session after the mark,
# as Postfix logs them on disconnect ("ehlo=2 starttls=1 mail=1 rcpt=1 ...").
hop1_session() {
	local i line
	for i in $(seq 1 50); do
		line=$(tail -n +"$((hop1_mark + 1))" "$HM_TMP/hop1/maillog" | grep -m1 'disconnect from')
		if [ -n "$line" ]; then
			echo "${line#*disconnect from unknown\[127.0.0.1\] }"
			return 0
		fi
		sleep 0.1
	done
	echo "(no session)"
}
# no_transaction: the TLS handshake failed and Postfix saw no MAIL FROM.
no_transaction() {
	session=$(hop1_session)
	hm_log "hop1 counted: $session"
	[[ $session == "ehlo=1 starttls=0/1 commands=1/2" ]]
}

# 1. CA verification with the configured name.
relay ca ca-1@test b@example.com
hm_check "CA: exit 0" test "$rc" = 0
hm_check "CA: status line 2.0.0 with the hop, its queue id and TLS (no pin configured)" \
	eval '[[ $status =~ ^2\.0\.0\ sent\ to\ 127\.0\.0\.1:$hop1_port\ as\ [0-9A-Za-z]+,\ TLSv1\.[23]$ ]]'
hm_check "CA: the hop's full reply in the log line" eval 'grep -qE "Qca-1@test: .* result=sent .* reply=\"250 2\.0\.0 Ok: queued as [0-9A-Z]+\"" <<<"$err"'
hm_check "CA: delivered to the sink" hm_sink_wait sink ca-1@test
hm_check "CA: the hop received it over TLS (ESMTPS)" eval 'hm_sink_message sink ca-1@test | grep -q "with ESMTPS"'
hm_check "CA: log line with TLS version and cipher" eval 'grep -qE "Qca-1@test: to=<b@example.com> route=ca hop=127.0.0.1:$hop1_port result=sent status=2.0.0 tls=TLSv1.[23] cipher=[A-Z0-9_-]+ pin=- " <<<"$err"'
hm_check "CA: EHLO used the configured helo_name" eval 'hm_sink_message sink ca-1@test | grep -q "^Received: from edge.test.invalid "'
session=$(hop1_session)
hm_check "CA: one session with EHLO before and after STARTTLS ($session)" test "$session" = "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"

# 2. CA verification against the hop's address (no server_name).
relay ca-by-address ca-2@test b@example.com
hm_check "CA by IP address: exit 0" test "$rc" = 0
hm_check "CA by IP address: delivered" hm_sink_wait sink ca-2@test

# 3. Pin only.
relay pin pin-1@test b@example.com
hm_check "pin: exit 0" test "$rc" = 0
hm_check "pin: delivered" hm_sink_wait sink pin-1@test
hm_check "pin: log says pin 1 of 1 matched" eval 'grep -q "route=pin .* pin=1/1 " <<<"$err"'

# 4. Wrong pin: 75, 4.7.5, and the hop got no transaction at all.
relay wrongpin wrongpin-1@test b@example.com
hm_check "wrong pin: exit 75" test "$rc" = 75
hm_check "wrong pin: status 4.7.5 naming the presented pin" eval '[[ $status == "4.7.5 127.0.0.1:$hop1_port: server key matches no configured pin (it has pin $pin1)" ]]'
hm_check "wrong pin: handshake aborted, the hop saw no MAIL FROM" no_transaction
hm_check "wrong pin: the hop got our alert (bad certificate)" grep -q "alert bad certificate" "$HM_TMP/hop1/maillog"

# 5. Wrong name, wrong CA.
relay wrongname wrongname-1@test b@example.com
hm_check "wrong name: exit 75" test "$rc" = 75
hm_check "wrong name: status 4.7.5 hostname mismatch" eval '[[ $status == "4.7.5 "*"server certificate not trusted: hostname mismatch" ]]'
hm_check "wrong name: the hop saw no MAIL FROM" no_transaction
relay wrongca wrongca-1@test b@example.com
hm_check "wrong CA: exit 75" test "$rc" = 75
hm_check "wrong CA: status 4.7.5 not trusted" eval '[[ $status == "4.7.5 "*"server certificate not trusted: "* ]]'
hm_check "wrong CA: the hop saw no MAIL FROM" no_transaction

# 5b. An expired certificate (right CA, right name): 75 with the reason,
# and the hop saw no transaction.  Pinned alone, its key is the trust
# anchor and the dates do not count (hoprelay.conf(5)).
old_mark=$(wc -l <"$HM_TMP/old/maillog")
relay expired expired-1@test b@example.com
hm_check "expired: exit 75" test "$rc" = 75
hm_check "expired: status 4.7.5 certificate has expired" eval '[[ $status == "4.7.5 "*"server certificate not trusted: certificate has expired" ]]'
sleep 0.5
hm_check "expired: the hop logged the session" eval 'tail -n +"$((old_mark + 1))" "$HM_TMP/old/maillog" | grep -q "disconnect from"'
hm_check "expired: the hop saw no MAIL FROM" eval '! tail -n +"$((old_mark + 1))" "$HM_TMP/old/maillog" | grep -qE " (mail|rcpt|data)=[0-9]"'
relay expired-pin expired-2@test b@example.com
hm_check "expired but pinned: exit 0" test "$rc" = 0
hm_check "expired but pinned: delivered" hm_sink_wait sink expired-2@test

# 6. Key rotation: the second pin of the set matches.
relay rotation rotation-1@test b@example.com
hm_check "second pin of the set: exit 0" test "$rc" = 0
hm_check "second pin of the set: log says pin 2 of 2" eval 'grep -q "route=rotation .* pin=2/2 " <<<"$err"'
hm_check "second pin of the set: delivered" hm_sink_wait sink rotation-1@test

# 7. Mutual TLS: the hop verified the client certificate.
relay mutual mutual-1@test b@example.com
hm_check "mutual TLS: exit 0" test "$rc" = 0
hm_check "mutual TLS: delivered" hm_sink_wait sink mutual-1@test
hm_check "mutual TLS: the hop trusted the client certificate" grep -q "Trusted TLS connection established from" "$HM_TMP/hop1/maillog"
hm_check "mutual TLS: Received names the client CN" eval 'hm_sink_message sink mutual-1@test | grep -q "Client CN \"edge.test.invalid\""'

# 8. First hop down: the second one takes it.
relay failover failover-1@test b@example.com
hm_check "failover: exit 0" test "$rc" = 0
hm_check "failover: the dead hop logged as deferred" eval 'grep -q "route=failover hop=127.0.0.1:$dead_port result=deferred status=4.4.1 .*reason=\"connect to 127.0.0.1:$dead_port: Connection refused\"" <<<"$err"'
hm_check "failover: the second hop took it" eval 'grep -q "route=failover hop=127.0.0.1:$hop2_port result=sent .* pin=2/2 " <<<"$err"'
hm_check "failover: delivered once" test "$(hm_sink_wait sink failover-1@test; hm_sink_count sink failover-1@test)" = 1

# 8b. source_address: the hop sees the connection come from it.
relay source source-1@test b@example.com
hm_check "source_address: exit 0" test "$rc" = 0
hm_check "source_address: the hop saw 127.0.0.2" eval \
	'tail -n +"$((hop1_mark + 1))" "$HM_TMP/hop1/maillog" | grep -q "connect from unknown\[127\.0\.0\.2\]"'
relay source-v6 source-2@test b@example.com
hm_check "source_address of the wrong family: 75 saying so" eval \
	'[[ $rc == 75 && $status == "4.4.1 connect to [::1]:$dead_port: source_address is not of the hop'"'"'s address family" ]]'

# 9. Every hop down: 75 with 4.4.1, both hops named.
relay alldown alldown-1@test b@example.com
hm_check "all hops down: exit 75" test "$rc" = 75
hm_check "all hops down: status 4.4.1 lists both hops" eval '[[ $status == "4.4.1 connect to 127.0.0.1:$dead_port: Connection refused; connect to [::1]:$dead_port: "* ]]'

# 10. 5xx for the recipient: permanent (67), the reply text on stderr.
relay ca bad-1@test bad@example.com
hm_check "5xx rcpt: exit 67 (EX_NOUSER)" test "$rc" = 67
hm_check "5xx rcpt: status line carries the hop's reply" eval '[[ $status == "5.1.1 host 127.0.0.1:$hop1_port said: 550 5.1.1 <bad@example.com>: Recipient address rejected: No such user here (in reply to RCPT TO command)" ]]'

# 11. 4xx for the recipient: 75.
relay ca busy-1@test busy@example.com
hm_check "4xx rcpt: exit 75" test "$rc" = 75
hm_check "4xx rcpt: status 4.2.1 with the reply" eval '[[ $status == "4.2.1 host 127.0.0.1:$hop1_port said: 450 4.2.1 <busy@example.com>: Recipient address rejected: Mailbox busy, try later (in reply to RCPT TO command)" ]]'

# 12. Several recipients are all-or-nothing: one refused, nothing sent.
relay ca multi-1@test b@example.com bad@example.com
hm_check "good+5xx: permanent" test "$rc" = 67
session=$(hop1_session)
hm_check "good+5xx: RSET, no DATA ($session)" test "$session" = "ehlo=2 starttls=1 mail=1 rcpt=1/2 rset=1 quit=1 commands=7/8"
relay ca multi-2@test b@example.com bad@example.com busy@example.com
hm_check "good+5xx+4xx: the 4xx wins (75)" test "$rc" = 75
hm_check "good+5xx+4xx: status is the 4xx" eval '[[ $status == "4.2.1 "* ]]'
relay ca multi-3@test b@example.com c@example.com
hm_check "two good recipients: exit 0" test "$rc" = 0
hm_check "two good recipients: delivered" hm_sink_wait sink multi-3@test

sleep 1
for id in wrongpin-1@test wrongname-1@test expired-1@test wrongca-1@test alldown-1@test bad-1@test busy-1@test multi-1@test multi-2@test; do
	hm_check "$id never reached the sink" eval "! hm_sink_has sink $id"
done
hm_check "no refused message was queued on the hop" \
	eval '! grep -qE "message-id=<(wrong|alldown|bad|busy|multi-[12])" "$HM_TMP/hop1/maillog"'

hm_done
