#!/bin/bash
# hoprelayd, the LMTP daemon, against real Postfix next hops with STARTTLS
# (pins, CA and name), misbehaving servers (tests/lib/fakesmtp.py), a
# small LMTP client (tests/lib/lmtpc.py) and a real Postfix lmtp(8) in
# front: per-recipient replies mirror the hop, nothing is acknowledged
# before the hop acknowledged it, connections are reused (RSET) and TLS
# sessions resumed, a reload swaps pins, and the session limit holds.
. "$(dirname "$0")/../lib/harness.sh"

HOPRELAYD=${HOPRELAYD:-$HM_BUILDDIR/relay-transport/hoprelayd}
hm_need_root
hm_need postfix smtp-sink openssl /usr/bin/python3 "$HOPRELAYD"

sink_port=$(hm_free_port)
hop1_port=$(hm_free_port)
hop2_port=$(hm_free_port)
dead_port=$(hm_free_port)
inject_port=$(hm_free_port)
edge_port=$(hm_free_port)
pki=$HM_TMP/pki
sockdir=$HM_TMP/sock
# As installed: the directory is setgid to Postfix's group, so the sockets
# (mode 0660) are Postfix's to connect to.
mkdir -p "$sockdir" "$HM_TMP/sock2"
chgrp postfix "$sockdir" "$HM_TMP/sock2"
chmod 2750 "$sockdir" "$HM_TMP/sock2"

hm_tls_two_hops "$sink_port" "$hop1_port" "$hop2_port" "452 4.2.2 Mailbox full, try later" ||
	{ hm_fail "the TLS next hops did not start"; hm_done; }
# A certificate with hop1's name from the right CA, but not hop1's key.
hm_cert ca rogue hop1.test.invalid && hm_cert ca fake fake.test.invalid ||
	{ hm_fail "making certificates"; hm_done; }
pin_rogue=$(hm_pin "$pki/rogue.crt")
pin_fake=$(hm_pin "$pki/fake.crt")
/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakesmtp.py" --port "$inject_port" --log "$HM_TMP/inject.log" \
	--keywords "STARTTLS,PIPELINING,8BITMIME" --inject 2>>"$HM_TMP/inject.stderr" &
hm_track $!
hm_wait_port 127.0.0.1 "$inject_port"
notls_port=$(hm_free_port)
/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakesmtp.py" --port "$notls_port" --log "$HM_TMP/notls.log" \
	--keywords "PIPELINING,8BITMIME" 2>>"$HM_TMP/notls.stderr" &
hm_track $!
hm_wait_port 127.0.0.1 "$notls_port"
touch "$HM_TMP/notls.log"
no8_port=$(hm_free_port)
/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakesmtp.py" --port "$no8_port" --log "$HM_TMP/no8.log" \
	--keywords "PIPELINING" 2>>"$HM_TMP/no8.stderr" &
hm_track $!
hm_wait_port 127.0.0.1 "$no8_port"
touch "$HM_TMP/no8.log"
# A listener that accepts and never says a word.
silent_port=$(hm_free_port)
/usr/bin/python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); c=[]
while True: c.append(s.accept()[0])' "$silent_port" &
hm_track $!
hm_wait_port 127.0.0.1 "$silent_port"

conf=$HM_TMP/hoprelay.conf
write_conf() { # PIN_FOR_ROUTE_pin
	cat >"$conf" <<EOF
log_level = debug
route pin { hops = {"127.0.0.1:$hop1_port"}  pins = {"$1"} }
route ca {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop1.test.invalid"
}
route wrongname {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop9.test.invalid"
}
route wrongpin { hops = {"127.0.0.1:$hop1_port"}  pins = {"$pin_rogue"} }
route failover { hops = {"127.0.0.1:$dead_port", "127.0.0.1:$hop2_port"}  pins = {"$pin1", "$pin2"} }
route alldown {
	hops = {"127.0.0.1:$dead_port", "[::1]:$dead_port"}
	pins = {"$pin1"}
	connect_timeout = 5s
}
route inject { hops = {"127.0.0.1:$inject_port"}  pins = {"$pin_fake"} }
route rotation { hops = {"127.0.0.1:$hop1_port"}  pins = {"$pin_rogue", "$pin1"} }
route mutual {
	hops = {"127.0.0.1:$hop1_port"}
	ca_file = "$pki/ca.crt"
	server_name = "hop1.test.invalid"
	client_cert = "$pki/edge.crt"
	client_key = "$pki/edge.key"
}
route required { hops = {"127.0.0.1:$notls_port"}  pins = {"$pin_fake"} }
route opportunistic { hops = {"127.0.0.1:$notls_port"}  tls = opportunistic }
route no8 { hops = {"127.0.0.1:$no8_port"}  tls = none }
route silent { hops = {"127.0.0.1:$silent_port"}  tls = none  greeting_timeout = 10s }
EOF
}
write_conf "$pin1"

