#!/bin/bash
# hoprelay against servers that misbehave (tests/lib/fakesmtp.py): data
# injected after the 220 to STARTTLS, STARTTLS missing (required versus
# opportunistic), no EHLO, a refusing greeting, a silent server; then the
# command line (-n, -V, usage, bad configuration, bad addresses) and
# --probe against a real Postfix with TLS.
. "$(dirname "$0")/../lib/harness.sh"

hm_need postfix openssl /usr/bin/python3 "$HOPRELAY"

pki=$HM_TMP/pki
hm_ca ca && hm_cert ca fake fake.test.invalid && hm_cert ca hop hop.test.invalid 90 &&
	hm_cert ca soon soon.test.invalid 10 || { hm_fail "making certificates"; hm_done; }

fake() { # NAME PORT ARGS...
	local name=$1 port=$2
	shift 2
	/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakesmtp.py" --port "$port" --log "$HM_TMP/$name.log" "$@" \
		2>>"$HM_TMP/$name.stderr" &
	hm_track $!
	hm_wait_port 127.0.0.1 "$port"
	touch "$HM_TMP/$name.log"
}
inject_port=$(hm_free_port); fake inject "$inject_port" --keywords "STARTTLS,PIPELINING,8BITMIME" --inject
notls_port=$(hm_free_port); fake notls "$notls_port" --keywords "PIPELINING,8BITMIME"
tls_port=$(hm_free_port); fake tls "$tls_port" --keywords "STARTTLS,PIPELINING,8BITMIME" --cert "$pki/fake.pem"
noehlo_port=$(hm_free_port); fake noehlo "$noehlo_port" --no-ehlo
hang_port=$(hm_free_port); fake hang "$hang_port" --keywords "PIPELINING" --hang-quit
refuse_port=$(hm_free_port); fake refuse "$refuse_port" --greeting "554 5.3.2 not today"
silent_port=$(hm_free_port)
# A listener that accepts and never says a word.
/usr/bin/python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); c=[]
while True: c.append(s.accept()[0])' "$silent_port" &
hm_track $!
hm_wait_port 127.0.0.1 "$silent_port"

pin_fake=$(hm_pin "$pki/fake.crt")
conf=$HM_TMP/hoprelay.conf
cat >"$conf" <<EOF
route inject { hops = {"127.0.0.1:$inject_port"}  pins = {"$pin_fake"} }
route required { hops = {"127.0.0.1:$notls_port"}  pins = {"$pin_fake"} }
route opportunistic { hops = {"127.0.0.1:$notls_port"}  tls = opportunistic }
route opportunistic-tls { hops = {"127.0.0.1:$tls_port"}  tls = opportunistic }
route pinned-tls { hops = {"127.0.0.1:$tls_port"}  pins = {"$pin_fake"} }
route helo { hops = {"127.0.0.1:$noehlo_port"}  tls = none }
route helo-required { hops = {"127.0.0.1:$noehlo_port"}  pins = {"$pin_fake"} }
route refuse-then-ok { hops = {"127.0.0.1:$refuse_port", "127.0.0.1:$notls_port"}  tls = none }
route refuse { hops = {"127.0.0.1:$refuse_port"}  tls = none }
route hang { hops = {"127.0.0.1:$hang_port"}  tls = none }
route silent { hops = {"127.0.0.1:$silent_port"}  tls = none  greeting_timeout = 1s }
EOF

msg() { printf 'Message-Id: <%s>\nSubject: protocol\n\nbody\n' "$1"; }
relay() { # ROUTE ID [HOPRELAY ARGS...]
	local route=$1 id=$2
	shift 2
	msg "$id" | hm_hoprelay -c "$conf" -e -q "Q$id" "$@" -f a@example.org -- "$route" b@example.com \
		2>"$HM_TMP/$id.err"
	rc=$?
	status=$(head -1 "$HM_TMP/$id.err")
	err=$(cat "$HM_TMP/$id.err")
	sed "s/^/    $id| /" "$HM_TMP/$id.err" >&2
}
# wait_log NAME PATTERN: the fake server NAME logged a line matching PATTERN.
wait_log() { hm_wait_grep "$2" "$HM_TMP/$1.log" 5; }

# 1. STARTTLS injection: the extra reply after the 220 ends the session;
# no MAIL FROM, no handshake, exit 75.
relay inject inj-1
hm_check "injection: exit 75" test "$rc" = 75
hm_check "injection: status 4.7.0 says why" eval '[[ $status == "4.7.0 127.0.0.1:$inject_port: the server sent data after its reply to STARTTLS (command injection?)" ]]'
wait_log inject '^(CLOSED|ERROR)'
hm_check "injection: the server did inject" grep -q '^INJECTED' "$HM_TMP/inject.log"
hm_check "injection: nothing after STARTTLS was sent" eval '[[ $(sed -n "/^C: STARTTLS/,\$p" "$HM_TMP/inject.log" | grep -c "^C: ") == 1 ]]'

# 2. STARTTLS not offered: required fails (4.7.4) before MAIL FROM,
# opportunistic sends in the clear.
relay required notls-1
hm_check "no STARTTLS, required: exit 75" test "$rc" = 75
hm_check "no STARTTLS, required: status 4.7.4" eval '[[ $status == "4.7.4 127.0.0.1:$notls_port: TLS is required, but the server does not offer STARTTLS" ]]'
hm_check "no STARTTLS, required: no MAIL FROM" eval '! grep -q "^C: MAIL" "$HM_TMP/notls.log"'
relay opportunistic notls-2
hm_check "no STARTTLS, opportunistic: exit 0" test "$rc" = 0
hm_check "no STARTTLS, opportunistic: delivered in the clear" eval 'grep -q "^DATA-END" "$HM_TMP/notls.log" && grep -q "tls=none" <<<"$err"'

# 3. A real STARTTLS from the fake: opportunistic and pinned both work; the
# EHLO is repeated after TLS.
relay opportunistic-tls tls-1
hm_check "opportunistic with STARTTLS: exit 0, encrypted" eval '[[ $rc == 0 && $err == *"tls=TLSv1."* ]]'
relay pinned-tls tls-2
hm_check "pinned fake server: exit 0, pin 1/1" eval '[[ $rc == 0 && $err == *"pin=1/1"* ]]'
hm_check "EHLO again after TLS" eval '[[ $(sed -n "/^TLS-UP/,\$p" "$HM_TMP/tls.log" | grep -m1 "^C: ") == "C: EHLO "* ]]'

# 4. No EHLO: HELO when TLS is not required; never when it is.
relay helo helo-1
hm_check "no EHLO, tls none: HELO fallback delivers" eval '[[ $rc == 0 ]] && grep -q "^C: HELO " "$HM_TMP/noehlo.log"'
relay helo-required helo-2
hm_check "no EHLO, tls required: exit 75" test "$rc" = 75
hm_check "no EHLO, tls required: the hop's 502 reported as 4.x.x" eval '[[ $status == "4.5.2 host 127.0.0.1:$noehlo_port said: 502 5.5.2 EHLO not implemented (in reply to EHLO command)" ]]'

# 5. A 5xx greeting is a broken hop: transient, and the next hop is tried.
relay refuse refuse-1
hm_check "554 greeting: exit 75" test "$rc" = 75
hm_check "554 greeting: status 4.3.2 with the greeting" eval '[[ $status == "4.3.2 host 127.0.0.1:$refuse_port said: 554 5.3.2 not today (in reply to initial greeting command)" ]]'
relay refuse-then-ok refuse-2
hm_check "554 greeting, then a good hop: exit 0" test "$rc" = 0

# 6. A silent server: the greeting deadline ends it.
start=$(date +%s)
relay silent silent-1
hm_check "silent server: exit 75" test "$rc" = 75
hm_check "silent server: status 4.4.2 timed out" eval '[[ $status == "4.4.2 127.0.0.1:$silent_port: lost connection during initial greeting: timed out waiting for the server" ]]'
hm_check "silent server: gave up within the configured second (plus slack)" test "$(($(date +%s) - start))" -lt 15