hm_check "hoprelayd -n accepts the configuration" "$HOPRELAYD" -n -c "$conf"
printf 'route bad {\n  hops = {"127.0.0.1:99999"}\n}\n' >"$HM_TMP/bad.conf"
"$HOPRELAYD" -n -c "$HM_TMP/bad.conf" 2>"$HM_TMP/bad.err"
rc=$?
hm_check "bad configuration: exit 78" test "$rc" = 78
hm_check "bad configuration: FILE:LINE: reason" grep -q "^hoprelayd: $HM_TMP/bad.conf:2: " "$HM_TMP/bad.err"
printf 'route "a/b" { hops = {"127.0.0.1:25"} }\n' >"$HM_TMP/slash.conf"
"$HOPRELAYD" -n -c "$HM_TMP/slash.conf" 2>"$HM_TMP/slash.err"
rc=$?
hm_check "a route name with '/' (it names a socket): exit 78" test "$rc" = 78

dlog=$HM_TMP/hoprelayd.log
# shellcheck disable=SC2086
${HM_WRAP:-} "$HOPRELAYD" -e -c "$conf" -s "$sockdir" -m 30 -H 4 -k 30 -t 20 >>"$dlog" 2>&1 </dev/null &
dpid=$!
hm_track "$dpid"
hm_wait_grep "started:" "$dlog" 60 || { hm_fail "hoprelayd did not start"; cat "$dlog" >&2; hm_done; }
hm_check "a socket per route" test -S "$sockdir/failover" -a -S "$sockdir/inject"
hm_check "sockets are 0660" test "$(stat -c %a "$sockdir/pin")" = 660

msg() { printf 'From: a@example.org\nSubject: test %s\nMessage-Id: <%s>\n\nHello from %s.\n%s' "$1" "$1" "$1" "${2:-}"; }
# lmtp ROUTE MSGID RCPT... : one transaction; replies in $out
lmtp() {
	local route=$1 id=$2 r
	shift 2
	local args=()
	for r in "$@"; do args+=(--rcpt "$r"); done
	out=$(msg "$id" "${BODY_EXTRA:-}" | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" \
		--socket "$sockdir/$route" --timeout 30 "${args[@]}")
	sed "s/^/    $id| /" <<<"$out" >&2
}
has() { grep -qE -- "$1" <<<"$out"; }
dlog_has() { grep -qE -- "$1" "$dlog"; }

# 1. Pin: one recipient, delivered over TLS; the reply after DATA is the hop's.
lmtp pin pin-1@test b@example.com
hm_check "pin: MAIL mirrors the hop's 250" has '^MAIL 250 2\.1\.0 Ok'
hm_check "pin: RCPT mirrors the hop's 250" has '^RCPT <b@example.com> 250 2\.1\.5 Ok'
hm_check "pin: one reply after DATA, the hop's queue id" has '^DOT <b@example.com> 250 2\.0\.0 Ok: queued as '
hm_check "pin: delivered" hm_sink_wait sink pin-1@test
hm_check "pin: over TLS (ESMTPS)" eval 'hm_sink_message sink pin-1@test | grep -q "with ESMTPS"'
hm_check "pin: log line names route, hop, TLS and pin 1" dlog_has "L[0-9]+: to=<b@example.com> route=pin hop=127.0.0.1:$hop1_port result=sent status=2.0.0 conn=new tls=TLSv1.3 cipher=[A-Z0-9_]+ pin=1 "

# 2. The next message reuses the connection (after an RSET probe).
lmtp pin pin-2@test b@example.com
hm_check "reuse: delivered" hm_sink_wait sink pin-2@test
hm_check "reuse: log says conn=reused" dlog_has "to=<b@example.com> route=pin .* result=sent .* conn=reused "
hm_check "reuse: the hop saw one connection for both" \
	eval '[[ $(grep -c "TLS connection established" "$HM_TMP/hop1/maillog") == 1 ]]'

# 3. Three recipients, the hop defers one (452) and refuses one (550):
#    each gets the hop's own reply; the accepted ones get the DATA reply.
lmtp pin three-1@test b@example.com busy@example.com bad@example.com c@example.com
hm_check "per recipient: 452 for busy@ mirrored" has '^RCPT <busy@example.com> 452 4\.2\.2 .*Mailbox full'
hm_check "per recipient: 550 for bad@ mirrored" has '^RCPT <bad@example.com> 550 5\.1\.1 .*No such user'
hm_check "per recipient: two DATA replies, for b@ and c@ only" \
	eval '[[ $(grep -c "^DOT " <<<"$out") == 2 ]] && has "^DOT <b@example.com> 250 " && has "^DOT <c@example.com> 250 "'
hm_check "per recipient: delivered once" eval '[[ $(hm_sink_wait sink three-1@test; hm_sink_count sink three-1@test) == 1 ]]'
hm_check "per recipient: the hop's copy is for b@ and c@ only" \
	eval 'hm_sink_message sink three-1@test | grep -qi "RCPT TO:<c@example.com>\|to=<c@example.com>\|c@example.com" && ! hm_sink_message sink three-1@test | grep -q "busy@example.com"'

# 4. CA and name.
lmtp ca ca-1@test b@example.com
hm_check "CA: delivered" has '^DOT <b@example.com> 250 2\.0\.0'
lmtp wrongname wrongname-1@test b@example.com
hm_check "wrong name: MAIL gets 451 4.7.5 naming the name" has '^MAIL 451 4\.7\.5 .*not trusted: hostname mismatch'

# 5. Wrong pin: 451 4.7.5 at MAIL, and the hop never saw a MAIL FROM.
mark=$(wc -l <"$HM_TMP/hop1/maillog")
lmtp wrongpin wrongpin-1@test b@example.com
hm_check "wrong pin: MAIL gets 451 4.7.5 with the presented pin" has "^MAIL 451 4\\.7\\.5 .*matches no configured pin \\(it has pin ${pin1//+/\\+}\\)"
hm_check "wrong pin: no RCPT was tried" eval '! has "^RCPT"'
sleep 1
hm_check "wrong pin: the hop got no transaction" eval '! tail -n +$((mark + 1)) "$HM_TMP/hop1/maillog" | grep -q "from=<a@example.org>"'

# 6. STARTTLS command injection: 451 4.7.0, nothing after STARTTLS.
lmtp inject inject-1@test b@example.com
hm_check "injection: MAIL gets 451 4.7.0" has '^MAIL 451 4\.7\.0 .*command injection'
hm_check "injection: nothing sent after STARTTLS" eval '[[ $(sed -n "/^C: STARTTLS/,\$p" "$HM_TMP/inject.log" | grep -c "^C: ") == 1 ]]'

# 6b. The rest of the TLS policy, as relay-tls.sh and relay-protocol.sh
#     check it for the pipe mode.
lmtp rotation rotation-1@test b@example.com
hm_check "second pin of the set: delivered, log says pin=2" eval 'has "^DOT <b@example.com> 250 2\.0\.0" && dlog_has "route=rotation .* result=sent .* pin=2 "'
lmtp mutual mutual-1@test b@example.com
hm_check "mutual TLS: delivered" hm_sink_wait sink mutual-1@test
hm_check "mutual TLS: the hop trusted the client certificate" grep -q "Trusted TLS connection established from" "$HM_TMP/hop1/maillog"
lmtp required notls-1@test b@example.com
hm_check "no STARTTLS, required: 451 4.7.4 at MAIL" has '^MAIL 451 4\.7\.4 .*does not offer STARTTLS'
hm_check "no STARTTLS, required: the server got no MAIL FROM" eval '! grep -q "^C: MAIL" "$HM_TMP/notls.log"'
lmtp opportunistic notls-2@test b@example.com
hm_check "no STARTTLS, opportunistic: delivered in the clear" eval 'has "^DOT <b@example.com> 250 " && grep -q "^DATA-END" "$HM_TMP/notls.log"'

# 6c. A silent hop holds only its own session: another route delivers
#     meanwhile (it is done while the silent one still waits), and the
#     silent one gets 451 after its greeting_timeout (10 s).
t0=$(date +%s)
(msg silent-1@test | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/silent" \
	--rcpt b@example.com --timeout 60 >"$HM_TMP/silent.out"; date +%s >"$HM_TMP/silent.end") &
silent_client=$!
sleep 0.5
lmtp pin notstalled-1@test b@example.com
hm_check "silent hop: another route delivered meanwhile, while the silent one still waited" \
	eval 'has "^DOT <b@example.com> 250 2\.0\.0" && [ ! -e "$HM_TMP/silent.end" ]'
wait "$silent_client"
hm_check "silent hop: 451 4.4.2 at MAIL after the greeting timeout ($(( $(cat "$HM_TMP/silent.end") - t0 )) s, limit 10 s, margin 30 s)" \
	eval 'grep -q "^MAIL 451 4\.4\.2 .*initial greeting" "$HM_TMP/silent.out" && [ $(( $(cat "$HM_TMP/silent.end") - t0 )) -lt 40 ]'

# 7. Failover: the first hop is dead, the second takes it.
lmtp failover failover-1@test b@example.com
hm_check "failover: delivered through hop2" has '^DOT <b@example.com> 250 2\.0\.0'
hm_check "failover: the dead hop logged as deferred" dlog_has "route=failover hop=127.0.0.1:$dead_port result=deferred status=4\\.4\\.1"
hm_check "failover: sent through hop2" dlog_has "route=failover hop=127.0.0.1:$hop2_port result=sent"

# 8. Every hop down: 451 4.4.1 with both causes; the MTA keeps the message.
lmtp alldown alldown-1@test b@example.com
hm_check "all down: MAIL gets 451 4.4.1" has '^MAIL 451 4\.4\.1 '
hm_check "all down: both hops named" eval "has '127\\.0\\.0\\.1:$dead_port' && has '\\[::1\\]:$dead_port'"

# 9. Message data: dots, a bare LF, a long line, 8-bit with BODY=8BITMIME.
long=$(head -c 70000 /dev/zero | tr '\0' 'x')
BODY_EXTRA=$(printf '.leading dot\n..two dots\n.\nlong:%s\nend\n' "$long") lmtp pin data-1@test b@example.com
hm_check "data: delivered" hm_sink_wait sink data-1@test
hm_check "data: leading dots unchanged" eval 'hm_sink_message sink data-1@test | grep -q "^\.leading dot" && hm_sink_message sink data-1@test | grep -q "^\.\.two dots"'
hm_check "data: a line of a lone dot survives" eval 'hm_sink_message sink data-1@test | tr -d "\r" | grep -qx "\."'
# (Postfix's smtp(8) on the hop folds it at 998 bytes: count the x's between "long:" and "end".)
hm_check "data: the 70000-byte line arrived complete" eval '[[ $(hm_sink_message sink data-1@test | tr -d "\r" |
	awk "/^long:/ { on = 1 } /^end\$/ { on = 0 } on { n += gsub(/x/, \"\") } END { print n }") == 70000 ]]'