# 7. A hop that took the message and then never answers QUIT: delivered,
# and hoprelay does not wait for the command timeout (5m) to say so.
start=$(date +%s)
relay hang hang-1
hm_check "QUIT never answered: exit 0" test "$rc" = 0
hm_check "QUIT never answered: done within seconds, not minutes" test "$(($(date +%s) - start))" -lt 40

# 8. The command line, and the manual pages.
for page in hoprelay.8 hoprelay.conf.5; do
	hm_check "man --warnings $page is silent" eval \
		'[[ -z $(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$HM_SRCDIR/relay-transport/$page" 2>&1 >/dev/null) ]]'
done
hm_check "-V prints the version" eval 'hm_hoprelay -V | grep -q "^hoprelay [0-9]"'
hm_check "-n on a good file: exit 0, silent" eval '[[ -z $(hm_hoprelay -n -c "$conf" 2>&1) ]]'
hm_check "the sample hoprelay.conf parses" eval 'hm_hoprelay -n -c "$HM_SRCDIR/relay-transport/hoprelay.conf" 2>&1 | grep -q "cannot load ca_file /etc/hoprelay/vpn-ca.crt"'
bad=$HM_TMP/bad.conf
printf 'route a {\n  hops = {"10.0.0.1:25",\n    "10.0.0.2:99999"}\n  pins = {"%s"}\n}\n' "$pin_fake" >"$bad"
out=$(hm_hoprelay -n -c "$bad" 2>&1); rc=$?
hm_check "-n on a bad file: exit 78" test "$rc" = 78
hm_check "-n on a bad file: FILE:LINE: reason" test "$out" = "hoprelay: $bad:3: option 'hops': '10.0.0.2:99999': the port must be a number in 1-65535"
printf 'route a { hops = {"10.0.0.1"}  ca_file = "%s/missing.crt" }\n' "$HM_TMP" >"$bad"
out=$(hm_hoprelay -n -c "$bad" 2>&1); rc=$?
hm_check "-n: a missing CA file is found (78)" eval '[[ $rc == 78 && $out == *"route '"'"'a'"'"': cannot load ca_file $HM_TMP/missing.crt"* ]]'
printf 'route a { hops = {"10.0.0.1"}  pins = {"%s"}  client_cert = "%s" client_key = "%s" }\n' \
	"$pin_fake" "$pki/fake.crt" "$pki/hop.key" >"$bad"
out=$(hm_hoprelay -n -c "$bad" 2>&1); rc=$?
hm_check "-n: a key that does not match the certificate is found (78)" eval '[[ $rc == 78 && $out == *"cannot use the client key"* ]]'

# Delivery mode: local trouble defers (75, 4.3.5), never bounces.
printf 'route a {\n hops = {"10.0.0.1"}\n tls = sometimes\n}\n' >"$bad"
msg cfg-1 | hm_hoprelay -c "$bad" -f a@example.org -- a b@example.com 2>"$HM_TMP/cfg.err"; rc=$?
hm_check "bad configuration while delivering: exit 75" test "$rc" = 75
hm_check "bad configuration while delivering: 4.3.5 FILE:LINE: reason" test "$(head -1 "$HM_TMP/cfg.err")" = \
	"4.3.5 hoprelay: $bad:3: option 'tls': 'sometimes' is not one of: required, opportunistic, none"