# 9b. BODY=8BITMIME is a declaration: to a hop without 8BITMIME a 7-bit
#     message goes as 7-bit, an 8-bit one is abandoned before its dot
#     (554 5.6.3 per recipient), as the pipe mode does.
lmtp8() { # ID BODY
	out=$(msg "$1" "$2" | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/no8" \
		--param BODY=8BITMIME --rcpt b@example.com --rcpt c@example.com --timeout 30)
	sed "s/^/    $1| /" <<<"$out" >&2
}
lmtp8 no8-1@test "plain text"
hm_check "no 8BITMIME, 7-bit message: delivered" has '^DOT <c@example.com> 250 '
hm_check "no 8BITMIME, 7-bit message: MAIL FROM went without BODY=" eval 'grep "^C: MAIL FROM" "$HM_TMP/no8.log" | tail -1 | grep -qv BODY='
lmtp8 no8-2@test "$(printf 'caf\xc3\xa9\n')"
hm_check "no 8BITMIME, 8-bit message: 554 5.6.3 for each recipient" \
	eval '[[ $(grep -c "^DOT <[bc]@example.com> 554 5\.6\.3 " <<<"$out") == 2 ]]'
hm_check "no 8BITMIME, 8-bit message: the hop never got the final dot" \
	hm_wait_grep '^DATA-ABORTED' "$HM_TMP/no8.log" 5

# 10. The LMTP side, hostile: order, syntax, control bytes, parameters, limits.
raw() { out=$(printf "$1" | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/pin" --raw --timeout 30); sed "s/^/    raw| /" <<<"$out" >&2; }
raw 'MAIL FROM:<a@example.org>\nEHLO x\nLHLO x\nRCPT TO:<b@example.com>\nDATA\nQUIT\n'
hm_check "raw: MAIL before LHLO: 503" eval '[[ $(sed -n 2p <<<"$out") == "REPLY 503 5.5.1 send LHLO first" ]]'
hm_check "raw: EHLO: 500 (this is LMTP)" eval '[[ $(sed -n 3p <<<"$out") == "REPLY 500 5.5.1 this is LMTP: use LHLO" ]]'
hm_check "raw: LHLO lists PIPELINING, 8BITMIME, SMTPUTF8" eval 'has "250-PIPELINING" && has "250-8BITMIME" && has "250-SMTPUTF8"'
hm_check "raw: RCPT without MAIL: 503" eval '[[ $(sed -n 5p <<<"$out") == "REPLY 503 5.5.1 need MAIL command" ]]'
hm_check "raw: DATA without MAIL: 503" eval '[[ $(sed -n 6p <<<"$out") == "REPLY 503 5.5.1 need MAIL command" ]]'
raw 'LHLO x\nMAIL FROM:<a@example.org> AUTH=<>\nMAIL FROM:<a\x01b@example.org>\nMAIL FROM:<a@example.org\nMAIL FROM:<a@example.org> SIZE=-1\nMAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME\nRCPT TO:<b\x7f@example.com>\nRCPT TO:<b@example.com> NOTIFY=NEVER\nRCPT TO:<j\xc3\xb6rg@example.com>\nDATA\nRSET\nQUIT\n'
hm_check "raw: unknown MAIL parameter: 555" eval '[[ $(sed -n 3p <<<"$out") == "REPLY 555 5.5.4 unsupported MAIL FROM parameter" ]]'
hm_check "raw: control byte in the sender: 500" eval '[[ $(sed -n 4p <<<"$out") == "REPLY 500 5.5.2 NUL or control character in the command line" ]]'
hm_check "raw: unclosed <: 553" eval '[[ $(sed -n 5p <<<"$out") == "REPLY 553 5.1.7 bad sender address syntax" ]]'
hm_check "raw: SIZE=-1: 555" eval '[[ $(sed -n 6p <<<"$out") == "REPLY 555 5.5.4 unsupported MAIL FROM parameter" ]]'
hm_check "raw: MAIL with SIZE and BODY=8BITMIME relayed: 250" eval '[[ $(sed -n 7p <<<"$out") == "REPLY 250 2.1.0 Ok" ]]'
hm_check "raw: DEL in the recipient: 500" eval '[[ $(sed -n 8p <<<"$out") == "REPLY 500 5.5.2 NUL or control character in the command line" ]]'
hm_check "raw: RCPT parameter: 555" eval '[[ $(sed -n 9p <<<"$out") == "REPLY 555 5.5.4 unsupported RCPT TO parameter" ]]'
hm_check "raw: UTF-8 recipient without SMTPUTF8: 553 5.6.7" eval '[[ $(sed -n 10p <<<"$out") == "REPLY 553 5.6.7 a UTF-8 address needs MAIL FROM ... SMTPUTF8" ]]'
hm_check "raw: DATA with no accepted recipient: 503" eval '[[ $(sed -n 11p <<<"$out") == "REPLY 503 5.5.1 no valid recipients" ]]'
over=$(head -c 3000 /dev/zero | tr '\0' 'y')
raw "LHLO x\nMAIL FROM:<$over@example.org>\nNOOP\nQUIT\n"
hm_check "raw: over-long command: 500, and the session goes on" eval '[[ $(sed -n 3p <<<"$out") == "REPLY 500 5.5.2 line too long" && $(sed -n 4p <<<"$out") == "REPLY 250 2.0.0 ok" ]]'
raw 'LHLO x\nXFORWARD IDENT=ABC\r\nRSET\nRCPT TO:<b@example.com>\nQUIT\n'
hm_check "raw: XFORWARD IDENT: 250" eval '[[ $(sed -n 3p <<<"$out") == "REPLY 250 2.0.0 ok" ]]'
raw 'LHLO x\nMAIL FROM:<a@example.org>\x00 AUTH=<>\nRCPT TO:<b@example.com\x00>\nNOOP\nQUIT\n'
hm_check "raw: a NUL in MAIL FROM: 500, nothing relayed" eval '[[ $(sed -n 3p <<<"$out") == "REPLY 500 5.5.2 NUL or control character in the command line" ]]'
hm_check "raw: a NUL in RCPT TO: 500" eval '[[ $(sed -n 4p <<<"$out") == "REPLY 500 5.5.2 NUL or control character in the command line" && $(sed -n 5p <<<"$out") == "REPLY 250 2.0.0 ok" ]]'
raw "$(for i in $(seq 1 12); do printf 'BOGUS\\n'; done)"
hm_check "raw: ten bad commands: 421 and closed" eval 'has "^REPLY 421 4\.7\.0 too many errors" && has "^CLOSED"'

# 11. The MTA disappears in the middle of DATA: the hop must not deliver a part.
msg cut-1@test "$(printf 'line %s\n' $(seq 1 2000))" | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" \
	--socket "$sockdir/pin" --rcpt b@example.com --cut 5000 >/dev/null
sleep 2
hm_check "cut: nothing delivered" test "$(hm_sink_count sink cut-1@test)" = 0

# 12. The session limit (-m 30): thirty idle sessions, the next hears 421.
holders=()
for i in $(seq 1 30); do
	/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/pin" --hold 60 >"$HM_TMP/hold-$i.out" &
	holders+=($!)
done
all_held() { [ "$(cat "$HM_TMP"/hold-*.out 2>/dev/null | grep -c "^GREETING 220 ")" = 30 ]; }
for _ in $(seq 1 300); do all_held && break; sleep 0.1; done
hm_check "limit: thirty sessions open" all_held
out=$(/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/pin" --hold 0)
hm_check "limit: one session more gets 421 4.3.2" has '^GREETING 421 4\.3\.2 '
kill "${holders[@]}" 2>/dev/null
wait "${holders[@]}" 2>/dev/null
free_again() {
	out=$(/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/pin" --hold 0)
	has '^GREETING 220 '
}
for _ in $(seq 1 50); do free_again && break; sleep 0.2; done
hm_check "limit: free again once they left" has '^GREETING 220 '

# 12b. Twenty transactions at once on one route: every one delivered
#      once, and never more than -H 4 connections to the hop (sampled).
ss -Htn state established "( dport = :$hop1_port )" >/dev/null 2>&1 || hm_fail "ss cannot count connections"
(maxc=0; while [ ! -e "$HM_TMP/par.done" ]; do
	c=$(ss -Htn state established "( dport = :$hop1_port )" | wc -l)
	[ "$c" -gt "$maxc" ] && maxc=$c && echo "$maxc" >"$HM_TMP/par.max"
	sleep 0.05
done) &
sampler=$!
par=()
for i in $(seq 1 20); do
	(msg "par-$i@test" | /usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/pin" \
		--rcpt b@example.com --rcpt c@example.com --timeout 60 >"$HM_TMP/par-$i.out") &
	par+=($!)
done
wait "${par[@]}"
touch "$HM_TMP/par.done"
wait "$sampler"
hm_check "parallel: 20 transactions, 40 replies 250 after DATA" \
	test "$(cat "$HM_TMP"/par-*.out | grep -c "^DOT <[bc]@example.com> 250 2\.0\.0")" = 40
for i in 1 10 20; do hm_sink_wait sink "par-$i@test" 30; done
sleep 2
each_once() {
	local i
	for i in $(seq 1 20); do [ "$(hm_sink_count sink "par-$i@test")" = 1 ] || return 1; done
}
hm_check "parallel: each delivered exactly once" each_once
hm_check "parallel: at most 4 connections to the hop at once (saw $(cat "$HM_TMP/par.max" 2>/dev/null || echo 0))" \
	test "$(cat "$HM_TMP/par.max" 2>/dev/null || echo 0)" -le 4

# 13. SIGHUP: a new pin set applies at once, cached connections included.
write_conf "$pin_rogue"
kill -HUP "$dpid"
hm_wait_grep "reloaded $conf" "$dlog" 10
lmtp pin reload-1@test b@example.com
hm_check "reload: the dropped pin refuses the hop (451 4.7.5)" has '^MAIL 451 4\.7\.5 '
write_conf "$pin1"
printf 'route broken {\n' >>"$conf"
kill -HUP "$dpid"
hm_wait_grep "reload failed" "$dlog" 10
hm_check "reload: a broken file is logged with FILE:LINE, the old one stays" dlog_has "reload failed, keeping the running configuration: $conf:[0-9]+: "
write_conf "$pin1"
kill -HUP "$dpid"
sleep 1
lmtp pin reload-2@test b@example.com
hm_check "reload: back to the right pin, delivered" has '^DOT <b@example.com> 250 2\.0\.0'

# 14. TLS resumption: a second daemon that keeps idle connections 1 s; a
#     new connection after the idle one was closed resumes the session.
"$HOPRELAYD" -e -c "$conf" -s "$HM_TMP/sock2" -k 1 >>"$HM_TMP/hoprelayd2.log" 2>&1 </dev/null &
d2pid=$!
hm_track "$d2pid"
hm_wait_grep "started:" "$HM_TMP/hoprelayd2.log" 60
sockdir_main=$sockdir
sockdir=$HM_TMP/sock2
lmtp pin resume-1@test b@example.com
hm_wait_grep "idle_closed|resume" "$HM_TMP/hoprelayd2.log" 1
sleep 3
lmtp pin resume-2@test b@example.com
sockdir=$sockdir_main
hm_check "resumption: the second connection resumed the TLS session" \
	grep -qE "to=<b@example.com> route=pin .* result=sent status=2.0.0 conn=resumed tls=TLSv1.3 .* pin=1 " "$HM_TMP/hoprelayd2.log"
hm_check "resumption: both delivered" eval 'hm_sink_wait sink resume-1@test && hm_sink_wait sink resume-2@test'

# 15. Postfix's lmtp(8) in front: three recipients, one deferred by the hop.
hm_postfix edge "$edge_port" "default_transport = lmtp:unix:$sockdir/pin
relay_transport = lmtp:unix:$sockdir/pin
lmtp_tls_security_level = none
lmtp_send_xforward_command = yes" "lmtp      unix  -       -       n       -       -       lmtp" || exit 1
hm_swaks --server 127.0.0.1 --port "$edge_port" --from a@example.org \
	--to b@example.com,busy@example.com,c@example.com --header "Message-Id: <edge-1@test>" --body "hello"
hm_check "edge: delivered to the sink" hm_sink_wait sink edge-1@test
sleep 2
hm_check "edge: delivered exactly once" test "$(hm_sink_count sink edge-1@test)" = 1
hm_check "edge: Postfix logs b@ sent through the daemon" grep -qE "to=<b@example.com>, relay=[^,]*\[$sockdir/pin\].*status=sent" "$HM_TMP/edge/maillog"
hm_check "edge: Postfix logs c@ sent" grep -qE "to=<c@example.com>.*status=sent" "$HM_TMP/edge/maillog"
hm_check "edge: Postfix defers busy@ only, with the hop's 452" grep -qE "to=<busy@example.com>.*status=deferred.*452 4\.2\.2" "$HM_TMP/edge/maillog"
edge_qid=$(sed -n 's/.* \([0-9A-F]\{6,\}\): message-id=<edge-1@test>.*/\1/p' "$HM_TMP/edge/maillog" | head -1)
hm_check "edge: the daemon's log lines carry Postfix's queue id ($edge_qid, XFORWARD IDENT)" \
	eval '[ -n "$edge_qid" ] && dlog_has "^.* $edge_qid: to=<b@example.com> route=pin .* result=sent "'
hm_check "edge: busy@ is still in the queue" eval 'postqueue -c "$HM_TMP/edge/etc" -p | grep -q busy@example.com'

kill -TERM "$dpid"
hm_wait_grep "stopped" "$dlog" 15
wait "$dpid"
rc=$?
hm_check "SIGTERM: exit 0 (under HM_WRAP=valgrind: no memory error, no definite leak)" test "$rc" = 0
hm_check "SIGTERM: stopped, sockets removed" test ! -e "$sockdir/pin"
hm_check "no error lines from the daemon's sanitizers" eval '! grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$dlog"'
hm_done