msg cfg-2 | hm_hoprelay -c "$HM_TMP/nonexistent.conf" -f a@example.org -- a b@example.com 2>"$HM_TMP/cfg.err"; rc=$?
hm_check "missing configuration while delivering: 75" test "$rc" = 75
msg usage-1 | hm_hoprelay -c "$conf" -f a@example.org -- onlynexthop 2>"$HM_TMP/usage.err"; rc=$?
hm_check "no recipient: exit 75 with 4.3.5" eval '[[ $rc == 75 && $(head -1 "$HM_TMP/usage.err") == "4.3.5 "* ]]'
hm_hoprelay --no-such-flag </dev/null 2>"$HM_TMP/usage.err"; rc=$?
hm_check "unknown flag: exit 75 with 4.3.5" eval '[[ $rc == 75 && $(head -1 "$HM_TMP/usage.err") == "4.3.5 "* ]]'
hm_hoprelay -n -c "$conf" extra 2>/dev/null; rc=$?
hm_check "-n with extra arguments: 64" test "$rc" = 64
printf 'route only { hops = {"10.0.0.1"} tls = none }\n' >"$bad"
msg route-1 | hm_hoprelay -c "$bad" -f a@example.org -- other b@example.com 2>"$HM_TMP/route.err"; rc=$?
hm_check "unknown nexthop without default_route: 75" eval '[[ $rc == 75 && $(head -1 "$HM_TMP/route.err") == "4.3.5 hoprelay: $bad: no route for nexthop '"'"'other'"'"' and no default_route" ]]'
msg addr-1 | hm_hoprelay -c "$conf" -f a@example.org -- opportunistic "$(printf 'b@example.com\r\nRCPT TO:<evil@x>')" \
	2>"$HM_TMP/addr.err"; rc=$?
hm_check "a recipient with CR LF: 65 with 5.1.3, nothing sent" eval '[[ $rc == 65 && $(head -1 "$HM_TMP/addr.err") == "5.1.3 "* ]] && ! grep -q evil "$HM_TMP/notls.log"'

# 9. --probe against a real Postfix with STARTTLS: the pin matches what
# openssl computes, the routes that pin it are named, expiry is shown and
# warned about when near.
if [ "$(id -u)" = 0 ]; then
	hop_port=$(hm_free_port)
	hm_postfix hop "$hop_port" "smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt" || exit 1
	soon_port=$(hm_free_port)
	hm_postfix soon "$soon_port" "smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/soon.key, $pki/soon.crt" || exit 1
	pconf=$HM_TMP/probe.conf
	printf 'route core { hops = {"127.0.0.1:%s"} pins = {"%s", "%s"} }\nroute soonroute { hops = {"127.0.0.1:%s"} pins = {"%s"} }\n' \
		"$hop_port" "$pin_fake" "$(hm_pin "$pki/hop.crt")" "$soon_port" "$(hm_pin "$pki/soon.crt")" >"$pconf"
	out=$(hm_hoprelay -c "$pconf" --probe "127.0.0.1:$hop_port" --starttls 2>"$HM_TMP/probe.err"); rc=$?
	printf '%s\n' "$out" | sed 's/^/    probe| /' >&2
	hm_check "probe: exit 0" test "$rc" = 0
	hm_check "probe: the pin equals openssl's" eval 'grep -qx "pin: \"$(hm_pin "$pki/hop.crt")\"" <<<"$out"'
	hm_check "probe: subject and issuer" eval 'grep -qx "subject: CN=hop.test.invalid" <<<"$out" && grep -qx "issuer: CN=ca" <<<"$out"'
	hm_check "probe: expiry in 89 or 90 days" eval 'grep -qE "^expires: [0-9-]+ [0-9:]+ UTC \(in (89|90) days\)$" <<<"$out"'
	hm_check "probe: names the route and the pin's place" eval 'grep -qx "configured: route '"'"'core'"'"', pin 2 of 2" <<<"$out"'
	hm_check "probe: no warning for a certificate valid 90 days" test ! -s "$HM_TMP/probe.err"
	out=$(hm_hoprelay -c "$pconf" --probe "127.0.0.1:$soon_port" --starttls 2>"$HM_TMP/probe.err"); rc=$?
	hm_check "probe: warns when a pinned certificate expires within 30 days" eval \
		'[[ $rc == 0 ]] && grep -q "^warning: route '"'"'soonroute'"'"' pins this certificate.s key and the certificate expires in [0-9] days" "$HM_TMP/probe.err"'
	out=$(hm_hoprelay -c "$pconf" --probe "127.0.0.1:$(hm_free_port)" --starttls 2>&1); rc=$?
	hm_check "probe: nothing listening: 75 with the reason" eval '[[ $rc == 75 && $out == *"Connection refused"* ]]'
else
	hm_log "not root: --probe against Postfix skipped"
fi

hm_done
